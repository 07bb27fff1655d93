"""numerics.allocation: the equal-finish band allocation (docs/model.md H2; D7 with per-user L).

Reference values: the nested-brentq oracle of ``_oracles_homogeneous`` (no Lambert W, no
code under test), mpmath at 50 digits for the SymPy closed forms of
``theory.homogeneous.share_for_theta``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from _oracles_homogeneous import brentq_theta, scenarios
from hypothesis import given
from hypothesis import strategies as st

from numerics import Scenario
from numerics.allocation import equal_finish_allocation, equal_finish_root, share_for_deadline
from numerics.channel import rate
from theory import homogeneous as th
from theory.symbols import B, eta, rho, s, t, theta

EPS = np.finfo(float).eps


def _finish_times(sc: Scenario, L, beta) -> np.ndarray:
    """L_k (t_k + s_k / r_k(beta_k)) for the uploading users."""
    L = np.broadcast_to(np.asarray(L, float), (sc.n_users,))
    up = (sc.bits_per_token > 0) & (L > 0)
    r = rate(sc.rate_model, beta[up], sc.bandwidth_hz, sc.channel[up])
    return L[up] * (sc.t_draft[up] + sc.bits_per_token[up] / r)


@given(scenarios(max_users=6))
def test_matches_brentq_oracle(sc):
    """theta* agrees with nested brentq to 1e-12 relative (observed <= 7e-16 on 400 examples;
    the oracle's own root tolerance is 4 eps in theta and in every share)."""
    _, T = equal_finish_allocation(sc, np.ones(sc.n_users))
    ref = brentq_theta(sc)
    assert T == pytest.approx(ref, rel=1e-12, abs=1e-300)


@given(scenarios(max_users=6), st.lists(st.integers(0, 40), min_size=6, max_size=6))
def test_per_user_lengths_match_oracle(sc, Ls):
    """D7: with per-user integer L_k (zeros included) the makespan matches the oracle."""
    L = np.array(Ls[: sc.n_users], float)
    beta, T = equal_finish_allocation(sc, L)
    assert T == pytest.approx(brentq_theta(sc, L), rel=1e-12, abs=1e-300)
    up = (sc.bits_per_token > 0) & (L > 0)
    assert np.all(beta[~up] == 0)
    if up.any():
        assert abs(beta.sum() - 1) <= 8 * EPS and beta.sum() <= 1
        assert np.all(beta[up] > 0)


@given(scenarios(max_users=6))
def test_equal_finish_and_full_band(sc):
    """H2: the uploading users finish together (1e-13 relative) and the band is used to 8 ulp."""
    beta, T = equal_finish_allocation(sc, np.ones(sc.n_users))
    up = sc.bits_per_token > 0
    if not up.any():
        assert np.all(beta == 0) and T == np.max(sc.t_draft)
        return
    assert beta.sum() <= 1.0 and abs(beta.sum() - 1.0) <= 8 * EPS
    fin = _finish_times(sc, 1.0, beta)
    assert np.ptp(fin) <= 1e-13 * fin.max()
    assert T == pytest.approx(max(fin.max(), np.max(np.where(up, 0, sc.t_draft))), rel=1e-15)


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_many_users_adversarial(model):
    """K = 10^4 with channels over 6 decades, shares near 0, one user a hair from its pole."""
    rng = np.random.default_rng(7)
    K = 10_000
    t = rng.uniform(0, 0.03, K)
    t[0] = 0.0300  # the user whose drafting time almost fills theta*
    s = np.exp(rng.uniform(np.log(1.0), np.log(1e4), K))
    s[0] = 1e-3
    if model == "linear":
        kw = {"spectral_efficiency": np.exp(rng.uniform(-3, 3, K))}
    else:
        kw = {"snr": np.exp(rng.uniform(-7, 7, K))}
    sc = Scenario(alpha=0.8, t_draft=t, bits_per_token=s, bandwidth_hz=1e9, rate_model=model, v0=0.05, **kw)
    beta, T = equal_finish_allocation(sc, np.ones(K))
    assert np.all(np.isfinite(beta)) and np.all(beta > 0)
    assert beta.sum() <= 1.0 and abs(beta.sum() - 1.0) <= 16 * EPS
    fin = _finish_times(sc, 1.0, beta)
    assert np.ptp(fin) <= 1e-13 * T


def test_free_users_set_the_makespan():
    """A non-uploading user drafting longer than every uploader finishes sets the makespan."""
    sc = Scenario(alpha=0.8, t_draft=[0.5, 0.01, 0.02], bits_per_token=[0.0, 100.0, 300.0],
                  bandwidth_hz=1e4, spectral_efficiency=1.0, v0=0.1)
    beta, T = equal_finish_allocation(sc, [1, 1, 1])
    assert T == 0.5
    # the uploaders still split the whole band to finish together: 0.01 + 100/(1e4 b1) = 0.02 + 300/(1e4 b2)
    assert beta[0] == 0 and beta.sum() == pytest.approx(1, abs=4 * EPS)
    fin = _finish_times(sc, 1.0, beta)
    assert fin[0] == pytest.approx(fin[1], rel=1e-14)


def test_single_user_and_no_upload():
    """K = 1: the whole band, T = L (t + s / r(1)); nobody uploads: no band, T = max L t."""
    sc = Scenario(alpha=0.8, t_draft=0.01, bits_per_token=200.0, bandwidth_hz=1e4, rate_model="shannon",
                  snr=3.0, v0=0.1)
    beta, T = equal_finish_allocation(sc, [5])
    assert beta.tolist() == [1.0]
    assert T == pytest.approx(5 * (0.01 + 200.0 / (1e4 * 2.0)), rel=1e-15)  # log2(1 + 3) = 2
    sc0 = Scenario(alpha=0.8, t_draft=[0.01, 0.02], bits_per_token=0.0, bandwidth_hz=1.0,
                   spectral_efficiency=1.0, v0=0.1)
    beta, T = equal_finish_allocation(sc0, [3, 1])
    assert beta.tolist() == [0.0, 0.0] and T == pytest.approx(0.03, rel=1e-15)


def test_linear_equal_drafting_is_proportional():
    """Linear rate, equal t: beta_k = a_k / sum(a) and T = t + sum(a) exactly (1/S affine)."""
    sc = Scenario(alpha=0.8, t_draft=0.004, bits_per_token=[100.0, 250.0, 650.0], bandwidth_hz=1e5,
                  spectral_efficiency=[1.0, 2.0, 4.0], v0=0.1)
    beta, T = equal_finish_allocation(sc, [1, 1, 1])
    a = np.array([100.0 / 1e5, 250.0 / 2e5, 650.0 / 4e5])
    np.testing.assert_allclose(beta, a / a.sum(), rtol=1e-15)
    assert T == pytest.approx(0.004 + a.sum(), rel=1e-15)


def test_root_function_direct():
    """equal_finish_root on raw arrays: shares sum to 1 and solve the rate equations."""
    c, d, ch = np.array([0.0, 0.01]), np.array([50.0, 80.0]), np.array([10.0, 0.5])
    T, beta = equal_finish_root("shannon", c, d, 1e4, ch)
    assert beta.sum() == pytest.approx(1, abs=2 * EPS)
    np.testing.assert_allclose(rate("shannon", beta, 1e4, ch) * (T - c), d, rtol=1e-13)


def test_share_for_deadline_raises():
    sc = Scenario(alpha=0.8, t_draft=[0.01, 0.02], bits_per_token=[10.0, 10.0], bandwidth_hz=1.0,
                  spectral_efficiency=1.0, v0=0.1)
    with pytest.raises(ValueError, match=r"deadline T=0\.02 is not after the drafting time"):
        share_for_deadline(sc, [1, 1], 0.02)


# ----------------------------------------------------------------- tie to theory (SymPy)
def _grid():
    """(t, s, B, channel, theta) points with c = s ln2 / (B rho (theta - t)) from 1e-9 to 1 - 1e-9."""
    pts = []
    for cval in (1e-9, 1e-4, 0.1, 0.5, 0.9, 0.999, 1 - 1e-6, 1 - 1e-9):
        for rho_v in (1e-3, 1.0, 1e4):
            t_v, B_v, s_v = 0.01, 1e6, 500.0
            q = s_v * np.log(2) / (B_v * rho_v * cval)
            pts.append((t_v, s_v, B_v, rho_v, t_v + q))
    return pts


def test_shares_tied_to_theory_linear():
    """share_for_deadline == lambdify(theory.share_for_theta('linear')) (rational form)."""
    f = sp.lambdify((t, s, B, eta, theta), th.share_for_theta("linear"), "numpy")
    for t_v, s_v, B_v, ch, th_v in _grid():
        sc = Scenario(alpha=0.5, t_draft=t_v, bits_per_token=s_v, bandwidth_hz=B_v, spectral_efficiency=ch, v0=1.0)
        got = share_for_deadline(sc, 1, th_v)[0]
        assert got == pytest.approx(f(t_v, s_v, B_v, ch, th_v), rel=1e-15)


def test_shares_tied_to_theory_shannon():
    """share_for_deadline == theory.share_for_theta('shannon') (W_{-1} form) in mpmath at 50 digits.

    Tolerance 8 eps (1 + kappa): the float input theta - t carries ~1e-16 relative error,
    amplified by the condition number kappa = d ln(beta) / d ln(r) = r / (beta r'(beta)),
    which grows without bound as c -> 1 (here up to 1 - 1e-9, shares far above 1).
    """
    f = sp.lambdify((t, s, B, rho, theta), th.share_for_theta("shannon"), "mpmath")
    with mp.workdps(50):
        _check_shannon_grid(f)


def _check_shannon_grid(f):
    for t_v, s_v, B_v, ch, th_v in _grid():
        sc = Scenario(alpha=0.5, t_draft=t_v, bits_per_token=s_v, bandwidth_hz=B_v, rate_model="shannon", snr=ch,
                      v0=1.0)
        got = share_for_deadline(sc, 1, th_v)[0]
        ref = f(mp.mpf(t_v), mp.mpf(s_v), mp.mpf(B_v), mp.mpf(ch), mp.mpf(th_v))
        # the reference share must solve the rate equation (checks the branch choice)
        r = ref * mp.mpf(B_v) * mp.log(1 + mp.mpf(ch) / ref) / mp.log(2)
        assert abs(r * (mp.mpf(th_v) - mp.mpf(t_v)) / mp.mpf(s_v) - 1) < mp.mpf(10) ** -40
        # condition number of q -> beta: kappa = r / (beta r'(beta)) (elasticity of r^{-1})
        rp = mp.mpf(B_v) * (mp.log(1 + mp.mpf(ch) / ref) - mp.mpf(ch) / (ref + mp.mpf(ch))) / mp.log(2)
        kappa = float(r / (ref * rp))
        assert got == pytest.approx(float(ref), rel=8 * EPS * (1 + kappa))
