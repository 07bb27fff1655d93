"""Accepted draft tokens per round, derived from the truncated geometric law (docs/model.md sec. 2).

Each of L draft tokens is accepted with probability alpha, independently, until the first
rejection; N counts the accepted ones:

    P(N = n) = alpha^n (1 - alpha)  (0 <= n < L),      P(N = L) = alpha^L.

Nothing below is typed in: the mean, the tokens per round A = E[N] + 1 and the variance are
obtained by SymPy summation of this pmf (for an integer L), and then read as functions of a
real L >= 0 (the continuous relaxation of the solvers). The alpha = 1 branch that SymPy's
summation returns (N = L surely) is kept as :func:`expected_accepted_at_one` and must agree
with the limit alpha -> 1.

Sign facts (each returned by a function that lets SymPy decide, on alpha = 1/(1 + q), q > 0):

- :func:`increasing_in_L`: dA/dL = -alpha^(L+1) ln(alpha) / (1 - alpha) > 0;
- :func:`concave_in_L`: d2A/dL2 = -alpha^(L+1) ln(alpha)^2 / (1 - alpha) < 0;
- :func:`increasing_in_alpha`: (1 - alpha)^2 dA/dalpha = 1 - (L+1) alpha^L + L alpha^(L+1)
  vanishes at alpha = 1 and has derivative -L (L+1) alpha^(L-1) (1 - alpha) < 0, hence it
  is positive on (0, 1) for L > 0;
- :func:`convex_in_alpha`: for an integer L, A = sum_{m=0}^{L} alpha^m has non-negative
  coefficients, so A is convex (not concave) in alpha. For real L the statement is checked
  numerically by ``proofs_check`` (claim ``tokens-convex-alpha``): convex for L >= 1, while for
  real L in (0, 1) A is concave in alpha instead.

Numerical evaluation: :mod:`numerics.tokens` (tied to these expressions by
``tests/test_theory_core.py``).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .symbols import L, L_int, a, alpha, i, in_unit_interval, j, n

__all__ = [
    "accepted_pmf",
    "accepted_second_moment",
    "accepted_variance",
    "alpha_derivative_numerator",
    "concave_in_L",
    "convex_in_alpha",
    "expected_accepted",
    "expected_accepted_at_one",
    "expected_tokens",
    "expected_tokens_polynomial",
    "expected_tokens_positional",
    "expected_tokens_tail_sum",
    "increasing_in_L",
    "increasing_in_alpha",
    "marginal_tokens",
    "pmf_total",
    "tokens_alpha_derivative",
    "tokens_curvature_in_L",
    "tokens_limit",
]


def accepted_pmf() -> sp.Piecewise:
    """P(N = n) of the truncated geometric law, in :data:`~theory.symbols.n` and integer L.

    Returns
    -------
    sympy.Piecewise
        alpha^n (1 - alpha) for n < L, alpha^L for n = L, 0 otherwise.
    """
    return sp.Piecewise(
        (alpha**n * (1 - alpha), n < L_int),
        (alpha**L_int, sp.Eq(n, L_int)),
        (0, True),
    )


def _expect(f: sp.Expr) -> sp.Expr:
    """E[f(N)] = sum_{n<L} f(n) alpha^n (1 - alpha) + f(L) alpha^L, by SymPy summation (all alpha)."""
    body = sp.summation(f * alpha**n * (1 - alpha), (n, 0, L_int - 1))
    return body + f.subs(n, L_int) * alpha**L_int


def _generic(expr: sp.Expr) -> sp.Expr:
    """The alpha != 1 branch of the Piecewise results of :func:`_expect`."""
    return expr.subs(sp.Eq(alpha, 1), sp.false)


@cache
def pmf_total() -> sp.Expr:
    """sum_n P(N = n), derived by summation; simplifies to 1 (a check of the pmf)."""
    return sp.simplify(_generic(_expect(sp.Integer(1))))


@cache
def expected_accepted() -> sp.Expr:
    r"""E[N] derived by summation of the pmf, as a function of real L (alpha in (0, 1)).

    Equals :math:`\alpha (1 - \alpha^L) / (1 - \alpha)` (docs/model.md sec. 2; the tests compare).

    Examples
    --------
    >>> from theory.symbols import alpha, L
    >>> import sympy as sp
    >>> sp.simplify(expected_accepted() - alpha * (1 - alpha**L) / (1 - alpha))
    0
    """
    return sp.simplify(_generic(_expect(n))).subs(L_int, L)


@cache
def expected_accepted_at_one() -> sp.Expr:
    """The alpha = 1 branch of the summation for E[N] (every token accepted): L."""
    return sp.simplify(_expect(n).subs(sp.Eq(alpha, 1), sp.true).subs(alpha, 1)).subs(L_int, L)


@cache
def expected_tokens() -> sp.Expr:
    r"""Tokens per round A(alpha, L) = E[N] + 1 (accepted drafts plus the server's token).

    Equals :math:`(1 - \alpha^{L+1}) / (1 - \alpha)`; numerics: :func:`numerics.expected_tokens`.

    Examples
    --------
    >>> from theory.symbols import alpha, L
    >>> expected_tokens().subs({alpha: sp.Rational(1, 2), L: 2})
    7/4
    """
    return sp.simplify(1 + expected_accepted())


@cache
def accepted_second_moment() -> sp.Expr:
    """E[N^2] derived by summation of the pmf (real L, alpha in (0, 1))."""
    return sp.simplify(_generic(_expect(n**2))).subs(L_int, L)


@cache
def accepted_variance() -> sp.Expr:
    r"""Var N = E[N^2] - E[N]^2 (closed form; it cancels near alpha = 0 and 1 in floating point).

    Equals :math:`\alpha (1 - (2L+1)\alpha^L + (2L+1)\alpha^{L+1} - \alpha^{2L+1}) / (1-\alpha)^2`.
    Numerics (a centred sum, stable): :func:`numerics.accepted_variance`.
    """
    return sp.factor(sp.simplify(accepted_second_moment() - expected_accepted() ** 2))


@cache
def tokens_limit(at: int) -> sp.Expr:
    """lim A(alpha, L) as alpha -> ``at`` (0 from above or 1 from below): 1 and L + 1.

    Raises
    ------
    ValueError
        If ``at`` is not 0 or 1.
    """
    if at not in (0, 1):
        raise ValueError(f"at must be 0 or 1, got {at!r}")
    return sp.limit(expected_tokens(), alpha, at, "+" if at == 0 else "-")


@cache
def marginal_tokens() -> sp.Expr:
    r"""A'(L) = dA/dL = :math:`-\alpha^{L+1}\ln\alpha / (1 - \alpha)` (used by D3, D4, D6)."""
    return sp.simplify(sp.diff(expected_tokens(), L))


@cache
def tokens_curvature_in_L() -> sp.Expr:
    """d2A/dL2 (negative: A is concave in L)."""
    return sp.simplify(sp.diff(expected_tokens(), L, 2))


@cache
def tokens_alpha_derivative() -> sp.Expr:
    """dA/dalpha at fixed L."""
    return sp.simplify(sp.diff(expected_tokens(), alpha))


@cache
def alpha_derivative_numerator() -> sp.Expr:
    """(1 - alpha)^2 dA/dalpha = 1 - (L+1) alpha^L + L alpha^(L+1) (derived, then expanded)."""
    return sp.expand(sp.simplify(tokens_alpha_derivative() * (1 - alpha) ** 2))


def expected_tokens_polynomial(length: int) -> sp.Expr:
    """A for a given integer draft length, as the polynomial sum_{m=0}^{L} alpha^m (derived).

    Raises
    ------
    ValueError
        If ``length`` is not an integer >= 0.
    """
    _check_length(length)
    return sp.expand(sp.cancel(expected_tokens().subs(L, length)))


def _check_length(length: object) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")


def expected_tokens_positional(length: int) -> sp.Expr:
    r"""A with position-dependent acceptance a[1..L], derived from the pmf for a given L.

    P(N = m) = (prod_{j<=m} a_j)(1 - a_{m+1}) for m < L and prod_{j<=L} a_j for m = L;
    A = 1 + sum_m m P(N = m), expanded. Equals :func:`expected_tokens_tail_sum` (docs/model.md:
    A = 1 + sum_i prod_{j<=i} alpha_j), and :func:`expected_tokens` when every a_j = alpha.

    Raises
    ------
    ValueError
        If ``length`` is not an integer >= 0.
    """
    _check_length(length)
    reach = [sp.Mul(*[a[jj] for jj in range(1, m + 1)]) for m in range(length + 1)]  # P(N >= m)
    pmf = [reach[m] * (1 - a[m + 1]) for m in range(length)] + [reach[length]]
    return sp.expand(1 + sum(m * p for m, p in enumerate(pmf)))


def expected_tokens_tail_sum(length: int) -> sp.Expr:
    """1 + sum_{i=1}^{L} prod_{j=1}^{i} a_j (the tail-sum form of docs/model.md), for a given L."""
    _check_length(length)
    if length == 0:
        return sp.Integer(1)
    return 1 + sp.Sum(sp.Product(a[j], (j, 1, i)), (i, 1, length)).doit()


def _decide_positive(expr: sp.Expr) -> bool | None:
    return sp.simplify(in_unit_interval(expr)).is_positive


def increasing_in_L() -> bool | None:
    """SymPy's decision that dA/dL > 0 for every alpha in (0, 1) and L >= 0 (True)."""
    return _decide_positive(marginal_tokens())


def concave_in_L() -> bool | None:
    """SymPy's decision that d2A/dL2 < 0 for every alpha in (0, 1) and L >= 0 (True)."""
    return _decide_positive(-tokens_curvature_in_L())


def increasing_in_alpha() -> bool | None:
    """SymPy's decision that dA/dalpha > 0 on (0, 1) for every real L > 0 (module docstring).

    Three steps, each decided by SymPy: the numerator P(alpha) = (1 - alpha)^2 dA/dalpha
    vanishes at alpha = 1; dP/dalpha = -L (L+1) alpha^(L-1) (1 - alpha); that factor is
    negative on (0, 1) for L > 0. So P decreases to P(1) = 0 and is positive before it.
    Returns None if any step is undecided.
    """
    Lp = sp.Symbol("L", positive=True)
    P = alpha_derivative_numerator().subs(L, Lp)
    if sp.simplify(P.subs(alpha, 1)) != 0:
        return None
    slope = -Lp * (Lp + 1) * alpha ** (Lp - 1) * (1 - alpha)
    if sp.simplify(sp.diff(P, alpha) - slope) != 0:
        return None
    neg = _decide_positive(-slope)
    return None if neg is None else bool(neg)


def convex_in_alpha(length: int) -> bool | None:
    """For an integer L: every coefficient of A = sum alpha^m is >= 0, so A is convex on [0, 1).

    Returns True when SymPy finds all coefficients of :func:`expected_tokens_polynomial`
    non-negative, None otherwise.
    """
    poly = sp.Poly(expected_tokens_polynomial(length), alpha)
    return True if all(co >= 0 for co in poly.all_coeffs()) else None
