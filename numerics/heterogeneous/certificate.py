r"""Certified upper bounds on the heterogeneous optimum (docs/model.md D5, D6, D7).

For a band price lambda_x >= 0 per unit of X_k = tau beta_k (the constraint sum_k X_k <= tau)
and token prices mu_k >= 0, weak duality bounds every feasible point with deadline tau:

.. math::

    \sum_k A_k(L_k) - \mu_k L_k \;\le\; D(\tau) = \lambda_x \tau + \sum_k \psi_k(\tau),\qquad
    \psi_k(\tau) = \max_{0 \le L \le \ell_k} g_k(\tau, L),\quad
    g_k = A_k(L) - \mu_k L - \lambda_x \tau\, b_k(L, \tau).

g_k is jointly concave in (tau, L) (tau b is a perspective, jointly convex), so at any point
(tau_i, L_i), with the left and right slopes f^-, f^+ of g in L,

.. math::

    \psi_k(\tau) \le g_k(\tau_i, L_i) + \partial_\tau g_k\,(\tau - \tau_i)
      + \max\big(0,\ f^+ (\ell_k - L_i),\ -f^- L_i\big)

for every tau >= 0 (:func:`tangent_line`): a line, valid whether or not L_i is the exact
per-user maximiser (the last term pays for any error in it; it vanishes at the maximiser).
Users without upload use the multiplier pi = A'(L_i) - mu of L <= tau / t instead. The
deadline -> 0 limit gives one more line valid everywhere, F(0) + tau M with M the value of
the linearised problem (:meth:`numerics.heterogeneous.users.Users.linearised`).

The goodput is then bounded by (:func:`ratio_sup`, :func:`theory.heterogeneous.tangent_bound`)

.. math::

    G \le \sup_{\tau \ge 0,\ 0 \le n \le n_{max}} \frac{\min_i \mathrm{line}_i(\tau) + P n}{\tau + c + w n},

with (P, w, n_max) = (mu, v1, sum_k ell_k) for ragged batching priced by Dinkelbach's
mu = g v1, (sum_k nu_k, v1 K, max_k ell_k) for padded batching with the caps L_k <= m priced
by nu_k, and (0, 0, 0) for v1 = 0. The supremum is attained at tau = 0, a crossing of two
lines or tau -> inf, with n = 0 or n_max. A relative margin covers the rounding of the sums
of K terms (pairwise summation). The trivial bound sum_k A_k(ell_k) / c is also valid; the
smaller is reported.
"""

from __future__ import annotations

import numpy as np

from ..roots import newton
from ..solution import SolverError
from .inner import Inner, Response
from .users import Users

__all__ = ["certify", "linear_line", "ratio_sup", "tangent_line", "trivial_bound"]

_EPS = float(np.finfo(np.float64).eps)
#: relative offset of the tangent points from the deadline found (its root tolerance is 1e-13)
_TANGENT_OFFSET = 1e-7
#: the band price is searched only when the first bound is looser than this (relative)
_TIGHT = 1e-13


def _slopes(u: Users, L: np.ndarray, idx) -> tuple[np.ndarray, np.ndarray]:
    """(A'_-(L), A'_+(L)): left and right slopes of A (equal on a smooth curve)."""
    if u.kind == "smooth":
        d = u.d_tokens(L, idx)
        return d, d
    left = np.where(L > 0, u.segment(np.maximum(np.ceil(L), 1.0), idx), 0.0)
    right = u.segment(np.floor(L) + 1.0, idx)
    return left, right


def _correction(fl, fr, L, cap):
    """max(0, f+ (cap - L), -f- L): what any L in [0, cap] can add beyond the tangent."""
    with np.errstate(invalid="ignore", over="ignore"):
        up_side = np.where(cap > L, fr * (cap - L), 0.0)
        down_side = np.where(L > 0, -fl * L, 0.0)
    out = np.maximum(0.0, np.maximum(up_side, down_side))
    return np.where(np.isnan(out), np.inf, out)


def tangent_line(inner: Inner, resp: Response, lam_x: float) -> tuple[float, float]:
    """(p, d) with D(tau) <= p + d tau for every tau >= 0 (module docstring), from the
    responses ``resp`` of ``inner`` (deadline tau_i) at the band price lambda = lam_x tau_i."""
    u = inner.u
    tau_i = inner.tau
    lam = lam_x * tau_i
    L = resp.L
    mu = inner.mu
    cap = inner.cap
    K = u.K
    p = u.tokens(L) - mu * L        # g at L for users without band
    d = np.zeros(K)
    fl_A, fr_A = _slopes(u, L, None)
    fl = fl_A - mu
    fr = fr_A - mu
    up = inner.up
    if up.size:
        # the response's own share terms (computed from the share where that is more precise)
        st = resp.terms if resp.terms is not None else u.share_terms(L[up], tau_i, up, order=1)
        live = L[up] > 0
        b = np.where(live, st["b"], 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            g_tau = np.where(live, -lam_x * b - lam * st["btau"], 0.0)
            p[up] = p[up] - lam * b - g_tau * tau_i
            d[up] = g_tau
            bL = np.where(np.isnan(st["bL"]), np.inf, st["bL"])
            fl[up] = fl[up] - lam * bL
            fr[up] = fr[up] - lam * bL
    fb = np.flatnonzero(resp.status == 3)
    if fb.size:  # without upload, bound by the deadline: multiplier pi of L <= tau / t
        pi = np.maximum(fl[fb], 0.0)
        p[fb] = p[fb] - pi * L[fb]
        d[fb] = pi / u.t[fb]
        fl[fb] = fl[fb] - pi
        fr[fb] = fr[fb] - pi
    corr = _correction(fl, fr, L, cap)
    with np.errstate(invalid="ignore", over="ignore"):
        terms = p + corr  # -inf + inf: no claim, an infinite intercept
        terms = np.where(np.isnan(terms), np.inf, terms)
        P = float(np.sum(terms))
        Ds = lam_x + float(np.sum(d))
        P += 64 * _EPS * float(np.sum(np.abs(terms)))
        Ds += 64 * _EPS * (lam_x + float(np.sum(np.abs(d))))
    if np.isnan(Ds):
        Ds = np.inf
    return P, Ds


def linear_line(base: Response, lin_inner: Inner, lin_resp: Response, lam_x: float) -> tuple[float, float]:
    """(p, d): F(tau) <= F(0) + tau M for all tau, from the linearised problem (deadline 1).

    ``base``: the response at tau = 0 (users without cost at their best, the others at 0);
    ``lin_resp``: the linearised problem's responses at band price lam_x (any lam_x >= 0).
    """
    u = lin_inner.u
    L = lin_resp.L
    mu = lin_inner.mu
    cap = lin_inner.cap
    m = (u.c1 - mu) * L
    fr = u.c1 - mu
    fl = fr.copy()
    up = lin_inner.up
    if up.size:
        st = u.share_terms(L[up], 1.0, up, order=1)
        live = L[up] > 0
        b = np.where(live, st["b"], 0.0)
        m[up] = m[up] - lam_x * b
        bL = np.where(np.isnan(st["bL"]), np.inf, st["bL"])
        fr[up] = fr[up] - lam_x * bL
        fl[up] = fl[up] - lam_x * bL
    fb = np.flatnonzero(lin_resp.status == 3)
    if fb.size:  # l <= 1/t priced at pi = c1 - mu: the line is exact
        fr[fb] = 0.0
        fl[fb] = 0.0
    corr = _correction(fl, fr, L, cap)
    with np.errstate(invalid="ignore", over="ignore"):
        terms = m + corr  # -inf + inf (a share the rate cannot carry): no claim, an infinite slope
        terms = np.where(np.isnan(terms), np.inf, terms)
        M = lam_x + float(np.sum(terms))
        M += 64 * _EPS * (lam_x + float(np.sum(np.abs(terms))))
    p = base.F + 64 * _EPS * abs(base.F)
    return p, M


def ratio_sup(lines, c: float, P: float = 0.0, w: float = 0.0, n_max: float = 0.0) -> float:
    """sup over tau >= 0, 0 <= n <= n_max of (min_i (p_i + d_i tau) + P n) / (tau + c + w n)."""
    p = np.array([ln[0] for ln in lines], dtype=np.float64)
    d = np.array([ln[1] for ln in lines], dtype=np.float64)
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(d))):
        return np.inf
    taus = [0.0]
    for i in range(p.size):
        for j in range(i + 1, p.size):
            if d[i] != d[j]:
                x = (p[j] - p[i]) / (d[i] - d[j])
                if x > 0 and np.isfinite(x):
                    taus.append(float(x))
    best = float(np.min(d))  # tau -> inf
    ns = (0.0, n_max) if (P > 0 or w > 0) and n_max > 0 else (0.0,)
    for x in taus:
        f = float(np.min(p + d * x))
        for n in ns:
            best = max(best, (f + P * n) / (x + c + w * n))
    return best * (1.0 + 8 * _EPS)


def trivial_bound(u: Users, cap: np.ndarray, c: float) -> float:
    """sum_k A_k(ell_k) / c: every round lasts at least c (no drafting, batch of K tokens)."""
    return float(np.sum(u.tokens_int(cap))) / c * (1.0 + 64 * _EPS)


def certify(u: Users, caps: np.ndarray, c: float, mu, P: float, w: float, n_max: float, tau: float, lam_x0: float,
            value: float, quick: bool = False) -> tuple[float, int]:
    """The certified bound of the module docstring around the deadline ``tau`` found; (bound, passes).

    Every line below bounds the value function V(tau) = max sum_k A_k - mu_k L_k at every tau,
    whatever band price it was built with, so lines of different prices may be combined:

    - the tangents at tau (1 - 1e-7), tau, tau (1 + 1e-7), each at the band price that solves
      the inner problem there (the dual is then tight at its point): at a smooth optimum the
      bound is tight to O(1e-14), at a kink of V (a user reaching its cap exactly at the
      deadline) the two outer tangents follow both pieces;
    - where that is still loose (a range of prices is optimal at tau: users held at caps or at
      integers of a piecewise-linear A), the tangent at tau at the price that balances its two
      terms p / c and d (a monotone root in ln lambda_x, :func:`numerics.roots.newton` with
      secant steps), the smallest of the prices tried;
    - where the slopes of those tangents exceed the goodput (V keeps rising steeply past a kink),
      tangents at 16, 256, ... times tau until one is flatter;
    - the line of the linearised problem through tau = 0.

    ``quick``: only the tangent at tau and the balancing of its price (a few response passes,
    no band root): the bound of another relaxation (the chords of the integer problem) at the
    point where a first one (the smooth relaxation) was solved.
    """
    passes = 0
    lines = []
    best = trivial_bound(u, caps, c)
    if quick:
        if tau > 0:
            inn = Inner(u, tau, mu, caps)
            tried: dict[float, tuple[float, float]] = {}

            def line_q(lam_x: float) -> tuple[float, float]:
                if lam_x not in tried:
                    tried[lam_x] = tangent_line(inn, inn.respond(lam_x * tau, derivatives=False), lam_x)
                return tried[lam_x]

            def balance_q(x, idx):
                p, d = line_q(float(x[0]))
                return np.array([c * d - p]), None

            lx = lam_x0 if lam_x0 > 0 else max(value, 1e-300)
            if not ratio_sup([line_q(lx)], c, P, w, n_max) <= value * (1.0 + _TIGHT):
                newton(balance_q, lx * 1e-8, lx * 1e8, lx, increasing=True, log=True, rtol=1e-10,
                       lo_open=True, hi_open=True, maxiter=30)
            passes += inn.passes
            best = min([best] + [ratio_sup([ln], c, P, w, n_max) for ln in tried.values()])
        return best, passes
    base_in = Inner(u, 0.0, mu, caps)
    base = base_in.respond(0.0, derivatives=False)
    lin = u.linearised()
    lin_in = Inner(lin, 1.0, mu, np.where(caps > 0, lin.cap, 0.0))
    lr = lin_in.solve(pure=True)
    passes += lin_in.passes + base_in.passes + 1
    lines.append(linear_line(base, lin_in, lr, lr.lam))
    best = min(ratio_sup(lines, c, P, w, n_max), best)
    if tau > 0:
        lam = lam_x0 * tau
        for tau_i in (tau * (1.0 - _TANGENT_OFFSET), tau, tau * (1.0 + _TANGENT_OFFSET)):
            inn_i = Inner(u, tau_i, mu, caps)
            r = inn_i.solve(lam if lam > 0 else None, pure=True)
            passes += inn_i.passes
            lines.append(tangent_line(inn_i, r, r.lam / tau_i))
        # the tangents near tau bound V beyond it by their slopes: where those still exceed the
        # goodput (V keeps rising steeply past a kink), add tangents further out
        tau_i = tau
        for _ in range(64):
            if min(ln[1] for ln in lines) <= value or not np.isfinite(tau_i):
                break
            tau_i *= 16.0
            inn_i = Inner(u, tau_i, mu, caps)
            r = inn_i.solve(None, pure=True)
            passes += inn_i.passes
            lines.append(tangent_line(inn_i, r, r.lam / tau_i))
        best = min(best, ratio_sup(lines, c, P, w, n_max))
        if not best <= value * (1.0 + _TIGHT):
            inn = Inner(u, tau, mu, caps)
            tried = {}

            def line(lam_x: float) -> tuple[float, float]:
                if lam_x not in tried:
                    resp = inn.respond(lam_x * tau, derivatives=False)
                    tried[lam_x] = tangent_line(inn, resp, lam_x)
                return tried[lam_x]

            def balance(x, idx):
                p, d = line(float(x[0]))
                return np.array([c * d - p]), None

            lx = lam_x0 if lam_x0 > 0 else max(value, 1e-300)
            newton(balance, lx * 1e-8, lx * 1e8, lx, increasing=True, log=True, rtol=1e-12,
                   lo_open=True, hi_open=True, maxiter=60)
            passes += inn.passes
            best = min([best] + [ratio_sup([*lines, ln], c, P, w, n_max) for ln in tried.values()])
    if not np.isfinite(best):
        raise SolverError("certificate", "no finite upper bound")
    return best, passes
