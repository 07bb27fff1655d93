"""Monte Carlo draws of the accepted draft count N (docs/model.md sec. 2, "Acceptance").

The draws follow the mechanism, not the law derived from it: draft position i is accepted
with probability alpha_i (alpha_i = alpha for the i.i.d. model) as long as every earlier
position was accepted, so N = number of leading accepted positions out of L. Its law is the
truncated geometric pmf of :func:`numerics.accepted_pmf` (positional: P(N >= i) = prod_{j<=i}
alpha_j), which the tests and the figure ``tokens_per_round`` check against these draws.
"""

from __future__ import annotations

import math

import numpy as np

from .tokens import _check_int_length
from .validation import MAX_SAMPLES, as_float_array, fmt

__all__ = ["sample_accepted"]


def _check_size(size) -> tuple[int, ...]:
    try:
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
    except (TypeError, ValueError):
        shape = (None,)
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"size must be an integer >= 0 or a tuple of them, got {fmt(size)}")
    total = math.prod(int(d) for d in shape)
    if total > MAX_SAMPLES:
        raise ValueError(f"size {fmt(size)} asks for {total} draws, above the limit "
                         f"numerics.validation.MAX_SAMPLES = {MAX_SAMPLES}")
    return tuple(int(d) for d in shape)


def sample_accepted(alpha, L, size, rng: np.random.Generator) -> np.ndarray:
    """Draw N, the accepted draft tokens of one round, by per-token Bernoulli acceptance.

    Parameters
    ----------
    alpha : float or array_like (M,)
        Per-token acceptance probability in [0, 1] (i.i.d. model), or a position-dependent
        profile alpha_1..alpha_M with M >= L (only the first L entries are used).
    L : int
        Draft length >= 0.
    size : int or tuple of int
        Shape of the output (number of independent rounds).
    rng : numpy.random.Generator
        The source of randomness (seed it: ``np.random.default_rng(seed)``).

    Returns
    -------
    ndarray of int64, shape ``size``
        Draws of N in {0, ..., L}; N + 1 tokens are produced in the round.

    Raises
    ------
    ValueError
        alpha outside [0, 1] or NaN, a profile shorter than L or not 1-D, L not an integer
        in [0, MAX_DRAFT], size not a non-negative integer (or tuple) or more than
        :data:`numerics.validation.MAX_SAMPLES` draws in all, rng not a ``numpy.random.Generator``.

    Notes
    -----
    Cost O(size * E[N]): position i draws uniforms only for the rounds still accepting.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = sample_accepted(0.8, 4, 100_000, rng)
    >>> int(n.min()), int(n.max()), bool(abs(n.mean() - 0.8 * (1 - 0.8**4) / 0.2) < 0.02)
    (0, 4, True)
    >>> sample_accepted([1.0, 1.0, 0.0], 3, 2, rng).tolist()   # positions 1, 2 always, 3 never
    [2, 2]
    """
    a = as_float_array("alpha", alpha, None)
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        raise ValueError(f"alpha must lie in [0, 1], got {float(a[bad].flat[0]) if a.ndim else float(a)!r}")
    if a.ndim > 1:
        raise ValueError(f"alpha must be a scalar or a 1-D profile, got an array of shape {a.shape}")
    L = _check_int_length(L)  # an integer-valued number in [0, MAX_DRAFT]
    if a.ndim == 1 and a.shape[0] < L:
        raise ValueError(f"alpha profile has {a.shape[0]} positions, fewer than L={L}")
    shape = _check_size(size)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")

    total = int(np.prod(shape, dtype=np.int64))
    counts = np.zeros(total, dtype=np.int64)
    alive = np.arange(total)  # rounds whose positions 1..i-1 were all accepted
    for pos in range(L):
        if alive.size == 0:
            break
        p = a[pos] if a.ndim else a
        alive = alive[rng.random(alive.size) < p]  # Bernoulli(alpha_i) at position i
        counts[alive] += 1
    return counts.reshape(shape)
