"""Rate models and their inverses (MODEL.md sec. 2, "Uplink rate")."""

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics.channel import rate, rate_derivative, rate_inverse

B = 1e7


def test_round_trip_grid_snr_and_shares():
    """rate(inverse(r)) = r within 1e-12 relative, SNR -10..40 dB and shares 1e-6..1 (issue 2)."""
    snr = 10 ** (np.linspace(-10, 40, 101) / 10)[:, None]
    share = np.geomspace(1e-6, 1, 121)[None, :]
    for model, ch in (("shannon", snr), ("linear", snr)):  # snr doubles as eta for the linear model
        r = rate(model, share, B, ch)
        back = rate(model, rate_inverse(model, r, B, ch), B, ch)
        assert np.max(np.abs(back / r - 1)) <= 1e-12, model


@given(st.floats(-10, 40), st.floats(-6, 0))
def test_round_trip_random(snr_db, log_share):
    rho, share = 10 ** (snr_db / 10), 10**log_share
    r = rate("shannon", share, B, rho)
    assert rate("shannon", rate_inverse("shannon", r, B, rho), B, rho) == pytest.approx(r, rel=1e-12)


@pytest.mark.parametrize("c", [1e-320, 1e-300, 1e-281, 1e-279, 1e-30, 1e-8, 0.25, 0.5, 0.5000001,
                               0.9, 1 - 1e-6, 1 - 1e-12, 1 - 2**-52])
def test_inverse_against_mpmath_lambert_w(c):
    """The share equals c rho / (-W_{-1}(-c e^{-c}) - c) evaluated by mpmath at 50 digits.

    The reference is computed from the float c that the code sees (r chosen so that c is exact),
    so the comparison measures the algorithm, not the conditioning of c -> beta near c = 1.
    """
    rho = 1.0
    r = c / np.log(2.0)  # with B = rho = 1: c_code = r * ln 2, recomputed below exactly
    c_code = float(r * np.log(2.0))
    with mp.workdps(50):
        cm = mp.mpf(c_code)
        ref = cm * rho / (-mp.lambertw(-cm * mp.exp(-cm), -1) - cm)
        got = rate_inverse("shannon", r, 1.0, rho)
        if ref < np.finfo(float).tiny:  # subnormal result: absolute precision only
            assert abs(mp.mpf(got) - ref) <= 2 * 5e-324 + 1e-3 * ref
        else:
            assert abs(mp.mpf(got) - ref) / ref <= 1e-15


def test_inverse_zero_rate_and_linear_closed_form():
    assert rate_inverse("shannon", 0.0, B, 3.0) == 0.0
    assert rate_inverse("shannon", [0.0, 1e3], B, 3.0)[0] == 0.0
    assert rate_inverse("linear", 2e6, 1e6, 4.0) == 0.5
    assert rate("shannon", 0.0, B, 3.0) == 0.0


def test_rate_values_hand_computed():
    assert rate("linear", 0.25, 1e6, 2.0) == 5e5
    # B beta log2(1 + rho/beta): 1 * 1 * log2(1 + 3) = 2 ; 0.5 * log2(1 + 2) with rho = 1
    assert rate("shannon", 1.0, 1.0, 3.0) == pytest.approx(2.0, rel=1e-15)
    assert rate("shannon", 0.5, 1.0, 1.0) == pytest.approx(0.5 * np.log2(3.0), rel=1e-15)


def test_tiny_share_does_not_overflow():
    # rho / beta overflows float64 for beta below ~1e-308 rho: log(rho) - log(beta) takes over
    r = rate("shannon", 5e-324, 1.0, 1e10)
    with mp.workdps(30):
        ref = mp.mpf(5e-324) * mp.log(1 + mp.mpf(1e10) / mp.mpf(5e-324)) / mp.log(2)
    assert r > 0 and abs(r - ref) / ref <= 1e-3  # the result is subnormal (few significant bits)


def test_derivative_matches_finite_differences():
    b = np.geomspace(1e-5, 0.99, 50)  # b + h stays a share (rate refuses beta > 1)
    for model in ("linear", "shannon"):
        h = 1e-6 * b
        fd = (rate(model, b + h, B, 5.0) - rate(model, b - h, B, 5.0)) / (2 * h)
        # central difference: truncation O(h^2) ~ 1e-12 relative, rounding ~ eps/1e-6 ~ 1e-10
        assert np.allclose(rate_derivative(model, b, B, 5.0), fd, rtol=1e-8)
    assert rate_derivative("shannon", 0.0, B, 5.0) == np.inf


@given(st.floats(1e-6, 1.0), st.floats(1e-6, 1.0), st.floats(0.1, 1e4))
def test_increasing_and_concave(b1, b2, rho):
    lo, hi = min(b1, b2), max(b1, b2)
    for model in ("linear", "shannon"):
        assert rate(model, hi, B, rho) >= rate(model, lo, B, rho)
        mid = rate(model, (lo + hi) / 2, B, rho)
        assert mid >= (rate(model, lo, B, rho) + rate(model, hi, B, rho)) / 2 * (1 - 1e-15)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("c", [1.0, 1.0 + 1e-12, 3.0])
def test_unreachable_rate_raises(c):
    rho = 2.0
    r = c * B * rho / np.log(2.0)
    with pytest.raises(ValueError, match=r"rate r is unreachable with the Shannon model: c = r ln2 / \(B rho\) = .* >= 1"):
        rate_inverse("shannon", [1.0, r], B, rho)


@pytest.mark.parametrize("fn", [rate, rate_inverse, rate_derivative])
def test_unknown_model(fn):
    with pytest.raises(ValueError, match=r"rate_model must be 'linear' or 'shannon', got 'cubic'"):
        fn("cubic", 0.5, B, 1.0)


@pytest.mark.parametrize("fn", [rate, rate_derivative])
@pytest.mark.parametrize("model", ["linear", "shannon"])
@pytest.mark.parametrize("bad, shown", [(-0.1, "-0.1"), (np.nan, "nan"), (np.inf, "inf"), (5.0, "5.0"),
                                        (1.0 + 1e-9, "1.000000001"), (1e308, "1e\\+308")])
def test_bad_share(fn, model, bad, shown):
    """New-user finding 12: rate("linear", 5, 1e4, 1.0) returned 50000.0 and rate("linear", 1e308, ...)
    inf, although a share lies in [0, 1] (docs/model.md section 1; 1 + 1e-12 is allowed for round-off)."""
    with pytest.raises(ValueError, match=rf"beta must lie in \[0, 1\] \(a share of the band\), got {shown}"):
        fn(model, [0.5, bad], B, 1.0)
    fn(model, [0.5, 1.0 + 1e-13], B, 1.0)  # round-off above 1 is a share


@pytest.mark.parametrize("fn, what", [(rate, "the rate beta B eta"), (rate_derivative, "the slope B eta")])
def test_rate_overflow_is_refused(fn, what):
    """A rate beyond the largest double (B eta = 1e600) is refused naming the bandwidth and the channel,
    not returned as inf."""
    with pytest.raises(ValueError, match=rf"{what} overflows \(above 1.8e\+308\): bandwidth_hz = 1e\+300 with "
                                         r"channel \(eta or rho\) = 1e\+300 is too large"):
        fn("linear", 1.0, 1e300, 1e300)


@pytest.mark.parametrize("b, rho", [(1.0, 1e-20), (0.5, 1e-10), (1.0, 1e-300), (1e-3, 1.0), (1e-300, 1e300),
                                    (1e-200, 1e100)])
def test_shannon_derivative_power_limited_and_huge_snr(b, rho):
    """r'(beta) = B (log1p(p) - p/(1+p)) / ln 2, p = rho/beta: for p << 1 (a power-limited user) the two
    terms cancelled (r' was 0 or wrong in the leading digit at p < 1e-8), and p overflowed for
    rho/beta > 1.8e308. Reference: mpmath at 80 digits (p^2/2 underflows at p = 1e-300: then 0)."""
    got = rate_derivative("shannon", b, 1e4, rho)
    with mp.workdps(80):
        p = mp.mpf(rho) / mp.mpf(b)
        ref = float(mp.mpf(1e4) * (mp.log1p(p) - p / (1 + p)) / mp.log(2))
    assert got == pytest.approx(ref, rel=4e-16, abs=0.0) if ref > 1e-300 else got == ref


@pytest.mark.parametrize("bad, shown", [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")])
def test_bad_rate(bad, shown):
    with pytest.raises(ValueError, match=rf"rate r must be finite and >= 0, got {shown}"):
        rate_inverse("linear", [1.0, bad], B, 1.0)


@pytest.mark.parametrize("fn", [rate, rate_inverse, rate_derivative])
def test_bad_bandwidth_and_channel(fn):
    with pytest.raises(ValueError, match=r"bandwidth_hz must be finite and > 0, got 0.0"):
        fn("linear", 0.5, 0.0, 1.0)
    # a negative band too (a mutant testing `!= 0` instead of `> 0` survived without this: issue 11)
    with pytest.raises(ValueError, match=r"bandwidth_hz must be finite and > 0, got -1.0"):
        fn("linear", 0.5, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"channel \(eta or rho\) must be finite and > 0, got -1.0"):
        fn("shannon", 0.5, B, [1.0, -1.0])


def _mp_shannon_share(r, B, rho):
    """beta with beta B log2(1 + rho/beta) = r, in mpmath (call inside ``mp.workdps``): u = log1p(rho/beta)
    is the positive root of F(u) = c (e^u - 1) - u, c = r ln2 / (B rho) < 1, and beta = c rho / u. F is
    convex, F(0) = 0, and F > 0 at u0 = min(x + 2 log1p(x) + 1, 4(1 - c)/c), x = ln(1/c) (c e^{u0} =
    e (1 + x)^2 > u0 + c; c u^2/2 > (1 - c) u), so Newton from u0 decreases monotonically to the root."""
    r, B, rho = mp.mpf(r), mp.mpf(B), mp.mpf(rho)
    c = r * mp.log(2) / (B * rho)
    x = -mp.log(c)
    u = min(x + 2 * mp.log1p(x) + 1, 4 * (1 - c) / c)
    for _ in range(200):
        step = (c * mp.expm1(u) - u) / (c * mp.exp(u) - 1)
        u -= step
        if abs(step) <= u * mp.mpf(10) ** (5 - mp.mp.dps):
            break
    return c * rho / u


@pytest.mark.parametrize("r, bw, rho", [(1e-30, 1e4, 1e300), (1e-10, 1e4, 1e300), (1e-300, 1.0, 1e300),
                                        (1e-3, 1e22, 1e300), (1.0, 1.0, 1e-300)])
def test_shannon_inverse_where_c_underflows_or_nears_one(r, bw, rho):
    """A huge SNR with a tiny rate makes c = r ln2 / (B rho) subnormal or 0: the share was 0 (and 1e-10
    relative off at a subnormal c) before new-user finding 8; it is now computed from log c. The last
    case is a power-limited user at half its supremum rate (c = 1/2 with rho = 1e-300). Reference:
    mpmath at 60 digits (``_mp_shannon_share``)."""
    if rho < 1:
        r = 0.5 * bw * rho / np.log(2.0)
    got = rate_inverse("shannon", r, bw, rho)
    with mp.workdps(60):
        ref = _mp_shannon_share(r, bw, rho)
    assert got > 0 and abs(mp.mpf(got) - ref) / ref <= 4e-16


@pytest.mark.parametrize("b, rho", [(1.0, 1e-300), (1.0, 1e-20), (0.3, 1e-8), (0.5, 1.0), (1e-3, 10.0),
                                    (1e-300, 1e300), (1.0, 1e300)])
def test_rate_elasticity_against_mpmath(b, rho):
    """e = r / (beta r'(beta)) >= 1 (numerics.channel._rate_elasticity), the factor of the equal-finish
    slope dbeta/dT = -beta e / (T - c) and of 1/g in the H2 multipliers. For a power-limited user
    (rho << beta) r' underflows (1e-300: rho^2 / beta^2) while e ~ 2 beta / rho stays finite.
    Reference: mpmath from the definitions r = beta B log2(1 + p), r' = B (log1p(p) - p/(1+p)) / ln 2,
    p = rho / beta (B cancels), with 80 digits plus twice the decades of 1/p (the difference cancels to
    p^2/2)."""
    from numerics.channel import _rate_elasticity

    got = float(_rate_elasticity("shannon", b, 1e4, rho))
    with mp.workdps(80 + 2 * max(0, int(np.log10(b) - np.log10(rho)))):
        p = mp.mpf(rho) / mp.mpf(b)
        ref = mp.log1p(p) / (mp.log1p(p) - p / (1 + p))
    assert got == pytest.approx(float(ref), rel=4e-16)
    assert float(_rate_elasticity("linear", b, 1e4, rho)) == 1.0
