"""The symbols of the Multi-SPIN model, with their SymPy assumptions (docs/model.md sections 1-2).

Every ``theory`` module builds its expressions from these objects, so that expressions from
different modules combine and ``subs``/``lambdify`` find the same symbols.

SymPy has no interval assumption, so an acceptance probability alpha in (0, 1) is declared
``positive`` and the bound alpha < 1 enters through the substitution
``alpha = 1 / (1 + q)`` with ``q > 0`` (:data:`q`, :func:`in_unit_interval`): under it
``1 - alpha = q / (1 + q)`` and ``-log(alpha) = log(1 + q)`` are positive and SymPy can
decide signs that involve them.

Draft lengths come twice: :data:`L_int` (a non-negative integer, the upper limit of the
SymPy summations that derive the token law) and :data:`L` (a non-negative real, the
continuous relaxation used by the solvers). Both print as ``L``; derivations substitute
``L_int -> L`` once the sum is in closed form.

Examples
--------
>>> from theory.symbols import alpha, q, in_unit_interval
>>> import sympy as sp
>>> (1 - alpha).is_positive is None   # alpha < 1 is not an assumption SymPy can hold
True
>>> sp.simplify(in_unit_interval(1 - alpha)).is_positive
True
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "B",
    "K",
    "L",
    "L_int",
    "T_o",
    "a",
    "alpha",
    "beta",
    "c",
    "eta",
    "i",
    "in_unit_interval",
    "j",
    "k",
    "lam",
    "n",
    "n_batch",
    "q",
    "r",
    "rho",
    "s",
    "t",
    "tau",
    "theta",
    "user_symbols",
    "v0",
    "v1",
]

# ---------------------------------------------------------------- acceptance (docs/model.md sec. 2)
#: per-token acceptance probability, alpha in (0, 1) (the bound 1 via :func:`in_unit_interval`)
alpha = sp.Symbol("alpha", positive=True)
#: reparametrisation of the unit interval: alpha = 1 / (1 + q), q in (0, inf)
q = sp.Symbol("q", positive=True)
#: draft length, real (continuous relaxation), L >= 0
L = sp.Symbol("L", nonnegative=True)
#: draft length as an integer (upper limit of the summations over the pmf)
L_int = sp.Symbol("L", integer=True, nonnegative=True)
#: value of the accepted count N (pmf index), and position indices
n = sp.Symbol("n", integer=True, nonnegative=True)
i = sp.Symbol("i", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
#: user index and number of users
k = sp.Symbol("k", integer=True, nonnegative=True)
K = sp.Symbol("K", integer=True, positive=True)
#: position-dependent acceptance profile a[1..L] (alpha_1..alpha_L of docs/model.md)
a = sp.IndexedBase("alpha", positive=True)

# ---------------------------------------------------------------- uplink (docs/model.md sec. 2)
#: band share of a user, beta in (0, 1]
beta = sp.Symbol("beta", positive=True)
#: total uplink band [Hz]
B = sp.Symbol("B", positive=True)
#: spectral efficiency of the linear rate model [bit/s/Hz]
eta = sp.Symbol("eta", positive=True)
#: full-band receive SNR of the Shannon rate model (linear scale)
rho = sp.Symbol("rho", positive=True)
#: a required uplink rate [bit/s]
r = sp.Symbol("r", positive=True)
#: normalised Shannon rate c = r ln 2 / (B rho), reachable iff c < 1
c = sp.Symbol("c", positive=True)

# ---------------------------------------------------------------- latency (docs/model.md sec. 2)
#: draft time per token [s] (0: drafting is free)
t = sp.Symbol("t", nonnegative=True)
#: upload payload per draft token [bit] (0: nothing to upload)
s = sp.Symbol("s", nonnegative=True)
#: verification latency T_v(n) = v0 + v1 n [s, s/token]
v0 = sp.Symbol("v_0", nonnegative=True)
v1 = sp.Symbol("v_1", nonnegative=True)
#: fixed per-round overhead [s]
T_o = sp.Symbol("T_o", nonnegative=True)
#: number of tokens in the verification batch
n_batch = sp.Symbol("n_b", positive=True)

# ---------------------------------------------------------------- solver variables (sec. 3)
#: per-token makespan (H1, H2), drafting deadline (D1..D5), band multiplier (D3)
theta = sp.Symbol("theta", positive=True)
tau = sp.Symbol("tau", positive=True)
lam = sp.Symbol("lambda", positive=True)


def in_unit_interval(expr: sp.Expr, var: sp.Symbol = alpha, via: sp.Symbol = q) -> sp.Expr:
    """Substitute ``var = 1 / (1 + via)`` (``via > 0``), so that SymPy knows ``0 < var < 1``.

    Parameters
    ----------
    expr : sympy.Expr
    var : sympy.Symbol
        A positive symbol standing for a number in (0, 1) (default :data:`alpha`).
    via : sympy.Symbol
        A positive symbol (default :data:`q`); the map q -> 1/(1+q) is a bijection of
        (0, inf) onto (0, 1), so a sign decided for every q > 0 holds for every var in (0, 1).

    Returns
    -------
    sympy.Expr
        ``expr`` with the substitution made (not simplified).

    Raises
    ------
    ValueError
        If ``via`` is not declared positive.
    """
    if via.is_positive is not True:
        raise ValueError(f"via must be a positive symbol, got {via!r} with is_positive={via.is_positive}")
    return expr.subs(var, 1 / (1 + via))


def user_symbols(n_users: int) -> dict[str, tuple[sp.Symbol, ...]]:
    """Per-user symbols ``alpha_k, L_k, t_k, s_k, beta_k, eta_k, rho_k`` for k = 0..K-1.

    Used to write the K-user round time and goodput (:mod:`theory.latency`) for a given K, so
    that they can be lambdified with one array argument per field. Assumptions as for the
    single-user symbols (L_k real >= 0: the continuous relaxation).

    Raises
    ------
    ValueError
        If ``n_users`` is not an integer >= 1.

    Examples
    --------
    >>> user_symbols(2)["alpha"]
    (alpha_0, alpha_1)
    """
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ValueError(f"n_users must be an integer >= 1, got {n_users!r}")
    spec = {
        "alpha": dict(positive=True),
        "L": dict(nonnegative=True),
        "t": dict(nonnegative=True),
        "s": dict(nonnegative=True),
        "beta": dict(positive=True),
        "eta": dict(positive=True),
        "rho": dict(positive=True),
    }
    return {
        name: tuple(sp.Symbol(f"{name}_{kk}", **assume) for kk in range(n_users))
        for name, assume in spec.items()
    }
