"""Acceptance from measurements: estimates, exact intervals, the i.i.d. test, and decisions.

The model and its derivations are in :mod:`theory.acceptance` (docs/model.md, section
"Acceptance from measurements"). In short, a log is reduced, per user, to two counts per draft
position i = 1..P:

- ``at_risk`` n_i: drafts that had a token at position i and had every earlier token accepted;
- ``accepted`` a_i: drafts whose token at position i was accepted (N_d >= i).

Given n_i, a_i ~ Binomial(n_i, alpha_i) (a chain of binomials: n_{i+1} is fixed by the past).
Hence

- the position-dependent MLE alpha_i^ = a_i / n_i with an exact binomial interval
  (Clopper-Pearson, or Jeffreys with the Brown-Cai-DasGupta boundary fix), each of which keeps
  its coverage conditionally on n_i, hence unconditionally;
- the i.i.d. MLE alpha^ = sum_i a_i / sum_i n_i = S / (S + R) (censored truncated-geometric
  likelihood, a draft accepted in full is censored) with the Clopper-Pearson interval of the
  pooled counts (the pooled count is not exactly binomial, because the number of trials depends
  on the outcomes; its coverage is checked by exact enumeration and simulation in the tests);
- the likelihood-ratio statistic of i.i.d. against position-dependent,
  2 sum_i n_i KL(alpha_i^ || alpha^), with a chi^2 p-value on (identified positions - 1)
  degrees of freedom (``scipy.stats.chi2``), per user and summed over users;
- the mean acceptance length, vLLM's convention 1 + accepted / drafts (it counts the bonus
  token: it is the tokens per round A of docs/model.md sec. 2), observed and implied by each
  model, with an interval: A is increasing in every alpha_i, so the i.i.d. interval maps
  through A exactly, and the positional one is the image of a Bonferroni box of per-position
  intervals (level 1 - (1 - c)/P each; conservative).

Counts come from vLLM's counters (:func:`position_counts`: drafts and accepted tokens per
position, every draft of the same length) or from per-round records with varying draft lengths
(:func:`record_counts`); :mod:`numerics.acceptance_readers` reads them from files.

:func:`decision_uncertainty` carries the estimation error to the decisions: a seeded parametric
bootstrap of the fitted acceptance, each draw solved in both regimes, and the table of the best
common draft length against the number of users, in the shape of vLLM's batch-size-dependent
setting ``num_speculative_tokens_per_batch_size`` (``vllm/config/speculative.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import special, stats

from .scenario import Scenario
from .tokens import expected_tokens, expected_tokens_positional
from .validation import MAX_USERS, as_choice, as_float, as_int, as_scenario

__all__ = [
    "INTERVALS",
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

#: exact binomial interval methods (scipy.stats.beta quantiles)
INTERVALS = ("clopper-pearson", "jeffreys")
#: acceptance models: one alpha per user, or one per user and draft position
MODELS = ("iid", "positional")
#: point estimates written into a scenario: the MLE, or the Jeffreys posterior mean (a + 1/2)/(n + 1)
POINTS = ("mle", "jeffreys")


# ---------------------------------------------------------------------------- validation
def _fmt(value: Any) -> str:
    arr = np.asarray(value) if not isinstance(value, str) else value
    if isinstance(arr, np.ndarray) and arr.size > 8:
        return f"array of shape {arr.shape}"
    return repr(value.tolist() if isinstance(value, np.ndarray) else value)


def _count_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """Non-negative integer counts as int64 (a float like 3.0 is accepted, 3.5 is not)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be a non-negative integer count, got {_fmt(value)}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative integer count, got {_fmt(value)}") from None
    if arr.ndim != ndim:
        what = "a number" if ndim == 0 else f"a {ndim}-D array"
        raise ValueError(f"{name} must be {what}, got {_fmt(value)}")
    bad = ~(np.isfinite(arr) & (arr >= 0) & (arr == np.floor(arr)) & (arr < 2.0**53))
    if bad.any():
        raise ValueError(f"{name} must be non-negative integer counts, got {float(arr[bad].flat[0])!r}")
    return arr.astype(np.int64)


def _check_confidence(confidence: Any, name: str = "confidence") -> float:
    return as_float(name, confidence, low=0.0, high=1.0, low_open=True, high_open=True)


# ---------------------------------------------------------------------------- counts
@dataclasses.dataclass(frozen=True, eq=False)
class AcceptanceCounts:
    """The sufficient statistics of one user's log under the chain-of-binomials model.

    Attributes
    ----------
    at_risk : ndarray of int64, shape (P,)
        n_i: drafts with a token at position i whose earlier tokens were all accepted.
    accepted : ndarray of int64, shape (P,)
        a_i: drafts whose token at position i was accepted.
    drafts_by_length : ndarray of int64, shape (P + 1,)
        Number of drafts of each length 0..P (the design, kept for the parametric bootstrap).
    at_risk_low : ndarray of int64 (P,), optional
        A lower bound of n_i when the counters do not identify it (drafts shorter than P whose
        split into censored and rejected is unknown, :func:`position_counts`); default: n_i.
    pooled_at_risk_low : int, optional
        A lower bound of sum_i n_i = S + R in that case (it is tighter than the sum of the
        per-position bounds); default: sum_i n_i.
    undrafted_tokens : int
        D x P - draft tokens: the tokens the drafts fell short of the full length P (0 for records).
    """

    at_risk: np.ndarray
    accepted: np.ndarray
    drafts_by_length: np.ndarray
    at_risk_low: np.ndarray | None = None
    pooled_at_risk_low: int | None = None
    undrafted_tokens: int = 0

    @property
    def at_risk_min(self) -> np.ndarray:
        """Lower bounds of the at-risk counts (equal to ``at_risk`` when identified)."""
        return self.at_risk if self.at_risk_low is None else self.at_risk_low

    @property
    def pooled_at_risk_min(self) -> int:
        """Lower bound of sum_i n_i."""
        return int(self.at_risk.sum()) if self.pooled_at_risk_low is None else int(self.pooled_at_risk_low)

    @property
    def positions(self) -> int:
        """P, the longest draft length in the log."""
        return int(self.at_risk.shape[0])

    @property
    def drafts(self) -> int:
        """Number of drafts of length >= 1."""
        return int(self.drafts_by_length[1:].sum())

    @property
    def accepted_tokens(self) -> int:
        """S = sum_d N_d = sum_i a_i."""
        return int(self.accepted.sum())


def position_counts(drafts, accepted_per_position, *, draft_tokens=None, accepted_tokens=None) -> AcceptanceCounts:
    """Counts from vLLM-style counters: drafts and accepted tokens per draft position.

    With every draft of length P = ``len(accepted_per_position)`` (vLLM's ``num_speculative_tokens``),
    n_1 = drafts and n_i = a_{i-1}. When ``draft_tokens`` shows that the drafts fell short of P by
    Delta = D P - draft_tokens tokens in total (drafts shortened near the end of a request, a
    proposer that found fewer tokens), the counters do not say which short drafts were accepted in
    full (censored: they leave the at-risk set) and which were rejected before their end, so n_i
    is only bounded: n_i = a_{i-1} - F_{i-1} with F_l censored drafts of length l, 0 <= F_l <=
    a_l - a_{l+1} (drafts with N = l) and sum_l F_l (P - l) <= Delta. The point estimates take
    F = 0 (the short drafts were rejected: the lowest estimates); the intervals of
    :func:`fit_acceptance` cover every feasible F (``at_risk_low``, ``pooled_at_risk_low``).

    Parameters
    ----------
    drafts : int
        Number of drafts D >= 1 (``vllm:spec_decode_num_drafts``).
    accepted_per_position : array_like of int, shape (P,)
        a_i, drafts whose position i was accepted (``vllm:spec_decode_num_accepted_tokens_per_pos``,
        label ``position`` = i - 1); non-increasing, a_1 <= drafts.
    draft_tokens : int, optional
        ``vllm:spec_decode_num_draft_tokens``; at most drafts x P, at least the accepted tokens.
    accepted_tokens : int, optional
        ``vllm:spec_decode_num_accepted_tokens``; if given, <= draft_tokens and = sum_i a_i.

    Raises
    ------
    ValueError
        Naming the field: a negative or non-integer count, no drafts, no positions, accepted
        above drafted (a_1 > drafts, accepted_tokens > draft_tokens), a count that rises with
        position, a profile longer than the drafts (draft_tokens below the accepted tokens
        sum_i a_i), drafts longer than the profile (draft_tokens > drafts x P: positions beyond P
        are missing), or accepted_tokens != sum of the per-position counts.

    Examples
    --------
    >>> c = position_counts(100, [80, 60, 45])
    >>> c.at_risk.tolist(), c.accepted.tolist()
    ([100, 80, 60], [80, 60, 45])
    """
    D = int(_count_array("drafts", drafts, 0))
    a = _count_array("accepted_per_position", accepted_per_position, 1)
    if D < 1:
        raise ValueError(f"drafts must be >= 1 (no drafts, nothing to fit), got {D}")
    P = a.shape[0]
    if P < 1:
        raise ValueError("accepted_per_position must have at least one position, got []")
    if a[0] > D:
        raise ValueError(f"accepted_per_position[0] = {int(a[0])} exceeds drafts = {D} (accepted above drafted)")
    rises = np.nonzero(np.diff(a) > 0)[0]
    if rises.size:
        i = int(rises[0])
        raise ValueError(f"accepted_per_position rises with position: {int(a[i])} at position {i} then "
                         f"{int(a[i + 1])} at position {i + 1} (a draft accepted at a position was accepted at "
                         "every earlier one)")
    deficit = 0
    if draft_tokens is not None:
        T = int(_count_array("draft_tokens", draft_tokens, 0))
        if T > D * P:
            raise ValueError(
                f"draft_tokens = {T} exceeds drafts x positions = {D} x {P} = {D * P}: drafts longer than the "
                f"per-position profile ({P} positions; the counts of later positions are missing)")
        if T < int(a.sum()):
            raise ValueError(
                f"draft_tokens = {T} is below the accepted tokens of the profile, sum of accepted_per_position = "
                f"{int(a.sum())}: the per-position profile is longer than the drafts (accepted above drafted)")
        deficit = D * P - T
        if accepted_tokens is not None:
            S = int(_count_array("accepted_tokens", accepted_tokens, 0))
            if S > T:
                raise ValueError(f"accepted_tokens = {S} exceeds draft_tokens = {T} (accepted above drafted)")
    if accepted_tokens is not None:
        S = int(_count_array("accepted_tokens", accepted_tokens, 0))
        if S != int(a.sum()):
            raise ValueError(f"accepted_tokens = {S} is not the sum of accepted_per_position = {int(a.sum())}")
    at_risk = np.concatenate([[D], a[:-1]]).astype(np.int64)
    by_length = np.zeros(P + 1, dtype=np.int64)
    by_length[P] = D  # the design used by the bootstrap (short drafts, if any, are not located)
    if deficit == 0:
        return AcceptanceCounts(at_risk=at_risk, accepted=a.copy(), drafts_by_length=by_length)
    # partial identification (docstring): F_l <= min(#{N = l}, Delta // (P - l)) for l = 0..P-1
    exact = at_risk - a  # #{N = l} for l = 0..P-1 (a_{l} - a_{l+1}, a_0 = D)
    cost = P - np.arange(P)  # tokens a censored draft of length l falls short of P
    f_max = np.minimum(exact, deficit // cost)
    # the pooled bound: most censored drafts within the deficit, cheapest (longest) first
    left, total = deficit, 0
    for length in range(P - 1, -1, -1):
        take = min(int(exact[length]), left // int(cost[length]))
        total += take
        left -= take * int(cost[length])
    return AcceptanceCounts(at_risk=at_risk, accepted=a.copy(), drafts_by_length=by_length,
                            at_risk_low=(at_risk - f_max).astype(np.int64),
                            pooled_at_risk_low=int(at_risk.sum()) - total, undrafted_tokens=int(deficit))


def record_counts(draft_lengths, accepted) -> AcceptanceCounts:
    """Counts from per-round records: each draft's length L_d and accepted count N_d.

    n_i = #{d : L_d >= i, N_d >= i - 1} and a_i = #{d : N_d >= i}, computed from the histogram
    of N and of the censored drafts (N_d = L_d): n_i = a_{i-1} - #{d : L_d = N_d = i - 1}.

    Parameters
    ----------
    draft_lengths : array_like of int, shape (D,)
        L_d >= 0 (a record of length 0 drafted nothing and carries no information).
    accepted : array_like of int, shape (D,)
        N_d in [0, L_d].

    Raises
    ------
    ValueError
        Naming the field: negative or non-integer values, different lengths, accepted above the
        draft length, or no draft token at all.

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
    return AcceptanceCounts(at_risk=at_risk.astype(np.int64), accepted=reach[1:].astype(np.int64),
                            drafts_by_length=np.bincount(Ld, minlength=P + 1).astype(np.int64))


# ---------------------------------------------------------------------------- intervals
def binomial_interval(successes, trials, confidence: float = 0.95, method: str = "clopper-pearson"):
    """Exact two-sided interval for a binomial proportion, vectorised.

    Clopper-Pearson: [B(a/2; x, n - x + 1), B(1 - a/2; x + 1, n - x)] with B the beta quantile
    (``scipy.stats.beta.ppf``), 0 at x = 0 and 1 at x = n. Jeffreys: the equal-tailed interval of
    the Beta(x + 1/2, n - x + 1/2) posterior, with the lower end 0 at x = 0 and the upper end 1 at
    x = n (Brown, Cai and DasGupta 2001, Stat. Sci. 16(2)). n = 0 gives [0, 1] (no information).

    Parameters
    ----------
    successes, trials : array_like of int
        x and n, broadcast together, 0 <= x <= n.
    confidence : float in (0, 1)
    method : {'clopper-pearson', 'jeffreys'}

    Returns
    -------
    (low, high) : ndarrays of float64

    Raises
    ------
    ValueError
        Negative or non-integer counts, x > n, confidence outside (0, 1), an unknown method.

    Examples
    --------
    >>> lo, hi = binomial_interval(0, 10)
    >>> float(lo), round(float(hi), 4)        # 1 - 0.025^(1/10)
    (0.0, 0.3085)
    """
    x = _count_array("successes", successes, np.ndim(successes))
    n = _count_array("trials", trials, np.ndim(trials))
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
    a = accepted.astype(np.float64)
    n = at_risk.astype(np.float64)
    if point == "jeffreys":
        return (a + 0.5) / (n + 1.0)
    return np.divide(a, n, out=np.zeros_like(a), where=n > 0)


def _bernoulli_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(Bernoulli(p) || Bernoulli(q)) >= 0, with 0 log 0 = 0 (scipy.special.rel_entr)."""
    return special.rel_entr(p, q) + special.rel_entr(1.0 - p, 1.0 - q)


# ---------------------------------------------------------------------------- the fit
@dataclasses.dataclass(frozen=True, eq=False)
class AcceptanceFit:
    """Per-user acceptance estimates with intervals, the i.i.d. test and mean acceptance lengths.

    Arrays have one row per user (K) and, for profiles, one column per draft position (P, the
    longest draft length over users; shorter users are padded with unidentified positions).

    Attributes
    ----------
    users : tuple of str
        User labels (row order).
    counts : tuple of AcceptanceCounts
        The data of each user.
    at_risk, accepted : ndarray of int64 (K, P)
        n_i and a_i.
    identified : ndarray of bool (K, P)
        n_i > 0 (positions that some draft reached); a prefix 1..P*_k of the positions.
    iid, iid_low, iid_high : ndarray (K,)
        i.i.d. MLE sum a / sum n and its interval.
    iid_std_error : ndarray (K,)
        1 / sqrt(I(alpha^)), I the expected Fisher information sum_d (1 - alpha^L_d) / (alpha (1 - alpha)^2)
        (:func:`theory.acceptance.iid_fisher`); 0 at alpha^ in {0, 1}.
    profile, profile_low, profile_high : ndarray (K, P)
        Position-dependent MLE a_i / n_i (0 where not identified) and its interval ([0, 1] where
        not identified).
    profile_std_error : ndarray (K, P)
        sqrt(alpha_i^ (1 - alpha_i^) / n_i), the inverse root of the information n_i / (alpha_i (1 - alpha_i))
        (:func:`theory.acceptance.positional_fisher`); 0 where not identified.
    lr_statistic, lr_pvalue : ndarray (K,), lr_df : ndarray of int (K,)
        Likelihood-ratio test of i.i.d. against position-dependent, per user.
    combined_lr_statistic, combined_lr_pvalue : float, combined_lr_df : int
        The sum over users (independent users: chi^2 with the summed degrees of freedom).
    observed_mean_acceptance_length : ndarray (K,)
        1 + S / D (vLLM's logged "Mean acceptance length", with the bonus token).
    mean_acceptance_length : dict
        model -> (value, low, high) arrays (K,): A implied at draft length P_k of each user.
    undrafted_tokens : ndarray of int64 (K,)
        Tokens by which vLLM-style drafts fell short of the full length (:func:`position_counts`):
        when > 0, the estimates assume the short drafts were rejected and the intervals are widened
        to cover every split into censored and rejected drafts.
    confidence : float
    interval : str
        'clopper-pearson' or 'jeffreys'.
    source : str
        Where the counts came from (a file name), for the record.
    """

    users: tuple[str, ...]
    counts: tuple[AcceptanceCounts, ...]
    at_risk: np.ndarray
    accepted: np.ndarray
    identified: np.ndarray
    iid: np.ndarray
    iid_low: np.ndarray
    iid_high: np.ndarray
    iid_std_error: np.ndarray
    profile: np.ndarray
    profile_low: np.ndarray
    profile_high: np.ndarray
    profile_std_error: np.ndarray
    lr_statistic: np.ndarray
    lr_df: np.ndarray
    lr_pvalue: np.ndarray
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
    def identified_positions(self) -> int:
        """The longest prefix of positions identified for every user (min_k P*_k)."""
        return int(self.identified.sum(axis=1).min())

    def select(self, level: float = 0.05) -> str:
        """'positional' when the combined LR test rejects i.i.d. at ``level``, else 'iid'."""
        level = _check_confidence(level, "level")
        return "positional" if self.combined_lr_pvalue < level else "iid"

    def alpha(self, model: str, point: str = "mle", positions: int | None = None) -> np.ndarray:
        """The ``alpha`` field of a Scenario from this fit.

        Parameters
        ----------
        model : {'iid', 'positional'}
            (K,) one alpha per user, or (K, positions) profiles.
        point : {'mle', 'jeffreys'}
            The MLE, or the Jeffreys posterior mean (a + 1/2)/(n + 1), which is always in (0, 1).
        positions : int, optional
            Profile length (default and maximum: :attr:`identified_positions`).

        Raises
        ------
        ValueError
            Unknown model or point; ``positions`` outside 1..identified_positions; an estimate of 1,
            which the model excludes (alpha < 1: every draft token seen at that position was
            accepted), naming the user and position.
        """
        as_choice("model", model, MODELS)
        as_choice("point", point, POINTS)
        if model == "iid":
            est = _point(self.accepted.sum(axis=1), self.at_risk.sum(axis=1), point)
            where = "the i.i.d. estimate"
        else:
            top = self.identified_positions
            P = top if positions is None else positions
            if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 1 <= P <= top:
                raise ValueError(f"positions must be an integer in [1, {top}] (identified for every user), got {P!r}")
            est = _point(self.accepted[:, :P], self.at_risk[:, :P], point)
            where = "the position-dependent estimate"
        ones = np.argwhere(est >= 1.0)
        if ones.size:
            k = int(ones[0][0])
            at = f" at position {int(ones[0][1]) + 1}" if est.ndim == 2 else ""
            raise ValueError(
                f"alpha: {where} of user {self.users[k]!r}{at} is 1 (every draft token there was accepted); "
                "the model needs alpha < 1: use point='jeffreys' (posterior mean (a + 1/2)/(n + 1)) or more data")
        return est

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every estimate, interval and test."""
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
        return out


def fit_acceptance(counts, users: Sequence[str] | None = None, confidence: float = 0.95,
                   interval: str = "clopper-pearson", source: str = "") -> AcceptanceFit:
    """Fit the i.i.d. and position-dependent acceptance models to each user's counts.

    Formulas: module docstring and :mod:`theory.acceptance` (docs/model.md, "Acceptance from
    measurements").

    Parameters
    ----------
    counts : AcceptanceCounts, a sequence of them, or a mapping label -> AcceptanceCounts
        One entry per user.
    users : sequence of str, optional
        Labels (default: the mapping's keys, or '0', '1', ...).
    confidence : float in (0, 1)
        Level of every interval (default 0.95).
    interval : {'clopper-pearson', 'jeffreys'}
    source : str
        A description of the data, kept in the result.

    Returns
    -------
    AcceptanceFit

    Raises
    ------
    ValueError
        No users, a non-AcceptanceCounts entry, labels of the wrong number or repeated, a bad
        confidence or interval method.

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
    for k, c in enumerate(items):
        if not isinstance(c, AcceptanceCounts):
            raise ValueError(f"counts[{k}] must be AcceptanceCounts (position_counts, record_counts), "
                             f"got {type(c).__name__}")
    if len(labels) != len(items) or len(set(labels)) != len(labels):
        raise ValueError(f"users must be {len(items)} distinct labels, got {labels!r}")
    conf = _check_confidence(confidence)
    as_choice("interval", interval, INTERVALS)

    K = len(items)
    P = max(c.positions for c in items)
    n = np.zeros((K, P), dtype=np.int64)
    n_low = np.zeros((K, P), dtype=np.int64)  # lower bounds where the counters leave n_i open
    a = np.zeros((K, P), dtype=np.int64)
    for k, c in enumerate(items):
        n[k, :c.positions] = c.at_risk
        n_low[k, :c.positions] = c.at_risk_min
        a[k, :c.positions] = c.accepted
    ident = n > 0

    # i.i.d.: pooled binomial form of the censored likelihood (theory.acceptance.iid_mle); an
    # interval's ends decrease with the trials, so the union over n in [n_low, n] is [lo(n), hi(n_low)]
    S, T = a.sum(axis=1), n.sum(axis=1)
    T_low = np.array([c.pooled_at_risk_min for c in items], dtype=np.int64)
    iid = _point(S, T, "mle")
    iid_lo, _ = binomial_interval(S, T, conf, interval)
    _, iid_hi = binomial_interval(S, T_low, conf, interval)
    iid_se = np.array([_iid_std_error(float(iid[k]), c.drafts_by_length) for k, c in enumerate(items)])
    # positional: chain of binomials (theory.acceptance.positional_mle)
    prof = _point(a, n, "mle")
    prof_lo, _ = binomial_interval(a, n, conf, interval)
    _, prof_hi = binomial_interval(a, n_low, conf, interval)
    prof_se = np.sqrt(np.divide(prof * (1.0 - prof), n, out=np.zeros(prof.shape), where=ident))

    # LR test: 2 sum_i n_i KL(alpha_i^ || alpha^) (theory.acceptance.lr_statistic_as_divergence)
    lr = 2.0 * np.sum(np.where(ident, n * _bernoulli_kl(prof, iid[:, None]), 0.0), axis=1)
    df = np.maximum(ident.sum(axis=1) - 1, 0)
    pval = np.where(df > 0, stats.chi2.sf(lr, np.maximum(df, 1)), 1.0)
    c_lr, c_df = float(lr.sum()), int(df.sum())
    c_p = float(stats.chi2.sf(c_lr, c_df)) if c_df > 0 else 1.0

    # mean acceptance length A: observed 1 + S/D, and implied by each model at length P_k
    Pk = np.array([c.positions for c in items])
    D = np.array([c.drafts for c in items], dtype=np.float64)
    observed = 1.0 + S / D
    mal: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
        "iid": (expected_tokens(iid, Pk), expected_tokens(iid_lo, Pk), expected_tokens(iid_hi, Pk)),
    }
    box_lo, _ = _bonferroni_box(a, n, Pk, conf, interval)
    _, box_hi = _bonferroni_box(a, n_low, Pk, conf, interval)
    mal["positional"] = (expected_tokens_positional(prof, Pk), expected_tokens_positional(box_lo, Pk),
                         expected_tokens_positional(box_hi, Pk))
    return AcceptanceFit(
        users=tuple(labels), counts=tuple(items), at_risk=n, accepted=a, identified=ident,
        iid=iid, iid_low=np.asarray(iid_lo, dtype=np.float64), iid_high=np.asarray(iid_hi, dtype=np.float64),
        iid_std_error=iid_se, profile=prof, profile_low=prof_lo, profile_high=prof_hi, profile_std_error=prof_se,
        lr_statistic=lr, lr_df=df.astype(np.int64), lr_pvalue=pval,
        undrafted_tokens=np.array([c.undrafted_tokens for c in items], dtype=np.int64),
        combined_lr_statistic=c_lr, combined_lr_df=c_df, combined_lr_pvalue=c_p,
        observed_mean_acceptance_length=observed, mean_acceptance_length=mal,
        confidence=conf, interval=interval, source=str(source),
    )


def _iid_std_error(alpha: float, drafts_by_length: np.ndarray) -> float:
    """1 / sqrt(sum_L m_L I_L(alpha)), I_L = (1 - alpha^L) / (alpha (1 - alpha)^2) (theory.acceptance.iid_fisher)."""
    if not 0.0 < alpha < 1.0:
        return 0.0  # the information is infinite at the boundary (the likelihood is a point mass)
    L = np.arange(drafts_by_length.shape[0], dtype=np.float64)
    info = float(np.sum(drafts_by_length * -np.expm1(L * math.log(alpha)))) / (alpha * (1.0 - alpha) ** 2)
    return 1.0 / math.sqrt(info)


def _bonferroni_box(a: np.ndarray, n: np.ndarray, Pk: np.ndarray, conf: float, method: str):
    """Per-position intervals at level 1 - (1 - conf)/P_k: together they cover the whole profile
    with probability >= conf (Bonferroni), so their image under the increasing map A does too."""
    lo = np.zeros(a.shape)
    hi = np.ones(a.shape)
    for k in range(a.shape[0]):
        level = 1.0 - (1.0 - conf) / Pk[k]
        lo[k], hi[k] = binomial_interval(a[k], n[k], level, method)
    return lo, hi


# ---------------------------------------------------------------------------- bootstrap
def _bootstrap_counts(counts: AcceptanceCounts, alpha: np.ndarray, draws: int, rng: np.random.Generator):
    """Parametric bootstrap of one user's counts: same design (drafts by length), acceptance
    alpha (P,) by position; returns (accepted, at_risk) of shape (draws, P)."""
    P = counts.positions
    acc = np.zeros((draws, P), dtype=np.int64)
    risk = np.zeros((draws, P), dtype=np.int64)
    for length in range(1, P + 1):
        m = int(counts.drafts_by_length[length])
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


def draft_length_by_batch_size(scenario: Scenario, max_users: int = 64) -> dict[str, Any]:
    """Best common draft length L*(K) for K = 1..max_users users (the batch size).

    The scenario's users are cycled to K users (:func:`cycle_users`) and solved in the
    homogeneous regime (docs/model.md H1-H4). The result's ``num_speculative_tokens_per_batch_size``
    lists inclusive ranges (range_start, range_end, L), the shape of vLLM's
    ``SpeculativeConfig.num_speculative_tokens_per_batch_size`` (``vllm/config/speculative.py``:
    "Each entry is (range_start, range_end, num_speculative_tokens) with an inclusive batch-size
    range").

    Returns
    -------
    dict
        ``users`` (K), ``draft_length`` (L*), ``goodput`` (G*), and
        ``num_speculative_tokens_per_batch_size``.

    Raises
    ------
    ValueError
        If ``max_users`` is not an integer >= 1.
    """
    max_users = as_int("max_users", max_users, low=1, high=MAX_USERS, limit="numerics.validation.MAX_USERS")
    Ks = np.arange(1, int(max_users) + 1)
    L = np.empty(Ks.size, dtype=np.int64)
    G = np.empty(Ks.size)
    for idx, K in enumerate(Ks):
        sol = _solve(cycle_users(scenario, int(K)), "homogeneous")
        L[idx] = int(sol.draft_lengths[0])
        G[idx] = sol.goodput
    return {"users": Ks, "draft_length": L, "goodput": G,
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
        draws); ``lengths_changed`` (fraction of solved draws whose optimal draft lengths differ
        from the point's); ``regret`` and ``relative_regret`` (mean over solved draws of
        G*(alpha*) - G(alpha*; point decision), absolute [tokens/s] and over G*(alpha*));
        ``solved`` (number of draws solved) and ``failures`` (list of (draw, error message));
        ``beaten_by_point``: draws where the point decision did better under alpha* than the
        solver's own answer for alpha* (negative regret beyond round-off: a sub-optimal solve,
        reported rather than hidden).
    batch_table : dict
        ``users``, ``draft_length`` (L* at the point estimate), ``draft_length_low`` and
        ``draft_length_high`` (percentiles over the draws), for the users grid.
    num_speculative_tokens_per_batch_size : list of (int, int, int)
        The point-estimate L*(K) for every K = 1..max(users grid), as inclusive ranges
        (vLLM's ``num_speculative_tokens_per_batch_size`` shape).
    rejected_draws : list of (int, str)
        Bootstrap draws whose refitted alpha left the model (alpha* = 1 with point='mle').
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


def decision_uncertainty(scenario: Scenario, fit: AcceptanceFit, model: str | None = None, point: str = "mle",
                         draws: int = 40, seed: int = 0, regimes: Sequence[str] = ("homogeneous", "heterogeneous"),
                         confidence: float = 0.95, users: Sequence[int] = (1, 2, 4, 8, 16, 32)) -> DecisionUncertainty:
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

    A draw whose refit leaves the model (alpha* = 1 with point='mle') is listed in
    ``rejected_draws``; a solver failure on a draw is listed in the regime's ``failures``; both
    are counted, never dropped silently.

    Parameters
    ----------
    scenario : Scenario
        The system (K users, matching the fit's users).
    fit : AcceptanceFit
    model : {'iid', 'positional'}, optional
        Default: ``fit.select()`` (positional when the LR test rejects i.i.d. at 5%).
    point : {'mle', 'jeffreys'}
    draws : int >= 1
    seed : int >= 0
    regimes : sequence of {'homogeneous', 'heterogeneous'}
    confidence : float in (0, 1)
    users : sequence of int >= 1
        Grid of numbers of users for the batch-size table (users cycled, :func:`cycle_users`).

    Returns
    -------
    DecisionUncertainty

    Raises
    ------
    ValueError
        Naming the argument: a fit with another number of users than the scenario, a bad model,
        point, regime, draws, seed, confidence or users grid; the point estimate itself leaving
        the model (see :meth:`AcceptanceFit.alpha`).
    """
    if not isinstance(fit, AcceptanceFit):
        raise ValueError(f"fit must be an AcceptanceFit (fit_acceptance), got {type(fit).__name__}")
    scenario = as_scenario(scenario)
    if fit.n_users != scenario.n_users:
        raise ValueError(f"fit has {fit.n_users} users but the scenario has {scenario.n_users}")
    model = fit.select() if model is None else as_choice("model", model, MODELS)
    as_choice("point", point, POINTS)
    draws = as_int("draws", draws, low=1)
    seed = as_int("seed", seed, low=0)
    conf = _check_confidence(confidence)
    regimes = tuple(regimes)
    if not regimes:
        raise ValueError("regimes must name at least one regime, got ()")
    for r in regimes:
        as_choice("regimes", r, ("homogeneous", "heterogeneous"))
    grid = np.asarray(users)
    if grid.ndim != 1 or grid.size == 0 or not all(isinstance(u, (int, np.integer)) and not isinstance(u, bool)
                                                   and u >= 1 for u in users):
        raise ValueError(f"users must be a non-empty sequence of integers >= 1, got {users!r}")

    alpha_hat = fit.alpha(model, point)
    base = scenario.replace(alpha=alpha_hat, max_draft=alpha_hat.shape[1]) if model == "positional" \
        else scenario.replace(alpha=alpha_hat)
    width = base.max_draft  # the profile's length (positional); unused by the i.i.d. draws

    # bootstrap draws of alpha*: per user, simulate the counts and refit
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    star = np.empty((draws, *alpha_hat.shape))
    for k, c in enumerate(fit.counts):
        P = c.positions
        truth = np.full(P, alpha_hat[k]) if model == "iid" else np.concatenate(
            [alpha_hat[k], np.zeros(max(P - width, 0))])[:P]
        acc, risk = _bootstrap_counts(c, truth, draws, rng)
        if model == "iid":
            star[:, k] = _point(acc.sum(axis=1), risk.sum(axis=1), point)
        else:
            star[:, k, :] = _point(acc[:, :width], risk[:, :width], point)
    rejected = [(b, "alpha* = 1 (every bootstrap draft token at some position accepted)")
                for b in range(draws) if np.any(star[b] >= 1.0)]
    good = [b for b in range(draws) if not np.any(star[b] >= 1.0)]
    tail = (1.0 - conf) / 2.0

    from .latency import goodput as goodput_at

    out: dict[str, dict[str, Any]] = {}
    for regime in regimes:
        sol = _solve(base, regime)
        G_star, regret, rel, changed, failures = [], [], [], 0, []
        for b in good:
            sb = base.replace(alpha=star[b])
            try:
                sol_b = _solve(sb, regime)
            except _SOLVER_ERRORS as exc:  # recorded and reported, never dropped silently
                failures.append((b, f"{type(exc).__name__}: {exc}"))
                continue
            G_b = sol_b.goodput
            G_star.append(G_b)
            loss = G_b - goodput_at(sb, sol.draft_lengths, sol.bandwidth)
            regret.append(loss)
            rel.append(loss / G_b)
            changed += int(not np.array_equal(sol_b.draft_lengths, sol.draft_lengths))
        solved = len(G_star)
        arr = np.asarray(G_star)
        out[regime] = {
            "goodput": sol.goodput,
            "draft_lengths": sol.draft_lengths.copy(),
            "goodput_low": float(np.quantile(arr, tail)) if solved else math.nan,
            "goodput_high": float(np.quantile(arr, 1.0 - tail)) if solved else math.nan,
            "lengths_changed": changed / solved if solved else math.nan,
            "regret": float(np.mean(regret)) if solved else math.nan,
            "relative_regret": float(np.mean(rel)) if solved else math.nan,
            "solved": solved,
            "failures": failures,
            "beaten_by_point": int(sum(r < -1e-9 * g for r, g in zip(regret, G_star, strict=True))),
        }

    # batch-size table on the users grid, with the spread of L* over the draws
    Lp, Llo, Lhi = [], [], []
    for K_users in grid.tolist():
        Lp.append(int(_solve(cycle_users(base, K_users), "homogeneous").draft_lengths[0]))
        Ls = [int(_solve(cycle_users(base.replace(alpha=star[b]), K_users), "homogeneous").draft_lengths[0])
              for b in good]
        Llo.append(int(np.quantile(Ls, tail, method="lower")) if Ls else Lp[-1])
        Lhi.append(int(np.quantile(Ls, 1.0 - tail, method="higher")) if Ls else Lp[-1])
    table = {"users": grid.astype(np.int64), "draft_length": np.asarray(Lp, dtype=np.int64),
             "draft_length_low": np.asarray(Llo, dtype=np.int64), "draft_length_high": np.asarray(Lhi, dtype=np.int64)}
    schedule = draft_length_by_batch_size(base, int(grid.max()))["num_speculative_tokens_per_batch_size"]
    return DecisionUncertainty(model=model, point=point, draws=int(draws), seed=int(seed), confidence=conf,
                               regimes=out, batch_table=table, num_speculative_tokens_per_batch_size=schedule,
                               rejected_draws=rejected)
