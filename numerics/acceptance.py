"""Acceptance from measurements: estimates, exact intervals, the i.i.d. test, and decisions.

The model and its derivations are in :mod:`theory.acceptance` (docs/model.md, section
"Acceptance from measurements"). In short, a log is reduced, per user, to two counts per draft
position i = 1..P:

- ``at_risk`` n_i: drafts that had a token at position i and had every earlier token accepted;
- ``accepted`` a_i: drafts whose token at position i was accepted (N_d >= i).

Given n_i, a_i ~ Binomial(n_i, alpha_i) (a chain of binomials: n_{i+1} is fixed by the past).
Hence

- the position-dependent MLE alpha_i^ = a_i / n_i with a binomial interval: Clopper-Pearson
  (exact: coverage >= the level given n_i, hence unconditionally), or Jeffreys (the equal-tailed
  Beta(a + 1/2, n - a + 1/2) posterior interval: not exact, its coverage oscillates around the
  level and falls below it for some (n, alpha), e.g. near alpha = 1 with few trials);
- the i.i.d. MLE alpha^ = sum_i a_i / sum_i n_i = S / (S + R) (censored truncated-geometric
  likelihood, a draft accepted in full is censored) with the interval of the pooled counts
  (the pooled count is not exactly binomial, because the number of trials depends on the
  outcomes; the Clopper-Pearson coverage is checked by exact enumeration in the tests);
- the likelihood-ratio statistic of i.i.d. against position-dependent,
  2 sum_i n_i KL(alpha_i^ || alpha^), with a chi^2 p-value on (tested positions - 1) degrees
  of freedom (``scipy.stats.chi2``), per user and summed over users. It is asymptotic: when an
  expected cell count n_i alpha^ or n_i (1 - alpha^) of a tested position is below 5 (Cochran's
  rule, Biometrics 10(4), 1954) the fit flags it (``lr_small_sample``): the test's size can then
  be off (seeded checks at level 0.05: 0.060 with 30 drafts at alpha 0.95, 0.066 with 10 short
  records, 0.000 with 20 drafts at alpha 0.99; docs/model.md);
- the mean acceptance length, vLLM's convention 1 + accepted / drafts (it counts the bonus
  token: it is the tokens per round A of docs/model.md sec. 2), observed and implied by each
  model, with an interval: A is increasing in every alpha_i, so the i.i.d. interval maps
  through A exactly, and the positional one is the image of a Bonferroni box of per-position
  intervals (level 1 - (1 - c)/P each; conservative).

Counts come from vLLM's counters (:func:`position_counts`: drafts, draft tokens and accepted
tokens per position) or from per-round records (:func:`record_counts`: each draft's length and
accepted count); :mod:`numerics.acceptance_readers` reads them from files. Records identify
every n_i. Counters identify them only when every draft has the full length P; drafts of varying
length (an n-gram proposer, drafts cut near the end of a request) leave the split of the short
drafts into censored and rejected ones open, so the n_i are only bounded (partial
identification, :func:`position_counts`). The fit then reports the identified set of each
estimate and intervals that cover every consistent split, tests i.i.d. only on the positions
whose n_i are identified, and writes no profile the counts do not identify.

:func:`decision_uncertainty` carries the estimation error (and that ambiguity) to the
decisions: a seeded parametric bootstrap of the fitted acceptance, each draw solved in both
regimes, and the table of the best common draft length (0 = no speculation) against the number
of users, in the shape of vLLM's batch-size-dependent setting
``num_speculative_tokens_per_batch_size`` (``vllm/config/speculative.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from .scenario import Scenario
from .tokens import expected_tokens, expected_tokens_positional
from .validation import (
    MAX_DRAFT,
    MAX_PROFILE_ENTRIES,
    MAX_USERS,
    as_choice,
    as_float,
    as_float_array,
    as_int,
    as_scenario,
    fmt,
)

__all__ = [
    "INTERVALS",
    "MAX_COUNT",
    "MAX_DRAWS",
    "MODELS",
    "POINTS",
    "AcceptanceCounts",
    "AcceptanceFit",
    "DecisionUncertainty",
    "binomial_interval",
    "cycle_users",
    "decision_uncertainty",
    "draft_length_by_batch_size",
    "fit_acceptance",
    "position_counts",
    "record_counts",
]

#: binomial interval methods (scipy.stats.beta quantiles): Clopper-Pearson (exact) and Jeffreys
INTERVALS = ("clopper-pearson", "jeffreys")
#: acceptance models: one alpha per user, or one per user and draft position
MODELS = ("iid", "positional")
#: point estimates written into a scenario: the MLE, or the Jeffreys posterior mean (a + 1/2)/(n + 1)
POINTS = ("mle", "jeffreys")
#: largest count (drafts, tokens) read from a log: 2^53 - 1, the largest n such that every
#: integer up to n is exact in float64 (Prometheus exposes counters as float64)
MAX_COUNT = 2**53 - 1
#: largest number of bootstrap draws of :func:`decision_uncertainty` (each draw solves both
#: regimes and the batch-size grid: 10^5 draws already take hours)
MAX_DRAWS = 100_000
#: Cochran's rule for the chi^2 approximation of the LR test: every expected cell count >= 5
MIN_EXPECTED_COUNT = 5.0


# ---------------------------------------------------------------------------- validation
def _count_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """Non-negative integer counts <= MAX_COUNT as int64 (3.0 is accepted, 3.5, True and '3' are not).

    The type rules of :mod:`numerics.validation` (no bool, None or strings, also inside lists)
    come from :func:`numerics.validation.as_float_array`.
    """
    arr = as_float_array(name, value, (ndim,))
    ok = np.isfinite(arr) & (arr >= 0) & (arr == np.floor(arr))
    if not ok.all():
        bad = float(arr[~ok].flat[0])
        raise ValueError(f"{name} must be non-negative integer counts, got {bad!r}")
    big = arr > MAX_COUNT
    if big.any():
        shown = value if ndim == 0 and isinstance(value, (int, np.integer)) else float(arr[big].flat[0])
        raise ValueError(f"{name} must be <= {MAX_COUNT} (2^53 - 1: counts above it are not exact in float64; "
                         f"limit numerics.acceptance.MAX_COUNT), got {shown!r}")
    return arr.astype(np.int64)


def _check_positions(name: str, P: int) -> None:
    if P > MAX_DRAFT:
        raise ValueError(f"{name} must be <= {MAX_DRAFT} positions (a draft length; limit "
                         f"numerics.validation.MAX_DRAFT), got {P}")


def _check_confidence(confidence: Any, name: str = "confidence") -> float:
    return as_float(name, confidence, low=0.0, high=1.0, low_open=True, high_open=True)


# ---------------------------------------------------------------------------- counts
@dataclasses.dataclass(frozen=True, eq=False)
class AcceptanceCounts:
    """The sufficient statistics of one user's log under the chain-of-binomials model.

    Attributes
    ----------
    accepted : ndarray of int64, shape (P,)
        a_i: drafts whose token at position i was accepted.
    at_risk_low, at_risk_high : ndarray of int64, shape (P,)
        Bounds of n_i (drafts with a token at position i whose earlier tokens were all
        accepted); equal when the log identifies n_i (always for records, and for counters
        whose drafts all have the full length P).
    drafts : int
        D, the drafts counted by the source (vLLM also counts empty drafts; records of length 0
        carry no information and are not counted).
    pooled_at_risk_low, pooled_at_risk_high : int
        Bounds of sum_i n_i = S + R (tighter than the sums of the per-position bounds).
    drafts_by_length : ndarray of int64 (P + 1,) or None
        Number of drafts of each length 0..P (the design, kept for the parametric bootstrap);
        None when the counters do not identify it.
    draft_tokens : int or None
        Sum of the draft lengths (vLLM's ``num_draft_tokens``), when known.
    undrafted_tokens : int
        D x P - draft tokens: the tokens the drafts fell short of the full length P (0 for
        records and for counters of one length).
    censored_designs : tuple of two ndarrays (P + 1,), optional
        For counters with drafts of varying length: drafts by length of a split into censored
        and rejected drafts consistent with the counts at each end of the identified set
        (fewest censored: ``pooled_at_risk_high``; most: ``pooled_at_risk_low``), the short
        rejected drafts placed at the full length P (used by the bootstrap of
        :func:`decision_uncertainty`).
    """

    accepted: np.ndarray
    at_risk_low: np.ndarray
    at_risk_high: np.ndarray
    drafts: int
    pooled_at_risk_low: int
    pooled_at_risk_high: int
    drafts_by_length: np.ndarray | None = None
    draft_tokens: int | None = None
    undrafted_tokens: int = 0
    censored_designs: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def identified(self) -> bool:
        """True when every n_i is known (records; counters of one draft length)."""
        return bool(np.array_equal(self.at_risk_low, self.at_risk_high))

    @property
    def at_risk(self) -> np.ndarray:
        """n_i when identified (``ValueError`` otherwise: use ``at_risk_low``/``at_risk_high``)."""
        if not self.identified:
            raise ValueError("at_risk is not identified by these counts (drafts of varying length): "
                             "use at_risk_low and at_risk_high")
        return self.at_risk_high

    @property
    def positions(self) -> int:
        """P, the longest draft length in the log."""
        return int(self.accepted.shape[0])

    @property
    def accepted_tokens(self) -> int:
        """S = sum_d N_d = sum_i a_i."""
        return int(self.accepted.sum())


def _identified_counts(accepted: np.ndarray, at_risk: np.ndarray, drafts: int, by_length: np.ndarray,
                       draft_tokens: int | None) -> AcceptanceCounts:
    n = at_risk.astype(np.int64)
    return AcceptanceCounts(accepted=accepted.astype(np.int64), at_risk_low=n, at_risk_high=n.copy(), drafts=drafts,
                            pooled_at_risk_low=int(n.sum()), pooled_at_risk_high=int(n.sum()),
                            drafts_by_length=by_length.astype(np.int64), draft_tokens=draft_tokens)


def _censoring_bounds(exact: np.ndarray, P: int, deficit: int, min_length: int) -> dict[str, Any]:
    """The set of splits F (F_l censored drafts of length l < P) consistent with vLLM's counters.

    ``exact[l]`` = #{N = l}, l = 0..P. A censored draft of length l < P falls short of P by
    w_l = P - l tokens; a rejected draft with N = l has a length in [l + 1, P] and falls short by
    0..w_l - 1. So F is consistent with the deficit Delta = D P - draft_tokens iff
    0 <= F_l <= #{N = l} (F_l = 0 for l < ``min_length``), sum_l w_l F_l <= Delta (upper) and
    Delta <= sum_l w_l F_l + (#{N = l} - F_l)(w_l - 1), i.e. sum_l F_l >= Delta - B with
    B = sum_l #{N = l}(P - 1 - l) (lower). Returns the exact integer ranges of every F_l and of
    sum_l F_l, and a split attaining each end of the latter (the cheapest units, the longest
    drafts, first); ``ValueError`` when no split exists. For one F_l the feasible values form
    an interval: with the others chosen cheapest first, the deficit needed is convex in F_l, so
    each end is found by bisection from a feasible point (checked against brute-force
    enumeration of draft lengths in the tests).
    """
    total_drafts = int(exact.sum())
    dt: Any = object if (P + 2) * (total_drafts + 2) >= 2**62 else np.int64  # Python ints beyond int64
    cap = np.array([int(exact[length]) if length >= min_length else 0 for length in range(P)], dtype=dt)
    capT = cap[::-1].copy()  # by weight rank t: the length l = P - 1 - t falls short by w = t + 1
    wT = np.arange(1, P + 1).astype(dt)
    Ccum = np.concatenate([np.zeros(1, dtype=dt), np.cumsum(capT)]).astype(dt)
    Wcum = np.concatenate([np.zeros(1, dtype=dt), np.cumsum(capT * wT)]).astype(dt)
    B = sum(int(exact[length]) * (P - 1 - length) for length in range(P))
    m = deficit - B
    total = Ccum[P]

    def cost_all(k):  # the least deficit of k censored drafts (cheapest first)
        k = np.asarray(k, dtype=dt)
        t = np.minimum(np.searchsorted(Ccum, k, side="right") - 1, P - 1)
        return Wcum[t] + (k - Ccum[t]) * wT[t]

    k0 = max(m, 0)
    if k0 > total or cost_all(k0) > deficit:
        raise ValueError("infeasible")
    j = int(np.searchsorted(Wcum, deficit, side="right")) - 1
    kmax = int(total) if j >= P else min(int(Ccum[j]) + (deficit - int(Wcum[j])) // (j + 1), int(Ccum[j + 1]))

    def fill(k: int) -> np.ndarray:  # by rank
        return np.minimum(np.maximum(k - Ccum[:-1], 0), capT)

    tj = np.arange(P)

    def feasible(x):  # x by rank: is F_t = x part of a consistent split, for every t at once
        need = np.maximum(m - x, 0)
        ok_count = need <= total - capT
        k = np.where(ok_count, need, 0).astype(dt)
        before = k <= Ccum[tj]  # the cheapest others all come before item t
        shifted = np.minimum(np.where(before, k, k + capT), total)
        cost = np.where(before, cost_all(k), cost_all(shifted) - capT * wT)
        return ok_count & (cost + wT * x <= deficit) & (x >= 0) & (x <= capT)

    x0 = fill(k0)
    lo, hi = x0.copy(), capT + 1  # largest feasible: lo feasible, hi not
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        f = feasible(mid)
        open_ = hi - lo > 1
        lo, hi = np.where(f & open_, mid, lo), np.where(~f & open_, mid, hi)
    f_max = lo
    lo, hi = np.full(P, -1).astype(dt), x0.copy()  # smallest feasible: hi feasible, lo not
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        f = feasible(mid)
        open_ = hi - lo > 1
        hi, lo = np.where(f & open_, mid, hi), np.where(~f & open_, mid, lo)
    f_min = hi
    as_int_list = lambda v: [int(x) for x in v[::-1]]  # noqa: E731  by length l = 0..P-1
    return {"f_min": as_int_list(f_min), "f_max": as_int_list(f_max), "total_min": int(k0), "total_max": int(kmax),
            "at_total_min": as_int_list(fill(k0)), "at_total_max": as_int_list(fill(kmax))}


def position_counts(drafts, accepted_per_position, *, draft_tokens=None, accepted_tokens=None,
                    min_draft_length: int = 0) -> AcceptanceCounts:
    """Counts from vLLM-style counters: drafts, draft tokens and accepted tokens per position.

    With every draft of length P = ``len(accepted_per_position)`` (vLLM's ``num_speculative_tokens``;
    ``draft_tokens`` = D P or not given), n_1 = D and n_i = a_{i-1}: identified. When
    ``draft_tokens`` shows that the drafts fell short of P by Delta = D P - draft_tokens tokens
    (drafts cut near the end of a request, an n-gram proposer that found fewer tokens), the
    counters do not say which short drafts were accepted in full (censored: they leave the at-risk
    set) and which were rejected before their end, so n_i = a_{i-1} - F_{i-1} is only bounded,
    F_l being the censored drafts of length l. The counters imply, with #{N = l} = a_l - a_{l+1}:
    0 <= F_l <= #{N = l}; the censored drafts fall short by sum_l F_l (P - l) <= Delta; the rejected
    ones (length in [N + 1, P]) by at most sum_l (#{N = l} - F_l)(P - l - 1), so
    Delta <= sum_l F_l (P - l) + (#{N = l} - F_l)(P - l - 1). The exact integer bounds of every n_i and
    of sum_i n_i under both constraints are kept (``at_risk_low``/``at_risk_high``); they may pin
    the n_i down (e.g. every drafted token accepted).

    Parameters
    ----------
    drafts : int
        Number of drafts D >= 1 (``vllm:spec_decode_num_drafts``).
    accepted_per_position : array_like of int, shape (P,)
        a_i, drafts whose position i was accepted (``vllm:spec_decode_num_accepted_tokens_per_pos``,
        label ``position`` = i - 1); non-increasing, a_1 <= drafts; P <= MAX_DRAFT.
    draft_tokens : int, optional
        ``vllm:spec_decode_num_draft_tokens``; at most drafts x P, at least the accepted tokens.
    accepted_tokens : int, optional
        ``vllm:spec_decode_num_accepted_tokens``; if given, <= draft_tokens and = sum_i a_i.
    min_draft_length : {0, 1}
        The shortest draft the counters may count. 0 (default): vLLM's scheduler subtracts the
        invalid (unfilled) placeholder tokens of a draft before recording it
        (``Scheduler.make_spec_decoding_stats``, ``vllm/v1/core/sched/scheduler.py``), so an
        empty draft can be counted; 1: every counted draft had a token (engines without that
        subtraction), which identifies n_1 = D.

    Raises
    ------
    ValueError
        Naming the field: a count that is negative, non-integer, a bool or string, or above
        MAX_COUNT (2^53 - 1); no drafts, no positions or more than MAX_DRAFT; accepted above
        drafted (a_1 > drafts, accepted_tokens > draft_tokens), a count that rises with position,
        a profile longer than the drafts (draft_tokens below the accepted tokens, plus one token
        per rejected-at-once draft when ``min_draft_length`` = 1), drafts longer than the profile
        (draft_tokens > drafts x P: positions beyond P are missing), or accepted_tokens != the sum
        of the per-position counts.

    Examples
    --------
    >>> c = position_counts(100, [80, 60, 45])
    >>> c.at_risk.tolist(), c.accepted.tolist()
    ([100, 80, 60], [80, 60, 45])
    >>> c = position_counts(1000, [800, 600, 400], draft_tokens=2000, min_draft_length=1)
    >>> c.at_risk.tolist()      # the short drafts must have been accepted in full: identified
    [1000, 600, 400]
    """
    D = int(_count_array("drafts", drafts, 0))
    a = _count_array("accepted_per_position", accepted_per_position, 1)
    min_draft_length = as_int("min_draft_length", min_draft_length, low=0, high=1)
    if D < 1:
        raise ValueError(f"drafts must be >= 1 (no drafts, nothing to fit), got {D}")
    P = a.shape[0]
    if P < 1:
        raise ValueError("accepted_per_position must have at least one position, got []")
    _check_positions("accepted_per_position", P)
    if a[0] > D:
        raise ValueError(f"accepted_per_position[0] = {int(a[0])} exceeds drafts = {D} (accepted above drafted)")
    rises = np.nonzero(np.diff(a) > 0)[0]
    if rises.size:
        i = int(rises[0])
        raise ValueError(f"accepted_per_position rises with position: {int(a[i])} at position {i} then "
                         f"{int(a[i + 1])} at position {i + 1} (a draft accepted at a position was accepted at "
                         "every earlier one)")
    S_sum = sum(int(x) for x in a)
    T = None
    if draft_tokens is not None:
        T = int(_count_array("draft_tokens", draft_tokens, 0))
        if T > D * P:
            raise ValueError(
                f"draft_tokens = {T} exceeds drafts x positions = {D} x {P} = {D * P}: drafts longer than the "
                f"per-position profile ({P} positions; the counts of later positions are missing)")
        if T == 0:
            raise ValueError("draft_tokens = 0: the drafts hold no token, nothing to fit")
        if T < S_sum:
            raise ValueError(
                f"draft_tokens = {T} is below the accepted tokens of the profile, sum of accepted_per_position = "
                f"{S_sum}: the per-position profile is longer than the drafts (accepted above drafted)")
        if accepted_tokens is not None:
            S = int(_count_array("accepted_tokens", accepted_tokens, 0))
            if S > T:
                raise ValueError(f"accepted_tokens = {S} exceeds draft_tokens = {T} (accepted above drafted)")
    if accepted_tokens is not None:
        S = int(_count_array("accepted_tokens", accepted_tokens, 0))
        if S != S_sum:
            raise ValueError(f"accepted_tokens = {S} is not the sum of accepted_per_position = {S_sum}")
    at_risk = np.concatenate([[D], a[:-1]]).astype(np.int64)  # a_{i-1}, a_0 = D
    exact = np.append(at_risk - a, a[-1])  # #{N = l}, l = 0..P
    deficit = 0 if T is None else D * P - T
    if deficit == 0:
        by_length = np.zeros(P + 1, dtype=np.int64)
        by_length[P] = D
        return _identified_counts(a, at_risk, D, by_length, D * P)
    if min_draft_length == 1 and T is not None and T < S_sum + int(exact[0]):
        raise ValueError(
            f"draft_tokens = {T} is below the accepted tokens plus one token per draft rejected at its first "
            f"position, {S_sum} + {int(exact[0])} = {S_sum + int(exact[0])} (min_draft_length = 1: every draft had "
            "a token)")
    bounds = _censoring_bounds(exact, P, deficit, min_draft_length)  # feasible: T >= S (+ exact[0]) checked above
    f_min = np.array(bounds["f_min"], dtype=object)
    f_max = np.array(bounds["f_max"], dtype=object)
    n_low = (at_risk.astype(object) - f_max).astype(np.int64)
    n_high = (at_risk.astype(object) - f_min).astype(np.int64)
    pooled = sum(int(x) for x in at_risk)
    designs = []
    for split in (bounds["at_total_min"], bounds["at_total_max"]):
        design = np.zeros(P + 1, dtype=np.int64)
        design[:P] = split
        design[P] = D - sum(split)
        designs.append(design)
    if np.array_equal(n_low, n_high):  # the counts pin every n_i down (e.g. every drafted token accepted)
        return dataclasses.replace(_identified_counts(a, n_high, D, designs[0], T), undrafted_tokens=int(deficit))
    return AcceptanceCounts(accepted=a.copy(), at_risk_low=n_low, at_risk_high=n_high, drafts=D,
                            pooled_at_risk_low=pooled - bounds["total_max"],
                            pooled_at_risk_high=pooled - bounds["total_min"], drafts_by_length=None,
                            draft_tokens=T, undrafted_tokens=int(deficit), censored_designs=(designs[0], designs[1]))


def record_counts(draft_lengths, accepted) -> AcceptanceCounts:
    """Counts from per-round records: each draft's length L_d and accepted count N_d.

    n_i = #{d : L_d >= i, N_d >= i - 1} and a_i = #{d : N_d >= i}, computed from the histogram
    of N and of the censored drafts (N_d = L_d): n_i = a_{i-1} - #{d : L_d = N_d = i - 1}.

    Parameters
    ----------
    draft_lengths : array_like of int, shape (D,)
        L_d in [0, MAX_DRAFT] (a record of length 0 drafted nothing and carries no information).
    accepted : array_like of int, shape (D,)
        N_d in [0, L_d].

    Raises
    ------
    ValueError
        Naming the field: negative, non-integer, bool or string values, a draft length above
        MAX_DRAFT, different lengths, accepted above the draft length, or no draft token at all.

    Examples
    --------
    >>> c = record_counts([3, 3, 2], [3, 1, 2])
    >>> c.at_risk.tolist(), c.accepted.tolist()
    ([3, 3, 1], [3, 2, 1])
    """
    Ld = _count_array("draft_lengths", draft_lengths, 1)
    N = _count_array("accepted", accepted, 1)
    if Ld.shape != N.shape:
        raise ValueError(f"draft_lengths and accepted have different lengths: {Ld.shape[0]} and {N.shape[0]}")
    if Ld.size and int(Ld.max()) > MAX_DRAFT:
        d = int(np.argmax(Ld))
        raise ValueError(f"draft_lengths must be <= {MAX_DRAFT} (limit numerics.validation.MAX_DRAFT), got "
                         f"{int(Ld[d])} in record {d}")
    over = np.nonzero(N > Ld)[0]
    if over.size:
        d = int(over[0])
        raise ValueError(f"accepted = {int(N[d])} exceeds draft_length = {int(Ld[d])} in record {d} "
                         "(accepted above drafted)")
    P = int(Ld.max()) if Ld.size else 0
    if P < 1:
        raise ValueError("draft_lengths has no draft of length >= 1 (no draft tokens, nothing to fit)")
    reach = np.cumsum(np.bincount(N, minlength=P + 1)[::-1])[::-1]  # reach[m] = #{N_d >= m}, m = 0..P
    censored = np.bincount(N[N == Ld], minlength=P + 1)  # drafts accepted in full, by length
    at_risk = reach[:-1] - censored[:-1]
    by_length = np.bincount(Ld, minlength=P + 1).astype(np.int64)
    return _identified_counts(reach[1:], at_risk, int(by_length[1:].sum()), by_length, int(Ld.sum()))

# ---------------------------------------------------------------------------- intervals
def binomial_interval(successes, trials, confidence: float = 0.95, method: str = "clopper-pearson"):
    """Two-sided interval for a binomial proportion, vectorised: Clopper-Pearson (exact) or Jeffreys.

    Clopper-Pearson: [B(a/2; x, n - x + 1), B(1 - a/2; x + 1, n - x)] with B the beta quantile
    (``scipy.stats.beta.ppf``), 0 at x = 0 and 1 at x = n; exact: its coverage is at least the
    level for every n and p (conservative). Jeffreys: the equal-tailed interval of the
    Beta(x + 1/2, n - x + 1/2) posterior, with the lower end 0 at x = 0 and the upper end 1 at
    x = n (Brown, Cai and DasGupta 2001, Stat. Sci. 16(2)); not exact: its coverage oscillates
    around the level and dips below it for some (n, p), most near p = 0 or 1 with few trials.
    n = 0 gives [0, 1] (no information).

    Parameters
    ----------
    successes, trials : array_like of int
        x and n, broadcast together, 0 <= x <= n <= MAX_COUNT (no bools or strings).
    confidence : float in (0, 1)
    method : {'clopper-pearson', 'jeffreys'}

    Returns
    -------
    (low, high) : ndarrays of float64

    Raises
    ------
    ValueError
        Negative, non-integer, bool or string counts, x > n, confidence outside (0, 1), an
        unknown method.

    Examples
    --------
    >>> lo, hi = binomial_interval(0, 10)
    >>> float(lo), round(float(hi), 4)        # 1 - 0.025^(1/10)
    (0.0, 0.3085)
    """
    x = _count_array("successes", successes, np.ndim(successes) if not isinstance(successes, (str, bytes)) else 0)
    n = _count_array("trials", trials, np.ndim(trials) if not isinstance(trials, (str, bytes)) else 0)
    x, n = np.broadcast_arrays(x, n)
    if np.any(x > n):
        bad = x > n
        raise ValueError(f"successes must be <= trials, got {int(x[bad].flat[0])} > {int(n[bad].flat[0])}")
    conf = _check_confidence(confidence)
    as_choice("method", method, INTERVALS)
    tail = (1.0 - conf) / 2.0
    xf, nf = x.astype(np.float64), n.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "clopper-pearson":
            lo = stats.beta.ppf(tail, np.maximum(xf, 1.0), np.maximum(nf - xf + 1.0, 1.0))
            hi = stats.beta.ppf(1.0 - tail, np.maximum(xf + 1.0, 1.0), np.maximum(nf - xf, 1.0))
        else:
            lo = stats.beta.ppf(tail, xf + 0.5, np.maximum(nf - xf + 0.5, 0.5))
            hi = stats.beta.ppf(1.0 - tail, xf + 0.5, np.maximum(nf - xf + 0.5, 0.5))
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where(x == n, 1.0, hi)
    return lo[()], hi[()]


def _point(accepted: np.ndarray, at_risk: np.ndarray, point: str) -> np.ndarray:
    """MLE a/n (0 where n = 0: not identified) or the Jeffreys posterior mean (a + 1/2)/(n + 1)."""
    a = np.asarray(accepted).astype(np.float64)
    n = np.asarray(at_risk).astype(np.float64)
    if point == "jeffreys":
        return (a + 0.5) / (n + 1.0)
    return np.divide(a, n, out=np.zeros_like(a), where=n > 0)


def _bernoulli_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(Bernoulli(p) || Bernoulli(q)) >= 0, with 0 log 0 = 0 (scipy.special.rel_entr)."""
    return special.rel_entr(p, q) + special.rel_entr(1.0 - p, 1.0 - q)


def _moment_iid(accepted: np.ndarray, draft_tokens: int) -> float:
    """The i.i.d. alpha that explains the counters whatever the draft lengths: the root of
    sum_i a_i alpha^-i = draft_tokens.

    Under i.i.d. acceptance with draft lengths independent of the outcomes,
    E[a_i] = D alpha^i P(L >= i) and E[draft_tokens] = D sum_i P(L >= i), so
    sum_i E[a_i] alpha^-i = E[draft_tokens] for any law of the lengths (a moment equation). The
    left side decreases from +inf to S as alpha goes from 0 to 1; the root lies in
    [a_1 / draft_tokens, 1] (0 when nothing was accepted, 1 when every drafted token was).
    Solved in u = log alpha with ``scipy.optimize.brentq`` on the log of both sides.
    """
    a = accepted.astype(np.float64)
    S = float(a.sum())
    if S == 0.0:
        return 0.0
    if S >= draft_tokens:
        return 1.0
    keep = a > 0
    i = np.arange(1, a.size + 1, dtype=np.float64)[keep]
    log_a = np.log(a[keep])
    log_T = math.log(draft_tokens)

    def h(u: float) -> float:  # log sum_i a_i e^{-i u} - log T, decreasing in u
        return float(special.logsumexp(log_a - i * u)) - log_T

    lo = math.log(a[0] / draft_tokens) if a[0] > 0 else -745.0
    if h(lo) < 0.0:  # cannot happen for a_1 > 0 (h(lo) >= 0); kept for a_1 = 0 beyond the float range
        return math.exp(lo)
    return math.exp(optimize.brentq(h, lo, 0.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))


# ---------------------------------------------------------------------------- the fit
@dataclasses.dataclass(frozen=True, eq=False)
class AcceptanceFit:
    """Per-user acceptance estimates with intervals, the i.i.d. test and mean acceptance lengths.

    Arrays have one row per user (K) and, for profiles, one column per draft position (P, the
    longest draft length over users; shorter users are padded with unreached positions).

    A position is *identified* when its at-risk count n_i is known and > 0. Records identify
    every reached position; vLLM counters of drafts of varying length may not (see
    :func:`position_counts`): then the point estimates of the profile are replaced by their
    identified sets (the MLE a_i / n_i over every n_i consistent with the counts), the intervals
    cover every consistent n_i, the LR test uses only identified positions (or is not run), and
    the i.i.d. estimate is the moment estimator (the root of sum_i a_i alpha^-i = draft tokens,
    valid for any law of the draft lengths) projected onto the identified set of the pooled MLE.

    Attributes
    ----------
    users : tuple of str
        User labels (row order).
    counts : tuple of AcceptanceCounts
        The data of each user.
    accepted : ndarray of int64 (K, P)
        a_i.
    at_risk_low, at_risk_high : ndarray of int64 (K, P)
        Bounds of n_i (equal where the log identifies n_i).
    identified : ndarray of bool (K, P)
        n_i known and > 0 (a point estimate exists).
    reached : ndarray of bool (K, P)
        Some draft may have reached position i (at_risk_high > 0).
    iid : ndarray (K,)
        i.i.d. estimate: the MLE sum a / sum n where identified, else the projected moment estimator.
    iid_estimate_low, iid_estimate_high : ndarray (K,)
        The identified set of the pooled MLE, S / sum n over every consistent sum n (both
        equal to ``iid`` where identified).
    iid_low, iid_high : ndarray (K,)
        Its interval (the union of the pooled intervals over every consistent sum n).
    iid_std_error : ndarray (K,)
        1 / sqrt(I(alpha^)), I the expected Fisher information sum_d (1 - alpha^L_d) / (alpha (1 - alpha)^2)
        (:func:`theory.acceptance.iid_fisher`); 0 at alpha^ in {0, 1}; where n is not identified,
        the observed information (S + R)/(alpha (1 - alpha)) at the smallest consistent S + R.
    profile : ndarray (K, P)
        Position-dependent MLE a_i / n_i where identified; 0 where no draft reached position i;
        NaN where the counters leave n_i open (see the identified set below).
    profile_estimate_low, profile_estimate_high : ndarray (K, P)
        The identified set of a_i / n_i ([0, 1] where not reached).
    profile_low, profile_high : ndarray (K, P)
        Interval of alpha_i ([0, 1] where not reached), the union over every consistent n_i.
    profile_std_error : ndarray (K, P)
        sqrt(alpha_i^ (1 - alpha_i^) / n_i), the inverse root of the information n_i / (alpha_i (1 - alpha_i))
        (:func:`theory.acceptance.positional_fisher`); 0 where not reached, NaN where n_i is open.
    lr_statistic, lr_pvalue : ndarray (K,), lr_df : ndarray of int (K,)
        Likelihood-ratio test of i.i.d. against position-dependent, per user, on the identified
        positions; NaN statistic and p-value where not tested (``lr_tested``).
    lr_tested : ndarray of bool (K,)
        At least two identified positions.
    lr_small_sample : ndarray of bool (K,)
        Some expected cell count of a tested position under i.i.d., n_i alpha^ or n_i (1 - alpha^),
        is below 5 (Cochran's rule): the chi^2 approximation, hence the test's size, may be off.
    combined_lr_statistic, combined_lr_pvalue : float, combined_lr_df : int
        The sum over the tested users (independent users: chi^2 with the summed degrees of
        freedom); NaN when no user could be tested.
    observed_mean_acceptance_length : ndarray (K,)
        1 + S / D (vLLM's logged "Mean acceptance length", with the bonus token).
    mean_acceptance_length : dict
        model -> (value, low, high) arrays (K,): A implied at draft length P_k of each user (the
        positional value is NaN where the profile is not identified; its interval stays valid).
    undrafted_tokens : ndarray of int64 (K,)
        Tokens by which vLLM-style drafts fell short of the full length (:func:`position_counts`).
    confidence : float
    interval : str
        'clopper-pearson' or 'jeffreys'.
    source : str
        Where the counts came from (a file name), for the record.
    """

    users: tuple[str, ...]
    counts: tuple[AcceptanceCounts, ...]
    accepted: np.ndarray
    at_risk_low: np.ndarray
    at_risk_high: np.ndarray
    identified: np.ndarray
    reached: np.ndarray
    iid: np.ndarray
    iid_estimate_low: np.ndarray
    iid_estimate_high: np.ndarray
    iid_low: np.ndarray
    iid_high: np.ndarray
    iid_std_error: np.ndarray
    profile: np.ndarray
    profile_estimate_low: np.ndarray
    profile_estimate_high: np.ndarray
    profile_low: np.ndarray
    profile_high: np.ndarray
    profile_std_error: np.ndarray
    lr_statistic: np.ndarray
    lr_df: np.ndarray
    lr_pvalue: np.ndarray
    lr_tested: np.ndarray
    lr_small_sample: np.ndarray
    combined_lr_statistic: float
    combined_lr_df: int
    combined_lr_pvalue: float
    observed_mean_acceptance_length: np.ndarray
    mean_acceptance_length: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    undrafted_tokens: np.ndarray
    confidence: float
    interval: str
    source: str = ""

    @property
    def n_users(self) -> int:
        """K."""
        return len(self.users)

    @property
    def positions(self) -> np.ndarray:
        """P_k, the longest draft length of each user (int array (K,))."""
        return np.array([c.positions for c in self.counts], dtype=np.int64)

    @property
    def at_risk(self) -> np.ndarray:
        """n_i (K, P) when every user's counts identify them; ``ValueError`` otherwise."""
        if not np.array_equal(self.at_risk_low, self.at_risk_high):
            raise ValueError("at_risk is not identified by these counts (drafts of varying length): "
                             "use at_risk_low and at_risk_high")
        return self.at_risk_high

    @property
    def point_identified(self) -> np.ndarray:
        """(K,) True for users whose counts identify every n_i."""
        return np.array([c.identified for c in self.counts], dtype=bool)

    @property
    def identified_positions(self) -> int:
        """The longest prefix of positions identified for every user (min_k P*_k; 0 if none)."""
        prefix = np.cumprod(self.identified, axis=1).sum(axis=1)
        return int(prefix.min())

    def profile_positions(self, point: str = "mle") -> int:
        """The longest profile this fit determines for every user (0 if none).

        A user's profile is determined on its identified prefix (:attr:`identified_positions`)
        and, with the MLE, also beyond it when its last identified estimate is 0: no draft
        passes that position (a_i = 0, so n_{i+1} = 0), every later alpha multiplies the product
        0 in the acceptance law (docs/model.md sec. 2) and is written as 0 without changing the
        model. The Jeffreys point (a + 1/2)/(n + 1) is never 0: its profile stops at the prefix.
        """
        return int(self.profile_lengths(point).min())

    def profile_lengths(self, point: str = "mle") -> np.ndarray:
        """(K,) the length of each user's determined profile (see :meth:`profile_positions`)."""
        as_choice("point", point, POINTS)
        prefix = np.cumprod(self.identified, axis=1).sum(axis=1)
        if point == "mle":
            last = self.profile[np.arange(self.n_users), np.maximum(prefix - 1, 0)]
            prefix = np.where((prefix > 0) & (last == 0.0), self.identified.shape[1], prefix)
        return prefix.astype(np.int64)

    @property
    def combined_lr_tested(self) -> bool:
        """True when some user's LR test could be run."""
        return bool(self.lr_tested.any())

    def select(self, level: float = 0.05) -> str:
        """'positional' when the combined LR test rejects i.i.d. at ``level``; 'iid' otherwise,
        also when no user could be tested (see :meth:`selection_notes`)."""
        level = _check_confidence(level, "level")
        return "positional" if self.combined_lr_tested and self.combined_lr_pvalue < level else "iid"

    def selection_notes(self) -> list[str]:
        """Why the test is limited or absent, per user, in words (printed by ``multispin fit``)."""
        notes = []
        for k, user in enumerate(self.users):
            c = self.counts[k]
            if not c.identified:
                notes.append(
                    f"user {user!r}: drafts of varying length (they fell {c.undrafted_tokens} tokens short of "
                    f"{c.positions}): the counters do not identify the at-risk counts of "
                    f"{int(np.count_nonzero(self.reached[k] & ~self.identified[k]))} position(s); the profile there is "
                    "reported as its identified set, the i.i.d. estimate is the moment estimator, and "
                    + ("the LR test uses the identified positions only" if self.lr_tested[k] else
                       "the LR test is not run (it needs at least two identified positions)")
                    + "; per-round records (CSV) identify everything")
            elif not self.lr_tested[k]:
                notes.append(f"user {user!r}: one reached position: no LR test")
            if self.lr_tested[k] and self.lr_small_sample[k]:
                notes.append(f"user {user!r}: an expected count under i.i.d. is below {MIN_EXPECTED_COUNT:g} at a "
                             "tested position (Cochran's rule): the chi^2 p-value is approximate, the test's size "
                             "may be off")
        if not self.combined_lr_tested:
            notes.append("no user could be tested: --auto writes i.i.d.")
        return notes

    def alpha(self, model: str, point: str = "mle", positions: int | None = None) -> np.ndarray:
        """The ``alpha`` field of a Scenario from this fit.

        Parameters
        ----------
        model : {'iid', 'positional'}
            (K,) one alpha per user, or (K, positions) profiles.
        point : {'mle', 'jeffreys'}
            The MLE, or the Jeffreys posterior mean (a + 1/2)/(n + 1), which is always in (0, 1).
            For a user whose counters leave n open, the i.i.d. value is the moment estimator
            projected onto the identified set of this rule's pooled estimate.
        positions : int, optional
            Profile length (default and maximum: :meth:`profile_positions`, the identified
            prefix, with the MLE extended by zeros after a position no draft passed).

        Raises
        ------
        ValueError
            Unknown model or point; a profile the counts do not identify (no identified
            position) or ``positions`` outside 1..profile_positions(point); an estimate of 1, which
            the model excludes (alpha < 1: every draft token seen at that position was accepted),
            naming the user and position.
        """
        as_choice("model", model, MODELS)
        as_choice("point", point, POINTS)
        if model == "iid":
            est = np.array([_iid_point(c, point) for c in self.counts])
            where = "the i.i.d. estimate"
        else:
            top = self.profile_positions(point)
            if top < 1:
                raise ValueError("alpha: no position-dependent profile is identified by these counts (vLLM counters "
                                 "of drafts of varying length leave the at-risk counts open); use model='iid' or "
                                 "per-round records")
            P = top if positions is None else positions
            if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 1 <= P <= top:
                raise ValueError(f"positions must be an integer in [1, {top}] (determined for every user), got {P!r}")
            est = _point(self.accepted[:, :P], self.at_risk_high[:, :P], point)
            where = "the position-dependent estimate"
        ones = np.argwhere(est >= 1.0)
        if ones.size:
            k = int(ones[0][0])
            at = f" at position {int(ones[0][1]) + 1}" if est.ndim == 2 else ""
            raise ValueError(
                f"alpha: {where} of user {self.users[k]!r}{at} is 1 (every draft token there was accepted); "
                "the model needs alpha < 1: use the Jeffreys posterior mean (a + 1/2)/(n + 1) (point='jeffreys', "
                "multispin fit --point jeffreys) or more data")
        return est

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every estimate, interval and test (NaN where not identified or not tested)."""
        def conv(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, (np.floating, np.integer, np.bool_)):
                return v.item()
            return v
        out = {f.name: conv(getattr(self, f.name)) for f in dataclasses.fields(self)
               if f.name not in ("counts", "mean_acceptance_length")}
        out["users"] = list(self.users)
        out["drafts"] = [c.drafts for c in self.counts]
        out["positions"] = self.positions.tolist()
        out["mean_acceptance_length"] = {m: {"value": v.tolist(), "low": lo.tolist(), "high": hi.tolist()}
                                         for m, (v, lo, hi) in self.mean_acceptance_length.items()}
        out["selected_model"] = self.select()
        out["notes"] = self.selection_notes()
        return out


def _iid_point(c: AcceptanceCounts, point: str) -> float:
    """The i.i.d. estimate of one user (module docstring; :class:`AcceptanceFit`)."""
    S = c.accepted_tokens
    if c.identified:
        return float(_point(np.array(S), np.array(int(c.at_risk_high.sum())), point))
    lo = float(_point(np.array(S), np.array(c.pooled_at_risk_high), point))
    hi = float(_point(np.array(S), np.array(c.pooled_at_risk_low), point))
    assert c.draft_tokens is not None  # counters with a deficit always carry the draft tokens
    return min(max(_moment_iid(c.accepted, c.draft_tokens), lo), hi)


def fit_acceptance(counts, users: Sequence[str] | None = None, confidence: float = 0.95,
                   interval: str = "clopper-pearson", source: str = "") -> AcceptanceFit:
    """Fit the i.i.d. and position-dependent acceptance models to each user's counts.

    Formulas: module docstring and :mod:`theory.acceptance` (docs/model.md, "Acceptance from
    measurements"); partial identification: :class:`AcceptanceFit`.

    Parameters
    ----------
    counts : AcceptanceCounts, a sequence of them, or a mapping label -> AcceptanceCounts
        One entry per user (at most MAX_USERS; users x longest draft <= MAX_PROFILE_ENTRIES).
    users : sequence of str, optional
        Labels (default: the mapping's keys, or '0', '1', ...).
    confidence : float in (0, 1)
        Level of every interval (default 0.95).
    interval : {'clopper-pearson', 'jeffreys'}
        Clopper-Pearson (exact, the default) or Jeffreys (equal-tailed posterior interval, not exact).
    source : str
        A description of the data, kept in the result.

    Returns
    -------
    AcceptanceFit

    Raises
    ------
    ValueError
        No users or too many, a non-AcceptanceCounts entry, labels of the wrong number or
        repeated, a bad confidence or interval method, users x positions above the limit.

    Examples
    --------
    >>> f = fit_acceptance(position_counts(1000, [800, 640, 512]))   # i.i.d. with alpha = 0.8
    >>> round(float(f.iid[0]), 4), [round(float(x), 2) for x in f.profile[0]]
    (0.8, [0.8, 0.8, 0.8])
    >>> float(f.lr_statistic[0]), f.select()
    (0.0, 'iid')
    """
    if isinstance(counts, AcceptanceCounts):
        counts = [counts]
    if isinstance(counts, Mapping):
        labels = [str(u) for u in counts] if users is None else list(users)
        items = list(counts.values())
    else:
        items = list(counts)
        labels = [str(k) for k in range(len(items))] if users is None else list(users)
    if not items:
        raise ValueError("counts must hold at least one user, got none")
    if len(items) > MAX_USERS:
        raise ValueError(f"counts must hold at most {MAX_USERS} users (limit numerics.validation.MAX_USERS), "
                         f"got {len(items)}")
    for k, c in enumerate(items):
        if not isinstance(c, AcceptanceCounts):
            raise ValueError(f"counts[{k}] must be AcceptanceCounts (position_counts, record_counts), "
                             f"got {type(c).__name__}")
    if len(labels) != len(items) or len(set(labels)) != len(labels):
        raise ValueError(f"users must be {len(items)} distinct labels, got {fmt(labels)}")
    conf = _check_confidence(confidence)
    as_choice("interval", interval, INTERVALS)

    K = len(items)
    P = max(c.positions for c in items)
    if K * P > MAX_PROFILE_ENTRIES:
        raise ValueError(f"users x longest draft = {K} x {P} = {K * P} exceeds {MAX_PROFILE_ENTRIES} profile entries "
                         "(limit numerics.validation.MAX_PROFILE_ENTRIES)")
    n_hi = np.zeros((K, P), dtype=np.int64)
    n_lo = np.zeros((K, P), dtype=np.int64)
    a = np.zeros((K, P), dtype=np.int64)
    for k, c in enumerate(items):
        n_hi[k, :c.positions] = c.at_risk_high
        n_lo[k, :c.positions] = c.at_risk_low
        a[k, :c.positions] = c.accepted
    known = n_lo == n_hi
    reached = n_hi > 0
    ident = known & reached

    # i.i.d.: pooled binomial form of the censored likelihood (theory.acceptance.iid_mle); an
    # interval's ends decrease with the trials, so the union over N in [N_low, N_high] is [lo(N_high), hi(N_low)]
    S = a.sum(axis=1)
    N_hi = np.array([c.pooled_at_risk_high for c in items], dtype=np.int64)
    N_lo = np.array([c.pooled_at_risk_low for c in items], dtype=np.int64)
    iid = np.array([_iid_point(c, "mle") for c in items])
    iid_est_lo, iid_est_hi = _point(S, N_hi, "mle"), _point(S, N_lo, "mle")
    iid_lo, _ = binomial_interval(S, N_hi, conf, interval)
    _, iid_hi = binomial_interval(S, N_lo, conf, interval)
    iid_se = np.array([_iid_std_error(float(iid[k]), c) for k, c in enumerate(items)])
    # positional: chain of binomials (theory.acceptance.positional_mle)
    est_lo, est_hi = _point(a, n_hi, "mle"), _point(a, n_lo, "mle")
    est_lo, est_hi = np.where(reached, est_lo, 0.0), np.where(reached, est_hi, 1.0)
    with np.errstate(invalid="ignore"):
        prof = np.where(known, _point(a, n_hi, "mle"), np.nan)
        prof_se = np.where(known, np.sqrt(np.divide(prof * (1.0 - prof), n_hi, out=np.zeros(prof.shape),
                                                    where=ident)), np.nan)
    prof_lo, _ = binomial_interval(a, n_hi, conf, interval)
    _, prof_hi = binomial_interval(a, n_lo, conf, interval)

    # LR test on the identified positions: 2 sum_i n_i KL(alpha_i^ || alpha0^) (theory.acceptance)
    n_t = np.where(ident, n_hi, 0)
    a_t = np.where(ident, a, 0)
    pooled_t = _point(a_t.sum(axis=1), n_t.sum(axis=1), "mle")
    p_t = np.where(ident, _point(a_t, n_t, "mle"), pooled_t[:, None])  # KL 0 off the tested positions
    df = np.maximum(ident.sum(axis=1) - 1, 0)
    tested = df > 0
    lr = np.where(tested, 2.0 * np.sum(np.where(ident, n_t * _bernoulli_kl(p_t, pooled_t[:, None]), 0.0), axis=1),
                  np.nan)
    with np.errstate(invalid="ignore"):
        pval = np.where(tested, stats.chi2.sf(np.where(tested, lr, 0.0), np.maximum(df, 1)), np.nan)
    expected = np.minimum(n_t * pooled_t[:, None], n_t * (1.0 - pooled_t[:, None]))
    small = tested & np.any(ident & (expected < MIN_EXPECTED_COUNT), axis=1)
    if tested.any():
        c_lr, c_df = float(lr[tested].sum()), int(df[tested].sum())
        c_p = float(stats.chi2.sf(c_lr, c_df))
    else:
        c_lr, c_df, c_p = math.nan, 0, math.nan

    # mean acceptance length A: observed 1 + S/D, and implied by each model at length P_k
    Pk = np.array([c.positions for c in items])
    D = np.array([c.drafts for c in items], dtype=np.float64)
    observed = 1.0 + S / D
    mal: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
        "iid": (expected_tokens(iid, Pk), expected_tokens(iid_lo, Pk), expected_tokens(iid_hi, Pk)),
    }
    box_lo, _ = _bonferroni_box(a, n_hi, Pk, conf, interval)
    _, box_hi = _bonferroni_box(a, n_lo, Pk, conf, interval)
    width = np.arange(P)[None, :] < Pk[:, None]
    prof_value = np.where(reached, prof, 0.0)
    prof_ok = np.all(known | ~width, axis=1)
    mal["positional"] = (np.where(prof_ok, expected_tokens_positional(np.nan_to_num(prof_value), Pk), np.nan),
                         expected_tokens_positional(box_lo, Pk), expected_tokens_positional(box_hi, Pk))
    return AcceptanceFit(
        users=tuple(labels), counts=tuple(items), accepted=a, at_risk_low=n_lo, at_risk_high=n_hi, identified=ident,
        reached=reached, iid=iid, iid_estimate_low=np.where(N_hi > 0, iid_est_lo, iid),
        iid_estimate_high=np.where(N_lo > 0, iid_est_hi, iid),
        iid_low=np.asarray(iid_lo, dtype=np.float64), iid_high=np.asarray(iid_hi, dtype=np.float64),
        iid_std_error=iid_se, profile=prof, profile_estimate_low=est_lo, profile_estimate_high=est_hi,
        profile_low=prof_lo, profile_high=prof_hi, profile_std_error=prof_se,
        lr_statistic=lr, lr_df=df.astype(np.int64), lr_pvalue=pval, lr_tested=tested, lr_small_sample=small,
        undrafted_tokens=np.array([c.undrafted_tokens for c in items], dtype=np.int64),
        combined_lr_statistic=c_lr, combined_lr_df=c_df, combined_lr_pvalue=c_p,
        observed_mean_acceptance_length=observed, mean_acceptance_length=mal,
        confidence=conf, interval=interval, source=str(source),
    )


def _iid_std_error(alpha: float, c: AcceptanceCounts) -> float:
    """1 / sqrt(sum_L m_L I_L(alpha)), I_L = (1 - alpha^L) / (alpha (1 - alpha)^2) (theory.acceptance.iid_fisher),
    with the design m_L when known; else the observed information (S + R)/(alpha (1 - alpha)) at the
    smallest consistent S + R (the widest)."""
    if not 0.0 < alpha < 1.0:
        return 0.0  # the information is infinite at the boundary (the likelihood is a point mass)
    if c.drafts_by_length is None or not c.identified:
        return math.sqrt(alpha * (1.0 - alpha) / c.pooled_at_risk_low)
    L = np.arange(c.drafts_by_length.shape[0], dtype=np.float64)
    info = float(np.sum(c.drafts_by_length * -np.expm1(L * math.log(alpha)))) / (alpha * (1.0 - alpha) ** 2)
    return 1.0 / math.sqrt(info)


def _bonferroni_box(a: np.ndarray, n: np.ndarray, Pk: np.ndarray, conf: float, method: str):
    """Per-position intervals at level 1 - (1 - conf)/P_k: together they cover the whole profile
    with probability >= conf (Bonferroni), so their image under the increasing map A does too."""
    level = 1.0 - (1.0 - conf) / Pk.astype(np.float64)
    lo = np.zeros(a.shape)
    hi = np.ones(a.shape)
    for k in range(a.shape[0]):
        lo[k], hi[k] = binomial_interval(a[k], n[k], float(level[k]), method)
    return lo, hi

# ---------------------------------------------------------------------------- bootstrap
def _bootstrap_counts(design: np.ndarray, alpha: np.ndarray, draws: int, rng: np.random.Generator):
    """Parametric bootstrap of one user's counts: ``design`` (P + 1,) drafts of each length
    0..P, acceptance alpha (P,) by position; returns (accepted, at_risk) of shape (draws, P)."""
    P = design.shape[0] - 1
    acc = np.zeros((draws, P), dtype=np.int64)
    risk = np.zeros((draws, P), dtype=np.int64)
    for length in range(1, P + 1):
        m = int(design[length])
        if m == 0:
            continue
        reach = np.full(draws, m, dtype=np.int64)
        for i in range(length):
            risk[:, i] += reach
            reach = rng.binomial(reach, alpha[i])
            acc[:, i] += reach
    return acc, risk


def cycle_users(scenario: Scenario, n_users: int) -> Scenario:
    """The scenario with its users cycled (user k of the result is user k mod K) to ``n_users``.

    Raises
    ------
    ValueError
        If ``n_users`` is not an integer >= 1.
    """
    n_users = as_int("n_users", n_users, low=1, high=MAX_USERS, limit="numerics.validation.MAX_USERS")
    idx = np.arange(int(n_users)) % scenario.n_users
    changes = {}
    for name in ("alpha", "t_draft", "bits_per_token", "spectral_efficiency", "snr"):
        v = getattr(scenario, name)
        if v is not None:
            changes[name] = v[idx]
    return scenario.replace(**changes)


def _solve(scenario: Scenario, regime: str):
    if regime == "homogeneous":
        from .homogeneous import solve_homogeneous

        return solve_homogeneous(scenario)
    from .heterogeneous import solve_heterogeneous

    return solve_heterogeneous(scenario, integer=True)


#: solver failures recorded (not raised) by decision_uncertainty: a failed draw is reported
_SOLVER_ERRORS = (RuntimeError, ValueError, ArithmeticError)


def _runs(lengths: np.ndarray, start: int) -> list[tuple[int, int, int]]:
    """Run-length encoding [(first K, last K, L)] of L by consecutive K (inclusive ranges)."""
    out: list[tuple[int, int, int]] = []
    for off, L in enumerate(lengths.tolist()):
        K = start + off
        if out and out[-1][2] == L:
            out[-1] = (out[-1][0], K, L)
        else:
            out.append((K, K, L))
    return out


def _cap_draft(scenario: Scenario, cap: int) -> Scenario:
    """The scenario with max_draft lowered to ``cap`` (a profile cut to its first ``cap`` positions)."""
    if cap >= scenario.max_draft:
        return scenario
    if scenario.positional:
        return scenario.replace(alpha=scenario.alpha[:, :cap], max_draft=cap)
    return scenario.replace(max_draft=cap)


def _best_common_length(scenario: Scenario) -> tuple[int, float]:
    """(L*, G*) over L in {0, 1, ..., max_draft}: the homogeneous optimum (docs/model.md H1-H4,
    L >= 1) against L = 0, the autoregressive round (docs/model.md sec. 3); ties keep drafting."""
    from .baselines import baseline

    sol = _solve(scenario, "homogeneous")
    L, G = int(sol.draft_lengths[0]), float(sol.goodput)
    if scenario.v0 > 0 or scenario.v1 > 0 or scenario.overhead > 0:  # else the round without drafting takes 0 s
        ar = float(baseline(scenario, "autoregressive").goodput)
        if ar > G:
            return 0, ar
    return L, G


def draft_length_by_batch_size(scenario: Scenario, max_users: int = 64, max_draft: int | None = None) -> dict[str, Any]:
    """Best common draft length L*(K) in {0, 1, ..., max_draft} for K = 1..max_users users (the batch size).

    The scenario's users are cycled to K users (:func:`cycle_users`) and solved in the
    homogeneous regime (docs/model.md H1-H4); L* = 0 (no speculation) when the autoregressive
    round (docs/model.md sec. 3) has the larger goodput. The result's
    ``num_speculative_tokens_per_batch_size`` lists inclusive ranges (range_start, range_end, L),
    the shape of vLLM's ``SpeculativeConfig.num_speculative_tokens_per_batch_size``
    (``vllm/config/speculative.py``: "Each entry is (range_start, range_end,
    num_speculative_tokens) with an inclusive batch-size range", commit
    002e77c1f0ef9b19cff8b9e21cfbd6feb3d6b443). vLLM accepts 0 there (no speculation at those batch
    sizes: ``validate_and_normalize_dynamic_sd_schedule`` refuses only K < 0) and caps every entry at
    the server's ``num_speculative_tokens`` (``build_dynamic_sd_schedule_lookup``; both in
    ``vllm/v1/spec_decode/dynamic/utils.py``, commit 14b450ca590cbff96e7004bdb147a5d3acf5a4f6), so
    pass that value as ``max_draft`` to keep the table within what the server can run.

    Parameters
    ----------
    scenario : Scenario
    max_users : int >= 1
    max_draft : int, optional
        Upper end of the draft lengths searched (default: the scenario's ``max_draft``; a larger
        value is the scenario's).

    Returns
    -------
    dict
        ``users`` (K), ``draft_length`` (L*), ``goodput`` (G*), ``max_draft`` (the cap used) and
        ``num_speculative_tokens_per_batch_size``.

    Raises
    ------
    ValueError
        If ``max_users`` or ``max_draft`` is not an integer >= 1.
    """
    max_users = as_int("max_users", max_users, low=1, high=MAX_USERS, limit="numerics.validation.MAX_USERS")
    scenario = as_scenario(scenario)
    cap = scenario.max_draft if max_draft is None else as_int("max_draft", max_draft, low=1, high=MAX_DRAFT,
                                                                 limit="numerics.validation.MAX_DRAFT")
    capped = _cap_draft(scenario, cap)
    Ks = np.arange(1, int(max_users) + 1)
    L = np.empty(Ks.size, dtype=np.int64)
    G = np.empty(Ks.size)
    for idx, K in enumerate(Ks):
        L[idx], G[idx] = _best_common_length(cycle_users(capped, int(K)))
    return {"users": Ks, "draft_length": L, "goodput": G, "max_draft": capped.max_draft,
            "num_speculative_tokens_per_batch_size": _runs(L, 1)}


@dataclasses.dataclass(frozen=True)
class DecisionUncertainty:
    """What the acceptance uncertainty does to the decisions (:func:`decision_uncertainty`).

    Attributes
    ----------
    model, point : str
        The acceptance model bootstrapped and the point-estimate rule.
    draws, seed : int
    confidence : float
    regimes : dict
        regime -> dict with ``goodput`` and ``draft_lengths`` at the point estimate;
        ``goodput_low``/``goodput_high`` (percentile interval of the optimal goodput over the
        draws: the lower percentile over the draws at the low end of the identified set, the
        upper one over those at the high end, when the counts leave acceptance ambiguous);
        ``lengths_changed`` (fraction of solved draws whose optimal draft lengths differ from the
        point's); ``regret`` and ``relative_regret`` (mean over solved draws of
        G*(alpha*) - G(alpha*; point decision), absolute [tokens/s] and over G*(alpha*));
        ``solved`` (number of draws solved) and ``failures`` (list of (draw, error message));
        ``beaten_by_point``: draws where the point decision did better under alpha* than the
        solver's own answer for alpha* (negative regret beyond round-off: a sub-optimal solve,
        reported rather than hidden).
    batch_table : dict
        ``users``, ``draft_length`` (L* at the point estimate, 0 = no speculation),
        ``draft_length_low`` and ``draft_length_high`` (percentiles over the draws), for the
        users grid.
    num_speculative_tokens_per_batch_size : list of (int, int, int)
        The point-estimate L*(K) for every K = 1..max(users grid), as inclusive ranges
        (vLLM's ``num_speculative_tokens_per_batch_size`` shape), within ``table_max_draft``.
    rejected_draws : list of (int, str)
        Bootstrap draws whose refitted alpha left the model (alpha* = 1 with point='mle').
    ambiguous : bool
        Some user's counts leave the at-risk counts open: each draw was made at both ends of
        the identified set (draw b of the low end is listed as b, of the high end as draws + b).
    table_max_draft : int
        The largest draft length of the batch-size table: the server's draft length
        (``num_speculative_tokens``, the log's longest draft) or the scenario's ``max_draft``,
        whichever is smaller.
    notes : list of str
        What the numbers cannot say (extrapolation beyond the log's draft length, too few draws
        for the percentile interval, ambiguity), in words.
    """

    model: str
    point: str
    draws: int
    seed: int
    confidence: float
    regimes: dict[str, dict[str, Any]]
    batch_table: dict[str, np.ndarray]
    num_speculative_tokens_per_batch_size: list[tuple[int, int, int]]
    rejected_draws: list[tuple[int, str]]
    ambiguous: bool = False
    table_max_draft: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        def conv(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, (np.floating, np.integer)):
                return v.item()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            return v
        return {f.name: conv(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _refit(acc: np.ndarray, risk: np.ndarray, model: str, point: str, width: int) -> np.ndarray:
    if model == "iid":
        return _point(acc.sum(axis=1), risk.sum(axis=1), point)
    return _point(acc[:, :width], risk[:, :width], point)


def decision_uncertainty(scenario: Scenario, fit: AcceptanceFit, model: str | None = None, point: str = "mle",
                         draws: int = 40, seed: int = 0, regimes: Sequence[str] = ("homogeneous", "heterogeneous"),
                         confidence: float = 0.95, users: Sequence[int] = (1, 2, 4, 8, 16, 32),
                         server_draft_length: int | None = None) -> DecisionUncertainty:
    """Carry the acceptance estimation error to the decisions by a seeded parametric bootstrap.

    The scenario's ``alpha`` is replaced by the fit (``fit.alpha(model, point)``; a positional
    profile sets ``max_draft`` to its length). Each draw b simulates every user's log again from
    the fitted acceptance with the same design (number of drafts of each length), refits it to
    alpha*_b, and solves the scenario with alpha*_b in each regime. Reported per regime: the
    ``confidence`` percentile interval of the optimal goodput G*(alpha*_b); how often the optimal
    draft lengths differ from those at the point estimate; and the expected regret of deciding
    with the point estimate, mean_b [G*(alpha*_b) - G(alpha*_b; L^, beta^)] with (L^, beta^) the
    point-estimate optimum (docs/model.md sec. 2 ``goodput``). The draws stand in for plausible
    true acceptances (the bootstrap distribution of alpha* around alpha^ mirrors that of alpha^
    around the truth).

    Counters of drafts of varying length (:func:`position_counts`) leave a user's acceptance
    ambiguous within its identified set: each draw is then made twice, from the low end of the
    set (``fit.iid_estimate_low``, with the split that has the fewest censored drafts) and from
    the high end (``iid_estimate_high``, the most); the goodput interval runs from the lower
    percentile of the low-end draws to the upper percentile of the high-end draws (G* increases
    with every alpha), and the changes, regret and batch-table spread are over both.

    The batch-size table searches draft lengths 0..min(scenario max_draft, server draft length),
    the server's ``num_speculative_tokens`` being the log's longest draft unless given: vLLM caps
    every entry of ``num_speculative_tokens_per_batch_size`` at it. A draw whose refit leaves the
    model (alpha* = 1 with point='mle') is listed in ``rejected_draws``; a solver failure on a
    draw is listed in the regime's ``failures``; both are counted, never dropped silently.

    Parameters
    ----------
    scenario : Scenario
        The system (K users, matching the fit's users).
    fit : AcceptanceFit
    model : {'iid', 'positional'}, optional
        Default: ``fit.select()`` (positional when the LR test rejects i.i.d. at 5%).
    point : {'mle', 'jeffreys'}
    draws : int in [1, MAX_DRAWS]
    seed : int >= 0
    regimes : sequence of {'homogeneous', 'heterogeneous'}
    confidence : float in (0, 1)
    users : sequence of int >= 1
        Grid of numbers of users for the batch-size table (users cycled, :func:`cycle_users`).
    server_draft_length : int, optional
        The server's ``num_speculative_tokens`` (default: the longest draft of the log).

    Returns
    -------
    DecisionUncertainty

    Raises
    ------
    ValueError
        Naming the argument: a fit with another number of users than the scenario, a bad model,
        point, regime, draws, seed, confidence, users grid or server draft length; the point
        estimate itself leaving the model or not identified (see :meth:`AcceptanceFit.alpha`).
    """
    if not isinstance(fit, AcceptanceFit):
        raise ValueError(f"fit must be an AcceptanceFit (fit_acceptance), got {type(fit).__name__}")
    scenario = as_scenario(scenario)
    if fit.n_users != scenario.n_users:
        raise ValueError(f"fit has {fit.n_users} users but the scenario has {scenario.n_users}")
    model = fit.select() if model is None else as_choice("model", model, MODELS)
    as_choice("point", point, POINTS)
    draws = as_int("draws", draws, low=1, high=MAX_DRAWS, limit="numerics.acceptance.MAX_DRAWS")
    seed = as_int("seed", seed, low=0)
    conf = _check_confidence(confidence)
    regimes = tuple(regimes)
    if not regimes:
        raise ValueError("regimes must name at least one regime, got ()")
    for r in regimes:
        as_choice("regimes", r, ("homogeneous", "heterogeneous"))
    grid = np.asarray(users)
    if grid.ndim != 1 or grid.size == 0 or not all(isinstance(u, (int, np.integer)) and not isinstance(u, bool)
                                                   and 1 <= u <= MAX_USERS for u in users):
        raise ValueError(f"users must be a non-empty sequence of integers in [1, {MAX_USERS}], got {fmt(users)}")
    server = int(fit.positions.max()) if server_draft_length is None else as_int(
        "server_draft_length", server_draft_length, low=1, high=MAX_DRAFT, limit="numerics.validation.MAX_DRAFT")

    alpha_hat = fit.alpha(model, point)
    base = scenario.replace(alpha=alpha_hat, max_draft=alpha_hat.shape[1]) if model == "positional" \
        else scenario.replace(alpha=alpha_hat)
    width = base.max_draft  # the profile's length (positional); unused by the i.i.d. draws
    ambiguous = not bool(fit.point_identified.all())

    # bootstrap draws of alpha*: per user, simulate the counts and refit (at both ends if ambiguous)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    ends = 2 if ambiguous else 1
    star = np.empty((ends, draws, *alpha_hat.shape))
    for k, c in enumerate(fit.counts):
        P = c.positions
        if model == "iid":
            truths = [np.full(P, fit.iid_estimate_low[k]), np.full(P, fit.iid_estimate_high[k])] \
                if not c.identified else [np.full(P, alpha_hat[k])]
        else:
            truths = [np.concatenate([alpha_hat[k], np.zeros(max(P - width, 0))])[:P]]
        designs: list[np.ndarray] = [d for d in ([c.drafts_by_length] if c.identified else
                                                 list(c.censored_designs or ())) if d is not None]
        for e in range(ends):
            if e > 0 and c.identified:
                star[e, :, k] = star[0, :, k]
                continue
            acc, risk = _bootstrap_counts(designs[min(e, len(designs) - 1)], truths[min(e, len(truths) - 1)],
                                          draws, rng)
            star[e, :, k] = _refit(acc, risk, model, point, width)
    rejected, good = [], []
    for e in range(ends):
        for b in range(draws):
            if np.any(star[e, b] >= 1.0):
                rejected.append((e * draws + b, "alpha* = 1 (every bootstrap draft token at some position accepted)"))
            else:
                good.append((e, b))
    tail = (1.0 - conf) / 2.0

    from .latency import goodput as goodput_at

    out: dict[str, dict[str, Any]] = {}
    for regime in regimes:
        sol = _solve(base, regime)
        G_by_end: list[list[float]] = [[] for _ in range(ends)]
        regret, rel, changed, failures = [], [], 0, []
        for e, b in good:
            sb = base.replace(alpha=star[e, b])
            try:
                sol_b = _solve(sb, regime)
            except _SOLVER_ERRORS as exc:  # recorded and reported, never dropped silently
                failures.append((e * draws + b, f"{type(exc).__name__}: {exc}"))
                continue
            G_b = sol_b.goodput
            G_by_end[e].append(G_b)
            loss = G_b - goodput_at(sb, sol.draft_lengths, sol.bandwidth)
            regret.append(loss)
            rel.append(loss / G_b)
            changed += int(not np.array_equal(sol_b.draft_lengths, sol.draft_lengths))
        G_all = [g for gs in G_by_end for g in gs]
        solved = len(G_all)
        low_side, high_side = G_by_end[0], G_by_end[-1]
        out[regime] = {
            "goodput": sol.goodput,
            "draft_lengths": sol.draft_lengths.copy(),
            "goodput_low": float(np.quantile(low_side, tail)) if low_side else math.nan,
            "goodput_high": float(np.quantile(high_side, 1.0 - tail)) if high_side else math.nan,
            "lengths_changed": changed / solved if solved else math.nan,
            "regret": float(np.mean(regret)) if solved else math.nan,
            "relative_regret": float(np.mean(rel)) if solved else math.nan,
            "solved": solved,
            "failures": failures,
            "beaten_by_point": int(sum(r < -1e-9 * g for r, g in zip(regret, G_all, strict=True))),
        }

    # batch-size table on the users grid, with the spread of L* over the draws, within the server's draft length
    cap = min(base.max_draft, server)
    table_base = _cap_draft(base, cap)
    Lp, Llo, Lhi = [], [], []
    for K_users in grid.tolist():
        Lp.append(_best_common_length(cycle_users(table_base, K_users))[0])
        Ls = [_best_common_length(cycle_users(_cap_draft(base.replace(alpha=star[e, b]), cap), K_users))[0]
              for e, b in good]
        Llo.append(int(np.quantile(Ls, tail, method="lower")) if Ls else Lp[-1])
        Lhi.append(int(np.quantile(Ls, 1.0 - tail, method="higher")) if Ls else Lp[-1])
    table = {"users": grid.astype(np.int64), "draft_length": np.asarray(Lp, dtype=np.int64),
             "draft_length_low": np.asarray(Llo, dtype=np.int64), "draft_length_high": np.asarray(Lhi, dtype=np.int64)}
    schedule = draft_length_by_batch_size(table_base, int(grid.max()))["num_speculative_tokens_per_batch_size"]

    notes = []
    if ambiguous:
        notes.append("the counters leave some user's acceptance ambiguous (drafts of varying length): each draw was "
                     "made at both ends of the identified set; the goodput interval spans both")
    if model == "iid" and base.max_draft > int(fit.positions.min()):
        notes.append(f"max_draft {base.max_draft} exceeds the log's longest draft ({int(fit.positions.min())} for some "
                     "user): the regimes extrapolate the i.i.d. alpha beyond the measured positions")
    if cap < base.max_draft:
        notes.append(f"batch-size table searched draft lengths 0..{cap}: the server drafts at most {server} tokens "
                     "(num_speculative_tokens; vLLM caps every schedule entry at it)")
    enough = math.ceil(2.0 / (1.0 - conf))  # below it the percentile range is the span of the draws
    if draws < enough:
        notes.append(f"{draws} draws: a {100 * conf:g}% percentile range needs at least {enough} "
                     "(with fewer, its ends are the extreme draws and it is narrower than the level says)")
    return DecisionUncertainty(model=model, point=point, draws=int(draws), seed=int(seed), confidence=conf,
                               regimes=out, batch_table=table, num_speculative_tokens_per_batch_size=schedule,
                               rejected_draws=rejected, ambiguous=ambiguous, table_max_draft=int(cap), notes=notes)
