r"""Padded batching with v1 > 0: the common cap m as a variable (docs/model.md D5, D6).

The batch term v1 K (max_k L_k + 1) makes the common cap m = max_k L_k a variable. For a fixed
m the rest is a plain problem with caps min(ell_k, m) and the constant c + v1 K m; its optimum
G**(m) is quasi-concave in m with dG**/dm = (sum_k nu_k - G v1 K) / D (nu_k the multipliers of
L_k <= m, :func:`cap_multipliers`), so the best m is the one sign change of that derivative,
found by :func:`numerics.roots.newton`:

- :func:`padded_joint` (the fast path): each G**(m) by the joint Newton step of
  :func:`.outer.joint` (one response pass a step);
- :func:`padded_nested` (the fallback): Dinkelbach on the ratio around the cap search
  :func:`cap_search` (Q(m) = max_tau [F(tau; L <= m) - g tau] - g v1 K m, concave in m)
  around the deadline search of :func:`.outer.deadline`.

Where the multipliers are not identified (a user held at once by the cap and the deadline, or
the deadline on a kink of F) the derivative is the left difference quotient of the concave
function searched.
"""

from __future__ import annotations

import numpy as np

from ..roots import NOT_BRACKETED, newton
from .outer import Point, Problem, deadline, dinkelbach, joint

__all__ = ["cap_multipliers", "cap_search", "padded_joint", "padded_nested"]

_EPS = float(np.finfo(np.float64).eps)


def cap_multipliers(pb: Problem, pt: Point, m: float, g: float) -> np.ndarray:
    """Multipliers nu_k >= 0 of L_k <= m at the point (any optimal dual solution: a supergradient).

    Users held at m by the cap alone: nu = A'(m-) - mu - lambda b_L(m) (uploading) or A'(m-) - mu.
    Users without upload held by both the cap and the deadline (t m = tau, a kink of F) share
    the deadline's multiplier: together they must supply F'(tau) = g beyond the other users,
    pi_k / t_k each, at most (A' - mu) / t_k; the rest of their marginal is nu_k.
    """
    u = pb.u
    r = pt.resp
    K = u.K
    nu = np.zeros(K)
    at = np.isclose(r.L, m, rtol=1e-12, atol=0.0) & (r.L > 0)
    if pt.tau > 0:
        # the deadline sits on such a kink only to the precision of its root (~1e-9 relative)
        kink = (u.s == 0) & (u.t > 0) & (r.L > 0) & np.isclose(u.t * m, pt.tau, rtol=1e-6, atol=0.0)
        at |= kink
    else:
        kink = np.zeros(K, dtype=bool)
    if not at.any():
        return nu
    idx = np.flatnonzero(at)
    mu = pt.inner.mu[idx]
    net = u.d_tokens(np.full(idx.size, m), idx) - mu
    nu[idx] = net
    upm = pt.inner.up_mask[idx] & (pt.tau > 0)
    if upm.any():
        ui = idx[upm]
        st = u.share_terms(r.L[ui], pt.tau, ui, order=1)
        nu[ui] = nu[ui] - r.lam * st["bL"]
    ki = np.flatnonzero(kink)
    if ki.size:
        marg = (u.d_tokens(np.full(ki.size, m), ki) - pt.inner.mu[ki]) / u.t[ki]  # most each can supply
        counted = r.status[ki] == 3                                               # already in F'
        need = max(g - (r.dF - float(np.sum(marg[counted]))), 0.0)
        for j, k in enumerate(ki):
            x = min(need, marg[j])
            nu[k] = (marg[j] - x) * u.t[k]
            need -= x
    return np.maximum(np.where(np.isfinite(nu), nu, 0.0), 0.0)


def cap_search(pb: Problem, g: float, m_guess: float | None) -> tuple[Point, float]:
    """Padded batching: argmax_m Q(m) = max_tau [F(tau; L <= m) - g tau] - g v1 K m (concave in m).

    The root of a supergradient, sum_k nu_k - g v1 K (:func:`cap_multipliers`), with Q as its
    primitive (tangent intersections at the kinks of Q, where m crosses a user's length).
    """
    u = pb.u
    lmax = float(np.max(np.where(u.active, pb.caps, 0.0))) if u.K else 0.0
    cache: dict[float, tuple[Point, float, float]] = {}
    w = g * pb.v1 * pb.K

    def value(m: float):
        pt = deadline(pb, np.minimum(pb.caps, m), 0.0, g)
        return pt, pt.resp.F - g * pt.tau - w * m

    def solve_m(m: float):
        hit = cache.get(m)
        if hit is None:
            pt, Q = value(m)
            r = pt.resp
            near = (r.L < m) & (r.L >= m * (1.0 - 1e-6)) & (r.L > 0)
            # the deadline on a kink of F (F' jumps over g there, e.g. a user reaching the cap m
            # with the whole band while the others are worth next to nothing): the band price,
            # and with it nu = A' - lambda b_L, is then any point of an interval
            kink = pt.tau > 0 and not abs(r.dF - g) <= 1e-6 * g
            if (near.any() or kink) and m > 0:
                # a user held at once by the cap and by the deadline (found to ~1e-9), or an
                # unpriced band: the envelope does not split the multipliers; the left difference
                # quotient of the concave Q does (an estimate of Q'(m-) to O(h))
                h = 1e-6 * m
                d = (Q - value(m - h)[1]) / h
            else:
                d = float(np.sum(cap_multipliers(pb, pt, m, g))) - w
            hit = cache[m] = (pt, Q, d)
        return hit

    def fun(x, idx):
        _, Q, d = solve_m(float(x[0]))
        return np.array([d]), None, np.array([Q])

    if lmax <= 0:
        pt, _, _ = solve_m(0.0)
        return pt, 0.0
    m0 = float(np.clip(m_guess if m_guess else 0.5 * lmax, 1e-9 * lmax, lmax))
    rr = newton(fun, 1e-12 * lmax, lmax, m0, increasing=False, log=True, rtol=1e-13, lo_open=True, hi_open=True,
                primitive=True)
    x = float(rr.x[0])
    if 0.0 < x <= lmax:
        solve_m(x)
    if rr.status[0] == NOT_BRACKETED and x < m0:
        solve_m(0.0)  # Q falls from m ~ 0 on: no drafting is a candidate
    best_m = max(cache, key=lambda mm: cache[mm][1])
    return cache[best_m][0], best_m


def padded_nested(pb: Problem, g0: float, m_guess: float | None) -> tuple[Point, float, float]:
    """Padded batching, v1 > 0 (module docstring): Dinkelbach over g around :func:`cap_search`."""
    g = g0
    best: tuple[Point, float] | None = None
    m = m_guess
    for _ in range(100):
        pt, m_new = cap_search(pb, g, m)
        r = pt.resp
        pt.g = r.N / (pt.tau + pb.c + pb.v1 * pb.K * m_new)
        pt.mu = 0.0
        if best is None or pt.g > best[0].g:
            best = (pt, m_new)
        if not pt.g > g * (1.0 + 4 * _EPS):
            break
        g, m = pt.g, m_new
    assert best is not None  # the loop runs at least once
    pt, m = best
    pt.g_final = g
    return pt, g, m


def padded_joint(pb: Problem, g0: float, m_guess: float | None, tau0: float | None):
    """Padded batching, v1 > 0, the fast path: G**(m) maximised over the common cap m directly.

    G**(m) is the plain problem with caps min(ell_k, m) and the constant c + v1 K m, solved by
    :func:`.outer.joint` (one response pass a step); it is quasi-concave in m with
    dG**/dm = (sum_k nu_k - G v1 K) / D (the cap multipliers of :func:`cap_multipliers`, or
    the left difference quotient where they are not identified), so its maximiser is the one
    sign change of that derivative (:func:`numerics.roots.newton`, G** as the primitive).
    Where the joint step does not apply at some m (band to spare, no drafting), that G**(m)
    comes from Dinkelbach's nested searches. Returns (point, g, m) or None.
    """
    u = pb.u
    lmax = float(np.max(np.where(u.active, pb.caps, 0.0))) if u.K else 0.0
    if lmax <= 0 or not tau0:
        return None
    w1 = pb.v1 * pb.K
    cache: dict[float, tuple[Point, float, float]] = {}
    state = {"tau": tau0, "g": g0}

    def plain(m: float) -> Point:
        capm = np.minimum(pb.caps, m)
        c_m = pb.c + w1 * m
        pt = joint(pb, capm, c_m, 0.0, state["g"], state["tau"])
        if pt is None:
            # Dinkelbach needs a start at or below G**(m): the goodput of drafting nothing is one
            g_zero = float(np.sum(pb.u.tokens(np.zeros(pb.K)))) / c_m
            pt, _ = dinkelbach(pb, capm, c_m, 0.0, min(state["g"] * 0.5, g_zero))
        pt.mu = 0.0
        if pt.tau > 0:
            state["tau"] = pt.tau
        return pt

    def solve_m(m: float):
        hit = cache.get(m)
        if hit is None:
            pt = plain(m)
            G = pt.g
            D = pt.tau + pb.c + w1 * m
            r = pt.resp
            near = (r.L < m) & (r.L >= m * (1.0 - 1e-6)) & (r.L > 0)
            kink = pt.tau > 0 and not abs(r.dF - G) <= 1e-6 * G
            if (near.any() or kink) and m > 0:
                h = 1e-6 * m
                d = (G - plain(m - h).g) / h
            else:
                d = (float(np.sum(cap_multipliers(pb, pt, m, G))) - G * w1) / D
            hit = cache[m] = (pt, G, d)
        return hit

    def fun(x, idx):
        _, G, d = solve_m(float(x[0]))
        return np.array([d]), None, np.array([G])

    m0 = float(np.clip(m_guess if m_guess else 0.5 * lmax, 1e-9 * lmax, lmax))
    rr = newton(fun, 1e-12 * lmax, lmax, m0, increasing=False, log=True, rtol=1e-13, lo_open=True, hi_open=True,
                primitive=True)
    x = float(rr.x[0])
    if 0.0 < x <= lmax:
        solve_m(x)
    if rr.status[0] == NOT_BRACKETED and x < m0:
        solve_m(0.0)
    best_m = max(cache, key=lambda mm: cache[mm][1])
    pt, G, _ = cache[best_m]
    pt.g_final = G
    return pt, G, best_m
