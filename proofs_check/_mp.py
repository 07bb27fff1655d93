"""Evaluating SymPy expressions with mpmath, for the symbolic checks that cannot be decided by SymPy alone.

A symbolic check reads the expressions a ``theory`` function returns and verifies them by an
independent route; where SymPy cannot simplify the residual to zero, the route is an mpmath
evaluation at seeded random points (30 digits) against a reference computed differently: a
numerical derivative (``mpmath.diff``), a defining equation, a typed formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import mpmath as mp
import numpy as np
import sympy as sp

DPS = 30


def fn(expr: sp.Expr, args: Iterable[sp.Symbol]) -> Callable:
    """``expr`` as an mpmath function of ``args``; float arguments are converted to mpf first."""
    f = sp.lambdify(tuple(args), expr, "mpmath")

    def call(*xs):
        return f(*[mp.mpf(float(x)) if isinstance(x, (float, np.floating)) else x for x in xs])

    return call


def close(x, ref, tol: float = 1e-20, what: str = "") -> None:
    """Assert |x - ref| <= tol max(1, |ref|) (mpmath values at the working precision)."""
    x, ref = mp.mpf(mp.re(x)), mp.mpf(mp.re(ref))
    if not abs(x - ref) <= tol * max(1, abs(ref)):
        raise AssertionError(f"{what}: {mp.nstr(x, 20)} != {mp.nstr(ref, 20)}")


def points(seed: int, n: int, **ranges: tuple[float, float]) -> list[dict]:
    """``n`` seeded random points, each a dict name -> mpf, drawn log-uniformly in (lo, hi) (lo > 0)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out.append({k: mp.mpf(float(np.exp(rng.uniform(np.log(lo), np.log(hi))))) for k, (lo, hi) in ranges.items()})
    return out
