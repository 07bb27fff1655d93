"""Equal-finishing-time band allocation (docs/model.md H2, and D7 for per-user draft lengths).

For fixed draft lengths L_k, the band that minimises the drafting makespan
max_k L_k h_k(beta_k) gives every uploading user the same finishing time T and uses the
whole band:

    beta_k(T) = r_k^{-1}( s_k L_k / (T - L_k t_k) ),      S(T) = sum_k beta_k(T) = 1,

T being the unique root on (max_k L_k t_k, inf) of a decreasing function. With L_k = 1 for
all users this is H2 (T = theta*, the per-token makespan); the homogeneous regime scales it by
L (H1), the integer heterogeneous regime uses it per length vector (D7).

Root finding. Newton's method on H(T) = 1 / S(T) - 1, safeguarded by the bracket below and
bisection. For the linear rate 1/beta_k(T) = B eta_k (T - c_k) / d_k is affine in T, so H + 1
is the reciprocal of a sum of reciprocals of positive affine functions: concave and
increasing, hence Newton from any point lands left of the root (never beyond the pole
max_k c_k) and then increases monotonically to it; with equal c_k it is exact in one step.
For the Shannon rate the same iteration is used with the bracket as safeguard, the shares
from the W_{-1} closed form (:func:`numerics.channel.rate_inverse`). The loop stops when the
Newton step is below 1e-8 min_k (T - c_k) / e_k (e_k = r / (beta r') >= 1, the elasticity of the
rate, 1 for the linear one: (T - c_k) / e_k is the time over which beta_k changes by its own
size); then T and the shares are moved to the root along the curve beta(T) to first order
(error (step / scale)^2 < 1e-16 relative): a common shift of every
finishing time, so that they stay equal to float precision and the shares sum to 1 to float
precision (a rescaling by 1/S would instead shift each finishing time by (S - 1) times its
upload time).

Many vectors at once (:func:`finish_times`, the integer heterogeneous search): the same root
by :func:`numerics.roots.newton` from the left end of the bracket, times measured from c_max.

Power-limited users. The Shannon rate of user k never exceeds B rho_k / ln 2, so it cannot
finish before t_k + s_k ln2 / (B rho_k), however much band it gets, and its rate at the whole
band is that supremum times log1p(rho_k)/rho_k = 1 - rho_k/2 + ...: for rho_k below about
1e-15 (next to users with a normal SNR) its share climbs from ~0 to ~1 within one double of T.
The root then lies between two adjacent doubles: the loop stops when the bracket is that narrow,
and T is its upper end (where every share is finite; a few ulps up if rounding left it before a
user's earliest finish), which is theta* to float precision. There, and wherever a share is not
determined by T in binary64 (its rounding error eps e_k reaches 1/16, e_k = r / (beta r') the
elasticity of the rate; about 1/(1 - c_k) for a power-limited user), T stays and the band the
other users leave goes to those users (:func:`_to_the_root`). Their finishing times do not
depend on their share to float precision, so the makespan is right and every other share is
accurate. Several such users (earliest finishes equal to float precision) split it in
proportion to their upload volume d_k: near its earliest finish P_k a user needs
d_k ln2 / (2 B (T - P_k)), so this is exact when the earliest finishes are equal; the exact
split would need them to a relative precision of about rho_k, beyond binary64.

Symbolic source: :mod:`theory.homogeneous` (KKT system, closed forms of beta_k(theta)).
"""

from __future__ import annotations

import math

import numpy as np

from .channel import _shannon_elasticity, _shannon_share, _shannon_u, rate, rate_inverse
from .roots import newton
from .scenario import Scenario
from .validation import as_draft_lengths, as_float, as_scenario

__all__ = ["equal_finish_allocation", "equal_finish_root", "finish_times", "share_for_deadline"]

_EPS = np.finfo(np.float64).eps
_MAX_ITER = 200
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


def _shares_and_slope(rate_model: str, T: float, c, d, B: float, ch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta_k(T) = r^{-1}(d_k / (T - c_k)), dbeta_k/dT (all users upload) and the elasticities
    e_k = r / (beta r') of the rate.

    On the curve r(beta_k) = d_k / q_k (q_k = T - c_k), dbeta_k/dT = -beta_k e_k / q_k (e_k = 1 for
    the linear rate; :func:`numerics.channel._shannon_elasticity`): no d / q^2 and no r', which
    underflows for a power-limited Shannon user (rho_k << beta_k). q_k / e_k is the time over which
    beta_k changes by its own size (about T - P_k for a power-limited user, P_k its earliest
    finish), and eps e_k the relative rounding error of beta_k. A Shannon user whose required rate
    is at or above its supremum B rho_k / ln 2 (T at or before its earliest finish, to float
    precision) gets beta_k = e_k = +inf, dbeta_k/dT = -inf: T is too early.
    """
    q = T - c
    if rate_model == "linear":
        beta = d / (B * ch * q)
        return beta, -beta / q, np.ones_like(beta)
    beta, _, u = _shannon_share(d / q, B, ch)
    reach = np.isfinite(beta)
    e = np.where(reach, _shannon_elasticity(np.where(reach, u, 1.0)), np.inf)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return beta, -beta * e / q, e


def _shares_and_weights(rate_model: str, T: float, c, d, B: float, ch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta_k(T), w_k = -q0 dbeta_k/dT = beta_k e_k q0 / q_k (q0 = min_k q_k) and e_k
    (:func:`_shares_and_slope`): the slopes scaled by q0, which do not underflow at huge times."""
    beta, _, e = _shares_and_slope(rate_model, T, c, d, B, ch)
    q = T - c
    with np.errstate(invalid="ignore", over="ignore"):
        w = np.where(np.isfinite(beta), beta * e * (float(np.min(q)) / q), np.inf)
    return beta, w, e


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
        The common finishing time (module docstring: safeguarded Newton on 1/S(T) - 1).
    beta : ndarray (n,)
        Shares summing to 1 (to float precision, never above).
    """
    c = np.asarray(c, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    ch = np.asarray(channel, dtype=np.float64)
    B = float(bandwidth_hz)
    # Work with times measured from the latest drafting end c_max (T' = T - c_max, c' = c - c_max
    # <= 0): every formula uses only the slacks q_k = T - c_k = T' - c'_k, and T' is of the size of
    # the upload times. In absolute time the slack of the latest user would be the difference of
    # two nearly equal numbers, 0 once the upload time is below eps c_max (a huge band:
    # B = 1e22 Hz with t = 1 ms), and its share d / (B eta q) infinite.
    c_max = float(np.max(c))
    c = c - c_max
    a = d / rate(rate_model, 1.0, B, ch)  # upload time with the whole band
    # bracket: at lo some user needs the whole band, so S(lo) >= 1; at hi every
    # beta_k <= a_k / sum(a) because r(beta) >= beta r(1) (concave, r(0) = 0), so S(hi) <= 1
    lo = float(np.max(c + a))
    hi = float(np.max(c) + np.sum(a))
    T = lo
    beta, w, e = _shares_and_weights(rate_model, T, c, d, B, ch)
    beta_lo = beta  # the shares at lo (where S > 1), for a root between two doubles
    collapsed = False
    for _ in range(_MAX_ITER):
        S, W = float(np.sum(beta)), float(np.sum(w))
        if S > 1.0:
            lo, beta_lo = T, beta
        elif S < 1.0:
            hi = T
        # Newton on H(T) = 1/S(T) - 1: step = S (1 - S) / S'(T), S'(T) = -W / q0 (q0 = min_k q_k)
        q0 = float(np.min(T - c))
        newton = math.isfinite(S) and 0.0 < W < math.inf
        step = -S * (1.0 - S) * q0 / W if newton else 0.5 * (lo + hi) - T
        if newton and abs(step) <= 1e-8 * float(np.min((T - c) / e)):
            break  # the first-order step of _to_the_root is then exact to (step e_k / q_k)^2 < 1e-16
        if hi - lo <= 2.0 * np.spacing(hi):  # the root lies between two adjacent doubles (module docstring)
            collapsed = True
            break
        T_new = T + step
        if not (lo <= T_new <= hi):
            T_new = 0.5 * (lo + hi)  # safeguard: bisection inside the bracket
        T = T_new
        beta, w, e = _shares_and_weights(rate_model, T, c, d, B, ch)
    if collapsed:  # T: the upper double, where every share is finite and S <= 1
        T = hi
        beta, w, e = _shares_and_weights(rate_model, T, c, d, B, ch)
        up = np.spacing(T)
        for _ in range(64):  # a few ulps in practice: rounding of c_k + a_k at the bracket's upper end
            if float(np.sum(beta)) <= 1.0:
                break
            beta_lo, T, up = beta, T + up, 2.0 * up
            beta, w, e = _shares_and_weights(rate_model, T, c, d, B, ch)
    T, beta = _to_the_root(T, beta, w, e, beta_lo if collapsed else None, c, d)
    total = float(np.sum(beta))
    if total > 1.0:  # never above 1 (feasibility is checked strictly downstream); ~1 ulp
        beta = beta * ((1.0 - 2 * _EPS) / total)
    return c_max + T, beta


#: a share whose relative rounding error eps e_k reaches this is not determined by T in binary64
#: (it carries at most 4 bits): a power-limited user near its earliest finish (module docstring)
_UNDETERMINED = 1.0 / 16.0


def _to_the_root(T: float, beta, w, e, beta_lo, c, d) -> tuple[float, np.ndarray]:
    """The last step from the final iterate T to the root (module docstring).

    - Some shares undetermined (eps e_k >= 1/16: power-limited users near their earliest finish):
      T stays (the root to float precision) and they share the band the others leave in
      proportion to their upload volume d_k.
    - Newton converged (``beta_lo`` None): T and the shares move to the root along the curve
      beta(T) to first order, T += (1 - S) / S'(T), beta_k += (1 - S) w_k / W.
    - The root between two doubles (``beta_lo``: the shares at the lower double): T stays (the
      upper double) and the band left goes along the chord between the doubles (the linear
      interpolation in T of the shares, summing to 1), or along the tangent if rounding put
      S <= 1 at both ends.
    """
    S = float(np.sum(beta))
    und = e * _EPS >= _UNDETERMINED
    if und.any():
        rest = 1.0 - float(np.sum(beta[~und]))
        if rest > 0.0:
            beta = np.where(und, rest * d / float(np.sum(d[und])), beta)
        return T, beta
    W = float(np.sum(w))
    if not (0.0 < W < math.inf and math.isfinite(S)):
        return T, beta
    if beta_lo is None:
        return T - (1.0 - S) * float(np.min(T - c)) / W, np.maximum(beta + (1.0 - S) * (w / W), 0.0)
    with np.errstate(invalid="ignore"):
        gain = beta_lo - beta
    weights = np.maximum(gain, 0.0) if float(np.sum(beta_lo)) > 1.0 and np.isfinite(gain).all() else w
    total = float(np.sum(weights))
    if S < 1.0 and 0.0 < total < math.inf:
        beta = beta + (1.0 - S) * (weights / total)
    return T, beta


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
