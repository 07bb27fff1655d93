"""Tokens per round A(alpha, L) in JAX with a custom JVP that stays accurate at the edges.

With y = -log(alpha) >= 0 and g = (1 - alpha^L) / (1 - alpha) = expm1(-L y) / expm1(-y)
(docs/model.md section 2; symbolic source :func:`theory.tokens.expected_tokens`):

    A         = 1 + alpha g
    dA/dL     = -alpha^(L+1) log(alpha) / (1 - alpha)  = alpha e^{-L y} y / (-expm1(-y))
    dA/dalpha = g (1 + psi(y) - L psi(L y)),          psi(z) = 1/expm1(z) - 1/z

psi is the derivative of log((1 - e^{-z}) / z) and lies in (-1/2, 0], so the bracket is a sum
of positive terms: no cancellation anywhere, unlike autodiff of the closed form, which
subtracts two terms of size 1/(1-alpha)^2 to get L (L+1) / 2 as alpha -> 1. For z < 1/2 psi
comes from its Bernoulli series (psi(z) = -1/2 + sum_m B_2m z^(2m-1) / (2m)!). Limits:
A = L + 1, dA/dL = 1, dA/dalpha = L (L+1)/2 at alpha = 1; A = 1, dA/dL = 0, dA/dalpha = 1
(L > 0) at alpha = 0; dA/dalpha = 0 at L = 0.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp

__all__ = [
    "expected_tokens",
    "expected_tokens_profile",
    "marginal_tokens",
    "marginal_tokens_profile",
    "profile_slopes",
    "tokens_alpha_derivative",
]

# B_2 .. B_16 (Bernoulli numbers); coefficients B_2m / (2m)! of psi's series
_BERNOULLI = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
              Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510)]
_PSI_COEF = [float(b / math.factorial(2 * m)) for m, b in enumerate(_BERNOULLI, start=1)]
_Y_SERIES = 0.5  # psi series truncation error at z < 1/2: below 1e-17


def _psi(z):
    """psi(z) = 1/expm1(z) - 1/z for z >= 0 (psi(0) = -1/2), accurate to a few ulp."""
    small = z < _Y_SERIES
    zs = jnp.where(small, 1.0, z)
    direct = 1.0 / jnp.expm1(zs) - 1.0 / zs
    zz = jnp.where(small, z, 0.0)
    z2 = zz * zz
    acc = jnp.zeros_like(zz)
    for c in _PSI_COEF[::-1]:
        acc = acc * z2 + c
    return jnp.where(small, -0.5 + zz * acc, direct)


def _prep(alpha, L):
    """Broadcast; y = -log(alpha) (a finite stand-in at alpha = 0 and 1); g = (1-alpha^L)/(1-alpha)."""
    alpha = jnp.asarray(alpha, dtype=jnp.float64)
    L = jnp.asarray(L, dtype=jnp.float64)
    alpha, L = jnp.broadcast_arrays(alpha, L)
    zero, one = alpha == 0, alpha == 1
    y = -jnp.log(jnp.where(zero | one, 0.5, alpha))
    g = jnp.expm1(-L * y) / jnp.expm1(-y)
    g = jnp.where(one, L, jnp.where(zero, jnp.where(L > 0, 1.0, 0.0), g))
    return alpha, L, zero, one, y, g


@jax.jit
def _tokens(alpha, L):
    alpha, L, _zero, _one, _y, g = _prep(alpha, L)
    return 1.0 + alpha * g


@jax.jit
def marginal_tokens(alpha, L):
    r""":math:`\partial A / \partial L = -\alpha^{L+1}\ln\alpha / (1-\alpha)` (1 at alpha = 1, 0 at alpha = 0).

    Symbolic source: :func:`theory.tokens.marginal_tokens`.

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)   # float64: required by numerics.differentiable
    >>> round(float(marginal_tokens(0.5, 0.0)), 12)
    0.69314718056
    """
    alpha, L, zero, one, y, _g = _prep(alpha, L)
    val = alpha * jnp.exp(-L * y) * y / (-jnp.expm1(-y))  # alpha^(L+1) as alpha e^{-L y}
    return jnp.where(zero, 0.0, jnp.where(one, 1.0, val))


@jax.jit
def tokens_alpha_derivative(alpha, L):
    r""":math:`\partial A / \partial\alpha` at fixed L, by the cancellation-free form of the module docstring.

    Symbolic source: :func:`theory.tokens.tokens_alpha_derivative`.

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)
    >>> float(tokens_alpha_derivative(0.5, 1.0)), float(tokens_alpha_derivative(1.0, 3.0))
    (1.0, 6.0)
    """
    alpha, L, zero, one, y, g = _prep(alpha, L)
    ys = jnp.where(one, 0.0, y)
    bracket = 1.0 + _psi(ys) - L * _psi(L * ys)
    return jnp.where(zero, g, g * bracket)


@jax.custom_jvp
def expected_tokens(alpha, L):
    r"""Tokens per round :math:`A(\alpha, L) = (1 - \alpha^{L+1}) / (1 - \alpha)`, differentiable.

    Parameters
    ----------
    alpha : array_like
        Acceptance probability in [0, 1] (alpha = 1: the limit L + 1).
    L : array_like
        Draft length >= 0, real (continuous relaxation); broadcast against ``alpha``.

    Notes
    -----
    Custom JVP with the stable partial derivatives of the module docstring (accurate for
    alpha within 1e-12 of 0 or 1 and L in the thousands; no NaN at alpha = 0, 1 or L = 0).
    Symbolic source: :func:`theory.tokens.expected_tokens` (docs/model.md section 2). Inputs are
    not validated (traced code): outside the domain the result is unspecified.

    Examples
    --------
    >>> jax.config.update("jax_enable_x64", True)
    >>> float(expected_tokens(0.5, 2.0)), float(jax.grad(expected_tokens, 1)(0.5, 0.0))
    (1.75, 0.6931471805599453)
    """
    return _tokens(alpha, L)


@expected_tokens.defjvp
def _tokens_jvp(primals, tangents):
    alpha, L = primals
    ad, Ld = tangents
    out = _tokens(alpha, L)
    return out, tokens_alpha_derivative(alpha, L) * ad + marginal_tokens(alpha, L) * Ld


# ------------------------------------------------------------------ position-dependent profiles
def profile_slopes(alpha):
    r"""Slopes and cumulative sums of a profile: c_j = prod_{i <= j} alpha_i, S_j = sum_{i <= j} c_i.

    ``alpha`` has shape (..., M); returns (c, S) with c of shape (..., M) (c[..., j-1] =
    A(j) - A(j-1)) and S of shape (..., M + 1) (S[..., 0] = 0, A(j) = 1 + S[..., j]).
    """
    c = jnp.cumprod(alpha, axis=-1)
    S = jnp.concatenate([jnp.zeros((*c.shape[:-1], 1), c.dtype), jnp.cumsum(c, axis=-1)], axis=-1)
    return c, S


def _segment(L, M: int):
    """Index l of the segment (l, l+1] holding L, as ceil(L) - 1 clipped to [0, M-1] (L = 0: segment 0)."""
    return jnp.clip(jnp.ceil(L).astype(jnp.int32) - 1, 0, M - 1)


def expected_tokens_profile(alpha, L):
    r"""Tokens per round with position-dependent acceptance, A linear between integers (differentiable).

    .. math:: A(L) = 1 + S_l + (L - l)\, c_{l+1}, \qquad l = \lceil L \rceil - 1

    (docs/model.md section 2; the continuous relaxation of :func:`numerics.tokens.expected_tokens_positional`).

    Parameters
    ----------
    alpha : array (..., M)
        alpha_1..alpha_M of each user, in [0, 1].
    L : array (...)
        Draft length in [0, M] (real).

    Notes
    -----
    The segment is chosen as (l, l+1] with l = ceil(L) - 1, so that at an integer L = j >= 1 the
    derivative in L is the left one, c_j (the slope of the segment ending at j), and at L = 0
    the right one, c_1; the value is continuous and its derivative in alpha at an integer L
    does not involve alpha_{j+1}. This is the convention of the NumPy relaxation
    (the left slope at an integer length).
    """
    alpha = jnp.asarray(alpha, dtype=jnp.float64)
    L = jnp.asarray(L, dtype=jnp.float64)
    M = alpha.shape[-1]
    c, S = profile_slopes(alpha)
    idx = jax.lax.stop_gradient(_segment(L, M))
    c_l = jnp.take_along_axis(c, idx[..., None], axis=-1)[..., 0]
    S_l = jnp.take_along_axis(S, idx[..., None], axis=-1)[..., 0]
    return 1.0 + S_l + (L - idx) * c_l


def marginal_tokens_profile(alpha, L):
    """dA/dL of a profile: c_{ceil(L)} (the left derivative at an integer L >= 1, c_1 at L = 0)."""
    alpha = jnp.asarray(alpha, dtype=jnp.float64)
    L = jnp.asarray(L, dtype=jnp.float64)
    c, _ = profile_slopes(alpha)
    idx = _segment(L, alpha.shape[-1])
    return jnp.take_along_axis(c, idx[..., None], axis=-1)[..., 0]
