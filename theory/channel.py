"""Uplink rate models, their shape, and the Shannon-rate inverse (docs/model.md sec. 2, "Uplink rate").

- ``linear``:  r(beta) = beta B eta
- ``shannon``: r(beta) = beta B log2(1 + rho / beta)  (noise power grows with the share)

Both are increasing and concave in beta (:func:`rate_increasing`, :func:`rate_concave`).
The Shannon rate tends to B rho / ln 2 as beta -> inf (:func:`shannon_rate_supremum`), so a
rate r is reachable iff c = r ln 2 / (B rho) < 1. Its inverse is derived with ``solve``
(:func:`shannon_share_for_rate`):

    beta = c rho / (-W_{-1}(-c e^{-c}) - c)  =  rho / (y - 1),   y = -W_{-1}(-c e^{-c}) / c.

``solve`` returns the principal branch W_0; on it W_0(-c e^{-c}) = -c (because -c >= -1 lies
in the range of W_0), the denominator vanishes and beta = inf: that is the trivial root of
log(1 + x) = c x at x = rho / beta = 0. The finite share is the other real root, on W_{-1}.

Numerics: :mod:`numerics.channel` (tied to these expressions by ``tests/test_theory_core.py``).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .symbols import B, beta, c, eta, r, rho

__all__ = [
    "RATE_MODELS",
    "linear_share_for_rate",
    "rate",
    "rate_concave",
    "rate_derivative",
    "rate_increasing",
    "rate_linear",
    "rate_shannon",
    "shannon_rate_supremum",
    "shannon_share_for_rate",
    "shannon_share_for_rate_principal",
    "shannon_share_normalised",
]

RATE_MODELS = ("linear", "shannon")


def rate_linear() -> sp.Expr:
    """r(beta) = beta B eta [bit/s]."""
    return beta * B * eta


def rate_shannon() -> sp.Expr:
    """r(beta) = beta B log2(1 + rho / beta) [bit/s]."""
    return beta * B * sp.log(1 + rho / beta) / sp.log(2)


def rate(rate_model: str) -> sp.Expr:
    """The rate expression of ``rate_model`` ('linear' or 'shannon').

    Raises
    ------
    ValueError
        For an unknown rate model.
    """
    if rate_model == "linear":
        return rate_linear()
    if rate_model == "shannon":
        return rate_shannon()
    raise ValueError(f"rate_model must be one of {RATE_MODELS}, got {rate_model!r}")


def rate_derivative(rate_model: str, order: int = 1) -> sp.Expr:
    """d^order r / d beta^order, simplified."""
    return sp.simplify(sp.diff(rate(rate_model), beta, order))


@cache
def rate_increasing(rate_model: str) -> bool | None:
    """SymPy's decision that dr/dbeta > 0 for every beta > 0.

    Linear: B eta > 0. Shannon: dr/dbeta = B phi(rho/beta) / ln 2 with
    phi(x) = log(1 + x) - x / (1 + x); phi(0) = 0 and phi'(x) = x / (1 + x)^2 > 0, so phi > 0
    for x > 0. Each step is decided by SymPy; None if one is not.
    """
    d = rate_derivative(rate_model)
    if rate_model == "linear":
        return d.is_positive
    x = sp.Symbol("x", positive=True)
    phi = sp.log(1 + x) - x / (1 + x)
    if sp.simplify(d - B * phi.subs(x, rho / beta) / sp.log(2)) != 0:
        return None
    if phi.subs(x, 0) != 0:
        return None
    return sp.simplify(sp.diff(phi, x)).is_positive


@cache
def rate_concave(rate_model: str) -> bool | None:
    """SymPy's decision that d2r/dbeta2 <= 0 (linear: = 0; Shannon: -B rho^2/(beta (beta+rho)^2 ln 2) < 0)."""
    return rate_derivative(rate_model, 2).is_nonpositive


@cache
def shannon_rate_supremum() -> sp.Expr:
    """lim_{beta -> inf} of the Shannon rate: B rho / ln 2 (the rate is reachable iff c < 1)."""
    return sp.limit(rate_shannon(), beta, sp.oo)


@cache
def shannon_share_for_rate_principal() -> sp.Expr:
    """The root of r(beta) = r that ``sympy.solve`` returns (principal Lambert-W branch)."""
    sols = sp.solve(sp.Eq(rate_shannon(), r), beta)
    if len(sols) != 1:
        raise ValueError(f"expected one solution from solve, got {sols!r}")
    return sols[0]


@cache
def shannon_share_for_rate() -> sp.Expr:
    r"""The finite band share that achieves rate r with the Shannon model (W_{-1} branch).

    Derived: ``solve`` gives the root on the principal branch (module docstring); the finite
    share is the same expression on branch -1. In terms of c = r ln 2/(B rho) < 1 it reads
    :math:`\beta = c\rho / (-W_{-1}(-c e^{-c}) - c)`; see :func:`shannon_share_normalised`.

    Numerics: :func:`numerics.channel.rate_inverse` with ``rate_model='shannon'``.
    """
    return shannon_share_for_rate_principal().replace(
        sp.LambertW, lambda z, *branch: sp.LambertW(z, -1)
    )


@cache
def shannon_share_normalised() -> sp.Expr:
    """:func:`shannon_share_for_rate` written in c = r ln 2 / (B rho): c rho / (-W_{-1}(-c e^{-c}) - c).

    Obtained by substituting r = c B rho / ln 2 and simplifying (the tests check the form).
    """
    expr = shannon_share_for_rate().subs(r, c * B * rho / sp.log(2))
    return sp.simplify(sp.powsimp(sp.expand_power_exp(expr), force=True))


def linear_share_for_rate() -> sp.Expr:
    """beta = r / (B eta), the inverse of the linear rate (derived with ``solve``)."""
    (sol,) = sp.solve(sp.Eq(rate_linear(), r), beta)
    return sol
