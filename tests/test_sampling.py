"""Monte Carlo draws of N by per-token Bernoulli acceptance (numerics.sampling)."""

import numpy as np
import pytest

from numerics import accepted_pmf, expected_tokens_positional, sample_accepted


def test_seeded_and_shaped():
    a = sample_accepted(0.7, 10, (3, 4), np.random.default_rng(5))
    b = sample_accepted(0.7, 10, (3, 4), np.random.default_rng(5))
    assert a.shape == (3, 4) and a.dtype == np.int64 and np.array_equal(a, b)
    assert sample_accepted(0.7, 10, 0, np.random.default_rng(0)).shape == (0,)


def test_edges():
    rng = np.random.default_rng(1)
    assert np.all(sample_accepted(0.0, 50, 100, rng) == 0)
    assert np.all(sample_accepted(1.0, 50, 100, rng) == 50)
    assert np.all(sample_accepted(0.9, 0, 100, rng) == 0)
    assert np.all(sample_accepted([1.0, 1.0, 0.0, 1.0], 4, 10, rng) == 2)
    assert np.all(sample_accepted(1 - 1e-12, 3000, 20, rng) == 3000)  # P(any rejection) ~ 6e-8


@pytest.mark.parametrize("alpha, L", [(0.3, 4), (0.8, 6), (0.95, 20)])
def test_frequencies_match_the_pmf(alpha, L):
    """Empirical frequencies within 5 binomial standard errors of the truncated geometric pmf."""
    n = 40_000
    draws = sample_accepted(alpha, L, n, np.random.default_rng(2))
    freq = np.bincount(draws, minlength=L + 1) / n
    p = accepted_pmf(alpha, L)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) <= 5 * se + 1e-12)


def test_profile_mean_matches_positional_formula():
    prof = np.array([0.76, 0.69, 0.67, 0.68, 0.68])  # EAGLE acceptance by position (docs/model.md sec. 4)
    draws = sample_accepted(prof, 5, 50_000, np.random.default_rng(3))
    se = draws.std(ddof=1) / np.sqrt(draws.size)
    assert abs(draws.mean() + 1 - expected_tokens_positional(prof, 5)) <= 5 * se


@pytest.mark.parametrize("alpha, msg", [
    (1.5, r"alpha must lie in \[0, 1\], got 1.5"),
    (np.nan, r"alpha must lie in \[0, 1\], got nan"),
    ([0.5, -0.2], r"alpha must lie in \[0, 1\], got -0.2"),
    ([[0.5]], r"alpha must be a scalar or a 1-D profile, got an array of shape \(1, 1\)"),
])
def test_bad_alpha(alpha, msg):
    with pytest.raises(ValueError, match=msg):
        sample_accepted(alpha, 1, 10, np.random.default_rng(0))


@pytest.mark.parametrize("L", [-1, 2.5, np.inf, np.nan, "3", True])
def test_bad_length(L):
    with pytest.raises(ValueError, match=r"L must be an integer >= 0, got"):
        sample_accepted(0.5, L, 10, np.random.default_rng(0))


def test_profile_too_short():
    with pytest.raises(ValueError, match=r"alpha profile has 2 positions, fewer than L=3"):
        sample_accepted([0.5, 0.5], 3, 10, np.random.default_rng(0))


@pytest.mark.parametrize("size", [-1, 2.5, (2, -1), True])
def test_bad_size(size):
    with pytest.raises(ValueError, match=r"size must be an integer >= 0 or a tuple of them, got"):
        sample_accepted(0.5, 3, size, np.random.default_rng(0))


def test_bad_rng():
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator, got int"):
        sample_accepted(0.5, 3, 10, 42)
