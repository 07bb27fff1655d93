"""numerics.homogeneous: the exact solver of MODEL.md H1 to H4, and its ties to theory.homogeneous.

Independent references (``_oracles_homogeneous``): nested SciPy brentq for theta* plus
enumeration of every L (1e-10), CVXPY/CLARABEL on the epigraph problem (1e-6), mpmath at
50 digits for the SymPy closed forms, Leviathan et al. (2023) Table 1 for the K = 1 case.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from _oracles_homogeneous import brentq_theta, cvxpy_theta, enumerate_common_length, random_scenario, scenarios
from numerics import Scenario, baseline, goodput, solve_homogeneous
from numerics.homogeneous import _Tokens, affine_round_time, band_multiplier, best_common_length, stationary_length
from numerics.latency import round_time
from numerics.tokens import expected_tokens, marginal_tokens
from theory import homogeneous as th
from theory.symbols import K as K_sym
from theory.symbols import T_o, alpha, theta, v0, v1

EPS = np.finfo(float).eps


def _replace(sc: Scenario, **kw) -> Scenario:
    return sc.replace(**kw)


# ----------------------------------------------------------------------------- ties to theory
_ALPHAS = (1e-12, 1e-6, 0.1, 0.5, 0.8, 0.99, 1 - 1e-6, 1 - 1e-12)
_RATIOS = (1.0, 1 + 1e-12, 1 + 1e-6, 1.5, 10.0, 1e3, 1e6)


def test_stationary_length_tied_to_theory():
    """stationary_length == theory L° = (1 - z)/ln(alpha) - c0/c1, z = -W_{-1}(...), mpmath 50 digits.

    Tolerance 1e-13 of (|L°| + 2 c0/c1): L° is a difference of two terms of that size.
    """
    Lopt = th.optimal_common_length()["L_opt"]
    f = sp.lambdify((alpha, th.c0, th.c1), Lopt, "mpmath")
    with mp.workdps(50):
        for a in _ALPHAS:
            for ratio in _RATIOS:
                ref = mp.re(f(mp.mpf(a), mp.mpf(ratio), mp.mpf(1)))
                got = float(stationary_length(a, ratio, 1.0))
                assert abs(got - float(ref)) <= 1e-13 * (abs(float(ref)) + 2 * ratio), (a, ratio, got, ref)


def test_stationary_length_is_the_maximiser():
    """At L° the derivative of A/(c0 + c1 L) vanishes (mpmath), and the W_{-1} form equals -1 at c0 = c1."""
    assert float(stationary_length(0.7, 3.0, 3.0)) == -1.0
    with mp.workdps(40):
        for a, c0, c1 in ((0.6, 5.0, 1.0), (0.9, 1.2, 1.0), (0.99, 100.0, 0.5)):
            Lo = float(stationary_length(a, c0, c1))
            g = lambda x: (1 - mp.mpf(a) ** (x + 1)) / (c0 + c1 * x)  # noqa: E731
            assert abs(mp.diff(g, Lo)) < 1e-13 * abs(g(Lo))


def test_stationary_length_raises():
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\), got 1.0"):
        stationary_length(1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\), got 0.0"):
        stationary_length(0.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="c1 must be finite and > 0, got 0.0"):
        stationary_length(0.5, 2.0, 0.0)
    with pytest.raises(ValueError, match="c0 / c1 must be finite and >= 1 for a stationary point, got 0.5"):
        stationary_length(0.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="c0 / c1 must be finite and >= 1 for a stationary point, got inf"):
        stationary_length(0.5, np.inf, 1.0)


@pytest.mark.parametrize("batching", ["ragged", "padded"])
def test_affine_round_time_tied(batching):
    """(c0, c1) == lambdify(theory.affine_round_time), and c0 + c1 L == latency.round_time at a common L."""
    aff = th.affine_round_time()
    f0 = sp.lambdify((v0, v1, K_sym, T_o, theta), aff["c0"])
    f1 = sp.lambdify((v0, v1, K_sym, T_o, theta), aff["c1"])
    sc = Scenario(alpha=0.8, t_draft=[0.01, 0.02, 0.0], bits_per_token=[100.0, 0.0, 400.0], bandwidth_hz=1e5,
                  spectral_efficiency=[1.0, 2.0, 0.5], v0=0.05, v1=1e-3, overhead=0.01, batching=batching)
    sol = solve_homogeneous(sc)
    tht = sol.multipliers["theta"]
    c0, c1 = affine_round_time(sc, tht)
    assert c0 == pytest.approx(f0(0.05, 1e-3, 3, 0.01, tht), rel=1e-15)
    assert c1 == pytest.approx(f1(0.05, 1e-3, 3, 0.01, tht), rel=1e-15)
    for L in (1, 5, 16):
        assert round_time(sc, L, sol.bandwidth) == pytest.approx(c0 + c1 * L, rel=1e-14)


def test_token_sums_tied_to_numerics_tokens():
    """_Tokens.N / dN == sums of numerics.tokens.expected_tokens / marginal_tokens (alpha near 0 and 1, L to 5000)."""
    al = np.array([0.0, 1e-300, 1e-12, 0.3, 0.3, 0.8, 1 - 1e-6, 1 - 1e-12])
    tok = _Tokens(al)
    for L in (0.0, 1.0, 2.5, 17.0, 5000.0):
        assert tok.N(L) == pytest.approx(np.sum(expected_tokens(al, L)), rel=1e-14)
        assert tok.dN(L)[0] == pytest.approx(np.sum(marginal_tokens(al, L)), rel=1e-14)


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_band_multiplier_tied_to_kkt(model):
    """lambda == theory.kkt_solution's 1 / sum 1/g_k with g_k = -h_k' (lambdified), and
    lambda == -d theta* / d budget by central differences of the brentq oracle (1e-6)."""
    sol = th.kkt_solution(3, model)
    P = sol["problem"]["symbols"]
    lam_f = sp.lambdify(sol["g"], sol["lambda"])
    slope_f = [sp.lambdify((b, tk, sk, ck, th.B), g) for b, tk, sk, ck, g in
               zip(P["beta"], P["t"], P["s"], P["channel"], sol["slopes"])]
    rng = np.random.default_rng(3)
    sc = random_scenario(rng, 3, model, zeros=False)
    s_ = solve_homogeneous(sc)
    beta = s_.bandwidth
    g = [f(beta[k], sc.t_draft[k], sc.bits_per_token[k], sc.channel[k], sc.bandwidth_hz) for k, f in enumerate(slope_f)]
    lam, mu = band_multiplier(sc, beta, s_.multipliers["theta"])
    assert lam == pytest.approx(lam_f(*g), rel=1e-13)
    assert mu.sum() == pytest.approx(1.0, rel=1e-14) and np.all(mu > 0)

    # budget b <=> bandwidth b B (linear), bandwidth b B and SNR rho / b (Shannon): beta = b x
    def theta_at(b):
        kw = {"bandwidth_hz": b * sc.bandwidth_hz}
        if model == "shannon":
            kw["snr"] = sc.snr / b
        return brentq_theta(_replace(sc, **kw))

    h = 1e-5
    fd = -(theta_at(1 + h) - theta_at(1 - h)) / (2 * h)
    assert lam == pytest.approx(fd, rel=1e-6)


def test_leviathan_special_case():
    """K = 1, s = 0, v1 = 0, T_o = 0: G(L)/G_AR = (1 - alpha^(L+1)) / ((1 - alpha)(L c + 1)), c = t / v0."""
    f = sp.lambdify((alpha, th.L, sp.Symbol("c", nonnegative=True)), th.leviathan_improvement()["leviathan"])
    assert th.leviathan_improvement()["difference"] == 0
    for a, L, c in ((0.6, 2, 0.0), (0.8, 5, 0.05), (0.9, 10, 0.3)):
        sc = Scenario(alpha=a, t_draft=c * 0.1, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.1)
        ratio = baseline(sc, "equal-fixed", L=L).goodput / baseline(sc, "autoregressive").goodput
        assert ratio == pytest.approx(f(a, L, c), rel=1e-14)


# Leviathan et al. 2023 (arXiv 2211.17192), Table 1 (c = 0): (alpha, gamma) -> improvement, two decimals
LEVIATHAN_TABLE1 = [(0.6, 2, 1.96), (0.7, 3, 2.53), (0.8, 2, 2.44), (0.8, 5, 3.69), (0.9, 2, 2.71), (0.9, 10, 6.86)]


@pytest.mark.parametrize("a,gamma,ref", LEVIATHAN_TABLE1)
def test_leviathan_table1(a, gamma, ref):
    """c = 0 means t = 0: the solver itself picks L = max_draft = gamma (c1 = 0, G increasing)."""
    sc = Scenario(alpha=a, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0,
                  v0=0.05, max_draft=gamma)
    sol = solve_homogeneous(sc)
    assert sol.draft_lengths.tolist() == [gamma]
    assert round(sol.goodput / baseline(sc, "autoregressive").goodput, 2) == ref


# ----------------------------------------------------------------------------- independent oracles
def _assert_matches_enumeration(sc: Scenario, sol) -> None:
    tb = brentq_theta(sc)
    L_ref, G_ref, Gs = enumerate_common_length(sc, tb)
    assert sol.goodput == pytest.approx(G_ref, rel=1e-10)
    L = int(sol.draft_lengths[0])
    if L != L_ref:  # only an exact tie (to round-off) may pick another length
        assert Gs[L - 1] == pytest.approx(G_ref, rel=1e-12)


@given(scenarios(max_users=6))
def test_matches_brentq_and_enumeration(sc):
    sol = solve_homogeneous(sc)
    assert np.all(sol.draft_lengths == sol.draft_lengths[0])
    assert sol.multipliers["theta"] == pytest.approx(brentq_theta(sc), rel=1e-12, abs=1e-300)
    _assert_matches_enumeration(sc, sol)
    assert sol.gap == 0.0 and sol.upper_bound == sol.goodput


@given(scenarios(max_users=4, positional=True, max_draft=12))
def test_positional_matches_enumeration(sc):
    sol = solve_homogeneous(sc)
    assert sol.multipliers["L_method"] == "scan"
    _assert_matches_enumeration(sc, sol)


_CVX_CASES = [(seed, model, K) for seed in range(12)
              for model, Ks in (("linear", (1, 3, 10, 30)), ("shannon", (1, 3, 5, 8))) for K in Ks]


@pytest.mark.parametrize("seed,model,K", _CVX_CASES)
def test_matches_cvxpy(seed, model, K):
    """theta* and the goodput agree with CVXPY/CLARABEL (enumerating L at CVXPY's theta) to 1e-6."""
    sc = random_scenario(np.random.default_rng([seed, K]), K, model)
    sol = solve_homogeneous(sc)
    tc = cvxpy_theta(sc)
    assert sol.multipliers["theta"] == pytest.approx(tc, rel=1e-6)
    _, G_cvx, _ = enumerate_common_length(sc, tc)
    assert sol.goodput == pytest.approx(G_cvx, rel=1e-6)


# ----------------------------------------------------------------------------- properties
@given(scenarios(max_users=5, max_draft=8), st.integers(0, 4), st.sampled_from(["t", "s", "channel"]),
       st.floats(1.01, 10.0))
def test_compensation(sc, k, which, factor):
    """H3: raising t_k or s_k, or lowering eta_k / rho_k, never lowers beta_k and never raises another's."""
    k = k % sc.n_users
    base = solve_homogeneous(sc).bandwidth
    if which == "t":
        t = sc.t_draft.copy()
        t[k] = t[k] * factor + 1e-3
        new = _replace(sc, t_draft=t)
    elif which == "s":
        s = sc.bits_per_token.copy()
        s[k] *= factor
        new = _replace(sc, bits_per_token=s)
    else:
        name = "spectral_efficiency" if sc.rate_model == "linear" else "snr"
        ch = getattr(sc, name).copy()
        ch[k] /= factor
        new = _replace(sc, **{name: ch})
    b = solve_homogeneous(new).bandwidth
    tol = 1e-12 * base + 4 * EPS  # round-off of the two root finds
    assert b[k] >= base[k] - tol[k]
    others = np.arange(sc.n_users) != k
    assert np.all(b[others] <= base[others] + tol[others])


@given(scenarios(max_users=5), st.integers(0, 2**32 - 1))
def test_no_random_point_beats_the_solution(sc, seed):
    sol = solve_homogeneous(sc)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        L = int(rng.integers(1, sc.max_draft + 1))
        beta = rng.dirichlet(np.ones(sc.n_users)) * rng.uniform(0.5, 1.0)
        assert goodput(sc, L, beta) <= sol.goodput * (1 + 1e-12)
    # and neither does the solver's own band with a different L
    for L in range(1, sc.max_draft + 1):
        assert goodput(sc, L, sol.bandwidth) <= sol.goodput * (1 + 1e-12)


@given(scenarios(max_users=5), st.floats(1e-3, 1e3))
def test_time_scaling(sc, c):
    """Every time multiplied by c (t, v0, v1, T_o; s by c, so s/r too): goodput divided by c, same shares."""
    sol = solve_homogeneous(sc)
    scaled = _replace(sc, t_draft=sc.t_draft * c, bits_per_token=sc.bits_per_token * c, v0=sc.v0 * c,
                      v1=sc.v1 * c, overhead=sc.overhead * c)
    sol_c = solve_homogeneous(scaled)
    assert sol_c.goodput * c == pytest.approx(sol.goodput, rel=1e-12)
    np.testing.assert_allclose(sol_c.bandwidth, sol.bandwidth, rtol=1e-10, atol=1e-15)


@given(scenarios(max_users=6))
def test_never_below_equal_baselines(sc):
    G = solve_homogeneous(sc).goodput
    assert G >= baseline(sc, "equal-best").goodput * (1 - 1e-12)
    assert G >= baseline(sc, "equal-fixed").goodput * (1 - 1e-12)


@given(scenarios(max_users=5, max_draft=30))
def test_goodput_unimodal_in_L(sc):
    """H4 on the integers: G(L) at theta* rises strictly to its maximum, then never rises again."""
    _, _, Gs = enumerate_common_length(sc, brentq_theta(sc))
    i = int(np.argmax(Gs))
    d = np.diff(Gs)
    assert np.all(d[:i] > 0)
    assert np.all(d[i:] <= 1e-14 * Gs.max())  # round-off of the term-by-term sums


# ----------------------------------------------------------------------------- edges
def test_all_alpha_zero_and_free_drafting():
    base = dict(t_draft=0.01, bits_per_token=100.0, bandwidth_hz=1e5, spectral_efficiency=1.0, v0=0.1, max_draft=50)
    assert solve_homogeneous(Scenario(alpha=[0.0, 0.0], **base)).draft_lengths.tolist() == [1, 1]
    # c1 = 0 (no drafting or upload cost, v1 = 0): the longest draft
    free = Scenario(alpha=[0.5, 0.9], t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0,
                    v0=0.1, max_draft=50)
    assert solve_homogeneous(free).draft_lengths.tolist() == [50, 50]
    # c0 at its lower limit (v0 = 1e-12 s, numerics.validation.MIN_ROUND_TIME; v1 = T_o = 0), far below
    # c1 = theta = 0.01 s: G_H decreases on [-1, inf) when c0 < c1 (docs/model.md H4 correction): L = 1
    c0tiny = Scenario(alpha=0.9, t_draft=0.01, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0,
                      v0=1e-12, max_draft=50)
    assert solve_homogeneous(c0tiny).draft_lengths.tolist() == [1]


@pytest.mark.parametrize("a", [1 - 1e-12, 1 - 1e-9, 0.999, 1e-300])
def test_extreme_alpha_and_long_drafts(a):
    """alpha within 1e-12 of 1 with max_draft = 3000: the optimum is found among thousands (vs enumeration)."""
    sc = Scenario(alpha=[a, a], t_draft=1e-5, bits_per_token=[10.0, 20.0], bandwidth_hz=1e7, spectral_efficiency=2.0,
                  v0=0.1, max_draft=3000)
    sol = solve_homogeneous(sc)
    assert np.isfinite(sol.goodput) and sol.multipliers["L_method"] == "closed-form"
    _assert_matches_enumeration(sc, sol)


def test_heterogeneous_alpha_uses_root_and_padded_equals_ragged():
    rng = np.random.default_rng(11)
    sc = random_scenario(rng, 8, "shannon", v1=2e-4, overhead=0.01)
    sol = solve_homogeneous(sc)
    assert sol.multipliers["L_method"] == "root"
    L, Lc, _ = best_common_length(sc, sol.multipliers["theta"])
    assert int(np.floor(Lc)) <= L <= int(np.ceil(Lc)) or Lc in (1.0, float(sc.max_draft))
    padded = solve_homogeneous(_replace(sc, batching="padded"))
    assert padded.goodput == sol.goodput and padded.draft_lengths.tolist() == sol.draft_lengths.tolist()
    _assert_matches_enumeration(sc, sol)


@pytest.mark.parametrize("t_draft,max_draft,expect", [(1e-6, 6, 6), (0.5, 30, 1), (2e-3, 40, None)])
def test_root_path_clips_and_interior(t_draft, max_draft, expect):
    """Per-user alphas: the maximiser at max_draft (cheap drafting), at 1 (costly drafting), interior."""
    sc = Scenario(alpha=[0.6, 0.9, 0.97, 0.0], t_draft=t_draft, bits_per_token=[50.0, 0.0, 80.0, 10.0],
                  bandwidth_hz=1e6, spectral_efficiency=1.0, v0=0.05, max_draft=max_draft)
    sol = solve_homogeneous(sc)
    assert sol.multipliers["L_method"] == "root"
    if expect is not None:
        assert sol.draft_lengths[0] == expect and sol.multipliers["L_continuous"] == expect
    else:
        assert 1 < sol.multipliers["L_continuous"] < max_draft
    _assert_matches_enumeration(sc, sol)


@pytest.mark.parametrize("shift", [-40.0, -3.0, 2.5, 40.0])
def test_integer_search_survives_a_bad_start(monkeypatch, shift):
    """The neighbour certificate climbs to the optimum even from a wrong continuous start."""
    import numerics.homogeneous as nh

    true = nh.stationary_length
    monkeypatch.setattr(nh, "stationary_length", lambda a, c0, c1: true(a, c0, c1) + shift)
    for alphas in ([0.9, 0.9], [0.7, 0.95]):  # closed-form path, root path (bad Newton start)
        sc = Scenario(alpha=alphas, t_draft=2e-3, bits_per_token=[100.0, 300.0], bandwidth_hz=1e6,
                      spectral_efficiency=1.0, v0=0.05, max_draft=60)
        _assert_matches_enumeration(sc, solve_homogeneous(sc))


def test_many_users():
    """K = 10^4 Shannon users: finite, feasible, equal finishing times."""
    rng = np.random.default_rng(5)
    sc = random_scenario(rng, 10_000, "shannon", bandwidth_hz=1e9)
    sol = solve_homogeneous(sc)
    assert np.isfinite(sol.goodput) and sol.bandwidth.sum() <= 1 and abs(sol.bandwidth.sum() - 1) < 1e-14
    assert np.all(np.isfinite(sol.multipliers["mu"])) and sol.multipliers["lambda"] > 0


def test_slack_band_when_a_free_user_is_slowest():
    """theta* set by a user with nothing to upload: lambda = 0 and mu is 1 on that user."""
    sc = Scenario(alpha=0.8, t_draft=[0.2, 0.01], bits_per_token=[0.0, 100.0], bandwidth_hz=1e5,
                  spectral_efficiency=1.0, v0=0.1)
    sol = solve_homogeneous(sc)
    assert sol.multipliers["theta"] == 0.2
    assert sol.multipliers["lambda"] == 0.0 and sol.multipliers["mu"].tolist() == [1.0, 0.0]
    assert sol.multipliers["band_value"] == 0.0


def test_token_curvature_tied_to_theory():
    """_Tokens.dN()[1] == sum of theory.tokens' d2A/dL2 (lambdified, mpmath 30 digits)."""
    d2 = sp.lambdify((alpha, th.L), sp.diff(th.tokens_common(), th.L, 2), "mpmath")
    al = np.array([1e-12, 0.3, 0.8, 1 - 1e-6])
    with mp.workdps(30):
        for L in (1.0, 2.5, 40.0):
            ref = sum(d2(mp.mpf(a), mp.mpf(L)) for a in al)
            assert _Tokens(al).dN(L)[1] == pytest.approx(float(ref), rel=1e-12)


def test_solution_fields():
    sc = random_scenario(np.random.default_rng(2), 4, "linear", zeros=False)
    sol = solve_homogeneous(sc)
    assert sol.name == "homogeneous" and sol.draft_lengths.dtype.kind == "i"
    assert sol.goodput == goodput(sc, sol.draft_lengths, sol.bandwidth)
    assert sol.round_time == pytest.approx(round_time(sc, sol.draft_lengths, sol.bandwidth), rel=1e-15)
    assert {"theta", "lambda", "mu", "L_continuous", "band_value", "c0", "c1", "L_method"} <= set(sol.multipliers)
    assert sol.multipliers["band_value"] > 0


def test_raises():
    # a scenario whose rounds could take no time never reaches the solver (numerics.validation.MIN_ROUND_TIME)
    with pytest.raises(ValueError, match=r"v0 \+ v1 K \+ overhead .* must be >= 1e-12 s"):
        Scenario(alpha=0.8, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.0)
    with pytest.raises(ValueError, match="scenario must be a Scenario, got dict"):
        solve_homogeneous({"alpha": 0.8})
    ok = Scenario(alpha=0.8, t_draft=0.01, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.1)
    with pytest.raises(ValueError, match="theta must be finite and >= 0, got -1.0"):
        best_common_length(ok, -1.0)
