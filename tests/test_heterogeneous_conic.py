"""The conic reference (``benchmarks/conic_reference.py``, issue 9 item 5) as a test oracle.

1. The formulation itself, against a brute-force optimisation of tiny systems
   (:func:`_bruteforce.continuous_optimum`: a grid over the real draft lengths, each point at
   its brentq equal-finish shares, polished by scipy's bounded Powell): K = 1 and 2, both rates
   and batchings, v1 = 0 and > 0, i.i.d. (smooth A) and position-dependent (piecewise A).
2. ``solve_heterogeneous(..., integer=False)`` against it on small seeded scenarios and the
   presets: the continuous goodput equals the conic optimum within ``CONIC_REL``, and the
   reported ``upper_bound`` is at least (a) the conic optimum minus that tolerance and (b) the
   exact goodput of the conic program's recovered draft lengths (a feasible point: a bound
   below it is false, whatever the solver tolerances), evaluated by the brute force at the
   conic shares or at its brentq equal-finish shares, whichever is better.

Tolerances: ``CONIC_REL`` = 1e-6: Clarabel stops at relative gap and feasibility 1e-8-1e-10
(asked for 1e-10, stepping back when it reports 'optimal_inaccurate') in scaled units; the
recovered point and the objective agree with the brute force to ~1e-8 in practice, the margin
covers ill-conditioned scenarios. ``POLISH_REL`` = 1e-6 for the grid-plus-Powell brute force
(Powell's ftol is 1e-14 but it is a local method stopped by xtol 1e-10 in L). ``EXACT`` =
1e-12: round-off only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import _bruteforce as bf
import numpy as np
import pytest

from numerics import Scenario, solve_heterogeneous

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from conic_reference import conic_relaxation

CONIC_REL = 1e-6
POLISH_REL = 1e-6
EXACT = 1e-12


def conic(s: Scenario, tokens: str | None = None):
    """The conic optimum at tolerance 1e-10, stepping back to 1e-9 and 1e-8 while Clarabel reports inaccuracy."""
    for tol in (1e-10, 1e-9, 1e-8):
        r = conic_relaxation(s, tokens=tokens, tol=tol)
        if r.status == "optimal":
            return r
    pytest.fail(f"conic reference did not solve: {r.status}")


def seeded(seed: int, K: int, model: str = "linear", batching: str = "ragged", v1: float = 0.0,
           positional: bool = False, max_draft: int = 8, zeros: bool = True) -> Scenario:
    """A seeded scenario with realistic scales; with ``zeros``, some users have t_k = 0 or s_k = 0."""
    rng = np.random.default_rng([seed, K])
    t = rng.uniform(0.5e-3, 8e-3, K)
    s = rng.uniform(100.0, 1500.0, K)
    if zeros and K > 1:
        t[rng.random(K) < 0.2] = 0.0
        s[rng.random(K) < 0.2] = 0.0
    if positional:
        alpha = np.sort(rng.uniform(0.4, 0.95, (K, max_draft)), axis=1)[:, ::-1].copy()
        alpha[rng.random(K) < 0.5, max_draft // 2:] = 0.0  # profiles that fall to exactly 0
    else:
        alpha = rng.uniform(0.3, 0.95, K)
    ch = rng.uniform(0.5, 20.0, K)
    return Scenario(alpha=alpha, t_draft=t, bits_per_token=s, bandwidth_hz=5e5, rate_model=model,
                    v0=0.03, v1=v1, batching=batching, overhead=0.004, max_draft=max_draft,
                    **{"spectral_efficiency" if model == "linear" else "snr": ch})


# ---------------------------------------------------------------------------- 1. the formulation
TINY = [(K, model, batching, v1, positional)
        for K in (1, 2) for model in ("linear", "shannon") for batching in ("ragged", "padded")
        for v1 in (0.0, 5e-3) for positional in (False, True)
        if batching == "ragged" or K == 2]  # padded = ragged for one user
#: the default run: every rate, batching, v1 regime and relaxation of A at least once
TINY_DEFAULT = [(1, "linear", "ragged", 0.0, False), (1, "shannon", "ragged", 5e-3, True),
                (2, "linear", "ragged", 5e-3, False), (2, "linear", "padded", 5e-3, True),
                (2, "shannon", "ragged", 0.0, False), (2, "shannon", "padded", 0.0, True)]


def _check_formulation(K, model, batching, v1, positional):
    s = seeded(7, K, model, batching, v1, positional, max_draft=6, zeros=False)
    ref = conic(s)
    best = bf.continuous_optimum(s)
    assert ref.goodput == pytest.approx(best.goodput, rel=CONIC_REL)
    # the recovered point is feasible and as good (evaluated exactly)
    assert feasible_value(s, ref) >= best.goodput * (1 - CONIC_REL)


@pytest.mark.parametrize("K, model, batching, v1, positional", TINY_DEFAULT)
def test_conic_formulation_matches_bruteforce(K, model, batching, v1, positional):
    _check_formulation(K, model, batching, v1, positional)


@pytest.mark.slow
@pytest.mark.parametrize("K, model, batching, v1, positional", [c for c in TINY if c not in TINY_DEFAULT])
def test_conic_formulation_matches_bruteforce_slow(K, model, batching, v1, positional):
    _check_formulation(K, model, batching, v1, positional)


def test_conic_piecewise_relaxation_is_below_smooth_and_above_integers():
    """The piecewise-linear A lies below the smooth A (chords of a concave function) and agrees
    at integers: integer optimum <= piecewise optimum <= smooth optimum."""
    s = seeded(11, 2, max_draft=5, zeros=False)
    smooth, piece = conic(s, "smooth"), conic(s, "piecewise")
    integer = bf.enumerate_heterogeneous(s).goodput
    assert integer * (1 - CONIC_REL) <= piece.goodput <= smooth.goodput * (1 + CONIC_REL)


def test_conic_reports_a_failed_solve_as_failed():
    r = conic_relaxation(seeded(1, 3), solver_options={"max_iter": 2})  # stopped before convergence
    assert not r.ok and r.status != "optimal" and np.isnan(r.goodput)


# ---------------------------------------------------------------------------- 2. the library against it
SMALL = [(seed, K, model, batching, v1, positional)
         for seed, (K, model, batching, v1, positional) in enumerate([
             (3, "linear", "ragged", 0.0, False), (3, "shannon", "ragged", 0.0, False),
             (5, "linear", "ragged", 2e-4, False), (5, "shannon", "ragged", 2e-4, False),
             (5, "linear", "padded", 2e-4, False), (5, "shannon", "padded", 2e-4, False),
             (8, "linear", "padded", 0.0, False), (8, "shannon", "ragged", 1e-3, True),
             (12, "linear", "ragged", 1e-4, True), (12, "shannon", "padded", 1e-4, True),
         ])]


def feasible_value(s: Scenario, ref) -> float:
    """The exact goodput of the conic program's draft lengths, at its own shares or (better, as
    the shares carry the solver's absolute error) at the brentq equal-finish shares."""
    return max(bf.evaluate(s, ref.draft_lengths, ref.bandwidth, continuous=True),
               bf.continuous_goodput_of(s, ref.draft_lengths))


def _check_against_conic(s: Scenario) -> None:
    ref = conic(s)
    feasible = feasible_value(s, ref)
    assert feasible >= ref.goodput * (1 - CONIC_REL)  # the reference's own consistency
    sol = solve_heterogeneous(s, integer=False)
    assert sol.goodput == pytest.approx(ref.goodput, rel=CONIC_REL)
    assert sol.upper_bound >= ref.goodput * (1 - CONIC_REL)
    assert sol.upper_bound >= feasible * (1 - EXACT), "a feasible point beats the certified bound"


@pytest.mark.parametrize("seed, K, model, batching, v1, positional", SMALL)
def test_continuous_solver_matches_conic(seed, K, model, batching, v1, positional):
    _check_against_conic(seeded(seed, K, model, batching, v1, positional))


@pytest.mark.parametrize("preset, over", [
    ("default", {}), ("default-shannon", {}), ("llama2", {"batching": "padded"}),
    ("llama2-eagle", {"batching": "padded"}), ("llama2-eagle", {}),
])
def test_continuous_solver_matches_conic_on_presets(preset, over):
    _check_against_conic(Scenario.preset(preset, **over))
