"""numerics.intervals.ratio_interval: the empirical-likelihood interval on a known support.

References: the closed form of the profile likelihood when every round sits at the upper support
bound (module docstring: mu_low = x_lo + (x_hi - x_lo) exp(-q / (2n)), q the chi^2_1 quantile from
scipy.stats), the delta-method interval for a large varied sample (first-order equivalence, Owen
2001 ch. 3), and the brute-force profile likelihood over two-point distributions for one example.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from numerics.intervals import log_likelihood_ratio, ratio_interval


@pytest.mark.parametrize("n", [1, 10, 20_000])
def test_no_variation_matches_the_closed_form(n):
    q = stats.chi2.ppf(0.95, 1)
    g, lo, hi = ratio_interval(np.full(n, 17.0), np.full(n, 0.5), (1.0, 17.0), (0.5, 0.5))
    mu_low = 1.0 + 16.0 * math.exp(-q / (2 * n))
    assert g == 34.0 and hi == 34.0
    assert lo == pytest.approx(mu_low / 0.5, rel=1e-10)


def test_two_point_profile_by_brute_force():
    # x in {0, 1} (Bernoulli), y = 1: the profile likelihood ratio of the mean is the binomial one
    x = np.array([1.0] * 7 + [0.0] * 13)
    for mu in (0.2, 0.35, 0.5):
        k, n = 7, 20
        ref = 2 * (k * math.log(k / n / mu) + (n - k) * math.log((n - k) / n / (1 - mu)))
        w = log_likelihood_ratio(mu, x, np.ones(20), np.ones(20), (0.0, 1.0), (1.0, 1.0))
        assert w == pytest.approx(ref, rel=1e-9)


def test_agrees_with_the_delta_method_on_a_large_varied_sample():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, 50_000).astype(float)
    y = rng.uniform(0.1, 0.2, 50_000)
    g, lo, hi = ratio_interval(x, y, (1.0, 8.0), (0.1, 0.2))
    resid = x - g * y
    half = 1.959964 * resid.std(ddof=1) / (math.sqrt(x.size) * y.mean())
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.01)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.floats(0.01, 10.0), st.booleans())
def test_any_sample_gets_an_ordered_finite_interval(xs, y, vary):
    x = np.asarray(xs, dtype=float)
    ys = np.full(x.size, y) * (1.0 + (0.5 * np.arange(x.size) % 1.0 if vary else 0.0))
    g, lo, hi = ratio_interval(x, ys, (0.0, 5.0), (y, 1.5 * y))
    assert all(math.isfinite(v) for v in (g, lo, hi)) and lo <= g <= hi
    assert 0.0 <= lo and hi <= 5.0 / y * (1 + 1e-12)


@pytest.mark.parametrize("args, match", [
    (([], [], (0, 1), (1, 1)), r"x and y must be non-empty and of one length"),
    (([1.0], [1.0], (0, 1), (0, 0)), r"bounds must satisfy"),
    (([2.0], [1.0], (0, 1), (1, 1)), r"a sample lies outside its bounds"),
    (([1.0], [np.nan], (0, 1), (1, 1)), r"x and y must be finite"),
])
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        ratio_interval(*args)
