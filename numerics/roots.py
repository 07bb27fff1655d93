r"""The one root finder of :mod:`numerics`: vectorised, bracketed, safeguarded Newton.

Every per-user and scalar root of the solvers goes through :func:`newton` (monotone functions
on brackets, many independent elements at once; a bracket end whose sign is not known is
searched for by expansion, and a failure is reported as a status, never raised) or
:func:`last_true` (the discrete analogue: the last integer at which a monotone predicate holds).

Method of :func:`newton` (after the ``rtsafe`` safeguard of Press et al., Numerical Recipes,
sec. 9.4): each element keeps a bracket [lo, hi] that contains the sign change of its function
(increasing or decreasing, as declared). A Newton step -f/f' is taken when it lands strictly
inside the bracket and is at most half the previous Newton step (a stalling Newton iteration is
interrupted); otherwise the bracket is bisected (geometrically, in the middle of ln x, when
``log=True`` and the bracket spans more than a factor 4; ``log=True`` also takes the Newton
step in u = ln x, where functions of a share or a deadline spanning many decades are close to
linear). The bracket is updated from the sign of every evaluation, so the iteration never leaves
it and always converges (at worst like bisection, one bit per step). It stops at f = 0, at a
Newton step below ``xtol + rtol |x|``, or when the bracket is that narrow. Without a derivative
(``df`` None) the secant through the previous evaluation replaces Newton's tangent.

Elements are evaluated in one vectorised call of the user's function per iteration (a "pass");
once some of them have converged, only the active ones are passed (``idx``), so a
straggler costs its own size, not the whole problem's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

__all__ = ["CONVERGED", "MAX_ITER", "NOT_BRACKETED", "Roots", "last_true", "newton"]

_EPS = float(np.finfo(np.float64).eps)

#: status codes of :class:`Roots`
CONVERGED = 0
NOT_BRACKETED = -1
MAX_ITER = -2

#: f(x, idx) -> (f, f'), evaluated at x for the elements idx (None: all elements, in order);
#: with ``newton(..., primitive=True)`` also P, and optionally P': (f, f', P) or (f, f', P, P')
Fun = Callable[[np.ndarray, "np.ndarray | None"], "tuple[np.ndarray | None, ...]"]


@dataclasses.dataclass
class Roots:
    """Result of :func:`newton`.

    Attributes
    ----------
    x : ndarray
        The roots.
    lo, hi : ndarray
        Final brackets: the sign change lies in [lo, hi].
    status : ndarray of int8
        :data:`CONVERGED` (0); :data:`NOT_BRACKETED` (-1: an open end was searched up to its
        limit without a sign change); :data:`MAX_ITER` (-2: the iteration budget ran out; x is
        the bracket's midpoint).
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
        """True when every element converged."""
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
           rtol: float = 4 * _EPS, maxiter: int = 200, lo_open: bool | np.ndarray = False,
           hi_open: bool | np.ndarray = False, primitive: bool = False, ends=None, max_log_step: float = 64.0) -> Roots:
    """Roots of monotone functions on brackets, all elements at once (module docstring).

    Parameters
    ----------
    fun : callable
        ``fun(x, idx) -> (f, df)``: values and derivatives at ``x`` for the elements ``idx``
        (an index array, or None for all elements). f may be +-inf near a singular end of a
        bracket; df may be 0 or inf there (the step is then a bisection). ``df`` None or NaN:
        the secant slope through the previous evaluation replaces it (derivative-free use).
    lo, hi : array_like
        Brackets, lo < hi, containing the sign change: f(lo) <= 0 <= f(hi) if ``increasing``
        else f(lo) >= 0 >= f(hi). The ends are not evaluated.
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
    lo_open, hi_open : bool or array_like of bool
        The sign at that end is not known (per element): ``lo`` (``hi``) is then only the farthest point to
        search. Until an evaluation shows the sign change on that side, steps that cannot be
        Newton's expand towards it (the distance, or ln-distance, doubling each time); reaching
        the limit without a sign change gives :data:`NOT_BRACKETED` (the root is not in the
        domain searched), never an exception.
    primitive : bool
        ``fun`` returns a third array, a primitive P of f (P' = f; or a fourth array P', where f
        is only a monotone transform of P' with the same sign, e.g. a logarithm): the root is then the
        maximiser (f decreasing) or minimiser of P. Where Newton's step is refused, the step
        goes to the intersection of the tangents of P at the two ends of the bracket (exact
        where P is piecewise linear, quadratically convergent at a kink of P, where f jumps
        and Newton and bisection can only crawl), falling back to bisection when two such
        steps in a row did not halve the bracket.
    max_log_step : float
        ``log``: the largest Newton step in ln x (a Newton model fitted far from the root can
        propose absurd steps; the bracket is then found by the next evaluations).
    ends : tuple of array_like, optional
        (f(lo), P(lo), f(hi), P(hi)) where already known (NaN elsewhere), for the first
        tangent-intersection steps (``primitive``).

    Returns
    -------
    Roots

    Examples
    --------
    >>> r = newton(lambda x, idx: (x * x - 2.0, 2.0 * x), 0.0, 2.0, increasing=True)
    >>> round(float(r.x[0]), 12), r.ok
    (1.414213562373, True)
    """
    n = int(np.broadcast(np.atleast_1d(lo), np.atleast_1d(hi), np.atleast_1d(0.0 if x0 is None else x0)).size)
    lo = _as_array(lo, n)
    hi = _as_array(hi, n)
    known_lo = ~np.broadcast_to(np.asarray(lo_open, dtype=bool), (n,)).copy()
    known_hi = ~np.broadcast_to(np.asarray(hi_open, dtype=bool), (n,)).copy()
    x = _mid(lo, hi, log) if x0 is None else _as_array(x0, n)
    # a start outside its bracket moves just inside the end it passed (a warm start from a
    # neighbouring problem is usually close to that end), a missing one to the middle
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if log:
            span = np.where(lo > 0, np.log(hi) - np.log(np.where(lo > 0, lo, 1.0)), np.nan)
            near_hi = np.where(lo > 0, hi * np.exp(-1e-6 * span), hi * (1 - 1e-6))
            near_lo = np.where(lo > 0, lo * np.exp(1e-6 * span), lo + 1e-6 * (hi - lo))
        else:
            near_hi, near_lo = hi - 1e-6 * (hi - lo), lo + 1e-6 * (hi - lo)
        x = np.where(x >= hi, near_hi, np.where(x <= lo, near_lo, x))
    bad = ~((x > lo) & (x < hi))
    if bad.any():
        x[bad] = _mid(lo[bad], hi[bad], log)
    sign = 1.0 if increasing else -1.0
    status = np.full(n, MAX_ITER, dtype=np.int8)
    dx_old = np.full(n, np.inf)     # the last Newton step (inf after any other step)
    grow = np.full(n, 1.0)          # expansion step towards an open end (doubles)
    secant = False                  # a missing derivative was seen: keep the previous evaluation
    x_prev = np.full(n, np.nan)
    f_prev = np.full(n, np.nan)
    # primitive P and f = P' at the bracket ends (for the tangent-intersection step)
    P_lo, P_hi, h_lo, h_hi = (np.full(n, np.nan) for _ in range(4))
    if ends is not None:
        h_lo, P_lo, h_hi, P_hi = (_as_array(e, n) for e in ends)
    width_ref = np.full(n, np.inf)   # bracket width before the last tangent-intersection step
    act = np.arange(n)
    passes = 0
    any_open = not bool(np.all(known_lo & known_hi))
    err = np.errstate(divide="ignore", invalid="ignore", over="ignore")
    err.__enter__()
    try:
        for _ in range(maxiter):
            if act.size == 0:
                break
            full = act.size == n
            sl = slice(None) if full else act    # index of the active elements (a view when all are)
            xa = x.copy() if full else x[act]
            out = fun(xa, None if full else act)
            passes += 1
            h_raw = np.asarray(out[0], dtype=np.float64)
            f = h_raw if sign > 0 else -h_raw
            df = out[1]
            if primitive:
                Pv = np.asarray(out[2], dtype=np.float64)
                if len(out) > 3:  # P' itself, where f is a monotone transform of it
                    h_raw = np.asarray(out[3], dtype=np.float64)
            df = np.full(f.size, np.nan) if df is None else (np.asarray(df, dtype=np.float64) * sign)
            miss = np.isnan(df)
            if secant or miss.any():
                # where the derivative is missing (None or NaN): the secant through the previous evaluation
                secant = True
                xp, fp = x_prev[sl], f_prev[sl]
                df = np.where(miss & np.isfinite(fp) & (xp != xa) & np.isfinite(f), (f - fp) / (xa - xp), df)
                x_prev[sl], f_prev[sl] = xa, f
            neg, pos = f < 0, f > 0
            la = np.where(neg, xa, lo[sl])
            ha = np.where(pos, xa, hi[sl])
            lo[sl], hi[sl] = la, ha
            if primitive:
                P_lo[sl] = np.where(neg, Pv, P_lo[sl])
                h_lo[sl] = np.where(neg, h_raw, h_lo[sl])
                P_hi[sl] = np.where(pos, Pv, P_hi[sl])
                h_hi[sl] = np.where(pos, h_raw, h_hi[sl])
            kl: np.ndarray | bool
            kh: np.ndarray | bool
            both: np.ndarray | bool
            if any_open:
                kl = known_lo[sl] | neg
                kh = known_hi[sl] | pos
                known_lo[sl], known_hi[sl] = kl, kh
                both = kl & kh
            else:
                kl = kh = both = True
            if log:
                slope = xa * df
                xn = xa * np.exp(np.clip(-f / slope, -max_log_step, max_log_step))
            else:
                slope = df
                xn = xa - f / df
            dx = np.abs(xn - xa)
            absx = np.abs(xa)
            tol = xtol + rtol * absx
            # an infinite slope gives a zero step that says nothing about the root: bisect instead
            fin = np.isfinite(dx) & np.isfinite(slope)
            dxo = dx_old[sl]
            # a step below the tolerance converges wherever it lands (it may round onto an end of
            # the bracket, or not move x at all); so does a step that stopped shrinking within 1e4
            # tolerances of x: the rounding noise of f (its steps are as large as its error)
            tiny = fin & ((dx <= np.maximum(tol, 4 * _EPS * absx))
                          | ((dx > 0.5 * dxo) & (dx <= 1e4 * np.maximum(tol, _EPS * absx))))
            inside = (xn > la) & (xn < ha) & fin
            newton_ok = tiny | (inside & (dx <= np.maximum(0.5 * dxo, 16 * tol)))
            # fallback: bisection of a known bracket, else expansion towards the open side
            xm = _mid(la, ha, log)
            kink_done: np.ndarray | bool = False
            if primitive:
                pl, ph, hl, hh = P_lo[sl], P_hi[sl], h_lo[sl], h_hi[sl]
                xi = (ph - pl + hl * la - hh * ha) / (hl - hh)
                # the rounding of P locates the kink only to within dxi
                dxi = 8 * _EPS * (np.abs(pl) + np.abs(ph) + np.abs(hl * la) + np.abs(hh * ha)) / np.abs(hl - hh)
                dxi = np.where(np.isfinite(dxi), np.maximum(dxi, tol), np.inf)
                # an intersection at an end of the bracket locates a kink of P (a jump of f) there:
                # step just across it, so that the bracket closes on the jump
                xi = np.where(xi - la <= dxi, la + 2.0 * dxi, np.where(ha - xi <= dxi, ha - 2.0 * dxi, xi))
                use_i = (both & ~newton_ok & (xi > la) & (xi < ha) & np.isfinite(xi)
                         & (ha - la <= 0.5 * width_ref[sl]))
                width_ref[sl] = np.where(use_i, ha - la, np.where(newton_ok, width_ref[sl], np.inf))
                xm = np.where(use_i, xi, xm)
                kink_done = both & (ha - la <= 4.0 * dxi)
            if any_open:
                g = grow[sl]
                if log:
                    x_up = np.minimum(xa * np.exp(g), ha)
                    x_dn = np.maximum(xa * np.exp(-g), la)
                else:
                    x_up = np.minimum(xa + g * np.maximum(absx, 1.0), ha)
                    x_dn = np.maximum(xa - g * np.maximum(absx, 1.0), la)
                # towards an open side, a refused Newton step that points there is still better than a
                # blind expansion (expansion only where Newton gives no usable direction)
                xb = np.where(both, xm, np.where(inside, xn, np.where(kl, x_up, x_dn)))
                grow[sl] = np.where(both, g, 2.0 * g)
                stuck = ~both & ~newton_ok & (xb == xa)   # at the limit of an open side, no sign change
            else:
                xb = xm
                stuck = False
            zero = f == 0
            done = zero | tiny | (both & (ha - la <= tol)) | kink_done
            xn = np.where(newton_ok, xn, xb)
            xn = np.where(zero, xa, np.where(tiny, np.clip(xn, la, ha), xn))
            dx_old[sl] = np.where(newton_ok, dx, np.inf)
            x[sl] = xn
            stop = done | stuck
            if np.any(stop):
                status[act[done]] = CONVERGED
                if any_open:
                    status[act[stuck & ~done]] = NOT_BRACKETED
                act = act[~stop]
    finally:
        err.__exit__(None, None, None)
    if act.size:
        both = known_lo[act] & known_hi[act]
        x[act] = np.where(both, _mid(lo[act], hi[act], log), x[act])
    return Roots(x=x, lo=lo, hi=hi, status=status, passes=passes)


def last_true(pred: Callable[[np.ndarray, np.ndarray | None], np.ndarray], lo, hi,
              guess=None) -> tuple[np.ndarray, int]:
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
