"""numerics.heterogeneous.integer / .screen (D7) and numerics.heterogeneous.equal (equal-heterogeneous).

Oracles: numerics.allocation.equal_finish_allocation and numerics.latency.goodput (one vector
at a time, another implementation) for the batched makespan and goodput; brute-force
enumeration over every draft-length vector for the exact searches.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from numerics import Scenario
from numerics.allocation import equal_finish_allocation
from numerics.heterogeneous import equal_heterogeneous, solve_heterogeneous
from numerics.heterogeneous.integer import Search, enumerate_best, greedy_fill, local_search
from numerics.heterogeneous.users import Users
from numerics.latency import goodput
from numerics.tokens import expected_tokens, expected_tokens_positional


def _search(s: Scenario, kind="chord") -> Search:
    u = Users(s, kind)
    return Search(u, u.cap, s.v0, s.v1, s.overhead, s.batching)


def _scenario(seed, K=4, model="linear", **kw):
    rng = np.random.default_rng(seed)
    base = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=rng.uniform(0.0, 0.008, K),
                bits_per_token=rng.uniform(0, 1500, K), bandwidth_hz=5e5, v0=0.03, v1=2e-4, max_draft=6,
                rate_model=model)
    base["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 20.0, K)
    base.update(kw)
    return Scenario(**base)


@pytest.mark.parametrize("model", ["linear", "shannon"])
@pytest.mark.parametrize("batching", ["ragged", "padded"])
def test_batched_goodput_matches_library(model, batching):
    s = _scenario(1, model=model, batching=batching)
    sr = _search(s)
    rng = np.random.default_rng(2)
    Lmat = rng.integers(0, s.max_draft + 1, size=(40, s.n_users)).astype(float)
    Lmat[0] = 0.0
    G = sr.goodput(Lmat)
    T = sr.makespan(Lmat)
    for i, L in enumerate(Lmat):
        beta, mk = equal_finish_allocation(s, L.astype(int))
        assert T[i] == pytest.approx(mk, rel=1e-13, abs=1e-300)
        assert G[i] == pytest.approx(goodput(s, L.astype(int), beta), rel=1e-13)


def test_tokens_match_tokens_module():
    s = _scenario(3)
    L = np.arange(7, dtype=float)[:, None] * np.ones(s.n_users)
    for kind in ("smooth", "chord"):
        u = Users(s, kind)
        assert np.allclose(u.tokens_int(L), expected_tokens(s.alpha, L), rtol=1e-15, atol=0)
    prof = np.array([[0.9, 0.7, 0.6], [0.5, 0.5, 0.5]])
    sp = Scenario(alpha=prof, t_draft=0.001, bits_per_token=100, bandwidth_hz=1e5, spectral_efficiency=1.0,
                  v0=0.03, max_draft=3)
    up = Users(sp)
    Lp = np.array([[0.0, 1.0], [2.0, 3.0], [3.0, 0.0]])
    assert np.allclose(up.tokens_int(Lp), expected_tokens_positional(prof, Lp), rtol=1e-15, atol=0)
    assert np.allclose(up.tokens(np.array([1.5, 0.25])), expected_tokens_positional(prof, np.array([1.5, 0.25])),
                       rtol=1e-15, atol=0)
    # the chords of an i.i.d. alpha interpolate A between integers; the smooth A lies above them
    pw, sm = Users(s, "chord"), Users(s, "smooth")
    mid = pw.tokens(np.full(s.n_users, 2.5))
    assert np.allclose(mid, 0.5 * (expected_tokens(s.alpha, 2) + expected_tokens(s.alpha, 3)), rtol=1e-14)
    assert np.all(sm.tokens(np.full(s.n_users, 2.5)) >= mid)
    assert np.allclose(sm.tokens(np.full(s.n_users, 2.5)), expected_tokens(s.alpha, 2.5), rtol=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_enumeration_is_exhaustive(seed):
    s = _scenario(10 + seed, K=3, max_draft=4, batching=["ragged", "padded"][seed % 2])
    _L, G = enumerate_best(_search(s))
    best = max(goodput(s, np.array(v), equal_finish_allocation(s, np.array(v))[0])
               for v in itertools.product(range(5), repeat=3))
    assert G == pytest.approx(best, rel=1e-13)


def test_greedy_fill_is_feasible_at_its_deadline():
    s = _scenario(20, K=12, max_draft=10, v1=0.0)
    sr = _search(s)
    for T in (0.005, 0.02, 0.05):
        L = greedy_fill(sr, np.zeros(s.n_users), T, 0.0)
        assert np.all((L >= 0) & (L <= s.max_draft))
        assert sr.makespan(L[None, :])[0] <= T * (1 + 1e-12)


@pytest.mark.parametrize("K", [8, 60])
def test_local_search_is_locally_optimal(K):
    """From L = 0 the search (exact moves for small K, certified screening for large K) ends where
    no +-1 move and no pair move improves the goodput, each checked here by the library."""
    s = _scenario(21, K=K, max_draft=5)
    sr = _search(s)
    L0 = np.zeros(s.n_users)
    G0 = sr.goodput(L0[None, :])[0]
    L1, G1, certified = local_search(sr, L0, G0)
    assert certified and G1 >= G0
    assert G1 == pytest.approx(goodput(s, L1.astype(int), equal_finish_allocation(s, L1.astype(int))[0]), rel=1e-13)
    rng = np.random.default_rng(K)
    idx = np.arange(K) if K <= 8 else rng.choice(K, 8, replace=False)
    for i in idx:
        for j in idx:
            M = L1.copy()
            if i == j:
                for d in (-1, 1):
                    M = L1.copy()
                    M[i] += d
                    if 0 <= M[i] <= s.max_draft:
                        Li = M.astype(int)
                        assert goodput(s, Li, equal_finish_allocation(s, Li)[0]) <= G1 * (1 + 1e-13)
                continue
            M[i] += 1
            M[j] -= 1
            if M[i] <= s.max_draft and M[j] >= 0:
                Li = M.astype(int)
                assert goodput(s, Li, equal_finish_allocation(s, Li)[0]) <= G1 * (1 + 1e-13)


# ------------------------------------------------------------------------- equal-heterogeneous
def _brute_equal(s):
    beta = np.full(s.n_users, 1.0 / s.n_users)
    return max(goodput(s, np.array(v), beta) for v in itertools.product(range(s.max_draft + 1), repeat=s.n_users))


CASES = [
    dict(model="linear", batching="ragged", v1=0.0),
    dict(model="linear", batching="ragged", v1=5e-4),
    dict(model="linear", batching="padded", v1=5e-4),
    dict(model="shannon", batching="padded", v1=0.0),
    dict(model="shannon", batching="ragged", v1=1e-3),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_equal_heterogeneous_is_exact(case):
    s = _scenario(30 + case, K=3, max_draft=5, **CASES[case])
    sol = equal_heterogeneous(s)
    assert sol.name == "equal-heterogeneous" and sol.gap == 0.0 and sol.upper_bound == sol.goodput
    assert np.allclose(sol.bandwidth, 1.0 / s.n_users)
    assert sol.goodput == pytest.approx(_brute_equal(s), rel=1e-13)
    assert sol.goodput == pytest.approx(goodput(s, sol.draft_lengths, sol.bandwidth), rel=1e-15)


def test_equal_heterogeneous_profile_and_free_users():
    s = Scenario(alpha=[[0.9, 0.6, 0.5], [0.7, 0.7, 0.7], [0.0, 0.5, 0.5]], t_draft=[0.0, 0.002, 0.001],
                 bits_per_token=[0.0, 300.0, 200.0], bandwidth_hz=2e5, spectral_efficiency=1.0, v0=0.02,
                 v1=1e-3, max_draft=3)
    sol = equal_heterogeneous(s)
    assert sol.goodput == pytest.approx(_brute_equal(s), rel=1e-13)
    assert sol.draft_lengths[2] == 0  # alpha_1 = 0: no draft token is ever accepted


def test_heterogeneous_beats_equal_heterogeneous_on_large_systems():
    s = _scenario(40, K=60, max_draft=10, bandwidth_hz=5e6)
    h = solve_heterogeneous(s)
    e = equal_heterogeneous(s)
    assert h.goodput >= e.goodput * (1 - 1e-12)
    assert h.goodput <= h.upper_bound
