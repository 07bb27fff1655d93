r"""Real Lambert-W, both real branches, vectorised, in NumPy (no complex arithmetic).

:math:`W_b(x)` is the solution w of :math:`w e^w = x` on branch b: the principal branch
W_0 on [-1/e, inf) (W_0 >= -1) and the lower branch W_{-1} on [-1/e, 0) (W_{-1} <= -1).
Used by the Shannon-rate inverse (docs/model.md section 2), the H4 draft-length closed form and
the D3 allocation (:mod:`numerics.heterogeneous`), whose per-user closed form needs
:func:`wright_omega` (= W_0(e^z), free of overflow for large z).

Method (a fixed number of steps, no data-dependent loop, so the cost is the same for every
element):

- near the branch point, e x + 1 < 1/3: w = -1 + q, with q the root of
  g(q) = q e^q - expm1(q) = e x + 1 (an exact rewriting of w e^w = x). The right-hand side
  delta = e (x + 1/e) is formed with 1/e split in two doubles, so it is exact to rounding
  even where x + 1/e cancels; the start is the branch-point series in p = sqrt(2 delta),
  q = +-p - p^2/3 +- 11 p^3/72 - 43 p^4/540 +- 769 p^5/17280 (Corless et al. 1996, eq. 4.22;
  + for W_0, - for W_{-1}), refined by three Halley steps on g. The residual g(q) - delta
  carries an absolute error of order eps |q| and g'(q) = q e^q, so q (and w) come out with
  an absolute error of order eps: no loss of digits at the branch point, unlike iterations
  on w e^w - x whose derivative vanishes there.
- elsewhere: Winitzki's approximation (W_0) or the asymptotic series ln(-x) - ln(-ln(-x)) +
  ln(-ln(-x))/ln(-x) (W_{-1}) as the start, refined by two steps of the fourth-order iteration of Fritsch,
  Shafer and Crowley (1973) in the log form z = ln(x/w) - w, whose rounding error is
  relative in w (Veberic 2012, "Lambert W function for applications in physics").

Accuracy: relative error <= 1e-14 against mpmath at 40 digits over the whole domain (checked
on log-spaced grids, near -1/e and near 0, by ``tests/test_lambertw.py`` and the claim
``lambertw`` of ``proofs_check``). Exact values: W_b(-1/e) = -1 (any x with e x + 1 <= 0
after rounding, i.e. the double nearest -1/e, which lies just below -1/e), W_0(0) = 0,
W_{-1}(0) = -inf (the limit from the left), W_0(inf) = inf.
"""

from __future__ import annotations

import numpy as np

from .validation import as_float_array

__all__ = ["lambertw", "omega_unchecked", "wright_omega"]

#: 1/e as an unevaluated sum of two doubles (the low part from mpmath at 40 digits)
_INV_E_HI = 0.36787944117144233
_INV_E_LO = -1.2428753672788363e-17
_E = np.e
#: e x + 1 below this: branch-point form (p = sqrt(2 delta) <= 0.82)
_NEAR = 1.0 / 3.0
#: branch-point series of W_{0/-1}(x) + 1 in p (Corless et al. 1996, eq. 4.22), sign of odd terms
_SERIES = (1.0, -1.0 / 3.0, 11.0 / 72.0, -43.0 / 540.0, 769.0 / 17280.0)


def _domain_error(x: np.ndarray, ok: np.ndarray, branch: int) -> None:
    bad = x[~ok].flat[0] if x.ndim else x
    dom = "[-1/e, 0]" if branch == -1 else "[-1/e, inf]"
    raise ValueError(f"x must lie in {dom} for branch {branch} of lambertw, got {float(bad)!r}")


def _near_branch(delta: np.ndarray, branch: int) -> np.ndarray:
    """W = -1 + q for 0 < delta = e x + 1 <= 1/3: Halley on g(q) = q e^q - expm1(q) = delta."""
    p = np.sqrt(2.0 * delta)
    if branch == -1:
        p = -p
    # series start: q = sum_k c_k p^k (Horner)
    q = np.full_like(p, _SERIES[-1])
    for coef in _SERIES[-2::-1]:
        q = q * p + coef
    q = q * p
    for _ in range(3):
        eq = np.exp(q)
        f = q * eq - np.expm1(q) - delta  # g(q) - delta
        d1 = q * eq                       # g'(q)
        d2 = (1.0 + q) * eq               # g''(q)
        step = f / d1
        q = q - step / (1.0 - 0.5 * step * d2 / d1)
    return q - 1.0


def _fritsch(w: np.ndarray, x: np.ndarray | None, logx: np.ndarray | None, n_iter: int) -> np.ndarray:
    """Fritsch-Shafer-Crowley iteration on w + ln(w) = ln(x) (signs of w and x agree).

    z = ln(x/w) - w, q = 2 (1 + w)(1 + w + 2 z / 3), w <- w (1 + z/(1 + w) (q - z)/(q - 2 z)).
    Evaluated with q divided by 2 (1 + w) and z by 1 + w (qh = 1 + w + 2 z / 3, zn = z / (1 + w):
    w <- w (1 + zn (qh - zn / 2) / (qh - zn)), the same rational function) so that nothing
    squares or doubles w: no overflow for w up to the largest double (Wright omega of z ~ 1e308).
    Given ``x``, ln(x/w) is taken of the ratio (absolute error eps, hence a relative error
    eps in w even for tiny x); given ``logx`` = ln x instead (huge x, no overflow), as
    ln x - ln w (absolute error eps ln x, relative in w since w ~ ln x there).
    """
    for _ in range(n_iter):
        z = (np.log(x / w) if x is not None else logx - np.log(np.abs(w))) - w
        w1 = 1.0 + w
        zn = z / w1
        qh = w1 + (2.0 / 3.0) * z
        w = w * (1.0 + zn * (qh - 0.5 * zn) / (qh - zn))
    return w


def _w0_regular(x: np.ndarray) -> np.ndarray:
    """W_0 for e x + 1 > 1/3, x != 0, x finite: Winitzki start, two Fritsch steps."""
    l1 = np.log1p(x)
    w = l1 * (1.0 - np.log1p(l1) / (2.0 + l1))
    return _fritsch(w, x, None, 2)


def _wm1_regular(x: np.ndarray) -> np.ndarray:
    """W_{-1} for e x + 1 > 1/3, x < 0: asymptotic start, two Fritsch steps."""
    l1 = np.log(-x)
    l2 = np.log(-l1)
    w = l1 - l2 + l2 / l1
    return _fritsch(w, None, l1, 2)  # log form: x may be subnormal, |w| ~ |ln(-x)|


def lambertw(x, branch: int = 0):
    r"""Real Lambert-W: the solution w of :math:`w e^w = x` on branch 0 or -1.

    Parameters
    ----------
    x : array_like
        Branch 0: x in [-1/e, inf]; branch -1: x in [-1/e, 0] (x = 0 gives the limit -inf).
    branch : {0, -1}
        0: the principal branch, w >= -1; -1: the lower branch, w <= -1.

    Returns
    -------
    ndarray (float64), or a float for scalar input.

    Raises
    ------
    ValueError
        ``branch`` not 0 or -1; x outside the real domain of the branch (NaN included).

    Notes
    -----
    Method and accuracy: see the module docstring (relative error <= 1e-14; exact at -1/e
    and 0). Replaces ``scipy.special.lambertw`` (complex, about 200 ns an element).

    Examples
    --------
    >>> float(lambertw(1.0))
    0.5671432904097838
    >>> float(lambertw(-0.1, -1))
    -3.5771520639572967
    >>> float(lambertw(-np.exp(-1.0))), float(lambertw(0.0)), float(lambertw(0.0, -1))
    (-1.0, 0.0, -inf)
    """
    if isinstance(branch, bool) or branch not in (0, -1):
        raise ValueError(f"branch must be 0 or -1, got {branch!r}")
    x = as_float_array("x", x, None)
    lo = -_INV_E_HI
    ok = (x >= lo) & ((x <= 0) if branch == -1 else (x <= np.inf))
    if not np.all(ok):
        _domain_error(x, ok, branch)
    xf = x.ravel()
    # delta = e x + 1 = e (x + 1/e): x + 1/e_hi is exact (Sterbenz) where it cancels
    neg = xf < 0.0
    delta = np.where(neg, _E * ((np.minimum(xf, 0.0) + _INV_E_HI) + _INV_E_LO), np.inf)
    regular = (delta >= _NEAR) & (xf != 0.0) & (xf < np.inf)
    if regular.all():  # fast path: no masking
        out = _w0_regular(xf) if branch == 0 else _wm1_regular(xf)
        return out.reshape(x.shape)[()]
    out = np.empty_like(xf)
    at_bp = delta <= 0.0
    near = (delta < _NEAR) & ~at_bp
    out[at_bp] = -1.0
    out[xf == 0.0] = 0.0 if branch == 0 else -np.inf
    out[xf == np.inf] = np.inf
    if near.any():
        out[near] = _near_branch(delta[near], branch)
    if regular.any():
        xr = xf[regular]
        out[regular] = _w0_regular(xr) if branch == 0 else _wm1_regular(xr)
    return out.reshape(x.shape)[()]


def wright_omega(z):
    r"""Real Wright omega function :math:`\omega(z) = W_0(e^z)`: the root of :math:`\omega + \ln\omega = z`.

    Evaluated as ``lambertw(exp(z))`` for -700 < z <= 700; where e^z would overflow, by the
    same Fritsch iteration started from z - ln z + ln z / z in log form (overflow-free up to
    the largest double, where omega ~ z); for z <= -700 as e^z (omega = e^(z - omega) and
    omega < 1e-304 there).

    Accuracy: relative error <= 1e-14 against mpmath for every finite z whose omega is a
    normal double (z >= -708.39); below, omega is subnormal and e^z is returned with an
    absolute error of at most the smallest subnormal, 4.9e-324 (0 below z ~ -745.1, where
    omega underflows). Checked by ``tests/test_lambertw.py`` on grids up
    to 1.8e308.

    Parameters
    ----------
    z : array_like
        Any real number; -inf gives 0, +inf gives +inf.

    Raises
    ------
    ValueError
        z is NaN.

    Examples
    --------
    >>> float(wright_omega(1.0))   # W_0(e) = 1
    1.0
    >>> round(float(wright_omega(1000.0)), 10)
    993.0991694724
    >>> float(wright_omega(1e200))   # z - ln z + ln z / z + ...: equal to z in double precision
    1e+200
    """
    z = as_float_array("z", z, None)
    if np.any(np.isnan(z)):
        raise ValueError("z must not be NaN in wright_omega, got nan")
    return omega_unchecked(z.ravel()).reshape(z.shape)[()]


def omega_unchecked(z: np.ndarray) -> np.ndarray:
    """:func:`wright_omega` of a 1-D float64 array without NaN, without input checks (solver use)."""
    if z.size and z.min() > -700.0 and z.max() <= 700.0:  # fast path: no masks
        return _w0_regular(np.exp(z))
    out = np.empty_like(z)
    mid = (z > -700.0) & (z <= 700.0)
    if mid.any():
        out[mid] = _w0_regular(np.exp(z[mid]))
    low = z <= -700.0  # omega = e^(z - omega) = e^z to double precision (omega < 1e-304)
    out[low] = np.exp(z[low])
    big = z > 700.0
    if big.any():
        zb = z[big]
        fin = np.isfinite(zb)
        zs = np.where(fin, zb, 1000.0)
        l1 = np.log(zs)
        w = _fritsch(zs - l1 + l1 / zs, None, zs, 2)
        out[big] = np.where(fin, w, np.inf)
    return out
