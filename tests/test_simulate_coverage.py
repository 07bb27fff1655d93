"""Coverage of the simulator's 95% interval across the alpha range (issue 13, item 6).

Handed case (issue 13): ``simulate`` on alpha = 0.999999 (t_draft 0.004 s, 1088 bits per token,
B = 1.4 MHz, eta = 2.4, v0 = 0.026 s, max_draft 16, one user, the homogeneous optimum) returned a
zero-width interval that excluded the analytic goodput; over 100 seeds the 95% delta-method
interval covered it 35% of the time (65 zero-width intervals).

Follow-up (new-user report, finding 4): near alpha = 1 the empirical-likelihood interval covers
about 0.99, not 0.95, and a 200-seed test with a band around 0.95 passed only for its seeds.
Why: without fading the sample is the number R of rejected rounds (Binomial(n, 1 - alpha^L),
nearly Poisson with mean lambda = n (1 - alpha^L) = 0.16 here) and where the rejections fell. An
interval must contain the truth for the sample without rejection (else its coverage is at most
1 - P(R = 0) = 0.148); the positions of one rejection carry no information about alpha at this
alpha (their likelihood ratios are within alpha^-15 = 1 + 1.5e-5 of 1), so an interval that
treats single-rejection samples alike covers with probability <= P(R = 0) + P(R >= 2) = 0.863 or
>= P(R <= 1) = 0.988: about 95% is out of reach for any non-randomised interval. What is tested
instead, each against an independent exact computation:

- the exact coverage at alpha = 1 - 1e-6 and 1 - 1e-8 (enumeration of R and of the positions of
  the rejections, probabilities from scipy.stats.binom and scipy.stats.multinomial; the interval
  computed on each sample) is >= the nominal 0.95, and the interval covers every sample with at
  most one rejection (the attainable property);
- seeded simulations agree with that exact coverage: the number of covering seeds lies in the
  central 99.9% range of Binomial(seeds, exact coverage) (scipy.stats.binom quantiles), so the
  test fails with probability <= 0.1% whatever the seeds;
- at alpha = 0.5 and 0.99 (many rejections) the coverage is about 0.95: the count lies in the
  central 99.9% range of Binomial(seeds, 0.95).

Reference value of the goodput: the analytic goodput of the homogeneous optimum
(numerics.latency.goodput, the closed form of docs/model.md sec. 2, tied to SymPy by
tests/test_theory_core.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from numerics import Scenario, solve_homogeneous
from numerics.intervals import ratio_interval
from numerics.simulate import simulate

ALPHAS = (0.5, 0.99)
NEAR_ONE = (1 - 1e-6, 1 - 1e-8)
SEEDS = 200


def _handed_scenario(alpha: float) -> Scenario:
    return Scenario(alpha=alpha, t_draft=0.004, bits_per_token=1088, bandwidth_hz=1.4e6,
                    spectral_efficiency=2.4, v0=0.026, max_draft=16)


def _band(n: int, p: float = 0.95, level: float = 0.999) -> tuple[int, int]:
    """Central ``level`` range of Binomial(n, p) (both ends inclusive)."""
    tail = (1 - level) / 2
    return int(stats.binom.ppf(tail, n, p)), int(stats.binom.isf(tail, n, p))


def _coverage(alpha: float, rounds: int, seeds, fading: bool = False) -> tuple[int, int]:
    s = _handed_scenario(alpha)
    sol = solve_homogeneous(s)
    covered = zero_width = 0
    for seed in seeds:
        r = simulate(s, sol, rounds=rounds, seed=seed, fading=fading)
        covered += r.contains(sol.goodput)
        zero_width += r.ci_high == r.ci_low
    return covered, zero_width


def exact_coverage(alpha: float, rounds: int, max_rejections: int) -> tuple[float, float, list[float]]:
    """Exact coverage of simulate's interval for one user without fading, by enumeration.

    Each round accepts N tokens, P(N = j) = alpha^j (1 - alpha) for j < L and alpha^L for N = L
    (docs/model.md sec. 2); the round's tokens are N + 1 and its time is a constant. A sample is
    the number R of rejected rounds (N < L) and the multiset of their N; its probability is
    Binomial(rounds, 1 - alpha^L) at R times the multinomial law of the multiset given R. The
    interval (numerics.intervals.ratio_interval, as simulate calls it, with the sample's counts
    as weights) is computed on every sample with R <= max_rejections.

    Returns (coverage over the enumerated samples, P(R > max_rejections) (the unenumerated rest:
    the true coverage lies in [coverage, coverage + rest]), the covered fraction for each R).
    """
    s = _handed_scenario(alpha)
    sol = solve_homogeneous(s)
    L = int(sol.draft_lengths[0])
    y = simulate(s, sol, rounds=2, seed=0).mean_round_time  # constant without fading
    p = np.array([alpha**j * (1 - alpha) for j in range(L)])
    p_reject = float(p.sum())
    x = np.arange(1.0, L + 2.0)  # tokens of a round with N = 0..L
    bounds = ((1.0, L + 1.0), (y * (1 - 1e-12), y * (1 + 1e-12)))  # simulate's support bounds
    total, by_r, enumerated = 0.0, [], 0.0
    for r in range(max_rejections + 1):
        p_r = float(stats.binom.pmf(r, rounds, p_reject))
        covered = 0.0
        for combo in itertools.combinations_with_replacement(range(L), r):
            counts = np.bincount(np.array(combo, dtype=np.int64), minlength=L + 1)
            counts[L] = rounds - r
            prob = float(stats.multinomial.pmf(counts[:L], r, p / p_reject)) if r else 1.0
            _, lo, hi = ratio_interval(x, np.full(L + 1, y), *bounds, 0.95, weights=counts)
            covered += prob * (lo * (1 - 1e-12) <= sol.goodput <= hi * (1 + 1e-12))  # SimulationResult.contains
        total += p_r * covered
        enumerated += p_r
        by_r.append(covered)
    return total, 1.0 - enumerated, by_r


@pytest.mark.parametrize("alpha, rounds, expected", [
    # exact coverage over R <= 2 (this enumeration): 0.990192 (R = 3 adds 1.9e-6 (slow test below),
    # R >= 4 at most 2.4e-5) and 0.998401 (= P(R = 0) = alpha^(16 n); one-rejection samples do not cover)
    (1 - 1e-6, 10_000, 0.990192),
    (1 - 1e-8, 10_000, 0.998401),
])
def test_exact_coverage_near_one_is_at_least_nominal(alpha, rounds, expected):
    cov, rest, by_r = exact_coverage(alpha, rounds, max_rejections=2)
    assert cov == pytest.approx(expected, abs=2e-6) and rest < 6.1e-4
    assert cov >= 0.95  # the attainable property: at least nominal
    assert by_r[0] == 1.0  # the sample without rejection always covers (no zero width)
    lam = rounds * (1 - alpha**16)
    p0, p1 = stats.binom.pmf(0, rounds, 1 - alpha**16), stats.binom.pmf(1, rounds, 1 - alpha**16)
    if alpha == 1 - 1e-6:
        assert lam == pytest.approx(0.16, rel=1e-4)
        assert by_r[1] == pytest.approx(1.0, abs=1e-12)  # every one-rejection sample covers: >= P(R <= 1)
        # the gap 95% falls in: treating one-rejection samples alike gives <= 0.863 or >= 0.988
        assert p0 + (1 - p0 - p1) < 0.87 and p0 + p1 > 0.98


def test_a_band_around_95_percent_fails_near_one_for_many_seed_sets():
    # why the old test passed only for its seeds: with the exact coverage 0.9902 the number of
    # covering runs out of 200 exceeds the 0.95-band's top (198) with probability > 0.4
    lo, hi = _band(SEEDS)
    assert (lo, hi) == (179, 198)  # scipy.stats.binom(200, 0.95) quantiles 0.0005 and 0.9995
    assert stats.binom.sf(hi, SEEDS, 0.990194) > 0.4


def test_handed_case_is_no_longer_zero_width():
    s = _handed_scenario(1 - 1e-6)
    sol = solve_homogeneous(s)
    assert sol.draft_lengths.tolist() == [16]
    r = simulate(s, sol, rounds=10_000, seed=0)
    # most seeds see no rejection at all (P(reject) ~ 1.6e-5 per round): every token accepted
    assert r.std_error == 0.0 and r.mean_tokens == 17.0
    assert r.ci_low < r.ci_high and r.contains(sol.goodput)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_coverage_fast(alpha):
    # 200 seeds at 2000 rounds a run (the slow test below: 1000 seeds at simulate's default 10^4)
    covered, zero_width = _coverage(alpha, rounds=2000, seeds=range(SEEDS))
    lo, hi = _band(SEEDS)
    assert zero_width == 0
    assert lo <= covered <= hi, (alpha, covered, (lo, hi))


def test_coverage_fast_near_one_agrees_with_the_exact_coverage():
    # alpha = 1 - 1e-6 at 2000 rounds (lambda = 0.032): exact coverage by enumeration, then 200 seeds
    cov, rest, _ = exact_coverage(1 - 1e-6, 2000, max_rejections=2)
    assert rest < 1e-5 and cov >= 0.95
    covered, zero_width = _coverage(1 - 1e-6, rounds=2000, seeds=range(SEEDS))
    lo, hi = _band(SEEDS, cov)
    assert zero_width == 0
    assert lo <= covered <= hi, (covered, (lo, hi), cov)


@pytest.mark.slow
def test_exact_coverage_handed_case_to_three_rejections():
    # R <= 3 (969 intervals): 0.990194, the true value within 2.4e-5 above (P(R >= 4))
    cov, rest, by_r = exact_coverage(1 - 1e-6, 10_000, max_rejections=3)
    assert cov == pytest.approx(0.990194, abs=1e-6) and rest < 2.5e-5
    assert by_r[2] == pytest.approx(0.1562, abs=1e-4)  # 2 rejections: covered when they fell late


@pytest.mark.slow
@pytest.mark.parametrize("alpha", ALPHAS + NEAR_ONE)
def test_coverage_1000_seeds(alpha):
    # seeds 10_000..10_999 (any other set passes with probability >= 99.9% if the coverage is right)
    seeds = range(10_000, 11_000)
    covered, zero_width = _coverage(alpha, rounds=10_000, seeds=seeds)
    p = 0.95 if alpha in ALPHAS else exact_coverage(alpha, 10_000, max_rejections=2)[0]
    lo, hi = _band(len(seeds), p)
    assert zero_width == 0
    assert lo <= covered <= hi, (alpha, covered, (lo, hi), p)


@pytest.mark.parametrize("fading", [False, True])
def test_no_drafting_is_known_exactly(fading):
    # every user at L = 0 (the autoregressive baseline): K tokens a round, a constant round time
    # without fading; the interval is the analytic value up to round-off (docs/model.md sec. 3)
    from numerics import baseline

    s = Scenario.preset("default")
    sol = baseline(s, "autoregressive")
    r = simulate(s, sol, rounds=5000, seed=7, fading=fading)
    assert r.contains(sol.goodput) and r.mean_tokens == s.n_users
    assert r.half_width <= 1e-9 * sol.goodput
