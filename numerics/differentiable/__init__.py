"""Differentiable Multi-SPIN model in JAX (docs/model.md section 5, "a JAX module (float64)").

Float64. This package computes in float64 but does not change JAX's global configuration
when imported. Enable 64-bit arrays yourself, before calling it, either for the whole
process::

    import jax
    jax.config.update("jax_enable_x64", True)   # or: export JAX_ENABLE_X64=1

or for a block of code (thread-local, JAX's own context manager)::

    with jax.enable_x64(True):
        G, dG = jd.heterogeneous_value_and_grad(jd.params_from_scenario(s))

Every public function raises ``RuntimeError`` naming ``jax_enable_x64`` when it is off
(float32 would silently lose the precision the solvers and checks rely on). The NumPy-level
users of this package (:func:`numerics.sensitivity.sensitivity_autodiff`, the figures, the
claims of ``proofs_check``) enter the scoped context themselves and return NumPy values.
It is not imported by ``import numerics`` (JAX is heavy); use
``from numerics import differentiable``.

Contents (one private module per equation family):

- ``_lambertw``: :func:`lambertw` (both real branches, custom JVP W' = W / (x (1 + W))),
  :func:`lambertw_exp` (W_0(e^l) without overflow);
- ``_tokens``: :func:`expected_tokens` A(alpha, L) with stable custom derivatives, and the
  piecewise-linear A of a position-dependent profile (:func:`expected_tokens_profile`);
- ``_model``: :class:`Params` (a pytree built by :func:`params_from_scenario`, batched by
  :func:`stack_scenarios`), rates, per-token latency, round time, goodput;
- ``_allocation``: H2/D7 equal-finish band :func:`equal_finish`, :func:`h2_allocation`,
  implicit in the makespan (``jax.lax.custom_root``); the homogeneous regime
  (:func:`homogeneous_goodput`, :func:`homogeneous_optimum`);
- ``_inner`` and ``_heterogeneous``: the continuous heterogeneous optimum
  :func:`heterogeneous_optimum` for every scenario (both rates, v1 >= 0, both batching
  modes, profiles), implicit in the band multiplier, the shares and the Dinkelbach ratio;
  the inner problem at a fixed deadline (:func:`inner_allocation`) and the D3 closed form
  (:func:`d3_shares`);
- ``_ascent``: projected-gradient solvers of the continuous problems (independent checks).

Every function is jit-able and vmap-able over a batch of scenarios with the same K and
static fields: rate model, batching, max_draft and whether alpha is a profile are part of
the pytree structure (one compilation each), every number (v1 included, so v1 = 0 and v1 > 0
share one compiled solver) is a leaf. Group scenarios by :func:`static_key` and stack each
group with :func:`stack_scenarios` (one array operation per field).

Examples
--------
>>> import jax
>>> jax.config.update("jax_enable_x64", True)
>>> from numerics import Scenario
>>> from numerics import differentiable as jd
>>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
...              spectral_efficiency=[2.0, 1.0], v0=0.1)
>>> p = jd.params_from_scenario(s)
>>> dG = jax.grad(jd.homogeneous_goodput)(p, 4.0)   # d G_H(L=4) / d parameters, theta* implicit
>>> bool(dG.bandwidth > 0), bool(dG.v0 < 0)
(True, True)
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import jax

from . import _allocation, _ascent, _heterogeneous, _lambertw, _model, _tokens
from ._allocation import HomogeneousOptimum
from ._heterogeneous import BAND, CAP, FREE, INTERIOR, JUMP, KINK, OFF, HeterogeneousOptimum
from ._model import Params

__all__ = [
    "BAND",
    "BRANCH_POINT",
    "CAP",
    "FREE",
    "INTERIOR",
    "JUMP",
    "KINK",
    "OFF",
    "HeterogeneousOptimum",
    "HomogeneousOptimum",
    "Params",
    "require_float64",
]

BRANCH_POINT = _lambertw.BRANCH_POINT


def require_float64() -> None:
    """Raise ``RuntimeError`` unless JAX's ``jax_enable_x64`` is on (globally or in ``jax.enable_x64(True)``)."""
    if not jax.config.jax_enable_x64:  # type: ignore[attr-defined]  # JAX declares its flags at run time
        raise RuntimeError(
            "numerics.differentiable computes in float64, but jax_enable_x64 is False: call "
            "jax.config.update('jax_enable_x64', True) (or set JAX_ENABLE_X64=1) before using it, "
            "or call it inside `with jax.enable_x64(True):`"
        )


def _float64(fn):
    """The public form of ``fn``: checks ``jax_enable_x64`` first (cheap; at trace time under jit)."""

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        require_float64()
        return fn(*args, **kwargs)

    return checked


_PUBLIC = {
    _lambertw: ["lambertw", "lambertw_exp"],
    _tokens: ["expected_tokens", "marginal_tokens", "tokens_alpha_derivative", "expected_tokens_profile",
              "marginal_tokens_profile", "profile_slopes"],
    _model: ["params_from_scenario", "stack_params", "stack_scenarios", "static_key", "rate",
             "per_token_latency", "drafting_time", "verification_latency", "round_time", "goodput", "tokens",
             "marginal"],
    _allocation: ["bisect", "share_for_rate", "share_for_deadline", "equal_finish", "h2_allocation",
                  "homogeneous_goodput", "homogeneous_optimum", "fixed_length_goodput",
                  "fixed_length_value_and_grad"],
    _heterogeneous: ["d3_shares", "d3_allocation", "inner_allocation", "inner_value", "heterogeneous_optimum",
                     "heterogeneous_goodput", "heterogeneous_value_and_grad"],
    _ascent: ["project_simplex", "projected_gradient", "minimax_latency_descent", "inner_objective",
              "inner_ascent", "full_objective", "full_ascent"],
}

if TYPE_CHECKING:
    # The public functions of _PUBLIC are added to this module by the loop below, at import: the
    # type checker cannot see them, so it types them as Any here (no effect at run time).
    def __getattr__(name: str) -> Any: ...


for _mod, _names in _PUBLIC.items():
    for _name in _names:
        globals()[_name] = _float64(getattr(_mod, _name))
        __all__.append(_name)
del _mod, _names, _name
