"""numerics.heterogeneous: the D1-D7 solver, against independent oracles.

Oracles: CVXPY (exponential cone, CLARABEL) for the inner problem F(tau) with the linear
rate; a dense grid of deadlines (and common caps) for the outer search; brute-force
enumeration of every draft-length vector with numerics.allocation.equal_finish_allocation and
numerics.latency.goodput for the integer optimum; the homogeneous solver and the equal-best
baseline for the nesting of the regimes; random feasible points.
"""

from __future__ import annotations

import itertools
import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics import Scenario
from numerics.allocation import equal_finish_allocation
from numerics.baselines import baseline
from numerics.heterogeneous import equal_heterogeneous, solve_heterogeneous
from numerics.heterogeneous.certificate import tangent_line
from numerics.heterogeneous.inner import Inner
from numerics.heterogeneous.users import Users
from numerics.homogeneous import solve_homogeneous
from numerics.latency import goodput, round_time


def random_scenario(rng, K, model="linear", v1=0.0, batching="ragged", max_draft=8, zeros=False, **extra):
    kw = dict(alpha=rng.uniform(0.2, 0.95, K), t_draft=rng.uniform(5e-4, 0.01, K),
              bits_per_token=rng.uniform(50, 2000, K), bandwidth_hz=1e6, v0=rng.uniform(0.01, 0.05),
              max_draft=max_draft, v1=v1, batching=batching, overhead=0.004, rate_model=model)
    if zeros and K >= 2:  # a user without upload and a user with free drafting
        kw["bits_per_token"][0] = 0.0
        kw["t_draft"][1] = 0.0
    kw["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 50.0 if model == "shannon" else 4.0, K)
    kw.update(extra)
    return Scenario(**kw)


def brute_force(s: Scenario):
    """Best integer vector by enumeration, each evaluated with the library's allocation and goodput."""
    best, arg = -np.inf, None
    for L in itertools.product(range(s.max_draft + 1), repeat=s.n_users):
        L = np.array(L)
        b, _ = equal_finish_allocation(s, L)
        g = goodput(s, L, b)
        if g > best:
            best, arg = g, L
    return best, arg


# ------------------------------------------------------------------------- CVXPY: inner F(tau)
def cvxpy_inner(s: Scenario, tau: float, mu: float) -> float:
    """max sum_k A(L_k) - mu L_k s.t. L_k <= tau beta_k B eta_k / (t_k beta_k B eta_k + s_k), sum beta <= 1.

    Rescaled for conditioning: y_k = beta_k t_k B eta_k / s_k, so L_k <= (tau/t_k)(1 - 1/(1 + y_k))
    (exponential cone for A, inv_pos for the capacity).
    """
    a = -np.log(s.alpha)
    Beta = s.bandwidth_hz * s.spectral_efficiency
    t, ss, K = s.t_draft, s.bits_per_token, s.n_users
    y = cp.Variable(K, nonneg=True)
    L = cp.Variable(K, nonneg=True)
    obj = cp.sum(-cp.multiply(s.alpha / (1 - s.alpha), cp.exp(-cp.multiply(a, L)))) - mu * cp.sum(L)
    cons = [cp.sum(cp.multiply(ss / (t * Beta), y)) <= 1, L <= s.max_draft,
            L <= cp.multiply(tau / t, 1 - cp.inv_pos(y + 1))]
    prob = cp.Problem(cp.Maximize(obj), cons)
    # tolerances 1e-10 (far below the 1e-6 of the comparison); CLARABEL may then stop at
    # 'optimal_inaccurate' a little short of them, which CVXPY reports with a UserWarning
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=400)
    assert prob.status in ("optimal", "optimal_inaccurate")
    Lv = np.clip(L.value, 0, s.max_draft)
    return float(np.sum((1 - s.alpha ** (Lv + 1)) / (1 - s.alpha)) - mu * np.sum(Lv))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mu", [0.0, 0.05])
def test_inner_matches_cvxpy(seed, mu):
    rng = np.random.default_rng(100 + seed)
    s = random_scenario(rng, int(rng.integers(2, 9)), max_draft=int(rng.integers(4, 20)))
    u = Users(s, "smooth")
    for tau in (0.003, 0.02, 0.08):
        inner = Inner(u, tau, mu)
        sol = inner.solve()
        ours = sol.F  # sum_k A(L_k) - mu L_k
        ref = cvxpy_inner(s, tau, mu)
        assert ours == pytest.approx(ref, rel=1e-6)
        assert np.sum(sol.beta) <= 1 + 1e-12
        # the dual (the certificate's tangent at tau) is an upper bound, tight at the root
        p, d = tangent_line(inner, sol, sol.lam / tau)
        assert ours * (1 - 1e-12) <= p + d * tau <= ours * (1 + 1e-12)


# ------------------------------------------------------------------------- outer search: tau grid
OUTER = [("linear", 0.0, "ragged"), ("linear", 3e-4, "ragged"), ("linear", 3e-4, "padded"),
         ("shannon", 0.0, "ragged"), ("shannon", 3e-4, "ragged"), ("shannon", 3e-4, "padded")]


def _grid_goodput(s: Scenario, tau: float, m: float | None = None) -> float:
    """The best goodput with drafting deadline tau (and common cap m), from inner solves alone:
    Dinkelbach at fixed tau for ragged batching (token price g v1), the cap m with the batch
    term v1 K m for padded batching."""
    u = Users(s, "smooth")
    K = s.n_users
    c = s.v0 + s.v1 * K + s.overhead
    if m is not None:
        r = Inner(u, tau, 0.0, cap=m).solve()
        return r.N / (tau + c + s.v1 * K * m)
    g = 0.0
    for _ in range(60):
        r = Inner(u, tau, g * s.v1).solve()
        g_new = r.N / (tau + c + s.v1 * r.sumL)
        if abs(g_new - g) <= 1e-15 * g_new:
            break
        g = g_new
    return g_new


@pytest.mark.parametrize("model, v1, batching", OUTER)
def test_outer_search_against_tau_grid(model, v1, batching):
    rng = np.random.default_rng(7)
    s = random_scenario(rng, 5, model=model, v1=v1, batching=batching, max_draft=12, zeros=True)
    sol = solve_heterogeneous(s, integer=False)
    tau, value = sol.multipliers["tau"], sol.multipliers["continuous_goodput"]
    if batching == "padded" and v1 > 0:
        m_star = sol.multipliers["padded_cap"]
        grid = [(x, m) for x in tau * np.linspace(0.5, 2.0, 7) for m in m_star * np.linspace(0.5, 1.5, 7)]
        G_grid = np.array([_grid_goodput(s, x, m) for x, m in grid])
    else:
        grid = np.r_[tau * np.linspace(0.3, 3.0, 31), np.logspace(-4, 0, 9) * tau * 10]
        G_grid = np.array([_grid_goodput(s, x) for x in grid])
    assert G_grid.max() <= sol.upper_bound
    assert value >= G_grid.max() * (1 - 1e-9)
    assert sol.goodput >= value * (1 - 1e-12)  # the reported point: the equal-finish shares of L
    # the certificate is tight at the optimum
    assert sol.upper_bound <= value * (1 + 1e-9)


# ------------------------------------------------------------------------- integers: enumeration
INT_CASES = [
    dict(K=3, model="linear", v1=0.0, batching="ragged", max_draft=8),
    dict(K=3, model="linear", v1=5e-4, batching="ragged", max_draft=6, zeros=True),
    dict(K=3, model="linear", v1=5e-4, batching="padded", max_draft=6),
    dict(K=2, model="shannon", v1=0.0, batching="padded", max_draft=8, zeros=True),
    dict(K=3, model="shannon", v1=5e-4, batching="ragged", max_draft=5),
    dict(K=4, model="linear", v1=2e-4, batching="ragged", max_draft=8),
]


@pytest.mark.parametrize("case", range(len(INT_CASES)))
def test_integer_optimum_is_exact_for_small_systems(case):
    kw = dict(INT_CASES[case])
    rng = np.random.default_rng(200 + case)
    s = random_scenario(rng, kw.pop("K"), **kw)
    sol = solve_heterogeneous(s)
    best, _arg = brute_force(s)
    assert sol.method == sol.multipliers["method"] == "enumeration"
    assert sol.goodput == pytest.approx(best, rel=1e-12)
    assert sol.upper_bound >= best
    assert sol.gap == pytest.approx((sol.upper_bound - sol.goodput) / sol.upper_bound, abs=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_large_systems_subproblems_never_beat_the_certificate(seed):
    """Local search (K = 10): enumerating 3 random users with the others fixed never beats the
    solver (it is locally optimal for +-1 and pair moves) nor its certified bound."""
    rng = np.random.default_rng(300 + seed)
    s = random_scenario(rng, 10, v1=[0.0, 3e-4][seed % 2], batching=["ragged", "padded"][seed % 2], max_draft=8,
                        zeros=seed == 2)
    sol = solve_heterogeneous(s)
    assert sol.method == "local-search" and sol.multipliers["locally_optimal"]
    for _ in range(3):
        sub = rng.choice(s.n_users, size=3, replace=False)
        best = -np.inf
        for vals in itertools.product(range(s.max_draft + 1), repeat=3):
            L = sol.draft_lengths.copy()
            L[sub] = vals
            b, _ = equal_finish_allocation(s, L)
            best = max(best, goodput(s, L, b))
        assert best <= sol.upper_bound
    # quality: ragged gaps come from rounding a few users; with padded batching the common cap
    # m itself is rounded (here the continuous m is about 1.35), which costs a few percent
    assert sol.gap < (0.02 if s.batching == "ragged" else 0.06)


# ------------------------------------------------------------------------- the Solution object
def test_solution_fields_integer_and_continuous():
    rng = np.random.default_rng(1)
    s = random_scenario(rng, 4, v1=2e-4)
    sol = solve_heterogeneous(s)
    assert sol.name == "heterogeneous"
    assert sol.draft_lengths.dtype.kind == "i" and np.all((sol.draft_lengths >= 0) & (sol.draft_lengths <= s.max_draft))
    assert np.sum(sol.bandwidth) <= 1.0 and np.all(sol.bandwidth >= 0)
    assert sol.goodput == pytest.approx(goodput(s, sol.draft_lengths, sol.bandwidth), rel=1e-15)
    assert sol.round_time == pytest.approx(round_time(s, sol.draft_lengths, sol.bandwidth), rel=1e-15)
    assert {"tau", "method", "effective_cap", "locally_optimal"} <= set(sol.multipliers)
    if sol.method != "enumeration":
        assert {"lambda", "dinkelbach_ratio", "continuous_goodput", "relaxation_bound"} <= set(sol.multipliers)
    assert 0 <= sol.gap < 0.05
    c = solve_heterogeneous(s, integer=False)
    assert c.draft_lengths.dtype.kind == "f" and c.method == c.multipliers["method"] == "continuous"
    assert c.goodput == pytest.approx(goodput(s, c.draft_lengths, c.bandwidth, continuous=True), rel=1e-15)
    assert c.gap <= 1e-12
    # the integer answer is certified by the piecewise-linear relaxation, which lies below the
    # smooth one (chords of the concave A): its bound is the smaller
    assert sol.upper_bound <= c.upper_bound * (1 + 1e-9)
    assert sol.goodput <= sol.upper_bound
    sp_ = solve_heterogeneous(s.replace(batching="padded"), integer=False)
    assert "padded_cap" in sp_.multipliers


@pytest.mark.parametrize("kw, match", [
    (dict(integer=1), "integer must be a bool"),
    (dict(integer="yes"), "integer must be a bool"),
])
def test_bad_integer_flag(kw, match):
    s = random_scenario(np.random.default_rng(0), 2)
    with pytest.raises(ValueError, match=match):
        solve_heterogeneous(s, **kw)


def test_bad_scenario_and_unbounded_goodput():
    with pytest.raises(ValueError, match="scenario must be a Scenario, got dict"):
        solve_heterogeneous({"alpha": 0.5})
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        equal_heterogeneous(3)
    # an unbounded goodput (rounds of no verification time) is refused when the scenario is built
    # (numerics.validation.MIN_ROUND_TIME), before any solver runs
    with pytest.raises(ValueError, match=r"v0 \+ v1 K \+ overhead .* must be >= 1e-12 s"):
        Scenario(alpha=0.8, t_draft=0.01, bits_per_token=10, bandwidth_hz=1e5, spectral_efficiency=1.0, v0=0.0)


# ------------------------------------------------------------------------- edge cases
EDGE = {
    "no-upload": dict(alpha=[0.8, 0.7], t_draft=[0.004, 0.003], bits_per_token=0.0, spectral_efficiency=1.0),
    "free-drafting": dict(alpha=[0.8, 0.6, 0.7], t_draft=[0.0, 0.003, 0.0], bits_per_token=[0.0, 100.0, 50.0],
                          spectral_efficiency=1.0, v1=1e-3),
    "alpha-edges": dict(alpha=[0.0, 1e-12, 0.7, 1 - 1e-12], t_draft=0.002, bits_per_token=100.0,
                        spectral_efficiency=[1.0, 2.0, 1.0, 3.0]),
    "drafting-never-pays": dict(alpha=[0.3, 0.2], t_draft=[0.1, 0.2], bits_per_token=1e5, spectral_efficiency=1.0,
                                v0=0.01),
    "long-drafts": dict(alpha=[0.99, 0.999], t_draft=[1e-5, 2e-5], bits_per_token=[10.0, 20.0],
                        spectral_efficiency=1.0, bandwidth_hz=1e7, max_draft=3000),
    "profile": dict(alpha=[[0.76, 0.69, 0.67, 0.68, 0.68], [0.9, 0.5, 0.5, 0.2, 0.1], [0.6] * 5],
                    t_draft=[0.003, 0.005, 0.002], bits_per_token=[500.0, 1000.0, 0.0],
                    spectral_efficiency=[1.0, 2.0, 3.0], max_draft=5, bandwidth_hz=2e5),
    "profile-free-drafting": dict(alpha=[[0.8, 0.7, 0.6], [0.9, 0.5, 0.4], [0.7, 0.7, 0.7]], t_draft=0.0,
                                  bits_per_token=[500.0, 1000.0, 300.0], spectral_efficiency=[1.0, 2.0, 1.0],
                                  max_draft=3, bandwidth_hz=2e5),
    "profile-shannon": dict(alpha=[[0.76, 0.69, 0.67, 0.68], [0.9, 0.5, 0.5, 0.2]], t_draft=[0.003, 0.001],
                            bits_per_token=[500.0, 1000.0], rate_model="shannon", snr=[10.0, 100.0], v1=1e-3,
                            max_draft=4, bandwidth_hz=2e5),
}


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases(name):
    kw = dict(bandwidth_hz=1e5, v0=0.03, max_draft=6)
    kw.update(EDGE[name])
    s = Scenario(**kw)
    for integer in (True, False):
        sol = solve_heterogeneous(s, integer=integer)
        assert np.isfinite(sol.goodput) and sol.gap >= 0 and sol.goodput <= sol.upper_bound
        assert sol.goodput == pytest.approx(goodput(s, sol.draft_lengths, sol.bandwidth, continuous=not integer),
                                            rel=1e-15)
    if s.max_draft ** s.n_users <= 4096:
        assert solve_heterogeneous(s).goodput == pytest.approx(brute_force(s)[0], rel=1e-12)
    if name == "drafting-never-pays":
        assert solve_heterogeneous(s).draft_lengths.tolist() == [0, 0]
    if name == "alpha-edges":  # alpha = 0 gains nothing from drafting
        assert solve_heterogeneous(s).draft_lengths[0] == 0


def test_continuous_large_k_is_certified():
    rng = np.random.default_rng(11)
    K = 3000
    s = random_scenario(rng, K, v1=1e-7, bandwidth_hz=1e6 * K / 8, max_draft=16)
    sol = solve_heterogeneous(s, integer=False)
    assert sol.gap <= 1e-9
    assert np.all(np.isfinite(sol.draft_lengths)) and np.sum(sol.bandwidth) <= 1.0


def test_integer_large_k_gap_is_small():
    rng = np.random.default_rng(12)
    K = 400
    s = random_scenario(rng, K, bandwidth_hz=1e6 * K / 8, max_draft=12)
    sol = solve_heterogeneous(s)
    assert sol.method == "local-search" and sol.multipliers["locally_optimal"]
    # the gap is mostly the relaxation's own: with L ~ 2-4, about 60% of the users sit inside a
    # segment in the piecewise-linear relaxation (measured: 0.6% here); 1% bounds the certificate
    assert 0 <= sol.gap < 1e-2


# ------------------------------------------------------------------------- hypothesis properties
@st.composite
def scenarios(draw, max_users=4):
    K = draw(st.integers(1, max_users))
    fl = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
    model = draw(st.sampled_from(["linear", "shannon"]))
    kw = dict(
        alpha=[draw(fl(0.05, 0.97)) for _ in range(K)],
        t_draft=[draw(st.one_of(st.just(0.0), fl(1e-4, 1e-2))) for _ in range(K)],
        bits_per_token=[draw(st.one_of(st.just(0.0), fl(10.0, 3000.0))) for _ in range(K)],
        bandwidth_hz=draw(fl(1e4, 1e6)), v0=draw(fl(0.005, 0.05)),
        v1=draw(st.one_of(st.just(0.0), fl(1e-5, 1e-3))),
        batching=draw(st.sampled_from(["ragged", "padded"])),
        overhead=draw(fl(0.0, 0.01)), max_draft=draw(st.integers(1, 8)), rate_model=model,
    )
    kw["spectral_efficiency" if model == "linear" else "snr"] = [draw(fl(0.3, 30.0)) for _ in range(K)]
    return Scenario(**kw)


@given(scenarios(), st.data())
def test_reward_raising_alpha_never_lowers_share_or_length(s, data):
    """D4: in the continuous solution, a higher alpha_k gives user k no less band and no shorter draft."""
    k = data.draw(st.integers(0, s.n_users - 1))
    bump = data.draw(st.floats(0.005, 0.3))
    al = s.alpha.copy()
    al[k] = min(al[k] + bump, 0.99)
    c0 = solve_heterogeneous(s, integer=False)
    c1 = solve_heterogeneous(s.replace(alpha=al), integer=False)
    assert c1.bandwidth[k] >= c0.bandwidth[k] - 1e-7
    assert c1.draft_lengths[k] >= c0.draft_lengths[k] - 1e-7


@given(scenarios())
def test_regimes_nest(s):
    """heterogeneous >= homogeneous >= equal-best, and heterogeneous >= equal-heterogeneous."""
    h = solve_heterogeneous(s).goodput
    ho = solve_homogeneous(s).goodput
    eb = baseline(s, "equal-best").goodput
    eh = equal_heterogeneous(s).goodput
    assert h >= ho * (1 - 1e-12)
    assert ho >= eb * (1 - 1e-12)
    assert h >= eh * (1 - 1e-12)


@given(scenarios(max_users=3), st.integers(0, 2**32 - 1))
def test_no_random_feasible_point_beats_the_solution(s, seed):
    rng = np.random.default_rng(seed)
    sol = solve_heterogeneous(s)
    cont = solve_heterogeneous(s, integer=False)
    for _ in range(20):
        L = rng.integers(0, s.max_draft + 1, s.n_users)
        beta = rng.dirichlet(np.ones(s.n_users))
        g = goodput(s, L, beta)
        assert g <= sol.goodput * (1 + 1e-12)  # small systems: the integer answer is exact
        Lc = rng.uniform(0, s.max_draft, s.n_users)
        assert goodput(s, Lc, beta, continuous=True) <= cont.upper_bound
