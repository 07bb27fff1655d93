r"""The ``equal-heterogeneous`` ablation: equal band shares, best per-user draft lengths (docs/model.md sec. 3).

With beta_k = 1/K fixed, h_k = t_k + s_k / r_k(1/K) is fixed and

.. math::

    \max_{L \in \{0..L_{max}\}^K}\ \frac{\sum_k A_k(L_k)}{\max_k L_k h_k + T_v(n(L)) + T_o}.

Exact algorithm. Write tau = max_k L_k h_k. At a fixed tau user k may take any
L_k <= floor(tau / h_k); the round time only grows with tau, so an optimum sits at a
breakpoint tau = j h_k. Dinkelbach on the ratio g (D6): for a given g, maximise
sum_k (A_k(L_k) - g v1 L_k) - g tau over the breakpoints, where user k takes the increments
j <= tau / h_k whose gain A_k(j) - A_k(j-1) - g v1 is positive (a prefix: A is concave), by
one sort of the breakpoints and a cumulative sum; then g <- G of the maximiser, until g no
longer increases (finitely many vectors: Dinkelbach stops at the optimum). Padded batching
(n = K (max L + 1)): the same sweep for each common cap m with the batch term v1 K (m + 1)
fixed, skipping every m whose bound sum_k A_k(min(ell_k, m)) / (c + v1 K m) cannot beat the
best found. Only lengths up to the effective caps ell_k (:meth:`.users.Users.useful_caps`, here
with the fixed per-token times h_k) are swept, so the work does not grow with max_draft. The
result is exact, so its certificate is the goodput itself (``upper_bound`` = ``goodput``,
gap 0).
"""

from __future__ import annotations

import numpy as np

from ..latency import goodput, per_token_latency, round_time
from ..scenario import Scenario
from ..solution import Solution
from .users import Users

__all__ = ["equal_heterogeneous"]


def _events(u: Users, h: np.ndarray, caps: np.ndarray, mu: float):
    """(user, length j, breakpoint j h_k, gain A(j) - A(j-1) - mu) for every worthwhile increment."""
    n = caps.astype(np.int64)
    kk = np.repeat(np.arange(u.K), n)
    starts = np.cumsum(n) - n
    jj = np.arange(kk.size) - np.repeat(starts, n) + 1
    jf = jj.astype(np.float64)
    gain = u.tokens_int(jf, kk) - u.tokens_int(jf - 1.0, kk) - mu
    ok = gain > 0  # a prefix per user (A concave)
    return kk[ok], jj[ok], jf[ok] * h[kk[ok]], gain[ok]


def _sweep(u: Users, h: np.ndarray, caps: np.ndarray, mu: float, g: float) -> np.ndarray:
    """argmax over breakpoints tau of sum_k (A_k(L_k) - mu L_k) - g tau; returns L."""
    kk, _, tau_ev, gain = _events(u, h, caps, mu)
    L = np.zeros(u.K)
    if tau_ev.size == 0:
        return L
    order = np.argsort(tau_ev, kind="stable")
    kk, tau_ev, gain = kk[order], tau_ev[order], gain[order]
    csum = np.cumsum(gain)
    last = np.r_[tau_ev[1:] != tau_ev[:-1], True]  # all events sharing a breakpoint together
    vals = csum[last] - g * tau_ev[last]
    i = int(np.argmax(vals))
    if vals[i] > 0.0:
        best = int(np.flatnonzero(last)[i])
        np.add.at(L, kk[: best + 1], 1.0)
    return L


def equal_heterogeneous(scenario: Scenario) -> Solution:
    r"""Best per-user integer draft lengths with the band split equally (``equal-heterogeneous``).

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    Solution
        ``name`` 'equal-heterogeneous', ``bandwidth`` 1/K each, integer ``draft_lengths`` in
        [0, max_draft]; exact (module docstring), so ``upper_bound`` = ``goodput`` and
        ``gap`` = 0; ``method`` 'breakpoint-sweep'; ``multipliers``: ``tau`` (the drafting
        makespan) and ``dinkelbach_ratio``.

    Raises
    ------
    ValueError
        ``scenario`` is not a :class:`~numerics.scenario.Scenario`, or v0 + overhead + v1 = 0
        (the goodput would be unbounded).

    Examples
    --------
    >>> s = Scenario(alpha=[0.8, 0.5], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.05)
    >>> sol = equal_heterogeneous(s)
    >>> sol.bandwidth.tolist(), sol.gap
    ([0.5, 0.5], 0.0)
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    K = scenario.n_users
    v0, v1, To = scenario.v0, scenario.v1, scenario.overhead
    if v0 + To + v1 == 0:
        raise ValueError("v0 + overhead + v1 must be > 0, got 0 (the goodput would be unbounded)")
    u = Users(scenario, "chord")
    beta = np.full(K, 1.0 / K)
    h = per_token_latency(scenario, beta)
    c = v0 + v1 * K + To
    ragged = scenario.batching == "ragged"

    def value(L):
        T = float(np.max(L * h))
        n = np.sum(L + 1.0) if ragged else K * (np.max(L) + 1.0)
        return float(np.sum(u.tokens_int(L))) / (T + v0 + v1 * n + To)

    # effective caps: no length beyond them reaches the goodput of L = 0 or of the best common L
    best = (value(np.zeros(K)), np.zeros(K), 0.0)
    for ell in {1, min(4, scenario.max_draft)}:
        Lc = np.minimum(u.cap, float(ell))
        G = value(Lc)
        if G > best[0]:
            best = (G, Lc, 0.0)
    if u.kind == "table":
        Nmax = float(np.sum(u.tokens_int(u.cap)))
    else:
        Nmax = float(np.sum(np.where(np.isfinite(u.a), u.inv_oma, 1.0)))
    per = h + (v1 if ragged else v1 * K)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lim = np.where(per > 0, np.floor(max(Nmax / best[0] - c, 0.0) / np.where(per > 0, per, 1.0) * (1 + 1e-9)) + 1.0,
                       np.inf)
    caps = np.minimum(u.cap, lim)
    if ragged or v1 == 0:
        g = best[0]
        for _ in range(200):
            L = _sweep(u, h, caps, g * v1, g)
            G = value(L)
            if G > best[0]:
                best = (G, L, g)
            if not G > g * (1 + 1e-15):
                break
            g = G
    else:  # padded, v1 > 0: the batch term is fixed by the common cap m
        for m in range(int(np.max(caps)) + 1 if caps.size else 1):
            caps_m = np.minimum(caps, m)
            cm = c + v1 * K * m
            if float(np.sum(u.tokens_int(caps_m))) / cm <= best[0]:
                continue
            g = best[0]
            for _ in range(200):
                L = _sweep(u, h, caps_m, 0.0, g)
                G = value(L)
                if G > best[0]:
                    best = (G, L, g)
                Gm = float(np.sum(u.tokens_int(L))) / (float(np.max(L * h)) + cm)
                if not Gm > g * (1 + 1e-15):
                    break
                g = Gm
    _, L, g = best
    L_int = L.astype(np.int64)
    G = goodput(scenario, L_int, beta)
    T = round_time(scenario, L_int, beta)
    return Solution(name="equal-heterogeneous", draft_lengths=L_int, bandwidth=beta, goodput=G, round_time=T,
                    upper_bound=G, gap=0.0, method="breakpoint-sweep",
                    multipliers={"tau": float(np.max(L_int * h)), "dinkelbach_ratio": float(g),
                                 "method": "breakpoint-sweep"})
