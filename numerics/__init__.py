"""Multi-SPIN numerics: scenario, model, solvers, baselines, simulator (docs/model.md section 6).

This module only re-exports; each name lives in the module of its equation family.
``__version__`` is the installed distribution's version (``multispin``, from its metadata).
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("multispin")
except _PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

from .allocation import equal_finish_allocation
from .baselines import BASELINES, baseline
from .channel import rate, rate_inverse
from .heterogeneous import equal_heterogeneous, solve_heterogeneous
from .homogeneous import solve_homogeneous
from .lambertw import lambertw
from .latency import goodput, per_token_latency, round_time, tokens_per_round, verification_latency
from .sampling import sample_accepted
from .scenario import Scenario
from .sensitivity import sensitivity
from .simulate import SimulationResult, simulate
from .solution import Solution, SolverError
from .tokens import (
    accepted_pmf,
    accepted_variance,
    expected_accepted,
    expected_tokens,
    expected_tokens_positional,
    marginal_tokens,
)

# -- later modules: import above, and add the names below

# The public names (the imports above keep them by family, one module each); ruff (RUF022) keeps
# this list sorted.
__all__ = [
    "BASELINES",
    "Scenario",
    "SimulationResult",
    "Solution",
    "SolverError",
    "accepted_pmf",
    "accepted_variance",
    "baseline",
    "equal_finish_allocation",
    "equal_heterogeneous",
    "expected_accepted",
    "expected_tokens",
    "expected_tokens_positional",
    "goodput",
    "lambertw",
    "marginal_tokens",
    "per_token_latency",
    "rate",
    "rate_inverse",
    "round_time",
    "sample_accepted",
    "sensitivity",
    "simulate",
    "solve_heterogeneous",
    "solve_homogeneous",
    "tokens_per_round",
    "verification_latency",
]
