r"""The ``equal-heterogeneous`` baseline: equal band shares, best per-user draft lengths (MODEL.md sec. 3).

With beta_k = 1/K fixed, h_k = t_k + s_k / r_k(1/K) is fixed and

.. math::

    \max_{L \in \{0..L_{max}\}^K}\ \frac{\sum_k A_k(L_k)}{\max_k L_k h_k + T_v(n(L)) + T_o}.

Exact algorithm. Write tau = max_k L_k h_k. At a fixed tau user k may take any
L_k <= floor(tau / h_k); the round time only grows with tau, so an optimum sits at a
breakpoint tau = j h_k. Dinkelbach on the ratio g (D6): for a given g, maximise
sum_k (A_k(L_k) - g v1 L_k) - g tau over the breakpoints, where user k takes the increments
j <= tau / h_k whose gain A_k(j) - A_k(j-1) - g v1 is positive (a prefix: A is concave), by
one sort of the K L_max breakpoints and a cumulative sum; then g <- G of the maximiser,
until g no longer increases (finitely many vectors: Dinkelbach stops at the optimum). Padded
batching (n = K (max L + 1)): the same sweep for each common cap m = 0..L_max with the batch
term v1 K (m + 1) fixed. The result is exact, so its certificate is the goodput itself
(``upper_bound`` = ``goodput``, gap 0); ``tests/test_heterogeneous_equal.py`` checks it against
brute-force enumeration.
"""

from __future__ import annotations

import numpy as np

from .heterogeneous_integer import tokens_batch
from .heterogeneous_kkt import Users
from .latency import goodput, per_token_latency, round_time
from .scenario import Scenario
from .solution import Solution

__all__ = ["equal_heterogeneous"]


def _sweep(users: Users, h: np.ndarray, caps: np.ndarray, mu: float, g: float, base: float):
    """argmax over breakpoints of sum_k (A_k(L_k) - mu L_k) - g (tau + base); returns L."""
    K, Lmax = users.K, users.max_draft
    j = np.arange(Lmax + 1, dtype=np.float64)
    A = tokens_batch(users, np.broadcast_to(j[:, None], (Lmax + 1, K))).T
    gain = np.diff(A, axis=1) - mu
    valid = (gain > 0) & (j[None, 1:] <= caps[:, None])
    valid = np.cumprod(valid, axis=1).astype(bool)
    kk, jj = np.nonzero(valid)
    tau_ev = (jj + 1.0) * h[kk]
    order = np.argsort(tau_ev, kind="stable")
    kk, jj, tau_ev = kk[order], jj[order], tau_ev[order]
    csum = np.cumsum(gain[kk, jj])
    # value after every event, taking all events that share a breakpoint
    last = np.r_[tau_ev[1:] != tau_ev[:-1], True] if tau_ev.size else np.zeros(0, dtype=bool)
    vals = csum[last] - g * tau_ev[last]
    best_i, best_v = -1, -g * 0.0
    if vals.size:
        i = int(np.argmax(vals))
        if vals[i] > best_v:
            best_i = int(np.flatnonzero(last)[i])
    L = np.zeros(K)
    if best_i >= 0:
        np.add.at(L, kk[: best_i + 1], 1.0)
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
        ``gap`` = 0; ``multipliers``: ``tau`` (the drafting makespan) and
        ``dinkelbach_ratio``.

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
    if scenario.v0 + scenario.overhead + scenario.v1 == 0:
        raise ValueError("v0 + overhead + v1 must be > 0, got 0 (the goodput would be unbounded)")
    users = Users.from_scenario(scenario)
    beta = np.full(K, 1.0 / K)
    h = per_token_latency(scenario, beta)
    caps_all = np.where(users.active, scenario.max_draft, 0).astype(np.float64)
    c = scenario.v0 + scenario.v1 * K + scenario.overhead

    def value(L):
        T = float(np.max(L * h)) if K else 0.0
        n = np.sum(L + 1.0) if scenario.batching == "ragged" else K * (np.max(L) + 1.0)
        return float(np.sum(tokens_batch(users, L[None, :])[0])) / (T + scenario.v0 + scenario.v1 * n + scenario.overhead)

    best = (value(np.zeros(K)), np.zeros(K), 0.0)
    if scenario.batching == "ragged" or scenario.v1 == 0:
        g = best[0]
        for _ in range(200):
            L = _sweep(users, h, caps_all, g * scenario.v1, g, c)
            G = value(L)
            if G > best[0]:
                best = (G, L, g)
            if not G > g * (1 + 1e-15):
                break
            g = G
    else:  # padded, v1 > 0: the batch term is fixed by the common cap m
        for m in range(scenario.max_draft + 1):
            caps = np.minimum(caps_all, m)
            cm = c + scenario.v1 * K * m
            g = best[0]
            for _ in range(200):
                L = _sweep(users, h, caps, 0.0, g, cm)
                G = value(L)
                if G > best[0]:
                    best = (G, L, g)
                # Dinkelbach on the ratio with the fixed denominator offset cm
                Gm = float(np.sum(tokens_batch(users, L[None, :])[0])) / (float(np.max(L * h)) + cm)
                if not Gm > g * (1 + 1e-15):
                    break
                g = Gm
    _, L, g = best
    L_int = L.astype(np.int64)
    G = goodput(scenario, L_int, beta)
    T = round_time(scenario, L_int, beta)
    return Solution(name="equal-heterogeneous", draft_lengths=L_int, bandwidth=beta, goodput=G, round_time=T,
                    upper_bound=G, gap=0.0,
                    multipliers={"tau": float(np.max(L_int * h)), "dinkelbach_ratio": float(g)})
