"""Accepted draft tokens per round (docs/model.md section 2, "Acceptance").

Each draft token is accepted with probability alpha, independently, until the first
rejection; N is the number of accepted draft tokens out of L (a truncated geometric law):

    P(N = n) = alpha^n (1 - alpha)  for n < L,      P(N = L) = alpha^L.

Symbolic source: :mod:`theory.tokens` (derived there by SymPy summation, tied to these
functions by ``tests/test_tokens.py``).

Numerics: 1 - alpha^L is evaluated as -expm1(L log(alpha)) and 1 - alpha is exact in
binary floating point for alpha >= 1/2, so the closed forms keep full relative precision
for alpha within 1e-12 of 0 or 1 and for L in the thousands (no cancellation, no overflow).
"""

from __future__ import annotations

import numpy as np

from .validation import MAX_DRAFT, as_float_array, fmt

__all__ = [
    "accepted_pmf",
    "accepted_variance",
    "expected_accepted",
    "expected_tokens",
    "expected_tokens_positional",
    "marginal_tokens",
]


def _check_alpha(alpha: np.ndarray, name: str = "alpha", allow_one: bool = True) -> None:
    ok = (alpha >= 0) & ((alpha <= 1) if allow_one else (alpha < 1))
    if not np.all(ok):
        bad = alpha[~ok].flat[0] if alpha.ndim else alpha
        rng = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must lie in {rng}, got {float(bad)!r}")


def _check_length(L: np.ndarray, name: str = "L") -> None:
    ok = (L >= 0) & np.isfinite(L)
    if not np.all(ok):
        bad = L[~ok].flat[0] if L.ndim else L
        raise ValueError(f"{name} must be finite and >= 0, got {float(bad)!r}")


def _one_minus_pow(alpha: np.ndarray, L: np.ndarray) -> np.ndarray:
    """1 - alpha**L without cancellation: -expm1(L log alpha); alpha = 0 -> 1 (L > 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = L * np.log(alpha)  # alpha = 0 gives -inf (L > 0) or nan (L = 0)
        out = -np.expm1(x)
    out = np.where(L == 0, 0.0, out)
    return np.where((alpha == 0) & (L > 0), 1.0, out)


def expected_accepted(alpha, L):
    r"""Expected accepted draft tokens :math:`E[N] = \alpha (1 - \alpha^L) / (1 - \alpha)`.

    Parameters
    ----------
    alpha : array_like
        Acceptance probability in [0, 1]; alpha = 1 gives the limit L.
    L : array_like
        Draft length >= 0 (real values give the continuous relaxation).

    Returns
    -------
    ndarray (float64), broadcast of the inputs.

    Raises
    ------
    ValueError
        alpha outside [0, 1], L negative or not finite (NaN included).

    Examples
    --------
    >>> float(expected_accepted(0.5, 2))   # by hand: 1 * 0.25 + 2 * 0.25 (P(N=1), P(N=2) of the pmf)
    0.75
    """
    a = as_float_array("alpha", alpha, None)
    L = as_float_array("L", L, None)
    _check_alpha(a)
    _check_length(L)
    one = a == 1
    a_safe = np.where(one, 0.5, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = a_safe * _one_minus_pow(a_safe, L) / (1.0 - a_safe)
    return np.where(one, L + 0.0 * a, val)[()]


def expected_tokens(alpha, L):
    r"""Tokens produced per round :math:`A(\alpha, L) = (1 - \alpha^{L+1}) / (1 - \alpha) = 1 + E[N]`.

    Arguments and errors as for :func:`expected_accepted` (alpha in [0, 1], L >= 0 real).
    Limits: A = 1 at alpha = 0 and A = L + 1 at alpha = 1. Increasing and concave in L,
    increasing in alpha (derived in :func:`theory.tokens.expected_tokens`; the sign facts are
    :func:`theory.tokens.increasing_in_L`, ``concave_in_L``, ``increasing_in_alpha``).

    Examples
    --------
    >>> float(expected_tokens(0.5, 2))   # by hand: 1 + 0.5 + 0.25
    1.75
    >>> float(expected_tokens(0.0, 1000)), float(expected_tokens(1.0, 7))   # the limits 1 and L + 1
    (1.0, 8.0)
    """
    return (1.0 + np.asarray(expected_accepted(alpha, L)))[()]


def marginal_tokens(alpha, L):
    r"""Derivative in L of the continuous relaxation: :math:`A'(L) = -\alpha^{L+1} \ln\alpha / (1 - \alpha)`.

    Positive, decreasing in L (A is concave) and increasing in alpha at fixed L (D4).
    At alpha = 0 it is 0 and at alpha = 1 it is 1 (the limits). Symbolic source:
    :func:`theory.tokens.marginal_tokens`.

    Raises
    ------
    ValueError
        alpha outside [0, 1] or NaN; L negative or not finite.

    Examples
    --------
    >>> round(float(marginal_tokens(0.5, 0)), 12)   # -0.5 ln(0.5) / (1 - 0.5) = ln 2
    0.69314718056
    """
    a = as_float_array("alpha", alpha, None)
    L = as_float_array("L", L, None)
    _check_alpha(a)
    _check_length(L)
    one = a == 1
    zero = a == 0
    a_safe = np.where(one | zero, 0.5, a)
    val = np.power(a_safe, L + 1.0) * (-np.log(a_safe)) / (1.0 - a_safe)  # pow: ~1 ulp for any exponent
    return np.where(one, 1.0, np.where(zero, 0.0, val))[()]


def accepted_pmf(alpha, L: int) -> np.ndarray:
    """The pmf of N over n = 0..L (truncated geometric); the last axis indexes n.

    P(N = n) = alpha^n (1 - alpha) for n < L and alpha^L for n = L
    (:func:`theory.tokens.accepted_pmf`); alpha broadcasts, L is one integer.

    Raises
    ------
    ValueError
        alpha outside [0, 1] or NaN; L not an integer >= 0.

    Examples
    --------
    >>> accepted_pmf(0.5, 2).tolist()   # alpha^n (1 - alpha) for n = 0, 1 and alpha^2 for n = L = 2
    [0.5, 0.25, 0.25]
    """
    a = as_float_array("alpha", alpha, None)
    _check_alpha(a)
    L = _check_int_length(L)
    n = np.arange(L + 1, dtype=np.float64)
    a_ = a[..., None]
    pw = np.power(a_, n)  # alpha^n to ~1 ulp for every n (0^0 = 1); underflows to 0 gracefully
    pmf = pw * (1.0 - a_)
    pmf[..., L] = pw[..., L]
    return pmf


def _check_int_length(L) -> int:
    """L as a Python int; ValueError unless it is an integer-valued number in [0, MAX_DRAFT]
    (:data:`numerics.validation.MAX_DRAFT`: the pmf has L + 1 entries per alpha)."""
    ok = not isinstance(L, (bool, np.bool_, str, bytes)) and np.ndim(L) == 0
    if ok and isinstance(L, (int, np.integer)):
        ok = bool(L >= 0)
    elif ok:
        try:
            f = float(L)
        except (TypeError, ValueError, OverflowError):
            ok = False
        else:
            ok = np.isfinite(f) and f >= 0 and f == int(f)
    if not ok:
        raise ValueError(f"L must be an integer >= 0, got {fmt(L)}")
    if int(L) > MAX_DRAFT:
        raise ValueError(f"L must be <= {MAX_DRAFT} (limit numerics.validation.MAX_DRAFT), got {fmt(L)}")
    return int(L)


def accepted_variance(alpha, L: int):
    r"""Variance of N, :math:`\sum_n P(N=n)(n - E[N])^2`.

    Evaluated as the centred sum over the pmf (O(L) per element, no cancellation: every term
    is non-negative), which keeps relative precision where the closed form of
    :func:`theory.tokens.accepted_variance` cancels catastrophically (alpha near 0 or 1).
    Errors as for :func:`accepted_pmf`.

    Examples
    --------
    >>> float(accepted_variance(0.5, 1))   # L = 1: N is Bernoulli(0.5), variance 0.5 * 0.5
    0.25
    """
    a = as_float_array("alpha", alpha, None)
    pmf = accepted_pmf(a, L)
    L = _check_int_length(L)
    mean = np.asarray(expected_accepted(a, L))[..., None]
    n = np.arange(L + 1, dtype=np.float64)
    return np.sum(pmf * (n - mean) ** 2, axis=-1)[()]


def expected_tokens_positional(alphas, L):
    r"""Tokens per round with position-dependent acceptance: :math:`A = 1 + \sum_{i \le L} \prod_{j \le i} \alpha_j`.

    Symbolic source: :func:`theory.tokens.expected_tokens_positional` (derived from the pmf).

    Parameters
    ----------
    alphas : array_like, shape (..., M)
        alpha_1..alpha_M along the last axis, each in [0, 1].
    L : array_like, broadcast against ``alphas[..., 0]``
        Draft length in [0, M]; a real L interpolates linearly between integers (the
        continuous relaxation used by the solvers).

    Raises
    ------
    ValueError
        A scalar ``alphas``; an entry outside [0, 1]; L negative, not finite, or above M.

    Examples
    --------
    >>> float(expected_tokens_positional([0.5, 0.5, 0.5], 2))  # = expected_tokens(0.5, 2)
    1.75
    """
    al = as_float_array("alphas", alphas, None)
    if al.ndim == 0:
        raise ValueError("alphas must have a last axis of positions, got a scalar")
    _check_alpha(al, "alphas")
    L = as_float_array("L", L, None)
    _check_length(L)
    M = al.shape[-1]
    if np.any(L > M):
        raise ValueError(f"L must be <= {M} (the profile length), got {float(np.max(L))!r}")
    # cumulative sums S_i = sum_{m <= i} prod_{j <= m} alpha_j, with S_0 = 0
    S = np.concatenate([np.zeros((*al.shape[:-1], 1)), np.cumsum(np.cumprod(al, axis=-1), axis=-1)], axis=-1)
    shape = np.broadcast_shapes(S.shape[:-1], L.shape)
    S = np.broadcast_to(S, (*shape, M + 1))
    Lb = np.broadcast_to(L, shape)
    lo = np.floor(Lb).astype(np.int64)
    hi = np.minimum(lo + 1, M)
    frac = Lb - lo
    s_lo = np.take_along_axis(S, lo[..., None], axis=-1)[..., 0]
    s_hi = np.take_along_axis(S, hi[..., None], axis=-1)[..., 0]
    return (1.0 + s_lo + frac * (s_hi - s_lo))[()]
