"""Real Lambert-W and Wright omega (numerics.lambertw) against mpmath at 40 digits.

Reference values: ``mpmath.lambertw(x, branch)`` with ``mp.dps = 40`` evaluated at the exact
double x of each grid point (and ``mpmath.lambertw(mpmath.exp(z))`` for omega), rounded to a
double; the requirement is a relative error <= 1e-14 over the whole domain.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics.lambertw import lambertw, wright_omega

INV_E = float(np.exp(-1.0))  # the double nearest 1/e (just above it)
TOL = 1e-14


def _ref(x: np.ndarray, branch: int) -> np.ndarray:
    with mp.workdps(40):
        return np.array([float(mp.re(mp.lambertw(mp.mpf(float(v)), branch))) for v in x])


def _rel_err(w: np.ndarray, r: np.ndarray) -> float:
    return float(np.max(np.abs(w - r) / np.maximum(np.abs(r), np.finfo(float).tiny)))


GRIDS = {
    "w0-positive": (np.logspace(-320, 308, 700), 0),
    "w0-negative": (-np.logspace(-320, np.log10(INV_E) - 1e-12, 500), 0),
    # x = -1/e + d, d from 1 ulp of 1/e upward: both branches near the branch point
    "w0-branch-point": (np.nextafter(-INV_E, 0.0) + np.r_[0.0, np.logspace(-16, -0.5, 400)], 0),
    "wm1-branch-point": (np.nextafter(-INV_E, 0.0) + np.r_[0.0, np.logspace(-16, -0.5, 400)], -1),
    "wm1-all": (-np.logspace(-320, np.log10(INV_E) - 1e-12, 700), -1),
    "w0-uniform": (np.random.default_rng(0).uniform(-INV_E, 20.0, 400), 0),
    "wm1-uniform": (np.random.default_rng(1).uniform(-INV_E, -1e-300, 400), -1),
}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_against_mpmath(name):
    x, branch = GRIDS[name]
    x = x[(x >= -INV_E) & ((x < 0) if branch == -1 else np.isfinite(x))]
    assert _rel_err(lambertw(x, branch), _ref(x, branch)) <= TOL


def test_exact_points():
    assert lambertw(-INV_E) == -1.0 and lambertw(-INV_E, -1) == -1.0
    assert lambertw(0.0) == 0.0 and lambertw(-0.0) == 0.0
    assert lambertw(0.0, -1) == -np.inf
    assert lambertw(np.inf) == np.inf
    assert lambertw(np.e) == pytest.approx(1.0, rel=1e-16, abs=0)


def test_near_branch_point_is_continuous():
    # one ulp above the branch point: W = -1 +- sqrt(2 (e x + 1)) to first order
    x = np.nextafter(-INV_E, 0.0)
    assert abs(lambertw(x) + 1.0) < 1e-7 and abs(lambertw(x, -1) + 1.0) < 1e-7
    assert lambertw(x) > -1.0 > lambertw(x, -1)


def test_shape_and_scalar():
    x = np.linspace(0.0, 3.0, 12).reshape(3, 4)
    assert lambertw(x).shape == (3, 4)
    assert isinstance(lambertw(1.0), float)
    assert lambertw(np.array([])).shape == (0,)


@pytest.mark.parametrize("x, branch, match", [
    (-0.4, 0, r"x must lie in \[-1/e, inf\] for branch 0"),
    (np.nan, 0, "got nan"),
    (0.1, -1, r"x must lie in \[-1/e, 0\] for branch -1"),
    (-np.inf, -1, "got -inf"),
    ([0.1, -0.5], 0, "got -0.5"),
])
def test_domain_errors(x, branch, match):
    with pytest.raises(ValueError, match=match):
        lambertw(x, branch)


@pytest.mark.parametrize("branch", [1, -2, True, "0"])
def test_branch_errors(branch):
    with pytest.raises(ValueError, match="branch must be 0 or -1"):
        lambertw(0.5, branch)


def test_wright_omega_against_mpmath():
    z = np.r_[np.linspace(-745.0, 745.0, 301), np.logspace(0, 12, 60), -np.logspace(0, 2.5, 40)]
    with mp.workdps(40):
        ref = np.array([float(mp.lambertw(mp.exp(mp.mpf(float(v))))) for v in z])
    assert _rel_err(wright_omega(z), ref) <= TOL


def test_wright_omega_every_finite_real():
    """Issue 10 item 3: relative error <= 1e-14 for every finite z with a normal result.

    Reference: ``mpmath.lambertw(mpmath.exp(z))`` at 40 digits (mpmath's exponent is unbounded,
    so e^z is exact to 40 digits even at z = 1.8e308). The grid spans |z| from 1 to the largest
    double, where the old evaluation squared an intermediate of size z and returned NaN above
    z ~ 1.2e154.
    """
    big = np.r_[np.logspace(0.0, 308.25, 800), np.finfo(float).max, 1.2e154, 1e200]
    z = np.r_[big, -np.logspace(0.0, np.log10(708.39), 200), np.linspace(-5.0, 5.0, 101)]
    with mp.workdps(40):
        ref = np.array([float(mp.lambertw(mp.exp(mp.mpf(float(v))))) for v in z])
    got = wright_omega(z)
    assert np.all(np.isfinite(got))
    assert float(np.max(np.abs(got - ref) / ref)) <= TOL


def test_wright_omega_handed_case_1e200():
    """Issue 10 handed case: wright_omega(1e200) ~ 1e200 (mpmath: W_0(e^x) = x - ln x + ln x / x + ...,
    whose correction ln x = 460.5 is below half an ulp of 1e200, so the double nearest is 1e200)."""
    with mp.workdps(230):  # enough digits to see the ln x correction of a number of size 1e200
        x = mp.mpf(1e200)
        ref = mp.lambertw(mp.exp(x))
        assert abs(ref - (x - mp.log(x) + mp.log(x) / x)) < 1e-190  # the asymptotic series
    assert wright_omega(1e200) == float(ref) == 1e200


def test_wright_omega_subnormal_results():
    """Below z = -708.39 omega is subnormal: within one subnormal ulp (4.9e-324) of the double
    nearest mpmath's value at 40 digits (NumPy's exp is faithful, not always correctly rounded,
    there), and 0 once it underflows (z < -745.14)."""
    z = np.r_[np.linspace(-745.2, -708.4, 301), -800.0, -1e300]
    with mp.workdps(40):
        ref = np.array([float(mp.lambertw(mp.exp(mp.mpf(float(v))))) for v in z])
    assert np.max(np.abs(wright_omega(z) - ref)) <= np.nextafter(0.0, 1.0)
    assert wright_omega(-800.0) == 0.0


def test_wright_omega_limits_and_errors():
    assert wright_omega(-np.inf) == 0.0 and wright_omega(np.inf) == np.inf
    assert wright_omega(1.0) == pytest.approx(1.0, rel=1e-16, abs=0)
    with pytest.raises(ValueError, match="z must not be NaN"):
        wright_omega([0.0, np.nan])


@given(st.floats(min_value=-INV_E, max_value=1e300, allow_nan=False))
def test_principal_inverse_identity(x):
    # w e^w = x, evaluated stably as w + ln w = ln x (|x| > tiny) and w e^w directly otherwise
    w = lambertw(x)
    assert w >= -1.0
    if abs(x) > 1e-300 and x > 0:
        assert abs((w + np.log(w)) - np.log(x)) <= 1e-14 * max(1.0, abs(np.log(x)))
    elif x != 0 and x > -INV_E + 1e-3:
        assert abs(w * np.exp(w) - x) <= 1e-14 * abs(x)


@given(st.floats(min_value=-INV_E + 1e-3, max_value=-1e-300, allow_nan=False))
def test_lower_inverse_identity(x):
    w = lambertw(x, -1)
    assert w <= -1.0
    # ln(-w) + w = ln(-x)
    assert abs((np.log(-w) + w) - np.log(-x)) <= 1e-14 * max(1.0, abs(np.log(-x)))


def test_monotone_on_grid():
    x = np.linspace(-INV_E, 5.0, 5001)
    assert np.all(np.diff(lambertw(x)) > 0)
    y = np.linspace(-INV_E, -1e-12, 5001)
    assert np.all(np.diff(lambertw(y, -1)) < 0)
