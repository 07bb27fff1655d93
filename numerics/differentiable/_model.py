"""The Multi-SPIN model as pure JAX functions of a parameter pytree (docs/model.md section 2).

    r_k(beta)  = beta B eta_k                     (linear)
               = beta B log2(1 + rho_k / beta)     (shannon)
    h_k(beta)  = t_k + s_k / r_k(beta)             per-token latency
    T          = max_k L_k h_k(beta_k) + v0 + v1 n + T_o,   n = sum_k (L_k + 1) | K (max_k L_k + 1)
    G          = sum_k A(alpha_k, L_k) / T

A is the smooth i.i.d. curve (:func:`expected_tokens`) or, for a position-dependent profile
(``alpha`` of shape (K, max_draft)), the piecewise-linear one (:func:`expected_tokens_profile`).
Symbolic sources: :mod:`theory.channel`, :mod:`theory.latency`. The max in T is non-smooth:
``jax.grad`` returns the gradient of the user(s) attaining it (a subgradient where several
do, as at every optimum of H2/D7: use the envelope formulas there).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._tokens import expected_tokens, expected_tokens_profile, marginal_tokens, marginal_tokens_profile

__all__ = [
    "Params",
    "drafting_time",
    "goodput",
    "marginal",
    "params_from_scenario",
    "per_token_latency",
    "rate",
    "round_time",
    "stack_params",
    "stack_scenarios",
    "static_key",
    "tokens",
    "verification_latency",
]

_LN2 = math.log(2.0)
_FIELDS = ["alpha", "t", "s", "channel", "bandwidth", "v0", "v1", "overhead"]


@dataclasses.dataclass(frozen=True)
class Params:
    """Parameter pytree of one scenario, or of a stack of scenarios (leading batch axis).

    Leaves (differentiable, float64): ``alpha`` (K,) or, for a position-dependent profile,
    (K, max_draft); ``t``, ``s``, ``channel`` (eta or rho), shape (K,); ``bandwidth``, ``v0``,
    ``v1``, ``overhead``, scalars. Static (part of the tree structure, so one compiled
    function serves every scenario that shares them): ``rate_model``, ``batching``,
    ``max_draft``; K and whether alpha is a profile are static too, as array shapes.
    ``jax.grad`` with respect to a Params returns a Params of partial derivatives.
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

    @property
    def positional(self) -> bool:
        """True when ``alpha`` is a position-dependent profile (one more axis than ``t``)."""
        return self.alpha.ndim == self.t.ndim + 1


jax.tree_util.register_dataclass(Params, data_fields=_FIELDS, meta_fields=["rate_model", "batching", "max_draft"])


def _check_scenario(scenario) -> None:
    from ..validation import as_scenario

    as_scenario(scenario)


def _scenario_arrays(scenario) -> dict:
    """The leaves of one scenario as NumPy float64 arrays (no device transfer)."""
    return {"alpha": scenario.alpha, "t": scenario.t_draft, "s": scenario.bits_per_token,
            "channel": scenario.channel, "bandwidth": scenario.bandwidth_hz, "v0": scenario.v0,
            "v1": scenario.v1, "overhead": scenario.overhead}


def static_key(scenario) -> tuple:
    """(K, rate_model, batching, max_draft, positional): scenarios with equal keys stack into one batch."""
    _check_scenario(scenario)
    return (scenario.n_users, scenario.rate_model, scenario.batching, scenario.max_draft, scenario.positional)


def params_from_scenario(scenario) -> Params:
    """The :class:`Params` of a :class:`numerics.Scenario` (values copied as float64).

    Every scenario is accepted: both rate models, both batching modes, v1 >= 0, and
    position-dependent acceptance profiles (``alpha`` of shape (K, max_draft)).

    Raises
    ------
    ValueError
        ``scenario`` is not a Scenario.

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)   # float64: required by numerics.differentiable
    >>> from numerics import Scenario
    >>> p = params_from_scenario(Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=32,
    ...                                   bandwidth_hz=1e5, spectral_efficiency=2.0, v0=0.05))
    >>> p.n_users, p.rate_model, float(p.bandwidth)
    (2, 'linear', 100000.0)
    """
    _check_scenario(scenario)
    arrays = _scenario_arrays(scenario)
    return Params(**{k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in arrays.items()},
                  rate_model=scenario.rate_model, batching=scenario.batching, max_draft=scenario.max_draft)


def stack_scenarios(scenarios) -> Params:
    """One batched :class:`Params` (leading axis = scenario) from scenarios that share K and the static fields.

    Built with one ``np.stack`` and one device transfer per field (8 in all), whatever the
    number of scenarios: for vmapped studies over 10^4 scenarios and more.

    Raises
    ------
    ValueError
        Empty input; an element that is not a Scenario; scenarios that differ in
        :func:`static_key` (K, rate model, batching, max_draft, profile or not): group them
        by ``static_key`` first, one batch per group.
    """
    scenarios = list(scenarios)
    if not scenarios:
        raise ValueError("scenarios must be a non-empty sequence of Scenario, got an empty one")
    key0 = static_key(scenarios[0])
    for i, sc in enumerate(scenarios):
        key = static_key(sc)
        if key != key0:
            raise ValueError(f"scenarios[{i}] differs from scenarios[0] in (K, rate_model, batching, max_draft, "
                             f"positional): {key} vs {key0}")
    per_field = zip(*(_scenario_arrays(sc).values() for sc in scenarios), strict=True)
    cols = {k: np.stack([np.asarray(v, dtype=np.float64) for v in col])
            for k, col in zip(_FIELDS, per_field, strict=True)}
    _, model, batching, max_draft, _ = key0
    return Params(**{k: jnp.asarray(v) for k, v in cols.items()}, rate_model=model, batching=batching,
                  max_draft=max_draft)


def stack_params(params: list[Params]) -> Params:
    """Stack :class:`Params` with the same K and static fields into one batched Params (for vmap).

    One ``np.stack`` and one device transfer per field. Prefer :func:`stack_scenarios`, which
    skips building one Params per scenario.

    Raises
    ------
    ValueError
        Empty list, or the Params differ in K, rate model, batching, max_draft or profile shape.
    """
    if not params:
        raise ValueError("params must be a non-empty list of Params, got []")
    ref = params[0]
    key0 = (ref.n_users, ref.rate_model, ref.batching, ref.max_draft, tuple(ref.alpha.shape))
    for i, p in enumerate(params):
        key = (p.n_users, p.rate_model, p.batching, p.max_draft, tuple(p.alpha.shape))
        if not isinstance(p, Params) or key != key0:
            raise ValueError(
                f"params[{i}] differs from params[0] in K, rate_model, batching, max_draft or alpha shape: "
                f"{key} vs {key0}"
            )
    leaves = [jax.tree_util.tree_leaves(p) for p in params]
    stacked = [jnp.asarray(np.stack([np.asarray(x) for x in col])) for col in zip(*leaves, strict=True)]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(ref), stacked)


# ------------------------------------------------------------------ token curve
def tokens(params: Params, L):
    """A_k(L_k) for every user: smooth (i.i.d. alpha) or piecewise linear (profile)."""
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    if params.positional:
        return expected_tokens_profile(params.alpha, L)
    return expected_tokens(params.alpha, L)


def marginal(params: Params, L):
    """A'_k(L_k): smooth, or the left slope of a profile (the right one at L = 0)."""
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    if params.positional:
        return marginal_tokens_profile(params.alpha, L)
    return marginal_tokens(params.alpha, L)


# ------------------------------------------------------------------ channel and latency
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
    >>> jax.config.update("jax_enable_x64", True)
    >>> from numerics import Scenario, goodput as np_goodput
    >>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.1)
    >>> g = goodput(params_from_scenario(s), jnp.array([4.0, 2.0]), jnp.array([0.5, 0.5]))
    >>> abs(float(g) / np_goodput(s, [4, 2], [0.5, 0.5]) - 1) < 1e-15
    True
    """
    L = jnp.broadcast_to(jnp.asarray(L, dtype=jnp.float64), params.t.shape)
    return jnp.sum(tokens(params, L), axis=-1) / round_time(params, L, beta)
