r"""Integer draft lengths for the heterogeneous regime (MODEL.md D7).

For a fixed integer vector L the best band shares equalise the finishing times of the
uploading users and use the whole band (D7, the H2 argument with per-user L_k), so the
goodput of L is

.. math::

    G(L) = \frac{\sum_k A_k(L_k)}{T(L) + T_v(n(L)) + T_o},\qquad
    \sum_{k:\, s_k L_k > 0} r_k^{-1}\!\Big(\frac{s_k L_k}{T - t_k L_k}\Big) = 1,

T(L) also at least the drafting time t_k L_k of the users without upload. :func:`makespan_batch`
solves the equal-finish equation for many vectors at once: the left side is convex and
decreasing in T (r^{-1} convex increasing, s L / (T - t L) convex decreasing), so Newton's
method started at T0 = max_k (t_k L_k + s_k L_k / r_k(1)), where the sum is >= 1, increases
monotonically to the root (:func:`theory.heterogeneous.equal_finish_shares`). It is the
vectorised twin of :func:`numerics.allocation.equal_finish_allocation` (one vector), which
gives the reported shares; ``tests/test_heterogeneous_integer.py`` ties the two.

Search (:func:`integer_search`):

- exact: if the number of vectors prod_k (L_max + 1) over the users that can gain
  (alpha_k > 0) is at most :data:`ENUM_LIMIT`, every vector is evaluated;
- otherwise: candidates from the continuous optimum (rounded down, to nearest) and from a
  greedy multiple-choice knapsack at deadlines around the continuous one (at a deadline T the
  share of user k for j tokens is convex in j and A is concave, so the increments sorted by
  value per unit of band give the LP optimum up to one fractional user), then a local search
  of +-1 moves (and pair moves for small K), each move evaluated exactly.

The certificate is the continuous upper bound of :mod:`numerics.heterogeneous_outer`.
"""

from __future__ import annotations

import numpy as np

from .heterogeneous_kkt import Users
from .scenario import Scenario

__all__ = ["ENUM_LIMIT", "makespan_batch", "goodput_batch", "tokens_batch", "integer_search"]

#: exact enumeration up to this many draft-length vectors
ENUM_LIMIT = 60_000
_EPS = np.finfo(np.float64).eps
_LN2 = np.log(2.0)


def tokens_batch(users: Users, Lmat: np.ndarray) -> np.ndarray:
    """A_k(L_k) for integer draft lengths, shape of ``Lmat`` (..., K)."""
    if users.positional:
        Li = Lmat.astype(np.int64)
        return 1.0 + users.cum[np.arange(users.K), Li]
    al, a, oma = users.alpha, users.a, users.oma
    with np.errstate(invalid="ignore"):
        val = -np.expm1(-(Lmat + 1.0) * a) / np.where(al > 0, oma, 1.0)
    return np.where(al > 0, val, 1.0)


def _full_band_rate(users: Users) -> np.ndarray:
    B, ch = users.bandwidth, users.ch
    return B * ch if users.model == "linear" else B * np.log1p(ch) / _LN2


def makespan_batch(users: Users, Lmat: np.ndarray) -> np.ndarray:
    """The equal-finish makespan T(L) of every row of ``Lmat`` (N, K) (module docstring)."""
    Lmat = np.atleast_2d(np.asarray(Lmat, dtype=np.float64))
    t, s = users.t, users.s
    need = (s > 0)[None, :] & (Lmat > 0)
    free_time = np.max(np.where(need, 0.0, Lmat * t), axis=1)
    T = np.zeros(Lmat.shape[0])
    rows = np.flatnonzero(need.any(axis=1))
    if rows.size == 0:
        return free_time
    nd = need[rows]
    d = np.where(nd, s * Lmat[rows], 0.0)
    c = np.where(nd, t * Lmat[rows], 0.0)
    r1 = _full_band_rate(users)
    T_r = np.max(np.where(nd, c + d / r1, -np.inf), axis=1)
    act = np.arange(rows.size)
    for _ in range(200):
        q = T_r[act, None] - c[act]
        dd = d[act]
        if users.model == "linear":
            with np.errstate(divide="ignore", invalid="ignore"):
                beta = np.where(dd > 0, dd / (users.bandwidth * users.ch * q), 0.0)
                dS = -np.sum(np.where(dd > 0, beta / q, 0.0), axis=1)
        else:
            beta, dS = _shannon_shares(users, dd, q)
        S = np.sum(beta, axis=1)
        step = (S - 1.0) / dS  # <= 0: Newton moves right, monotonically (convex decreasing S)
        newT = T_r[act] - np.where(S > 1.0, step, 0.0)
        done = np.abs(newT - T_r[act]) <= 4 * _EPS * newT
        T_r[act] = newT
        act = act[~done]
        if act.size == 0:
            break
    T[rows] = T_r
    return np.maximum(T, free_time)


def _shannon_shares(users: Users, d: np.ndarray, q: np.ndarray):
    """beta = r^{-1}(d / q) per entry (0 where d = 0) and dS/dT = -sum (d / q^2) / r'(beta)."""
    beta = np.zeros_like(d)
    dS = np.zeros(d.shape[0])
    nz = d > 0
    if nz.any():
        rr, cc = np.nonzero(nz)
        req = d[nz] / q[nz]
        b = users.share_for_rate(req, cc)
        beta[nz] = b
        _, r1, _ = users.rate_terms(b, cc)
        contrib = np.zeros_like(d)
        contrib[nz] = (d[nz] / q[nz] ** 2) / r1
        dS = -np.sum(contrib, axis=1)
    return beta, dS


def goodput_batch(scenario: Scenario, users: Users, Lmat: np.ndarray) -> np.ndarray:
    """G(L) of every row of ``Lmat`` (N, K) with the equal-finish band (module docstring)."""
    Lmat = np.atleast_2d(np.asarray(Lmat, dtype=np.float64))
    K = users.K
    N = np.sum(tokens_batch(users, Lmat), axis=1)
    if scenario.batching == "ragged":
        n = np.sum(Lmat + 1.0, axis=1)
    else:
        n = K * (np.max(Lmat, axis=1) + 1.0)
    T = makespan_batch(users, Lmat) + scenario.v0 + scenario.v1 * n + scenario.overhead
    return N / T


# ------------------------------------------------------------------------------ enumeration
def _caps(users: Users) -> np.ndarray:
    """Largest useful draft length per user: 0 where alpha = 0 (A = 1 whatever L), else L_max."""
    return np.where(users.active, users.max_draft, 0).astype(np.int64)


def n_vectors(users: Users) -> int:
    """Number of draft-length vectors enumerated by the exact search."""
    out = 1
    for c in _caps(users):
        out *= int(c) + 1
        if out > 10 * ENUM_LIMIT:
            return out
    return out


def enumerate_best(scenario: Scenario, users: Users, chunk: int = 20_000) -> tuple[np.ndarray, float]:
    """The exact integer optimum by enumeration of every vector (returns L and G)."""
    caps = _caps(users)
    var = np.flatnonzero(caps > 0)
    sizes = caps[var] + 1
    total = int(np.prod(sizes)) if var.size else 1
    best_G, best_L = -np.inf, np.zeros(users.K)
    for start in range(0, total, chunk):
        flat = np.arange(start, min(start + chunk, total))
        Lmat = np.zeros((flat.size, users.K))
        if var.size:
            digits = np.array(np.unravel_index(flat, sizes)).T
            Lmat[:, var] = digits
        G = goodput_batch(scenario, users, Lmat)
        i = int(np.argmax(G))
        if G[i] > best_G:
            best_G, best_L = float(G[i]), Lmat[i].copy()
    return best_L, best_G


# ------------------------------------------------------------------------------ heuristics
def _shares_at(users: Users, T: float, Lmax: int) -> np.ndarray:
    """Share that user k needs to finish j tokens by T, j = 0..Lmax (inf if it cannot)."""
    j = np.arange(Lmax + 1, dtype=np.float64)[None, :]
    t, s = users.t[:, None], users.s[:, None]
    slack = T - t * j
    ok = slack > 0
    req = np.where(ok, s * j / np.where(ok, slack, 1.0), np.inf)
    out = np.full(req.shape, np.inf)
    zero = (s == 0) & ok | (j == 0)
    out[np.broadcast_to(zero, out.shape)] = 0.0
    nz = ok & ~zero
    if nz.any():
        rr, cc = np.nonzero(np.broadcast_to(nz, out.shape))
        out[rr, cc] = users.share_for_rate(req[rr, cc], rr)
    return out


def mckp_greedy(users: Users, T: float, caps: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Greedy multiple-choice knapsack at deadline T (module docstring): integer L with sum of shares <= 1."""
    K, Lmax = users.K, users.max_draft
    share = _shares_at(users, T, Lmax)
    j = np.arange(Lmax + 1)
    A = tokens_batch(users, np.broadcast_to(j.astype(float)[:, None], (Lmax + 1, K))).T
    val = np.diff(A, axis=1) - mu[:, None]
    with np.errstate(invalid="ignore"):
        cost = np.diff(share, axis=1)  # inf - inf where j tokens cannot be finished by T
    cost = np.where(np.isnan(cost), np.inf, cost)
    valid = (val > 0) & np.isfinite(share[:, 1:]) & (j[None, 1:] <= caps[:, None])
    valid = np.cumprod(valid, axis=1).astype(bool)  # a prefix per user
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(cost > 0, val / cost, np.inf)
    kk, jj = np.nonzero(valid)
    order = np.lexsort((jj, -eff[kk, jj]))
    kk, jj = kk[order], jj[order]
    c = cost[kk, jj]
    take = np.cumsum(c) <= 1.0
    # the prefix of the sorted increments that fits, then top up with increments that still fit
    L = np.bincount(kk[take], minlength=K).astype(np.float64)
    for _ in range(3):
        used = float(np.sum(share[np.arange(K), L.astype(np.int64)]))
        left = 1.0 - used
        nxt = L.astype(np.int64)
        cand = np.flatnonzero((nxt < Lmax) & valid[np.arange(K), np.minimum(nxt, Lmax - 1)] & (nxt < caps))
        if cand.size == 0 or left <= 0:
            break
        cc = cost[cand, nxt[cand]]
        ee = eff[cand, nxt[cand]]
        o = np.argsort(-ee, kind="stable")
        fits = np.cumsum(cc[o]) <= left
        add = cand[o][fits]
        if add.size == 0:
            break
        L[add] += 1.0
    return L


def _neighbours(L: np.ndarray, caps: np.ndarray, pairs: bool) -> np.ndarray:
    K = L.size
    rows = []
    eye = np.eye(K)
    up = L + eye
    dn = L - eye
    rows.append(up[L < caps])
    rows.append(dn[L > 0])
    if pairs:
        i, j = np.nonzero(~np.eye(K, dtype=bool))
        P = np.repeat(L[None, :], i.size, axis=0)
        P[np.arange(i.size), i] += 1
        P[np.arange(i.size), j] -= 1
        ok = (P[np.arange(i.size), i] <= caps[i]) & (P[np.arange(i.size), j] >= 0)
        rows.append(P[ok])
    return np.concatenate(rows, axis=0) if rows else np.zeros((0, K))


def local_search(scenario: Scenario, users: Users, L: np.ndarray, G: float, max_rounds: int = 60) -> tuple[np.ndarray, float]:
    """Best-improvement local search over +-1 moves (and pair moves for K <= 30), exact evaluation."""
    caps = _caps(users).astype(np.float64)
    K = users.K
    if K <= 400:
        for _ in range(max_rounds):
            nb = _neighbours(L, caps, pairs=K <= 30)
            if nb.shape[0] == 0:
                break
            Gs = goodput_batch(scenario, users, nb)
            i = int(np.argmax(Gs))
            if not Gs[i] > G * (1 + 1e-14):
                break
            L, G = nb[i].copy(), float(Gs[i])
        return L, G
    # large K: score single moves to first order, evaluate the most promising exactly
    for _ in range(min(max_rounds, 12)):
        cand = _scored_moves(scenario, users, L, caps, top=48)
        if cand.shape[0] == 0:
            break
        Gs = goodput_batch(scenario, users, cand)
        i = int(np.argmax(Gs))
        if not Gs[i] > G * (1 + 1e-14):
            break
        L, G = cand[i].copy(), float(Gs[i])
    return L, G


def _scored_moves(scenario: Scenario, users: Users, L: np.ndarray, caps: np.ndarray, top: int) -> np.ndarray:
    """The ``top`` single moves of each sign with the best first-order goodput (candidate rows).

    A move of user k changes its share at the current makespan T by dB; the makespan then
    moves by -dB / S'(T), S'(T) the slope of the total share (a finite difference).
    """
    K = users.K
    t, s = users.t, users.s
    up = s > 0
    T = float(makespan_batch(users, L[None, :])[0])

    def shares(Lv: np.ndarray, TT: float) -> np.ndarray:
        out = np.zeros(K)
        sel = up & (Lv > 0)
        slack = TT - t * Lv
        bad = sel & ~(slack > 0)
        out[bad] = np.inf
        sel = sel & (slack > 0)
        if sel.any():
            out[sel] = users.share_for_rate(s[sel] * Lv[sel] / slack[sel], np.flatnonzero(sel))
        return out

    b0 = shares(L, T)
    h = 1e-7 * T
    with np.errstate(invalid="ignore"):
        dS = (np.sum(shares(L, T + h)) - np.sum(b0)) / h  # < 0
    if not (np.isfinite(dS) and dS < 0):  # a user exactly at its drafting time: score at fixed T
        dS = -np.inf
    A0 = tokens_batch(users, L[None, :])[0]
    rows = []
    for delta in (1.0, -1.0):
        Ln = L + delta
        ok = (Ln >= 0) & (Ln <= caps)
        Lm = np.where(ok, Ln, L)
        dB = shares(Lm, T) - b0
        with np.errstate(invalid="ignore"):
            dT = np.where(np.isfinite(dB), -dB / dS, np.inf)
        Tn = np.maximum(T + dT, np.where(up, 0.0, t * Lm))
        N = np.sum(A0) + tokens_batch(users, Lm[None, :])[0] - A0
        if scenario.batching == "ragged":
            n = np.sum(L + 1.0) + delta
        else:
            n = K * (np.maximum(np.max(L), Lm) + 1.0)
        with np.errstate(invalid="ignore"):
            Gn = N / (Tn + scenario.v0 + scenario.v1 * n + scenario.overhead)
        Gn = np.where(ok & np.isfinite(Gn), Gn, -np.inf)
        idx = np.argsort(-Gn)[:top]
        idx = idx[np.isfinite(Gn[idx])]
        M = np.repeat(L[None, :], idx.size, axis=0)
        M[np.arange(idx.size), idx] += delta
        rows.append(M)
    return np.concatenate(rows, axis=0)


def integer_search(scenario: Scenario, users: Users, relaxation, extra=None) -> tuple[np.ndarray, float, str]:
    """The integer draft lengths: exact enumeration when small, else candidates + local search.

    Candidates: the continuous optimum rounded down and to nearest, every common length
    (the homogeneous regime's feasible set), ``extra`` vectors (e.g. the equal-band optimum),
    and greedy knapsack solutions at deadlines 0.85..1.15 times the continuous one (and at
    common caps around the continuous one for padded batching); the best is improved by
    :func:`local_search`. Returns (L, G, method) with method 'enumeration' or
    'rounding+local-search'.
    """
    if n_vectors(users) <= ENUM_LIMIT:
        L, G = enumerate_best(scenario, users)
        return L, G, "enumeration"
    caps = _caps(users).astype(np.float64)
    Lc = np.minimum(relaxation.L, caps)
    cands = [np.floor(Lc + 1e-9), np.round(Lc)]
    # every common length (so the result is never below the homogeneous regime's H1-H4 optimum)
    cands += [np.minimum(caps, ell) for ell in range(users.max_draft + 1)]
    if extra is not None:
        cands += [np.asarray(e, dtype=np.float64) for e in extra]
    tau = relaxation.tau
    mu = np.full(users.K, (relaxation.ratio or 0.0) * scenario.v1 if scenario.batching == "ragged" else 0.0)
    cap_sets = [caps]
    if relaxation.cap is not None:  # padded: common caps around the continuous one
        m = relaxation.cap
        for mm in {int(np.floor(m)), int(np.ceil(m)), int(np.floor(m)) - 1, int(np.ceil(m)) + 1}:
            if 0 <= mm <= users.max_draft:
                cap_sets.append(np.minimum(caps, mm))
    if tau > 0:
        for f in (0.85, 0.93, 1.0, 1.07, 1.15):
            for cs in cap_sets:
                cands.append(mckp_greedy(users, tau * f, cs.astype(np.int64), mu))
    M = np.unique(np.array(cands), axis=0)
    Gs = goodput_batch(scenario, users, M)
    i = int(np.argmax(Gs))
    L, G = M[i].copy(), float(Gs[i])
    L, G = local_search(scenario, users, L, G)
    return L, G, "rounding+local-search"
