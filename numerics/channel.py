"""Uplink rate models and their inverses (MODEL.md section 2, "Uplink rate").

- ``linear``:  r(beta) = beta B eta
- ``shannon``: r(beta) = beta B log2(1 + rho / beta)

Both are increasing and concave in the band share beta. The Shannon inverse is the closed
form derived in :func:`theory.channel.shannon_share_for_rate` with the lower Lambert-W
branch: c = r ln2 / (B rho) < 1, y = -W_{-1}(-c e^{-c}) / c, beta = rho / (y - 1). It is
evaluated as beta = c rho / u with u = log1p(rho / beta) = -W_{-1}(-c e^{-c}) - c
(:func:`theory.channel.shannon_share_normalised`; no overflow of y for tiny c), u being the
positive root of u = c (e^u - 1):

- 1e-280 <= c <= 1/2: the W_{-1} closed form, polished by one Newton step;
- c > 1/2: the argument -c e^{-c} is too close to the branch point -1/e to carry c (its
  derivative in c vanishes at c = 1, so c = 1 - 1e-9 and c = 1 - 1e-8 round to the same
  argument); u is found by Newton from its series 2d + 2d^2/3 (d = 1 - c) on a form of the
  equation free of cancellation;
- c < 1e-280: the W argument would be subnormal; u is the fixed point of u = log(u/c + 1),
  iterated in log form.
"""

from __future__ import annotations

import numpy as np

from .lambertw import lambertw
from .validation import BAND_SLACK, RATE_MODELS, as_float_array, fmt

__all__ = ["rate", "rate_inverse", "rate_derivative"]

_LN2 = np.log(2.0)


def _check_model(rate_model: str) -> None:
    if not isinstance(rate_model, str) or rate_model not in RATE_MODELS:
        raise ValueError(f"rate_model must be 'linear' or 'shannon', got {fmt(rate_model)}")


def _first(x: np.ndarray, bad: np.ndarray) -> float:
    return float(x[bad].flat[0]) if x.ndim else float(x)


def _check_share(beta) -> np.ndarray:
    """beta as a float64 array; ValueError unless every entry is a band share in [0, 1] (1 + 1e-12 for round-off)."""
    beta = as_float_array("beta", beta, None)
    bad = ~((beta >= 0) & (beta <= 1.0 + BAND_SLACK))
    if bad.any():
        raise ValueError(f"beta must lie in [0, 1] (a share of the band), got {_first(beta, bad)!r}")
    return beta


def _finite_rate(what: str, value: np.ndarray, bandwidth_hz: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """``value`` unless an entry overflowed: ValueError naming bandwidth_hz and the channel (B eta or B rho
    too large)."""
    bad = ~np.isfinite(value)
    if bad.any():
        b, c = np.broadcast_arrays(bandwidth_hz, ch, value)[:2]
        raise ValueError(f"{what} overflows (above {np.finfo(np.float64).max:.3g}): bandwidth_hz = {_first(b, bad)!r} "
                         f"with channel (eta or rho) = {_first(c, bad)!r} is too large")
    return value


def _check_link(bandwidth_hz, channel) -> tuple[np.ndarray, np.ndarray]:
    """bandwidth_hz and channel as float64 arrays; ValueError unless finite and > 0."""
    bw = as_float_array("bandwidth_hz", bandwidth_hz, None)
    ch = as_float_array("channel", channel, None)
    bad = ~((bw > 0) & np.isfinite(bw))
    if bad.any():
        raise ValueError(f"bandwidth_hz must be finite and > 0, got {_first(bw, bad)!r}")
    bad = ~((ch > 0) & np.isfinite(ch))
    if bad.any():
        raise ValueError(f"channel (eta or rho) must be finite and > 0, got {_first(ch, bad)!r}")
    return bw, ch


def rate(rate_model: str, beta, bandwidth_hz, channel):
    """Uplink rate r(beta) in bit/s.

    Parameters
    ----------
    rate_model : {'linear', 'shannon'}
    beta : array_like
        Band share(s) in [0, 1]; r(0) = 0 (the limit for Shannon).
    bandwidth_hz : float
        Total band B > 0.
    channel : array_like
        eta (linear, bit/s/Hz) or rho (Shannon, full-band SNR, linear scale), > 0.

    Raises
    ------
    ValueError
        Unknown rate model; beta outside [0, 1] (1 + 1e-12 allowed for round-off) or not a
        number; B or the channel not finite and > 0; a rate that overflows the largest
        double (B eta or B log2(1 + rho) above 1.8e308 bit/s).

    Examples
    --------
    >>> float(rate('linear', 0.5, 1e6, 2.0))   # 0.5 * 1e6 * 2
    1000000.0
    >>> float(rate('shannon', 1.0, 1.0, 1.0))   # 1 * 1 * log2(1 + 1 / 1)
    1.0
    """
    _check_model(rate_model)
    beta = _check_share(beta)
    bandwidth_hz, ch = _check_link(bandwidth_hz, channel)
    with np.errstate(over="ignore"):
        if rate_model == "linear":
            return _finite_rate("the rate beta B eta", beta * bandwidth_hz * ch, bandwidth_hz, ch)[()]
        pos = beta > 0
        b = np.where(pos, beta, 1.0)
        val = b * bandwidth_hz * _log1p_ratio(ch, b) / _LN2
    return _finite_rate("the rate beta B log2(1 + rho/beta)", np.where(pos, val, 0.0), bandwidth_hz, ch)[()]


def _log1p_ratio(ch: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(1 + ch/b) for b > 0, also where ch/b overflows (then log(ch) - log(b), exact to rounding)."""
    with np.errstate(over="ignore"):
        x = ch / b
    return np.where(np.isinf(x), np.log(ch) - np.log(b), np.log1p(np.where(np.isinf(x), 1.0, x)))


def rate_derivative(rate_model: str, beta, bandwidth_hz, channel):
    """dr/dbeta: B eta (linear); B [log2(1 + rho/beta) - rho / ((beta + rho) ln 2)] (Shannon).

    Symbolic source: :func:`theory.channel.rate_derivative`. The Shannon slope is +inf at
    beta = 0; with p = rho / beta it is B (log1p(p) - p / (1 + p)) / ln 2, evaluated without
    cancellation for small p (p^2 / 2 - 2 p^3 / 3 + ...: a power-limited user, rho << beta)
    and without overflow of p. Raises ``ValueError`` for beta outside [0, 1], B or the
    channel <= 0, or a slope that overflows (B eta above 1.8e308).
    """
    _check_model(rate_model)
    beta = _check_share(beta)
    bandwidth_hz, ch = _check_link(bandwidth_hz, channel)
    with np.errstate(over="ignore"):
        if rate_model == "linear":
            return _finite_rate("the slope B eta", bandwidth_hz * ch * np.ones_like(beta), bandwidth_hz, ch)[()]
        pos = beta > 0
        b = np.where(pos, beta, 1.0)
        # log1p(p) - p/(1+p) = u - (1 - e^{-u}) = e^{-u} - 1 + u with u = log1p(p) (no overflow of p, no cancellation)
        val = bandwidth_hz * _expm1_minus_x(-_log1p_ratio(ch, b)) / _LN2
    return np.where(pos, _finite_rate("the slope of the rate", val, bandwidth_hz, ch), np.inf)[()]


def rate_inverse(rate_model: str, r, bandwidth_hz, channel):
    """The band share that achieves rate r: beta = r^{-1}(r).

    Linear: beta = r / (B eta) (:func:`theory.channel.linear_share_for_rate`). Shannon: the
    W_{-1} closed form of :func:`theory.channel.shannon_share_for_rate` (module docstring);
    the rate r is reachable only if c = r ln2 / (B rho) < 1 (as beta -> inf the Shannon rate
    tends to B rho / ln 2), otherwise ``ValueError``. r = 0 gives beta = 0.

    Raises
    ------
    ValueError
        Unknown rate model; r negative or not finite; B or the channel not finite and > 0;
        an unreachable Shannon rate (c >= 1).

    Examples
    --------
    >>> b = rate_inverse('shannon', 2.0e6, 1.0e6, 100.0)
    >>> round(float(rate('shannon', b, 1.0e6, 100.0)) / 2.0e6, 12)
    1.0
    """
    _check_model(rate_model)
    r = as_float_array("rate r", r, None)
    bandwidth_hz, ch = _check_link(bandwidth_hz, channel)
    bad = ~((r >= 0) & np.isfinite(r))
    if bad.any():
        raise ValueError(f"rate r must be finite and >= 0, got {_first(r, bad)!r}")
    if rate_model == "linear":
        return (r / (bandwidth_hz * ch))[()]
    beta, c, _ = _shannon_share(r, bandwidth_hz, ch)
    if np.any(c >= 1):
        raise ValueError(
            f"rate r is unreachable with the Shannon model: c = r ln2 / (B rho) = {_first(c, c >= 1)!r} >= 1"
        )
    return beta[()]


def _shannon_share(r: np.ndarray, B, ch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(beta, c, u) for Shannon rates r >= 0: beta = c rho / u (theory.channel.shannon_share_normalised).

    c = r ln2 / (B rho), formed as (r ln2 / B) / rho where B rho overflows (B = 1e300, rho = 1e300);
    log c = log(r ln2 / B) - log(rho) stays exact where c itself underflows (a huge SNR), and there
    c rho is taken as r ln2 / B (c rho would be 0 or lose digits). Unreachable entries (c >= 1: the
    rate is at or above the supremum B rho / ln 2) get beta = +inf and u = 0; the caller decides
    (rate_inverse raises).
    """
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        Brho = B * ch
        cr = r * _LN2 / B  # c rho
        c = np.where(np.isfinite(Brho), r * _LN2 / Brho, cr / ch)
        log_c = np.log(cr) - np.log(ch)
        c_rho = np.where(c >= np.finfo(np.float64).tiny, c * ch, cr)
    c, c_rho, log_c = np.broadcast_arrays(c, c_rho, log_c)
    reach = c < 1
    u = np.zeros(c.shape)
    if reach.any():
        u[reach] = _shannon_u(c[reach], log_c[reach])
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(reach, c_rho / np.where(reach, u, 1.0), np.inf)
    return beta, c, u


def _rate_elasticity(rate_model: str, beta, bandwidth_hz, channel) -> np.ndarray:
    """r(beta) / (beta r'(beta)) >= 1 for shares beta > 0: 1 (linear), :func:`_shannon_elasticity` of
    u = log1p(rho / beta) (Shannon; no overflow of rho / beta). Arguments as checked by :func:`rate`."""
    beta = np.asarray(beta, dtype=np.float64)
    if rate_model == "linear":
        return np.ones_like(beta)
    return _shannon_elasticity(_log1p_ratio(np.asarray(channel, dtype=np.float64), beta))


def _shannon_elasticity(u: np.ndarray) -> np.ndarray:
    """r / (beta r'(beta)) of the Shannon rate at u = log1p(rho / beta) > 0: u / (e^{-u} - 1 + u) >= 1.

    The denominator is r'(beta) ln2 / B (:func:`rate_derivative`); for small u (a power-limited
    user, rho << beta) it is u^2/2 (1 - u/3 + ...) and the ratio 2 / (u (1 - u/3 + ...)), computed
    without forming u^2 (which underflows below u = 1.5e-154). dbeta/dT = -beta e / (T - c) on the
    equal-finish curve (:mod:`numerics.allocation`), and 1/g = (r / s) beta e in the H2 multipliers.
    """
    u = np.asarray(u, dtype=np.float64)
    small = u < 1.0
    us = np.where(small, u, 1.0)
    big = np.where(small, 2.0, u)
    with np.errstate(divide="ignore"):
        return np.where(small, 2.0 / (us * _half_sq_ratio(-us)), big / (np.expm1(-big) + big))


#: below this c the argument -c e^{-c} of W_{-1} is within reach of the subnormal range
_C_TINY = 1e-280
#: above this c the argument -c e^{-c} is too close to -1/e to carry c (its slope in c is 0 at c = 1)
_C_NEAR_ONE = 0.5


def _half_sq_ratio(u: np.ndarray) -> np.ndarray:
    """(e^u - 1 - u) / (u^2 / 2) for |u| < 1: 1 + u/3 + u^2/12 + ... (Horner, 20 terms; 1/22! < 1e-21)."""
    acc = np.zeros_like(u)
    for m in range(21, 1, -1):  # Horner on 2 (1/2! + u (1/3! + u (...)))
        acc = acc * u / (m + 1) + 1.0
    return acc


def _expm1_minus_x(u: np.ndarray) -> np.ndarray:
    """e^u - 1 - u without cancellation: Taylor sum_{m>=2} u^m/m! (Horner, 20 terms) for |u| < 1."""
    small = np.abs(u) < 1.0
    us = np.where(small, u, 0.0)
    series = us * us / 2.0 * _half_sq_ratio(us)
    return np.where(small, series, np.expm1(np.where(small, 0.0, u)) - u)


def _u_lambert(c: np.ndarray) -> np.ndarray:
    """u = -W_{-1}(-c e^{-c}) - c for _C_TINY <= c <= 1/2, plus one Newton step on F(u) = c expm1(u) - u."""
    u = -lambertw(-c * np.exp(-c), -1) - c
    return u - (c * np.expm1(u) - u) / (c * np.exp(u) - 1.0)  # F'(u) = c e^u - 1 >= 0.75 here


def _u_near_one(c: np.ndarray) -> np.ndarray:
    """u for 1/2 < c < 1: Newton on F(u) = (e^u - 1 - u) - d expm1(u), F' = expm1(u) - d e^u, d = 1 - c."""
    d = 1.0 - c  # exact (Sterbenz) for c in [1/2, 1]
    u = 2.0 * d + 2.0 * d * d / 3.0  # inverse series of d = 1 - u / expm1(u); relative error < 8%
    for _ in range(8):  # quadratic convergence: at most 6 steps reach rounding, usually 2 to 4
        step = (_expm1_minus_x(u) - d * np.expm1(u)) / (np.expm1(u) - d * np.exp(u))
        u = u - step
        if np.all(np.abs(step) <= 1e-17 * u):
            break
    return u


def _u_tiny(c: np.ndarray, log_c: np.ndarray) -> np.ndarray:
    """u for 0 < c < _C_TINY: u = log(u) - log(c) + log1p(c/u), a contraction with factor 1/(u + c) < 1/600.

    Works from log c (exact also where c underflowed to a subnormal or to 0)."""
    u = -log_c
    for _ in range(8):
        u = np.log(u) - log_c + np.log1p(c / u)
    return u


def _shannon_u(c: np.ndarray, log_c: np.ndarray | None = None) -> np.ndarray:
    """u = log1p(rho/beta) = -W_{-1}(-c e^{-c}) - c > 0, the positive root of u = c (e^u - 1), for 0 <= c < 1.

    Three regimes (module docstring), each evaluated on its own elements only: the W_{-1}
    closed form for _C_TINY <= c <= 1/2; Newton from the series u = 2d + 2d^2/3 + ... on a
    cancellation-free form for c > 1/2; the fixed point in log form for c < _C_TINY, from
    ``log_c`` when given (log c of a c that underflowed: a huge SNR), else from log(c).
    c = 0 (and log_c = -inf) returns 1 (unused: beta = 0 there).
    """
    c = np.asarray(c, dtype=np.float64)
    lc = np.log(np.where(c > 0, c, 1.0)) if log_c is None else np.asarray(log_c, dtype=np.float64)
    tiny = (c < _C_TINY) & (lc > -np.inf) & ((c > 0) | (log_c is not None))
    out = np.ones_like(c)
    for mask, fn in (((c >= _C_TINY) & (c <= _C_NEAR_ONE), _u_lambert),
                     (c > _C_NEAR_ONE, _u_near_one)):
        if mask.any():
            out[mask] = fn(c[mask])
    if tiny.any():
        out[tiny] = _u_tiny(c[tiny], lc[tiny])
    return out
