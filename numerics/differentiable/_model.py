"""The Multi-SPIN model as pure JAX functions of a parameter pytree (MODEL.md section 2).

    r_k(beta)  = beta B eta_k                     (linear)
               = beta B log2(1 + rho_k / beta)     (shannon)
    h_k(beta)  = t_k + s_k / r_k(beta)             per-token latency
    T          = max_k L_k h_k(beta_k) + v0 + v1 n + T_o,   n = sum_k (L_k + 1) | K (max_k L_k + 1)
    G          = sum_k A(alpha_k, L_k) / T

Symbolic sources: :mod:`theory.channel`, :mod:`theory.latency`. The max in T is
non-smooth: ``jax.grad`` returns the gradient of the user(s) attaining it (a subgradient
where several do, as at every optimum of H2/D7: use the envelope formulas there).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._tokens import expected_tokens

jax.config.update("jax_enable_x64", True)

__all__ = [
    "Params", "params_from_scenario", "stack_params",
    "rate", "per_token_latency", "drafting_time", "verification_latency", "round_time", "goodput",
]

_LN2 = math.log(2.0)


@dataclasses.dataclass(frozen=True)
class Params:
    """Parameter pytree of one scenario (leaves are float64 arrays; batch them with vmap).

    Leaves (differentiable): ``alpha``, ``t``, ``s``, ``channel`` (eta or rho), shape (K,);
    ``bandwidth``, ``v0``, ``v1``, ``overhead``, scalars. Static (part of the tree
    structure): ``rate_model``, ``batching``, ``max_draft``. ``jax.grad`` with respect to a
    Params returns a Params of partial derivatives.
    """

    alpha: jax.Array
    t: jax.Array
    s: jax.Array
    channel: jax.Array
    bandwidth: jax.Array
    v0: jax.Array
    v1: jax.Array
    overhead: jax.Array
    rate_model: str = "linear"
    batching: str = "ragged"
    max_draft: int = 16

    @property
    def n_users(self) -> int:
        """K (the last axis of the per-user leaves)."""
        return int(self.t.shape[-1])


jax.tree_util.register_dataclass(
    Params,
    data_fields=["alpha", "t", "s", "channel", "bandwidth", "v0", "v1", "overhead"],
    meta_fields=["rate_model", "batching", "max_draft"],
)


def params_from_scenario(scenario) -> Params:
    """The :class:`Params` of a :class:`numerics.Scenario` (values copied as float64).

    Raises
    ------
    ValueError
        ``alpha`` is a position-dependent profile (the JAX model covers i.i.d. acceptance),
        or ``scenario`` is not a Scenario.

    Examples
    --------
    >>> from numerics import Scenario
    >>> p = params_from_scenario(Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=32,
    ...                                   bandwidth_hz=1e5, spectral_efficiency=2.0, v0=0.05))
    >>> p.n_users, p.rate_model, float(p.bandwidth)
    (2, 'linear', 100000.0)
    """
    from ..scenario import Scenario

    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a numerics.Scenario, got {type(scenario).__name__}")
    if scenario.positional:
        raise ValueError(
            f"alpha: position-dependent profiles (shape {scenario.alpha.shape}) are not supported "
            "by the differentiable model; use per-user alpha"
        )
    f = lambda v: jnp.asarray(np.asarray(v, dtype=np.float64))  # noqa: E731
    return Params(
        alpha=f(scenario.alpha), t=f(scenario.t_draft), s=f(scenario.bits_per_token),
        channel=f(scenario.channel), bandwidth=f(scenario.bandwidth_hz), v0=f(scenario.v0),
        v1=f(scenario.v1), overhead=f(scenario.overhead), rate_model=scenario.rate_model,
        batching=scenario.batching, max_draft=scenario.max_draft,
    )


def stack_params(params: list[Params]) -> Params:
    """Stack scenarios with the same K and static fields into one batched Params (for vmap).

    Raises
    ------
    ValueError
        Empty list, or the scenarios differ in K, rate model, batching or max_draft.
    """
    if not params:
        raise ValueError("params must be a non-empty list of Params, got []")
    ref = jax.tree_util.tree_structure(params[0])
    for i, p in enumerate(params):
        if jax.tree_util.tree_structure(p) != ref or p.n_users != params[0].n_users:
            raise ValueError(
                f"params[{i}] differs from params[0] in K, rate_model, batching or max_draft: "
                f"{(p.n_users, p.rate_model, p.batching, p.max_draft)} vs "
                f"{(params[0].n_users, params[0].rate_model, params[0].batching, params[0].max_draft)}"
            )
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *params)


@jax.jit
def rate(params: Params, beta):
    """Uplink rate r_k(beta_k) [bit/s]; r(0) = 0 (the Shannon limit), differentiable for beta > 0.

    Symbolic source: :func:`theory.channel.rate`.
    """
    beta = jnp.asarray(beta, dtype=jnp.float64)
    if params.rate_model == "linear":
        return beta * params.bandwidth * params.channel
    pos = beta > 0
    b = jnp.where(pos, beta, 1.0)
    return jnp.where(pos, b * params.bandwidth * jnp.log1p(params.channel / b) / _LN2, 0.0)


@jax.jit
def per_token_latency(params: Params, beta):
    """h_k(beta_k) = t_k + s_k / r_k(beta_k); +inf where s_k > 0 and beta_k = 0.

    Symbolic source: :func:`theory.latency.per_token_latency`.
    """
    r = rate(params, beta)
    up = params.s > 0
    ok = up & (r > 0)
    upload = jnp.where(ok, params.s / jnp.where(ok, r, 1.0), 0.0)
    return params.t + jnp.where(up & ~(r > 0), jnp.inf, upload)


@jax.jit
def drafting_time(params: Params, L, beta):
    """L_k h_k(beta_k), with 0 for L_k = 0 whatever beta_k (no drafting, no upload)."""
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    h = per_token_latency(params, beta)
    drafting = L > 0
    return jnp.where(drafting, L * jnp.where(drafting, h, 0.0), 0.0)


@jax.jit
def verification_latency(params: Params, L):
    """T_v = v0 + v1 n, n = sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded)."""
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    if params.batching == "ragged":
        n = jnp.sum(L + 1.0, axis=-1)
    else:
        n = L.shape[-1] * (jnp.max(L, axis=-1) + 1.0)
    return params.v0 + params.v1 * n


@jax.jit
def round_time(params: Params, L, beta):
    """T = max_k L_k h_k(beta_k) + T_v + T_o (non-smooth in the max; see the module docstring).

    Symbolic source: :mod:`theory.latency`.
    """
    return jnp.max(drafting_time(params, L, beta), axis=-1) + verification_latency(params, L) + params.overhead


@jax.jit
def goodput(params: Params, L, beta):
    """G = sum_k A(alpha_k, L_k) / T [tokens/s] at a continuous point (L, beta).

    Examples
    --------
    >>> from numerics import Scenario, goodput as np_goodput
    >>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.1)
    >>> g = goodput(params_from_scenario(s), jnp.array([4.0, 2.0]), jnp.array([0.5, 0.5]))
    >>> abs(float(g) / np_goodput(s, [4, 2], [0.5, 0.5]) - 1) < 1e-15
    True
    """
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    return jnp.sum(expected_tokens(params.alpha, L), axis=-1) / round_time(params, L, beta)
