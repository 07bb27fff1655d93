"""Latency, round time and goodput of an operating point (MODEL.md section 2).

    h_k(beta)  = t_k + s_k / r_k(beta)                     per-token latency
    T_v(n)     = v0 + v1 n,  n = sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded)
    T          = max_k L_k h_k(beta_k) + T_v(n) + T_o      round time
    G          = sum_k A(alpha_k, L_k) / T                  sum token goodput

Symbolic source: :mod:`theory.latency`.
"""

from __future__ import annotations

import numpy as np

from .channel import rate
from .scenario import Scenario
from .tokens import expected_tokens, expected_tokens_positional
from .validation import as_bool, as_draft_lengths, as_float_array, as_operating_point, as_scenario, check_range

__all__ = [
    "per_token_latency",
    "verification_latency",
    "batch_size",
    "drafting_time",
    "tokens_per_round",
    "round_time",
    "goodput",
    "check_point",
]


def check_point(scenario: Scenario, L, beta, continuous: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate an operating point and return (L, beta) as float64 arrays of length K.

    :func:`numerics.validation.as_operating_point`: raises ``ValueError`` (naming the field
    and the value) for a scenario that is not a Scenario, a bool/None/string where a number
    belongs, wrong lengths, L outside [0, max_draft] or not an integer (unless
    ``continuous``), beta negative or not finite, sum(beta) > 1 + 1e-12, and beta_k = 0 for
    a user with s_k > 0 and L_k > 0.
    """
    return as_operating_point(scenario, L, beta, as_bool("continuous", continuous))


def per_token_latency(scenario: Scenario, beta) -> np.ndarray:
    """h_k(beta_k) = t_k + s_k / r_k(beta_k); +inf where beta_k = 0 and s_k > 0, t_k where s_k = 0.

    Symbolic source: :func:`theory.latency.per_token_latency`.

    Raises
    ------
    ValueError
        ``scenario`` not a Scenario; beta not a number or array of K numbers, negative or
        not finite (:mod:`numerics.validation`); a positive beta_k so small that
        s_k / r_k(beta_k) overflows (above 1.8e308 s: beta = 1e-320 at 10 kHz, say), naming
        ``beta[k]`` (:mod:`numerics.validation`, Limits).
    """
    scenario = as_scenario(scenario)
    return _per_token_latency(scenario, _shares(scenario, beta))


def _per_token_latency(scenario: Scenario, beta: np.ndarray) -> np.ndarray:
    """:func:`per_token_latency` of checked shares."""
    r = rate(scenario.rate_model, beta, scenario.bandwidth_hz, scenario.channel)
    s = scenario.bits_per_token
    with np.errstate(over="ignore"):
        up = np.where(r > 0, s / np.where(r > 0, r, 1.0), np.inf)  # s / r, r = 0 -> inf
        h = scenario.t_draft + np.where(s > 0, up, 0.0)
    _check_time("the upload time s_k / r_k(beta_k)", h, (s > 0) & (np.broadcast_to(beta, h.shape) > 0), beta)
    return h


def _check_time(what: str, time: np.ndarray, positive: np.ndarray, beta: np.ndarray) -> None:
    """ValueError naming beta[k] where a positive share gives a time that overflows (module docstring of
    :mod:`numerics.validation`, Limits: a share that small is outside what a double can time)."""
    bad = positive & ~np.isfinite(time)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        b = float(np.broadcast_to(beta, time.shape)[k])
        raise ValueError(f"beta[{k}] = {b!r} is too small: {what} of user {k} overflows (above "
                         f"{np.finfo(np.float64).max:.3g} s); give user {k} a larger share (or 0 with L_{k} = 0)")


def _shares(scenario: Scenario, beta) -> np.ndarray:
    """beta as a float64 scalar or array of length K, finite and >= 0 (the sum is not checked here)."""
    beta = as_float_array("beta", beta, (0, 1))
    if beta.ndim == 1 and beta.shape != (scenario.n_users,):
        raise ValueError(f"beta must be a scalar or have length K={scenario.n_users}, got shape {beta.shape}")
    check_range("beta", beta, 0.0)
    return beta


def drafting_time(scenario: Scenario, L, beta) -> np.ndarray:
    """Per-user drafting-plus-upload time L_k h_k(beta_k) (0 for L_k = 0).

    L and beta are checked as by :func:`per_token_latency` and :func:`batch_size` (real L
    allowed: the continuous relaxation); a positive share whose L_k h_k(beta_k) overflows is
    refused naming ``beta[k]``.
    """
    L = _lengths(scenario, L)
    return _drafting_time(scenario, L, _shares(scenario, beta))


def _drafting_time(scenario: Scenario, L: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """:func:`drafting_time` of checked L and shares."""
    h = _per_token_latency(scenario, beta)
    with np.errstate(over="ignore"):
        d = np.where(L > 0, L * np.where(np.isfinite(h), h, 0.0), 0.0) + np.where((L > 0) & ~np.isfinite(h), np.inf, 0.0)
    _check_time("the drafting-plus-upload time L_k h_k(beta_k)", d,
                (L > 0) & (np.broadcast_to(beta, d.shape) > 0), beta)
    return d


def _lengths(scenario: Scenario, L) -> np.ndarray:
    """L as a float64 array of length K (a scalar broadcasts); ValueError unless in [0, max_draft]."""
    return as_draft_lengths(as_scenario(scenario), L, continuous=True)


def batch_size(scenario: Scenario, L) -> float:
    """Tokens in the verification batch: sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded).

    Symbolic source: :func:`theory.latency.batch_size`. Raises ``ValueError`` for L of the
    wrong length or outside [0, max_draft].
    """
    return _batch_size(scenario, _lengths(scenario, L))


def _batch_size(scenario: Scenario, L: np.ndarray) -> float:
    if scenario.batching == "ragged":
        return float(np.sum(L + 1.0))
    return float(scenario.n_users * (np.max(L) + 1.0))


def verification_latency(scenario: Scenario, L) -> float:
    """T_v(n) = v0 + v1 n for the batch of draft lengths L (:func:`theory.latency.verification_latency`).

    Examples
    --------
    >>> s = Scenario(alpha=0.8, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.1, v1=0.01, batching='padded')
    >>> round(verification_latency(s, 4), 12)   # 0.1 + 0.01 * 1 * (4 + 1)
    0.15
    """
    n = batch_size(scenario, L)  # checks the scenario and L first
    return scenario.v0 + scenario.v1 * n


def tokens_per_round(scenario: Scenario, L) -> np.ndarray:
    """A(alpha_k, L_k) per user; position-dependent profiles use ``expected_tokens_positional``."""
    return _tokens_per_round(scenario, _lengths(scenario, L))


def _tokens_per_round(scenario: Scenario, L: np.ndarray) -> np.ndarray:
    if scenario.positional:
        return expected_tokens_positional(scenario.alpha, L)
    return expected_tokens(scenario.alpha, L)


def round_time(scenario: Scenario, L, beta, continuous: bool = False) -> float:
    """T = max_k L_k h_k(beta_k) + T_v(n) + T_o for a feasible point (validated).

    Symbolic source: :func:`theory.latency.round_time`.

    Parameters
    ----------
    scenario : Scenario
    L : int or array_like (K,)
        Draft lengths in [0, max_draft]; integers unless ``continuous``.
    beta : float or array_like (K,)
        Band shares, >= 0, summing to at most 1 + 1e-12.
    continuous : bool
        Accept real draft lengths (the continuous relaxation of the solvers).

    Raises
    ------
    ValueError
        For an infeasible point (see :func:`check_point`), naming the field and the value; for
        a positive share so small that the user's drafting-plus-upload time overflows (above
        1.8e308 s), naming ``beta[k]`` (:mod:`numerics.validation`, Limits).

    Examples
    --------
    >>> s = Scenario(alpha=0.8, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.1)
    >>> round(round_time(s, 4, 1.0), 12)   # 4 (0.01 + 0.01) + 0.1
    0.18
    """
    L, beta = check_point(scenario, L, beta, continuous)
    return _round_time(scenario, L, beta)


def _round_time(scenario: Scenario, L: np.ndarray, beta: np.ndarray) -> float:
    """:func:`round_time` of a checked point (the public functions check once, then call these)."""
    T_v = scenario.v0 + scenario.v1 * _batch_size(scenario, L)
    return float(np.max(_drafting_time(scenario, L, beta)) + T_v + scenario.overhead)


def goodput(scenario: Scenario, L, beta, continuous: bool = False) -> float:
    """Sum token goodput G = sum_k A(alpha_k, L_k) / T [tokens/s] for a feasible point.

    Symbolic source: :func:`theory.latency.goodput`; A from :func:`numerics.expected_tokens`
    (or :func:`numerics.expected_tokens_positional` for a position-dependent profile).
    Arguments as for :func:`round_time`.

    Raises
    ------
    ValueError
        For an infeasible point (see :func:`check_point`), or a positive share so small that
        the user's drafting-plus-upload time overflows (naming ``beta[k]``: decided in
        :mod:`numerics.validation`, Limits). (The goodput is always finite: a
        Scenario guarantees every round at least v0 + v1 K + overhead >= 1e-12 s,
        :data:`numerics.validation.MIN_ROUND_TIME`.)

    Examples
    --------
    >>> s = Scenario(alpha=0.5, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.1)
    >>> round(goodput(s, 2, 1.0), 12)   # A = 1.75 tokens in 2 (0.01 + 0.01) + 0.1 = 0.14 s
    12.5
    """
    L, beta = check_point(scenario, L, beta, continuous)
    T = _round_time(scenario, L, beta)  # >= v0 + v1 K + overhead >= 1e-12 s (numerics.validation.MIN_ROUND_TIME)
    return float(np.sum(_tokens_per_round(scenario, L)) / T)
