"""Multi-SPIN numerics: scenario, model, solvers, baselines, simulator (MODEL.md section 6).

This module only re-exports; each name lives in the module of its equation family.
``__version__`` is the installed distribution's version (``multispin``, from its metadata).
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("multispin")
except _PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

from .scenario import Scenario as Scenario
from .solution import Solution as Solution
from .solution import SolverError as SolverError
from .tokens import (
    accepted_pmf as accepted_pmf,
    accepted_variance as accepted_variance,
    expected_accepted as expected_accepted,
    expected_tokens as expected_tokens,
    expected_tokens_positional as expected_tokens_positional,
    marginal_tokens as marginal_tokens,
)
from .channel import rate as rate, rate_inverse as rate_inverse
from .lambertw import lambertw as lambertw
from .latency import (
    goodput as goodput,
    round_time as round_time,
    per_token_latency as per_token_latency,
    verification_latency as verification_latency,
    tokens_per_round as tokens_per_round,
)
from .allocation import equal_finish_allocation as equal_finish_allocation
# -- solvers and later modules: one line each, added below by their issue
from .sampling import sample_accepted as sample_accepted
from .homogeneous import solve_homogeneous as solve_homogeneous
from .baselines import baseline as baseline
from .baselines import BASELINES as BASELINES
from .simulate import simulate as simulate
from .simulate import SimulationResult as SimulationResult
from .sensitivity import sensitivity as sensitivity
from .heterogeneous import solve_heterogeneous as solve_heterogeneous
from .heterogeneous import equal_heterogeneous as equal_heterogeneous
