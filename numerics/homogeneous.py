r"""Homogeneous draft length: the exact solver of docs/model.md H1 to H4.

.. math::

    \max_{L \in \{1..L_{max}\},\ \beta \in \Delta}\;
    G_H = \frac{\sum_k A(\alpha_k, L)}{L \max_k h_k(\beta_k) + T_v(K(L+1)) + T_o}

Steps (derivations in :mod:`theory.homogeneous`):

1. H1/H2: the best shares do not depend on L; they equalise the per-token latencies of the
   uploading users at theta* and use the whole band
   (:func:`numerics.allocation.equal_finish_allocation` with L_k = 1).
2. H4: with theta* fixed the round time is c0 + c1 L (c1 = theta* + v1 K,
   c0 = v0 + v1 K + T_o) and G_H(L) = N(L) / (c0 + c1 L) is quasi-concave with no flat
   stretch below its maximum (N is concave on the integers). The continuous optimum is the
   W_{-1} closed form (:func:`stationary_length`) for a common alpha, the root of the
   decreasing phi(L) = N'(L)(c0 + c1 L) - c1 N(L) for per-user alphas; the integer optimum
   is floor or ceil of it, certified by comparing with the neighbours (a local maximum of a
   quasi-concave sequence without flat stretches is global; from a wrong start the search
   climbs on). Why no flat stretch: on the integers N has non-increasing increments
   (alpha^(L+1), or prod_j alpha_j), so N - g D is a concave sequence for every g; if
   G(L) = G(L+1) = g below the maximum, N - g D would vanish at L and L+1 and be positive at
   the maximiser beyond them, which a concave sequence cannot do. Position-dependent
   acceptance: N(L) for every L costs one cumulative product, so every L is scanned (exact).
"""

from __future__ import annotations

import math

import numpy as np

from .allocation import equal_finish_allocation
from .channel import _rate_elasticity, rate
from .lambertw import lambertw
from .latency import round_time, tokens_per_round
from .roots import newton
from .scenario import Scenario
from .solution import Solution
from .validation import as_float, as_float_array, as_scenario

__all__ = [
    "affine_round_time",
    "band_multiplier",
    "best_common_length",
    "solve_homogeneous",
    "stationary_length",
]

_EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------- H4 closed form
def _p_minus_log1p(p: np.ndarray) -> np.ndarray:
    """p - log1p(p) for p >= 0 without cancellation (series sum_{n>=2} (-1)^n p^n / n for p < 0.05).

    15 terms: the first omitted one is below 2e-18 of the sum for p < 0.05.
    """
    small = p < 0.05
    ps = np.where(small, p, 0.0)
    acc = np.zeros_like(ps)
    for n in range(16, 1, -1):  # Horner: p^2 (1/2 - p (1/3 - p (1/4 - ...)))
        acc = 1.0 / n - ps * acc
    return np.where(small, ps * ps * acc, p - np.log1p(np.where(small, 0.0, p)))


def _first(arr: np.ndarray, mask: np.ndarray) -> float:
    """The first entry of ``arr`` where ``mask`` holds (for error messages)."""
    return float(np.broadcast_to(arr, mask.shape)[mask].flat[0])


def stationary_length(alpha, c0, c1):
    r"""Stationary point of G(L) = A(alpha, L) / (c0 + c1 L): the H4 closed form.

    .. math::

        z = -W_{-1}\!\left(-\alpha^{c_0/c_1 - 1} / e\right), \qquad
        L^\circ = \frac{1 - z}{\ln \alpha} - \frac{c_0}{c_1}

    (:func:`theory.homogeneous.optimal_common_length`). Evaluated stably: with
    delta = -ln(alpha)(c0/c1 - 1) >= 0 the argument is -exp(-1 - delta), and p = z - 1 solves
    p - log1p(p) = delta; the W_{-1} value is polished by Newton steps on that equation
    (evaluated by its series for small p; for huge delta, where the W argument underflows,
    Newton starts from delta + log1p(delta)). Then, since p - delta = log1p(p),

    .. math:: L^\circ = \frac{p}{-\ln\alpha} - \frac{c_0}{c_1} = \frac{\ln(1 + p)}{-\ln\alpha} - 1,

    and the second form is used: the first subtracts two numbers of size c0/c1 and loses
    the absolute precision of L° when c0/c1 is large (an error of eps c0/c1, 1e-4 at
    c0/c1 = 1e12). Above delta = 1e300, ln(1 + p) = ln(-ln alpha) + ln(c0/c1 - 1) to
    double precision (no overflow of delta).

    Accuracy: L° + 1 = ln(1 + p) / (-ln alpha) has a relative error of a few eps, so the
    error of L° is at most 1e-14 (1 + abs(L°)), for every alpha in (0, 1) and
    1 <= c0/c1 <= 1.8e308 (for the double inputs as given; the rounding of c0/c1 itself is
    not undone). Checked against mpmath (100 digits and more) for c0/c1 from 1 to 1e12 and
    beyond (``tests/test_homogeneous_scale.py``).

    Parameters
    ----------
    alpha : array_like
        Common acceptance rate, in (0, 1).
    c0, c1 : array_like
        Round time c0 + c1 L, with c0 >= c1 > 0 (the domain of the real branch).

    Returns
    -------
    ndarray or float: L° (>= -1; the maximiser over L > -1 of the continuous relaxation).

    Raises
    ------
    ValueError
        alpha outside (0, 1), c1 <= 0, or c0 < c1 (then G decreases on [-1, inf) and has no
        stationary point: :func:`theory.homogeneous.stationary_point_domain`).

    Examples
    --------
    >>> round(float(stationary_length(0.8, 2.0, 1.0)), 10)   # = mpmath bisection of phi = 0 (claim H4)
    1.6944303529
    """
    a = as_float_array("alpha", alpha, None)
    c0 = as_float_array("c0", c0, None)
    c1 = as_float_array("c1", c1, None)
    bad = ~((a > 0) & (a < 1))
    if bad.any():
        raise ValueError(f"alpha must lie in (0, 1), got {_first(a, bad)!r}")
    bad = ~((c1 > 0) & np.isfinite(c1))
    if bad.any():
        raise ValueError(f"c1 must be finite and > 0, got {_first(c1, bad)!r}")
    ratio = c0 / c1
    bad = ~((ratio >= 1) & np.isfinite(ratio))
    if bad.any():
        raise ValueError(f"c0 / c1 must be finite and >= 1 for a stationary point, got {_first(ratio, bad)!r}")
    neg_log = -np.log(a)
    with np.errstate(over="ignore"):
        delta_raw = neg_log * (ratio - 1.0)
    huge = ~(delta_raw <= 1e300)  # delta may even overflow: closed form below
    delta = np.where(huge, 1.0, delta_raw)
    arg = -np.exp(-1.0 - delta)
    ok = arg < 0  # the argument underflows to -0 for delta > ~744
    w = lambertw(np.where(ok, arg, -0.25), -1)
    p = np.where(ok, -w - 1.0, delta + np.log1p(delta))
    p = np.maximum(p, np.sqrt(2.0 * delta))  # p^2/2 >= p - log1p(p): start left of the root or at it
    for _ in range(8):  # Newton on f(p) = p - log1p(p) - delta, f'(p) = p / (1 + p)
        f = _p_minus_log1p(p) - delta
        step = np.where(p > 0, f * (1.0 + p) / np.where(p > 0, p, 1.0), 0.0)
        p = np.maximum(p - step, 0.0)
        if np.all(np.abs(step) <= 2 * _EPS * p):  # converged to round-off
            break
    # L° = p / (-ln alpha) - c0/c1 = ln(1 + p) / (-ln alpha) - 1 (p - delta = ln(1 + p)): no cancellation
    log1p_p = np.where(huge, np.log(neg_log) + np.log(np.where(huge, ratio, 2.0) - 1.0), np.log1p(p))
    return (log1p_p / neg_log - 1.0)[()]


# ---------------------------------------------------------------------------- H4 integer search
def affine_round_time(scenario: Scenario, theta: float) -> tuple[float, float]:
    """(c0, c1) with round time c0 + c1 L at a common L (:func:`theory.homogeneous.affine_round_time`).

    c1 = theta + v1 K, c0 = v0 + v1 K + T_o (ragged and padded batching agree at a common L).
    """
    K = scenario.n_users
    return scenario.v0 + scenario.v1 * K + scenario.overhead, theta + scenario.v1 * K


class _Tokens:
    """N(L) = sum_k A(alpha_k, L) and N'(L) for per-user alphas (docs/model.md section 2).

    A = -expm1((L+1) ln alpha) / (1 - alpha), A' = -alpha^(L+1) ln(alpha) / (1 - alpha): the
    forms of :func:`numerics.tokens.expected_tokens` / :func:`numerics.tokens.marginal_tokens`
    with ln(alpha) and 1/(1 - alpha) computed once (tied to them by the tests).
    """

    def __init__(self, alpha: np.ndarray):
        zero = alpha == 0
        self.n_zero = int(np.sum(zero))
        u = alpha[~zero]
        self.u = u
        self.log_a = np.log(u)
        self.w = 1.0 / (1.0 - u)
        self.wl = self.w * self.log_a  # weights of A' and A''
        self.wl2 = self.wl * self.log_a
        self.common = u.size <= 1 or bool(np.all(u == u[0]))

    def N(self, L) -> np.ndarray:
        """N at one L or at a 1-D array of L."""
        L = np.asarray(L, dtype=np.float64)
        return self.n_zero - np.expm1(np.multiply.outer(L + 1.0, self.log_a)) @ self.w

    def phi(self, L: float, c0: float, c1: float) -> tuple[float, float]:
        """phi(L) = N'(L) D - c1 N(L) and phi'(L) = N''(L) D, D = c0 + c1 L (one exp per alpha)."""
        em1 = np.expm1((L + 1.0) * self.log_a)
        e = em1 + 1.0  # alpha^(L+1)
        D = c0 + c1 * L
        # sums of products, not BLAS dot products (a threaded BLAS call costs ~1 ms at K = 1e5 on a
        # busy machine, 10x the sum)
        return (float(-np.sum(e * self.wl) * D - c1 * (self.n_zero - np.sum(em1 * self.w))),
                float(-np.sum(e * self.wl2) * D))

    def dN(self, L: float) -> tuple[float, float]:
        """(N'(L), N''(L)); N' = sum -alpha^(L+1) ln(alpha) / (1 - alpha) > 0, N'' < 0."""
        e = np.exp((L + 1.0) * self.log_a)
        return float(-np.sum(e * self.wl)), float(-np.sum(e * self.wl2))


def _phi_root(tok: _Tokens, c0: float, c1: float, Lmax: float) -> float:
    """The maximiser over [1, Lmax] of N(L) / (c0 + c1 L): root of the decreasing
    phi(L) = N'(L)(c0 + c1 L) - c1 N(L) (:func:`theory.homogeneous.quasi_concavity`), phi' = N'' D.

    :func:`numerics.roots.newton` on the bracket [1, L0] or [L0, Lmax], L0 the common-alpha
    closed form at the mean acceptance rate; an end of the range is the answer when phi does
    not change sign on it.
    """

    def phi(x, idx):
        f, fp = tok.phi(float(x[0]), c0, c1)
        return np.array([f]), np.array([fp])

    a_mean = float(np.mean(tok.u))
    L0 = float(np.clip(stationary_length(a_mean, c0, c1), 1.0, Lmax)) if c0 > c1 and a_mean < 1 else 1.0
    f0 = tok.phi(L0, c0, c1)[0]
    if f0 == 0.0:
        return L0
    if f0 > 0:
        if L0 >= Lmax or tok.phi(Lmax, c0, c1)[0] >= 0:
            return Lmax
        lo, hi = L0, Lmax
    else:
        if L0 <= 1.0 or tok.phi(1.0, c0, c1)[0] <= 0:
            return 1.0
        lo, hi = 1.0, L0
    return float(newton(phi, lo, hi, increasing=False, rtol=1e-13).x[0])


def best_common_length(scenario: Scenario, theta: float) -> tuple[int, float, str]:
    """The integer L in [1, max_draft] maximising N(L) / (c0 + c1 L) at per-token makespan theta (H4).

    Returns
    -------
    L : int
        The smallest maximiser.
    L_continuous : float
        The maximiser over the real interval [1, max_draft] of the continuous relaxation:
        the W_{-1} closed form (:func:`stationary_length`, clipped) for a common alpha, the
        root of the decreasing phi(L) = N'(L)(c0 + c1 L) - c1 N(L) otherwise; for a
        position-dependent profile (piecewise linear N, so G is monotone between integers)
        it equals L.
    method : str
        'closed-form', 'root' or 'scan': how L_continuous was obtained.

    Raises
    ------
    ValueError
        theta negative or not finite. (Every round takes at least v0 + v1 K + overhead >=
        1e-12 s: :data:`numerics.validation.MIN_ROUND_TIME`, checked by the Scenario.)
    """
    scenario = as_scenario(scenario)
    theta = as_float("theta", theta)
    if not (np.isfinite(theta) and theta >= 0):
        raise ValueError(f"theta must be finite and >= 0, got {theta!r}")
    c0, c1 = affine_round_time(scenario, theta)
    Lmax = scenario.max_draft
    K = scenario.n_users
    if scenario.positional:
        # N(L) = K + sum_{i <= L} sum_k prod_{j <= i} alpha_kj for every L at once; full scan
        N = K + np.cumsum(np.cumprod(scenario.alpha, axis=1).sum(axis=0))
        Ls = np.arange(1, Lmax + 1, dtype=np.float64)
        L = int(np.argmax(N / (c0 + c1 * Ls))) + 1
        return L, float(L), "scan"

    tok = _Tokens(scenario.alpha)

    def G(Lv: int) -> float:
        return float(tok.N(float(Lv)) / (c0 + c1 * Lv))

    if tok.log_a.size == 0 or c1 == 0:
        # alpha = 0 for all: N = K, G decreasing (L = 1); c1 = 0: G increasing (L = max_draft)
        Lc = 1.0 if tok.log_a.size == 0 else float(Lmax)
        method = "closed-form"
    elif tok.common and tok.n_zero == 0:
        method = "closed-form"
        Lc = 1.0 if c0 <= c1 else float(np.clip(stationary_length(tok.u[0], c0, c1), 1.0, Lmax))
    else:
        method = "root"
        Lc = _phi_root(tok, c0, c1, float(Lmax))
    # integer optimum: floor or ceil of Lc (quasi-concavity), then the neighbour certificate
    lo = max(1, min(Lmax, math.floor(Lc)))
    cand = np.arange(max(1, lo - 1), min(Lmax, lo + 2) + 1)  # floor - 1 .. ceil + 1, one evaluation
    Gc = tok.N(cand) / (c0 + c1 * cand)
    i = int(np.argmax(Gc))  # first maximiser: the smallest L on ties
    L = int(cand[i])
    # a maximiser on the edge of the window can only come from round-off in Lc (quasi-concavity
    # puts it at floor or ceil of Lc): climb on until the neighbour certificate holds
    g = float(Gc[i])
    if i == 0:
        while L > 1 and G(L - 1) >= g:  # >=: the smallest maximiser on ties
            L -= 1
            g = G(L)
    elif i == cand.size - 1:
        while L < Lmax and G(L + 1) > g:
            L += 1
            g = G(L)
    return L, float(Lc), method


# ---------------------------------------------------------------------------- H2 multiplier
def band_multiplier(scenario: Scenario, beta: np.ndarray, theta: float) -> tuple[float, np.ndarray]:
    """KKT multipliers of the epigraph problem at the equal-finish shares (H2).

    lambda = 1 / sum_k 1/g_k and mu_k = lambda / g_k over the uploading users, with
    g_k = -h_k'(beta_k) = s_k r_k'(beta_k) / r_k(beta_k)^2 (:func:`theory.homogeneous.kkt_solution`);
    lambda = -d theta*/d(band budget). If theta* is set by a user without upload
    (t_k > every uploading user's latency) the band constraint is slack: lambda = 0 and mu
    is 1 on that user.

    Evaluated as 1/g_k = (r_k / s_k)(r_k / r_k') with the power of two of r_k / s_k kept apart
    (``np.frexp``) and a common one factored out of the sum (exact scalings, ``np.ldexp``):
    r_k^2 overflows for rates above 1.3e154 bit/s (bandwidth_hz = 1e300), which made 1/g
    infinite and mu = 0/0. r_k / r_k' = beta_k e_k with e_k the elasticity of the rate
    (:func:`numerics.channel._rate_elasticity`): r_k' underflows to 0 for a power-limited Shannon
    user (rho_k / beta_k below 1e-154), whose 1/g_k is then huge but finite.
    """
    s, t = scenario.bits_per_token, scenario.t_draft
    K = scenario.n_users
    up = s > 0
    mu = np.zeros(K)
    if not up.any():
        mu[int(np.argmax(t))] = 1.0
        return 0.0, mu
    b = beta[up]
    r = rate(scenario.rate_model, b, scenario.bandwidth_hz, scenario.channel[up])
    h_up = float(np.max(t[up] + s[up] / r))
    t_free = float(np.max(np.where(up, -np.inf, t)))
    if t_free > h_up:
        mu[int(np.argmax(np.where(up, -np.inf, t)))] = 1.0
        return 0.0, mu
    # r / r' = beta e (e = r / (beta r') the elasticity: no r', which underflows for a power-limited user)
    r_over_rp = b * _rate_elasticity(scenario.rate_model, b, scenario.bandwidth_hz, scenario.channel[up])
    m_r, e_r = np.frexp(r)
    m_s, e_s = np.frexp(s[up])
    expo = e_r - e_s  # 1/g_k = y_k 2^expo_k, g_k = s_k r_k' / r_k^2
    y = (m_r / m_s) * r_over_rp
    top = int(np.max(expo))
    w = np.ldexp(y, expo - top)  # 1/g_k / 2^top, exact scaling
    total = float(np.sum(w))
    mu[up] = w / total
    return float(np.ldexp(1.0 / total, -top)), mu


# ---------------------------------------------------------------------------- solver
def solve_homogeneous(scenario: Scenario) -> Solution:
    r"""The exact optimum of the homogeneous-draft-length problem (docs/model.md H1 to H4).

    theta* and the shares come from :func:`numerics.allocation.equal_finish_allocation`
    (H2: equal per-token latencies, full band, safeguarded Newton root to float precision);
    L from :func:`best_common_length` (H4). Users with s_k = 0 get no band; users with
    t_k = 0 are handled by the same formulas.

    Returns
    -------
    Solution
        name 'homogeneous'; draft_lengths all equal to L; bandwidth beta*; goodput and
        round_time at (L, beta*); upper_bound = goodput and gap = 0 (the solve is exact);
        multipliers: 'theta' (theta*), 'lambda' (band multiplier of the epigraph problem,
        = -d theta*/d budget), 'mu' (per-user latency multipliers, summing to 1),
        'band_value' (dG/d budget = G L lambda / T), 'c0', 'c1' (round time c0 + c1 L),
        'L_continuous' and 'L_method' (:func:`best_common_length`).

    Raises
    ------
    ValueError
        ``scenario`` is not a Scenario. (Its validation guarantees a round time of at least
        1e-12 s: :data:`numerics.validation.MIN_ROUND_TIME`.)

    Examples
    --------
    >>> sc = Scenario(alpha=0.8, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0,
    ...               spectral_efficiency=1.0, v0=1.0, max_draft=8)
    >>> solve_homogeneous(sc).draft_lengths.tolist()   # free drafting: the longest draft
    [8]
    """
    scenario = as_scenario(scenario)
    K = scenario.n_users
    beta, theta = equal_finish_allocation(scenario, np.ones(K))
    L, Lc, method = best_common_length(scenario, theta)
    lam, mu = band_multiplier(scenario, beta, theta)
    Ls = np.full(K, L, dtype=np.int64)
    T = round_time(scenario, Ls, beta)
    G = float(np.sum(tokens_per_round(scenario, Ls)) / T)  # numerics.latency.goodput, T computed once
    c0, c1 = affine_round_time(scenario, theta)
    return Solution(
        name="homogeneous",
        draft_lengths=Ls,
        bandwidth=beta,
        goodput=G,
        round_time=T,
        upper_bound=G,
        gap=0.0,
        multipliers={"theta": theta, "lambda": lam, "mu": mu, "band_value": G * L * lam / T,
                     "c0": c0, "c1": c1, "L_continuous": Lc, "L_method": method},
    )
