r"""The one root finder of :mod:`numerics`: vectorised, bracketed, safeguarded Newton.

Every per-user and scalar root of the solvers goes through :func:`newton` (a monotone
function on a bracket, many independent elements at once), :func:`expand` (find such a
bracket from a guess, reporting failure as a status, never by raising) or :func:`last_true`
(the discrete analogue: the last integer at which a monotone predicate holds).

Method of :func:`newton` (the ``rtsafe`` safeguard of Press et al., Numerical Recipes, sec. 9.4):
each element keeps a bracket [lo, hi] that contains the sign change of its function (increasing
or decreasing, as declared). A Newton step -f/f' is taken when it lands strictly inside the
bracket and the step shrinks fast enough (|2 f| <= |f' dx_old|); otherwise the bracket is
bisected (geometrically, in the middle of ln x, when ``log=True`` and the bracket spans more
than a factor 4; ``log=True`` also takes the Newton step in u = ln x, where functions of a
share or a deadline spanning many decades are close to linear). The bracket is updated from
the sign of every evaluation, so the iteration never leaves it and always converges (at worst
like bisection, i.e. one bit per step). It stops at f = 0, at a step below ``xtol + rtol |x|``,
or when the bracket is that narrow.

Elements are evaluated in one vectorised call of the user's function per iteration (a "pass");
once fewer than half of them remain active, only the active ones are passed (``idx``), so a
straggler costs its own size, not the whole problem's.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

__all__ = ["Roots", "newton", "expand", "last_true", "CONVERGED", "NOT_BRACKETED", "MAX_ITER"]

_EPS = float(np.finfo(np.float64).eps)

#: status codes of :class:`Roots`
CONVERGED = 0
NOT_BRACKETED = -1
MAX_ITER = -2

#: f(x, idx) -> (f, f'), evaluated at x for the elements idx (None: all elements, in order)
Fun = Callable[[np.ndarray, "np.ndarray | None"], "tuple[np.ndarray, np.ndarray]"]


@dataclasses.dataclass
class Roots:
    """Result of :func:`newton` / :func:`expand`.

    Attributes
    ----------
    x : ndarray
        The roots (:func:`newton`) or a point of the bracket (:func:`expand`).
    lo, hi : ndarray
        Final brackets: the sign change lies in [lo, hi].
    status : ndarray of int8
        :data:`CONVERGED` (0), :data:`NOT_BRACKETED` (-1, :func:`expand` hit its limit),
        :data:`MAX_ITER` (-2, the iteration budget ran out; x is the bracket's midpoint).
    passes : int
        Vectorised evaluations made (calls of the function).
    """

    x: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    status: np.ndarray
    passes: int

    @property
    def ok(self) -> bool:
        """True when every element converged (or was bracketed, for :func:`expand`)."""
        return bool(np.all(self.status == CONVERGED))


def _as_array(v, n: int) -> np.ndarray:
    return np.array(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)), dtype=np.float64)


def _mid(lo: np.ndarray, hi: np.ndarray, log: bool) -> np.ndarray:
    if not log:
        return 0.5 * (lo + hi)
    geo = (lo > 0) & (hi > 4.0 * lo) & np.isfinite(hi)
    with np.errstate(invalid="ignore", over="ignore"):
        g = np.sqrt(lo) * np.sqrt(hi)
    return np.where(geo, g, 0.5 * (lo + hi))


def newton(fun: Fun, lo, hi, x0=None, *, increasing: bool, log: bool = False, xtol: float = 0.0,
           rtol: float = 4 * _EPS, maxiter: int = 200) -> Roots:
    """Roots of monotone functions on brackets, all elements at once (module docstring).

    Parameters
    ----------
    fun : callable
        ``fun(x, idx) -> (f, df)``: values and derivatives at ``x`` for the elements ``idx``
        (an index array, or None for all elements). f may be +-inf near a singular end of a
        bracket; df may be 0, inf or NaN there (the step is then a bisection). ``df`` None:
        the secant slope through the previous evaluation replaces it (derivative-free use).
    lo, hi : array_like
        Brackets, lo < hi (finite), containing the sign change: f(lo) <= 0 <= f(hi) if
        ``increasing`` else f(lo) >= 0 >= f(hi). The ends are not evaluated.
    x0 : array_like, optional
        Starting points; outside the bracket (or NaN) they are replaced by its middle.
    increasing : bool
        Direction of every element's function.
    log : bool
        Newton steps in ln x and geometric bisection (needs lo >= 0).
    xtol, rtol : float
        Stop when a step, or the bracket, is below ``xtol + rtol |x|``.
    maxiter : int
        Iteration budget (status :data:`MAX_ITER` beyond it).

    Returns
    -------
    Roots
    """
    n = int(np.broadcast(np.atleast_1d(lo), np.atleast_1d(hi), np.atleast_1d(0.0 if x0 is None else x0)).size)
    lo = _as_array(lo, n)
    hi = _as_array(hi, n)
    x = _mid(lo, hi, log) if x0 is None else _as_array(x0, n)
    bad = ~((x > lo) & (x < hi))
    if bad.any():
        x[bad] = _mid(lo[bad], hi[bad], log)
    sign = 1.0 if increasing else -1.0
    status = np.full(n, MAX_ITER, dtype=np.int8)
    dx_old = hi - lo
    x_prev = np.full(n, np.nan)
    f_prev = np.full(n, np.nan)
    act = np.arange(n)
    passes = 0
    for _ in range(maxiter):
        if act.size == 0:
            break
        full = act.size > n // 2
        xa = x if full else x[act]
        f, df = fun(xa, None if full else act)
        passes += 1
        if full:
            f, df = f[act], df[act]
            xa = xa[act]
        f = sign * np.asarray(f, dtype=np.float64)
        if df is None:  # secant slope from the previous evaluation of each element (bisection at first)
            df = np.full(act.size, np.nan)
            seen = np.isfinite(f_prev[act]) & (x_prev[act] != xa) & np.isfinite(f)
            df[seen] = (f[seen] - f_prev[act][seen]) / (xa[seen] - x_prev[act][seen])
            x_prev[act], f_prev[act] = xa, f
        else:
            df = sign * np.asarray(df, dtype=np.float64)
        la, ha = lo[act], hi[act]
        la = np.where(f < 0, xa, la)
        ha = np.where(f > 0, xa, ha)
        lo[act], hi[act] = la, ha
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if log:
                du = -f / (xa * df)
                xn = xa * np.exp(du)
                dx = xn - xa
            else:
                dx = -f / df
                xn = xa + dx
        tol = xtol + rtol * np.abs(xa)
        newton_ok = (xn > la) & (xn < ha) & np.isfinite(xn)
        # rtsafe: bisect when Newton leaves the bracket or converges too slowly (|dx| > |dx_old| / 2)
        slow = np.abs(dx) > 0.5 * np.abs(dx_old[act])
        use_newton = newton_ok & ~slow
        xb = _mid(la, ha, log)
        xn = np.where(use_newton, xn, xb)
        dx_new = np.where(use_newton, dx, xb - xa)
        done = (f == 0) | (use_newton & (np.abs(dx) <= tol)) | (ha - la <= tol)
        xn = np.where(f == 0, xa, xn)
        x[act] = xn
        dx_old[act] = dx_new
        status[act[done]] = CONVERGED
        act = act[~done]
    if act.size:
        x[act] = _mid(lo[act], hi[act], log)
    return Roots(x=x, lo=lo, hi=hi, status=status, passes=passes)


def expand(sign_at: Callable[[np.ndarray, "np.ndarray | None"], np.ndarray], x0, *, direction, factor: float = 4.0,
           limit=None, log: bool = True, max_steps: int = 64) -> Roots:
    """Step from ``x0`` in ``direction`` until ``sign_at`` changes sign: a bracket, or a status.

    Parameters
    ----------
    sign_at : callable
        ``sign_at(x, idx) -> s``: the sign (any real; only s > 0 and s <= 0 are told apart) of
        the monotone function at x for the elements idx (None: all).
    x0 : array_like
        Starting points (> 0 when ``log``), at which the sign is evaluated first.
    direction : array_like of +1 / -1
        Where the sign change lies from x0 (e.g. from the sign at x0 and the monotonicity).
    factor : float
        First step: x0 * factor (``log``) or x0 + factor (linear). Steps grow geometrically
        (the exponent doubles in ``log`` mode), so any finite bracket is reached in O(log) steps.
    limit : array_like, optional
        The farthest point to try in the direction (e.g. a known end of the domain); reaching
        it without a sign change gives status :data:`NOT_BRACKETED` with x = limit.
    max_steps : int

    Returns
    -------
    Roots
        ``lo``, ``hi``: the bracket (ordered), ``x``: its end on the far side, status
        :data:`CONVERGED` where a sign change was found, :data:`NOT_BRACKETED` elsewhere.
    """
    x0 = np.atleast_1d(np.asarray(x0, dtype=np.float64)).copy()
    n = x0.size
    d = _as_array(direction, n)
    lim = _as_array(np.where(d > 0, np.inf, -np.inf if not log else 0.0) if limit is None else limit, n)
    s0 = np.asarray(sign_at(x0, None), dtype=np.float64) > 0
    near = x0.copy()
    far = x0.copy()
    status = np.full(n, NOT_BRACKETED, dtype=np.int8)
    step = np.full(n, float(np.log(factor)) if log else float(factor))
    act = np.arange(n)
    passes = 1
    for _ in range(max_steps):
        if act.size == 0:
            break
        with np.errstate(over="ignore", under="ignore"):
            if log:
                xn = near[act] * np.exp(d[act] * step[act])
            else:
                xn = near[act] + d[act] * step[act]
        at_lim = np.where(d[act] > 0, xn >= lim[act], xn <= lim[act]) | ~np.isfinite(xn) | (xn == near[act])
        xn = np.where(at_lim, lim[act], xn)
        s = np.asarray(sign_at(xn, act), dtype=np.float64) > 0
        passes += 1
        flipped = s != s0[act]
        far[act] = xn
        status[act[flipped]] = CONVERGED
        keep = ~flipped & ~at_lim
        near[act[keep]] = xn[keep]
        step[act] *= 2.0
        act = act[keep]
    lo = np.where(d > 0, near, far)
    hi = np.where(d > 0, far, near)
    return Roots(x=far, lo=lo, hi=hi, status=status, passes=passes)


def last_true(pred: Callable[[np.ndarray, "np.ndarray | None"], np.ndarray], lo, hi, guess=None) -> tuple[np.ndarray, int]:
    """The last integer j in [lo, hi] at which a monotone predicate holds (lo - 1 if none).

    ``pred(j, idx) -> bool array`` must be true then false along j (per element). With a
    ``guess`` the search gallops out from it (steps 1, 2, 4, ...) before bisecting, so a
    guess off by d costs O(log d) passes. Returns (j, passes).
    """
    n = int(np.broadcast(np.atleast_1d(lo), np.atleast_1d(hi), np.atleast_1d(0 if guess is None else guess)).size)
    lo = np.array(np.broadcast_to(np.asarray(lo, dtype=np.int64), (n,)))
    hi = np.array(np.broadcast_to(np.asarray(hi, dtype=np.int64), (n,)))
    a = lo - 1            # pred(a) true (a = lo - 1: by convention)
    b = hi + 1            # pred(b) false (b = hi + 1: by convention)
    passes = 0
    if guess is not None:
        g = np.clip(np.broadcast_to(np.asarray(guess, dtype=np.int64), (n,)), lo, hi)
        act = np.flatnonzero(hi >= lo)
        if act.size:
            p = np.asarray(pred(g[act], None if act.size == n else act), dtype=bool)
            passes += 1
            a[act] = np.where(p, g[act], a[act])
            b[act] = np.where(p, b[act], g[act])
            up = np.where(p, 1, -1)
            step = np.ones(act.size, dtype=np.int64)
            while act.size:
                probe = np.where(up > 0, a[act] + step, b[act] - step)
                inside = (probe > a[act]) & (probe < b[act])
                act, probe, up, step = act[inside], probe[inside], up[inside], step[inside]
                if act.size == 0:
                    break
                p = np.asarray(pred(probe, act), dtype=bool)
                passes += 1
                a[act] = np.where(p, probe, a[act])
                b[act] = np.where(p, b[act], probe)
                cont = (p == (up > 0))  # still on the same side: gallop on
                act, up, step = act[cont], up[cont], step[cont] * 2
    while True:
        act = np.flatnonzero(b - a > 1)
        if act.size == 0:
            break
        mid = a[act] + (b[act] - a[act]) // 2
        p = np.asarray(pred(mid, None if act.size == n else act), dtype=bool)
        passes += 1
        a[act] = np.where(p, mid, a[act])
        b[act] = np.where(p, b[act], mid)
    return a, passes
