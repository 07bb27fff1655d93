"""Uplink rate models and their inverses (MODEL.md section 2, "Uplink rate").

- ``linear``:  r(beta) = beta B eta
- ``shannon``: r(beta) = beta B log2(1 + rho / beta)

Both are increasing and concave in the band share beta. The Shannon inverse is the closed
form derived in :func:`theory.channel.shannon_share_for_rate` with the lower Lambert-W
branch: c = r ln2 / (B rho) < 1, y = -W_{-1}(-c e^{-c}) / c, beta = rho / (y - 1), polished
by one Newton step on the rate equation (the W_{-1} argument loses digits near -1/e).
"""

from __future__ import annotations

import numpy as np

from .lambertw import lambertw

__all__ = ["rate", "rate_inverse", "rate_derivative"]

_LN2 = np.log(2.0)


def _check_model(rate_model: str) -> None:
    if rate_model not in ("linear", "shannon"):
        raise ValueError(f"rate_model must be 'linear' or 'shannon', got {rate_model!r}")


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
    >>> float(rate('linear', 0.5, 1e6, 2.0))
    1000000.0
    >>> float(rate('shannon', 1.0, 1.0, 1.0))
    1.0
    """
    _check_model(rate_model)
    beta = np.asarray(beta, dtype=np.float64)
    ch = np.asarray(channel, dtype=np.float64)
    if np.any(~(beta >= 0)):
        raise ValueError(f"beta must be >= 0, got {float(beta[~(beta >= 0)].flat[0]) if beta.ndim else float(beta)!r}")
    if rate_model == "linear":
        return (beta * bandwidth_hz * ch)[()]
    pos = beta > 0
    b = np.where(pos, beta, 1.0)
    val = b * bandwidth_hz * np.log1p(ch / b) / _LN2
    return np.where(pos, val, 0.0)[()]


def rate_derivative(rate_model: str, beta, bandwidth_hz, channel):
    """dr/dbeta: B eta (linear); B [log2(1 + rho/beta) - rho / ((beta + rho) ln 2)] (Shannon)."""
    _check_model(rate_model)
    beta = np.asarray(beta, dtype=np.float64)
    ch = np.asarray(channel, dtype=np.float64)
    if rate_model == "linear":
        return (bandwidth_hz * ch * np.ones_like(beta))[()]
    return (bandwidth_hz * (np.log1p(ch / beta) - ch / (beta + ch)) / _LN2)[()]


def rate_inverse(rate_model: str, r, bandwidth_hz, channel):
    """The band share that achieves rate r: beta = r^{-1}(r).

    Linear: beta = r / (B eta). Shannon: the W_{-1} closed form (module docstring); the rate
    r is reachable only if c = r ln2 / (B rho) < 1 (as beta -> inf the Shannon rate tends to
    B rho / ln 2), otherwise ``ValueError``. r = 0 gives beta = 0.

    Examples
    --------
    >>> b = rate_inverse('shannon', 2.0e6, 1.0e6, 100.0)
    >>> round(float(rate('shannon', b, 1.0e6, 100.0)) / 2.0e6, 12)
    1.0
    """
    _check_model(rate_model)
    r = np.asarray(r, dtype=np.float64)
    ch = np.asarray(channel, dtype=np.float64)
    if np.any(~(r >= 0)):
        raise ValueError(f"rate r must be >= 0, got {float(np.asarray(r)[~(r >= 0)].flat[0]) if r.ndim else float(r)!r}")
    if rate_model == "linear":
        return (r / (bandwidth_hz * ch))[()]
    c = r * _LN2 / (bandwidth_hz * ch)
    if np.any(c >= 1):
        cb = c[c >= 1].flat[0] if np.ndim(c) else float(c)
        raise ValueError(
            f"rate r is unreachable with the Shannon model: c = r ln2 / (B rho) = {float(cb)!r} >= 1"
        )
    zero = c == 0
    cs = np.where(zero, 0.5, c)
    w = lambertw(-cs * np.exp(-cs), -1)
    y = -w / cs
    beta = ch / (y - 1.0)
    # one Newton step on f(beta) = beta log1p(rho/beta) - c rho = 0 (f' = log1p(rho/beta) - rho/(beta + rho))
    f = beta * np.log1p(ch / beta) - cs * ch
    fp = np.log1p(ch / beta) - ch / (beta + ch)
    beta = beta - f / fp
    return np.where(zero, 0.0, beta)[()]
