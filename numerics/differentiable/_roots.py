"""Bracketed scalar root finders in JAX, elementwise and vmap-friendly (the solvers' one root pattern).

- :func:`newton_bracketed`: safeguarded Newton for a decreasing function with known sign
  change; a step that leaves the bracket (or is not finite) is replaced by bisection. For
  the per-user stationarity conditions, the band multiplier and the equal-finish makespan.
- :func:`zeroin`: Brent's derivative-free root finder (inverse quadratic interpolation,
  secant, bisection); for the deadline of the heterogeneous optimum, whose sign function
  is expensive (it nests the band multiplier) and may jump at kinks.
- :func:`golden_max`: golden-section search with parabolic steps (Brent 1973, ch. 5) for a
  unimodal function known only by its values; for the common cap of padded batching.

Each loop stops when every element has converged (a ``while_loop``; under ``vmap`` the batch
runs until its slowest element is done, converged elements are frozen) or at ``max_iter``.
The results are used as solutions of ``jax.lax.custom_root`` problems: they are never
differentiated through (implicit differentiation), so the loops may be anything.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "BrentState",
    "ZeroinState",
    "brent_done",
    "brent_init",
    "brent_point",
    "brent_start",
    "brent_update",
    "golden_max",
    "newton_bracketed",
    "zeroin",
    "zeroin_done",
    "zeroin_init",
    "zeroin_point",
    "zeroin_update",
]


def newton_bracketed(fdf, x0, lo, hi, *, xtol, ftol=0.0, max_iter: int = 100, active=None):
    """Root of f, decreasing in x, on [lo, hi] (f(lo) > 0 >= f(hi)), elementwise.

    Parameters
    ----------
    fdf : callable x -> (f(x), f'(x))
        Elementwise on arrays of the shape of ``x0``.
    x0, lo, hi : arrays
        Start (moved to the midpoint if outside (lo, hi)) and finite bracket.
    xtol : float
        Absolute tolerance on x (use a log variable for relative precision): stop when a
        Newton step is below it (the error is then of order xtol^2), or the bracket is.
    ftol : float or array
        Stop when |f| <= ftol (the rounding level of f: below it the sign of f, hence the
        bracket, is noise).
    active : bool array, optional
        Elements to solve; the others return ``x0`` unchanged (no iteration at all when none is active).

    Returns
    -------
    x : array
        The root estimate.

    Notes
    -----
    The safeguard of ``rtsafe`` (Press et al., Numerical Recipes, 3rd ed., sec. 9.4): a
    bisection step replaces Newton's when Newton's would leave the bracket or would not at
    least halve the step before last, so the bracket shrinks at least every other step.
    """
    x0 = jnp.where((x0 > lo) & (x0 < hi), x0, 0.5 * (lo + hi))

    def cond(st):
        *_, done, it = st
        return (it < max_iter) & ~jnp.all(done)

    def body(st):
        x, lo, hi, dxold, done, it = st
        f, df = fdf(x)
        pos = f > 0
        lo2 = jnp.where(pos, x, lo)
        hi2 = jnp.where(pos, hi, x)
        step = f / jnp.where(df < 0, df, -1.0)
        xn = x - step
        ok = (df < 0) & jnp.isfinite(xn) & (xn >= lo2) & (xn <= hi2) & (jnp.abs(2.0 * step) <= jnp.abs(dxold))
        mid = 0.5 * (lo2 + hi2)
        xn = jnp.where(ok, xn, mid)
        dx = jnp.abs(xn - x)
        conv = (dx <= xtol) | (jnp.abs(f) <= ftol) | (hi2 - lo2 <= xtol)
        xn = jnp.where(jnp.abs(f) <= ftol, x, xn)
        x = jnp.where(done, x, xn)
        lo = jnp.where(done, lo, lo2)
        hi = jnp.where(done, hi, hi2)
        return x, lo, hi, jnp.where(done, dxold, dx), done | conv, it + 1

    done0 = jnp.zeros(jnp.shape(x0), bool) if active is None else ~active
    x0 = x0 if active is None else jnp.where(active, x0, 0.5 * (lo + hi))
    init = (x0, lo, hi, jnp.abs(hi - lo), done0, 0)
    x, *_ = jax.lax.while_loop(cond, body, init)
    return x


class ZeroinState(NamedTuple):
    """Brent's root finder: b best estimate, a previous iterate, c contrapoint (f(b) f(c) <= 0), steps d, e."""

    a: jax.Array
    b: jax.Array
    c: jax.Array
    fa: jax.Array
    fb: jax.Array
    fc: jax.Array
    d: jax.Array
    e: jax.Array
    tol: jax.Array


def _rotate(s: ZeroinState) -> ZeroinState:
    swap = jnp.abs(s.fc) < jnp.abs(s.fb)
    a = jnp.where(swap, s.b, s.a)
    b = jnp.where(swap, s.c, s.b)
    c = jnp.where(swap, s.b, s.c)
    fa = jnp.where(swap, s.fb, s.fa)
    fb = jnp.where(swap, s.fc, s.fb)
    fc = jnp.where(swap, s.fb, s.fc)
    return s._replace(a=a, b=b, c=c, fa=fa, fb=fb, fc=fc)


def zeroin_init(a, b, fa, fb, tol) -> ZeroinState:
    """Start on [a, b] with f(a), f(b) of opposite signs (or one zero); tol: absolute tolerance on x."""
    z = jnp.asarray(tol, jnp.float64)
    return _rotate(ZeroinState(a, b, a, fa, fb, fa, b - a, b - a, z + 0.0 * b))


def _tol1(s: ZeroinState):
    return 2.0 * 2.220446049250313e-16 * jnp.abs(s.b) + 0.5 * s.tol


def zeroin_done(s: ZeroinState):
    """|c - b| / 2 within the tolerance, or f(b) = 0."""
    return (jnp.abs(0.5 * (s.c - s.b)) <= _tol1(s)) | (s.fb == 0)


def zeroin_point(s: ZeroinState):
    """The next point (inverse quadratic interpolation or secant if acceptable, else bisection)."""
    tol1 = _tol1(s)
    xm = 0.5 * (s.c - s.b)
    interp = (jnp.abs(s.e) >= tol1) & (jnp.abs(s.fa) > jnp.abs(s.fb))
    fa_ = jnp.where(s.fa == 0, 1.0, s.fa)
    fc_ = jnp.where(s.fc == 0, 1.0, s.fc)
    sr = s.fb / fa_
    secant = s.a == s.c
    q1, r1 = s.fa / fc_, s.fb / fc_
    p = jnp.where(secant, 2.0 * xm * sr, sr * (2.0 * xm * q1 * (q1 - r1) - (s.b - s.a) * (r1 - 1.0)))
    q = jnp.where(secant, 1.0 - sr, (q1 - 1.0) * (r1 - 1.0) * (sr - 1.0))
    q = jnp.where(p > 0, -q, q)
    p = jnp.abs(p)
    accept = interp & (2.0 * p < jnp.minimum(3.0 * xm * q - jnp.abs(tol1 * q), jnp.abs(s.e * q)))
    d = jnp.where(accept, p / jnp.where(q == 0, 1.0, q), xm)
    e = jnp.where(accept, s.d, xm)
    b = s.b + jnp.where(jnp.abs(d) > tol1, d, jnp.where(xm >= 0, tol1, -tol1))
    return b, s._replace(a=s.b, fa=s.fb, d=d, e=e)


def zeroin_update(s: ZeroinState, b, fb) -> ZeroinState:
    """Take f at the point returned by :func:`zeroin_point` (with the state it returned)."""
    s = s._replace(b=b, fb=fb)
    same = fb * jnp.sign(s.fc) > 0
    s = s._replace(c=jnp.where(same, s.a, s.c), fc=jnp.where(same, s.fa, s.fc),
                   d=jnp.where(same, b - s.a, s.d), e=jnp.where(same, b - s.a, s.e))
    return _rotate(s)


def zeroin(f, a, b, fa, fb, state, *, tol, max_iter: int = 100):
    """Root of a scalar f with a sign change on [a, b] by Brent's method, threading a state.

    Parameters
    ----------
    f : callable (x, state) -> (f(x), state)
        The state carries warm starts from one evaluation to the next.
    a, b, fa, fb : scalars
        Bracket and the values of f there (opposite signs).
    tol : float
        Absolute tolerance on x (use a log variable for a relative one).

    Returns
    -------
    (ZeroinState, state): ``.b`` is the root estimate, ``[b, c]`` brackets it; where f jumps
    there (a kink), it is the jump.

    Notes
    -----
    Brent (1973), "Algorithms for minimization without derivatives", ch. 4 (``zeroin``):
    inverse quadratic interpolation or secant steps when they stay well inside the bracket
    and shrink it fast enough, bisection otherwise; superlinear on smooth functions, never
    much slower than bisection.
    """
    def cond(c):
        s, _, it = c
        return ~zeroin_done(s) & (it < max_iter)

    def body(c):
        s, state, it = c
        x, s = zeroin_point(s)
        fx, state = f(x, state)
        return zeroin_update(s, x, fx), state, it + 1

    s, state, _ = jax.lax.while_loop(cond, body, (zeroin_init(a, b, fa, fb, tol), state, 0))
    return s, state


_GOLD = 0.5 * (3.0 - math.sqrt(5.0))


class BrentState(NamedTuple):
    """Brent's minimisation state (of -f): bracket [a, b], best x, second w, previous v, steps d, e."""

    a: jax.Array
    b: jax.Array
    x: jax.Array
    w: jax.Array
    v: jax.Array
    fx: jax.Array
    fw: jax.Array
    fv: jax.Array
    d: jax.Array
    e: jax.Array
    tol: jax.Array


def brent_start(a, b):
    """The first point of Brent's method on [a, b]: a + (3 - sqrt 5)/2 (b - a)."""
    return a + _GOLD * (b - a)


def brent_init(a, b, x, fx, xtol) -> BrentState:
    """State after the first evaluation f(x) (of the function to MAXIMISE)."""
    z = jnp.zeros_like(x)
    return BrentState(a, b, x, x, x, -fx, -fx, -fx, z, z, jnp.asarray(xtol, jnp.float64) + z)


def brent_done(s: BrentState):
    m = 0.5 * (s.a + s.b)
    return jnp.abs(s.x - m) <= 2.0 * s.tol - 0.5 * (s.b - s.a)


def brent_point(s: BrentState):
    """The next point (parabolic step if acceptable, else golden section) and the new (d, e)."""
    a, b, x, w, v, fx, fw, fv, d, e, tol1 = s
    m = 0.5 * (a + b)
    r = (x - w) * (fx - fv)
    q = (x - v) * (fx - fw)
    p = (x - v) * q - (x - w) * r
    q = 2.0 * (q - r)
    p = jnp.where(q > 0, -p, p)
    q = jnp.abs(q)
    para = (jnp.abs(e) > tol1) & (jnp.abs(p) < jnp.abs(0.5 * q * e)) & (p > q * (a - x)) & (p < q * (b - x))
    d_para = p / jnp.where(q == 0, 1.0, q)
    u_para = x + d_para
    d_para = jnp.where((u_para - a < 2 * tol1) | (b - u_para < 2 * tol1), jnp.where(x < m, tol1, -tol1), d_para)
    e_gold = jnp.where(x >= m, a - x, b - x)
    e_new = jnp.where(para, d, e_gold)
    d = jnp.where(para, d_para, _GOLD * e_gold)
    u = x + jnp.where(jnp.abs(d) >= tol1, d, jnp.where(d > 0, tol1, -tol1))
    return u, d, e_new


def brent_update(s: BrentState, u, f_u, d, e) -> BrentState:
    """Take the value f(u) of the function to maximise (Brent 1973, ch. 5, ``fmin``, on -f)."""
    a, b, x, w, v, fx, fw, fv, _, _, tol = s
    fu = -f_u
    better = fu <= fx
    a2 = jnp.where(better, jnp.where(u >= x, x, a), jnp.where(u < x, u, a))
    b2 = jnp.where(better, jnp.where(u >= x, b, x), jnp.where(u < x, b, u))
    c1 = (fu <= fw) | (w == x)
    c2 = (fu <= fv) | (v == x) | (v == w)
    v2 = jnp.where(better, w, jnp.where(c1, w, jnp.where(c2, u, v)))
    fv2 = jnp.where(better, fw, jnp.where(c1, fw, jnp.where(c2, fu, fv)))
    w2 = jnp.where(better, x, jnp.where(c1, u, w))
    fw2 = jnp.where(better, fx, jnp.where(c1, fu, fw))
    return BrentState(a2, b2, jnp.where(better, u, x), w2, v2, jnp.where(better, fu, fx), fw2, fv2, d, e, tol)


def golden_max(f, a, b, state, *, xtol, max_iter: int = 100):
    """Maximiser of a unimodal scalar f on [a, b] by Brent's method (golden section + parabola).

    Parameters
    ----------
    f : callable (x, state) -> (f(x), state)
    xtol : float
        Absolute tolerance on x.

    Returns
    -------
    (x, f(x), state) of the best point evaluated.

    Notes
    -----
    The algorithm of Brent (1973), "Algorithms for minimization without derivatives",
    ch. 5 (``fmin``), applied to -f, as in ``scipy.optimize.fminbound`` (with a fixed
    absolute tolerance).
    """
    x0 = brent_start(a, b)
    f0, state = f(x0, state)
    s0 = brent_init(a, b, x0, f0, xtol)

    def cond(c):
        s, _, it = c
        return ~brent_done(s) & (it < max_iter)

    def body(c):
        s, state, it = c
        u, d, e = brent_point(s)
        fu, state = f(u, state)
        return brent_update(s, u, fu, d, e), state, it + 1

    s, state, _ = jax.lax.while_loop(cond, body, (s0, state, 0))
    return s.x, -s.fx, state
