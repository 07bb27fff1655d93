"""Equal-finishing-time band allocation (MODEL.md H2, and D7 for per-user draft lengths).

For fixed draft lengths L_k, the band that minimises the drafting makespan
max_k L_k h_k(beta_k) gives every uploading user the same finishing time T and uses the
whole band:

    beta_k(T) = r_k^{-1}( s_k L_k / (T - L_k t_k) ),      sum_k beta_k(T) = 1,

T being the unique root on (max_k L_k t_k, inf) of a decreasing function. With L_k = 1 for
all users this is H2 (T = theta*, the per-token makespan); the homogeneous regime scales it by
L (H1), the integer heterogeneous regime uses it per length vector (D7).

Symbolic source: :mod:`theory.homogeneous` (KKT system, closed forms of beta_k(theta)).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .channel import rate, rate_inverse
from .scenario import Scenario

__all__ = ["share_for_deadline", "equal_finish_allocation"]


def share_for_deadline(scenario: Scenario, L, T) -> np.ndarray:
    """beta_k(T): the least band share with which user k drafts and uploads L_k tokens by T.

    Users that need no band (s_k = 0 or L_k = 0) get 0. Requires T > L_k t_k for the others.
    """
    L = np.broadcast_to(np.asarray(L, dtype=np.float64), (scenario.n_users,))
    s = scenario.bits_per_token
    need = (s > 0) & (L > 0)
    slack = T - L * scenario.t_draft
    if np.any(need & ~(slack > 0)):
        raise ValueError(f"deadline T={T!r} is not after the drafting time of every uploading user")
    r_req = np.where(need, s * L / np.where(need, slack, 1.0), 0.0)
    return np.where(need, rate_inverse(scenario.rate_model, r_req, scenario.bandwidth_hz, scenario.channel), 0.0)


def equal_finish_allocation(scenario: Scenario, L) -> tuple[np.ndarray, float]:
    """Band shares minimising max_k L_k h_k(beta_k) for fixed L, and that makespan.

    Returns
    -------
    beta : ndarray (K,)
        Shares, summing to 1 (to float precision, never above) when any user uploads,
        all zero otherwise.
    makespan : float
        max_k L_k h_k(beta_k) at that allocation.

    Examples
    --------
    >>> s = Scenario(alpha=0.8, t_draft=[0.0, 0.0], bits_per_token=[1.0, 3.0],
    ...              bandwidth_hz=1.0, spectral_efficiency=1.0, v0=0.1)
    >>> beta, T = equal_finish_allocation(s, [1, 1])
    >>> beta.round(12).tolist(), round(T, 12)   # shares proportional to s_k; T = 1 + 3
    ([0.25, 0.75], 4.0)
    """
    K = scenario.n_users
    L = np.broadcast_to(np.asarray(L, dtype=np.float64), (K,))
    s, t = scenario.bits_per_token, scenario.t_draft
    need = (s > 0) & (L > 0)
    free_time = float(np.max(np.where(need, 0.0, L * t)))
    if not need.any():
        return np.zeros(K), free_time
    c = L * t
    r_full = rate(scenario.rate_model, 1.0, scenario.bandwidth_hz, scenario.channel)
    a = np.where(need, s * L / r_full, 0.0)  # upload time of L_k tokens on the whole band
    # bracket (module docstring): at lo some user would need the whole band, so sum >= 1;
    # at hi every beta_k <= a_k / sum(a) because r(beta) >= beta r(1) (concave, r(0) = 0)
    lo = float(np.max(np.where(need, c + a, -np.inf)))
    hi = float(np.max(np.where(need, c, -np.inf)) + np.sum(a))

    def excess(T: float) -> float:
        return float(np.sum(share_for_deadline(scenario, L, T))) - 1.0

    if hi <= lo or excess(lo) <= 0.0:
        T = lo
    else:
        T = brentq(excess, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200)
    beta = share_for_deadline(scenario, L, T)
    total = beta.sum()
    if total > 1.0:  # round-off in the root: shrink to stay feasible (relative change ~1e-16)
        beta = beta / total
    r = rate(scenario.rate_model, beta, scenario.bandwidth_hz, scenario.channel)
    with np.errstate(divide="ignore"):
        finish = np.where(need, L * (t + s / np.where(need, r, 1.0)), 0.0)
    return beta, max(float(np.max(finish)), free_time)
