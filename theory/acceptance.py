"""Acceptance from measurements: likelihoods, MLEs, Fisher information, LR test (SymPy).

Data. A serving log holds, for D drafts, each draft's length L_d and accepted count N_d
(the accepted prefix, 0 <= N_d <= L_d). Draft position i (1-based) is *at risk* in draft d
when the draft has a token there (L_d >= i) and every earlier token was accepted
(N_d >= i - 1); it is *accepted* when N_d >= i. Per position, over all drafts:

    n_i = #{d : L_d >= i, N_d >= i - 1}   (at risk),     a_i = #{d : N_d >= i}   (accepted).

With one draft length L for every draft (vLLM's counters), n_1 = D and n_i = a_{i-1}: position
i is reached by the drafts accepted up to i - 1.

i.i.d. model (docs/model.md sec. 2). P(N = n) = alpha^n (1 - alpha) for n < L and alpha^L for
n = L (:func:`theory.tokens.accepted_pmf`). A draft accepted in full is *censored*: its
first rejection lies beyond its length. The log-likelihood of D drafts is

    l(alpha) = S log(alpha) + R log(1 - alpha),   S = sum_d N_d,   R = #{d : N_d < L_d}

(:func:`draft_loglik` derives one draft's term from the pmf; :func:`iid_loglik` sums it). Its
score S/alpha - R/(1 - alpha) vanishes at the closed-form MLE alpha^ = S / (S + R)
(:func:`iid_mle`, derived by ``solve``); l is strictly concave (:func:`iid_concave`). The
expected information of one draft of length L is (:func:`iid_fisher`, derived from E[N] and
P(N < L) = 1 - alpha^L)

    I_L(alpha) = (1 - alpha^L) / (alpha (1 - alpha)^2).

Position-dependent model (a chain of binomials). Position i accepts with its own probability
alpha_i; given n_i drafts at risk, a_i ~ Binomial(n_i, alpha_i), and the at-risk count of the
next position is determined by the past. The log-likelihood is
sum_i [a_i log(alpha_i) + (n_i - a_i) log(1 - alpha_i)] (:func:`positional_loglik`), with MLE
alpha_i^ = a_i / n_i (:func:`positional_mle`) and Fisher information diag(n_i / (alpha_i
(1 - alpha_i))) given the at-risk counts (:func:`positional_fisher`).

Nesting. Per draft, the at-risk positions number min(L_d, N_d + 1) = N_d + [N_d < L_d], so
sum_i n_i = S + R and sum_i a_i = S: the i.i.d. log-likelihood is the positional one with every
alpha_i = alpha (:func:`nesting_identity`, checked for every (N, L) with L <= 8). The i.i.d.
MLE is the pooled binomial proportion sum a / sum n.

Likelihood-ratio test of i.i.d. against position-dependent (P identified positions, df = P - 1):

    Lambda = 2 [l_pos(alpha_1^..alpha_P^) - l_iid(alpha^)] = 2 sum_i n_i KL(alpha_i^ || alpha^),

KL(p || q) = p log(p/q) + (1 - p) log((1 - p)/(1 - q)) the Bernoulli relative entropy
(:func:`lr_statistic`, :func:`lr_statistic_as_divergence`); asymptotically chi^2 with P - 1
degrees of freedom under the i.i.d. model (Wilks).

Numerical counterpart: :mod:`numerics.acceptance` (tied to these expressions by
``tests/test_acceptance_theory.py`` and the claims of ``proofs_check/claims_acceptance.py``).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .symbols import L_int, alpha, in_unit_interval, n
from .tokens import accepted_pmf, expected_accepted

__all__ = [
    "N_d",
    "R",
    "S",
    "draft_loglik",
    "iid_concave",
    "iid_fisher",
    "iid_loglik",
    "iid_mle",
    "iid_score",
    "lr_statistic",
    "lr_statistic_as_divergence",
    "nesting_identity",
    "positional_fisher",
    "positional_loglik",
    "positional_mle",
    "positional_symbols",
]

#: total accepted draft tokens S = sum_d N_d and rejections R = #{d : N_d < L_d} (counts >= 0)
S = sp.Symbol("S", nonnegative=True, integer=True)
R = sp.Symbol("R", nonnegative=True, integer=True)
#: accepted count of one draft
N_d = n


def draft_loglik(accepted: int, length: int) -> sp.Expr:
    """Log-likelihood of one draft of length ``length`` with ``accepted`` tokens accepted.

    The log of :func:`theory.tokens.accepted_pmf` at (n, L) = (accepted, length), expanded:
    ``accepted log(alpha) + [accepted < length] log(1 - alpha)``.

    Raises
    ------
    ValueError
        Unless 0 <= accepted <= length are integers.
    """
    for name, v in (("accepted", accepted), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if accepted > length:
        raise ValueError(f"accepted must be <= length={length}, got {accepted!r}")
    p = accepted_pmf().subs({n: accepted, L_int: length})
    return sp.expand_log(sp.log(p), force=True)


@cache
def iid_loglik() -> sp.Expr:
    """l(alpha) = S log(alpha) + R log(1 - alpha): the sum of :func:`draft_loglik` over drafts.

    Each draft contributes N_d log(alpha), plus log(1 - alpha) when it was rejected (N_d < L_d);
    collecting the coefficients gives S and R (the test checks this against sums of
    :func:`draft_loglik`).
    """
    return S * sp.log(alpha) + R * sp.log(1 - alpha)


@cache
def iid_score() -> sp.Expr:
    """dl/dalpha = S/alpha - R/(1 - alpha)."""
    return sp.diff(iid_loglik(), alpha)


@cache
def iid_mle() -> sp.Expr:
    """The root of the score: alpha^ = S / (S + R) (``solve``; S + R > 0).

    Examples
    --------
    >>> iid_mle()
    S/(R + S)
    """
    (root,) = sp.solve(sp.Eq(iid_score(), 0), alpha)
    return sp.simplify(root)


def iid_concave() -> bool | None:
    """SymPy's decision that d2l/dalpha2 = -S/alpha^2 - R/(1 - alpha)^2 < 0 on (0, 1) for
    positive counts (so the root of the score is the maximum)."""
    Sp, Rp = sp.symbols("S_p R_p", positive=True)
    second = sp.diff(iid_loglik(), alpha, 2).subs({S: Sp, R: Rp})
    return sp.simplify(in_unit_interval(-second)).is_positive


@cache
def iid_fisher() -> sp.Expr:
    r"""Expected information of one draft of (real) length L: E[-d2l/dalpha2].

    E[N] = :func:`theory.tokens.expected_accepted`, E[R] = P(N < L) = 1 - alpha^L; simplifies to
    :math:`(1 - \alpha^L) / (\alpha (1 - \alpha)^2)`.
    """
    from .symbols import L

    second = sp.diff(iid_loglik(), alpha, 2)
    EN = expected_accepted()
    ER = 1 - alpha**L
    return sp.simplify(-second.subs({S: EN, R: ER}))


def positional_symbols(positions: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """(alpha_1..alpha_P, a_1..a_P, n_1..n_P): probabilities, accepted and at-risk counts.

    Raises
    ------
    ValueError
        If ``positions`` is not an integer >= 1.
    """
    if isinstance(positions, bool) or not isinstance(positions, int) or positions < 1:
        raise ValueError(f"positions must be an integer >= 1, got {positions!r}")
    rng = range(1, positions + 1)
    al = tuple(sp.Symbol(f"alpha_{i}", positive=True) for i in rng)
    acc = tuple(sp.Symbol(f"a_{i}", nonnegative=True, integer=True) for i in rng)
    risk = tuple(sp.Symbol(f"n_{i}", nonnegative=True, integer=True) for i in rng)
    return al, acc, risk


def positional_loglik(positions: int) -> sp.Expr:
    """sum_i a_i log(alpha_i) + (n_i - a_i) log(1 - alpha_i) (chain of binomials)."""
    al, acc, risk = positional_symbols(positions)
    return sp.Add(*[x * sp.log(p) + (m - x) * sp.log(1 - p) for p, x, m in zip(al, acc, risk, strict=True)])


def positional_mle(positions: int) -> tuple[sp.Expr, ...]:
    """alpha_i^ = a_i / n_i: the root of each position's score (``solve``; n_i > 0)."""
    al, _, _ = positional_symbols(positions)
    ll = positional_loglik(positions)
    out = []
    for p in al:
        (root,) = sp.solve(sp.Eq(sp.diff(ll, p), 0), p)
        out.append(sp.simplify(root))
    return tuple(out)


def positional_fisher(positions: int) -> sp.Matrix:
    """Information given the at-risk counts: -Hessian at E[a_i | n_i] = n_i alpha_i.

    Diagonal, with entries n_i / (alpha_i (1 - alpha_i)).
    """
    al, acc, risk = positional_symbols(positions)
    H = sp.hessian(positional_loglik(positions), al)
    return sp.simplify(-H.subs({x: m * p for p, x, m in zip(al, acc, risk, strict=True)}))


def nesting_identity(max_length: int = 8) -> bool:
    """Per draft, the positional log-likelihood with every alpha_i = alpha is the i.i.d. one.

    For every length L <= ``max_length`` and accepted count N <= L, builds the draft's positional
    log-likelihood from its at-risk and accepted positions (i <= min(L, N + 1), and i <= N) and
    compares it with :func:`draft_loglik`. True when SymPy finds every difference zero.

    Raises
    ------
    ValueError
        If ``max_length`` is not an integer >= 1.
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be an integer >= 1, got {max_length!r}")
    for length in range(max_length + 1):
        for acc in range(length + 1):
            at_risk = min(length, acc + 1)
            pos = acc * sp.log(alpha) + (at_risk - acc) * sp.log(1 - alpha)
            if sp.simplify(pos - draft_loglik(acc, length)) != 0:
                return False
    return True


def lr_statistic(positions: int) -> sp.Expr:
    """Lambda = 2 [l_pos at alpha_i^ = a_i/n_i - l_iid at alpha^ = sum a / sum n].

    The i.i.d. log-likelihood is written in the positional counts (nesting): S = sum a_i and
    R = sum (n_i - a_i).
    """
    al, acc, risk = positional_symbols(positions)
    hat = dict(zip(al, positional_mle(positions), strict=True))
    l_pos = positional_loglik(positions).subs(hat)
    Ssum, Tsum = sp.Add(*acc), sp.Add(*risk)
    l_iid = iid_loglik().subs({S: Ssum, R: Tsum - Ssum}).subs(alpha, Ssum / Tsum)
    return 2 * (l_pos - l_iid)


def lr_statistic_as_divergence(positions: int) -> sp.Expr:
    """2 sum_i n_i KL(alpha_i^ || alpha^) with the Bernoulli relative entropy (the form the
    numerics evaluate: every term >= 0). Equal to :func:`lr_statistic` (checked by expanding
    the logarithms)."""
    _al, acc, risk = positional_symbols(positions)
    Ssum, Tsum = sp.Add(*acc), sp.Add(*risk)
    pooled = Ssum / Tsum
    terms = []
    for x, m in zip(acc, risk, strict=True):
        p = x / m
        terms.append(m * (p * sp.log(p / pooled) + (1 - p) * sp.log((1 - p) / (1 - pooled))))
    return 2 * sp.Add(*terms)
