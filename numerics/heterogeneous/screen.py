r"""Certified local search for large systems: every +-1 and pair move bounded, few evaluated (D7).

At an integer vector L with uploading makespan T0 (sum_k b_k(L_k, T0) = 1 over the uploading
users, S(T) = sum_k b_k(L_k, T) convex and decreasing, slope -sigma at T0) a move changes one
or two users' shares by delta_i(T) = b_i(L_i + 1, T) - b_i(L_i, T) >= 0 (decreasing in T) and
eps_j(T) = b_j(L_j - 1, T) - b_j(L_j, T) <= 0 (increasing). The new makespan T' solves
S(T') + delta_i(T') + eps_j(T') = 1, and since S lies above its tangent at T0,

.. math:: T' \ge T_0 + \frac{\delta_i(T^{hi}_i)}{\sigma} + \frac{\epsilon_j(T^{lo}_j)}{\sigma}
          = T_0 + u_i + w_j,

where T^hi_i >= T' and T^lo_j <= T' come from exact sums of S at probe deadlines
T0 (1 +- e) (the first probe at which the move alone would fit, resp. overfill, the band).
The goodput of the move is then at most (N + a_i - d_j) / (D + u_i + w_j + v1 dn), a bound
separable in i and j: all K^2 pair moves are ruled out at once when max_i U_i + max_{j != i} W_j
<= 0 (:func:`_scores`). The moves it does not rule out are bracketed between the probes (S
between its tangents and its chord, the movers' shares monotone) and only those still
undecided are evaluated exactly. Users without upload enter through the drafting-time part of
the makespan (exact lower bounds). The search stops when no move can improve G by more than
a relative 4 eps: the answer is then locally optimal for every +-1 and pair move.
"""

from __future__ import annotations

import numpy as np

from ..allocation import finish_times

__all__ = ["screened_search"]

_EPS = float(np.finfo(np.float64).eps)
_OFFSETS = np.array([1e-10, 1e-7, 1e-5, 1e-3, 1e-2, 0.1, 0.5])
#: exact evaluations per round (rows of K users)
_BATCH = 16
#: undecided candidates considered per round at most
_MAX_CAND = 200_000
#: exact evaluations of undecided moves per round at most (each one a makespan root over K users):
#: this many, or as many as make this many user-evaluations
_EXACT = 256
_EXACT_BUDGET = 4_000_000
#: rounds at most: this many users-rounds (2 rounds at least; e.g. 2 at K = 10^5, 40 at K = 10^4)
_ROUND_BUDGET = 400_000


class _State:
    """Everything the bounds need at one vector L."""

    def __init__(self, sr, L: np.ndarray):
        u = sr.u
        self.L = L
        K = sr.K
        up = sr.up & (L > 0)
        self.upl = up
        idx = np.flatnonzero(up)
        if idx.size:
            T, p = finish_times(u.model, (L * u.t)[None, idx], (L * u.s)[None, idx], u.B, u.ch[idx])
            sr.passes += p
            self.T0 = float(T[0])
        else:
            self.T0 = 0.0
        freec = np.where(~sr.up, L * u.t, 0.0)
        o = np.argsort(-freec)[:2]
        self.free1 = float(freec[o[0]]) if K else 0.0
        self.free2 = float(freec[o[1]]) if K > 1 else 0.0
        self.free_arg = int(o[0]) if K else -1
        self.Tm = max(self.T0, self.free1)
        self.N = float(np.sum(u.tokens_int(L)))
        self.n = float(sr.batch(L[None, :])[0])
        self.D = self.Tm + sr.v0 + sr.v1 * self.n + sr.To
        self.G = self.N / self.D
        # probes: T0 (1 + e), e < 0 and e > 0, sorted; exact S and S' there
        T0 = self.T0
        off = np.concatenate([-_OFFSETS[::-1], [0.0], _OFFSETS])
        self.P = T0 * (1.0 + off)
        nP = self.P.size
        self.S = np.zeros(nP)
        self.dS = np.zeros(nP)
        self.up_idx = np.flatnonzero(sr.up)
        ui = self.up_idx
        self.delta = np.zeros((nP, K))   # b(L + 1) - b(L) at each probe
        self.eps = np.zeros((nP, K))     # b(L - 1) - b(L) at each probe
        if idx.size and T0 > 0:
            for p, T in enumerate(self.P):
                b0, bt = self._b(sr, L[ui], T, ui)
                self.S[p] = float(np.sum(b0))
                self.dS[p] = float(np.sum(bt))
                b1, _ = self._b(sr, np.minimum(L[ui] + 1.0, sr.caps[ui]), T, ui)
                bm, _ = self._b(sr, np.maximum(L[ui] - 1.0, 0.0), T, ui)
                with np.errstate(invalid="ignore"):
                    self.delta[p, ui] = np.where(L[ui] < sr.caps[ui], b1 - b0, 0.0)
                    self.eps[p, ui] = np.where(L[ui] > 0, bm - b0, 0.0)
                sr.passes += 3
            self.S[off == 0.0] = 1.0  # the root, by construction (rounding of the sum aside)
        self.sigma = -float(self.dS[off == 0.0][0]) if idx.size else 0.0
        self.delta = np.where(np.isnan(self.delta), np.inf, self.delta)
        self.eps = np.where(np.isnan(self.eps), -np.inf, self.eps)

    @staticmethod
    def _b(sr, L, T, idx):
        """Shares b(L, T) and db/dT (0 at L = 0; inf where the deadline cannot be met)."""
        u = sr.u
        st = u.share_terms(L, T, idx, order=1)
        ok = (L > 0) & (T > u.t[idx] * L)
        b = np.where(L > 0, np.where(ok, st["b"], np.inf), 0.0)
        bt = np.where(ok, st["btau"], 0.0)
        return np.where(np.isnan(b), np.inf, b), np.where(np.isfinite(bt), bt, 0.0)


def _scores(sr, st: _State):
    """Per-user bounds: U_i for +1, W_j for -1 (module docstring); moves unavailable get -inf."""
    u = sr.u
    L = st.L
    K = sr.K
    caps = sr.caps
    G, Tm, T0 = st.G, st.Tm, st.T0
    a = np.where(L < caps, u.tokens_int(np.minimum(L + 1.0, caps)) - u.tokens_int(L), -np.inf)
    d = np.where(L > 0, u.tokens_int(L) - u.tokens_int(np.maximum(L - 1.0, 0.0)), np.inf)
    u_ = np.zeros(K)
    w_ = np.zeros(K)
    ui = st.up_idx
    if ui.size:
        # T^hi: first probe >= T0 where the +1 alone fits; T^lo: last probe <= T0 where -1 alone overfills
        P0 = int(np.flatnonzero(st.P == T0)[0]) if T0 > 0 else 0
        if st.sigma > 0:
            # (inf - inf at a probe below some user's drafting time compares False: no claim)
            with np.errstate(invalid="ignore"):
                fits = (st.S[P0:, None] + st.delta[P0:, ui]) <= 1.0
                over = (st.S[:P0 + 1, None] + st.eps[:P0 + 1, ui]) >= 1.0
            has = fits.any(axis=0)
            first = np.argmax(fits, axis=0)
            hasl = over.any(axis=0)
            last = P0 - np.argmax(over[::-1], axis=0)
            # refine both per user (second-order tight): below the chord of the convex S between
            # T0 and the probe Tp, a +1 move's T' <= T0 + delta(T0) (Tp - T0) / (1 - S(Tp)); above
            # the tangent at T0, a -1 move's T' >= T0 + eps(T_lo) / sigma, T_lo its probe bound
            Tp, Sp = st.P[P0 + first], st.S[P0 + first]
            with np.errstate(divide="ignore", invalid="ignore"):
                T_hi = np.where(has, np.minimum(Tp, T0 + st.delta[P0, ui] * (Tp - T0) / (1.0 - Sp)), np.inf)
                T_lo = np.where(hasl, np.maximum(st.P[last], T0 + st.eps[last, ui] / st.sigma), -np.inf)
            Lu = L[ui]
            dhi = np.zeros(ui.size)
            k = np.flatnonzero(has & (Lu < caps[ui]))
            if k.size:
                b1, _ = _State._b(sr, Lu[k] + 1.0, T_hi[k], ui[k])
                b0, _ = _State._b(sr, Lu[k], T_hi[k], ui[k])
                with np.errstate(invalid="ignore"):
                    dhi[k] = np.where(np.isfinite(b1 - b0), b1 - b0, 0.0)
            elo = np.full(ui.size, -np.inf)
            k = np.flatnonzero(hasl & (Lu > 0))
            Tk = T_lo[k]
            for _ in range(3):  # the fixed point T_lo <- T0 + eps(T_lo) / sigma tightens from below
                if k.size == 0:
                    break
                bm, _ = _State._b(sr, Lu[k] - 1.0, Tk, ui[k])
                b0, _ = _State._b(sr, Lu[k], Tk, ui[k])
                with np.errstate(invalid="ignore"):
                    e = np.where(np.isfinite(bm - b0), bm - b0, -np.inf)
                elo[k] = e
                Tk = np.maximum(Tk, T0 + e / st.sigma)
                sr.passes += 2
            sr.passes += 2
            u_[ui] = np.maximum(dhi, 0.0) / st.sigma
            w_[ui] = np.where(Lu > 0, elo, 0.0) / st.sigma
        else:
            w_[ui] = np.where(L[ui] > 0, -np.inf, 0.0)
        # a +1 alone needs at least the whole band: t (L+1) + s (L+1) / r(1)
        single = (L[ui] + 1.0) * (u.t[ui] + u.s[ui] / u.full_rate(ui))
        u_[ui] = np.maximum(u_[ui], 0.0)
        u_[ui] = np.maximum(np.maximum(0.0, T0 + u_[ui] - Tm), single - Tm)
    fr = np.flatnonzero(~sr.up)
    if fr.size:
        u_[fr] = np.maximum(0.0, u.t[fr] * (L[fr] + 1.0) - Tm)
        other = np.where(fr == st.free_arg, st.free2, st.free1)
        w_[fr] = np.maximum(np.maximum(other, u.t[fr] * np.maximum(L[fr] - 1.0, 0.0)), T0) - Tm
    if sr.batching == "ragged":
        dn_up = np.ones(K)
        dn_dn = np.ones(K)
    else:
        mL = float(np.max(L))
        srt = np.sort(L)
        second = float(srt[-2]) if K > 1 else 0.0
        uniq = (L == mL) & (np.sum(L == mL) == 1)
        dn_up = K * np.maximum(0.0, L + 1.0 - mL)
        dn_dn = np.where(uniq, K * (mL - np.maximum(second, mL - 1.0)), 0.0)
    v1 = sr.v1
    with np.errstate(invalid="ignore"):
        U = np.where(L < caps, a - G * (u_ + v1 * dn_up), -np.inf)
        W = np.where(L > 0, -d - G * (w_ - v1 * dn_dn), -np.inf)
    U = np.where(np.isnan(U), np.inf, U)
    W = np.where(np.isnan(W), np.inf, W)
    R0 = G * st.D - st.N
    tol = 16 * _EPS * st.N
    return U, W, R0 + tol


def _flagged(U, W, thr):
    """Moves not ruled out by the bound: singles (i, -1), (-1, j) and pairs (i, j), i != j."""
    ci = np.flatnonzero(U > thr)
    cj = np.flatnonzero(W > thr)
    oi = np.argsort(-U)
    oj = np.argsort(-W)
    Ws = W[oj]
    pairs_i, pairs_j = [], []
    total = 0
    for i in oi:
        if U[i] == -np.inf:
            break
        need = thr - U[i]
        cnt = int(np.searchsorted(-Ws, -need, side="left"))  # W > need
        if cnt == 0:
            break
        js = oj[:cnt]
        js = js[js != i]
        pairs_i.append(np.full(js.size, i))
        pairs_j.append(js)
        total += js.size
        if total > _MAX_CAND:
            break
    pi = np.concatenate(pairs_i) if pairs_i else np.zeros(0, dtype=np.int64)
    pj = np.concatenate(pairs_j) if pairs_j else np.zeros(0, dtype=np.int64)
    mi = np.concatenate([ci, np.full(cj.size, -1), pi]).astype(np.int64)
    mj = np.concatenate([np.full(ci.size, -1), cj, pj]).astype(np.int64)
    score = np.concatenate([U[ci], W[cj], U[pi] + W[pj]])
    return mi, mj, score, total <= _MAX_CAND


def _intervals(sr, st: _State, mi, mj):
    """[G_lo, G_hi] of each move from the probes (module docstring); NaN where undecided."""
    # probes below some user's drafting time carry S = inf: inf - inf there is undecided (NaN)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _intervals_raw(sr, st, mi, mj)


def _intervals_raw(sr, st: _State, mi, mj):
    u = sr.u
    L = st.L
    C = mi.size
    ii = np.where(mi >= 0, mi, 0)
    jj = np.where(mj >= 0, mj, 0)
    dI = np.where(mi[None, :] >= 0, st.delta[:, ii], 0.0)   # (P, C)
    eJ = np.where(mj[None, :] >= 0, st.eps[:, jj], 0.0)
    with np.errstate(invalid="ignore"):
        Snew = st.S[:, None] + dI + eJ
        ge = Snew >= 1.0
    # bracket [P_a, P_b]: last probe with S_new >= 1, then the next
    has = ge.any(axis=0) & ~ge.all(axis=0)
    a_idx = np.where(has, ge.shape[0] - 1 - np.argmax(ge[::-1], axis=0), 0)
    b_idx = np.minimum(a_idx + 1, st.P.size - 1)
    Ta, Tb = st.P[a_idx], st.P[b_idx]
    Sa, Sb = st.S[a_idx], st.S[b_idx]
    ga, gb = st.dS[a_idx], st.dS[b_idx]
    cols = np.arange(C)
    d_hi = dI[a_idx, cols] + eJ[b_idx, cols]   # the movers' shares are at most this on [Ta, Tb]
    d_lo = dI[b_idx, cols] + eJ[a_idx, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        # upper envelope: chord + d_hi = 1 -> T_hi ; lower: max tangent + d_lo = 1 -> T_lo
        slope = (Sb - Sa) / (Tb - Ta)
        T_hi = Ta + (1.0 - d_hi - Sa) / slope
        t1 = Ta + (1.0 - d_lo - Sa) / ga
        t2 = Tb + (1.0 - d_lo - Sb) / gb
        T_lo = np.maximum(np.minimum(t1, t2), Ta)
        T_hi = np.minimum(np.maximum(T_hi, T_lo), Tb)
    dA = np.zeros(C)
    dA += np.where(mi >= 0, u.tokens_int(np.minimum(L[ii] + 1.0, sr.caps[ii]), ii) - u.tokens_int(L[ii], ii), 0.0)
    dA -= np.where(mj >= 0, u.tokens_int(L[jj], jj) - u.tokens_int(np.maximum(L[jj] - 1.0, 0.0), jj), 0.0)
    N2 = st.N + dA
    # free-user drafting times after the move
    fr1 = st.free1
    free_i = np.where((mi >= 0) & ~sr.up[ii], u.t[ii] * (L[ii] + 1.0), 0.0)
    jfree = (mj >= 0) & ~sr.up[jj]
    free_j = np.where(jfree & (jj == st.free_arg), np.maximum(st.free2, u.t[jj] * (L[jj] - 1.0)), fr1)
    Tf = np.maximum(free_i, np.where(jfree, free_j, fr1))
    n2 = _batch_after(sr, st, mi, mj)
    rest = sr.v0 + sr.v1 * n2 + sr.To
    moves_up = ((mi >= 0) & sr.up[ii]) | ((mj >= 0) & sr.up[jj])
    T_lo = np.where(moves_up, T_lo, st.T0)
    T_hi = np.where(moves_up, T_hi, st.T0)
    G_hi = N2 / (np.maximum(T_lo, Tf) + rest)
    G_lo = N2 / (np.maximum(T_hi, Tf) + rest)
    ok = (has | ~moves_up) & np.isfinite(G_hi) & np.isfinite(G_lo)
    return np.where(ok, G_lo, np.nan), np.where(ok, G_hi, np.nan)


def _batch_after(sr, st: _State, mi, mj):
    L = st.L
    if sr.batching == "ragged":
        return st.n + (mi >= 0) - (mj >= 0)
    K = sr.K
    mL = float(np.max(L))
    srt = np.sort(L)
    second = float(srt[-2]) if K > 1 else 0.0
    ii = np.where(mi >= 0, mi, 0)
    jj = np.where(mj >= 0, mj, 0)
    uniq_max = (L == mL) & (np.sum(L == mL) == 1)
    base = np.where((mj >= 0) & uniq_max[jj], np.maximum(second, mL - 1.0), mL)
    new = np.maximum(base, np.where(mi >= 0, L[ii] + 1.0, 0.0))
    return K * (new + 1.0)


def _apply(L, i, j):
    M = L.copy()
    if i >= 0:
        M[i] += 1.0
    if j >= 0:
        M[j] -= 1.0
    return M


def _disjoint(mi, mj, order, size):
    """The first ``size`` moves of ``order`` whose users are all distinct."""
    used: set[int] = set()
    pick = []
    for k in order:
        i, j = int(mi[k]), int(mj[k])
        if (i >= 0 and i in used) or (j >= 0 and j in used):
            continue
        pick.append(k)
        used.update(x for x in (i, j) if x >= 0)
        if len(pick) >= size:
            break
    return pick


def screened_search(sr, L: np.ndarray, G: float, max_rounds: int = 10_000):
    """Local search with certified screening (module docstring): (L, G, certified).

    Every round bounds all moves; the moves certain to improve are tried together first (a
    batch of distinct users, the best ones by their certified gain: in a large system many
    small exchanges are independent to first order), then the best single one; the batch size
    doubles while batches are accepted and halves when not. The search ends when no move can
    improve (the answer is then locally optimal whatever the batching did: certified True), or
    when its work budget is spent (max(2, 4e5 / K) rounds, max(256, 4e6 / K) exact evaluations a round:
    certified False unless every move was ruled out).
    """
    batch = 64
    K = sr.K
    # work budget: a round costs ~50 passes over the users plus its exact evaluations
    max_rounds = min(max_rounds, max(2, int(_ROUND_BUDGET / max(K, 1))))
    exact = max(_EXACT, int(_EXACT_BUDGET / max(K, 1)))
    rows_per_call = max(_BATCH, min(1024, 200_000 // max(K, 1)))
    for _ in range(max_rounds):
        st = _State(sr, L)
        G = st.G
        U, W, thr = _scores(sr, st)
        mi, mj, _, complete = _flagged(U, W, thr)
        if mi.size == 0:
            return L, G, complete
        G_lo, G_hi = _intervals(sr, st, mi, mj)
        thr_G = G * (1.0 + 4 * _EPS)
        sure = np.flatnonzero(G_lo > thr_G)
        undecided = np.flatnonzero(~(G_hi <= thr_G) & ~(G_lo > thr_G))
        moved = False
        if sure.size > 1 and batch > 1:
            pick = _disjoint(mi, mj, sure[np.argsort(-G_lo[sure])], batch)
            if len(pick) > 1:
                M = L.copy()
                for k in pick:
                    M = _apply(M, mi[k], mj[k])
                Gb = float(sr.goodput(M[None, :])[0])
                if Gb > max(thr_G, float(np.max(G_lo[sure]))):
                    L, G, moved = M, Gb, True
                    batch = min(2 * batch, 1 << 16)
                else:
                    batch = max(1, batch // 2)
        if not moved and sure.size:  # a certain improvement: the best lower bound first, then verify exactly
            order = sure[np.argsort(-G_lo[sure])][:_BATCH]
            rows = np.array([_apply(L, mi[k], mj[k]) for k in order])
            Gs = sr.goodput(rows)
            k = int(np.argmax(Gs))
            if Gs[k] > thr_G:
                L, G, moved = rows[k], float(Gs[k]), True
        if not moved and undecided.size:
            # the undecided moves by their best case, exactly, at most _EXACT of them a round
            order = undecided[np.argsort(-np.where(np.isnan(G_hi[undecided]), np.inf, G_hi[undecided]))]
            for s in range(0, min(order.size, exact), rows_per_call):
                chunk = order[s:s + rows_per_call]
                rows = np.array([_apply(L, mi[k], mj[k]) for k in chunk])
                Gs = sr.goodput(rows)
                k = int(np.argmax(Gs))
                if Gs[k] > thr_G:
                    L, G, moved = rows[k], float(Gs[k]), True
                    break
            if not moved:
                # certified only if every undecided move was evaluated (and none improved)
                return L, G, complete and order.size <= exact
        if not moved:
            return L, G, complete
    return L, G, False
