r"""Rayleigh block fading with an upload deadline: the law of the delivered prefix.

The Monte Carlo simulator (:func:`numerics.simulate.simulate` with ``fading=True``) draws, in
every round and for every user, a channel power gain g ~ Exp(1), constant during the round.
The instantaneous rate is

- ``shannon``: r(g) = beta B log2(1 + rho g / beta);
- ``linear``:  r(g) = beta B log2(1 + (2^eta - 1) g)  (eta read as the Shannon spectral
  efficiency at the mean SNR 2^eta - 1, so that r(1) is the nominal rate beta B eta).

The server closes the upload window at a deadline D. User k drafts L tokens (L t seconds),
then uploads at r(g); the prefix delivered by D is m = min(L, floor((D - L t) r(g) / s)).
Because r is increasing in g,

.. math::

    m \ge j \iff r(g) \ge \frac{j s}{D - L t} \iff g \ge g_j,
    \qquad P(m \ge j) = e^{-g_j}\quad (1 \le j \le L,\ D > L t),

with g_j the gain at which the rate reaches j s / (D - L t) (:func:`gain_threshold`, solved
by SymPy). Acceptance is independent of the channel, and P(N >= j) = alpha^j
(:func:`accepted_tail`, summed from the pmf), so the tokens a user gets in a round,
min(N, m) + 1, have the mean

.. math::

    E[\min(N, m)] + 1 = 1 + \sum_{j=1}^{L} \alpha^j e^{-g_j}

(:func:`expected_tokens_faded`; E[X] = sum_{j>=1} P(X >= j) for X >= 0 integer). The finishing
time L t + L s / r(g) has P(finish <= x) = e^{-g(x)} (:func:`finish_time_cdf`) for x > L t.

Numerics: :mod:`numerics.simulate` (tied by ``tests/test_ties.py`` against Gauss-Laguerre
quadrature over g ~ Exp(1) and against the simulator's per-user token means).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .symbols import B, L_int, alpha, beta, eta, n, rho, s, t

__all__ = [
    "accepted_tail",
    "expected_delivered",
    "expected_tokens_faded",
    "faded_rate",
    "finish_time_cdf",
    "gain_threshold",
    "prefix_tail",
]

#: channel power gain (Exp(1) under Rayleigh fading), upload deadline, token index, a time
g = sp.Symbol("g", positive=True)
D = sp.Symbol("D", positive=True)
j = sp.Symbol("j", integer=True, positive=True)
x = sp.Symbol("x", positive=True)
#: a required rate (bit/s)
_req = sp.Symbol("R", positive=True)
#: positive copies of t and s (the deadline slack D - L t is positive where the law applies)
_t = sp.Symbol("t", positive=True)
_s = sp.Symbol("s", positive=True)


def _check_model(model: str) -> None:
    if model not in ("linear", "shannon"):
        raise ValueError(f"rate_model must be 'linear' or 'shannon', got {model!r}")


def faded_rate(model: str) -> sp.Expr:
    """Instantaneous rate r(g) [bit/s] under the channel power gain g (module docstring).

    Raises
    ------
    ValueError
        Unknown rate model.
    """
    _check_model(model)
    if model == "shannon":
        return beta * B * sp.log(1 + rho * g / beta) / sp.log(2)
    return beta * B * sp.log(1 + (2**eta - 1) * g) / sp.log(2)


@cache
def gain_threshold(model: str) -> sp.Expr:
    """g_j: the gain at which r(g) = j s / (D - L t), solved by ``sympy.solve`` (one root: r increases in g).

    Expressed in :data:`j`, :data:`D`, L (integer), t, s, beta, B and eta or rho.

    Raises
    ------
    ValueError
        Unknown rate model; ArithmeticError if ``solve`` does not return exactly one root.
    """
    _check_model(model)
    sols = sp.solve(sp.Eq(faded_rate(model), _req), g)
    if len(sols) != 1:
        raise ArithmeticError(f"expected one gain threshold, got {sols}")
    Lp = sp.Symbol("L", positive=True)
    return sols[0].subs(_req, j * _s / (D - Lp * _t)).subs({Lp: L_int, _t: t, _s: s})


@cache
def accepted_tail() -> sp.Expr:
    """P(N >= j) of the truncated geometric law, summed from the pmf: alpha^j (1 <= j <= L).

    sum_{n=j}^{L-1} alpha^n (1 - alpha) + alpha^L, simplified (alpha in (0, 1)).
    """
    pmf_body = alpha**n * (1 - alpha)
    tail = sp.summation(pmf_body, (n, j, L_int - 1)) + alpha**L_int
    return sp.simplify(tail.subs(sp.Eq(alpha, 1), sp.false))


def prefix_tail(model: str) -> sp.Expr:
    """P(m >= j) = exp(-g_j) for 1 <= j <= L (g ~ Exp(1): P(g >= y) = e^{-y})."""
    return sp.exp(-gain_threshold(model))


def expected_tokens_faded(model: str) -> sp.Expr:
    """E[min(N, m)] + 1 = 1 + sum_{j=1}^{L} P(N >= j) P(m >= j) (N independent of g), an unevaluated Sum."""
    return 1 + sp.Sum(accepted_tail() * prefix_tail(model), (j, 1, L_int))


def expected_delivered(model: str) -> sp.Expr:
    """E[m] = sum_{j=1}^{L} P(m >= j): the mean delivered prefix (ragged batch size minus one)."""
    return sp.Sum(prefix_tail(model), (j, 1, L_int))


def finish_time_cdf(model: str) -> sp.Expr:
    """P(L t + L s / r(g) <= x) = exp(-g*) for x > L t, g* the gain at which r(g) = L s / (x - L t)."""
    _check_model(model)
    sols = sp.solve(sp.Eq(faded_rate(model), _req), g)
    Lp = sp.Symbol("L", positive=True)
    return sp.exp(-sols[0].subs(_req, Lp * _s / (x - Lp * _t))).subs({Lp: L_int, _t: t, _s: s})
