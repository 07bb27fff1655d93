r"""Integer draft lengths (docs/model.md D7): exact enumeration, or candidates and a certified local search.

For a fixed integer vector L the best shares equalise the finishing times of the uploading
users (D7: the H2 argument with per-user L_k), so the goodput of L is

.. math::

    G(L) = \frac{\sum_k A_k(L_k)}{T(L) + v_0 + v_1 n(L) + T_o},\qquad
    \sum_{k:\, s_k L_k > 0} b_k(L_k, T) = 1,

T(L) also at least the drafting time t_k L_k of the users without upload
(:func:`numerics.allocation.finish_times`, many vectors at once: :meth:`Search.goodput`).

Search (:func:`integer_search`):

- ``'enumeration'``: every vector when prod_k (ell_k + 1) <= :data:`ENUM_LIMIT` (ell_k the
  effective caps of :meth:`.users.Users.useful_caps`; 3 users with 41 lengths are 68,921 vectors).
- ``'local-search'`` otherwise. Candidates (:func:`rounding_candidates` and more): the
  relaxation's lengths rounded down, up, to nearest, at every threshold of their fractional
  parts, and scaled by 0.9..1.1 then to nearest; the Lagrangian rounding (each user's best integer length at the
  relaxation's deadline and band price); a greedy fill of the band left by rounding down
  (increments by tokens per unit of band, as in a knapsack); the homogeneous optimum and
  drafting nothing. The best few (:data:`_SEEDS_DENSE`, :data:`_SEEDS_SCREEN`) are each
  improved, the best result kept, by moves of one user (+-1), of two users (one +1, one -1) and
  uniform shifts (:func:`uniform_shifts`: every user, or every drafting user, +-1 at once; G is
  not concave along single coordinates, the round time being shared, so one starting point and
  single moves can stall) until none improves: for small systems every move is evaluated
  exactly; for large ones every +-1 and pair move is first bounded and only the moves whose bound
  does not rule them out are evaluated exactly (:func:`.screen.screened_search`), the shifts
  exactly, so the answer is provably locally optimal. The answer never depends on max_draft
  beyond the effective caps.
"""

from __future__ import annotations

import numpy as np

from ..allocation import finish_times
from .users import Users

__all__ = ["ENUM_LIMIT", "Search", "integer_search"]

#: exact enumeration up to this many draft-length vectors
ENUM_LIMIT = 70_000
#: exact evaluation of every +-1 and pair move up to this many users with a positive cap
_DENSE_K = 48
_EPS = float(np.finfo(np.float64).eps)


class Search:
    """Goodput of integer length vectors (rows), with the scenario's constants."""

    def __init__(self, users: Users, caps: np.ndarray, v0: float, v1: float, overhead: float, batching: str):
        self.u = users
        self.caps = caps
        self.v0, self.v1, self.To, self.batching = v0, v1, overhead, batching
        self.K = users.K
        self.up = users.s > 0
        self.passes = 0
        self.evaluated = 0

    def tokens(self, Lmat: np.ndarray) -> np.ndarray:
        return self.u.tokens_int(Lmat)

    def makespan(self, Lmat: np.ndarray) -> np.ndarray:
        """max(equal-finish time of the uploading users, drafting time of the others) per row."""
        Lmat = np.atleast_2d(Lmat)
        u = self.u
        c = Lmat * u.t
        d = np.where(self.up, Lmat * u.s, 0.0)
        T, p = finish_times(u.model, c, d, u.B, u.ch)
        self.passes += p
        free = np.max(np.where(self.up | (Lmat == 0), 0.0, c), axis=1)
        return np.maximum(T, free)

    def batch(self, Lmat: np.ndarray) -> np.ndarray:
        Lmat = np.atleast_2d(Lmat)
        if self.batching == "ragged":
            return np.sum(Lmat + 1.0, axis=1)
        return self.K * (np.max(Lmat, axis=1) + 1.0)

    def goodput(self, Lmat: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
        Lmat = np.atleast_2d(np.asarray(Lmat, dtype=np.float64))
        rows = max(1, chunk // max(1, self.K))
        out = np.empty(Lmat.shape[0])
        for s in range(0, Lmat.shape[0], rows):
            M = Lmat[s:s + rows]
            N = np.sum(self.tokens(M), axis=1)
            D = self.makespan(M) + self.v0 + self.v1 * self.batch(M) + self.To
            out[s:s + rows] = N / D
            self.evaluated += M.shape[0]
        return out


# ------------------------------------------------------------------------------ enumeration
def n_vectors(caps: np.ndarray, limit: int = ENUM_LIMIT) -> int:
    """prod_k (ell_k + 1), stopping once above 10 * limit."""
    out = 1
    for c in caps[caps > 0]:
        out *= int(c) + 1
        if out > 10 * limit:
            break
    return out


def enumerate_best(sr: Search) -> tuple[np.ndarray, float]:
    """Every vector with 0 <= L_k <= ell_k; the first maximiser in lexicographic order."""
    caps = sr.caps.astype(np.int64)
    var = np.flatnonzero(caps > 0)
    sizes = caps[var] + 1
    total = int(np.prod(sizes)) if var.size else 1
    best_G, best_L = -np.inf, np.zeros(sr.K)
    chunk = max(1, 400_000 // max(1, var.size))
    for start in range(0, total, chunk):
        flat = np.arange(start, min(start + chunk, total))
        Lmat = np.zeros((flat.size, sr.K))
        if var.size:
            Lmat[:, var] = np.array(np.unravel_index(flat, sizes)).T
        G = sr.goodput(Lmat)
        i = int(np.argmax(G))
        if G[i] > best_G:
            best_G, best_L = float(G[i]), Lmat[i].copy()
    return best_L, best_G


# ------------------------------------------------------------------------------ candidates
def _shares_at(u: Users, L: np.ndarray, T: float) -> np.ndarray:
    """b_k(L_k, T) for the uploading users (0 at L = 0 or s = 0; inf where T <= t L)."""
    out = np.zeros(u.K)
    sel = np.flatnonzero((u.s > 0) & (L > 0))
    if sel.size:
        with np.errstate(invalid="ignore", divide="ignore"):
            b = u.share_terms(L[sel], T, sel, order=1)["b"]
        out[sel] = np.where(np.isfinite(b) & (b >= 0) & (T > u.t[sel] * L[sel]), b, np.inf)
    return out


def greedy_fill(sr: Search, L0: np.ndarray, T: float, mu: float) -> np.ndarray:
    """From L0 (sum of shares at deadline T below 1), add +1 increments by value per unit of band
    (A gain - mu over share increase) while the band lasts: the knapsack greedy at deadline T."""
    u = sr.u
    L = L0.copy()
    for _ in range(3):
        b0 = _shares_at(u, L, T)
        left = 1.0 - float(np.sum(b0[np.isfinite(b0)]))
        if not np.all(np.isfinite(b0)) or left <= 0:
            break
        cand = np.flatnonzero(L < sr.caps)
        if cand.size == 0:
            break
        Ln = L.copy()
        Ln[cand] += 1.0
        b1 = _shares_at(u, Ln, T)[cand]
        gain = u.tokens_int(Ln[cand], cand) - u.tokens_int(L[cand], cand) - mu
        cost = b1 - b0[cand]
        ok = np.isfinite(cost) & (gain > 0) & ((u.t[cand] * Ln[cand] <= T) | (u.s[cand] > 0))
        free_ok = ok & (cost <= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            eff = np.where(cost > 0, gain / cost, np.inf)
        o = np.argsort(-np.where(ok, eff, -np.inf), kind="stable")
        o = o[ok[o]]
        fits = np.cumsum(np.where(free_ok[o], 0.0, cost[o])) <= left
        add = cand[o[fits]]
        if add.size == 0:
            break
        L[add] += 1.0
    return L


def lagrangian_rounding(sr: Search, L_rel: np.ndarray, tau: float, lam: float, mu: float) -> np.ndarray:
    """Each user's better integer neighbour of its relaxed length at the relaxation's prices."""
    u = sr.u
    lo = np.floor(L_rel + 1e-9)
    hi = np.minimum(lo + 1.0, sr.caps)

    def value(Lv):
        b = _shares_at(u, Lv, tau)
        with np.errstate(invalid="ignore"):
            return u.tokens_int(Lv) - mu * Lv - lam * b

    return np.where(value(hi) > value(lo), hi, lo)


# ------------------------------------------------------------------------------ local search
#: seeds improved by a whole local search each (the best candidates by goodput), dense / screened
_SEEDS_DENSE = 4
_SEEDS_SCREEN = 2


def _moves_single(L: np.ndarray, caps: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Every +-1 move of the users ``var``."""
    rows = []
    for k in var:
        if L[k] < caps[k]:
            r = L.copy()
            r[k] += 1
            rows.append(r)
        if L[k] > 0:
            r = L.copy()
            r[k] -= 1
            rows.append(r)
    return np.array(rows) if rows else np.zeros((0, L.size))


def _moves_pair(L: np.ndarray, caps: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Every pair move (i +1, j -1) of the users ``var``."""
    ups = [k for k in var if L[k] < caps[k]]
    dns = [k for k in var if L[k] > 0]
    if not (ups and dns):
        return np.zeros((0, L.size))
    i, j = np.meshgrid(ups, dns, indexing="ij")
    i, j = i.ravel(), j.ravel()
    keep = i != j
    i, j = i[keep], j[keep]
    P = np.repeat(L[None, :], i.size, axis=0)
    P[np.arange(i.size), i] += 1
    P[np.arange(i.size), j] -= 1
    return P


def uniform_shifts(L: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """The uniform shifts of L: +1 to every user below its cap, +1 to every drafting user below its
    cap, -1 to every drafting user (distinct rows, L itself excluded).

    The round time is shared, so G is not concave along single coordinates: lengthening every
    draft at once can pay where no single or pair move does (the shared makespan and fixed costs
    are spread over more tokens)."""
    var = caps > 0
    rows = [L + (var & (L < caps)), L + (var & (L > 0) & (L < caps)), L - (L > 0)]
    M = np.unique(np.array(rows, dtype=np.float64), axis=0)
    return M[np.any(M != L, axis=1)]


def _dense_search(sr: Search, L: np.ndarray, G: float, max_rounds: int) -> tuple[np.ndarray, float, bool]:
    """Every move evaluated exactly: each round the best of the O(K) cheap moves (+-1, uniform
    shifts) if it improves, else the best of the O(K^2) pair moves; certified when none improves."""
    var = np.flatnonzero(sr.caps > 0)
    for _ in range(max_rounds):
        moved = False
        for moves in (_moves_single, _moves_pair):
            M = moves(L, sr.caps, var)
            if moves is _moves_single:
                M = np.concatenate([M, uniform_shifts(L, sr.caps)])
            if M.shape[0] == 0:
                continue
            Gs = sr.goodput(M)
            i = int(np.argmax(Gs))
            if Gs[i] > G:
                L, G, moved = M[i].copy(), float(Gs[i]), True
                break
        if not moved:
            return L, G, True
    return L, G, False


def local_search(sr: Search, L: np.ndarray, G: float, max_rounds: int = 10_000) -> tuple[np.ndarray, float, bool]:
    """Local search over +-1 moves, pair moves and uniform shifts (:func:`uniform_shifts`):
    (L, G, certified), certified when no move of the three kinds improves G.

    Small systems (at most :data:`_DENSE_K` users with a positive cap) evaluate every move exactly
    (:func:`_dense_search`). Large ones search the +-1 and pair moves to a local optimum with
    certified screening (:func:`.screen.screened_search`), then evaluate the uniform shifts
    exactly; an improving shift restarts the screened search from there."""
    if np.count_nonzero(sr.caps > 0) <= _DENSE_K:
        return _dense_search(sr, L, G, max_rounds)
    from .screen import screened_search

    for _ in range(max_rounds):
        L, G, certified = screened_search(sr, L, G, max_rounds)
        S = uniform_shifts(L, sr.caps)
        if S.shape[0] == 0:
            return L, G, certified
        Gs = sr.goodput(S)
        i = int(np.argmax(Gs))
        if not Gs[i] > G * (1.0 + 4 * _EPS):
            return L, G, certified
        L, G = S[i].copy(), float(Gs[i])
    return L, G, False


#: threshold roundings tried at most (quantiles of the fractional parts beyond this many)
_THRESHOLDS = 64


def rounding_candidates(Lr: np.ndarray, caps: np.ndarray) -> list[np.ndarray]:
    """Integer vectors near the relaxed lengths Lr: the threshold roundings (every user whose
    fractional part is at least f rounded up, the others down), f over the distinct fractional
    parts (at most :data:`_THRESHOLDS` of them, quantiles beyond), 0 (ceiling) and above 1
    (floor); and the nearest rounding of Lr scaled by 0.9, 0.95, 1.05 and 1.1 (all clipped to
    [0, caps])."""
    fl = np.floor(Lr + 1e-9)
    frac = np.clip(Lr - fl, 0.0, 1.0)
    f = np.unique(frac[frac > 1e-9])
    if f.size > _THRESHOLDS:
        f = np.unique(np.quantile(f, np.linspace(0.0, 1.0, _THRESHOLDS)))
    out = [fl, np.ceil(Lr - 1e-9), np.round(Lr)]
    out += [fl + (frac >= x) for x in f]
    out += [np.round(Lr * sc) for sc in (0.9, 0.95, 1.05, 1.1)]
    return [np.clip(c, 0.0, caps) for c in out]


def integer_search(sr: Search, relaxation, extra=()) -> tuple[np.ndarray, float, str, bool]:
    """The integer draft lengths (module docstring): (L, G, method, locally-optimal flag)."""
    if n_vectors(sr.caps) <= ENUM_LIMIT:
        L, G = enumerate_best(sr)
        return L, G, "enumeration", True
    caps = sr.caps
    Lr = np.clip(relaxation.L, 0.0, caps)
    mu = (relaxation.ratio or 0.0) * sr.v1 if sr.batching == "ragged" else 0.0
    cands = [*rounding_candidates(Lr, caps), np.zeros(sr.K)]
    if relaxation.tau > 0:
        lag = lagrangian_rounding(sr, Lr, relaxation.tau, relaxation.lam, mu)
        cands.append(lag)
        fl = np.floor(Lr + 1e-9)
        for f in (1.0, 1.01, 0.99):
            cands.append(greedy_fill(sr, fl, relaxation.tau * f, mu))

    cands += [np.minimum(np.asarray(e, dtype=np.float64), caps) for e in extra]
    M = np.unique(np.array(cands), axis=0)
    Gs = sr.goodput(M)
    # several seeds, each searched to a local optimum: the neighbourhood is not exact (G is not
    # concave in L), so the best candidate need not lead to the best local optimum
    n_seeds = _SEEDS_DENSE if np.count_nonzero(caps > 0) <= _DENSE_K else _SEEDS_SCREEN
    best = None
    for i in np.argsort(-Gs, kind="stable")[:n_seeds]:
        L, G, certified = local_search(sr, M[i].copy(), float(Gs[i]))
        if best is None or G > best[1]:
            best = (L, G, certified)
    assert best is not None  # n_seeds >= 1 and there is at least one candidate (L = 0)
    L, G, certified = best
    return L, G, "local-search", certified
