"""The Monte Carlo simulator: agreement with the analytic goodput of every solver output and
baseline, interval coverage, the samplers' laws, fading, edge cases, and input validation.

Reference values: the analytic goodput of numerics.latency.goodput (the closed form of
MODEL.md section 2, itself tied to theory/ by its own tests) and the exact pmf
numerics.accepted_pmf; statistical tolerances are stated beside each assertion.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from numerics import BASELINES, Scenario, accepted_pmf, baseline, equal_finish_allocation, goodput
from numerics.channel import rate
from numerics.simulate import SimulationResult, faded_rate, sample_prefix, simulate

SMALL = Scenario(alpha=[0.8, 0.6, 0.9], t_draft=[0.01, 0.02, 0.005], bits_per_token=[100, 300, 50],
                 bandwidth_hz=1e4, spectral_efficiency=[1.0, 2.0, 0.5], v0=0.1, v1=0.002)

#: (preset, overrides): linear/ragged, Shannon/padded, position-dependent profile
CASES = [("default", {}), ("default-shannon", {"batching": "padded"}), ("llama2-eagle", {})]
N_COMPARISONS = len(CASES) * len(BASELINES)
#: Bonferroni: the family of comparisons below fails with probability <= 5% if all agree
FAMILY_LEVEL = 1 - 0.05 / N_COMPARISONS


@pytest.mark.parametrize("name, overrides", CASES)
def test_agrees_with_analytic_goodput_of_every_solver_and_baseline(name, overrides):
    s = Scenario.preset(name, **overrides)
    for i, method in enumerate(BASELINES):
        sol = baseline(s, method)
        res = simulate(s, sol, rounds=20_000, seed=100 + i, confidence=FAMILY_LEVEL)
        ref = goodput(s, sol.draft_lengths, sol.bandwidth)
        assert sol.goodput == pytest.approx(ref, rel=1e-12)
        assert res.contains(ref), (method, res.goodput, ref, res.half_width)
        # no fading: the round time is deterministic and equals the analytic one
        assert res.mean_round_time == pytest.approx(sol.round_time, rel=1e-12)
        assert res.truncated_fraction == 0.0


def test_interval_coverage_is_nominal():
    # 400 independent replications of a 95% interval: the number covering the truth is
    # Binomial(400, 0.95) (mean 380, sd 4.36) if the interval is right; accept +-3.2 sd
    beta, _ = equal_finish_allocation(SMALL, [3, 3, 3])
    ref = goodput(SMALL, [3, 3, 3], beta)
    covered = sum(simulate(SMALL, ([3, 3, 3], beta), rounds=400, seed=s).contains(ref) for s in range(400))
    assert 366 <= covered <= 394


def test_iid_sampler_matches_truncated_geometric_pmf():
    rng = np.random.default_rng(1)
    alpha = np.array([0.0, 0.3, 0.8, 1 - 1e-12])
    L = np.array([5, 5, 5, 5])
    n = 200_000
    N = sample_prefix(alpha, L, 1.0 - rng.random((n, 4)))
    for k in range(4):
        emp = np.bincount(N[:, k], minlength=6) / n
        pmf = accepted_pmf(alpha[k], 5)
        se = np.sqrt(pmf * (1 - pmf) / n)
        assert np.all(np.abs(emp - pmf) <= 5 * se + 1e-12)  # 5 standard errors per cell


def test_positional_sampler_matches_product_law():
    rng = np.random.default_rng(2)
    prof = np.array([[0.9, 0.5, 0.7, 0.0, 0.9], [0.76, 0.69, 0.67, 0.68, 0.68]])
    L = np.array([5, 3])
    n = 200_000
    N = sample_prefix(prof, L, 1.0 - rng.random((n, 2, 5)))
    for k in range(2):
        # P(N >= i) = prod_{j <= i} alpha_j for i <= L_k, 0 beyond
        surv = np.concatenate([[1.0], np.cumprod(prof[k, :L[k]])])
        pmf = surv - np.concatenate([surv[1:], [0.0]])
        emp = np.bincount(N[:, k], minlength=L[k] + 1)[: L[k] + 1] / n
        assert N[:, k].max() <= L[k]
        se = np.sqrt(pmf * (1 - pmf) / n)
        assert np.all(np.abs(emp - pmf) <= 5 * se + 1e-12)
    assert N[:, 0].max() <= 3  # alpha_4 = 0: never more than 3 accepted


def test_alpha_zero_is_deterministic():
    s = SMALL.replace(alpha=0.0)
    beta, _ = equal_finish_allocation(s, [2, 2, 2])
    r = simulate(s, ([2, 2, 2], beta), rounds=50, seed=0)
    assert r.mean_tokens == 3.0 and r.std_error == 0.0
    assert r.goodput == pytest.approx(goodput(s, [2, 2, 2], beta), rel=1e-14)


def test_long_drafts_and_alpha_near_one():
    s = Scenario(alpha=[1 - 1e-12, 0.999], t_draft=1e-4, bits_per_token=10, bandwidth_hz=1e6,
                 spectral_efficiency=1.0, v0=0.05, max_draft=3000)
    beta, _ = equal_finish_allocation(s, [3000, 2000])
    r = simulate(s, ([3000, 2000], beta), rounds=2000, seed=3)
    assert np.isfinite(r.goodput) and r.tokens_per_user[0] == pytest.approx(3001, abs=0.1)
    assert r.contains(goodput(s, [3000, 2000], beta))


def test_zero_draft_users_and_positional_zero():
    s = Scenario.preset("llama2-eagle")
    beta = np.full(4, 0.25)
    L = [0, 5, 0, 16]
    r = simulate(s, (L, beta), rounds=5000, seed=4)
    assert r.tokens_per_user[0] == 1.0 and r.tokens_per_user[2] == 1.0
    assert r.contains(goodput(s, L, beta))


def test_deterministic_for_a_seed():
    beta, _ = equal_finish_allocation(SMALL, [2, 4, 6])
    a = simulate(SMALL, ([2, 4, 6], beta), rounds=3000, seed=11, fading=True)
    b = simulate(SMALL, ([2, 4, 6], beta), rounds=3000, seed=11, fading=True)
    c = simulate(SMALL, ([2, 4, 6], beta), rounds=3000, seed=12, fading=True)
    assert a.to_dict() == b.to_dict() and a.goodput != c.goodput


# ---------------------------------------------------------------- fading
@pytest.mark.parametrize("model, channel", [("linear", [0.1, 1.0, 5.5]), ("shannon", [0.1, 3.0, 46.0])])
def test_faded_rate_at_unit_gain_is_the_nominal_rate(model, channel):
    beta = np.array([1e-6, 0.3, 1.0])
    np.testing.assert_allclose(faded_rate(model, beta, 1e6, channel, 1.0), rate(model, beta, 1e6, channel), rtol=1e-13)
    # and increases with the gain
    assert np.all(np.diff(faded_rate(model, 0.3, 1e6, 1.0, np.array([0.01, 0.5, 1.0, 4.0]))) > 0)


def test_fading_without_upload_changes_nothing():
    s = SMALL.replace(bits_per_token=0.0)
    p = ([2, 3, 4], np.zeros(3))
    a = simulate(s, p, rounds=3000, seed=5)
    b = simulate(s, p, rounds=3000, seed=5, fading=True)
    assert a.goodput == b.goodput and b.truncated_fraction == 0.0


def test_fading_lowers_goodput_when_upload_dominates():
    # Jensen: E[1 / log2(1 + rho g)] > 1 / log2(1 + rho) for g ~ Exp(1); with a deadline far
    # away the mean upload time grows, so the goodput falls below the fading-free value
    s = SMALL.replace(t_draft=1e-4)
    beta, _ = equal_finish_allocation(s, [3, 3, 3])
    ref = goodput(s, [3, 3, 3], beta)
    r = simulate(s, ([3, 3, 3], beta), rounds=20_000, seed=6, fading=True, deadline_factor=1e6)
    assert r.ci_high < ref and r.truncated_fraction == 0.0


def test_deadline_bounds_the_round():
    beta, _ = equal_finish_allocation(SMALL, [3, 3, 3])
    T0 = SMALL.v0 + SMALL.v1 * 12
    makespan = max(3 * (SMALL.t_draft + SMALL.bits_per_token / rate("linear", beta, 1e4, SMALL.spectral_efficiency)))
    r = simulate(SMALL, ([3, 3, 3], beta), rounds=20_000, seed=8, fading=True, deadline_factor=1.5)
    assert 0 < r.truncated_fraction < 1
    assert r.mean_round_time <= 1.5 * makespan + T0 + 1e-12


def test_progress_bar_runs(capsys):
    r = simulate(SMALL, ([1, 1, 1], [0.3, 0.3, 0.3]), rounds=10, seed=0, progress=True)
    assert isinstance(r, SimulationResult) and "rounds" in capsys.readouterr().err


def test_interval_agrees_with_the_delta_method_when_rounds_vary():
    # empirical likelihood and the delta method are first-order equivalent (Owen 2001, ch. 3):
    # with 20000 varying rounds the half widths agree to a few percent (the EL interval is
    # slightly asymmetric, following the skewness of the tokens per round)
    r = simulate(SMALL, ([2, 2, 2], [0.3, 0.3, 0.3]), rounds=20_000, seed=9, confidence=0.9)
    z = statistics.NormalDist().inv_cdf(0.95)
    assert r.method == "empirical-likelihood"
    assert r.half_width == pytest.approx(z * r.std_error, rel=0.03)
    assert r.ci_low < r.goodput < r.ci_high


# ---------------------------------------------------------------- validation
P0 = ([1, 1, 1], [0.3, 0.3, 0.3])


@pytest.mark.parametrize("kwargs, match", [
    (dict(solution="x"), "solution must be a Solution or a pair"),
    (dict(solution=([1, 1], [0.3, 0.3])), "L must be a scalar or have length K=3"),
    (dict(solution=([1, 1, 99], [0.3, 0.3, 0.3])), "L must lie in"),
    (dict(solution=([1, 1, 1], [0.5, 0.5, 0.5])), "beta must sum to at most 1"),
    (dict(rounds=1), "rounds must be an integer >= 2"),
    (dict(rounds=100.0), "rounds must be an integer >= 2"),
    (dict(seed=-1), "seed must be an integer >= 0"),
    (dict(seed=True), "seed must be an integer >= 0"),
    (dict(fading="yes"), "fading must be True or False"),
    (dict(confidence=1.0), r"confidence must lie in \(0, 1\)"),
    (dict(deadline_factor=0.5), "deadline_factor must be a finite number >= 1"),
])
def test_bad_input(kwargs, match):
    args = dict(solution=P0, rounds=10, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate(SMALL, **args)


def test_zero_round_time():
    """A scenario whose rounds could take no time is refused when it is built (v0 + v1 K + overhead
    >= 1e-12 s, numerics.validation.MIN_ROUND_TIME), before a simulation could divide by it."""
    with pytest.raises(ValueError, match=r"v0 \+ v1 K \+ overhead .* must be >= 1e-12 s"):
        SMALL.replace(v0=0.0, v1=0.0, t_draft=0.0, bits_per_token=0.0)
