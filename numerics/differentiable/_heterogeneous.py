"""Heterogeneous draft lengths in JAX: the D3 closed form, the inner problem F(tau) and the
outer deadline search (D5), all differentiable by implicit differentiation (linear rate, v1 = 0).

D3 (MODEL.md; symbolic source :mod:`theory.heterogeneous`). With L_k(beta) = tau / h_k(beta)
the KKT condition A'(L_k) dL_k/dbeta_k = lambda has, for the linear rate, the solution
v = 2 W_0(kappa sqrt(M) / 2) / kappa, beta = (1/v - s) / (t B eta). We evaluate the same
root in a form that neither overflows nor cancels. With a = -ln(alpha),

    mu  = (1/2) ln( lambda (1 - alpha) s / (a tau B eta alpha) ),   eps = 2 t / (tau a),
    x   = eps W_0( exp(mu + 1/eps - ln eps) )      (= s v, the upload fraction of h),
    delta = -mu + ln x  (x > 1/2)   or   1/eps - W_0(...)  (x <= 1/2),
    L   = min(L_max, 2 delta / a),    beta = s L / (B eta (tau - t L)),

delta <= 0 meaning beta = 0 (the max(0, .) of MODEL.md); t = 0 gives x = 1, delta = -mu.
W_0(e^l) is :func:`lambertw_exp` (no overflow of e^l). lambda is the root of
sum_k beta_k(lambda) = 1 (bisection in log lambda, implicit derivative by
``jax.lax.custom_root``). F(tau) = sum_k A(alpha_k, L_k).

D5: G_D(tau) = F(tau) / (tau + v0 + T_o); F'(tau) = sum_{uncapped} A'(L_k) L_k / tau (envelope),
so the optimum solves phi(tau) = F'(tau)(tau + v0 + T_o) - F(tau) = 0. The search brackets
the maximum on a logarithmic grid up to tau_sat (the deadline at which every user reaches
L_max, beyond which G_D decreases), then bisects phi; no unimodality is assumed beyond the
grid cell. If G_D still increases at tau_sat the optimum is that corner: every user at L_max
with the equal-finish band of H2/D7 (lambda reported as 0).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._allocation import bisect, equal_finish
from ._lambertw import lambertw_exp
from ._model import Params, verification_latency
from ._tokens import expected_tokens, marginal_tokens

jax.config.update("jax_enable_x64", True)

__all__ = ["d3_shares", "d3_allocation", "inner_value", "heterogeneous_optimum", "HeterogeneousOptimum",
           "heterogeneous_goodput", "heterogeneous_value_and_grad"]

_N_GRID = 49
_GRID_DECADES = 4.0
_LOG_LAMBDA_SPAN = 200.0  # lambda bracket [lambda_max e^-200, lambda_max]


def _check(params: Params) -> None:
    if params.rate_model != "linear":
        raise ValueError(f"rate_model: the D3 closed form is for the linear rate, got {params.rate_model!r}")
    v1 = params.v1
    if not isinstance(v1, jax.core.Tracer) and np.any(np.asarray(v1) != 0):
        raise ValueError(f"v1 must be 0 for the D3/D5 closed forms (fill-the-deadline, D1), got {float(np.max(v1))!r}")


def d3_shares(params: Params, tau, lam):
    """D3: per-user band share and draft length (beta_k(lambda), L_k(lambda)) at deadline tau.

    Parameters
    ----------
    params : Params (linear rate)
    tau : scalar > 0
        Drafting deadline.
    lam : scalar > 0
        Band multiplier lambda of sum beta <= 1 in F(tau).

    Returns
    -------
    beta, L : jax.Array (K,)

    Notes
    -----
    Formula: module docstring (MODEL.md D3). Users with s_k = 0 get beta = 0 and
    L = min(L_max, tau / t_k); users with alpha_k = 0 and s_k > 0 get beta = L = 0.

    Raises
    ------
    ValueError
        Shannon rate model; v1 > 0 (concrete).
    """
    _check(params)
    return _d3_shares(params, tau, lam)


@jax.jit
def _d3_shares(params: Params, tau, lam):
    alpha, t, s = params.alpha, params.t, params.s
    Lmax = float(params.max_draft)
    Beta = params.bandwidth * params.channel
    up = (s > 0) & (alpha > 0)
    a_ = jnp.where(up, alpha, 0.5)
    s_ = jnp.where(up, s, 1.0)
    la = -jnp.log(a_)
    mu = 0.5 * (jnp.log(lam) + jnp.log1p(-a_) + jnp.log(s_) - jnp.log(la) - jnp.log(tau * Beta) - jnp.log(a_))
    drafts = t > 0
    t_ = jnp.where(drafts, t, 1.0)
    eps = 2.0 * t_ / (tau * la)
    omega = lambertw_exp(mu + 1.0 / eps - jnp.log(eps))
    x = eps * omega
    big = x > 0.5
    delta = jnp.where(big, -mu + jnp.log(jnp.where(big, x, 1.0)), 1.0 / eps - omega)
    x = jnp.where(drafts, x, 1.0)
    delta = jnp.where(drafts, delta, -mu)
    on = up & (delta > 0)
    L_unc = 2.0 * jnp.where(on, delta, 0.0) / la
    capped = on & (L_unc >= Lmax)
    L_up = jnp.where(on, jnp.minimum(L_unc, Lmax), 0.0)
    den = jnp.where(capped, tau - t * Lmax, tau * x)  # tau - t L, without cancellation when uncapped
    beta = jnp.where(on, s_ * L_up / (Beta * jnp.where(on, den, 1.0)), 0.0)
    L_free = jnp.where(drafts, jnp.minimum(Lmax, tau / t_), Lmax)  # s = 0: draft to the deadline
    L = jnp.where(s > 0, L_up, L_free)
    return beta, L


def d3_allocation(params: Params, tau):
    """The inner optimum at deadline tau: (lambda, beta, L) with sum beta = 1, implicit in lambda.

    Requires the band to bind (tau below tau_sat, where every user would reach L_max).
    Invariant: ``sum(d3_shares(params, tau, lambda)[0]) - 1 == 0``.
    """
    _check(params)
    return _d3_allocation(params, tau)


@jax.jit
def _d3_allocation(params: Params, tau):
    alpha, s = params.alpha, params.s
    up = (s > 0) & (alpha > 0)
    # at lambda_max = max_k A'(0) dL_k/dbeta(0) every share is 0: A'(0) = a alpha / (1 - alpha), dL/dbeta(0) = tau B eta / s
    marg0 = marginal_tokens(jnp.where(up, alpha, 0.5), 0.0) * tau * params.bandwidth * params.channel / jnp.where(up, s, 1.0)
    hi = jax.lax.stop_gradient(jnp.log(jnp.max(jnp.where(up, marg0, 1e-300))))  # bracket only

    def f(ell):
        return jnp.sum(_d3_shares(params, tau, jnp.exp(ell))[0]) - 1.0

    def solve(f, _):
        return bisect(f, hi - _LOG_LAMBDA_SPAN, hi)

    ell = jax.lax.custom_root(f, hi, solve, lambda g, y: y / g(1.0))
    lam = jnp.exp(ell)
    beta, L = _d3_shares(params, tau, lam)
    return lam, beta, L


def inner_value(params: Params, tau):
    """F(tau) = max_beta sum_k A(alpha_k, min(L_max, tau / h_k(beta_k))) via D3 (MODEL.md D2, D3)."""
    _check(params)
    return _inner_value(params, tau)


@jax.jit
def _inner_value(params: Params, tau):
    _, _, L = _d3_allocation(params, tau)
    return jnp.sum(expected_tokens(params.alpha, L))


def _phi(params: Params, tau):
    """(tau + c) F'(tau) - F(tau) with F'(tau) = sum_{uncapped} A'(L_k) L_k / tau (D5): sign of dG_D/dtau."""
    _, _, L = _d3_allocation(params, tau)
    uncapped = (L > 0) & (L < params.max_draft)
    dF = jnp.sum(jnp.where(uncapped, marginal_tokens(params.alpha, L) * L, 0.0)) / tau
    return dF * (tau + params.v0 + params.overhead) - jnp.sum(expected_tokens(params.alpha, L))


class HeterogeneousOptimum(NamedTuple):
    """The continuous heterogeneous optimum (D1-D5): goodput, deadline, multiplier, band, lengths."""

    goodput: jax.Array
    tau: jax.Array
    lam: jax.Array
    beta: jax.Array
    L: jax.Array
    corner: jax.Array  # True when the optimum is tau_sat (every user at L_max)


def heterogeneous_optimum(params: Params) -> HeterogeneousOptimum:
    r"""The continuous heterogeneous optimum with v1 = 0 and the linear rate, differentiable.

    .. math:: G^* = \max_\tau F(\tau) / (\tau + v_0 + T_o)

    tau* and lambda* are differentiated implicitly (``jax.lax.custom_root`` on phi(tau) = 0
    and on sum beta = 1), so ``jax.grad`` of ``heterogeneous_optimum(p).goodput`` gives the
    sensitivities of the optimal goodput (MODEL.md D5).

    Raises
    ------
    ValueError
        Shannon rate model, or v1 > 0 (concrete).
    """
    _check(params)
    return _heterogeneous_optimum(params)


@jax.jit
def _heterogeneous_optimum(params: Params) -> HeterogeneousOptimum:
    c = params.v0 + params.overhead
    L_cap = jnp.full_like(params.t, float(params.max_draft))
    tau_sat, beta_sat = equal_finish(params, L_cap)
    # the bracket only seeds the solve: no derivative flows through it (stop_gradient keeps
    # the 49 grid solves out of the differentiated program)
    ps, cs = jax.lax.stop_gradient((params, c))
    grid = jax.lax.stop_gradient(tau_sat) * jnp.logspace(-_GRID_DECADES, 0.0, _N_GRID)
    G = jax.vmap(lambda tau: _inner_value(ps, tau) / (tau + cs))(grid)
    i = jnp.argmax(G)
    lo = grid[jnp.maximum(i - 1, 0)]
    hi = grid[jnp.minimum(i + 1, _N_GRID - 1)]
    corner = (i == _N_GRID - 1) & (_phi(ps, grid[-2] + 0.999 * (grid[-1] - grid[-2])) > 0)

    def f(tau):  # at the corner phi is evaluated at an interior deadline only to stay NaN-free
        return jnp.where(corner, tau_sat - tau, _phi(params, jnp.where(corner, lo, tau)))

    def solve(f, _):
        return jnp.where(corner, tau_sat, bisect(f, lo, hi))

    tau = jax.lax.custom_root(f, grid[i], solve, lambda g, y: y / g(1.0))
    # at the corner lambda is not unique (any small lambda caps everyone): the point is
    # (L_max, equal-finish band) and D3 is evaluated at an interior deadline only to keep its
    # (unused) derivatives finite -- the where(pred, x, safe) trick
    lam, beta, L = _d3_allocation(params, jnp.where(corner, lo, tau))
    lam = jnp.where(corner, 0.0, lam)
    beta = jnp.where(corner, beta_sat, beta)
    L = jnp.where(corner, L_cap, L)
    # T_v = v0 + v1 n with v1 = 0: written out so that d/dv1 at v1 = 0 is -G n / D (envelope)
    goodput = jnp.sum(expected_tokens(params.alpha, L)) / (tau + verification_latency(params, L) + params.overhead)
    return HeterogeneousOptimum(goodput, tau, lam, beta, L, corner)


def heterogeneous_goodput(params: Params):
    """G* of the continuous heterogeneous optimum (``heterogeneous_optimum(params).goodput``)."""
    return heterogeneous_optimum(params).goodput


#: jit(value_and_grad(heterogeneous_goodput)): G* and dG*/dparams (a Params), compiled once per
#: (K, static fields) and shared by every caller (sensitivity tables, tests, figures)
heterogeneous_value_and_grad = jax.jit(jax.value_and_grad(heterogeneous_goodput))
