"""Latency, round time and goodput: hand-computed cases and every infeasible point (MODEL.md sec. 2)."""

import numpy as np
import pytest

from numerics import Scenario, goodput, per_token_latency, round_time, tokens_per_round, verification_latency
from numerics.latency import batch_size, check_point, drafting_time


def two_users(**kw):
    base = dict(alpha=[0.5, 0.8], t_draft=[0.01, 0.02], bits_per_token=[100.0, 0.0], bandwidth_hz=1e4,
                spectral_efficiency=[1.0, 2.0], v0=0.1, v1=0.001, overhead=0.005, max_draft=8)
    base.update(kw)
    return Scenario(**base)


# ---------------------------------------------------------------- hand-computed cases
def test_ragged_hand_computed():
    s = two_users()
    # user 0: h = 0.01 + 100 / (0.5 * 1e4 * 1) = 0.03, L h = 0.06; user 1 (no upload): 3 * 0.02 = 0.06
    # ragged batch n = (2 + 1) + (3 + 1) = 7: T_v = 0.1 + 0.001 * 7 = 0.107; T = 0.06 + 0.107 + 0.005
    assert per_token_latency(s, [0.5, 0.0]) == pytest.approx([0.03, 0.02], rel=1e-15)
    assert batch_size(s, [2, 3]) == 7.0
    assert verification_latency(s, [2, 3]) == pytest.approx(0.107, rel=1e-15)
    assert round_time(s, [2, 3], [0.5, 0.0]) == pytest.approx(0.172, rel=1e-15)
    # A(0.5, 2) = 1 + 0.5 + 0.25 = 1.75; A(0.8, 3) = 1 + 0.8 + 0.64 + 0.512 = 2.952
    assert tokens_per_round(s, [2, 3]) == pytest.approx([1.75, 2.952], rel=1e-15)
    assert goodput(s, [2, 3], [0.5, 0.0]) == pytest.approx((1.75 + 2.952) / 0.172, rel=1e-14)


def test_padded_hand_computed():
    s = two_users(batching="padded")
    # padded batch n = K (max L + 1) = 2 * 4 = 8: T_v = 0.108, T = 0.06 + 0.108 + 0.005
    assert batch_size(s, [2, 3]) == 8.0
    assert round_time(s, [2, 3], [0.5, 0.0]) == pytest.approx(0.173, rel=1e-15)
    assert goodput(s, [2, 3], [0.5, 0.0]) == pytest.approx(4.702 / 0.173, rel=1e-14)


def test_shannon_hand_computed():
    s = Scenario(alpha=0.5, t_draft=0.0, bits_per_token=2.0, bandwidth_hz=1.0, rate_model="shannon", snr=3.0,
                 v0=1.0)
    # r(1) = log2(1 + 3) = 2 bit/s, h = 2 / 2 = 1 s; L = 4: T = 4 + 1; A(0.5, 4) = 1.9375
    assert round_time(s, 4, 1.0) == pytest.approx(5.0, rel=1e-15)
    assert goodput(s, 4, 1.0) == pytest.approx(1.9375 / 5.0, rel=1e-15)


def test_positional_profile_goodput():
    prof = [[0.9, 0.5, 0.1], [0.5, 0.5, 0.5]]
    s = Scenario(alpha=prof, t_draft=0.01, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0,
                 v0=0.1, max_draft=3)
    # A_0 = 1 + 0.9 + 0.45 + 0.045 = 2.395 (L = 3); A_1 = 1 + 0.5 = 1.5 (L = 1); T = 0.03 + 0.1
    assert tokens_per_round(s, [3, 1]) == pytest.approx([2.395, 1.5], rel=1e-15)
    assert goodput(s, [3, 1], 0.0) == pytest.approx(3.895 / 0.13, rel=1e-14)


def test_scalar_broadcast_and_continuous_lengths():
    s = two_users()
    assert round_time(s, 2, 0.5) == round_time(s, [2, 2], [0.5, 0.5])
    T = round_time(s, [2.5, 1.5], [0.5, 0.5], continuous=True)
    # user 0: 2.5 * 0.03 = 0.075; user 1: 1.5 * 0.02 = 0.03; n = 3.5 + 2.5 = 6
    assert T == pytest.approx(0.075 + 0.106 + 0.005, rel=1e-15)


def test_users_without_upload_or_draft_need_no_band():
    s = two_users()
    # user 0 has L = 0 (no drafting, no upload): beta_0 = 0 is feasible
    assert drafting_time(s, [0, 3], [0.0, 0.0]).tolist() == [0.0, pytest.approx(0.06)]
    assert round_time(s, [0, 3], [0.0, 0.0]) == pytest.approx(0.06 + 0.1 + 0.001 * 5 + 0.005, rel=1e-15)
    h = per_token_latency(s, [0.0, 0.0])  # no warnings although r = 0 for both
    assert h[0] == np.inf and h[1] == 0.02


def test_band_slack_is_accepted():
    s = two_users(bits_per_token=[100.0, 100.0])
    round_time(s, [1, 1], [0.5, 0.5 + 1e-13])  # sum = 1 + 1e-13 <= 1 + 1e-12


def test_shortest_round_goodput():
    """At the shortest round allowed (v0 = 1e-12 s: numerics.validation.MIN_ROUND_TIME; a zero round
    time is refused when the scenario is built) the goodput is finite: A(0.5, 1) / 1e-12 = 1.5e12
    (docs/model.md section 2, by hand)."""
    s = Scenario(alpha=0.5, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0, v0=1e-12)
    assert round_time(s, 1, 0.0) == 1e-12
    assert goodput(s, 1, 0.0) == pytest.approx(1.5e12, rel=1e-15)


# ---------------------------------------------------------------- infeasible points
@pytest.mark.parametrize("fn", [round_time, goodput])
def test_band_over_one(fn):
    s = two_users(bits_per_token=[100.0, 100.0])
    with pytest.raises(ValueError, match=r"beta must sum to at most 1, got sum 1.000000000002"):
        fn(s, [1, 1], [0.5, 0.5 + 2e-12])


@pytest.mark.parametrize("fn", [round_time, goodput])
@pytest.mark.parametrize("L, shown", [([-1, 1], "-1.0"), ([1, 9], "9.0"), ([np.nan, 1], "nan"), ([np.inf, 1], "inf")])
def test_length_outside_range(fn, L, shown):
    with pytest.raises(ValueError, match=rf"L must lie in \[0, max_draft=8\], got {shown}"):
        fn(two_users(), L, [0.5, 0.5])


@pytest.mark.parametrize("fn", [round_time, goodput])
def test_length_not_integer(fn):
    with pytest.raises(ValueError, match=r"L must be integers, got 2.5"):
        fn(two_users(), [2.5, 1], [0.5, 0.5])


@pytest.mark.parametrize("fn", [round_time, goodput])
def test_uploading_user_without_band(fn):
    with pytest.raises(ValueError, match=r"beta\[0\] = 0 but user 0 uploads \(s_k > 0, L_k = 2 > 0\)"):
        fn(two_users(), [2, 3], [0.0, 1.0])


@pytest.mark.parametrize("bad, shown", [(-0.1, "-0.1"), (np.nan, "nan"), (np.inf, "inf")])
def test_bad_share(bad, shown):
    with pytest.raises(ValueError, match=rf"beta must be finite and >= 0, got {shown}"):
        round_time(two_users(), [1, 1], [0.5, bad])


def test_wrong_lengths():
    s = two_users()
    with pytest.raises(ValueError, match=r"L must be a scalar or have length K=2, got shape \(3,\)"):
        round_time(s, [1, 1, 1], 0.5)
    with pytest.raises(ValueError, match=r"beta must be a scalar or have length K=2, got shape \(1,\)"):
        check_point(s, [1, 1], [0.5])


@pytest.mark.parametrize("fn", [batch_size, verification_latency, tokens_per_round])
def test_model_pieces_validate_lengths(fn):
    with pytest.raises(ValueError, match=r"L must lie in \[0, max_draft=8\], got -2.0"):
        fn(two_users(), [-2, 1])
    with pytest.raises(ValueError, match=r"L must be a scalar or have length K=2"):
        fn(two_users(), [1, 1, 1])


# ---------------------------------------------------------------- shares near 0 (new-user finding 12)
SUBNORMAL_CASE = dict(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
                      spectral_efficiency=[2.0, 1.0], v0=0.05)


@pytest.mark.parametrize("fn", [round_time, goodput])
def test_share_too_small_for_a_finite_round_is_refused(fn):
    """New-user finding 12: round_time(s, [4, 4], [1e-320, 1.0]) returned inf and goodput 0.0 (the
    upload time 100 / (1e-320 x 2e4) = 5e317 s overflows). Decided (numerics.validation, Limits): such
    a share is refused naming beta[k]; a share of 0 stays refused by the feasibility check."""
    s = Scenario(**SUBNORMAL_CASE)
    with pytest.raises(ValueError, match=r"beta\[0\] = 1e-320 is too small: the upload time s_k / r_k\(beta_k\) of "
                                         r"user 0 overflows \(above 1.8e\+308 s\)"):
        fn(s, [4, 4], [1e-320, 1.0])
    with pytest.raises(ValueError, match=r"beta\[0\] = 1e-320 is too small"):
        per_token_latency(s, [1e-320, 1.0])
    # L = 1e6 tokens at an upload time of 5e302 s each overflow only in the drafting-plus-upload time
    s = Scenario(**{**SUBNORMAL_CASE, "max_draft": 10**6})
    with pytest.raises(ValueError, match=r"beta\[0\] = 1e-306 is too small: the drafting-plus-upload time L_k "
                                         r"h_k\(beta_k\) of user 0 overflows"):
        fn(s, [10**6, 1], [1e-306, 0.5])


def test_tiny_share_with_a_finite_round_is_computed():
    """A share of 1e-300 (upload 5e297 s a token) is served: round time and goodput against mpmath
    (40 digits) from docs/model.md section 2: T = L (t + s / (beta B eta)) + v0, G = sum_k A_k / T."""
    import mpmath as mp

    s = Scenario(**SUBNORMAL_CASE)
    with mp.workdps(40):
        T = 4 * (mp.mpf("0.01") + 100 / (mp.mpf(1e-300) * 10**4 * 2)) + mp.mpf("0.05")
        A = sum((1 - mp.mpf(a) ** 5) / (1 - mp.mpf(a)) for a in (0.8, 0.6))
        G = A / T
    assert round_time(s, [4, 4], [1e-300, 0.5]) == pytest.approx(float(T), rel=4e-16)
    assert goodput(s, [4, 4], [1e-300, 0.5]) == pytest.approx(float(G), rel=1e-15)


def test_scenario_whose_equal_split_round_overflows_is_refused():
    """The companion limit (numerics.validation, Limits): a scenario whose equal band split at the
    longest draft has no finite round time (a draft time of 1e303 s at max_draft = 10^6) is refused
    when built, so that no baseline's round time can overflow."""
    with pytest.raises(ValueError, match=r"the longest round of the equal band split, max_draft \(t_k \+ K s_k / "
                                         r"r_k\(1\)\) \+ v0 \+ v1 K \(max_draft \+ 1\) \+ overhead, must be a finite "
                                         r"double \(<= 1.8e\+308 s\), got inf s with max_draft = 1000000, K = 2"):
        Scenario(**{**SUBNORMAL_CASE, "t_draft": [0.01, 1e303], "max_draft": 10**6})
    Scenario(**{**SUBNORMAL_CASE, "t_draft": [0.01, 1e300], "max_draft": 10**6})  # 1e306 s: inside
