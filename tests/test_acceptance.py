"""Acceptance estimators (numerics.acceptance): counts, MLEs, exact intervals, the i.i.d. test,
mean acceptance lengths, validation, and the decision analysis.

Independent references, each named where used: brute-force counting per draft (Python loops);
scipy.stats.binomtest(...).proportion_ci(method='exact') for Clopper-Pearson; mpmath's
regularised incomplete beta for Jeffreys; scipy.optimize.minimize_scalar on the per-draft
censored log-likelihood for the MLE; exact enumeration of the law of (S, R) for the coverage of
the pooled interval; seeded synthetic logs drawn by per-token Bernoulli acceptance
(numerics.sampling.sample_accepted, itself checked against the pmf in tests/test_sampling.py) from
known profiles, including the EAGLE MT-bench profile (Li et al. 2024, arXiv 2401.15077, Table 2).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats

from numerics import Scenario, expected_tokens, goodput
from numerics.acceptance import (
    AcceptanceFit,
    binomial_interval,
    cycle_users,
    decision_uncertainty,
    draft_length_by_batch_size,
    fit_acceptance,
    position_counts,
    record_counts,
)
from numerics.homogeneous import solve_homogeneous
from numerics.sampling import sample_accepted

EAGLE = np.array([0.76, 0.69, 0.67, 0.68, 0.68])  # li2024eagle Table 2 (numerics/presets/acceptance.toml)


def _log(profile, drafts: int, rng, lengths=None):
    """Seeded synthetic per-draft records (L_d, N_d): numerics.sampling.sample_accepted for one length;
    for varying lengths one Bernoulli draw per position and draft, N = the accepted prefix within L_d."""
    prof = np.asarray(profile, dtype=float)
    if lengths is None:
        lengths = np.full(drafts, prof.size)
    lengths = np.asarray(lengths)
    if len(set(lengths.tolist())) == 1:
        return lengths, sample_accepted(prof, int(lengths[0]), drafts, rng)
    alive = np.ones(lengths.size, dtype=bool)
    N = np.zeros(lengths.size, dtype=np.int64)
    for i in range(int(lengths.max())):
        alive &= (lengths > i) & (rng.random(lengths.size) < prof[i])
        N += alive
    return lengths, N


def _brute_counts(lengths, N):
    """n_i and a_i by their definitions, draft by draft (Python loops)."""
    P = max(lengths)
    n = [0] * P
    a = [0] * P
    for L, acc in zip(lengths, N, strict=True):
        for i in range(1, P + 1):
            if L >= i and acc >= i - 1:
                n[i - 1] += 1
            if acc >= i:
                a[i - 1] += 1
    return n, a


# ---------------------------------------------------------------------------- counts
def test_record_counts_match_brute_force():
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 7, 300)
    _, N = _log(np.full(6, 0.7), 300, rng, lengths)
    c = record_counts(lengths, N)
    n, a = _brute_counts(lengths.tolist(), N.tolist())
    assert c.at_risk.tolist() == n and c.accepted.tolist() == a
    assert c.drafts == int(np.count_nonzero(lengths)) and c.accepted_tokens == int(N.sum())
    # nesting (theory.acceptance): sum_i n_i = S + R, R the rejected drafts
    R = int(np.count_nonzero(N < lengths))
    assert int(c.at_risk.sum()) == int(N.sum()) + R


def test_position_counts_equal_record_counts_for_one_length():
    rng = np.random.default_rng(2)
    L, N = _log(EAGLE, 500, rng)
    per_pos = [int(np.count_nonzero(N > i)) for i in range(5)]  # vLLM's observe_draft
    a = position_counts(500, per_pos, draft_tokens=2500, accepted_tokens=int(N.sum()))
    b = record_counts(L, N)
    assert a.at_risk.tolist() == b.at_risk.tolist() and a.accepted.tolist() == b.accepted.tolist()
    assert a.drafts_by_length.tolist() == b.drafts_by_length.tolist()


@pytest.mark.parametrize("kwargs, match", [
    (dict(drafts=-1, accepted_per_position=[1]), r"drafts must be non-negative integer counts, got -1\.0"),
    (dict(drafts=2.5, accepted_per_position=[1]), r"drafts must be non-negative integer counts, got 2\.5"),
    (dict(drafts=0, accepted_per_position=[0]), r"drafts must be >= 1"),
    (dict(drafts=10, accepted_per_position=[]), r"accepted_per_position must have at least one position"),
    (dict(drafts=10, accepted_per_position=[11, 3]), r"accepted_per_position\[0\] = 11 exceeds drafts = 10"),
    (dict(drafts=10, accepted_per_position=[5, -1]),
     r"accepted_per_position must be non-negative integer counts, got -1"),
    (dict(drafts=10, accepted_per_position=[5, 6, 2]),
     r"accepted_per_position rises with position: 5 at position 0 then 6"),
    (dict(drafts=10, accepted_per_position=[5, 3], draft_tokens=25),
     r"draft_tokens = 25 exceeds drafts x positions = 10 x 2 = 20: drafts longer than the per-position profile"),
    (dict(drafts=10, accepted_per_position=[5, 3], draft_tokens=20, accepted_tokens=21),
     r"accepted_tokens = 21 exceeds draft_tokens = 20"),
    (dict(drafts=10, accepted_per_position=[5, 3], accepted_tokens=9), r"accepted_tokens = 9 is not the sum"),
    (dict(drafts=10, accepted_per_position="abc"),
     r"accepted_per_position must be a number or an array of numbers, got 'abc'"),
    # the type rules of numerics.validation (docs/model.md "Type rules"): bools and strings are not counts
    (dict(drafts=True, accepted_per_position=[1]), r"drafts must be a number or an array of numbers, got True"),
    (dict(drafts=10, accepted_per_position=["5"]), r"accepted_per_position must be .*'5' is not a number"),
    (dict(drafts=10, accepted_per_position=[5, True]), r"accepted_per_position must be .*True is not a number"),
    (dict(drafts=10, accepted_per_position=[5, 3], draft_tokens=True), r"draft_tokens must be a number .*got True"),
    (dict(drafts=10, accepted_per_position=[5, 3], accepted_tokens="8"), r"accepted_tokens must be a number .*'8'"),
    # 2^53 and above: not exact in float64 (Prometheus counters are floats); the reason is the limit
    (dict(drafts=2**53, accepted_per_position=[1]),
     r"drafts must be <= 9007199254740991 \(2\^53 - 1: .*limit numerics.acceptance.MAX_COUNT\), got 9007199254740992"),
    (dict(drafts=1e18, accepted_per_position=[1]), r"drafts must be <= 9007199254740991 .*got 1e\+18"),
    (dict(drafts=10, accepted_per_position=[5, 3], draft_tokens=0), r"draft_tokens = 0: the drafts hold no token"),
    (dict(drafts=10, accepted_per_position=[5, 3], draft_tokens=9, min_draft_length=1),
     r"draft_tokens = 9 is below the accepted tokens plus one token per draft rejected at its first position, "
     r"8 \+ 5 = 13"),
    (dict(drafts=10, accepted_per_position=[5], min_draft_length=2), r"min_draft_length must be <= 1, got 2"),
])
def test_position_counts_reject_bad_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        position_counts(kwargs.pop("drafts"), kwargs.pop("accepted_per_position"), **kwargs)


def test_a_profile_longer_than_the_draft_length_is_rejected():
    # 4 drafts, all accepted at 3 positions (12 accepted tokens), but only 8 tokens drafted
    with pytest.raises(ValueError, match=r"draft_tokens = 8 is below the accepted tokens .* profile is longer"):
        position_counts(4, [4, 4, 4], draft_tokens=8)


def _vllm_counters(lengths, N, P):
    """Counters as vLLM's SpecDecodingStats.observe_draft accumulates them."""
    return (len(lengths), [int(np.count_nonzero(N > i)) for i in range(P)], int(np.sum(lengths)), int(N.sum()))


def test_short_drafts_bound_the_at_risk_counts():
    # drafts shortened below P (known truth from the records): the true n_i lies in
    # [at_risk_low, at_risk_high] and the true sum in [pooled_at_risk_low, pooled_at_risk_high] for every seed
    rng = np.random.default_rng(12)
    P = 5
    for _ in range(200):
        D = int(rng.integers(1, 60))
        lengths = np.where(rng.random(D) < 0.2, rng.integers(1, P + 1, D), P)
        _, N = _log(np.full(P, rng.uniform(0.3, 0.95)), D, rng, lengths)
        truth = record_counts(lengths, N)
        D_, per_pos, T, S = _vllm_counters(lengths, N, P)
        c = position_counts(D_, per_pos, draft_tokens=T, accepted_tokens=S)
        n_true = np.zeros(P, dtype=int)
        n_true[:truth.positions] = truth.at_risk
        assert np.all(c.at_risk_low <= n_true) and np.all(n_true <= c.at_risk_high)
        assert c.pooled_at_risk_low <= n_true.sum() <= c.pooled_at_risk_high
        assert c.undrafted_tokens == D * P - int(lengths.sum())


def test_short_drafts_keep_interval_coverage():
    # 300 seeded logs with 25% of drafts shortened: every interval still covers at >= its level
    rng = np.random.default_rng(13)
    P, seeds, truth = 5, 300, np.array([0.8, 0.7, 0.65, 0.6, 0.6])
    cov_pos = np.zeros(P, dtype=int)
    for _ in range(seeds):
        lengths = np.where(rng.random(200) < 0.25, rng.integers(1, P, 200), P)
        _, N = _log(truth, 200, rng, lengths)
        D_, per_pos, T, S = _vllm_counters(lengths, N, P)
        f = fit_acceptance(position_counts(D_, per_pos, draft_tokens=T, accepted_tokens=S))
        assert f.undrafted_tokens[0] > 0
        cov_pos += (f.profile_low[0] <= truth) & (truth <= f.profile_high[0])
    assert np.all(cov_pos >= stats.binom.ppf(0.0005, seeds, 0.95)), cov_pos


@pytest.mark.parametrize("lengths, accepted, match", [
    ([3, 2], [1, 3], r"accepted = 3 exceeds draft_length = 2 in record 1"),
    ([3, 2], [1], r"draft_lengths and accepted have different lengths: 2 and 1"),
    ([0, 0], [0, 0], r"draft_lengths has no draft of length >= 1"),
    ([3, -2], [1, 0], r"draft_lengths must be non-negative integer counts, got -2"),
    ([3, 2], [1, np.nan], r"accepted must be non-negative integer counts, got nan"),
])
def test_record_counts_reject_bad_records(lengths, accepted, match):
    with pytest.raises(ValueError, match=match):
        record_counts(lengths, accepted)


# ---------------------------------------------------------------------------- intervals
@pytest.mark.parametrize("x, n", [(0, 1), (0, 17), (3, 17), (17, 17), (250, 1000), (999, 1000)])
def test_clopper_pearson_matches_scipy_binomtest(x, n):
    lo, hi = binomial_interval(x, n, 0.95)
    ref = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
    assert float(lo) == pytest.approx(ref.low, abs=1e-12) and float(hi) == pytest.approx(ref.high, abs=1e-12)


@pytest.mark.parametrize("x, n", [(1, 10), (5, 10), (40, 200)])
def test_jeffreys_matches_mpmath_beta_quantiles(x, n):
    mp.mp.dps = 30
    lo, hi = binomial_interval(x, n, 0.9, "jeffreys")

    def quantile(p):  # invert the regularised incomplete beta of Beta(x + 1/2, n - x + 1/2)
        f = lambda t: mp.betainc(x + 0.5, n - x + 0.5, 0, t, regularized=True) - p  # noqa: E731
        return float(mp.findroot(f, (mp.mpf("1e-20"), 1 - mp.mpf("1e-20")), solver="illinois", tol=1e-25))

    assert float(lo) == pytest.approx(quantile(0.05), rel=1e-9)
    assert float(hi) == pytest.approx(quantile(0.95), rel=1e-9)


def test_interval_boundaries_and_no_information():
    lo, hi = binomial_interval([0, 5, 0], [5, 5, 0], 0.95, "jeffreys")
    assert lo[0] == 0.0 and hi[1] == 1.0 and (lo[2], hi[2]) == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"successes must be <= trials, got 6 > 5"):
        binomial_interval(6, 5)
    with pytest.raises(ValueError, match=r"confidence must lie in \(0, 1\), got 1\.5"):
        binomial_interval(1, 5, 1.5)
    with pytest.raises(ValueError, match=r"method must be one of .*got 'wald'"):
        binomial_interval(1, 5, 0.95, "wald")


def _exact_pooled_coverage(alpha: float, drafts: int, length: int) -> float:
    """P(alpha in the pooled Clopper-Pearson interval), by exact enumeration of the law of (S, R):
    each draft contributes (n, 1) with probability alpha^n (1 - alpha) for n < L and (L, 0) with
    probability alpha^L; the law of D drafts is the D-fold convolution."""
    one = np.zeros((length + 1, 2))
    one[:length, 1] = alpha ** np.arange(length) * (1 - alpha)
    one[length, 0] = alpha**length
    dist = np.ones((1, 1))
    for _ in range(drafts):
        new = np.zeros((dist.shape[0] + length, dist.shape[1] + 1))
        for m in range(length + 1):
            for r in range(2):
                new[m:m + dist.shape[0], r:r + dist.shape[1]] += one[m, r] * dist
        dist = new
    S, R = np.nonzero(dist > 0)
    lo, hi = binomial_interval(S, S + R, 0.95)
    return float(dist[S, R][(lo <= alpha) & (alpha <= hi)].sum())


@pytest.mark.parametrize("drafts, length", [(5, 3), (20, 5)])
def test_pooled_clopper_pearson_keeps_its_level_exactly(drafts, length):
    # the pooled count is not binomial (the trials depend on the outcomes); exact enumeration on
    # a grid of alpha shows the interval still covers with probability >= 0.95
    cover = [_exact_pooled_coverage(a, drafts, length) for a in np.linspace(0.02, 0.98, 25)]
    assert min(cover) >= 0.95, min(cover)


# ---------------------------------------------------------------------------- estimates
def test_mle_matches_generic_maximisation_of_the_censored_likelihood():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 9, 400)
    L, N = _log(np.full(8, 0.63), 400, rng, lengths)
    fit = fit_acceptance(record_counts(L, N))

    def nll(al):  # per draft: N log(alpha) + [N < L] log(1 - alpha)
        return -float(np.sum(N * np.log(al) + (N < L) * np.log1p(-al)))

    ref = optimize.minimize_scalar(nll, bounds=(1e-9, 1 - 1e-9), method="bounded", options={"xatol": 1e-12})
    assert fit.iid[0] == pytest.approx(ref.x, abs=1e-8)
    # positional: each position's binomial likelihood, maximised separately
    for i in range(8):
        n_i, a_i = int(fit.at_risk[0, i]), int(fit.accepted[0, i])
        if 0 < a_i < n_i:
            r = optimize.minimize_scalar(lambda p, a_i=a_i, n_i=n_i: -(a_i * np.log(p) + (n_i - a_i) * np.log1p(-p)),
                                         bounds=(1e-9, 1 - 1e-9), method="bounded", options={"xatol": 1e-12})
            assert fit.profile[0, i] == pytest.approx(r.x, abs=1e-8)


def test_estimates_converge_to_the_truth():
    rng = np.random.default_rng(4)
    errs = []
    for drafts in (200, 2000, 20000):
        _, N = _log(EAGLE, drafts, rng)
        fit = fit_acceptance(record_counts(np.full(drafts, 5), N))
        z = np.abs(fit.profile[0] - EAGLE) / fit.profile_std_error[0]
        assert np.all(z < 4.5), z  # within 4.5 standard errors at every size
        errs.append(np.max(np.abs(fit.profile[0] - EAGLE)))
    assert errs[2] < 0.02 and errs[2] < errs[0]


def test_fisher_standard_error_matches_the_spread_over_seeds():
    # Cramer-Rao: for many drafts the MLE's sd is 1/sqrt(I); compare with 300 seeded replications
    rng = np.random.default_rng(5)
    est, se = [], []
    for _ in range(300):
        _, N = _log(np.full(4, 0.7), 400, rng)
        f = fit_acceptance(record_counts(np.full(400, 4), N))
        est.append(f.iid[0])
        se.append(f.iid_std_error[0])
    sd = float(np.std(est, ddof=1))
    # the sd of 300 draws has a relative standard error ~ 1/sqrt(2 x 299) = 4%: allow 15%
    assert sd == pytest.approx(np.mean(se), rel=0.15)


@pytest.mark.parametrize("method", ["clopper-pearson", "jeffreys"])
def test_intervals_cover_the_truth_at_their_rate(method):
    # 300 seeded logs of 150 drafts from the EAGLE profile: coverage of every interval
    rng = np.random.default_rng(6)
    seeds = 300
    cov_iid = 0
    cov_pos = np.zeros(5, dtype=int)
    truth_iid = 0.7
    for _ in range(seeds):
        _, N = _log(EAGLE, 150, rng)
        f = fit_acceptance(record_counts(np.full(150, 5), N), interval=method)
        cov_pos += (f.profile_low[0] <= EAGLE) & (EAGLE <= f.profile_high[0])
        _, M = _log(np.full(5, truth_iid), 150, rng)
        g = fit_acceptance(record_counts(np.full(150, 5), M), interval=method)
        cov_iid += g.iid_low[0] <= truth_iid <= g.iid_high[0]
    lo = stats.binom.ppf(0.0005, seeds, 0.95)  # 99.9% band of Binomial(300, 0.95), lower end
    hi = seeds if method == "clopper-pearson" else stats.binom.isf(0.0005, seeds, 0.95)  # CP is conservative
    assert lo <= cov_iid <= hi, cov_iid
    assert np.all((lo <= cov_pos) & (cov_pos <= hi)), cov_pos


def test_lr_test_rejects_a_falling_profile():
    rng = np.random.default_rng(7)
    falling = np.array([0.9, 0.75, 0.6, 0.45, 0.3])
    for _ in range(20):
        _, N = _log(falling, 1000, rng)
        f = fit_acceptance(record_counts(np.full(1000, 5), N))
        assert f.lr_pvalue[0] < 1e-6 and f.select() == "positional"


def test_lr_test_holds_its_level_under_iid():
    # 400 seeded i.i.d. logs: the 5% test rejects Binomial(400, 0.05) times; accept the 99.9% band
    rng = np.random.default_rng(8)
    seeds = 400
    rejections = 0
    for _ in range(seeds):
        _, N = _log(np.full(5, 0.72), 600, rng)
        f = fit_acceptance(record_counts(np.full(600, 5), N))
        assert f.lr_df[0] == 4
        rejections += f.lr_pvalue[0] < 0.05
    assert stats.binom.ppf(0.0005, seeds, 0.05) <= rejections <= stats.binom.isf(0.0005, seeds, 0.05), rejections


def test_lr_statistic_equals_twice_the_loglik_gap():
    # reference: the two maximised log-likelihoods written out with scipy.special.xlogy
    from scipy.special import xlogy

    rng = np.random.default_rng(9)
    _, N = _log(EAGLE, 800, rng)
    f = fit_acceptance(record_counts(np.full(800, 5), N))
    n, a = f.at_risk[0].astype(float), f.accepted[0].astype(float)
    p = a / n
    l_pos = np.sum(xlogy(a, p) + xlogy(n - a, 1 - p))
    q = a.sum() / n.sum()
    l_iid = xlogy(a.sum(), q) + xlogy(n.sum() - a.sum(), 1 - q)
    assert f.lr_statistic[0] == pytest.approx(2 * (l_pos - l_iid), rel=1e-10)
    assert f.lr_pvalue[0] == pytest.approx(stats.chi2.sf(2 * (l_pos - l_iid), 4), rel=1e-8)


def test_combined_test_and_users():
    fit = fit_acceptance({"a": position_counts(1000, [800, 640, 512]), "b": position_counts(500, [400, 200])})
    assert fit.users == ("a", "b") and fit.positions.tolist() == [3, 2]
    assert fit.combined_lr_df == 2 + 1
    assert fit.combined_lr_statistic == pytest.approx(fit.lr_statistic.sum())
    assert not fit.identified[1, 2] and fit.profile_low[1, 2] == 0.0 and fit.profile_high[1, 2] == 1.0
    with pytest.raises(ValueError, match=r"users must be 2 distinct labels, got \['x', 'x'\]"):
        fit_acceptance([position_counts(10, [5]), position_counts(10, [5])], users=["x", "x"])
    with pytest.raises(ValueError, match=r"counts\[0\] must be AcceptanceCounts"):
        fit_acceptance([[1, 2]])
    with pytest.raises(ValueError, match=r"counts must hold at least one user"):
        fit_acceptance([])


def test_mean_acceptance_length():
    rng = np.random.default_rng(10)
    _, N = _log(np.full(5, 0.75), 3000, rng)
    f = fit_acceptance(record_counts(np.full(3000, 5), N))
    # vLLM's logged value: 1 + accepted / drafts (vllm/v1/spec_decode/metrics.py, SpecDecodingLogging.log)
    assert f.observed_mean_acceptance_length[0] == pytest.approx(1 + N.sum() / 3000)
    v, lo, hi = (x[0] for x in f.mean_acceptance_length["iid"])
    assert v == pytest.approx(float(expected_tokens(f.iid[0], 5)))
    assert lo < float(expected_tokens(0.75, 5)) < hi
    # the positional implied value at the MLE equals the observed mean for one draft length
    vp, lop, hip = (x[0] for x in f.mean_acceptance_length["positional"])
    assert vp == pytest.approx(f.observed_mean_acceptance_length[0], rel=1e-12)
    assert lop <= lo and hi <= hip  # the Bonferroni box is wider than the one-parameter interval


def test_alpha_for_a_scenario_and_the_boundary():
    f = fit_acceptance({"u": position_counts(4, [4, 4, 2])})
    with pytest.raises(ValueError, match=r"position-dependent estimate of user 'u' at position 1 is 1"):
        f.alpha("positional")
    jef = f.alpha("positional", point="jeffreys")
    assert np.all((jef > 0) & (jef < 1)) and jef[0, 0] == pytest.approx(4.5 / 5)
    assert f.alpha("iid").shape == (1,)
    with pytest.raises(ValueError, match=r"positions must be an integer in \[1, 3\]"):
        f.alpha("positional", "jeffreys", positions=4)
    with pytest.raises(ValueError, match=r"model must be one of \('iid', 'positional'\), got 'x'"):
        f.alpha("x")
    g = fit_acceptance({"v": position_counts(10, [10])})
    with pytest.raises(ValueError, match=r"i\.i\.d\. estimate of user 'v' is 1"):
        g.alpha("iid")


# ---------------------------------------------------------------------------- decisions
def _fitted(seed=11, K=2):
    rng = np.random.default_rng(seed)
    counts = {}
    for k in range(K):
        _, N = _log(EAGLE, 1500, rng)
        counts[f"u{k}"] = record_counts(np.full(1500, 5), N)
    return fit_acceptance(counts)


def test_decision_uncertainty_reports_both_regimes():
    fit = _fitted()
    s = Scenario.preset("default", n_users=2)
    du = decision_uncertainty(s, fit, model="iid", draws=6, seed=3, users=(1, 2, 4))
    assert du.model == "iid" and du.draws == 6 and du.rejected_draws == []
    for regime in ("homogeneous", "heterogeneous"):
        r = du.regimes[regime]
        assert r["solved"] + len(r["failures"]) == 6
        assert r["goodput_low"] <= r["goodput_high"]
        assert 0.0 <= r["lengths_changed"] <= 1.0
    # the homogeneous solver is exact: no draw's optimum is beaten by the point decision
    h = du.regimes["homogeneous"]
    assert h["regret"] >= -1e-9 * h["goodput"] and h["beaten_by_point"] == 0
    base = s.replace(alpha=fit.alpha("iid"))
    assert h["goodput"] == pytest.approx(solve_homogeneous(base).goodput, rel=1e-12)
    assert du.batch_table["users"].tolist() == [1, 2, 4]
    assert np.all(du.batch_table["draft_length_low"] <= du.batch_table["draft_length"])
    assert np.all(du.batch_table["draft_length"] <= du.batch_table["draft_length_high"])
    # deterministic for a seed
    again = decision_uncertainty(s, fit, model="iid", draws=6, seed=3, users=(1, 2, 4))
    assert again.to_dict() == du.to_dict()


def test_decision_uncertainty_records_solver_failures(monkeypatch):
    import numerics.acceptance as acc

    fit = _fitted()
    s = Scenario.preset("default", n_users=2)
    real = acc._solve
    calls = {"n": 0}

    def flaky(scenario, regime):
        if regime == "heterogeneous":
            calls["n"] += 1
            if calls["n"] == 3:  # the second draw (the first call solves the point estimate)
                raise RuntimeError("no bracket")
        return real(scenario, regime)

    monkeypatch.setattr(acc, "_solve", flaky)
    du = decision_uncertainty(s, fit, model="positional", draws=4, seed=0, users=(1,))
    het = du.regimes["heterogeneous"]
    assert het["failures"] == [(1, "RuntimeError: no bracket")] and het["solved"] == 3


def test_regret_against_the_definition():
    # one draw, recomputed by hand: G*(alpha*) - G(alpha*; point decision)
    fit = _fitted(K=1)
    s = Scenario.preset("default", n_users=1)
    du = decision_uncertainty(s, fit, model="iid", draws=1, seed=5, regimes=("homogeneous",), users=(1,))
    point = solve_homogeneous(s.replace(alpha=fit.alpha("iid")))
    rng = np.random.default_rng(np.random.SeedSequence(5))
    from numerics.acceptance import _bootstrap_counts

    acc_, risk = _bootstrap_counts(fit.counts[0].drafts_by_length, np.full(5, fit.iid[0]), 1, rng)
    star = s.replace(alpha=[acc_.sum() / risk.sum()])
    ref = solve_homogeneous(star).goodput - goodput(star, point.draft_lengths, point.bandwidth)
    assert du.regimes["homogeneous"]["regret"] == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_batch_size_table_is_the_run_length_encoding_of_single_solves():
    s = Scenario.preset("default", n_users=3)
    tab = draft_length_by_batch_size(s, 12)
    L = [int(solve_homogeneous(cycle_users(s, K)).draft_lengths[0]) for K in range(1, 13)]
    assert tab["draft_length"].tolist() == L
    runs = tab["num_speculative_tokens_per_batch_size"]
    assert runs[0][0] == 1 and runs[-1][1] == 12
    assert sum(end - start + 1 for start, end, _ in runs) == 12
    assert [Lr for start, end, Lr in runs for _ in range(start, end + 1)] == L
    with pytest.raises(ValueError, match=r"max_users must be an integer >= 1, got 0"):
        draft_length_by_batch_size(s, 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(draws=0), r"draws must be an integer >= 1, got 0"),
    (dict(seed=-1), r"seed must be an integer >= 0, got -1"),
    (dict(regimes=("fast",)), r"regimes must be one of \('homogeneous', 'heterogeneous'\), got 'fast'"),
    (dict(users=(0,)), r"users must be a non-empty sequence of integers in \[1, 1000000\], got \(0,\)"),
    (dict(draws=10**11), r"draws must be <= 100000 \(limit numerics.acceptance.MAX_DRAWS\), got 100000000000"),
    (dict(model="tree"), r"model must be one of \('iid', 'positional'\), got 'tree'"),
    (dict(confidence=0.0), r"confidence must lie in \(0, 1\), got 0\.0"),
])
def test_decision_uncertainty_validates(kwargs, match):
    fit = _fitted(K=1)
    with pytest.raises(ValueError, match=match):
        decision_uncertainty(Scenario.preset("default", n_users=1), fit, **kwargs)


def test_decision_uncertainty_needs_matching_users():
    with pytest.raises(ValueError, match=r"fit has 2 users but the scenario has 3"):
        decision_uncertainty(Scenario.preset("default", n_users=3), _fitted())
    assert isinstance(_fitted(), AcceptanceFit)


# ---------------------------------------------------------------------------- any valid log
@st.composite
def _records(draw):
    n = draw(st.integers(1, 40))
    lengths = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    if max(lengths) == 0:
        lengths[0] = 1
    accepted = [draw(st.integers(0, L)) for L in lengths]
    return lengths, accepted


@given(_records(), st.sampled_from(["clopper-pearson", "jeffreys"]))
def test_every_valid_log_gets_a_finite_fit(rec, method):
    lengths, accepted = rec
    f = fit_acceptance(record_counts(lengths, accepted), interval=method)
    arrays = [f.iid, f.iid_low, f.iid_high, f.iid_std_error, f.profile, f.profile_low, f.profile_high,
              f.profile_std_error, f.lr_statistic[f.lr_tested], f.lr_pvalue[f.lr_tested],
              f.observed_mean_acceptance_length]
    arrays += [x for triple in f.mean_acceptance_length.values() for x in triple]
    assert all(np.all(np.isfinite(a)) for a in arrays)  # records identify everything: no NaN
    # the test needs two reached positions; untested users carry NaN (documented) and no p-value
    assert np.array_equal(f.lr_tested, f.identified.sum(axis=1) >= 2)
    assert np.all(np.isnan(f.lr_pvalue[~f.lr_tested]))
    assert np.all(f.iid_low <= f.iid) and np.all(f.iid <= f.iid_high)
    assert np.all(f.profile_low <= f.profile) and np.all(f.profile <= f.profile_high)
    t = f.lr_tested
    assert np.all(f.lr_statistic[t] >= 0) and np.all((0 <= f.lr_pvalue[t]) & (f.lr_pvalue[t] <= 1))
    # the point rule that never leaves the model always gives a valid scenario alpha
    assert np.all(f.alpha("iid", "jeffreys") < 1) and np.all(f.alpha("positional", "jeffreys") < 1)


# ---------------------------------------------------------------------------- vLLM counters of varying draft lengths
# New-user report on issue 13, findings 1-2: counters of drafts shorter than P do not identify the
# at-risk counts; the fit must use every constraint they imply and report only what is identified.
def _iid_drafts(alpha: float, lengths: np.ndarray, rng) -> np.ndarray:
    """Accepted counts of i.i.d. drafts by inversion, N = min(L, floor(ln U / ln alpha)) (numerics.simulate)."""
    U = 1.0 - rng.random(lengths.size)
    return np.minimum(lengths, np.floor(np.log(U) / np.log(alpha))).astype(np.int64)


def _brute_splits(N, P, T, min_length):
    """Every split (F_l censored drafts of length l) of some assignment of draft lengths to the drafts:
    a draft with N accepted has a length in [max(N, min_length), P] (N = P: length P), censored iff
    L = N < P; keep the assignments whose lengths sum to T (itertools.product over every draft)."""
    import itertools

    choices = [[L for L in range(max(n, min_length), P + 1)] if n < P else [P] for n in N]
    splits = set()
    for Ls in itertools.product(*choices):
        if sum(Ls) == T:
            F = [0] * P
            for L, n in zip(Ls, N, strict=True):
                if L == n < P:
                    F[n] += 1
            splits.add(tuple(F))
    return splits


def test_short_draft_bounds_equal_brute_force_enumeration():
    # the exact integer bounds of n_i and of sum n_i under both constraints (upper and lower),
    # against every assignment of draft lengths consistent with the counters (small logs)
    rng = np.random.default_rng(21)
    checked = refused = 0
    for _ in range(400):
        P, D, ml = int(rng.integers(1, 5)), int(rng.integers(1, 7)), int(rng.integers(0, 2))
        N = rng.integers(0, P + 1, D)
        a = [int(np.count_nonzero(N > i)) for i in range(P)]
        T = int(rng.integers(max(int(N.sum()), 1), D * P + 1))
        splits = _brute_splits(N.tolist(), P, T, ml)
        try:
            c = position_counts(D, a, draft_tokens=T, min_draft_length=ml)
        except ValueError:
            assert not splits, (N, P, T, ml)
            refused += 1
            continue
        assert splits, (N, P, T, ml)
        at_risk = np.array([D, *a[:-1]])
        n = np.array([at_risk - np.array(F) for F in splits])  # n_i = a_{i-1} - F_{i-1}
        assert c.at_risk_low.tolist() == n.min(axis=0).tolist() and c.at_risk_high.tolist() == n.max(axis=0).tolist()
        assert (c.pooled_at_risk_low, c.pooled_at_risk_high) == (int(n.sum(axis=1).min()), int(n.sum(axis=1).max()))
        checked += 1
    assert checked > 250 and refused > 5  # both outcomes exercised


def test_handed_counters_whose_short_drafts_must_be_censored():
    # finding 2: 1000 drafts, 2000 draft tokens, accepted [800, 600, 400]. Rejected drafts with N = 0, 1, 2
    # can fall short by at most 2 x 200 + 1 x 200 + 0 = 600 of the 1000 missing tokens, so >= 400 short
    # drafts were accepted in full (hand count). Without empty drafts (min_draft_length = 1) the split is
    # forced (F_1 = F_2 = 200): n = [1000, 600, 400], profile [0.8, 1, 1], i.i.d. 1800 / 2000 = 0.9.
    c = position_counts(1000, [800, 600, 400], draft_tokens=2000, accepted_tokens=1800, min_draft_length=1)
    assert c.identified and c.at_risk.tolist() == [1000, 600, 400]
    f = fit_acceptance(c)
    assert f.profile[0].tolist() == [0.8, 1.0, 1.0] and f.iid[0] == 0.9
    # with empty drafts possible (vLLM's default): sum F in [400, 533] (hand count: cheapest first,
    # 200 x 1 + 200 x 2 + 133 x 3 <= 1000), so the pooled MLE lies in [1800/2000, 1800/1867]; never F = 0
    g = fit_acceptance(position_counts(1000, [800, 600, 400], draft_tokens=2000))
    assert not g.point_identified[0]
    assert g.iid_estimate_low[0] == 0.9 and g.iid_estimate_high[0] == pytest.approx(1800 / 1867, rel=1e-15)
    assert g.iid_estimate_low[0] <= g.iid[0] <= g.iid_estimate_high[0]
    assert g.iid_low[0] <= g.iid_estimate_low[0] and g.iid_estimate_high[0] <= g.iid_high[0]
    assert np.all(np.isnan(g.profile[0])) and not g.lr_tested[0] and g.select() == "iid"
    with pytest.raises(ValueError, match=r"no position-dependent profile is identified"):
        g.alpha("positional")


def test_counters_where_every_drafted_token_was_accepted():
    # finding 2, second case: 1400 draft tokens, 1400 accepted, [800, 600]: every draft was accepted in
    # full, the 200 drafts with N = 0 were empty (the only consistent split): n = [800, 600], alpha = 1
    c = position_counts(1000, [800, 600], draft_tokens=1400, accepted_tokens=1400)
    assert c.identified and c.at_risk.tolist() == [800, 600]
    f = fit_acceptance(c)
    assert f.iid[0] == 1.0 and f.profile[0].tolist() == [1.0, 1.0] and f.lr_statistic[0] == 0.0
    with pytest.raises(ValueError, match=r"is 1 .*multispin fit --point jeffreys"):
        f.alpha("iid")
    assert f.alpha("iid", "jeffreys")[0] == pytest.approx(1400.5 / 1401)
    with pytest.raises(ValueError, match=r"1400 \+ 200 = 1600 \(min_draft_length = 1"):
        position_counts(1000, [800, 600], draft_tokens=1400, min_draft_length=1)


@pytest.mark.parametrize("share_short", [0.2, 1.0])
def test_varying_draft_lengths_keep_the_test_size_and_the_coverage(share_short):
    # finding 1: i.i.d. alpha = 0.8, P = 5, D = 2000, a share of the drafts of length U{1..5}; 200 seeds.
    # The counters' fit must not reject i.i.d. more often than 5% (99.9% band of Binomial(200, 0.05)),
    # --auto must not invent a profile, the interval must cover 0.8 at >= 95% (band of Binomial(200, 0.95)),
    # and the i.i.d. estimate must be consistent (mean within 4 standard errors of 0.8)
    rng = np.random.default_rng(22)
    seeds, P, D, truth = 200, 5, 2000, 0.8
    rejected = covered = auto_profile = 0
    est = []
    for _ in range(seeds):
        lengths = np.where(rng.random(D) < share_short, rng.integers(1, P + 1, D), P)
        N = _iid_drafts(truth, lengths, rng)
        f = fit_acceptance(position_counts(D, [int(np.count_nonzero(N > i)) for i in range(P)],
                                           draft_tokens=int(lengths.sum()), accepted_tokens=int(N.sum())))
        rejected += bool(f.lr_tested[0] and f.lr_pvalue[0] < 0.05)
        auto_profile += f.select() == "positional"
        covered += f.iid_low[0] <= truth <= f.iid_high[0]
        est.append(f.iid[0])
    assert rejected <= stats.binom.isf(0.0005, seeds, 0.05) and auto_profile == rejected
    assert covered >= stats.binom.ppf(0.0005, seeds, 0.95)
    assert abs(np.mean(est) - truth) < 4 * np.std(est, ddof=1) / np.sqrt(seeds), np.mean(est)


def test_decisions_carry_the_ambiguity_of_the_counters():
    # finding 1 (decisions): counters of i.i.d. alpha = 0.8 drafts of length U{1..5} (5000 drafts): the
    # goodput interval must contain the optimum at the true alpha (solve_homogeneous at alpha = 0.8),
    # and the batch-size table stays within the server's 5 positions
    rng = np.random.default_rng(2024)
    lengths = rng.integers(1, 6, 5000)
    N = _iid_drafts(0.8, lengths, rng)
    fit = fit_acceptance(position_counts(5000, [int(np.count_nonzero(N > i)) for i in range(5)],
                                         draft_tokens=int(lengths.sum())))
    s = Scenario.preset("default", n_users=1)
    du = decision_uncertainty(s, fit, model="iid", draws=40, seed=1, regimes=("homogeneous",), users=(1, 8))
    truth = solve_homogeneous(s.replace(alpha=[0.8])).goodput
    h = du.regimes["homogeneous"]
    assert du.ambiguous and h["solved"] == 80  # 40 draws at each end of the identified set
    assert h["goodput_low"] <= truth <= h["goodput_high"], (h["goodput_low"], truth, h["goodput_high"])
    assert du.table_max_draft == 5 and max(r[2] for r in du.num_speculative_tokens_per_batch_size) <= 5
    assert any("both ends of the identified set" in n for n in du.notes)


# ---------------------------------------------------------------------------- batch-size table
def test_batch_table_recommends_no_speculation_where_the_autoregressive_round_wins():
    # finding 3: alpha = 0.5 on the default preset, users cycled to K: for large K drafting loses goodput.
    # Reference for L = 0: the autoregressive goodput K / (v0 + v1 K + overhead) (docs/model.md sec. 3,
    # written out here); for L >= 1 the table's goodput is the homogeneous optimum (solve_homogeneous)
    s = Scenario.preset("default", n_users=1).replace(alpha=[0.5])
    tab = draft_length_by_batch_size(s, 64)
    for K, L, G in zip(tab["users"], tab["draft_length"], tab["goodput"], strict=True):
        cyc = cycle_users(s, int(K))
        ar = K / (cyc.v0 + cyc.v1 * K + cyc.overhead)
        best_drafting = solve_homogeneous(cyc).goodput
        assert G == pytest.approx(max(ar, best_drafting), rel=1e-12)
        assert (L == 0) == (ar > best_drafting)
    assert tab["draft_length"][-1] == 0  # 64 users: 1539.9 tokens/s autoregressive against 1241.8 at L = 1
    assert tab["num_speculative_tokens_per_batch_size"][-1][2] == 0


def test_batch_table_stays_within_the_servers_draft_length():
    # finding 12: an i.i.d. fit of a log with num_speculative_tokens = 5 on a preset with max_draft 16
    fit = fit_acceptance(position_counts(2000, [1800, 1620, 1458, 1312, 1181], draft_tokens=10000))
    s = Scenario.preset("default", n_users=1)
    assert s.max_draft > 5
    du = decision_uncertainty(s, fit, model="iid", draws=4, seed=0, regimes=("homogeneous",), users=(1, 2))
    assert du.table_max_draft == 5 and all(r[2] <= 5 for r in du.num_speculative_tokens_per_batch_size)
    assert any("extrapolate" in n for n in du.notes) and any("at least 40" in n for n in du.notes)
    tab = draft_length_by_batch_size(s.replace(alpha=[0.9]), 4, max_draft=5)
    assert tab["max_draft"] == 5 and tab["draft_length"].max() <= 5
    with pytest.raises(ValueError, match=r"max_draft must be an integer >= 1, got 0"):
        draft_length_by_batch_size(s, 4, max_draft=0)


# ---------------------------------------------------------------------------- small samples, Jeffreys, limits
def test_small_sample_flag_follows_the_expected_cell_counts():
    # finding 11: Cochran's rule, every expected count n_i alpha0 and n_i (1 - alpha0) of a tested position
    # >= 5. Hand computation: D = 30 drafts, a = [29, 28, 27], alpha0 = 84/87; the smallest expected
    # rejection count is 28 x 3/87 = 0.97 < 5: flagged. D = 600 at alpha = 0.72: every count >= 5.
    f = fit_acceptance(position_counts(30, [29, 28, 27]))
    assert f.lr_tested[0] and f.lr_small_sample[0]
    assert min(n * (1 - 84 / 87) for n in (30, 29, 28)) < 5
    g = fit_acceptance(position_counts(600, [432, 311, 224, 161, 116]))
    assert g.lr_tested[0] and not g.lr_small_sample[0]
    # the report's designs (size 0.0645 and 0.0005 at level 0.05 over 4000 seeds): flagged in most seeds
    rng = np.random.default_rng(23)
    for alpha, P, D in [(0.95, 8, 30), (0.99, 16, 20)]:
        flags = 0
        for _ in range(50):
            N = _iid_drafts(alpha, np.full(D, P), rng)
            h = fit_acceptance(position_counts(D, [int(np.count_nonzero(N > i)) for i in range(P)]))
            flags += bool(h.lr_small_sample[0] or not h.lr_tested[0])
        assert flags == 50


def _exact_binomial_coverage(n: int, p: float, method: str) -> float:
    """P(p in the interval) for X ~ Binomial(n, p): sum of scipy.stats.binom.pmf over the covering x."""
    x = np.arange(n + 1)
    lo, hi = binomial_interval(x, np.full(n + 1, n), 0.95, method)
    return float(stats.binom.pmf(x, n, p)[(lo <= p) & (p <= hi)].sum())


def test_clopper_pearson_is_exact_and_jeffreys_is_not():
    # finding 10: exact coverage by enumeration over X ~ Binomial(30, p) on a grid of p (the values
    # docs/model.md quotes: Jeffreys down to 0.889 near p = 0.92, Clopper-Pearson >= 0.950)
    grid = np.linspace(0.80, 0.999, 400)
    cp = [_exact_binomial_coverage(30, p, "clopper-pearson") for p in grid]
    jef = [_exact_binomial_coverage(30, p, "jeffreys") for p in grid]
    assert min(cp) >= 0.95
    assert min(jef) == pytest.approx(0.8885, abs=5e-4) and abs(grid[int(np.argmin(jef))] - 0.92) < 0.005


def test_counts_limits_and_types():
    from numerics.validation import MAX_DRAFT

    # finding 5: draft lengths and positions are limited like max_draft
    with pytest.raises(ValueError, match=r"draft_lengths must be <= 1000000 \(limit numerics.validation.MAX_DRAFT\), "
                                         r"got 1000000000000000 in record 0"):
        record_counts([10**15], [5])
    with pytest.raises(ValueError, match=r"accepted_per_position must be <= 1000000 positions"):
        position_counts(10, np.zeros(MAX_DRAFT + 1, dtype=np.int64))
    # finding 9: bools and strings are not counts (docs/model.md "Type rules")
    with pytest.raises(ValueError, match=r"draft_lengths must be .*True is not a number"):
        record_counts([True, 2], [1, 1])
    with pytest.raises(ValueError, match=r"successes must be a number or an array of numbers, got True"):
        binomial_interval(True, 10)
    # finding 7: 2^53 - 1 is the largest count, exact (Python integers, exact arithmetic)
    c = position_counts(2**53 - 1, [2**52])
    assert c.at_risk.tolist() == [2**53 - 1] and fit_acceptance(c).iid[0] == pytest.approx(2**52 / (2**53 - 1))


def test_profile_entries_are_limited(monkeypatch):
    import numerics.acceptance as acc

    monkeypatch.setattr(acc, "MAX_PROFILE_ENTRIES", 5)
    with pytest.raises(ValueError, match=r"users x longest draft = 2 x 3 = 6 exceeds 5 profile entries"):
        fit_acceptance([position_counts(10, [5, 3, 1]), position_counts(10, [5])])


@given(_records(), st.booleans())
def test_every_consistent_counters_log_gets_a_fit_that_brackets_the_truth(rec, no_empty):
    # counters derived from any records (vLLM's observe_draft): never refused, the true n_i (from the
    # records) inside the bounds, and every reported set inside its interval
    lengths, accepted = rec
    lengths = [max(L, 1) for L in lengths] if no_empty else lengths
    accepted = [min(n, L) for n, L in zip(accepted, lengths, strict=True)]
    P = max(lengths)
    N = np.array(accepted)
    c = position_counts(len(lengths), [int(np.count_nonzero(N > i)) for i in range(P)],
                        draft_tokens=int(sum(lengths)), min_draft_length=int(no_empty))
    truth = record_counts(lengths, accepted)
    n_true = np.zeros(P, dtype=np.int64)
    n_true[:truth.positions] = truth.at_risk
    assert np.all(c.at_risk_low <= n_true) and np.all(n_true <= c.at_risk_high)
    f = fit_acceptance(c)
    assert f.iid_low[0] <= f.iid_estimate_low[0] <= f.iid[0] <= f.iid_estimate_high[0] <= f.iid_high[0]
    assert np.all(f.profile_low <= f.profile_estimate_low) and np.all(f.profile_estimate_high <= f.profile_high)
    assert np.all(np.isfinite(f.profile[f.identified])) and np.all(np.isnan(f.profile[f.reached & ~f.identified]))
    assert np.all(f.alpha("iid", "jeffreys") < 1)
