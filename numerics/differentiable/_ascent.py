"""Gradient-based solution of the continuous problems, an independent check of H2 and D3.

Projected gradient on the simplex {beta >= 0, sum beta = 1} with backtracking (the sufficient
decrease test of Beck and Teboulle 2009, eq. 1.5, for the quadratic model of step 1/eta), with
gradients from ``jax.grad`` of the JAX model and never from the closed forms:

- homogeneous (H1/H2): minimise theta(beta) = max_k h_k(beta_k). The max is smoothed by
  T log sum_k exp(h_k / T), which over-estimates it by at most T log K, with a continuation
  T = theta_0 10^-1 ... theta_0 10^-10, each stage started from the previous one;
- heterogeneous inner problem (D2/D3, fixed tau): maximise
  F(beta) = sum_k A(alpha_k, min(L_max, tau r_k / (t_k r_k + s_k))), concave (D2).

The results are compared with the closed forms in ``tests/test_differentiable.py`` and in
``proofs_check`` (claims 'grad-H2', 'grad-D3').
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._model import Params, per_token_latency, rate, tokens, verification_latency

__all__ = [
    "full_ascent",
    "full_objective",
    "inner_ascent",
    "inner_objective",
    "minimax_latency_descent",
    "project_simplex",
    "projected_gradient",
]


def project_simplex(v):
    """Euclidean projection onto {x >= 0, sum x = 1} (sort-based; Duchi et al. 2008, Fig. 1)."""
    u = jnp.sort(v)[::-1]
    css = jnp.cumsum(u) - 1.0
    idx = jnp.arange(1, v.shape[-1] + 1)
    rho = jnp.max(jnp.where(u - css / idx > 0, idx, 0))
    theta = css[rho - 1] / rho
    return jnp.maximum(v - theta, 0.0)


def projected_gradient(f, x0, n_steps: int, eta0: float, floor: float = 0.0):
    """Minimise f over the simplex (intersected with x >= floor) by projected gradient + backtracking.

    Each step halves eta until f(x+) <= f(x) + g.(x+ - x) + |x+ - x|^2 / (2 eta), then tries
    2 eta on the next step. Returns the last iterate.
    """
    vg = jax.value_and_grad(f)
    K = x0.shape[-1]

    def proj(v):
        return floor + (1.0 - K * floor) * project_simplex((v - floor) / (1.0 - K * floor))

    def step(_, state):
        x, eta = state
        fx, g = vg(x)

        def cond(c):
            eta, xn, fn, k = c
            d = xn - x
            return (fn > fx + g @ d + d @ d / (2 * eta)) & (k < 60)

        def shrink(c):
            eta, _, _, k = c
            eta = eta / 2
            xn = proj(x - eta * g)
            return eta, xn, f(xn), k + 1

        xn = proj(x - eta * g)
        eta, xn, fn, _ = jax.lax.while_loop(cond, shrink, (eta, xn, f(xn), 0))
        return jnp.where(fn <= fx, xn, x), 2 * eta

    x, _ = jax.lax.fori_loop(0, n_steps, step, (x0, jnp.asarray(eta0, dtype=jnp.float64)))
    return x


def minimax_latency_descent(params: Params, beta0, steps_per_stage: int = 200, n_stages: int = 10):
    """Band minimising max_k h_k(beta_k) by smoothed projected gradient (H1/H2 check).

    Parameters
    ----------
    params : Params (every user uploads: s_k > 0)
    beta0 : array (K,), a point of the simplex with positive entries
    steps_per_stage, n_stages : int
        Stage j minimises T_j log sum exp(h / T_j), T_j = theta_0 10^-j (theta_0 = max h at
        beta0); the smoothing error of the last stage is at most T log K.
    """
    theta0 = jnp.max(per_token_latency(params, beta0))
    floor = 1e-12  # h_k is infinite at beta_k = 0: keep the iterates inside

    def stage(x, T):
        f = lambda b: T * jax.nn.logsumexp(per_token_latency(params, b) / T)  # noqa: E731
        return projected_gradient(f, x, steps_per_stage, 1e-3 * T, floor), None

    temps = theta0 * 10.0 ** -jnp.arange(1, n_stages + 1, dtype=jnp.float64)
    beta, _ = jax.lax.scan(stage, beta0, temps)
    return beta


def inner_objective(params: Params, tau, beta):
    """F(beta) = sum_k A(alpha_k, L_k), L_k = min(L_max, tau r_k / (t_k r_k + s_k)) (= tau / h_k)."""
    r = rate(params, beta)
    den = params.t * r + params.s
    L = jnp.where(den > 0, tau * r / jnp.where(den > 0, den, 1.0), float(params.max_draft))
    L = jnp.where(params.s > 0, L, jnp.where(params.t > 0, tau / jnp.where(params.t > 0, params.t, 1.0), jnp.inf))
    return jnp.sum(tokens(params, jnp.minimum(L, float(params.max_draft))))


def inner_ascent(params: Params, tau, beta0, n_steps: int = 2000):
    """Band maximising F(beta) at deadline tau by projected gradient ascent (D2/D3 check)."""
    f = lambda b: -inner_objective(params, tau, b)  # noqa: E731
    return projected_gradient(f, beta0, n_steps, 1e-2)


def full_objective(params: Params, beta, x, z):
    r"""The whole continuous problem as a smooth function of (beta, x = ln tau, z):

    .. math:: G = \frac{\sum_k A_k(L_k)}{\tau + T_v(L) + T_o}, \quad
              L_k = z_k \min(L_{max}, \tau r_k / (t_k r_k + s_k)),\ z_k \in [0, 1]

    (L_k = z_k min(L_max, tau / h_k(beta_k)): the feasible lengths at deadline tau; z < 1 is a
    user stopping short of the deadline, which can pay with v1 > 0, D6). z applies to users
    without upload only: an uploading user short of the deadline could give back band and keep
    its length, so at an optimum with a binding band it fills the deadline (z = 1). The maximum
    over the simplex, x and the box is the continuous heterogeneous optimum.
    """
    tau = jnp.exp(x)
    r = rate(params, beta)
    den = params.t * r + params.s
    up = params.s > 0
    L_up = jnp.where(den > 0, tau * r / jnp.where(den > 0, den, 1.0), 0.0)
    L_free = jnp.where(params.t > 0, tau / jnp.where(params.t > 0, params.t, 1.0), jnp.inf)
    L = jnp.where(up, 1.0, z) * jnp.minimum(jnp.where(up, L_up, L_free), float(params.max_draft))
    return jnp.sum(tokens(params, L)) / (tau + verification_latency(params, L) + params.overhead)


def full_ascent(params: Params, beta0, x0, z0, n_steps: int = 4000, move_tau: bool = True):
    """Maximise :func:`full_objective` by projected gradient ascent with backtracking (issue 15 item 3 check).

    beta on the simplex (sort-based Euclidean projection, shares kept >= 1e-12: the Shannon
    rate's slope is infinite at 0), z in the box [0, 1], x = ln(tau) free (or held at x0 with
    ``move_tau=False``: the ratio at a fixed deadline, a pseudo-concave problem); one step size
    for all, halved until the sufficient-increase test of Beck and Teboulle (2009, eq. 1.5, for
    -G) holds, doubled after each accepted step. The gradient is ``jax.grad`` of the model,
    never a closed form. Returns (beta, x, z, G) of the last iterate.
    """
    f = lambda y: full_objective(params, *y)  # noqa: E731
    vg = jax.value_and_grad(f)
    K = beta0.shape[-1]
    floor = 1e-12

    def proj(y):
        b, x, z = y
        b = floor + (1.0 - K * floor) * project_simplex((b - floor) / (1.0 - K * floor))
        return b, x, jnp.clip(z, 0.0, 1.0)

    def step(_, state):
        y, eta = state
        fy, g = vg(y)
        if not move_tau:
            g = (g[0], jnp.zeros_like(g[1]), g[2])

        def move(eta):
            return proj(jax.tree_util.tree_map(lambda a, b: a + eta * b, y, g))

        def gain(yn, eta):
            d = jax.tree_util.tree_map(lambda a, b: a - b, yn, y)
            lin = sum(jnp.sum(gi * di) for gi, di in zip(g, d, strict=True))
            sq = sum(jnp.sum(di * di) for di in d)
            return f(yn), fy + lin - sq / (2.0 * eta)

        def cond(c):
            _eta, _yn, fn, bound, k = c
            return (fn < bound) & (k < 60)

        def shrink(c):
            eta, _, _, _, k = c
            eta = eta / 2.0
            yn = move(eta)
            fn, bound = gain(yn, eta)
            return eta, yn, fn, bound, k + 1

        yn = move(eta)
        fn, bound = gain(yn, eta)
        eta, yn, fn, _, _ = jax.lax.while_loop(cond, shrink, (eta, yn, fn, bound, 0))
        better = fn >= fy
        y = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), yn, y)
        return y, 2.0 * eta

    y0 = proj((beta0, jnp.asarray(x0, jnp.float64), z0))
    (b, x, z), _ = jax.lax.fori_loop(0, n_steps, step, (y0, jnp.asarray(1e-6, jnp.float64)))
    return b, x, z, f((b, x, z))
