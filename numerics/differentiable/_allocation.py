"""Equal-finishing-time allocation in JAX: H2 (and D7 for per-user draft lengths), implicit.

For draft lengths L_k the band minimising the makespan max_k L_k h_k(beta_k) is (MODEL.md H2,
D7; symbolic source :mod:`theory.homogeneous`)

    beta_k(T) = r_k^{-1}( s_k L_k / (T - L_k t_k) ),     sum_k beta_k(T) = 1,

with the inverse rates r^{-1}(R) = R / (B eta) (linear) and, for the Shannon rate,
c = R ln2 / (B rho), beta = rho / (y - 1), y = -W_{-1}(-c e^{-c}) / c
(:func:`theory.channel.shannon_share_for_rate`). L_k = 1 gives H2: T = theta*.

The root T* is found by bisection, but it is differentiated by the implicit function theorem
(``jax.lax.custom_root``): dT*/dp = -(d/dp sum_k beta_k) / (d/dT sum_k beta_k), never by
unrolling the bisection.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._lambertw import lambertw
from ._model import Params, expected_tokens, rate, verification_latency

jax.config.update("jax_enable_x64", True)

__all__ = ["share_for_rate", "share_for_deadline", "equal_finish", "h2_allocation",
           "homogeneous_goodput", "fixed_length_goodput", "fixed_length_value_and_grad", "bisect"]

_LN2 = math.log(2.0)


def bisect(f, lo, hi, n_iter: int = 110):
    """Root of a decreasing scalar f on [lo, hi] (f(lo) >= 0 >= f(hi)) by ``n_iter`` halvings.

    Returns the upper end (the side where f <= 0). 110 halvings reach the float64 spacing
    from any bracket of width up to 2^1000 times the root.
    """
    def body(_, lh):
        lo, hi = lh
        mid = lo + 0.5 * (hi - lo)
        pos = f(mid) > 0
        return jnp.where(pos, mid, lo), jnp.where(pos, hi, mid)

    lo, hi = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    return hi


# ------------------------------------------------------------------ Shannon inverse
@jax.jit
def _shannon_inverse_primal(R, B, rho):
    c = R * _LN2 / (B * rho)
    ok = (c > 0) & (c < 1)
    cs = jnp.where(ok, c, 0.5)
    y = -lambertw(-cs * jnp.exp(-cs), -1) / cs
    beta = rho / (y - 1.0)
    # one Newton step on f(beta) = beta log1p(rho/beta) - c rho (the W_{-1} argument nears -1/e as c -> 1)
    f = beta * jnp.log1p(rho / beta) - cs * rho
    fp = jnp.log1p(rho / beta) - rho / (beta + rho)
    beta = beta - f / fp
    return jnp.where(c <= 0, 0.0, jnp.where(ok, beta, jnp.inf))


@jax.custom_jvp
def _shannon_inverse(R, B, rho):
    return _shannon_inverse_primal(R, B, rho)


@_shannon_inverse.defjvp
def _shannon_inverse_jvp(primals, tangents):
    R, B, rho = primals
    Rd, Bd, rhod = tangents
    beta = _shannon_inverse_primal(R, B, rho)
    pos = (beta > 0) & jnp.isfinite(beta)
    b = jnp.where(pos, beta, 1.0)
    r_beta = B * (jnp.log1p(rho / b) - rho / (b + rho)) / _LN2  # dr/dbeta
    r_B = b * jnp.log1p(rho / b) / _LN2  # dr/dB
    r_rho = B * b / ((b + rho) * _LN2)  # dr/drho
    # implicit function theorem on r(beta; B, rho) = R; at R = 0 dbeta/dR = 0 (r'(0+) = inf)
    dbeta = (Rd - r_B * Bd - r_rho * rhod) / r_beta
    return beta, jnp.where(pos, dbeta, 0.0)


@jax.jit
def share_for_rate(params: Params, R):
    """Band share r_k^{-1}(R_k) achieving rate R_k (0 at R = 0; inf if a Shannon rate is unreachable).

    Symbolic sources: :func:`theory.channel.linear_share_for_rate`,
    :func:`theory.channel.shannon_share_for_rate`; the Shannon branch has a custom JVP from the
    implicit function theorem on r(beta) = R.
    """
    R = jnp.asarray(R, dtype=jnp.float64)
    if params.rate_model == "linear":
        return R / (params.bandwidth * params.channel)
    B, rho = jnp.broadcast_arrays(params.bandwidth * jnp.ones_like(R), params.channel * jnp.ones_like(R))
    return _shannon_inverse(R, B, rho)


@jax.jit
def share_for_deadline(params: Params, L, T):
    """beta_k(T) = r_k^{-1}(s_k L_k / (T - L_k t_k)) (0 for users with s_k L_k = 0)."""
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    need = (params.s > 0) & (L > 0)
    slack = T - L * params.t
    R = jnp.where(need, params.s * L / jnp.where(need, slack, 1.0), 0.0)
    return jnp.where(need, share_for_rate(params, R), 0.0)


@jax.jit
def equal_finish(params: Params, L):
    r"""Makespan-minimising band for draft lengths L: (T*, beta*), differentiable (implicit).

    .. math:: T^* = \min_{\beta \ge 0,\ \sum\beta \le 1} \max_k L_k h_k(\beta_k)

    Parameters
    ----------
    params : Params
    L : array_like, shape (K,) or scalar
        Draft lengths >= 0 (real values allowed).

    Returns
    -------
    makespan : jax.Array
        T* = max(root of sum_k beta_k(T) = 1, max over non-uploading users of L_k t_k).
    beta : jax.Array (K,)
        beta_k(root); sums to 1 when some user uploads (s_k L_k > 0), else 0.

    Notes
    -----
    Invariant: sum_k beta_k(T*) - 1 == 0 (``optimality_fun`` of the custom root). Source:
    MODEL.md H2 (L_k = 1) and D7.
    """
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    need = (params.s > 0) & (L > 0)
    any_need = jnp.any(need)
    free = jnp.max(jnp.where(need, 0.0, L * params.t))
    r_full = rate(params, jnp.ones_like(params.t))
    a = jnp.where(need, params.s * L / r_full, 0.0)  # upload time of L_k tokens on the whole band
    lo = jnp.max(jnp.where(need, L * params.t + a, 0.0))  # some user needs the whole band: sum >= 1
    hi = jnp.max(jnp.where(need, L * params.t, 0.0)) + jnp.sum(a)  # r(b) >= b r(1): sum <= 1
    lo, hi = jax.lax.stop_gradient((lo, hi))  # the bracket only seeds the solve

    def f(T):
        return jnp.where(any_need, jnp.sum(share_for_deadline(params, L, T)) - 1.0, T - free)

    def solve(f, _):
        root = bisect(f, lo, jnp.maximum(hi, lo))
        return jnp.where(any_need, root, free)

    T = jax.lax.custom_root(f, lo, solve, lambda g, y: y / g(1.0))
    return jnp.maximum(T, free), share_for_deadline(params, L, T)


@jax.jit
def h2_allocation(params: Params):
    """H2: (theta*, beta*), the per-token makespan and the band that equalises h_k (MODEL.md H2).

    Examples
    --------
    >>> from numerics import Scenario
    >>> from numerics.differentiable import params_from_scenario
    >>> s = Scenario(alpha=0.8, t_draft=[0.0, 0.0], bits_per_token=[1.0, 3.0],
    ...              bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.1)
    >>> theta, beta = h2_allocation(params_from_scenario(s))
    >>> round(float(theta), 12), [round(float(b), 12) for b in beta]
    (4.0, [0.25, 0.75])
    """
    return equal_finish(params, jnp.ones_like(params.t))


@jax.jit
def homogeneous_goodput(params: Params, L):
    """G_H(L) = sum_k A(alpha_k, L) / (L theta* + T_v + T_o) at the H2 band (MODEL.md H1, H4).

    L is a scalar (real allowed); differentiable in ``params`` (theta* implicitly) and in L.
    """
    theta, _ = h2_allocation(params)
    Lv = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    T = Lv[0] * theta + verification_latency(params, Lv) + params.overhead
    return jnp.sum(expected_tokens(params.alpha, Lv)) / T


@jax.jit
def fixed_length_goodput(params: Params, L):
    """Goodput at per-user draft lengths L with the equal-finish band (D7): sum A / (T* + T_v + T_o)."""
    Lv = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    T, _ = equal_finish(params, Lv)
    return jnp.sum(expected_tokens(params.alpha, Lv)) / (T + verification_latency(params, Lv) + params.overhead)


#: jit(value_and_grad(fixed_length_goodput, argnums=0)): goodput at lengths L with the equal-finish
#: band and its gradient in the parameters (T* implicit), compiled once per (K, static fields)
fixed_length_value_and_grad = jax.jit(jax.value_and_grad(fixed_length_goodput))
