"""Real Lambert-W in JAX, both real branches, with a custom JVP (JAX has none).

W_b(x) solves w e^w = x on branch b: W_0 on [-1/e, inf) with values in [-1, inf), W_{-1} on
[-1/e, 0) with values in (-inf, -1]. Used by the Shannon-rate inverse (docs/model.md section 2),
the H2 and D3 closed forms.

Evaluation (float64):

- near the branch point, p = sqrt(2 (1 + e x)) < 0.3: the branch-point series
  W = sum_k mu_k (+-p)^k (Corless et al. 1996, eq. 4.22-4.24; + for W_0, - for W_{-1}),
  24 terms (truncation below 1e-17), with 1 + e x formed from a two-double 1/e so that p
  keeps its relative precision as x -> -1/e;
- W_0 at |x| < 1e-3: its Taylor series sum_n (-n)^(n-1) x^n / n! (6 terms);
- elsewhere: an initial guess (series, Winitzki's log form for W_0, the asymptotic
  log(-x) - log(-log(-x)) for W_{-1}) refined by three Fritsch-Shafer-Crowley iterations
  (fourth-order; Veberic 2012, eq. 22), which work on log|x| - log|w| and so never overflow.

XLA on CPU flushes subnormal numbers to zero, so |x| below 2.2e-308 behaves as 0 (W_0: 0;
W_{-1}: NaN, the limit being -inf).

Derivative (custom JVP): W'(x) = W / (x (1 + W)) = e^{-W} / (1 + W); exactly 1 at x = 0 on
W_0, and +inf (W_0) or -inf (W_{-1}) at the branch point, where the formula's 0/0 is never
formed (``jnp.where(pred, denominator, 1)``), so gradients there are infinite, not NaN.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["BRANCH_POINT", "lambertw", "lambertw_exp"]

#: the branch point -1/e rounded to float64 (it lies 1.2e-17 below -1/e: W = -1 there)
BRANCH_POINT = -math.exp(-1.0)
# two-double 1/e: _INV_E_HI + _INV_E_LO = 1/e to ~1e-33 (mpmath: mpf(1)/e - 0.36787944117144233)
_INV_E_HI = 0.36787944117144233
_INV_E_LO = -1.2428753672788363e-17
_P_SERIES = 0.3  # below this p the 24-term series is exact to < 1e-17
_N_SERIES = 24


def _branch_series_coefficients(n: int) -> list[float]:
    """mu_0..mu_{n-1} of W = sum mu_k p^k about x = -1/e (Corless et al. 1996, eq. 4.23-4.24).

    Exact rational recurrence: mu_0 = -1, mu_1 = 1, alpha_0 = 2, alpha_1 = -1,
    alpha_k = sum_{j=2}^{k-1} mu_j mu_{k+1-j},
    mu_k = (k-1)/(k+1) (mu_{k-2}/2 + alpha_{k-2}/4) - alpha_k/2 - mu_{k-1}/(k+1).
    """
    mu, al = [Fraction(-1), Fraction(1)], [Fraction(2), Fraction(-1)]
    for k in range(2, n):
        al.append(sum((mu[j] * mu[k + 1 - j] for j in range(2, k)), Fraction(0)))
        mu.append(Fraction(k - 1, k + 1) * (mu[k - 2] / 2 + al[k - 2] / 4) - al[k] / 2 - mu[k - 1] / (k + 1))
    return [float(m) for m in mu]


_MU = np.array(_branch_series_coefficients(_N_SERIES))


def _series_tail(p):
    """Horner evaluation of sum_{k>=1} mu_k p^k (= 1 + W, without the cancellation of -1 + 1)."""
    acc = jnp.zeros_like(p)
    for c in _MU[:0:-1]:
        acc = acc * p + c
    return acc * p


def _series(p):
    """sum_k mu_k p^k = W near the branch point."""
    return _series_tail(p) + _MU[0]


def _one_plus_ex(x):
    """1 + e x from the two-double 1/e: x + hi is exact near the branch point (Sterbenz), then + lo.

    The optimization barrier stops XLA from folding (x + hi) + lo into x + (hi + lo) = x + hi.
    """
    return (jax.lax.optimization_barrier(x + _INV_E_HI) + _INV_E_LO) * math.e


def _fritsch(x, w, n_iter: int = 3):
    """Fritsch-Shafer-Crowley iterations w <- w (1 + eps) on w e^w = x (x, w of the same sign)."""
    for _ in range(n_iter):
        ok = (w != 0) & (x != 0)
        ws = jnp.where(ok, w, 1.0)
        xs = jnp.where(ok, x, 1.0)
        z = jnp.log(jnp.abs(xs)) - jnp.log(jnp.abs(ws)) - ws  # log(x/w) without x/w (no underflow)
        opw = 1.0 + ws
        opw = jnp.where(opw == 0, 1.0, opw)
        q = 2.0 * opw * (opw + 2.0 * z / 3.0)
        den = q - 2.0 * z
        eps = z / opw * (q - z) / jnp.where(den == 0, 1.0, den)
        w = jnp.where(ok, ws * (1.0 + eps), w)
    return w


@functools.partial(jax.jit, static_argnums=1)
def _lambertw_primal(x, branch: int):
    x = jnp.asarray(x, dtype=jnp.float64)
    d = _one_plus_ex(x)
    p = jnp.sqrt(2.0 * jnp.maximum(d, 0.0))
    sp = p if branch == 0 else -p
    ser = _series(sp)
    if branch == 0:
        lx = jnp.log1p(jnp.maximum(x, -0.5))  # Winitzki's guess, good for x >= -0.2
        win = lx * (1.0 - jnp.log1p(lx) / (2.0 + lx))
        guess = jnp.where(x < -0.2, ser, win)
        out = _fritsch(x, guess)
        # |x| < 1e-3: Taylor series W = sum_n (-n)^(n-1) x^n / n!, 6 terms (error < 3e-20 relative)
        xt = jnp.where(jnp.abs(x) < 1e-3, x, 0.0)
        taylor = xt * (1 + xt * (-1 + xt * (1.5 + xt * (-8 / 3 + xt * (125 / 24 + xt * (-54 / 5))))))
        out = jnp.where(jnp.abs(x) < 1e-3, taylor, out)
        out = jnp.where(x == jnp.inf, jnp.inf, out)
        valid = x >= BRANCH_POINT
    else:
        xm = jnp.minimum(x, -1e-300)
        l1 = jnp.log(-xm)
        l2 = jnp.log(-jnp.minimum(l1, -1e-3))
        asym = l1 - l2 + l2 / l1
        guess = jnp.where(x < -0.2, ser, asym)
        out = _fritsch(x, guess)
        valid = (x >= BRANCH_POINT) & (x < 0)
    out = jnp.where(p < _P_SERIES, ser, out)
    return jnp.where(valid, out, jnp.nan)


def _check_concrete(x, branch) -> None:
    """ValueError for a bad branch, or for concrete x outside the branch's real domain."""
    if branch not in (0, -1):
        raise ValueError(f"branch must be 0 or -1, got {branch!r}")
    if isinstance(x, jax.core.Tracer):
        return
    xa = np.asarray(x, dtype=np.float64)
    ok = (xa >= BRANCH_POINT) & ((xa < 0) if branch == -1 else True)
    if not np.all(ok):
        bad = xa[~ok].flat[0] if xa.ndim else float(xa)
        dom = "[-1/e, 0)" if branch == -1 else "[-1/e, inf]"
        raise ValueError(f"x must lie in {dom} for branch {branch}, got {float(bad)!r}")


@jax.custom_jvp
def _w0(x):
    return _lambertw_primal(x, 0)


@jax.custom_jvp
def _wm1(x):
    return _lambertw_primal(x, -1)


@functools.partial(jax.jit, static_argnums=1)
def _one_plus_w(x, branch: int):
    """1 + W_b(x) with full relative precision near the branch point (the series without mu_0 = -1)."""
    d = _one_plus_ex(x)
    p = jnp.sqrt(2.0 * jnp.maximum(d, 0.0))
    sp = p if branch == 0 else -p
    near = p < _P_SERIES
    return jnp.where(near, _series_tail(sp), 1.0 + _lambertw_primal(x, branch))


def _jvp_rule(fun, branch):
    def rule(primals, tangents):
        (x,), (xd,) = primals, tangents
        w = fun(x)
        opw = _one_plus_w(x, branch)
        at_bp = opw == 0
        at_zero = x == 0
        # W' = W / (x (1 + W)); its 0/0 at x = 0 (W_0) and division by 0 at the branch point
        # are never evaluated: the where(pred, denominator, 1) trick keeps gradients NaN-free
        den = jnp.where(at_bp | at_zero, 1.0, x * opw)
        slope = jnp.where(at_zero, 1.0, w / den)
        slope = jnp.where(at_bp, jnp.inf if branch == 0 else -jnp.inf, slope)
        return w, slope * xd

    return rule


_w0.defjvp(_jvp_rule(_w0, 0))
_wm1.defjvp(_jvp_rule(_wm1, -1))


def lambertw(x, branch: int = 0):
    r"""Real Lambert-W :math:`W_b(x)`, the solution w of :math:`w e^w = x`, differentiable.

    Parameters
    ----------
    x : array_like
        Branch 0: x in [-1/e, inf]; branch -1: x in [-1/e, 0). The float64 value nearest
        -1/e (:data:`BRANCH_POINT`) maps to W = -1 exactly.
    branch : {0, -1}
        Static (a Python int).

    Returns
    -------
    jax.Array (float64)
        NaN outside the domain when traced (under ``jit``/``grad``); see Raises otherwise.

    Notes
    -----
    Custom JVP :math:`W'(x) = W / (x (1 + W))`, evaluated as 1 at x = 0 (W_0) and as
    +inf (W_0) / -inf (W_{-1}) at the branch point (never NaN). Accuracy against mpmath:
    ``tests/test_differentiable.py``. Source of the identity: :mod:`theory.channel` (the
    Shannon inverse) and docs/model.md H2, H4, D3.

    Raises
    ------
    ValueError
        ``branch`` not 0 or -1; a concrete (non-traced) ``x`` outside the branch's domain.

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)   # float64: required by numerics.differentiable
    >>> float(lambertw(1.0))   # the omega constant
    0.5671432904097838
    >>> float(lambertw(BRANCH_POINT, -1)), float(jax.grad(lambertw)(0.0))
    (-1.0, 1.0)
    """
    _check_concrete(x, branch)
    return _w0(x) if branch == 0 else _wm1(x)


# ------------------------------------------------------------------ W_0(e^l) for large l
@jax.jit
def _omega_primal(ell):
    """omega(l) = W_0(e^l): a start refined by two Fritsch-Shafer-Crowley iterations.

    Start: l >= 1: the asymptotic l - log l + log(l)/l (relative error <= 6%); l < 1:
    Winitzki's log form for x = e^l in (0, e) (<= 2%). The iteration (fourth order, Veberic
    2012, eq. 22) works on z = l - log(w) - w, so e^l is never formed for large l; two steps
    take a 6% start below 1e-16. For l < 0 a last step omega = e^l e^{-omega} keeps full
    relative precision for very negative l (0 once e^l underflows, below l = -708).
    """
    ell = jnp.asarray(ell, dtype=jnp.float64)
    big = ell >= 1.0
    lb = jnp.where(big, ell, 1.0)
    lnl = jnp.log(lb)
    w_big = lb - lnl + lnl / lb
    x = jnp.exp(jnp.minimum(ell, 1.0))
    lx = jnp.log1p(x)
    w_small = lx * (1.0 - jnp.log1p(lx) / (2.0 + lx))
    w = jnp.where(big, w_big, w_small)
    ok = w > 0
    for _ in range(2):
        ws = jnp.where(ok, w, 1.0)
        z = ell - jnp.log(ws) - ws
        opw = 1.0 + ws
        # (q - z) / (q - 2z) with q = 2 (1 + w)(1 + w + 2z/3), divided through by 1 + w (no overflow)
        r = 2.0 * (opw + 2.0 * z / 3.0)
        zo = z / opw
        w = jnp.where(ok, ws * (1.0 + zo * (r - zo) / (r - 2.0 * zo)), w)
    # l < 0: omega = e^l e^{-omega} (log omega = l - omega), to a few ulp even where l - omega
    # would round away omega's part (omega below ulp(l))
    # (the barrier stops XLA from folding e^l e^{-w} back into e^{l - w})
    w = jnp.where(ell < 0, jax.lax.optimization_barrier(x) * jnp.exp(-w), w)
    return jnp.where(ell == jnp.inf, jnp.inf, w)


@jax.custom_jvp
def lambertw_exp(ell):
    r""":math:`\omega(\ell) = W_0(e^\ell)` without overflow, for any real ell (differentiable).

    The Wright omega function on the real line: solves :math:`\omega + \log\omega = \ell`
    (two fourth-order iterations, see ``_omega_primal``); used by the D3 closed form, whose Lambert-W
    argument exp(ell) overflows float64 for users far from their cap. Derivative
    :math:`\omega / (1 + \omega)`.

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)
    >>> float(lambertw_exp(1.0))   # W_0(e) = 1
    1.0
    >>> round(float(lambertw_exp(1000.0)), 10)   # mpmath: lambertw(exp(1000)) = 993.0991694723891...
    993.0991694724
    """
    return _omega_primal(ell)


@lambertw_exp.defjvp
def _omega_jvp(primals, tangents):
    (ell,), (ld,) = primals, tangents
    w = _omega_primal(ell)
    return w, w / (1.0 + w) * ld
