r"""Confidence intervals for a ratio of means of bounded i.i.d. pairs: empirical likelihood
with the support bounds (used by :func:`numerics.simulate.simulate`).

Problem. Rounds r = 1..n give i.i.d. pairs (X_r, Y_r) (tokens, seconds) with known bounds
x_lo <= X <= x_hi and 0 < y_lo <= Y <= y_hi; the target is G = E[X] / E[Y]. The delta-method
interval G^ +- z se collapses to zero width when the sample happens to have no variation, which
is what happens when rejections are rare (alpha within 1e-6 of 1: most samples of 10^4 rounds see
no rejection at all), and it then excludes the truth.

Method. The nonparametric likelihood-ratio (empirical likelihood) interval of the estimating
equation E[X - G Y] = 0 (Owen 2001, *Empirical Likelihood*, ch. 3; Qin and Lawless 1994, Ann.
Stat. 22(1)), over *all* distributions supported on the known bounds, not only on the observed
points. With z_r(G) = X_r - G Y_r and its support [z_lo(G), z_hi(G)] = [x_lo - G y_hi,
x_hi - G y_lo], the profile log-likelihood ratio is (Lagrange duality)

    -log R(G) = max_{lambda in Lambda(G)} sum_r log(1 + lambda z_r(G)),
    Lambda(G) = {lambda : 1 + lambda z >= 0 for every z in [z_lo, z_hi]} = [-1/z_hi, -1/z_lo].

When the maximiser is interior this is Owen's empirical likelihood; when it sits at an end of
Lambda the optimal distribution puts mass on the support bound that no round reached. Example:
n rounds all at x_hi (no rejection seen), Y constant: -log R = n log((x_hi - x_lo)/(mu - x_lo)) for
the mean mu, so the interval reaches down to x_hi - (x_hi - x_lo)(1 - e^{-q/(2n)}), q the chi^2_1
quantile; it never has zero width unless the support is a single point (then G is known exactly).
The interval is {G : -2 log R(G) <= chi^2_{1, confidence}} (Wilks), found by bracketing and
``scipy.optimize.brentq`` on each side of G^ = sum X / sum Y. The chi^2 calibration is
asymptotic: with few distinct outcomes (rare rejections) the coverage is governed by their
discreteness and stays at or above the level there (:mod:`numerics.simulate`, "Coverage").
scipy.stats has no interval for this problem (``scipy.stats.bootstrap`` degenerates on a
constant sample as the delta method does).

The inner maximisation is a safeguarded Newton iteration (:func:`numerics.roots.newton`) on the
decreasing derivative sum w z / (1 + lambda z); repeated pairs are merged with weights (without fading X takes few
values and Y one).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from scipy import optimize

from .roots import newton
from .validation import as_float_array, check_range

__all__ = ["log_likelihood_ratio", "ratio_interval"]


def _inner(z: np.ndarray, w: np.ndarray, z_lo: float, z_hi: float) -> float:
    """max over Lambda of sum w log(1 + lambda z) (>= 0; +inf when G is outside the support)."""
    if z_lo > 0.0 or z_hi < 0.0:
        return math.inf
    lam_lo = -1.0 / z_hi if z_hi > 0.0 else -math.inf
    lam_hi = -1.0 / z_lo if z_lo < 0.0 else math.inf
    if not np.any(z != 0.0):
        return 0.0

    def dh(lam: float) -> float:
        return float(np.sum(w * z / (1.0 + lam * z)))

    def h(lam: float) -> float:
        with np.errstate(divide="ignore"):
            return float(np.sum(w * np.log1p(lam * z)))

    g0 = dh(0.0)
    if g0 == 0.0:
        return 0.0
    # the maximiser lies on the side of 0 where h increases; bracket it with an end of Lambda
    if g0 > 0.0:
        a, b = 0.0, lam_hi
        if not math.isfinite(b):  # z_lo = 0: every z >= 0; h grows without bound if some z > 0
            return math.inf
        end = b * (1.0 - 1e-15) if np.any(1.0 + b * z <= 0.0) else b
        if dh(end) >= 0.0:
            return h(end)
        b = end
    else:
        a, b = lam_lo, 0.0
        if not math.isfinite(a):
            return math.inf
        end = a * (1.0 - 1e-15) if np.any(1.0 + a * z <= 0.0) else a
        if dh(end) <= 0.0:
            return h(end)
        a = end
    # safeguarded Newton on the decreasing dh, bracket [a, b] with dh(a) > 0 > dh(b)

    def fun(x, idx):
        zd = z[None, :] / (1.0 + x[:, None] * z[None, :])
        return np.sum(w * zd, axis=1), -np.sum(w * zd * zd, axis=1)

    lam = float(newton(fun, a, b, increasing=False, xtol=1e-14, rtol=1e-14).x[0])
    return max(h(lam), 0.0)


def log_likelihood_ratio(G: float, x: np.ndarray, y: np.ndarray, w: np.ndarray,
                         x_bounds: tuple[float, float], y_bounds: tuple[float, float]) -> float:
    """-2 log R(G) of the module docstring (0 at G^ = sum w x / sum w y; +inf outside the support)."""
    z = x - G * y
    z_lo = x_bounds[0] - G * y_bounds[1]
    z_hi = x_bounds[1] - G * y_bounds[0]
    return 2.0 * _inner(z, w, z_lo, z_hi)


def ratio_interval(x, y, x_bounds: tuple[float, float], y_bounds: tuple[float, float],
                   confidence: float = 0.95, weights=None) -> tuple[float, float, float]:
    """Estimate and empirical-likelihood interval of E[X] / E[Y] (module docstring).

    Parameters
    ----------
    x, y : array_like (n,)
        The pairs, n >= 1; y > 0.
    x_bounds, y_bounds : (float, float)
        Known support bounds: x_lo <= every possible X <= x_hi, 0 <= y_lo <= Y <= y_hi, y_hi > 0
        (bounds of the distribution, not of the sample; a sample value outside raises).
    confidence : float in (0, 1)
    weights : array_like (n,), optional
        How many rounds each pair stands for (counts, finite and >= 0, not all 0): the sample
        with pair r repeated weights[r] times, without building it (default: 1 each).

    Returns
    -------
    (estimate, low, high) : floats, low <= estimate <= high.

    Raises
    ------
    ValueError
        Empty or mismatched samples, non-finite values, bad bounds, a sample outside its bounds,
        confidence outside (0, 1), weights of another length, negative, non-finite or all 0.

    Examples
    --------
    >>> g, lo, hi = ratio_interval([17.0] * 20000, [0.1] * 20000, (1.0, 17.0), (0.1, 0.1))
    >>> round(g, 9), round(170.0 - lo, 4), round(hi, 9)   # no variation seen, yet a non-zero width
    (170.0, 0.0154, 170.0)
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    if xs.size == 0 or xs.shape != ys.shape:
        raise ValueError(f"x and y must be non-empty and of one length, got {xs.size} and {ys.size}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y must be finite")
    (xl, xh), (yl, yh) = (float(v) for v in x_bounds), (float(v) for v in y_bounds)
    if not (0.0 <= yl <= yh and yh > 0.0 and xl <= xh):
        raise ValueError(f"bounds must satisfy x_lo <= x_hi and 0 <= y_lo <= y_hi, y_hi > 0, "
                         f"got {x_bounds!r}, {y_bounds!r}")
    if xs.min() < xl or xs.max() > xh or ys.min() < yl or ys.max() > yh:
        raise ValueError(f"a sample lies outside its bounds: x in [{xs.min()!r}, {xs.max()!r}] vs {x_bounds!r},"
                         f" y in [{ys.min()!r}, {ys.max()!r}] vs {y_bounds!r}")
    if not (isinstance(confidence, (int, float)) and 0.0 < confidence < 1.0):
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    if weights is None:
        ws = np.ones(xs.size)
    else:
        ws = as_float_array("weights", weights, (1,))
        if ws.shape != xs.shape:
            raise ValueError(f"weights must have one entry per pair ({xs.size}), got {ws.size}")
        check_range("weights", ws, low=0.0)
        if not ws.sum() > 0.0:
            raise ValueError("weights must not all be 0")

    pairs, inverse = np.unique(np.stack([xs, ys], axis=1), axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=ws, minlength=pairs.shape[0])
    keep = w > 0.0  # pairs of weight 0 are not in the sample
    px, py, w = pairs[keep, 0], pairs[keep, 1], w[keep]
    g_min, g_max = xl / yh, (xh / yl if yl > 0.0 else math.inf)
    # the exact ratio lies in [g_min, g_max]; the division may round it just outside (by an ulp)
    G = min(max(float(np.sum(w * px) / np.sum(w * py)), g_min), g_max)
    # chi^2_1 quantile = squared normal quantile (stdlib: keeps scipy.stats out of `import numerics`)
    q = NormalDist().inv_cdf(0.5 + confidence / 2.0) ** 2

    def excess(Gv: float) -> float:
        return log_likelihood_ratio(Gv, px, py, w, (xl, xh), (yl, yh)) - q

    # first step: the delta-method half width (or a relative 1e-9 when the sample is constant)
    resid = px - G * py
    var = float(np.sum(w * resid**2) / max(w.sum() - 1.0, 1.0))
    step0 = max(math.sqrt(var / w.sum()) / float(np.sum(w * py) / w.sum()), 1e-9 * abs(G), 1e-300)

    def root(inner: float, outer: float) -> float:
        """The crossing of excess between inner (<= 0) and outer (> 0, possibly +inf there)."""
        f_out = excess(outer)
        for _ in range(200):  # an infinite value at the support bound: move inside until finite
            if math.isfinite(f_out):
                break
            mid = 0.5 * (inner + outer)
            f_mid = excess(mid)
            if f_mid <= 0.0:
                inner = mid
            else:
                outer, f_out = mid, f_mid
            if mid in (inner, outer) and abs(outer - inner) <= 4.5e-16 * abs(G):
                return inner
        lo_, hi_ = sorted((inner, outer))
        return optimize.brentq(excess, lo_, hi_, xtol=1e-300, rtol=1e-15)

    # -2 log R is 0 at G^ in exact arithmetic; it can be positive by round-off of z = x - G^ y only
    # when the support itself is as narrow as the round-off (X and Y constant up to 1e-12): then
    # G is known to that precision and the interval is the point G^
    degenerate = excess(G) > 0.0

    def endpoint(limit: float, sign: float) -> float:
        """Walk from G towards ``limit`` (a support bound of G) in growing steps, then bracket."""
        if (limit - G) * sign <= 0.0 or degenerate:
            return G
        step, inner = step0, G
        while True:
            cand = G + sign * step
            if (cand - limit) * sign >= 0.0:
                return limit if excess(limit) <= 0.0 else root(inner, limit)
            if excess(cand) > 0.0:
                return root(inner, cand)
            inner, step = cand, step * 4.0

    low = endpoint(g_min, -1.0)
    high = endpoint(g_max, +1.0)
    return G, min(low, G), max(high, G)
