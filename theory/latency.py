"""Latency, round time and goodput (docs/model.md sec. 2).

    h(beta)   = t + s / r(beta)                              per-token latency
    T_v(n)    = v0 + v1 n                                    verification of n tokens
    n         = sum_k (L_k + 1)  (ragged)  or  K (max_k L_k + 1)  (padded)
    T         = max_k L_k h_k(beta_k) + T_v(n) + T_o         round time
    G         = sum_k A(alpha_k, L_k) / T                    sum token goodput

For a given number of users K the round time and the goodput are written in the per-user
symbols of :func:`theory.symbols.user_symbols`. Shape facts used by H2 and D7
(:func:`latency_decreasing`, :func:`latency_convex`): for any positive, increasing, concave
rate r, h is decreasing and convex in beta, because dh/dbeta = -s r' / r^2 and
d2h/dbeta2 = s (2 r'^2 - r r'') / r^3.

Numerics: :mod:`numerics.latency` (tied by ``tests/test_theory_core.py``).
"""

from __future__ import annotations

import sympy as sp

from . import channel, tokens
from .symbols import L, T_o, alpha, beta, eta, n_batch, rho, s, t, user_symbols, v0, v1

__all__ = [
    "BATCHING_MODES",
    "RATE_ASSUMPTIONS",
    "batch_size",
    "drafting_time",
    "goodput",
    "latency_convex",
    "latency_decreasing",
    "per_token_latency",
    "rate_symbols",
    "round_time",
    "verification_latency",
]

BATCHING_MODES = ("ragged", "padded")

#: What the latency shape lemma (:func:`latency_decreasing`, :func:`latency_convex`) assumes of
#: the rate R(beta), as SymPy assumptions on the symbols standing for R, R' and R'': positive,
#: increasing, concave. R'' <= 0, not < 0: the linear rate has R'' = 0 and must be covered
#: (``proofs_check`` claim ``latency-shape`` checks that every rate model satisfies them).
RATE_ASSUMPTIONS = {"R": {"positive": True}, "dR": {"positive": True}, "d2R": {"nonpositive": True}}


def per_token_latency(rate_model: str) -> sp.Expr:
    """h(beta) = t + s / r(beta) for one user (scalar symbols t, s, beta, B, eta or rho)."""
    return t + s / channel.rate(rate_model)


def drafting_time(rate_model: str) -> sp.Expr:
    """L h(beta): drafting-plus-upload time of L tokens."""
    return L * per_token_latency(rate_model)


def verification_latency() -> sp.Expr:
    """T_v(n) = v0 + v1 n (n: :data:`~theory.symbols.n_batch`)."""
    return v0 + v1 * n_batch


def _check(n_users: int, batching: str) -> None:
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ValueError(f"n_users must be an integer >= 1, got {n_users!r}")
    if batching not in BATCHING_MODES:
        raise ValueError(f"batching must be one of {BATCHING_MODES}, got {batching!r}")


def batch_size(n_users: int, batching: str) -> sp.Expr:
    """Tokens verified in one pass: sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded).

    Raises
    ------
    ValueError
        For n_users not an integer >= 1 or an unknown batching mode.
    """
    _check(n_users, batching)
    Ls = user_symbols(n_users)["L"]
    if batching == "ragged":
        return sp.Add(*[Lk + 1 for Lk in Ls])
    return n_users * (sp.Max(*Ls) + 1)


def _user_subs(n_users: int, kk: int, rate_model: str) -> dict:
    u = user_symbols(n_users)
    ch = eta if rate_model == "linear" else rho
    return {t: u["t"][kk], s: u["s"][kk], beta: u["beta"][kk], ch: u[ch.name][kk],
            L: u["L"][kk], alpha: u["alpha"][kk]}


def round_time(n_users: int, rate_model: str, batching: str) -> sp.Expr:
    """T = max_k L_k h_k(beta_k) + v0 + v1 n + T_o in the symbols of ``user_symbols(n_users)``.

    Raises
    ------
    ValueError
        For a bad n_users, rate model or batching mode.
    """
    _check(n_users, batching)
    dt = drafting_time(rate_model)
    draft = sp.Max(*[dt.xreplace(_user_subs(n_users, kk, rate_model)) for kk in range(n_users)])
    return draft + verification_latency().subs(n_batch, batch_size(n_users, batching)) + T_o


def goodput(n_users: int, rate_model: str, batching: str) -> sp.Expr:
    """G = sum_k A(alpha_k, L_k) / T (tokens per second), A from :func:`theory.tokens.expected_tokens`."""
    A = tokens.expected_tokens()
    num = sp.Add(*[A.xreplace(_user_subs(n_users, kk, rate_model)) for kk in range(n_users)])
    return num / round_time(n_users, rate_model, batching)


def rate_symbols() -> dict:
    """Symbols R, dR, d2R standing for r(beta), r'(beta), r''(beta), with :data:`RATE_ASSUMPTIONS`."""
    return {name: sp.Symbol(name, **assume) for name, assume in RATE_ASSUMPTIONS.items()}


def _shape_derivatives() -> tuple[sp.Expr, sp.Expr, dict]:
    """dh/dbeta and d2h/dbeta2 for an abstract rate R(beta), with R, R', R'' as symbols."""
    R = sp.Function("R")
    h = t + s / R(beta)
    sym = rate_symbols()
    rep = {sp.Derivative(R(beta), (beta, 2)): sym["d2R"], sp.Derivative(R(beta), beta): sym["dR"], R(beta): sym["R"]}
    d1 = sp.diff(h, beta).subs(rep)
    d2 = sp.diff(h, beta, 2).subs(rep)
    return d1, d2, rep


def latency_decreasing() -> bool | None:
    """SymPy's decision that dh/dbeta = -s R'/R^2 <= 0 for any positive increasing rate R."""
    d1, _, _ = _shape_derivatives()
    return sp.simplify(d1).is_nonpositive


def latency_convex() -> bool | None:
    """SymPy's decision that d2h/dbeta2 = s (2R'^2 - R R'')/R^3 >= 0 for any positive, increasing, concave R."""
    _, d2, _ = _shape_derivatives()
    return sp.simplify(d2).is_nonnegative
