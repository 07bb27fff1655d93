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
from .validation import RATE_MODELS, as_float_array, fmt

__all__ = ["rate", "rate_inverse", "rate_derivative"]

_LN2 = np.log(2.0)


def _check_model(rate_model: str) -> None:
    if not isinstance(rate_model, str) or rate_model not in RATE_MODELS:
        raise ValueError(f"rate_model must be 'linear' or 'shannon', got {fmt(rate_model)}")


def _first(x: np.ndarray, bad: np.ndarray) -> float:
    return float(x[bad].flat[0]) if x.ndim else float(x)


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

    Examples
    --------
    >>> float(rate('linear', 0.5, 1e6, 2.0))   # 0.5 * 1e6 * 2
    1000000.0
    >>> float(rate('shannon', 1.0, 1.0, 1.0))   # 1 * 1 * log2(1 + 1 / 1)
    1.0
    """
    _check_model(rate_model)
    beta = as_float_array("beta", beta, None)
    bandwidth_hz, ch = _check_link(bandwidth_hz, channel)
    bad = ~((beta >= 0) & np.isfinite(beta))
    if bad.any():
        raise ValueError(f"beta must be finite and >= 0, got {_first(beta, bad)!r}")
    if rate_model == "linear":
        return (beta * bandwidth_hz * ch)[()]
    pos = beta > 0
    b = np.where(pos, beta, 1.0)
    val = b * bandwidth_hz * _log1p_ratio(ch, b) / _LN2
    return np.where(pos, val, 0.0)[()]


def _log1p_ratio(ch: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(1 + ch/b) for b > 0, also where ch/b overflows (then log(ch) - log(b), exact to rounding)."""
    with np.errstate(over="ignore"):
        x = ch / b
    return np.where(np.isinf(x), np.log(ch) - np.log(b), np.log1p(np.where(np.isinf(x), 1.0, x)))


def rate_derivative(rate_model: str, beta, bandwidth_hz, channel):
    """dr/dbeta: B eta (linear); B [log2(1 + rho/beta) - rho / ((beta + rho) ln 2)] (Shannon).

    Symbolic source: :func:`theory.channel.rate_derivative`. The Shannon slope is +inf at
    beta = 0. Raises ``ValueError`` for beta negative or not finite, B or the channel <= 0.
    """
    _check_model(rate_model)
    beta = as_float_array("beta", beta, None)
    bandwidth_hz, ch = _check_link(bandwidth_hz, channel)
    bad = ~((beta >= 0) & np.isfinite(beta))
    if bad.any():
        raise ValueError(f"beta must be finite and >= 0, got {_first(beta, bad)!r}")
    if rate_model == "linear":
        return (bandwidth_hz * ch * np.ones_like(beta))[()]
    pos = beta > 0
    b = np.where(pos, beta, 1.0)
    val = bandwidth_hz * (np.log1p(ch / b) - ch / (b + ch)) / _LN2
    return np.where(pos, val, np.inf)[()]


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
    c = r * _LN2 / (bandwidth_hz * ch)
    if np.any(c >= 1):
        raise ValueError(
            f"rate r is unreachable with the Shannon model: c = r ln2 / (B rho) = {_first(c, c >= 1)!r} >= 1"
        )
    return (c * ch / _shannon_u(c))[()]  # beta = c rho / u (theory.channel.shannon_share_normalised)


#: below this c the argument -c e^{-c} of W_{-1} is within reach of the subnormal range
_C_TINY = 1e-280
#: above this c the argument -c e^{-c} is too close to -1/e to carry c (its slope in c is 0 at c = 1)
_C_NEAR_ONE = 0.5


def _expm1_minus_x(u: np.ndarray) -> np.ndarray:
    """e^u - 1 - u without cancellation: Taylor sum_{m>=2} u^m/m! (Horner, 20 terms) for |u| < 1."""
    small = np.abs(u) < 1.0
    us = np.where(small, u, 0.0)
    acc = np.zeros_like(us)
    for m in range(21, 1, -1):  # Horner on u^2 (1/2! + u (1/3! + u (...))); 1/22! < 1e-21
        acc = acc * us / (m + 1) + 1.0
    series = us * us / 2.0 * acc
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


def _u_tiny(c: np.ndarray) -> np.ndarray:
    """u for 0 < c < _C_TINY: u = log(u) - log(c) + log1p(c/u), a contraction with factor 1/(u + c) < 1/600."""
    u = -np.log(c)
    for _ in range(8):
        u = np.log(u) - np.log(c) + np.log1p(c / u)
    return u


def _shannon_u(c: np.ndarray) -> np.ndarray:
    """u = log1p(rho/beta) = -W_{-1}(-c e^{-c}) - c > 0, the positive root of u = c (e^u - 1), for 0 <= c < 1.

    Three regimes (module docstring), each evaluated on its own elements only: the W_{-1}
    closed form for _C_TINY <= c <= 1/2; Newton from the series u = 2d + 2d^2/3 + ... on a
    cancellation-free form for c > 1/2; the fixed point in log form for c < _C_TINY.
    c = 0 returns 1 (unused: beta = 0 there).
    """
    c = np.asarray(c, dtype=np.float64)
    out = np.ones_like(c)
    for mask, fn in (((c >= _C_TINY) & (c <= _C_NEAR_ONE), _u_lambert),
                     (c > _C_NEAR_ONE, _u_near_one),
                     ((c > 0) & (c < _C_TINY), _u_tiny)):
        if mask.any():
            out[mask] = fn(c[mask])
    return out
