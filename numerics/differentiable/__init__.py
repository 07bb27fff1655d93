"""Differentiable Multi-SPIN model in JAX (MODEL.md section 5, "a JAX module (float64)").

Importing this package calls ``jax.config.update("jax_enable_x64", True)``: every array is
float64. It is not imported by ``import numerics`` (JAX is heavy); use
``from numerics import differentiable``.

Contents (one private module per equation family):

- ``_lambertw``: :func:`lambertw` (both real branches, custom JVP W' = W / (x (1 + W))),
  :func:`lambertw_exp` (W_0(e^l) without overflow);
- ``_tokens``: :func:`expected_tokens` A(alpha, L) with stable custom derivatives;
- ``_model``: :class:`Params` (a pytree built by :func:`params_from_scenario`), rates,
  per-token latency, round time, goodput, pure functions of (params, L, beta);
- ``_allocation``: H2/D7 equal-finish band :func:`equal_finish`, :func:`h2_allocation`,
  implicit in the makespan (``jax.lax.custom_root``);
- ``_heterogeneous``: D3 closed form :func:`d3_shares`, :func:`d3_allocation` (implicit in
  lambda), the D5 deadline search :func:`heterogeneous_optimum` (implicit in tau);
- ``_ascent``: projected-gradient solvers of the continuous problems (checks of H2 and D3).

Every function is jit-able and vmap-able over a batch of scenarios with the same K and static
fields (:func:`stack_params`).

Examples
--------
>>> from numerics import Scenario
>>> from numerics import differentiable as jd
>>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
...              spectral_efficiency=[2.0, 1.0], v0=0.1)
>>> p = jd.params_from_scenario(s)
>>> dG = jax.grad(jd.homogeneous_goodput)(p, 4.0)   # d G_H(L=4) / d parameters, theta* implicit
>>> bool(dG.bandwidth > 0), bool(dG.v0 < 0)
(True, True)
"""

import jax

jax.config.update("jax_enable_x64", True)

from ._lambertw import BRANCH_POINT as BRANCH_POINT, lambertw as lambertw, lambertw_exp as lambertw_exp  # noqa: E402
from ._tokens import (  # noqa: E402
    expected_tokens as expected_tokens,
    marginal_tokens as marginal_tokens,
    tokens_alpha_derivative as tokens_alpha_derivative,
)
from ._model import (  # noqa: E402
    Params as Params,
    params_from_scenario as params_from_scenario,
    stack_params as stack_params,
    rate as rate,
    per_token_latency as per_token_latency,
    drafting_time as drafting_time,
    verification_latency as verification_latency,
    round_time as round_time,
    goodput as goodput,
)
from ._allocation import (  # noqa: E402
    bisect as bisect,
    share_for_rate as share_for_rate,
    share_for_deadline as share_for_deadline,
    equal_finish as equal_finish,
    h2_allocation as h2_allocation,
    homogeneous_goodput as homogeneous_goodput,
    fixed_length_goodput as fixed_length_goodput,
    fixed_length_value_and_grad as fixed_length_value_and_grad,
)
from ._heterogeneous import (  # noqa: E402
    HeterogeneousOptimum as HeterogeneousOptimum,
    d3_shares as d3_shares,
    d3_allocation as d3_allocation,
    inner_value as inner_value,
    heterogeneous_optimum as heterogeneous_optimum,
    heterogeneous_goodput as heterogeneous_goodput,
    heterogeneous_value_and_grad as heterogeneous_value_and_grad,
)
from ._ascent import (  # noqa: E402
    project_simplex as project_simplex,
    projected_gradient as projected_gradient,
    minimax_latency_descent as minimax_latency_descent,
    inner_objective as inner_objective,
    inner_ascent as inner_ascent,
)
