"""Tests that see what the other tests missed (issue 11, item 4: the survivors of planted faults and mutants).

- Local optimality of integer heterogeneous answers, through the public API only: no +-1 move
  of one user and no pair move (+1 for one user, -1 for another) improves
  ``solve_heterogeneous``'s goodput, each neighbour evaluated with the library's
  ``equal_finish_allocation`` and ``goodput`` (D7: the best shares of a fixed integer vector).
- A bad start of the homogeneous integer search whose optimum sits at ``max_draft``.
- An iteration-count bound for the D3 multiplier search (a wrong Newton slope still converges
  through its bisection safeguard, but slowly).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from numerics import Scenario, goodput, solve_heterogeneous, solve_homogeneous
from numerics.allocation import equal_finish_allocation
from proofs_check import ties


def _scenario(seed: int) -> Scenario:
    rng = np.random.default_rng(seed)
    K = int(rng.integers(6, 10))
    model = ("linear", "shannon")[seed % 2]
    kw = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=rng.uniform(5e-4, 6e-3, K) * (rng.random(K) > 0.15),
              bits_per_token=rng.uniform(50, 1500, K) * (rng.random(K) > 0.15),
              bandwidth_hz=float(rng.choice([2e5, 1e6])),
              v0=float(rng.uniform(0.01, 0.05)), v1=float(rng.choice([0.0, 2e-4])), overhead=0.002,
              batching=("ragged", "padded")[(seed // 2) % 2], max_draft=int(rng.integers(6, 14)), rate_model=model)
    kw["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 20.0, K)
    return Scenario(**kw)


def _G(sc: Scenario, L: np.ndarray) -> float:
    beta, _ = equal_finish_allocation(sc, L)
    return goodput(sc, L, beta)


#: seeds 9, 13, 18, 27, 35, 39: scenarios where a local search without its -1 moves, without its pair moves (18),
#: or without the +1 move up to the cap ends elsewhere (goodput lower by 4e-6 to 2e-2; found by running those
#: variants over seeds 0..39, 0..59 for the pair moves)
SEEDS = [0, 1, 2, 3, 4, 6, 9, 13, 18, 27, 35, 39]


@pytest.mark.parametrize("seed", SEEDS)
def test_integer_answer_is_locally_optimal(seed):
    sc = _scenario(seed)
    sol = solve_heterogeneous(sc)
    L0 = sol.draft_lengths.astype(np.int64)
    G0 = sol.goodput
    assert G0 == pytest.approx(_G(sc, L0), rel=1e-13)  # the reported goodput is that of the reported vector
    K, top = sc.n_users, sc.max_draft
    moves = [(k, d) for k in range(K) for d in (-1, 1)]
    worst, n = -np.inf, 0
    for k, d in moves:
        L = L0.copy()
        L[k] += d
        if 0 <= L[k] <= top:
            worst, n = max(worst, _G(sc, L) / G0 - 1), n + 1
    for i, j in itertools.permutations(range(K), 2):
        L = L0.copy()
        L[i] += 1
        L[j] -= 1
        if L[i] <= top and L[j] >= 0:
            worst, n = max(worst, _G(sc, L) / G0 - 1), n + 1
    # 1e-12: the local search accepts a move only if it gains more than 1e-14 relative; the rest is the
    # round-off of two goodput evaluations (a few ulp)
    assert worst <= 1e-12, f"a neighbour of the integer answer is better by {worst:.2e} ({n} neighbours)"
    assert sol.goodput <= sol.upper_bound * (1 + 1e-12)


@pytest.mark.parametrize("alphas", [[0.9, 0.9], [0.7, 0.95]])
@pytest.mark.parametrize("start", [1.0, -40.0])
def test_homogeneous_bad_start_reaches_max_draft(monkeypatch, alphas, start):
    """Optimum at max_draft (drafting and upload nearly free), continuous start far below it: the
    neighbour climb must go all the way to the cap (closed-form and root paths)."""
    import numerics.homogeneous as nh

    sc = Scenario(alpha=alphas, t_draft=1e-7, bits_per_token=[1.0, 2.0], bandwidth_hz=1e9, spectral_efficiency=1.0,
                  v0=0.05, max_draft=25)
    Gs = [sum(float(np.sum(a ** np.arange(L + 1))) for a in alphas) /
          (L * (1e-7 + max(1.0, 2.0) / 1e9 * 3) + 0.05) for L in range(1, 26)]
    assert int(np.argmax(Gs)) + 1 == 25  # enumeration (rough makespan bound): the optimum is the cap
    monkeypatch.setattr(nh, "stationary_length", lambda a, c0, c1: np.asarray(start))
    monkeypatch.setattr(nh, "_phi_root", lambda tok, c0, c1, Lmax: start, raising=False)  # (root path; i9 may move it)
    sol = solve_homogeneous(sc)
    assert sol.draft_lengths.tolist() == [25, 25]


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_multiplier_search_converges_in_few_steps(model):
    """Safeguarded Newton on ln(lambda): superlinear once bracketed. Observed <= 12 evaluations on these
    scenarios; 25 leaves room for harder instances, while bisection alone (a wrong slope) needs ~50
    to reach the 1e-14 tolerance from a bracket of a few e-folds."""
    counts = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        K = 8
        kw = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=rng.uniform(5e-4, 6e-3, K),
                  bits_per_token=rng.uniform(50, 1500, K), bandwidth_hz=3e5, v0=0.02, max_draft=10_000,
                  rate_model=model)
        kw["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 20.0, K)
        sc = Scenario(**kw)
        for tau in (0.005, 0.05):
            n, lam = ties.multiplier_search_evaluations(sc, tau)
            assert lam > 0
            counts.append(n)
    assert max(counts) <= 25, counts


@pytest.mark.slow
@pytest.mark.parametrize("seed", [s for s in range(40) if s not in SEEDS])
def test_integer_answer_is_locally_optimal_sweep(seed):
    """Slow: the local-optimality test over seeds 0..39."""
    test_integer_answer_is_locally_optimal(seed)


def _large(seed: int, model: str) -> Scenario:
    rng = np.random.default_rng(seed)
    K = 450  # above 400 users the local search scores single moves to first order (another code path)
    kw = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=rng.uniform(5e-4, 6e-3, K),
              bits_per_token=rng.uniform(50, 1500, K), bandwidth_hz=5e7, v0=0.05, max_draft=10, rate_model=model)
    kw["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 20.0, K)
    return Scenario(**kw)


def _single_move_gain(sc: Scenario, sol) -> float:
    L0, G0 = sol.draft_lengths.astype(np.int64), sol.goodput
    worst = -np.inf
    for k in range(sc.n_users):
        for d in (-1, 1):
            L = L0.copy()
            L[k] += d
            if 0 <= L[k] <= sc.max_draft:
                worst = max(worst, _G(sc, L) / G0 - 1)
    return worst


def test_large_system_answer_is_locally_optimal_linear():
    """K = 450 (the scored-moves path of the local search): no single +-1 move improves the answer."""
    sc = _large(0, "linear")
    assert _single_move_gain(sc, solve_heterogeneous(sc)) <= 1e-12


def test_large_system_answer_is_locally_optimal_shannon():
    """The old search (first-order scores, 48 moves a round) left a -1 move gaining 3.5e-5 here (issue 11's strict
    xfail); the screened search of numerics.heterogeneous.screen ends locally optimal."""
    sc = _large(1, "shannon")
    assert _single_move_gain(sc, solve_heterogeneous(sc)) <= 1e-12


def test_padded_single_user_regression():
    """Found by test_regimes_nest at 60 examples (it ran 15 before issue 11): the padded search's inner problem at a
    deadline of ~2e-18 s raised 'lambda root of the inner problem not bracketed'. Reference: enumeration of
    L in {0, 1} by hand: L = 0 gives 1 / (v0 + v1 K (0 + 1)); L = 1 uses the whole band."""
    sc = Scenario(alpha=[0.25], t_draft=[0.0078125], bits_per_token=[10.0], bandwidth_hz=1e4, v0=0.03125,
                  spectral_efficiency=[1.0], v1=1e-5, batching="padded", max_draft=1)
    g0 = 1.0 / (0.03125 + 1e-5 * 1)
    g1 = 1.25 / (1 * (0.0078125 + 10.0 / 1e4) + 0.03125 + 1e-5 * 2)
    sol = solve_heterogeneous(sc)
    assert sol.goodput == pytest.approx(max(g0, g1), rel=1e-13) and sol.draft_lengths.tolist() == [0]
    assert sol.goodput <= sol.upper_bound
    assert solve_heterogeneous(sc, integer=False).upper_bound >= sol.goodput
