"""Equal-finishing-time allocation and the homogeneous regime in JAX (H1-H4, D7), implicit.

For draft lengths L_k the band minimising the makespan max_k L_k h_k(beta_k) is (docs/model.md H2,
D7; symbolic source :mod:`theory.homogeneous`)

    beta_k(T) = r_k^{-1}( s_k L_k / (T - L_k t_k) ),     sum_k beta_k(T) = 1,

with the inverse rates r^{-1}(R) = R / (B eta) (linear) and, for the Shannon rate,
c = R ln2 / (B rho), beta = rho / (y - 1), y = -W_{-1}(-c e^{-c}) / c
(:func:`theory.channel.shannon_share_for_rate`). L_k = 1 gives H2: T = theta*.

The root T* is found by Newton's method on H(T) = 1 / S(T) - 1 from the left end of the
bracket (concave increasing for the linear rate: the iterates increase monotonically to the
root, as in :func:`numerics.allocation.equal_finish_root`), safeguarded by bisection; it is
differentiated by the implicit function theorem (``jax.lax.custom_root``):
dT*/dp = -(d/dp sum_k beta_k) / (d/dT sum_k beta_k), never by unrolling the iteration.

Homogeneous regime (H1, H4): G_H(L) = sum_k A_k(L) / (L theta* + T_v(K(L+1)) + T_o) for a
common L (ragged and padded batching agree there), for the smooth and the piecewise-linear
(profile) A; :func:`homogeneous_optimum` returns the integer optimum over [1, max_draft] and
the continuous one (the root of the decreasing phi(L) = N'(L)(c0 + c1 L) - c1 N(L), H4).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._lambertw import lambertw
from ._model import Params, marginal, rate, tokens, verification_latency
from ._roots import newton_bracketed

__all__ = [
    "HomogeneousOptimum",
    "bisect",
    "equal_finish",
    "fixed_length_goodput",
    "fixed_length_value_and_grad",
    "h2_allocation",
    "homogeneous_goodput",
    "homogeneous_optimum",
    "share_for_deadline",
    "share_for_rate",
]

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


def share_for_deadline(params: Params, L, T):
    """beta_k(T) = r_k^{-1}(s_k L_k / (T - L_k t_k)) (0 for users with s_k L_k = 0; inf if unreachable)."""
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    need = (params.s > 0) & (L > 0)
    slack = T - L * params.t
    ok = need & (slack > 0)
    R = jnp.where(ok, params.s * L / jnp.where(ok, slack, 1.0), 0.0)
    return jnp.where(ok, share_for_rate(params, R), jnp.where(need, jnp.inf, 0.0))


def _rate_slope(params: Params, beta):
    """r'(beta) for beta > 0."""
    if params.rate_model == "linear":
        return params.bandwidth * params.channel * jnp.ones_like(beta)
    b = jnp.where(beta > 0, beta, 1.0)
    rho = params.channel
    return params.bandwidth * (jnp.log1p(rho / b) - rho / (b + rho)) / _LN2


def _hf(p: Params, L, need, T):
    """f(T) = 1 - 1/S(T) and f'(T), S(T) = sum_k beta_k(T), for the equal-finish Newton iteration."""
    beta = share_for_deadline(p, L, T)
    slack = jnp.where(need, T - L * p.t, 1.0)
    R = jnp.where(need, p.s * L / slack, 0.0)
    dbeta = jnp.where(need, -(R / slack) / _rate_slope(p, jnp.where(need, beta, 1.0)), 0.0)
    S, dS = jnp.sum(beta), jnp.sum(dbeta)
    # f = 1 - 1/S(T): decreasing (S decreases), concave-like for the linear rate (see the module docstring)
    return 1.0 - 1.0 / S, dS / S ** 2


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
    docs/model.md H2 (L_k = 1) and D7.
    """
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    need = (params.s > 0) & (L > 0)
    any_need = jnp.any(need)
    drafts = ~need & (L > 0)  # only users that draft enter the max (no tie with the idle ones' zeros)
    free = jnp.where(jnp.any(drafts), jnp.max(jnp.where(drafts, L * params.t, -jnp.inf)), 0.0)
    r_full = rate(params, jnp.ones_like(params.t))
    a = jnp.where(need, params.s * L / r_full, 0.0)  # upload time of L_k tokens on the whole band
    lo = jnp.max(jnp.where(need, L * params.t + a, 0.0))  # some user needs the whole band: sum >= 1
    hi = jnp.max(jnp.where(need, L * params.t, 0.0)) + jnp.sum(a)  # r(b) >= b r(1): sum <= 1
    lo, hi = jax.lax.stop_gradient((lo, hi))  # the bracket only seeds the solve
    Ls = jax.lax.stop_gradient(L)

    def f(T):
        return jnp.where(any_need, jnp.sum(share_for_deadline(params, L, T)) - 1.0, T - free)

    def solve(f, _):
        p = jax.lax.stop_gradient(params)
        scale = jnp.maximum(hi, 1e-300)

        def fdf(x):  # x = T / scale: the helper's absolute tolerance becomes relative
            val, d = _hf(p, Ls, need, x * scale)
            return val, d * scale

        x = newton_bracketed(fdf, lo / scale, lo / scale, jnp.maximum(hi, lo) / scale, xtol=4e-16, max_iter=100)
        return jnp.where(any_need, x * scale, free)

    T = jax.lax.custom_root(f, lo, solve, lambda g, y: y / g(1.0))
    beta = jnp.where(any_need, share_for_deadline(params, L, T), 0.0)
    return jnp.maximum(T, free), beta


def h2_allocation(params: Params):
    """H2: (theta*, beta*), the per-token makespan and the band that equalises h_k (docs/model.md H2).

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)
    >>> from numerics import Scenario
    >>> from numerics.differentiable import params_from_scenario
    >>> s = Scenario(alpha=0.8, t_draft=[0.0, 0.0], bits_per_token=[1.0, 3.0],
    ...              bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.1)
    >>> theta, beta = h2_allocation(params_from_scenario(s))
    >>> round(float(theta), 12), [round(float(b), 12) for b in beta]
    (4.0, [0.25, 0.75])
    """
    return equal_finish(params, jnp.ones_like(params.t))


def homogeneous_goodput(params: Params, L):
    """G_H(L) = sum_k A_k(L) / (L theta* + T_v + T_o) at the H2 band (docs/model.md H1, H4).

    L is a scalar (real allowed); differentiable in ``params`` (theta* implicitly) and in L.
    A is smooth (i.i.d. alpha) or piecewise linear (a profile); v1 >= 0, either batching.
    """
    theta, _ = h2_allocation(params)
    Lv = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    T = Lv[0] * theta + verification_latency(params, Lv) + params.overhead
    return jnp.sum(tokens(params, Lv)) / T


def fixed_length_goodput(params: Params, L):
    """Goodput at per-user draft lengths L with the equal-finish band (D7): sum A / (T* + T_v + T_o)."""
    Lv = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    T, _ = equal_finish(params, Lv)
    return jnp.sum(tokens(params, Lv)) / (T + verification_latency(params, Lv) + params.overhead)


#: jit(value_and_grad(fixed_length_goodput, argnums=0)): goodput at lengths L with the equal-finish
#: band and its gradient in the parameters (T* implicit), compiled once per (K, static fields)
fixed_length_value_and_grad = jax.jit(jax.value_and_grad(fixed_length_goodput))


class HomogeneousOptimum(NamedTuple):
    """The homogeneous optimum (H1-H4): integer L in [1, max_draft] and the continuous maximiser."""

    goodput: jax.Array       # G_H at the integer optimum
    L: jax.Array             # the integer optimum (the smallest maximiser), as a float
    L_continuous: jax.Array  # maximiser of G_H over the real interval [1, max_draft]
    theta: jax.Array         # per-token makespan theta* (H2)
    beta: jax.Array          # the H2 band


def _homogeneous_parts(params: Params):
    theta, beta = h2_allocation(params)
    K = params.n_users
    c0 = params.v0 + params.v1 * K + params.overhead
    c1 = theta + params.v1 * K
    return theta, beta, c0, c1


def homogeneous_optimum(params: Params) -> HomogeneousOptimum:
    r"""The homogeneous optimum (docs/model.md H1-H4) for every scenario, differentiable in ``params``.

    With c0 = v0 + v1 K + T_o and c1 = theta* + v1 K, G_H(L) = N(L) / (c0 + c1 L),
    N(L) = sum_k A_k(L). The continuous maximiser over [1, max_draft] is the root of the
    decreasing phi(L) = N'(L)(c0 + c1 L) - c1 N(L) (smooth A: safeguarded Newton,
    differentiated implicitly); for a profile N is piecewise linear and the maximiser is the
    best integer. The integer optimum is the best of floor and ceil of the continuous one
    (quasi-concavity, :mod:`numerics.homogeneous`), the smallest on ties; it is locally
    constant, so the goodput's derivative is that at the integer L held fixed (theta*
    implicit).
    """
    theta, beta, c0, c1 = _homogeneous_parts(params)
    M = float(params.max_draft)
    K = params.n_users

    def N_of(L):
        return jnp.sum(tokens(params, jnp.full((K,), L)))

    def G_of(L):
        return N_of(L) / (c0 + c1 * L)

    if params.positional:
        Ls = jnp.arange(1, params.max_draft + 1, dtype=jnp.float64)
        G = jax.vmap(G_of)(Ls)
        i = jnp.argmax(G)  # first maximiser: the smallest L on ties
        L_int = Ls[i]
        L_cont = L_int
    else:
        ps, c0s, c1s = jax.lax.stop_gradient((params, c0, c1))

        def N_s(L):
            return jnp.sum(tokens(ps, jnp.full((K,), L)))

        def phi(L):
            dN = jnp.sum(marginal(ps, jnp.full((K,), L)))
            return dN * (c0s + c1s * L) - c1s * N_s(L)

        def fdf(L):
            dN = jnp.sum(marginal(ps, jnp.full((K,), L)))
            a = jnp.where(ps.alpha > 0, -jnp.log(jnp.where(ps.alpha > 0, ps.alpha, 0.5)), 0.0)
            d2N = -jnp.sum(a * marginal(ps, jnp.full((K,), L)))  # A'' = -(-ln alpha) A'
            return dN * (c0s + c1s * L) - c1s * N_s(L), d2N * (c0s + c1s * L)  # phi' = N'' (c0 + c1 L)

        f1, fM = phi(1.0), phi(M)
        interior = (f1 > 0) & (fM < 0)
        root = newton_bracketed(fdf, jnp.asarray(0.5 * (1.0 + M)), jnp.asarray(1.0), jnp.asarray(M),
                                xtol=1e-13 * M, max_iter=200)
        Lc_s = jnp.where(interior, root, jnp.where(f1 <= 0, 1.0, M))

        def f_opt(L):  # the stationarity, differentiable in params (implicit L°)
            N = N_of(L)
            dN = jnp.sum(marginal(params, jnp.full((K,), L)))
            return jnp.where(interior, dN * (c0 + c1 * L) - c1 * N, L - Lc_s)

        L_cont = jax.lax.custom_root(f_opt, Lc_s, lambda f, x0: Lc_s, lambda g, y: y / g(1.0))
        lo = jnp.clip(jnp.floor(Lc_s), 1.0, M)
        cand = jnp.clip(lo + jnp.array([-1.0, 0.0, 1.0, 2.0]), 1.0, M)
        Gc = jax.vmap(lambda L: jax.lax.stop_gradient(G_of(L)))(cand)
        best = jnp.max(Gc)
        L_int = jnp.min(jnp.where(Gc >= best, cand, jnp.inf))
    L_int = jax.lax.stop_gradient(L_int)
    return HomogeneousOptimum(G_of(L_int), L_int, L_cont, theta, beta)
