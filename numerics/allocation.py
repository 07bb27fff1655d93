"""Equal-finishing-time band allocation (MODEL.md H2, and D7 for per-user draft lengths).

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
For the Shannon rate the same iteration is used with the bracket as safeguard; its early
steps solve the rate equations by a warm-started Newton iteration (:func:`_shannon_p`, ~1e-13
relative) and, once the step in T is below 1e-10 min_k (T - c_k), the shares come from the W_{-1} closed form
(:func:`numerics.channel.rate_inverse`). The loop stops when the Newton step is below
1e-8 min_k (T - c_k); then T and the shares are moved to the root along the curve beta(T) to
first order (error (step/q)^2 < 1e-16 relative): a common shift of every finishing time, so
that they stay equal to float precision and the shares sum to 1 to float precision (a
rescaling by 1/S would instead shift each finishing time by (S - 1) times its upload time).

Symbolic source: :mod:`theory.homogeneous` (KKT system, closed forms of beta_k(theta)).
"""

from __future__ import annotations

import numpy as np

from .channel import rate, rate_inverse
from .scenario import Scenario
from .validation import as_draft_lengths, as_float, as_scenario

__all__ = ["share_for_deadline", "equal_finish_allocation", "equal_finish_root"]

_EPS = np.finfo(np.float64).eps
_LN2 = float(np.log(2.0))
_MAX_ITER = 200


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


def _shannon_p(c: np.ndarray, p: np.ndarray | None) -> np.ndarray:
    """p = rho / beta solving log1p(p) = c p (the Shannon rate equation, c = r ln2 / (B rho) in (0, 1)).

    Newton on psi(p) = log1p(p) - c p, concave with psi(0) = 0 and its positive root right of
    its maximum at 1/c - 1: from any point right of the root (psi < 0) the iterates stay right
    of it and decrease monotonically to it. A warm start ``p`` left of the root is replaced by
    p0 = (2/c) max(1, ln(2/c)), which has psi(p0) < 0. Accurate to ~1e-13 relative (psi
    cancels when c -> 1); used for the intermediate Newton steps in T only, the final shares
    come from the W_{-1} closed form (:func:`numerics.channel.rate_inverse`).
    """
    p0 = (2.0 / c) * np.maximum(1.0, np.log(2.0 / c))
    p = p0 if p is None else np.where(np.log1p(p) - c * p < 0, p, p0)
    for _ in range(60):
        step = (np.log1p(p) - c * p) / (1.0 / (1.0 + p) - c)
        p = p - step
        if np.all(np.abs(step) <= 1e-14 * p):
            break
    return p


def _shares_and_slope(rate_model: str, T: float, c, d, B: float, ch, accurate: bool = True, p=None):
    """beta_k(T) = r^{-1}(d_k / (T - c_k)), dbeta_k/dT (all users upload), and rho_k/beta_k (Shannon).

    dbeta_k/dT = -(d_k / (T - c_k)^2) / r'(beta_k) (implicit differentiation of
    r(beta_k) = d_k / (T - c_k)); for the linear rate this is -beta_k / (T - c_k).
    ``accurate=False`` (Shannon) uses the warm-started Newton solve :func:`_shannon_p`.
    """
    q = T - c
    if rate_model == "linear":
        beta = d / (B * ch * q)
        return beta, -beta / q, None
    req = d / q
    if accurate:
        beta = rate_inverse(rate_model, req, B, ch)
        p = ch / beta
    else:
        p = _shannon_p(req * _LN2 / (B * ch), p)
        beta = ch / p
    # r'(beta) = B (log1p(p) - p / (1 + p)) / ln 2, p = rho / beta (numerics.channel.rate_derivative)
    rp = B * (np.log1p(p) - p / (1.0 + p)) / _LN2
    return beta, -req / (q * rp), p


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
    # Shannon: fast inner solves until the Newton step in T is below 1e-10 min_k (T - c_k), then
    # the closed form (one evaluation if the fast phase converged)
    accurate, p = rate_model == "linear", None
    beta, dbeta, p = _shares_and_slope(rate_model, T, c, d, B, ch, accurate, p)
    for _ in range(_MAX_ITER):
        S, slope = float(np.sum(beta)), float(np.sum(dbeta))
        if S > 1.0:
            lo = T
        elif S < 1.0:
            hi = T
        # Newton on H(T) = 1/S(T) - 1: step = S (1 - S) / S'(T) (S' < 0 unless shares underflow)
        step = S * (1.0 - S) / slope if slope < 0 else 0.5 * (lo + hi) - T
        if accurate and abs(step) <= 1e-8 * float(np.min(T - c)):
            break  # the first-order correction below is then exact to (step / q)^2 < 1e-16
        T_new = T + step
        if not (lo <= T_new <= hi):
            T_new = 0.5 * (lo + hi)  # safeguard: bisection inside the bracket
        if not accurate and abs(T_new - T) <= 1e-10 * float(np.min(T - c)):
            accurate = True  # the fast shares err by ~1e-13: reset the bracket they refined
            lo, hi = float(np.max(c + a)), float(np.max(c) + np.sum(a))
        T = T_new
        beta, dbeta, p = _shares_and_slope(rate_model, T, c, d, B, ch, accurate, p)
    # Move to the root along the curve beta(T), to first order: T += (1 - S)/S' and
    # beta_k += (1 - S) beta_k'(T) / S'. Unlike rescaling the shares by 1/S (which would shift
    # each finishing time by (S - 1) times its upload time), this shifts every finishing time
    # by the same amount, so they stay equal to float precision and the shares sum to 1.
    S, slope = float(np.sum(beta)), float(np.sum(dbeta))
    if slope < 0:
        T = T + (1.0 - S) / slope
        beta = np.maximum(beta + (1.0 - S) * dbeta / slope, 0.0)
    total = float(np.sum(beta))
    if total > 1.0:  # never above 1 (feasibility is checked strictly downstream); ~1 ulp
        beta = beta * ((1.0 - 2 * _EPS) / total)
    return c_max + T, beta


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
