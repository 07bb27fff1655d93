"""Token law numerics against mpmath at 50 digits, and the properties of A (docs/model.md sec. 2)."""

import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics import (
    accepted_pmf,
    accepted_variance,
    expected_accepted,
    expected_tokens,
    expected_tokens_positional,
    marginal_tokens,
)

ALPHAS = (0.0, 1e-300, 1e-12, 0.3, 0.5, 1 - 1e-9, 1 - 1e-12)
LENGTHS = (0, 1, 2, 7, 100, 10**4)
GRID = [(a, L) for a in ALPHAS for L in LENGTHS]


def rel(x, ref):
    """Relative error of float x against an mpmath reference (absolute where the reference is 0)."""
    ref = mp.mpf(ref)
    return float(abs(mp.mpf(float(x)) - ref) / abs(ref)) if ref != 0 else abs(float(x))


@pytest.fixture(scope="module")
def reference():
    """mpmath at mp.dps = 50, by DIRECT SUMMATION of the truncated geometric pmf.

    alpha is converted exactly (mpf of the float); P(N=n) = alpha^n (1 - alpha) for n < L and
    alpha^L for n = L; mean = sum n P, variance = sum P (n - mean)^2 (centred, all terms >= 0).
    """
    out = {}
    with mp.workdps(50):
        for a, L in GRID:
            am = mp.mpf(a)
            pmf = [am**n * (1 - am) for n in range(L)] + [am**L]
            mean = mp.fsum(n * p for n, p in enumerate(pmf))
            var = mp.fsum(p * (n - mean) ** 2 for n, p in enumerate(pmf))
            out[a, L] = (pmf, mean, var)
    return out


@pytest.mark.parametrize("a, L", GRID)
def test_mean_and_tokens_against_mpmath(reference, a, L):
    _, mean, _ = reference[a, L]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EN, A = expected_accepted(a, L), expected_tokens(a, L)
    assert np.isfinite(EN) and np.isfinite(A)
    assert rel(EN, mean) <= 1e-13
    assert rel(A, 1 + mean) <= 1e-13


@pytest.mark.parametrize("a, L", GRID)
def test_variance_against_mpmath(reference, a, L):
    _, _, var = reference[a, L]
    assert rel(accepted_variance(a, L), var) <= 1e-13


@pytest.mark.parametrize("a, L", [(a, L) for a in ALPHAS for L in (0, 1, 7, 100)])
def test_pmf_against_mpmath_and_sums_to_one(reference, a, L):
    pmf_ref, _, _ = reference[a, L]
    p = accepted_pmf(a, L)
    assert p.shape == (L + 1,) and np.all(p >= 0)
    tiny = np.finfo(float).tiny  # below the normal range float64 has no relative precision left
    normal = [(x, y) for x, y in zip(p, pmf_ref, strict=True) if y >= tiny]
    assert max(rel(x, y) for x, y in normal) <= 1e-13
    assert all(abs(mp.mpf(float(x)) - y) <= tiny for x, y in zip(p, pmf_ref, strict=True) if y < tiny)
    assert abs(p.sum() - 1.0) <= (L + 1) * 2.3e-16  # one rounding per term of the sum


def test_vectorised_broadcast_equals_elementwise():
    a = np.array(ALPHAS)[:, None]
    L = np.array(LENGTHS, dtype=float)[None, :]
    A = expected_tokens(a, L)
    assert A.shape == (len(ALPHAS), len(LENGTHS))
    for i, ai in enumerate(ALPHAS):
        for j, Lj in enumerate(LENGTHS):
            assert A[i, j] == expected_tokens(ai, Lj)
    pm = accepted_pmf(np.array([0.2, 0.9]), 3)
    assert pm.shape == (2, 4) and np.allclose(pm.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert accepted_variance(np.array([0.2, 0.9]), 3).shape == (2,)


def test_limits_at_zero_and_one():
    L = np.array([0.0, 1.0, 2.5, 1e4])
    assert np.all(expected_tokens(0.0, L) == 1.0)
    assert np.all(expected_tokens(1.0, L) == L + 1)
    assert np.all(expected_accepted(1.0, L) == L)
    assert marginal_tokens(0.0, 2.0) == 0.0 and marginal_tokens(1.0, 2.0) == 1.0
    assert accepted_variance(1.0, 5) == 0.0 and accepted_variance(0.0, 5) == 0.0


# ---------------------------------------------------------------- positional version vs i.i.d.
@pytest.mark.parametrize("a", ALPHAS)
def test_positional_with_constant_profile_equals_iid(a):
    L = np.arange(0, 201)
    pos = expected_tokens_positional(np.full(200, a), L)
    iid = expected_tokens(a, L)
    # the cumulative product/sum accumulates ~L roundings: 1e-13 covers L <= 200 (~450 ulp)
    assert np.allclose(pos, iid, rtol=1e-13, atol=0)


def test_positional_against_mpmath_and_interpolation():
    prof = [0.76, 0.69, 0.67, 0.68, 0.68]  # EAGLE, LLaMA2-Chat 7B, MT-bench (docs/model.md sec. 4)
    with mp.workdps(50):  # reference: 1 + sum_i prod_{j<=i} alpha_j in 50-digit arithmetic
        ref = [1 + mp.fsum(mp.fprod(mp.mpf(x) for x in prof[:i]) for i in range(1, L + 1)) for L in range(6)]
    got = expected_tokens_positional(prof, np.arange(6))
    assert max(rel(g, r) for g, r in zip(got, ref, strict=True)) <= 1e-15
    # a real L interpolates linearly (continuous relaxation of the solvers)
    assert expected_tokens_positional(prof, 2.25) == pytest.approx(got[2] + 0.25 * (got[3] - got[2]), rel=1e-15)
    # a batch of profiles, one length each
    batch = expected_tokens_positional([prof, prof[::-1]], [5, 0])
    assert batch.shape == (2,) and batch[1] == 1.0 and batch[0] == pytest.approx(got[5], rel=1e-15)


# ---------------------------------------------------------------- hypothesis: properties of A
alphas_open = st.floats(0.0, 1.0, exclude_max=True)
lengths = st.floats(0.0, 2000.0)


@given(alphas_open, lengths, st.floats(0.01, 50.0))
def test_increasing_in_L(a, L, dL):
    assert expected_tokens(a, L + dL) >= expected_tokens(a, L)
    assert marginal_tokens(a, L) >= 0


@given(st.floats(1e-6, 1 - 1e-6), st.floats(0.0, 200.0), st.floats(0.05, 5.0))
def test_concave_in_L(a, L, h):
    A0, A1, A2 = expected_tokens(a, [L, L + h, L + 2 * h])
    # midpoint concavity; the slack is the rounding of three values of size <= 1/(1 - a)
    assert A1 >= (A0 + A2) / 2 - 8e-16 / (1 - a)


@given(alphas_open, alphas_open, st.integers(0, 5000))
def test_increasing_in_alpha(a1, a2, L):
    lo, hi = min(a1, a2), max(a1, a2)
    assert expected_tokens(hi, L) >= expected_tokens(lo, L)


@given(alphas_open, st.integers(0, 300))
def test_mean_matches_pmf(a, L):
    p = accepted_pmf(a, L)
    n = np.arange(L + 1)
    assert np.sum(n * p) == pytest.approx(expected_accepted(a, L), rel=1e-12, abs=1e-300)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [expected_tokens, expected_accepted, marginal_tokens])
@pytest.mark.parametrize("a, msg", [(-0.1, r"alpha must lie in \[0, 1\], got -0.1"),
                                    (1.5, r"alpha must lie in \[0, 1\], got 1.5"),
                                    (np.nan, r"alpha must lie in \[0, 1\], got nan")])
def test_bad_alpha(fn, a, msg):
    with pytest.raises(ValueError, match=msg):
        fn([0.5, a], 3)


@pytest.mark.parametrize("fn", [expected_tokens, expected_accepted, marginal_tokens])
@pytest.mark.parametrize("L, shown", [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")])
def test_bad_length(fn, L, shown):
    with pytest.raises(ValueError, match=rf"L must be finite and >= 0, got {shown}"):
        fn(0.5, [1.0, L])


@pytest.mark.parametrize("fn", [accepted_pmf, accepted_variance])
@pytest.mark.parametrize("L", [-1, 2.5, np.nan, np.inf, "3", True, [1, 2]])
def test_pmf_bad_length(fn, L):
    with pytest.raises(ValueError, match=r"L must be an integer >= 0, got"):
        fn(0.5, L)


def test_pmf_bad_alpha():
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 2.0"):
        accepted_pmf(2.0, 3)


def test_positional_bad_input():
    with pytest.raises(ValueError, match=r"alphas must have a last axis of positions, got a scalar"):
        expected_tokens_positional(0.5, 1)
    with pytest.raises(ValueError, match=r"alphas must lie in \[0, 1\], got 1.2"):
        expected_tokens_positional([0.5, 1.2], 1)
    with pytest.raises(ValueError, match=r"L must be <= 2 \(the profile length\), got 3.0"):
        expected_tokens_positional([0.5, 0.5], 3)
    with pytest.raises(ValueError, match=r"L must be finite and >= 0, got -1.0"):
        expected_tokens_positional([0.5, 0.5], -1)
