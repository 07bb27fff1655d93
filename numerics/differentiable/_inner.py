r"""The inner problem of the heterogeneous regime in JAX: fixed deadline, price and caps (D2, D3, D6).

At a drafting deadline tau, a price mu_k >= 0 per draft token (mu = g v1 in Dinkelbach's step
for ragged batching, D6) and caps ell_k (max_draft, the common cap m of padded batching, the
stop-short length where A'(L) = mu):

.. math::

    F(\tau) = \max_{\beta \ge 0,\ \sum_k \beta_k \le 1}\ \sum_k \big(A_k(L_k) - \mu_k L_k\big),
    \qquad L_k(\beta) = \min\big(\ell_k,\ \tau\, r_k(\beta) / (s_k + t_k r_k(\beta))\big),

concave (D2). Dualising the band with lambda splits it per user: beta_k(lambda) maximises
A_k(L_k(beta)) - mu_k L_k(beta) - lambda beta, and lambda solves sum_k beta_k(lambda) = 1
(:func:`solve_lambda`; lambda = 0 if every user reaches its cap with band to spare). This is
the NumPy relaxation of ``numerics.solve_heterogeneous(s, integer=False)``, written for JAX:

- smooth A (i.i.d. alpha), both rates: the per-user stationarity
  g(beta) = (A'(L) - mu) L'(beta) - lambda = 0 (decreasing in beta, D2) by safeguarded
  Newton in ln(beta) (:func:`numerics.differentiable._roots.newton_bracketed`); for the
  linear rate the D3 W_0 closed form at mu = 0 (:func:`d3_shares`) is the start, and the
  answer itself when mu = 0;
- profile (A piecewise linear, slopes c_j): the optimum is located from the kinks (g jumps
  down at each integer L) exactly as in ``Inner._segments_generic``; inside a segment
  c_j L'(beta) = lambda is solved in closed form for the linear rate,
  s + t B eta beta = sqrt(tau B eta s (c_j - mu) / lambda), by Newton otherwise;
- users without upload (s = 0) draft to the deadline or their cap (D1); alpha = 0 users
  (or a first position with alpha = 0) keep L = 0.

Each user ends in one status (``OFF``, ``FREE``, ``CAP``, ``KINK``, ``INTERIOR``, ``BAND``,
``JUMP``): the optimality condition that holds there, used to differentiate the solution
implicitly (:func:`optimality`). ``BAND`` (one user takes the whole band) and ``JUMP`` (a
linear-rate, t = 0 profile user whose response jumps between two kinks at lambda, given
the share that fills the band) fix lambda themselves.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._allocation import share_for_rate
from ._lambertw import lambertw_exp
from ._model import Params, marginal, tokens
from ._tokens import profile_slopes

__all__ = [
    "BAND",
    "CAP",
    "FREE",
    "INTERIOR",
    "JUMP",
    "KINK",
    "OFF",
    "LamState",
    "Response",
    "Stage",
    "capacity",
    "d3_shares",
    "envelope_tau",
    "lam_cold_start",
    "lam_finish",
    "lam_start",
    "lam_trivial",
    "lam_update",
    "lambda_slope",
    "marginal_value",
    "optimality",
    "rate_terms",
    "respond",
    "solve_lambda",
    "stage",
    "stop_short",
]

OFF, FREE, CAP, KINK, INTERIOR, BAND, JUMP = range(7)

_LN2 = math.log(2.0)
_TINY = 1e-250       # smallest share considered (a user below it drafts < 1e-240 tokens)
_LOG_TINY = math.log(_TINY)
_U_TOL = 1e-14       # Newton tolerance in ln(beta), ln(lambda): relative 1e-14 (error ~1e-28 after)
_S_TOL = 1e-14       # band-sum tolerance of the lambda root (~45 ulp of a sum of K shares)
_S_LIN = 1e-8        # below this the last Newton step is taken to first order (error ~1e-16)
_EPS = 2.220446049250313e-16


class Stage(NamedTuple):
    """The lambda-free constants of the inner problem at (tau, mu, ell)."""

    tau: jax.Array
    mu: jax.Array      # (K,) price per draft token
    ell: jax.Array     # (K,) effective cap (0 for users that cannot gain)
    up: jax.Array      # (K,) bool: active, uploads (s > 0), ell > 0
    free: jax.Array    # (K,) bool: active, no upload (s = 0)
    L_free: jax.Array  # (K,) min(ell, tau / t) for free users
    bcap: jax.Array    # (K,) share with which an uploading user reaches ell by tau (inf if it cannot)
    bk: jax.Array      # (K, M) profile: share at min(j, ell) (inf if unreachable); (K, 0) if smooth
    L1k: jax.Array     # (K, M) profile: L'(bk)
    valid: jax.Array   # (K, M) profile: segment j exists (j - 1 < ell)


class Response(NamedTuple):
    """Per-user responses to one lambda."""

    beta: jax.Array
    L: jax.Array
    dbdl: jax.Array    # d beta / d lambda (0 off the interior)
    L1: jax.Array      # L'(beta) (0 where beta = 0)
    status: jax.Array  # int codes OFF..JUMP
    seg: jax.Array     # profile: segment index (0-based) of INTERIOR, kink length of KINK
    m1: jax.Array      # the marginal value of band at share 1 (fixes lambda for a BAND user)


# ------------------------------------------------------------------ channel and capacity
def rate_terms(p: Params, beta):
    """r, r', r'' at beta > 0 (log(1 + rho/beta) without overflow or cancellation)."""
    B = p.bandwidth
    if p.rate_model == "linear":
        r1 = B * p.channel * jnp.ones_like(beta)
        return beta * r1, r1, jnp.zeros_like(beta)
    rho = p.channel
    b = jnp.where(beta > 0, beta, 1.0)
    small = b < rho
    lg = jnp.where(small, jnp.log(rho + b) - jnp.log(b), jnp.log1p(rho / jnp.where(small, 1.0, b)))
    k = B / _LN2
    return k * b * lg, k * (lg - rho / (b + rho)), -k * rho ** 2 / (b * (b + rho) ** 2)


def capacity(p: Params, tau, beta):
    """L(beta) = tau r / (s + t r), L'(beta), L''(beta) (uploading users, beta > 0)."""
    r, r1, r2 = rate_terms(p, beta)
    s = jnp.where(p.s > 0, p.s, 1.0)
    D = s + p.t * r
    sD, r1D = s / D, r1 / D  # ratios first: D^2 overflows for rates above 1.3e154 bit/s
    L = tau * r / D
    L1 = tau * sD * r1D
    L2 = tau * sD * (r2 / D - 2.0 * p.t * r1D ** 2)
    return L, L1, L2


def _share_for_length(p: Params, tau, L):
    """beta with L(beta) = L at deadline tau: r^{-1}(s L / (tau - t L)) (inf if unreachable)."""
    slack = tau - p.t * L
    ok = (slack > 0) & (p.s > 0)
    R = jnp.where(ok, p.s * L / jnp.where(ok, slack, 1.0), 0.0)
    return jnp.where(ok, share_for_rate(p, R), jnp.inf)


def _active(p: Params):
    return (p.alpha[..., 0] > 0) if p.positional else (p.alpha > 0)


def stop_short(p: Params, mu):
    """D6: the largest L with A'(L) >= mu (inf at mu = 0; 0 if A'(0) <= mu)."""
    if p.positional:
        c, _ = profile_slopes(p.alpha)
        n = jnp.sum(c > mu[..., None], axis=-1).astype(jnp.float64)
        return jnp.where(mu > 0, n, jnp.inf)
    al = p.alpha
    ok = (al > 0) & (mu > 0)
    a_ = jnp.where(ok, al, 0.5)
    a = -jnp.log(a_)
    # A'(L) = mu  <=>  (L + 1) a = ln(a / (mu (1 - alpha)))
    Ls = jnp.log(a / (jnp.where(ok, mu, 1.0) * (1.0 - a_))) / a - 1.0
    return jnp.where(ok, jnp.maximum(Ls, 0.0), jnp.where(al > 0, jnp.inf, 0.0))


def stage(p: Params, tau, mu, cap) -> Stage:
    """The constants of the inner problem at deadline tau, price mu (K,) and common cap ``cap``."""
    K = p.n_users
    active = _active(p)
    ell = jnp.minimum(jnp.broadcast_to(cap, (K,)), stop_short(p, mu))
    ell = jnp.where(active, ell, 0.0)
    up = active & (p.s > 0) & (ell > 0)
    free = active & (p.s == 0)
    t_ = jnp.where(p.t > 0, p.t, 1.0)
    L_free = jnp.where(free, jnp.where(p.t > 0, jnp.minimum(ell, tau / t_), ell), 0.0)
    bcap = jnp.where(up, _share_for_length(p, tau, jnp.where(up, ell, 0.0)), 0.0)
    if p.positional:
        M = p.max_draft
        j = jnp.arange(1, M + 1, dtype=jnp.float64)
        ends = jnp.minimum(j[None, :], ell[:, None])
        valid = up[:, None] & ((j[None, :] - 1.0) < ell[:, None])
        bk = jax.vmap(lambda Lc: _share_for_length(p, tau, Lc), in_axes=1, out_axes=1)(ends)
        bk = jnp.where(valid, bk, jnp.inf)
        fin = valid & jnp.isfinite(bk) & (bk > 0)
        bks = jnp.where(fin, bk, 1.0)
        _, L1k, _ = jax.vmap(lambda b: capacity(p, tau, b), in_axes=1, out_axes=1)(bks)
        L1k = jnp.where(fin, L1k, 0.0)
    else:
        bk = L1k = jnp.zeros((K, 0))
        valid = jnp.zeros((K, 0), bool)
    return Stage(jnp.asarray(tau, jnp.float64), mu, ell, up, free, L_free, bcap, bk, L1k, valid)


# ------------------------------------------------------------------ D3 closed form (linear, smooth, mu = 0)
def d3_shares(p: Params, tau, lam, ell):
    """D3: the linear-rate share and draft length at (tau, lambda) with mu = 0 and caps ell (docs/model.md D3).

    With a = -ln(alpha), mu = (1/2) ln(lambda (1 - alpha) s / (a tau B eta alpha)),
    eps = 2 t / (tau a), x = eps W_0(exp(mu + 1/eps - ln eps)) (the upload fraction of h),
    delta = -mu + ln x (x > 1/2) or 1/eps - W_0(...) (x <= 1/2); L = min(ell, 2 delta / a),
    beta = s L / (B eta (tau - t L)); delta <= 0 means beta = 0 (the max(0, .) of docs/model.md);
    t = 0 gives x = 1, delta = -mu. W_0(e^l) is :func:`lambertw_exp` (no overflow).
    Users without upload get L = min(ell, tau / t), users with alpha = 0 get 0.
    """
    alpha, t, s = p.alpha, p.t, p.s
    Beta = p.bandwidth * p.channel
    up = (s > 0) & (alpha > 0) & (ell > 0)
    a_ = jnp.where(up, alpha, 0.5)
    s_ = jnp.where(up, s, 1.0)
    la = -jnp.log(a_)
    mu = 0.5 * (jnp.log(lam) + jnp.log1p(-a_) + jnp.log(s_) - jnp.log(la) - jnp.log(tau * Beta) - jnp.log(a_))
    drafts = t > 0
    t_ = jnp.where(drafts, t, 1.0)
    eps = 2.0 * t_ / (tau * la)
    omega = lambertw_exp(mu + 1.0 / eps - jnp.log(eps))
    x = eps * omega
    # delta = -mu + ln x = 1/eps - omega (the same number): the first cancels when delta is tiny
    # next to mu (tau -> 0: delta ~ tau, mu ~ ln tau), the second when x -> 1; take the form whose
    # rounding error (~ulp of its terms) is smaller
    big = (x > 0.5) & (jnp.abs(mu) + jnp.abs(jnp.log(jnp.where(x > 0, x, 1.0))) < 1.0 / eps + omega)
    delta = jnp.where(big, -mu + jnp.log(jnp.where(big, x, 1.0)), 1.0 / eps - omega)
    x = jnp.where(drafts, x, 1.0)
    delta = jnp.where(drafts, delta, -mu)
    on = up & (delta > 0)
    L_unc = 2.0 * jnp.where(on, delta, 0.0) / la
    capped = on & (L_unc >= ell)
    L_up = jnp.where(on, jnp.minimum(L_unc, ell), 0.0)
    den = jnp.where(capped, tau - t * ell, tau * x)  # tau - t L, without cancellation when uncapped
    beta = jnp.where(on, s_ * L_up / (Beta * jnp.where(on & (den > 0), den, 1.0)), 0.0)
    beta = jnp.where(capped & ~(tau - t * ell > 0), jnp.inf, beta)
    L_free = jnp.where(drafts, jnp.minimum(ell, tau / t_), ell)
    L = jnp.where(s > 0, L_up, jnp.where(alpha > 0, L_free, 0.0))
    return beta, L


# ------------------------------------------------------------------ per-user responses
def marginal_value(p: Params, st: Stage, beta):
    """(A'(L(beta)) - mu) L'(beta): the marginal value of band at share beta > 0 (left derivative)."""
    L, L1, _ = capacity(p, st.tau, beta)
    L = jnp.minimum(L, st.ell)
    return (marginal(p, L) - st.mu) * L1


def _respond_smooth(p: Params, st: Stage, lam, warm):
    tau, mu = st.tau, st.mu
    n_up = jnp.maximum(jnp.sum(st.up), 1)
    Ap0 = marginal(p, jnp.zeros_like(p.t)) - mu
    top = jnp.where(st.up, jnp.minimum(st.bcap, 1.0), 1.0)
    top_s = jnp.where(top > 0, top, 1.0)
    Ltop, L1top, _ = capacity(p, tau, top_s)
    Ltop = jnp.minimum(Ltop, st.ell)
    gtop = (marginal(p, Ltop) - mu) * L1top - lam
    if p.rate_model == "linear":
        gtiny = Ap0 * tau * p.bandwidth * p.channel / jnp.where(p.s > 0, p.s, 1.0) - lam  # g(0+)
        beta_cf, _ = d3_shares(p, tau, lam, st.ell)
        beta_cf = jnp.where(jnp.isfinite(beta_cf), beta_cf, 0.0)
        start = jnp.where(beta_cf > 0, beta_cf, warm)
    else:
        _, L1t, _ = capacity(p, tau, jnp.full_like(p.t, _TINY))
        gtiny = Ap0 * L1t - lam
        start = beta_cf = warm
    on = st.up & (Ap0 > 0) & (gtiny > 0) & (top > _TINY)
    at_top = on & (gtop >= 0)
    inner = on & ~at_top
    start = jnp.where((start > _TINY) & (start < top), start, jnp.minimum(top, 1.0 / n_up) * 0.5)
    lo = jnp.where(inner, _LOG_TINY, 0.0)
    hi = jnp.where(inner, jnp.log(top_s), 0.0)
    a = -jnp.log(jnp.where(p.alpha > 0, p.alpha, 0.5))

    def fdf(u):
        b = jnp.exp(u)
        L, L1, L2 = capacity(p, tau, b)
        A1 = marginal(p, L)
        g = (A1 - mu) * L1 - lam
        dg = -a * A1 * L1 ** 2 + (A1 - mu) * L2
        return jnp.where(inner, g, -1.0), jnp.where(inner, b * dg, -1.0)

    from ._roots import newton_bracketed

    # the linear rate without a price: the closed form is the root (no iteration)
    solve = inner & ((mu > 0) | (p.rate_model != "linear"))
    u = newton_bracketed(fdf, jnp.log(start), lo, hi, xtol=_U_TOL, ftol=8 * _EPS * lam, max_iter=200, active=solve)
    b_in = jnp.where(solve, jnp.exp(u), beta_cf)
    L_in, L1_in, L2_in = capacity(p, tau, b_in)
    A1 = marginal(p, L_in)
    dg = -a * A1 * L1_in ** 2 + (A1 - mu) * L2_in
    capped = at_top & (st.bcap <= 1.0)
    band = at_top & ~(st.bcap <= 1.0)
    beta = jnp.where(inner, b_in, jnp.where(at_top, top, 0.0))
    L = jnp.where(inner, L_in, jnp.where(capped, st.ell, jnp.where(band, Ltop, 0.0)))
    L1 = jnp.where(inner, L1_in, jnp.where(at_top, L1top, 0.0))
    dbdl = jnp.where(inner & (dg < 0), 1.0 / jnp.where(dg < 0, dg, -1.0), 0.0)
    status = jnp.where(inner, INTERIOR, jnp.where(capped, CAP, jnp.where(band, BAND, OFF)))
    return beta, L, dbdl, L1, status, jnp.zeros_like(status), gtop + lam


def _respond_profile(p: Params, st: Stage, lam, warm):
    tau, mu = st.tau, st.mu
    K, M = st.bk.shape
    c, _ = profile_slopes(p.alpha)
    net = c - mu[:, None]
    fin = st.valid & jnp.isfinite(st.bk)
    gl = jnp.where(fin, net * st.L1k - lam, -jnp.inf)  # g just left of the kink ending segment j
    net_next = jnp.concatenate([net[:, 1:], jnp.full((K, 1), -1.0)], axis=1)
    j1 = jnp.arange(1, M + 1, dtype=jnp.float64)[None, :]
    interior_kink = fin & (j1 < st.ell[:, None])  # kink strictly below the cap: the next segment exists
    gr = jnp.where(interior_kink, net_next * st.L1k - lam, -jnp.inf)  # g just right of kink j
    if p.rate_model == "linear":
        L1_0 = tau * p.bandwidth * p.channel / jnp.where(p.s > 0, p.s, 1.0)
    else:
        _, L1_0, _ = capacity(p, tau, jnp.full_like(p.t, _TINY))
    g0 = net[:, 0] * L1_0 - lam
    starts = st.up & (net[:, 0] > 0) & (g0 > 0)
    neg = gl <= 0
    has = jnp.any(neg, axis=1)
    jstar = jnp.argmax(neg, axis=1)
    last = jnp.maximum(jnp.sum(st.valid, axis=1) - 1, 0)
    rows = jnp.arange(K)
    to_cap = starts & ~has
    g_start = jnp.where(jstar > 0, gr[rows, jnp.maximum(jstar - 1, 0)], g0)
    seg = starts & has
    at_kink = seg & (jstar > 0) & (g_start <= 0)
    inner = seg & ~at_kink
    b_prev = jnp.where(jstar > 0, st.bk[rows, jnp.maximum(jstar - 1, 0)], 0.0)
    b_end = st.bk[rows, jstar]
    net_j = net[rows, jstar]
    # inside segment j*: net_j L'(beta) = lambda
    if p.rate_model == "linear":
        Beta = p.bandwidth * p.channel
        t_ = jnp.where(p.t > 0, p.t, 1.0)
        root = (jnp.sqrt(tau * Beta * p.s * jnp.maximum(net_j, 0.0) / lam) - p.s) / (t_ * Beta)
        b_in = jnp.clip(root, b_prev, b_end)
    else:
        lo_b = jnp.maximum(b_prev, _TINY)
        hi_b = jnp.minimum(b_end, 1.0)
        x0 = jnp.where((warm > lo_b) & (warm < hi_b), warm, jnp.sqrt(lo_b) * jnp.sqrt(hi_b))

        def fdf(u):
            b = jnp.exp(u)
            _, L1, L2 = capacity(p, tau, b)
            return jnp.where(inner, net_j * L1 - lam, -1.0), jnp.where(inner, b * net_j * L2, -1.0)

        lo_u = jnp.where(inner, jnp.log(lo_b), 0.0)
        hi_u = jnp.where(inner, jnp.log(jnp.where(hi_b > 0, hi_b, 1.0)), 0.0)
        from ._roots import newton_bracketed

        b_in = jnp.exp(newton_bracketed(fdf, jnp.log(x0), lo_u, hi_u, xtol=_U_TOL, ftol=8 * _EPS * lam,
                                        max_iter=200))
    b_in_s = jnp.where(inner, b_in, 1.0)
    L_in, L1_in, L2_in = capacity(p, tau, b_in_s)
    kink_L = jnp.minimum(jstar.astype(jnp.float64), st.ell)
    beta = jnp.where(inner, b_in, jnp.where(at_kink, b_prev, jnp.where(to_cap, st.bk[rows, last], 0.0)))
    L = jnp.where(inner, jnp.minimum(L_in, st.ell), jnp.where(at_kink, kink_L, jnp.where(to_cap, st.ell, 0.0)))
    L1 = jnp.where(inner, L1_in, jnp.where(at_kink, st.L1k[rows, jnp.maximum(jstar - 1, 0)],
                                           jnp.where(to_cap, st.L1k[rows, last], 0.0)))
    dg = net_j * L2_in
    dbdl = jnp.where(inner & (dg < 0), 1.0 / jnp.where(dg < 0, dg, -1.0), 0.0)
    status = jnp.where(inner, INTERIOR, jnp.where(at_kink, KINK, jnp.where(to_cap, CAP, OFF)))
    segv = jnp.where(inner, jstar, jnp.where(at_kink, jstar, 0))
    # the band constraint per user: a share above 1 is cut to 1 (the whole band)
    over = (beta >= 1.0) & (status != OFF)
    b1 = jnp.ones_like(beta)
    L_1, L1_1, _ = capacity(p, tau, b1)
    beta = jnp.where(over, 1.0, beta)
    L = jnp.where(over, jnp.minimum(L_1, st.ell), L)
    L1 = jnp.where(over, L1_1, L1)
    dbdl = jnp.where(over, 0.0, dbdl)
    status = jnp.where(over, BAND, status)
    m1 = (marginal(p, jnp.minimum(L_1, st.ell)) - mu) * L1_1
    return beta, L, dbdl, L1, status, segv, m1


def respond(p: Params, st: Stage, lam, warm) -> Response:
    """Every user's response to the band price lambda > 0 (module docstring)."""
    if p.positional:
        beta, L, dbdl, L1, status, seg, m1 = _respond_profile(p, st, lam, warm)
    else:
        beta, L, dbdl, L1, status, seg, m1 = _respond_smooth(p, st, lam, warm)
    beta = jnp.where(st.up, beta, 0.0)
    status = jnp.where(st.up, status, jnp.where(st.free, FREE, OFF))
    L = jnp.where(st.up, L, st.L_free)
    return Response(beta, L, jnp.where(st.up, dbdl, 0.0), jnp.where(st.up, L1, 0.0), status.astype(jnp.int32),
                    seg.astype(jnp.int32), jnp.where(st.up, m1, 0.0))


def _at_caps(p: Params, st: Stage) -> Response:
    """lambda = 0: every uploading user at its cap share (band to spare); L' is not needed there
    (every multiplier term is proportional to lambda) and left 0."""
    bc = jnp.where(st.up, st.bcap, 0.0)
    status = jnp.where(st.up, CAP, jnp.where(st.free, FREE, OFF)).astype(jnp.int32)
    L = jnp.where(st.up, st.ell, st.L_free)
    z = jnp.zeros_like(bc)
    zi = jnp.zeros(p.t.shape, jnp.int32)
    return Response(bc, L, z, z, status, zi, z)


class LamState(NamedTuple):
    """Newton's method in u = ln(lambda) on S = sum beta - 1, with the bracket it has seen."""

    u: jax.Array       # the next point to evaluate
    ulo: jax.Array     # S(ulo) > 0 (-inf: not seen yet)
    uhi: jax.Array     # S(uhi) <= 0 (+inf: not seen yet)
    Slo: jax.Array
    Shi: jax.Array
    blo: jax.Array     # shares at ulo, uhi (for the jump fill)
    bhi: jax.Array
    dxold: jax.Array   # |u| step before last (Newton must at least halve it)
    grow: jax.Array    # the bracketing step while one side is unseen
    fb: jax.Array      # the last step was a fallback (then the next fallback bisects)


def lam_start(u0, K: int) -> LamState:
    """A fresh search from u0 (no bracket yet)."""
    z = jnp.zeros((K,))
    inf = jnp.asarray(jnp.inf)
    return LamState(jnp.asarray(u0, jnp.float64), -inf, inf, jnp.asarray(-1.0), jnp.asarray(1.0), z, z, inf,
                    jnp.asarray(0.5), jnp.asarray(False))


def lam_trivial(st: Stage):
    """lambda = 0: no user uploads, or every uploading user reaches its cap with band to spare."""
    spare = jnp.all(~st.up | jnp.isfinite(st.bcap)) & (jnp.sum(jnp.where(st.up, st.bcap, 0.0)) <= 1.0)
    return (jnp.sum(st.up) == 0) | spare


def lam_cold_start(p: Params, st: Stage):
    """ln lambda to start from without a warm value: the geometric mean of the users' marginal
    values of band at the equal split 1/n (capped at their cap share)."""
    n_up = jnp.maximum(jnp.sum(st.up), 1)
    b = jnp.where(st.up, jnp.minimum(1.0 / n_up, st.bcap), 1.0)
    m = marginal_value(p, st, jnp.where(b > 0, b, 1.0))
    ok = st.up & (m > 0)
    return jnp.sum(jnp.where(ok, jnp.log(jnp.where(ok, m, 1.0)), 0.0)) / jnp.maximum(jnp.sum(ok), 1)


def lam_update(ls: LamState, r: Response, trivial):
    """Take the response at ls.u: (next state, converged, S, dS/du).

    Converged: |S| <= 1e-14, or |S| <= 1e-8 with a Newton step to take (taken to first order by
    :func:`lam_finish`, error ~S^2), or a collapsed bracket (S jumps there). Steps: Newton
    unless it leaves the bracket or would not halve the step before last (flat or jumping S,
    the safeguard of ``rtsafe``, Numerical Recipes sec. 9.4): false position kept 10% inside
    the bracket, alternating with bisection; while one side of the bracket is unseen, Newton's step towards the root (at
    most 32), or a step ``grow`` (0.5, doubling) where S is flat.
    """
    u = ls.u
    S = jnp.sum(r.beta) - 1.0
    dS = jnp.exp(u) * jnp.sum(r.dbdl)
    pos = S > 0
    ulo, Slo, blo = jnp.where(pos, u, ls.ulo), jnp.where(pos, S, ls.Slo), jnp.where(pos, r.beta, ls.blo)
    uhi, Shi, bhi = jnp.where(pos, ls.uhi, u), jnp.where(pos, ls.Shi, S), jnp.where(pos, ls.bhi, r.beta)
    newton = dS < 0
    un = u - S / jnp.where(newton, dS, -1.0)
    both = jnp.isfinite(ulo) & jnp.isfinite(uhi)
    width = jnp.where(both, uhi - ulo, jnp.inf)
    conv = trivial | (jnp.abs(S) <= _S_TOL) | ((jnp.abs(S) <= _S_LIN) & newton) | \
        (width <= 4 * _EPS * jnp.maximum(1.0, jnp.abs(u)))
    ok = newton & jnp.isfinite(un) & (un >= ulo) & (un <= uhi) & (2.0 * jnp.abs(un - u) <= ls.dxold)
    # fallback inside the bracket: false position, kept 10% away from the ends (at least
    # linear progress; a user held at its cap or the whole band makes S flat on one side)
    lo_, hi_ = jnp.where(both, ulo, 0.0), jnp.where(both, uhi, 0.0)
    den = jnp.where(both & (Slo != Shi), Slo - Shi, 1.0)
    fp = lo_ + Slo * (hi_ - lo_) / den
    fp = jnp.clip(fp, lo_ + 0.1 * (hi_ - lo_), hi_ - 0.1 * (hi_ - lo_))
    fp = jnp.where(ls.fb, 0.5 * (lo_ + hi_), fp)  # alternate with bisection (flat stretches)
    un_b = jnp.where(ok, un, fp)
    # one side unseen: Newton's step towards the root (at most 32), else a doubling step
    dirn = jnp.where(pos, 1.0, -1.0)
    good = newton & jnp.isfinite(un) & ((un - u) * dirn > 0)
    un_o = jnp.where(good, u + dirn * jnp.minimum(jnp.abs(un - u), 32.0), u + dirn * ls.grow)
    u_next = jnp.where(both, un_b, un_o)
    nxt = LamState(u_next, ulo, uhi, Slo, Shi, blo, bhi, jnp.where(both, jnp.abs(ls.u - u_next), jnp.inf),
                   jnp.where(both | good, ls.grow, 2.0 * ls.grow), both & ~ok)
    return nxt, conv, S, dS


def lam_finish(p: Params, st: Stage, u, r: Response, ls: LamState, trivial):
    """(lambda, Response) from the converged search (``ls`` is the state :func:`lam_update` returned).

    The last Newton step to first order (beta += (d beta / d u) du, L += L' d beta); where S
    jumps over 0 (t = 0, linear rate, profile) the users on the jump get the share that fills
    the band (status ``JUMP``); a user with the whole band fixes lambda at its marginal value
    there; lambda = 0 with band to spare (every uploading user at its cap share).
    """
    S = jnp.sum(r.beta) - 1.0
    dS = jnp.exp(u) * jnp.sum(r.dbdl)
    lin = (jnp.abs(S) > _S_TOL) & (jnp.abs(S) <= _S_LIN) & (dS < 0)
    du = jnp.where(lin, -S / jnp.where(dS < 0, dS, -1.0), 0.0)
    db = jnp.exp(u) * r.dbdl * du
    r = r._replace(beta=r.beta + db, L=jnp.minimum(r.L + r.L1 * db, st.ell))
    u = u + du
    lam = jnp.exp(u)
    S = jnp.sum(r.beta) - 1.0
    if p.positional and p.rate_model == "linear":
        jumpable = st.up & (p.t == 0) & (ls.blo != ls.bhi)
        fill = (jnp.abs(S) > _S_TOL) & jnp.any(jumpable) & (ls.Slo > 0) & (ls.Shi < 0)
        theta = -ls.Shi / jnp.where(fill, ls.Slo - ls.Shi, 1.0)
        b_fill = ls.bhi + theta * (ls.blo - ls.bhi)
        jump = fill & jumpable
        Beta = p.bandwidth * p.channel
        L_fill = jnp.minimum(st.tau * Beta * b_fill / jnp.where(p.s > 0, p.s, 1.0), st.ell)
        r = r._replace(beta=jnp.where(jump, b_fill, r.beta), L=jnp.where(jump, L_fill, r.L),
                       status=jnp.where(jump, JUMP, r.status).astype(jnp.int32), dbdl=jnp.where(jump, 0.0, r.dbdl),
                       L1=jnp.where(jump, st.tau * Beta / jnp.where(p.s > 0, p.s, 1.0), r.L1))
        lam = jnp.where(fill, jnp.exp(ls.uhi), lam)
    band = r.status == BAND
    lam = jnp.where(jnp.any(band), jnp.max(jnp.where(band, r.m1, 0.0)), lam)
    lam = jnp.where(trivial, 0.0, lam)
    r = jax.tree_util.tree_map(lambda a, b: jnp.where(trivial, a, b), _at_caps(p, st), r)
    return lam, r


def solve_lambda(p: Params, st: Stage, lam_warm, beta_warm):
    """The band multiplier: sum_k beta_k(lambda) = 1, or 0 with band to spare (D3). Returns (lambda, Response).

    :func:`lam_update` iterated from ``lam_warm`` (or :func:`lam_cold_start`), one response per
    iteration, then :func:`lam_finish`.
    """
    K = p.n_users
    trivial = lam_trivial(st)
    u0 = jnp.where(lam_warm > 0, jnp.log(jnp.where(lam_warm > 0, lam_warm, 1.0)), lam_cold_start(p, st))
    zeros = jnp.zeros_like(p.t)
    r0 = Response(beta_warm, zeros, zeros, zeros, jnp.zeros(p.t.shape, jnp.int32), jnp.zeros(p.t.shape, jnp.int32),
                  zeros)

    def cond(c):
        _, _, conv, it = c
        return ~conv & (it < 200)

    def body(c):
        ls, r, _, it = c
        r = respond(p, st, jnp.exp(ls.u), r.beta)
        ls2, conv, _, _ = lam_update(ls, r, trivial)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(conv, a, b), ls._replace(ulo=ls2.ulo, uhi=ls2.uhi,
                                      Slo=ls2.Slo, Shi=ls2.Shi, blo=ls2.blo, bhi=ls2.bhi), ls2), r, conv, it + 1

    ls, r, _, _ = jax.lax.while_loop(cond, body, (lam_start(u0, K), r0, jnp.asarray(False), 0))
    return lam_finish(p, st, ls.u, r, ls, trivial)


def lambda_slope(p: Params, st: Stage, lam, r: Response, A1=None):
    """d ln(lambda*) / d ln(tau) at the solution (implicit function theorem on sum beta = 1): a predictor.

    At fixed lambda, an interior user moves by d beta/d tau = -(A''(L) L + A'(L) - mu) (L'/tau) d beta/d lambda
    (from g = (A'(tau l(beta)) - mu) tau l'(beta) - lambda), a capped or kinked one by
    -L / (tau L'(beta)) (its share for a fixed L); then d lambda/d tau = -S_tau / S_lambda.
    """
    tau_ = jnp.where(st.tau > 0, st.tau, 1.0)
    inner = st.up & (r.status == INTERIOR)
    A1 = marginal(p, r.L) if A1 is None else A1
    if p.positional:
        A2 = jnp.zeros_like(A1)
    else:
        A2 = jnp.log(jnp.where(p.alpha > 0, p.alpha, 0.5)) * A1  # A'' = ln(alpha) A'
    held = st.up & ((r.status == CAP) | (r.status == KINK)) & (r.beta > 0) & (r.L1 > 0)
    db_tau = jnp.where(inner, -(A2 * r.L + A1 - st.mu) * r.L1 / tau_ * r.dbdl, 0.0)
    db_tau = jnp.where(held, -r.L / (tau_ * jnp.where(held, r.L1, 1.0)), db_tau)
    S_lam = jnp.sum(r.dbdl)
    ok = (lam > 0) & (S_lam < 0)
    dlam = -jnp.sum(db_tau) / jnp.where(ok, S_lam, -1.0)
    return jnp.where(ok, dlam * tau_ / jnp.where(lam > 0, lam, 1.0), 0.0)


def envelope_tau(p: Params, st: Stage, lam, r: Response, A1=None):
    """dF/dtau at fixed lambda x tau (the envelope derivative, D5), F the priced inner value.

    Uploading users with a share: lambda L / (tau L'(beta)) (= (A' - mu) L / tau where interior;
    the band a capped or kinked user frees as tau grows otherwise). Users without upload held by
    the deadline (L = tau / t < ell): (A'(L) - mu) / t. Else 0.
    """
    tau = st.tau
    tau_ = jnp.where(tau > 0, tau, 1.0)
    has = st.up & (r.beta > 0) & (r.L1 > 0)
    d_up = jnp.where(has, lam * r.L / (tau_ * jnp.where(has, r.L1, 1.0)), 0.0)
    # interior users: lambda / L'(beta) = A'(L) - mu (exact also after a first-order move of beta)
    inner = has & (r.status == INTERIOR)
    A1 = marginal(p, r.L) if A1 is None else A1
    d_up = jnp.where(inner, (A1 - st.mu) * r.L / tau_, d_up)
    t_ = jnp.where(p.t > 0, p.t, 1.0)
    bound = st.free & (p.t > 0) & (tau / t_ < st.ell)
    d_free = jnp.where(bound, (A1 - st.mu) / t_, 0.0)
    return jnp.sum(d_up) + jnp.sum(d_free)


def optimality(p: Params, st: Stage, lam, r: Response, beta):
    """Per-user optimality residuals at share beta (status from ``r``): zero at the solution.

    OFF, FREE: beta; CAP: L(beta) - ell; KINK: L(beta) - (kink length); INTERIOR: the
    stationarity (A'(L) - mu) L'(beta) - lambda (A' the segment slope for a profile);
    BAND: beta - 1; JUMP: beta - (its share), held here and set by the band constraint
    afterwards (:func:`solve_lambda`).
    Differentiable in p, tau, mu, lambda (implicit function theorem per user).
    """
    tau = st.tau
    pos = (r.status >= CAP) & (r.status != JUMP) & (beta > 0)
    bs = jnp.where(pos, beta, 1.0)
    L, L1, _ = capacity(p, tau, bs)
    if p.positional:
        c, _ = profile_slopes(p.alpha)
        A1 = jnp.take_along_axis(c, r.seg[:, None].astype(jnp.int32), axis=1)[:, 0]
    else:
        A1 = marginal(p, L)
    kink = jnp.where(r.status == KINK, r.seg.astype(jnp.float64), 0.0)
    f = jnp.where(r.status == INTERIOR, (A1 - st.mu) * L1 - lam,
                  jnp.where(r.status == CAP, L - st.ell,
                            jnp.where(r.status == KINK, L - jnp.minimum(kink, st.ell),
                                      jnp.where(r.status == BAND, beta - 1.0,
                                                jnp.where(r.status == JUMP, beta - r.beta, beta)))))
    return f


def inner_tokens(p: Params, r: Response):
    """N = sum_k A_k(L_k) at the response."""
    return jnp.sum(tokens(p, r.L))
