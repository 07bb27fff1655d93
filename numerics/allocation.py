"""Equal-finishing-time band allocation (MODEL.md H2, and D7 for per-user draft lengths).

For fixed draft lengths L_k, the band that minimises the drafting makespan
max_k L_k h_k(beta_k) gives every uploading user the same finishing time T and uses the
whole band:

    beta_k(T) = r_k^{-1}( s_k L_k / (T - L_k t_k) ),      S(T) = sum_k beta_k(T) = 1,

T being the unique root on (max_k L_k t_k, inf) of a decreasing function. With L_k = 1 for
all users this is H2 (T = theta*, the per-token makespan); the homogeneous regime scales it by
L (H1), the integer heterogeneous regime uses it per length vector (D7).

Root finding (:func:`finish_times`, many vectors at once). S is convex and decreasing in T
(r^{-1} is convex increasing and d / (T - c) convex decreasing), so Newton's method from the
left end of the bracket below increases monotonically to the root; it runs in
:func:`numerics.roots.newton` (bracketed, bisection as safeguard). Bracket: at
lo = max_k (c_k + a_k), a_k = d_k / r_k(1), some user needs the whole band (S >= 1); at
hi = max_k c_k + sum_k a_k every beta_k <= a_k / sum(a), because r(beta) >= beta r(1) for a
concave rate with r(0) = 0 (S <= 1). Times are measured from the latest drafting end
c_max = max_k c_k (T = c_max + y): every formula uses only the slacks q_k = T - c_k =
y + (c_max - c_k), and y is of the size of the upload times, so a huge band (upload times
below eps c_max) loses no digits. Shannon shares come from the W_{-1} closed form of
:func:`numerics.channel.rate_inverse` at every step.

The shares of one vector (:func:`equal_finish_root`) are then moved to the root along the
curve beta(T), to first order (error (step / q)^2): a common shift of every finishing time,
so that they stay equal to float precision and the shares sum to 1 to float precision (a
rescaling by 1/S would instead shift each finishing time by (S - 1) times its upload time).

Symbolic source: :mod:`theory.homogeneous` (KKT system, closed forms of beta_k(theta)).
"""

from __future__ import annotations

import numpy as np

from .channel import _shannon_u, rate, rate_inverse
from .roots import newton
from .scenario import Scenario
from .validation import as_draft_lengths, as_float, as_scenario

__all__ = ["share_for_deadline", "equal_finish_allocation", "equal_finish_root", "finish_times"]

_EPS = np.finfo(np.float64).eps
_LN2 = float(np.log(2.0))


def share_for_deadline(scenario: Scenario, L, T) -> np.ndarray:
    """beta_k(T): the least band share with which user k drafts and uploads L_k tokens by T.

    beta_k(T) = r_k^{-1}(s_k L_k / (T - L_k t_k)) (H2 closed forms:
    :func:`theory.homogeneous.share_for_theta`). Users that need no band (s_k = 0 or L_k = 0)
    get 0.

    Raises
    ------
    ValueError
        If T <= L_k t_k for an uploading user (the deadline cannot be met with any share), or
        for a bad scenario, L or T (:mod:`numerics.validation`).
    """
    L = as_draft_lengths(as_scenario(scenario), L, continuous=True, capped=False)
    T = as_float("T", T)
    s = scenario.bits_per_token
    need = (s > 0) & (L > 0)
    slack = T - L * scenario.t_draft
    if np.any(need & ~(slack > 0)):
        raise ValueError(f"deadline T={T!r} is not after the drafting time of every uploading user")
    r_req = np.where(need, s * L / np.where(need, slack, 1.0), 0.0)
    return np.where(need, rate_inverse(scenario.rate_model, r_req, scenario.bandwidth_hz, scenario.channel), 0.0)


def _shares(rate_model: str, q, d, B: float, ch):
    """beta = r^{-1}(d / q) and d beta / d T = -(d / q^2) / r'(beta) (entries with d > 0, q > 0)."""
    if rate_model == "linear":
        beta = d / (B * ch * q)
        return beta, -beta / q
    req = d / q
    c = req * _LN2 / (B * ch)
    u = _shannon_u(np.minimum(c, 1.0 - _EPS))
    beta = c * ch / u
    # r'(beta) = (B / ln2) (u - rho / (beta + rho)) = (B / ln2) u (u - (1 - c)) / (u + c)
    rp = (B / _LN2) * u * (u - (1.0 - c)) / (u + c)
    return beta, -(req / q) / rp


def finish_times(rate_model: str, c: np.ndarray, d: np.ndarray, bandwidth_hz: float, channel: np.ndarray,
                 slack: bool = False) -> tuple[np.ndarray, int]:
    """Equal finishing times of many vectors at once (module docstring).

    Parameters
    ----------
    c, d : ndarray (N, n)
        Drafting times c = L t and bits to upload d = L s of n users in N vectors; entries
        with d = 0 take no band and are ignored (c there is not used).
    bandwidth_hz : float
    channel : ndarray (n,) or (N, n)
        eta or rho of the users.

    Returns
    -------
    T : ndarray (N,)
        The root T of sum_k r_k^{-1}(d_k / (T - c_k)) = 1 of every row (0 for a row without upload);
        with ``slack``, T - max_k c_k instead (exact where T would round to max_k c_k).
    passes : int
        Vectorised evaluations made by :func:`numerics.roots.newton`.
    """
    c = np.atleast_2d(np.asarray(c, dtype=np.float64))
    d = np.atleast_2d(np.asarray(d, dtype=np.float64))
    N = d.shape[0]
    ch = np.broadcast_to(np.asarray(channel, dtype=np.float64), d.shape)
    B = float(bandwidth_hz)
    live = d > 0
    rows = np.flatnonzero(live.any(axis=1))
    T = np.zeros(N)
    if rows.size == 0:
        return T, 0
    lv, cc, dd, chh = live[rows], c[rows], d[rows], ch[rows]
    cmax = np.max(np.where(lv, cc, -np.inf), axis=1)
    gap = np.where(lv, cmax[:, None] - cc, 0.0)       # c_max - c_k >= 0
    dd = np.where(lv, dd, 0.0)
    chs = np.where(lv, chh, 1.0)
    a = dd / rate(rate_model, 1.0, B, chs)             # upload times with the whole band
    lo = np.max(np.where(lv, a - gap, -np.inf), axis=1)
    hi = np.sum(a, axis=1)

    def fun(y, idx):
        g_, d_, ch_ = (gap, dd, chs) if idx is None else (gap[idx], dd[idx], chs[idx])
        q = y[:, None] + g_
        with np.errstate(divide="ignore", invalid="ignore"):
            beta, dbeta = _shares(rate_model, np.where(d_ > 0, q, 1.0), d_, B, ch_)
        beta = np.where(d_ > 0, beta, 0.0)
        dbeta = np.where(d_ > 0, dbeta, 0.0)
        return np.sum(beta, axis=1) - 1.0, np.sum(dbeta, axis=1)

    y = lo.copy()
    open_ = hi > lo * (1.0 + 4 * _EPS)
    passes = 0
    if open_.any():
        sub = np.flatnonzero(open_)

        def fsub(yy, idx):
            return fun(yy, sub if idx is None else sub[idx])

        # start just right of lo (S >= 1 there): Newton then increases monotonically to the root
        x0 = lo[sub] + (hi[sub] - lo[sub]) * 2.0 ** -40
        r = newton(fsub, lo[sub], hi[sub], x0, increasing=False, rtol=4 * _EPS)
        y[sub] = r.x
        passes = r.passes
    T[rows] = y if slack else cmax + y
    return T, passes


def equal_finish_root(rate_model: str, c, d, bandwidth_hz: float, channel) -> tuple[float, np.ndarray]:
    """The root T of sum_k r_k^{-1}(d_k / (T - c_k)) = 1 and the shares there (H2 / D7).

    Parameters
    ----------
    rate_model : {'linear', 'shannon'}
    c : ndarray (n,)
        Drafting times c_k = L_k t_k >= 0 of the uploading users.
    d : ndarray (n,)
        Bits to upload d_k = L_k s_k > 0.
    bandwidth_hz : float
    channel : ndarray (n,)
        eta_k or rho_k of the uploading users.

    Returns
    -------
    T : float
        The common finishing time (:func:`finish_times`).
    beta : ndarray (n,)
        Shares summing to 1 (to float precision, never above).
    """
    c = np.asarray(c, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    ch = np.asarray(channel, dtype=np.float64)
    B = float(bandwidth_hz)
    y_arr, _ = finish_times(rate_model, c[None, :], d[None, :], B, ch, slack=True)
    cmax = float(np.max(c))
    y = float(y_arr[0])
    q = y + (cmax - c)
    beta, dbeta = _shares(rate_model, q, d, B, ch)
    # move to the root along the curve beta(T), to first order (module docstring)
    S, slope = float(np.sum(beta)), float(np.sum(dbeta))
    if slope < 0:
        y = y + (1.0 - S) / slope
        beta = np.maximum(beta + (1.0 - S) * dbeta / slope, 0.0)
    total = float(np.sum(beta))
    if total > 1.0:  # never above 1 (feasibility is checked strictly downstream); ~1 ulp
        beta = beta * ((1.0 - 2 * _EPS) / total)
    return cmax + y, beta


def equal_finish_allocation(scenario: Scenario, L) -> tuple[np.ndarray, float]:
    """Band shares minimising max_k L_k h_k(beta_k) for fixed L, and that makespan (H2, D7).

    The optimum equalises the finishing times of the uploading users (s_k > 0, L_k > 0)
    and uses the whole band: beta_k = r_k^{-1}(s_k L_k / (T - L_k t_k)), sum_k beta_k = 1
    (:func:`equal_finish_root`). Users without upload finish at L_k t_k whatever the band.

    Returns
    -------
    beta : ndarray (K,)
        Shares, summing to 1 (to float precision, never above) when any user uploads,
        all zero otherwise.
    makespan : float
        max_k L_k h_k(beta_k) at that allocation (the larger of the common finishing time of
        the uploading users and the drafting time of the others).

    Examples
    --------
    >>> s = Scenario(alpha=0.8, t_draft=[0.0, 0.0], bits_per_token=[1.0, 3.0],
    ...              bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.1)
    >>> beta, T = equal_finish_allocation(s, [1, 1])
    >>> beta.round(12).tolist(), round(T, 12)   # shares proportional to s_k; T = 1 + 3
    ([0.25, 0.75], 4.0)
    """
    K = as_scenario(scenario).n_users
    L = as_draft_lengths(scenario, L, continuous=True, capped=False)
    s, t = scenario.bits_per_token, scenario.t_draft
    need = (s > 0) & (L > 0)
    free_time = float(np.max(np.where(need, 0.0, L * t)))
    if not need.any():
        return np.zeros(K), free_time
    _, b = equal_finish_root(scenario.rate_model, (L * t)[need], (s * L)[need],
                             scenario.bandwidth_hz, scenario.channel[need])
    beta = np.zeros(K)
    beta[need] = b
    r = rate(scenario.rate_model, b, scenario.bandwidth_hz, scenario.channel[need])
    finish = L[need] * (t[need] + s[need] / r)  # L_k h_k(beta_k)
    return beta, max(float(np.max(finish)), free_time)
