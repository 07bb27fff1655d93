"""Brute-force oracles for the heterogeneous regime (issue 9) and the regimes it is ordered against.

Independent of the code under test: nothing here calls numerics' token, channel, latency,
allocation, homogeneous, heterogeneous or baseline code (``numerics.Scenario`` is read only
as a container of the parameters). Each formula is written out from the model (docs/model.md,
section 2), in scalar ``math`` arithmetic:

- tokens per round, integer L: A(L) = 1 + sum_{i=1}^{L} prod_{j<=i} alpha_j, accumulated term
  by term (i.i.d.: alpha_j = alpha). Real L (continuous relaxation): the smooth closed form
  (1 - alpha^(L+1)) / (1 - alpha) for i.i.d. alpha, linear interpolation between integers for
  a position-dependent profile (the relaxation ``solve_heterogeneous(integer=False)`` solves).
- rates: linear r = beta B eta; Shannon r = beta B log2(1 + rho / beta). The Shannon share for
  a required rate R solves u = c (e^u - 1), u = log(1 + rho / beta), c = R ln2 / (B rho) < 1:
  a start from ``scipy.special.lambertw`` (u = -W_{-1}(-c e^{-c}) - c; not the library's
  Lambert W) polished by Newton's method on log(expm1(u) / u) + log(c) = 0 (increasing in u).
- equal-finish makespan of a draft-length vector L (D7; H2 with L = 1): the root D of
  sum_k r_k^{-1}(s_k L_k / (D - L_k t_k)) = 1 over the uploading users, by
  ``scipy.optimize.brentq``; users with s_k = 0 finish at L_k t_k, users with L_k = 0 at 0.
- round time D + v0 + v1 n + T_o with n = sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded);
  goodput sum_k A_k(L_k) / round time.

Oracles:

- :func:`enumerate_heterogeneous`: every integer vector in {0..max_draft}^K (memoised on the
  uploading users' lengths); the exact integer optimum.
- :func:`homogeneous`: every common L in [1, max_draft] at the makespan L theta*
  (theta* = the makespan of L = 1 for all: a brentq root; H1: D(L 1) = L D(1)).
- :func:`equal_best`, :func:`autoregressive`: the baselines beta_k = 1/K with the best common
  L, and L = 0 for all.
- :func:`continuous_optimum`: the continuous relaxation of tiny systems (K <= 2) by a grid
  over the draft lengths, each point at its equal-finish shares, polished by
  ``scipy.optimize.minimize`` (bounded Powell).
- :func:`evaluate`: the goodput of a given point (L, beta), for checking a reported answer.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.special import lambertw

from numerics import Scenario

LN2 = math.log(2.0)
#: brentq tolerances: relative to the root (times from 1e-20 s to hours occur in one test run)
_XTOL, _RTOL = 1e-300, 4 * np.finfo(float).eps


# ---------------------------------------------------------------------------- per-user model
def _alpha_row(sc: Scenario, k: int) -> list[float]:
    """alpha_{k,1..max_draft} (an i.i.d. alpha repeated)."""
    if sc.alpha.ndim == 2:
        return [float(a) for a in sc.alpha[k]]
    return [float(sc.alpha[k])] * sc.max_draft


def token_table(sc: Scenario, k: int, upto: int | None = None) -> list[float]:
    """[A_k(0), A_k(1), ..., A_k(upto)]: A(L) = 1 + sum_{i<=L} prod_{j<=i} alpha_j, term by term."""
    n = sc.max_draft if upto is None else upto
    row = _alpha_row(sc, k)
    out, total, prod = [1.0], 1.0, 1.0
    for i in range(n):
        prod *= row[i]
        total += prod
        out.append(total)
    return out


def tokens_continuous(sc: Scenario, k: int, L: float) -> float:
    """A_k at a real L: smooth (1 - alpha^(L+1)) / (1 - alpha) (i.i.d.), interpolated (profile)."""
    if sc.alpha.ndim == 2:
        tab = token_table(sc, k)
        i = min(math.floor(L), sc.max_draft - 1)
        return tab[i] + (L - i) * (tab[i + 1] - tab[i])
    a = float(sc.alpha[k])
    if a == 0.0:
        return 1.0
    return -math.expm1((L + 1.0) * math.log(a)) / (1.0 - a)


def rate(sc: Scenario, k: int, beta: float) -> float:
    """r_k(beta) in bit/s: beta B eta (linear), beta B log2(1 + rho / beta) (Shannon); r(0) = 0."""
    B = sc.bandwidth_hz
    if sc.rate_model == "linear":
        return beta * B * float(sc.spectral_efficiency[k])
    if beta <= 0.0:
        return 0.0
    rho = float(sc.snr[k])
    x = rho / beta
    lg = math.log1p(x) if math.isfinite(x) else math.log(rho) - math.log(beta)
    return beta * B * lg / LN2


def _log_expm1_over(u: float) -> float:
    """log(expm1(u) / u) for u > 0, without overflow."""
    if u < 1.0:
        return math.log(math.expm1(u) / u)
    return u + math.log1p(-math.exp(-u)) - math.log(u)


def share(sc: Scenario, k: int, R: float) -> float:
    """The band share with which user k reaches the rate R > 0 (inf if no share does)."""
    B = sc.bandwidth_hz
    if sc.rate_model == "linear":
        return R / (B * float(sc.spectral_efficiency[k]))
    rho = float(sc.snr[k])
    c = R * LN2 / (B * rho)
    if not c < 1.0:
        return math.inf  # the Shannon rate never exceeds B rho / ln 2
    if c > 1e-250:
        u = -lambertw(-c * math.exp(-c), -1).real - c
    else:  # -c e^{-c} would be subnormal: asymptotic start u ~ log(1/c) + log(log(1/c))
        u = -math.log(c) + math.log(-math.log(c))
    if not (u > 0.0 and math.isfinite(u)):
        u = 2.0 * (1.0 - c)  # near the branch point: u = 2 (1 - c) + O((1 - c)^2)
    lc = math.log(c)
    for _ in range(6):  # Newton on g(u) = log(expm1(u)/u) + log(c), g' = 1/(1 - e^-u) - 1/u > 0
        g = _log_expm1_over(u) + lc
        dg = 1.0 / (-math.expm1(-u)) - 1.0 / u if u > 1e-4 else 0.5 + u / 12.0
        step = g / dg
        u = max(u - step, 0.5 * u)
        if abs(step) <= 1e-16 * u:
            break
    return c * rho / u


def per_token_time(sc: Scenario, k: int, beta: float) -> float:
    """h_k(beta) = t_k + s_k / r_k(beta) (t_k if s_k = 0; inf if s_k > 0 and beta = 0)."""
    s = float(sc.bits_per_token[k])
    if s == 0.0:
        return float(sc.t_draft[k])
    r = rate(sc, k, beta)
    return math.inf if r <= 0.0 else float(sc.t_draft[k]) + s / r


# ---------------------------------------------------------------------------- equal finishing time
def makespan(sc: Scenario, L) -> float:
    """min over shares of max_k L_k h_k(beta_k): the equal-finish root by brentq (D7; H2 with L = 1).

    Bracket: at lo = max_k (L_k t_k + L_k s_k / r_k(1)) some user needs the whole band, so the
    shares sum to >= 1; at hi = max_k L_k t_k + sum_k L_k s_k / r_k(1) they sum to <= 1, since
    r_k(beta) >= beta r_k(1) (r concave, r(0) = 0).
    """
    K = sc.n_users
    s, t = sc.bits_per_token, sc.t_draft
    up = [k for k in range(K) if L[k] > 0 and s[k] > 0]
    free = max([float(L[k]) * float(t[k]) for k in range(K) if L[k] > 0 and s[k] == 0], default=0.0)
    if not up:
        return free
    c = {k: float(L[k]) * float(t[k]) for k in up}
    d = {k: float(L[k]) * float(s[k]) for k in up}
    a = {k: d[k] / rate(sc, k, 1.0) for k in up}
    lo = max(c[k] + a[k] for k in up)
    hi = max(c.values()) + math.fsum(a.values())

    def excess(D: float) -> float:
        total = 0.0
        for k in up:
            q = D - c[k]
            if not q > 0.0:
                return math.inf
            total += share(sc, k, d[k] / q)
        return total - 1.0

    if hi <= lo or excess(lo) <= 0.0:
        D = lo  # one user, or all but one negligible: the whole band to the binding user
    elif excess(hi) >= 0.0:
        D = hi  # the sum is <= 1 at hi; >= only by round-off when the root is hi
    else:
        D = brentq(excess, lo, hi, xtol=_XTOL, rtol=_RTOL, maxiter=500)
    return max(D, free)


def verification(sc: Scenario, L) -> float:
    """T_v(n) = v0 + v1 n, n = sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded)."""
    K = sc.n_users
    n = math.fsum(float(x) + 1.0 for x in L) if sc.batching == "ragged" else K * (max(float(x) for x in L) + 1.0)
    return sc.v0 + sc.v1 * n


def goodput_of(sc: Scenario, L, tables=None) -> float:
    """Goodput of the integer vector L at its equal-finish shares."""
    tab = tables if tables is not None else [token_table(sc, k) for k in range(sc.n_users)]
    N = math.fsum(tab[k][int(L[k])] for k in range(sc.n_users))
    return N / (makespan(sc, L) + verification(sc, L) + sc.overhead)


def continuous_goodput_of(sc: Scenario, L) -> float:
    """Goodput of a real vector L at its equal-finish shares (the continuous relaxation)."""
    N = math.fsum(tokens_continuous(sc, k, float(L[k])) for k in range(sc.n_users))
    return N / (makespan(sc, L) + verification(sc, L) + sc.overhead)


def evaluate(sc: Scenario, L, beta, continuous: bool = False) -> float:
    """Goodput of the point (L, beta) as given (shares not re-optimised).

    Raises ``ValueError`` for an infeasible point: a length outside [0, max_draft] (or not an
    integer unless ``continuous``), a negative share, shares summing above 1 + 1e-12, or an
    uploading user (s_k > 0, L_k > 0) without band.
    """
    K = sc.n_users
    L = [float(x) for x in L]
    beta = [float(b) for b in beta]
    if len(L) != K or len(beta) != K:
        raise ValueError(f"point has {len(L)} lengths and {len(beta)} shares for K = {K} users")
    for k in range(K):
        if not (0.0 <= L[k] <= sc.max_draft) or (not continuous and L[k] != round(L[k])):
            raise ValueError(f"L[{k}] = {L[k]!r} is not a draft length in [0, {sc.max_draft}]")
        if not (beta[k] >= 0.0 and math.isfinite(beta[k])):
            raise ValueError(f"beta[{k}] = {beta[k]!r} is not a share >= 0")
    if math.fsum(beta) > 1.0 + 1e-12:
        raise ValueError(f"shares sum to {math.fsum(beta)!r} > 1")
    D = 0.0
    for k in range(K):
        if L[k] > 0:
            h = per_token_time(sc, k, beta[k])
            if not math.isfinite(h):
                raise ValueError(f"user {k} drafts L = {L[k]!r} tokens to upload with share {beta[k]!r}")
            D = max(D, L[k] * h)
    if continuous:
        N = math.fsum(tokens_continuous(sc, k, L[k]) for k in range(K))
    else:
        N = math.fsum(token_table(sc, k, int(L[k]))[int(L[k])] for k in range(K))
    return N / (D + verification(sc, L) + sc.overhead)


# ---------------------------------------------------------------------------- oracles
@dataclasses.dataclass(frozen=True)
class Optimum:
    """An oracle's answer: the optimal goodput, one optimal point, and every optimal vector."""

    goodput: float
    draft_lengths: tuple
    argmax: tuple = ()  # every vector within 1e-12 relative of the optimum (ties)


def enumerate_heterogeneous(sc: Scenario) -> Optimum:
    """The exact integer optimum: every vector L in {0..max_draft}^K at its equal-finish shares."""
    K = sc.n_users
    tab = [token_table(sc, k) for k in range(K)]
    up = [k for k in range(K) if sc.bits_per_token[k] > 0]
    cache: dict[tuple, float] = {}
    values = {}
    for L in itertools.product(range(sc.max_draft + 1), repeat=K):
        key = tuple(L[k] for k in up)  # the uploaders' root depends on their lengths only
        if key not in cache:
            cache[key] = makespan(sc, [L[k] if k in up else 0 for k in range(K)])
        free = max([L[k] * float(sc.t_draft[k]) for k in range(K) if k not in up], default=0.0)
        D = max(cache[key], free)
        values[L] = math.fsum(tab[k][L[k]] for k in range(K)) / (D + verification(sc, L) + sc.overhead)
    best = max(values.values())
    ties = tuple(L for L, g in values.items() if g >= best * (1 - 1e-12))
    return Optimum(best, max(values, key=values.get), ties)


def _best_common(sc: Scenario, theta: float) -> Optimum:
    """Best common L in [1, max_draft] when the drafting makespan is L theta."""
    K = sc.n_users
    tab = [token_table(sc, k) for k in range(K)]
    G = []
    for L in range(1, sc.max_draft + 1):
        N = math.fsum(tab[k][L] for k in range(K))
        G.append(N / (L * theta + sc.v0 + sc.v1 * K * (L + 1) + sc.overhead))
    i = int(np.argmax(G))
    ties = tuple((L,) * K for L, g in zip(range(1, sc.max_draft + 1), G, strict=True) if g >= G[i] * (1 - 1e-12))
    return Optimum(G[i], (i + 1,) * K, ties)


def homogeneous(sc: Scenario) -> Optimum:
    """The homogeneous optimum (H1-H4): theta* by brentq, then every common L in [1, max_draft]."""
    return _best_common(sc, makespan(sc, [1] * sc.n_users))


def equal_best(sc: Scenario) -> Optimum:
    """The ``equal-best`` baseline: beta_k = 1/K, the best common L in [1, max_draft]."""
    K = sc.n_users
    return _best_common(sc, max(per_token_time(sc, k, 1.0 / K) for k in range(K)))


def autoregressive(sc: Scenario) -> float:
    """K / (T_v(K) + T_o): no drafting, one token per user per pass."""
    return sc.n_users / (sc.v0 + sc.v1 * sc.n_users + sc.overhead)


def continuous_optimum(sc: Scenario, grid: int = 13, polish: int = 3) -> Optimum:
    """The continuous relaxation of a tiny system (K <= 2) by grid search plus a bounded polish.

    Every point is evaluated at its equal-finish shares (optimal for fixed L, as for integers).
    The grid has ``grid`` points per user on [0, max_draft], plus every integer; the ``polish``
    best grid points are polished by ``scipy.optimize.minimize`` (Powell, bounds [0, max_draft]),
    and L = 0 for all is a candidate. Padded batching puts a ridge at L_1 = L_2 (the batch
    grows with max_k L_k), along which a coordinate method stalls: there each start is also
    polished in the coordinates (M, f_k) with L_k = f_k M, M = max_k L_k, f_k in [0, 1], in
    which the ridge is the face f_k = 1. A local method: used to validate the conic reference
    on tiny cases, where the grid resolves the basins.
    """
    K = sc.n_users
    if K > 2:
        raise ValueError(f"continuous_optimum is a brute force for K <= 2 users, got K = {K}")
    Lmax = sc.max_draft
    axis = sorted(set(np.linspace(0.0, Lmax, grid).tolist()) | set(map(float, range(Lmax + 1))))
    f = lambda L: -continuous_goodput_of(sc, np.clip(L, 0.0, Lmax))  # noqa: E731
    pts = sorted(((f(np.array(p)), p) for p in itertools.product(axis, repeat=K)), key=lambda v: v[0])
    best_v, best_L = pts[0][0], np.array(pts[0][1])
    opts = {"xtol": 1e-10, "ftol": 1e-14, "maxfev": 20_000}
    for _, p in pts[:polish]:
        p = np.array(p)
        res = minimize(f, p, method="Powell", bounds=[(0.0, Lmax)] * K, options=opts)
        if res.fun < best_v:
            best_v, best_L = float(res.fun), np.clip(res.x, 0.0, Lmax)
        if sc.batching == "padded" and p.max() > 0:
            g = lambda z: f(np.clip(z[1:], 0.0, 1.0) * np.clip(z[0], 0.0, Lmax))  # noqa: E731
            res = minimize(g, np.concatenate([[p.max()], p / p.max()]), method="Powell",
                           bounds=[(0.0, Lmax)] + [(0.0, 1.0)] * K, options=opts)
            if res.fun < best_v:
                best_v, best_L = float(res.fun), np.clip(res.x[1:], 0.0, 1.0) * np.clip(res.x[0], 0.0, Lmax)
    return Optimum(-best_v, tuple(float(x) for x in best_L))
