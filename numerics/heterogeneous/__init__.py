r"""Heterogeneous draft lengths: the D1-D7 optimum of docs/model.md, with a certificate.

.. math::

    \max_{L \in \{0..L_{max}\}^K,\ \beta \in \Delta}\;
    G = \frac{\sum_k A(\alpha_k, L_k)}{\max_k L_k h_k(\beta_k) + T_v(n) + T_o},
    \qquad h_k(\beta) = t_k + s_k / r_k(\beta).

One module per step (derivations in :mod:`theory.heterogeneous`):

- :mod:`.users` per-user model: A and A' (i.i.d. smooth, chords between integers,
  position-dependent profiles), the least share b_k(L, tau) to draft L tokens by the deadline
  tau and its derivatives (D1), effective caps (no optimal point drafts beyond them).
- :mod:`.inner` the band problem at a fixed deadline: concave (D2), per-user stationarity
  with the W_0 closed form or a bracketed Newton root, the band multiplier as a monotone root
  (D3), token prices of Dinkelbach's step (D6).
- :mod:`.response` per-user responses for a piecewise-linear A and the implicit derivatives
  of the stationarity, from which F'(tau) (envelope, D5) and F''(tau).
- :mod:`.outer` the relaxation: Dinkelbach on the ratio (D6), the deadline as the root of
  F'(tau) = g from the envelope theorem (D5), both at once by a joint Newton step;
  :mod:`.padded` the common cap of padded batching with v1 > 0.
- :mod:`.certificate` a bound that holds whatever the searches found: tangents of the
  Lagrangian dual, jointly concave in (tau, L) (D5), and the trivial bound.
- :mod:`.integer` and :mod:`.screen` integer lengths (D7): for a fixed L the shares equalise
  finishing times; exact enumeration of small systems, else rounding, Lagrangian and greedy
  candidates and a local search from the best few, certified locally optimal for every +-1 and
  pair move and every uniform shift.
- :mod:`.equal` the equal-band ablation ``equal-heterogeneous`` (exact breakpoint sweep).

All roots go through :mod:`numerics.roots`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..allocation import equal_finish_allocation
from ..homogeneous import solve_homogeneous
from ..latency import goodput, round_time
from ..scenario import Scenario
from ..solution import Solution, SolverError
from .certificate import certify
from .equal import equal_heterogeneous
from .integer import ENUM_LIMIT, Search, enumerate_best, integer_search, n_vectors
from .outer import relax
from .users import Users

__all__ = ["SolverError", "equal_heterogeneous", "solve_heterogeneous"]

#: the goodput found may exceed the certified bound by round-off only (relative)
_CERT_TOL = 1e-9


def _check(scenario: Scenario) -> None:
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.v0 + scenario.overhead + scenario.v1 == 0:
        raise ValueError("v0 + overhead + v1 must be > 0, got 0 (the goodput would be unbounded)")


def _relaxed_point(scenario: Scenario, L: np.ndarray, beta):
    """(L, beta, G, T) at the relaxation's own shares (every user finishing at its deadline, the
    band filled to round-off; scaled to sum to at most 1); the equal-finish shares if unusable."""
    if beta is not None and np.all(np.isfinite(beta)):
        b = np.where(L > 0, beta, 0.0)
        b = b / max(1.0, float(np.sum(b)))
        if not np.any((b == 0) & (L > 0) & (scenario.bits_per_token > 0)):
            return L, b, goodput(scenario, L, b, continuous=True), round_time(scenario, L, b, continuous=True)
    return _point(scenario, L, True)


def _point(scenario: Scenario, L: np.ndarray, continuous: bool):
    """(L, beta, G, T) at the equal-finish shares of L (the best shares for fixed lengths, D7)."""
    beta, _ = equal_finish_allocation(scenario, L)
    return L, beta, goodput(scenario, L, beta, continuous=continuous), round_time(scenario, L, beta, continuous)


def solve_heterogeneous(scenario: Scenario, integer: bool = True) -> Solution:
    r"""The heterogeneous optimum (docs/model.md D1-D7): per-user draft lengths and band shares.

    Parameters
    ----------
    scenario : Scenario
        Any valid scenario: both rate models, both batching modes, v1 >= 0, users with
        s_k = 0 or t_k = 0, position-dependent acceptance profiles (zeros included).
    integer : bool
        True (default): integer draft lengths in [0, max_draft]. False: the continuous
        relaxation (real lengths; A is the closed form for i.i.d. acceptance and is
        interpolated linearly between integers for a profile, as in
        :func:`numerics.tokens.expected_tokens_positional`).

    Returns
    -------
    Solution
        ``name`` 'heterogeneous'; ``draft_lengths``; ``bandwidth``: the equal-finish shares of
        those lengths (sum to 1 when a user uploads, never above); ``goodput`` and
        ``round_time`` of that point (:func:`numerics.latency.goodput`; for ``integer=False``
        the shares are the relaxation's own, every user finishing at the drafting deadline);
        ``upper_bound``: a
        certified bound on the optimum of the problem solved (the goodput itself when the
        method is exact); ``gap`` = (upper_bound - goodput) / upper_bound; ``method``:
        'enumeration' (exact), 'local-search' (locally optimal for every +-1 and pair move and
        every uniform shift of all or all drafting users,
        see ``multipliers['locally_optimal']``) or 'continuous'. ``multipliers``: ``tau`` (the
        drafting deadline: of the continuous optimum, or the makespan of an enumerated one);
        unless enumerated, ``lambda`` (band multiplier of the continuous optimum),
        ``continuous_goodput`` and ``relaxation_bound`` (its value and certified bound),
        ``dinkelbach_ratio`` (ragged, v1 > 0), ``padded_cap``
        (padded, v1 > 0), ``method``, ``effective_cap`` (the largest per-user cap searched),
        ``passes`` and ``evaluations`` (work done by the relaxation), ``locally_optimal``.

    Raises
    ------
    ValueError
        ``scenario`` is not a Scenario; ``integer`` is not a bool; v0 + overhead + v1 = 0
        (the goodput would be unbounded: rounds of vanishing length).
    SolverError
        A solver step failed (a defect: never expected for a valid scenario).

    Examples
    --------
    >>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.002, bits_per_token=100, bandwidth_hz=1e5,
    ...              spectral_efficiency=[2.0, 1.0], v0=0.03, max_draft=8)
    >>> sol = solve_heterogeneous(s)
    >>> sol.draft_lengths.tolist(), sol.method, sol.gap
    ([5, 3], 'enumeration', 0.0)
    """
    _check(scenario)
    if not isinstance(integer, (bool, np.bool_)):
        raise ValueError(f"integer must be a bool, got {integer!r}")
    K = scenario.n_users
    v0, v1, To, batching = scenario.v0, scenario.v1, scenario.overhead, scenario.batching
    c = v0 + v1 * K + To
    hom = solve_homogeneous(scenario)
    # integer answers: chords between integers (the concave envelope of the integer points) for
    # the search and the tighter bound; the relaxation itself is solved with the smooth A (its
    # fast path), except for a profile, which has no other
    users = Users(scenario, "chord" if integer else "smooth")
    zero = np.zeros(K)
    G_zero = float(np.sum(users.tokens_int(zero))) / c
    g0 = max(hom.goodput, G_zero)
    caps = users.useful_caps(g0, c, v1, batching)
    users.cap = caps
    L_hom = float(hom.draft_lengths[0]) if K else 0.0
    mult: dict[str, Any] = {"effective_cap": float(np.max(caps)) if K else 0.0}
    sr = Search(users, caps, v0, v1, To, batching)
    if integer and n_vectors(caps) <= ENUM_LIMIT:
        # exact: every vector; the optimum is its own certificate (no relaxation needed)
        Li, _ = enumerate_best(sr)
        L = Li.astype(np.int64)
        _, beta, G, T = _point(scenario, L, False)
        method, ub = "enumeration", G
        mult.update(tau=float(T - scenario.v0 - scenario.overhead - v1 * sr.batch(L[None, :])[0]),
                    locally_optimal=True)
    else:
        smooth = users
        if integer and not scenario.positional:
            smooth = Users(scenario, "smooth")
            smooth.cap = caps
        R = relax(smooth, caps, v0, v1, To, batching, g0, tau_guess=L_hom * hom.multipliers["theta"] or None,
                  m_guess=L_hom, start=(hom.draft_lengths, hom.bandwidth))
        mult.update({"lambda": float(R.lam), "tau": float(R.tau), "continuous_goodput": float(R.value),
                     "relaxation_bound": float(R.upper_bound), "passes": int(R.passes),
                     "evaluations": int(R.evaluations)})
        if R.ratio is not None:
            mult["dinkelbach_ratio"] = float(R.ratio)
        if R.cap is not None:
            mult["padded_cap"] = float(R.cap)
        ub = float(R.upper_bound)
        if not integer:
            # the relaxation's lengths at their equal-finish shares; where drafting nothing or the
            # homogeneous point is better (a relaxation stopped at round-off on a flat optimum) or
            # the lengths are integers to 1e-6 (then so may the optimum be), those candidates
            Lr = np.clip(R.L, 0.0, caps)
            L, beta, G, T = _relaxed_point(scenario, Lr, R.beta)
            cands = []
            if np.max(np.abs(Lr - np.round(Lr)), initial=0.0) <= 1e-6:
                cands.append(np.minimum(np.round(Lr), caps))
            if hom.goodput >= G * (1 - 1e-9):
                cands.append(hom.draft_lengths.astype(np.float64))
            if G_zero >= G * (1 - 1e-9):
                cands.append(zero)
            for Lc in cands:
                p = _point(scenario, Lc, True)
                if p[2] > G:
                    L, beta, G, T = p
            method = "continuous"
            mult["locally_optimal"] = True
        else:
            Li, _, method, certified = integer_search(sr, R, extra=[hom.draft_lengths.astype(np.float64), zero])
            L = Li.astype(np.int64)
            _, beta, G, T = _point(scenario, L, False)
            if G < hom.goodput:  # the homogeneous optimum is a feasible integer point
                L, beta, G, T = hom.draft_lengths.copy(), hom.bandwidth.copy(), hom.goodput, hom.round_time
            mult["locally_optimal"] = bool(certified)
            if smooth is not users and R.prices and R.tau > 0:
                # the chords' dual at the smooth optimum: tighter than the smooth bound (the chords
                # lie below the smooth A), still valid for the integer problem
                b, passes = certify(users, caps, c, *R.prices, R.tau, R.lam / R.tau, G, quick=True)
                ub = min(ub, b)
                mult["passes"] += passes
    mult["method"] = method
    if G > ub * (1 + _CERT_TOL):
        raise SolverError("certificate", f"goodput {G!r} exceeds the certified upper bound {ub!r}")
    ub = max(ub, G)
    gap = max(0.0, (ub - G) / ub)
    return Solution(name="heterogeneous", draft_lengths=L, bandwidth=beta, goodput=G, round_time=T,
                    upper_bound=ub, gap=gap, multipliers=mult, method=method)
