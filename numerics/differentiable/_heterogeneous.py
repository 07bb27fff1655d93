r"""The continuous heterogeneous optimum in JAX for every scenario (docs/model.md D1-D6), differentiable.

.. math::

    G^\star = \max_{\tau \ge 0}\ \max_{L, \beta}\ \frac{\sum_k A_k(L_k)}{\tau + T_v(n) + T_o}
    \quad \text{s.t.}\ L_k h_k(\beta_k) \le \tau,\ 0 \le L_k \le L_{max},\ \sum_k \beta_k \le 1,

the relaxation solved by ``numerics.solve_heterogeneous(s, integer=False)``: both rates, v1 >= 0,
ragged and padded batching, users with s = 0, t = 0 or alpha = 0, smooth or piecewise-linear
(profile) A. Three nested monotone problems (the structure of the NumPy continuous solver):

1. at a deadline tau, the band multiplier lambda and the per-user responses
   (:mod:`numerics.differentiable._inner`);
2. at a deadline tau, with v1 > 0 and ragged batching, the best ratio g(tau) by Dinkelbach's
   iteration (D6): the inner problem priced at mu = g v1 per draft token, g <- N / D, from the
   previous deadline's g (one pass when v1 = 0);
3. the deadline: the sign of dG/dtau is omega(tau) = F'(tau) - g(tau) (F' the envelope
   derivative, D5), which changes sign once (quasi-concavity, D5); it is bracketed from the
   homogeneous estimate tau0 = L° theta* (H2, H4) by factors of 4 and refined by Brent's
   method in ln(tau) to 1e-12 relative (a jump of omega at a kink is located to that
   precision). If G still rises just below the saturation deadline (every user at its cap,
   the D7 equal-finish makespan of the caps) that deadline is the optimum (the corner).

Padded batching with v1 > 0 adds the common cap m: G**(m) = max_tau F(tau; m) /
(tau + v0 + T_o + v1 K (m + 1)) is quasi-concave in m and maximised by Brent's method
(values only: the best deadline may sit on a kink that moves with m).

Differentiation (implicit, never through the loops): the goodput is G(tau*; p) with the
deadline (and the common cap) held at the optimum -- Danskin's theorem, valid at a kink of
G in tau -- and, at that deadline, lambda* and every share beta_k* differentiated by the
implicit function theorem on their optimality conditions (``jax.lax.custom_root``), as is
the Dinkelbach ratio (the root of g - N/D). Where the optimum is a vertex (every uploading
user at its cap or at a kink of its profile, the band exactly used: lambda is not unique
and F(tau; p) has a kink in p), the deadline is the D7 equal-finish makespan of those
lengths, differentiated implicitly, and the lengths are held (Danskin over L); users without
upload that draft to the deadline follow it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._allocation import equal_finish
from ._inner import (
    BAND,
    CAP,
    FREE,
    INTERIOR,
    JUMP,
    KINK,
    OFF,
    LamState,
    Response,
    capacity,
    envelope_tau,
    lam_cold_start,
    lam_finish,
    lam_start,
    lam_trivial,
    lam_update,
    lambda_slope,
    marginal_value,
    optimality,
    respond,
    solve_lambda,
    stage,
)
from ._inner import (
    d3_shares as _d3_shares_raw,
)
from ._model import Params, marginal, tokens
from ._roots import (
    BrentState,
    ZeroinState,
    brent_done,
    brent_init,
    brent_point,
    brent_start,
    brent_update,
    newton_bracketed,
    zeroin_done,
    zeroin_init,
    zeroin_point,
    zeroin_update,
)
from ._tokens import profile_slopes

__all__ = [
    "BAND",
    "CAP",
    "FREE",
    "INTERIOR",
    "JUMP",
    "KINK",
    "OFF",
    "HeterogeneousOptimum",
    "d3_allocation",
    "d3_shares",
    "heterogeneous_goodput",
    "heterogeneous_optimum",
    "heterogeneous_solve",
    "heterogeneous_value_and_grad",
    "inner_allocation",
    "inner_value",
]

_TAU_EPS = 1e-12       # Brent's tolerance in ln(tau)
_OMEGA_TOL = 1e-11     # ... or stop where |omega| <= this x g (tau then within ~1e-11 relative)
_KINK_STEP = 1e-13     # a kink is tested at ln(tau) this far from it
_TAU_FLOOR = 1e-15     # below tau_sat x this the optimum is "no drafting" (tau -> 0)
_CORNER = 1e-9         # the corner test evaluates omega at tau_sat (1 - this)
_CAP_XTOL = 1e-9       # Brent tolerance on the common cap, relative to max_draft
_RATIO_TOL = 1e-14     # Dinkelbach stops when g moves by less than this (relative)
_VERTEX_BAND = 1e-9    # "band used" for the vertex test
_HELD = 1e-9           # an interior length this close (relative) to its cap or a profile's kink counts as held


class _Eval(NamedTuple):
    omega: jax.Array
    g: jax.Array
    lam: jax.Array
    r: Response
    mu: jax.Array


def _active(p: Params):
    return (p.alpha[..., 0] > 0) if p.positional else (p.alpha > 0)


def _price_coef(p: Params):
    """v1 for ragged batching (Dinkelbach prices draft tokens), 0 for padded (the cap m carries v1)."""
    return p.v1 if p.batching == "ragged" else jnp.zeros_like(p.v1)


def _denominator(p: Params, tau, L, m=None):
    """tau + T_v(n) + T_o; padded batching pads to the common cap m when given (the search), else to max L."""
    K = p.n_users
    if p.batching == "ragged":
        n = jnp.sum(L + 1.0)
    else:
        n = K * ((jnp.max(L) if m is None else m) + 1.0)
    return tau + p.v0 + p.overhead + p.v1 * n


def _zeros_like_tree(tree):
    return jax.tree_util.tree_map(lambda x: jnp.zeros(x.shape, x.dtype), tree)


def _common_length(p: Params, theta, m):
    """The continuous common draft length maximising N(L) / (c0 + c1 L) on [0, m] (H4), a start only."""
    K = p.n_users
    c0 = p.v0 + p.v1 * K + p.overhead
    c1 = theta + p.v1 * K
    if p.positional:
        Ls = jnp.arange(1, p.max_draft + 1, dtype=jnp.float64)
        G = jax.vmap(lambda L: jnp.sum(tokens(p, jnp.full((K,), L))) / (c0 + c1 * L))(Ls)
        return jnp.minimum(Ls[jnp.argmax(G)], m)
    a = jnp.where(p.alpha > 0, -jnp.log(jnp.where(p.alpha > 0, p.alpha, 0.5)), 0.0)

    def fdf(L):
        Lv = jnp.full((K,), L)
        N, dN = jnp.sum(tokens(p, Lv)), jnp.sum(marginal(p, Lv))
        d2N = -jnp.sum(a * marginal(p, Lv))
        return dN * (c0 + c1 * L) - c1 * N, d2N * (c0 + c1 * L)

    lo, hi = 1e-6 * m, m
    f_lo, _ = fdf(lo)
    f_hi, _ = fdf(hi)
    root = newton_bracketed(fdf, 0.5 * (lo + hi), lo, hi, xtol=1e-6 * m, max_iter=60)
    return jnp.where(f_lo <= 0, lo, jnp.where(f_hi >= 0, hi, root))


# phases of the deadline search (one evaluation per iteration, one copy of it in the program)
_P_START, _P_WALK, _P_ROOT, _P_FINAL, _P_DONE = range(5)


class _Flat(NamedTuple):
    """The state of the flat deadline search: one response evaluation per iteration."""

    phase: jax.Array
    x: jax.Array          # the deadline being evaluated
    up: jax.Array         # walking up (omega(tau0) > 0) or down
    fac: jax.Array        # the next walking factor
    lo: jax.Array         # ln(tau) with omega > 0
    hi: jax.Array         # ln(tau) with omega <= 0
    flo: jax.Array
    fhi: jax.Array
    zs: ZeroinState       # Brent's root finder in ln(tau)
    corner: jax.Array
    g: jax.Array          # the Dinkelbach ratio pricing the current evaluation
    ndk: jax.Array        # Dinkelbach passes at this deadline
    ls: LamState          # the lambda search at (x, g)
    r: Response           # the last response (warm start of the next)
    e: _Eval              # the last complete evaluation
    it: jax.Array


def _free_kink(p: Params, ell, m, lo, hi):
    """A kink of G in ln(tau) strictly inside (lo, hi) from a user without upload, and its ln(tau) (ell: the caps).

    Such a user drafts L = min(ell, tau / t): omega jumps down where it reaches its cap
    (tau = ell t, ell = the cap and below the stop-short length) and, for a profile, where
    L = tau / t crosses an integer (the slope of A drops). Returns (found, ln tau of the first).
    """
    active = _active(p)
    free = active & (p.s == 0) & (p.t > 0)
    t_ = jnp.where(free, p.t, 1.0)
    cap = jnp.minimum(m, float(p.max_draft))
    capped = ell >= cap  # held by the cap, not by the stop-short length (where omega is continuous)
    a, b = jnp.exp(lo) / t_, jnp.exp(hi) / t_  # the user's L range over the bracket
    if p.positional:
        j = jnp.ceil(a)  # the first integer length in the range
        j = jnp.where(j == a, j + 1.0, j)
        ok = (j < b) & ((j < ell) | ((j == ell) & capped))
        Lk = j
    else:
        ok = capped & (ell > a) & (ell < b)
        Lk = ell
    ok = free & ok & (hi > lo)
    i = jnp.argmax(ok)
    tau_k = Lk[i] * t_[i]
    return jnp.any(ok), jnp.log(tau_k), tau_k


def _sel(pred, new, old):
    return jax.tree_util.tree_map(lambda n, o: jnp.where(pred, n, o), new, old)


def _solve_tau(p: Params, m, tau_guess):
    """The optimal deadline at common cap m: (tau*, its evaluation, corner) (module docstring, steps 1-3).

    One loop, one response evaluation (every user's share at one lambda) per iteration; each
    batch element runs its own state machine, so under ``vmap`` the loop runs as long as the
    element with the most evaluations, not the product of the levels' maxima. Levels:
    lambda (:func:`lam_update`); at its convergence the Dinkelbach ratio (v1 > 0, ragged: a
    new price and the lambda search again at the same deadline), then omega(tau) and the
    deadline search: the start tau0 (the homogeneous estimate); a walk by growing factors
    (1.5, 2.25, 5.1, ...) until omega changes sign -- upwards at most to tau_sat (1 - 1e-9),
    where omega > 0 means the corner tau_sat, and downwards to tau_sat 1e-15 (the last step lands
    on it), below which no drafting pays and that floor is the answer (G within ~1e-15 relative
    of its limit at tau -> 0); Brent's root finder in ln(tau) (a kink of a user without upload
    inside the bracket is tested directly), stopped at 1e-12 or where abs(omega) <= 1e-11 g; a
    final evaluation at its estimate unless that was the last point evaluated. A new deadline
    starts lambda from the last one, moved by d ln lambda / d ln tau (:func:`lambda_slope`).
    """
    K = p.n_users
    v1r = _price_coef(p)
    active = _active(p)
    caps = jnp.where(active, jnp.minimum(m, float(p.max_draft)), 0.0)
    tau_sat, _ = equal_finish(p, caps)
    zero = ~(tau_sat > 0)
    ts = jnp.where(zero, 1.0, tau_sat)
    tau_c = ts * (1.0 - _CORNER)
    floor = ts * _TAU_FLOOR
    tau0 = jnp.clip(jnp.where(jnp.isfinite(tau_guess) & (tau_guess > 0), tau_guess, 0.25 * ts), 2.0 * floor, tau_c)
    x0 = jnp.where(zero, 0.0, tau0)
    st0 = stage(p, x0, jnp.zeros((K,)), m)
    zK = jnp.zeros((K,))
    zi = jnp.zeros((K,), jnp.int32)
    r0 = Response(jnp.full((K,), 1.0 / K), zK, zK, zK, zi, zi, zK)
    e0 = _Eval(jnp.asarray(0.0), jnp.asarray(0.0), jnp.asarray(0.0), r0, zK)
    f = jnp.asarray(False)
    z = jnp.asarray(0.0)
    init = _Flat(jnp.where(zero, _P_FINAL, _P_START), x0, f, z + 1.5, z, z, z, z,
                 zeroin_init(z, z + 1.0, z + 1.0, z - 1.0, _TAU_EPS), f, z, jnp.asarray(0),
                 lam_start(lam_cold_start(p, st0), K), r0, e0, jnp.asarray(0))

    def body(s: _Flat):
        mu = jnp.full((K,), s.g * v1r)
        st = stage(p, s.x, mu, m)
        trivial = lam_trivial(st)
        r = respond(p, st, jnp.exp(s.ls.u), s.r.beta)
        ls2, conv, _, _ = lam_update(s.ls, r, trivial)
        lam_f, r_f = lam_finish(p, st, s.ls.u, r, ls2, trivial)
        g_new = jnp.sum(tokens(p, r_f.L)) / _denominator(p, s.x, r_f.L, m)
        dk_more = conv & (v1r > 0) & (jnp.abs(g_new - s.g) > _RATIO_TOL * g_new) & (s.ndk < 60)
        done_eval = conv & ~dk_more
        A1 = marginal(p, r_f.L)
        e = _Eval(envelope_tau(p, st, lam_f, r_f, A1) - g_new, g_new, lam_f, r_f, mu)
        t = _tau_step(p, s, e, st.ell, m, tau_sat, tau_c, tau0, floor)
        # the next lambda search: continue; same deadline at the new price; or the next deadline
        u_f = jnp.log(jnp.where(lam_f > 0, lam_f, jnp.exp(s.ls.u)))
        slope = jnp.clip(lambda_slope(p, st, lam_f, r_f, A1), -4.0, 4.0)  # a start only: kept sane
        dln = jnp.log(jnp.where(t.x > 0, t.x, 1.0)) - jnp.log(jnp.where(s.x > 0, s.x, 1.0))
        u_next = jnp.where(done_eval, u_f + jnp.clip(jnp.where(lam_f > 0, slope, 0.0) * dln, -3.0, 3.0), u_f)
        ls = _sel(conv, lam_start(u_next, K), ls2)
        out = _Flat(t.phase, t.x, t.up, t.fac, t.lo, t.hi, t.flo, t.fhi, t.zs, t.corner, g_new,
                    jnp.asarray(0), ls, r_f, e, s.it + 1)
        mid = s._replace(ls=ls, r=_sel(conv, r_f, r), g=jnp.where(dk_more, g_new, s.g), ndk=s.ndk + dk_more,
                         it=s.it + 1)
        return _sel(done_eval, out, mid)

    out = jax.lax.while_loop(lambda s: (s.phase != _P_DONE) & (s.it < 2000), body, init)
    return out.x, out.e, out.corner


def _tau_step(p: Params, s: _Flat, e: _Eval, ell, m, tau_sat, tau_c, tau0, floor) -> _Flat:
    """The deadline state machine after a complete evaluation e at s.x (see :func:`_solve_tau`)."""
    om, ph = e.omega, s.phase
    lx = jnp.log(jnp.where(s.x > 0, s.x, 1.0))
    pos = om > 0
    x, nph, corner = s.x, ph, s.corner
    # START and WALK: put the point in the bracket, walk on or hand over to Brent / FINAL
    walking = (ph == _P_START) | (ph == _P_WALK)
    up = jnp.where(ph == _P_START, pos, s.up)
    lo, flo = jnp.where(walking & pos, lx, s.lo), jnp.where(walking & pos, om, s.flo)
    hi, fhi = jnp.where(walking & ~pos, lx, s.hi), jnp.where(walking & ~pos, om, s.fhi)
    at_top = s.x >= tau_c
    corner = corner | (walking & pos & at_top)
    x_up = jnp.minimum(s.x * s.fac, tau_c)
    # walking down, the last step lands on the floor itself (the growing factors would otherwise
    # stop up to 1e22 above it: G decreases in tau there, by tau / (v0 + ...) relative)
    x_dn = jnp.maximum(s.x / s.fac, floor)
    more = jnp.where(up, pos & ~at_top, ~pos & (s.x > floor))
    bracketed = walking & ~more & (up | pos) & ~(walking & pos & at_top)
    nothing = walking & ~more & ~up & ~pos  # omega <= 0 down to the floor: no drafting pays
    x = jnp.where(walking & more, jnp.where(up, x_up, x_dn), x)
    x = jnp.where(walking & pos & at_top, tau_sat, x)
    nph = jnp.where(walking, jnp.where(more, _P_WALK, jnp.where(bracketed, _P_ROOT, _P_FINAL)), nph)
    nph = jnp.where(nothing, _P_DONE, nph)  # the point just evaluated (the floor) is the answer
    fac = jnp.where(walking & more, s.fac * s.fac, s.fac)
    # Brent in ln(tau); a kink of a user without upload inside the bracket is tested first
    zs = _sel(ph == _P_ROOT, zeroin_update(s.zs, lx, om), s.zs)
    zs = _sel(bracketed, zeroin_init(lo, hi, flo, fhi, _TAU_EPS), zs)
    in_z = (ph == _P_ROOT) | bracketed
    zlo, zhi = jnp.minimum(zs.b, zs.c), jnp.maximum(zs.b, zs.c)
    has_k, kap, _ = _free_kink(p, ell, m, zlo + 0.5 * _KINK_STEP, zhi - 0.5 * _KINK_STEP)
    end = in_z & (zeroin_done(zs) | (jnp.abs(zs.fb) <= _OMEGA_TOL * e.g))
    near_k, _, tau_k = _free_kink(p, ell, m, zlo - 2 * _KINK_STEP, zhi + 2 * _KINK_STEP)
    near_k = near_k & (zhi - zlo <= 100 * _KINK_STEP)  # a collapsed bracket around the kink (a jump)
    xz, zs_next = zeroin_point(zs)
    # test just left of the kink, then (if omega > 0 there) just right of it
    xz = jnp.where(has_k, jnp.where(kap - zlo > 4 * _KINK_STEP, kap - _KINK_STEP, kap + _KINK_STEP), xz)
    zs = _sel(in_z & ~end, zs_next, zs)
    # at the end, a kink within the final bracket is the maximiser (omega jumps there): its exact tau
    x = jnp.where(in_z, jnp.where(end, jnp.where(near_k, tau_k, jnp.exp(zs.b)), jnp.exp(xz)), x)
    last = end & ~near_k & (zs.b == lx)  # the estimate is the point just evaluated
    nph = jnp.where(in_z, jnp.where(end, jnp.where(last, _P_DONE, _P_FINAL), _P_ROOT), nph)
    x = jnp.where(in_z & last, s.x, x)
    # FINAL: this evaluation is the answer
    nph = jnp.where(ph == _P_FINAL, _P_DONE, nph)
    x = jnp.where(ph == _P_FINAL, s.x, x)
    del tau0
    return s._replace(phase=nph, x=x, up=up, fac=fac, lo=lo, hi=hi, flo=flo, fhi=fhi, zs=zs, corner=corner)


class HeterogeneousOptimum(NamedTuple):
    """The continuous heterogeneous optimum (D1-D6) and how it was reached.

    goodput: G* [tokens/s]; tau: drafting deadline [s]; lam: band multiplier lambda of the
    (priced) inner problem, per unit of share; beta, L: (K,) shares and draft lengths; corner:
    every user at its cap at the saturation deadline (D7 equal finish); ratio: the Dinkelbach
    ratio g (= goodput); price: mu = g v1 per draft token (ragged, v1 > 0; else 0); cap: the
    common cap m (padded, v1 > 0; else max_draft); status: (K,) per-user codes
    (``OFF``, ``FREE``, ``CAP``, ``KINK``, ``INTERIOR``, ``BAND``, ``JUMP``); vertex: lambda
    not unique (see the module docstring).
    """

    goodput: jax.Array
    tau: jax.Array
    lam: jax.Array
    beta: jax.Array
    L: jax.Array
    corner: jax.Array
    ratio: jax.Array
    price: jax.Array
    cap: jax.Array
    status: jax.Array
    vertex: jax.Array


class _Solution(NamedTuple):
    tau: jax.Array
    m: jax.Array
    g: jax.Array
    mu: jax.Array
    lam: jax.Array
    r: Response
    corner: jax.Array


class _CapState(NamedTuple):
    phase: jax.Array      # 0: first point, 1: Brent steps, 2: final solve at the best cap, 3: done
    m: jax.Array          # the cap to evaluate
    bs: BrentState
    dv: jax.Array         # Brent's pending step lengths (d, e)
    ev: jax.Array
    out: tuple            # (tau, _Eval, corner) of the last solve
    tau_prev: jax.Array
    m_prev: jax.Array
    it: jax.Array


def _forward(p: Params) -> _Solution:
    """The numerical solve (no derivatives flow through it)."""
    p = jax.lax.stop_gradient(p)
    M = float(p.max_draft)
    active = _active(p)
    theta, _ = equal_finish(p, jnp.where(active, 1.0, 0.0))
    if p.batching == "ragged":
        m = jnp.asarray(M)
        tau, e, corner = _solve_tau(p, m, theta * _common_length(p, theta, m))
        return _Solution(tau, m, e.g, e.mu, e.lam, e.r, corner)
    # padded: Brent's method on the common cap m (values only), one deadline solve per iteration
    search = p.v1 > 0
    m_lo = jnp.where(search, M * 1e-9, M)
    m_hi = jnp.asarray(M)
    m0 = brent_start(m_lo, m_hi)
    out_shape = jax.eval_shape(lambda: _solve_tau(p, m_hi, theta))
    z = jnp.asarray(0.0)
    init = _CapState(jnp.asarray(0), m0, brent_init(m_lo, m_hi, m0, z, _CAP_XTOL * M), z, z,
                     _zeros_like_tree(out_shape), z, m_hi, jnp.asarray(0))

    def body(s: _CapState):
        guess = jnp.where(s.tau_prev > 0, s.tau_prev * s.m / s.m_prev, theta * _common_length(p, theta, s.m))
        tau, e, corner = _solve_tau(p, s.m, guess)
        G = e.g
        bs = _sel(s.phase == 0, brent_init(m_lo, m_hi, s.m, G, _CAP_XTOL * M), s.bs)
        bs = _sel(s.phase == 1, brent_update(bs, s.m, G, s.dv, s.ev), bs)
        u, d, ev = brent_point(bs)
        done = brent_done(bs) | ~search
        searching = s.phase <= 1
        nph = jnp.where(searching, jnp.where(done, 2, 1), 3)
        nm = jnp.where(searching, jnp.where(done, jnp.where(search, bs.x, M), u), s.m)
        return _CapState(nph, nm, bs, d, ev, (tau, e, corner), jnp.where(tau > 0, tau, s.tau_prev), s.m, s.it + 1)

    out = jax.lax.while_loop(lambda s: (s.phase != 3) & (s.it < 200), body, init)
    tau, e, corner = out.out
    return _Solution(tau, out.m, e.g, e.mu, e.lam, e.r, corner)


def _vertex(p: Params, sol: _Solution):
    """The optimum is a vertex: every uploading user with a share held at its cap or at a kink of its
    profile (an interior root within 1e-9 of one counts as held), the band used; lambda is then not
    unique and F(tau; p) has a kink in p (module docstring)."""
    r = sol.r
    up = (r.status == CAP) | (r.status == KINK) | (r.status == INTERIOR) | (r.status == BAND) | (r.status == JUMP)
    near = jnp.abs(r.L - jnp.minimum(sol.m, float(p.max_draft))) <= _HELD * r.L
    if p.positional:
        near = near | (jnp.abs(r.L - jnp.round(r.L)) <= _HELD * jnp.maximum(1.0, r.L))
    smooth = ((r.status == INTERIOR) & ~near) | (r.status == BAND) | (r.status == JUMP)
    band_used = jnp.abs(jnp.sum(r.beta) - 1.0) <= _VERTEX_BAND
    return sol.corner | (band_used & jnp.any(up & (r.beta > 0)) & ~jnp.any(smooth & (r.beta > 0)))


def _inner_implicit(p: Params, st, sol: _Solution, lam_s, r: Response):
    """(lambda, beta, L) at the stage ``st`` (p differentiable), seeded with the forward solution."""
    up = st.up
    jump = r.status == JUMP
    band = r.status == BAND

    def betas(lam):
        def f(b):
            return optimality(p, st, lam, r, b)

        return jax.lax.custom_root(f, r.beta, lambda f, x0: r.beta, lambda g, y: y / g(jnp.ones_like(y)))

    # lambda: 0 (band to spare), fixed by a BAND or JUMP user, or the root of sum beta = 1
    m1 = marginal_value(p, st, jnp.ones_like(p.t))
    if p.positional:
        c, _ = profile_slopes(p.alpha)
        c_seg = jnp.take_along_axis(c, r.seg[:, None].astype(jnp.int32), axis=1)[:, 0]
        lam_jump = (c_seg - st.mu) * st.tau * p.bandwidth * p.channel / jnp.where(p.s > 0, p.s, 1.0)
    else:
        lam_jump = jnp.zeros_like(p.t)
    any_band, any_jump = jnp.any(band), jnp.any(jump)
    lam_fixed = jnp.where(any_band, jnp.max(jnp.where(band, m1, -jnp.inf)),
                          jnp.max(jnp.where(jump, lam_jump, -jnp.inf)))
    free_lam = (lam_s > 0) & ~any_band & ~any_jump

    def S(lam):
        return jnp.where(free_lam, jnp.sum(betas(lam)) - 1.0, lam - lam_s)

    lam_root = jax.lax.custom_root(S, lam_s, lambda f, x0: lam_s, lambda g, y: y / g(1.0))
    lam = jnp.where(lam_s > 0, jnp.where(free_lam, lam_root, lam_fixed), 0.0)
    beta = betas(lam)
    # JUMP users share what the others leave of the band, in their forward proportions
    w = jnp.where(jump, r.beta, 0.0)
    w = w / jnp.where(jnp.sum(w) > 0, jnp.sum(w), 1.0)
    rest = 1.0 - jnp.sum(jnp.where(jump, 0.0, beta))
    beta = jnp.where(jump, w * rest, beta)
    pos = up & (beta > 0)
    Lb, _, _ = capacity(p, st.tau, jnp.where(pos, beta, 1.0))
    L = jnp.where(r.status == CAP, st.ell,
                  jnp.where(r.status == KINK, jnp.minimum(r.seg.astype(jnp.float64), st.ell),
                            jnp.where(pos, jnp.minimum(Lb, st.ell), 0.0)))
    # users without upload: drafting to the deadline (tau / t), or held at their cap or, at the
    # optimum's deadline, at the kink that fixes it (see _free_kink_tau)
    held = (r.status == FREE) & ((p.t == 0) | (r.L < st.tau / jnp.where(p.t > 0, p.t, 1.0) * (1.0 - 1e-12))
                                 | _at_free_kink(p, sol))
    L = jnp.where(up, L, jnp.where(held, jnp.minimum(r.L, st.ell), st.L_free))
    return lam, beta, L


def _at_free_kink(p: Params, sol: _Solution):
    """(K,) bool: users without upload whose length is at a kink (cap, or an integer of a profile)
    exactly at the optimal deadline: L t = tau (the search snaps tau there when omega jumps)."""
    r = sol.r
    t_ = jnp.where(p.t > 0, p.t, 1.0)
    at = (r.status == FREE) & (p.t > 0) & (jnp.abs(r.L * t_ - sol.tau) <= 1e-12 * sol.tau) & (sol.tau > 0)
    cap = jnp.minimum(sol.m, float(p.max_draft))
    kink = r.L >= cap * (1.0 - 1e-12)
    if p.positional:
        kink = kink | (jnp.abs(r.L - jnp.round(r.L)) <= 1e-12 * jnp.maximum(1.0, r.L))
    return at & kink


def _goodput_interior(p: Params, sol: _Solution):
    """G(tau*; p): deadline and cap held (Danskin), the ratio, lambda and the shares implicit.

    Where a user without upload sits at a kink exactly at the deadline (omega jumps there: the
    search put tau on it), the deadline follows that kink, tau = L_k t_k, with L_k held.
    """
    m = sol.m
    kink = _at_free_kink(p, sol)
    k = jnp.argmax(kink)
    Lk = sol.r.L[k]
    Lk = jnp.where(jnp.abs(Lk - jnp.round(Lk)) <= 1e-12 * jnp.maximum(1.0, Lk), jnp.round(Lk), Lk)
    tau = jnp.where(jnp.any(kink), Lk * p.t[k], sol.tau)
    v1r = _price_coef(p)
    K = p.n_users

    def ratio_at(g):
        mu = jnp.full((K,), g * v1r)
        st = stage(p, tau, mu, m)
        lam, beta, L = _inner_implicit(p, st, sol, sol.lam, sol.r)
        return jnp.sum(tokens(p, L)) / _denominator(p, tau, L), (lam, beta, L)

    g = jax.lax.custom_root(lambda g: g - ratio_at(g)[0], sol.g, lambda f, x0: sol.g, lambda g_, y: y / g_(1.0))
    G, (lam, beta, L) = ratio_at(g)
    return G, tau, lam, beta, L


def _goodput_vertex(p: Params, sol: _Solution):
    """At a vertex: uploading users' lengths held, the deadline = their D7 equal-finish makespan (implicit)."""
    r = sol.r
    upl = (r.status != OFF) & (r.status != FREE)
    L_up = jnp.where(upl, r.L, 0.0)
    T, beta = equal_finish(p, L_up)
    T = jnp.where(jnp.any(upl & (L_up > 0) & (p.s > 0)), T, sol.tau)
    t_ = jnp.where(p.t > 0, p.t, 1.0)
    free = r.status == FREE
    # free users held by the deadline follow it; the others keep their length (cap or stop-short)
    bound = free & (p.t > 0) & (r.L * p.t >= sol.tau * (1.0 - 1e-12))
    L_free = jnp.where(bound, T / t_, r.L)
    L = jnp.where(free, L_free, L_up)
    G = jnp.sum(tokens(p, L)) / _denominator(p, T, L)
    return G, T, jnp.asarray(sol.lam), jnp.where(upl, beta, 0.0), L


def _assemble(params: Params, sol: _Solution) -> HeterogeneousOptimum:
    """The differentiable optimum from the forward solution (module docstring, differentiation)."""
    sol = jax.tree_util.tree_map(jax.lax.stop_gradient, sol)
    vertex = _vertex(params, sol)
    Gi, tau_i, lam_i, beta_i, L_i = _goodput_interior(params, sol)
    Gv, tau_v, lam_v, beta_v, L_v = _goodput_vertex(params, sol)
    pick = lambda a, b: jnp.where(vertex, a, b)  # noqa: E731
    return HeterogeneousOptimum(pick(Gv, Gi), pick(tau_v, tau_i), pick(lam_v, lam_i), pick(beta_v, beta_i),
                                pick(L_v, L_i), sol.corner, sol.g, jnp.max(sol.mu), sol.m, sol.r.status, vertex)


#: the forward solve, compiled once per (K, static fields) and shared by the optimum and its gradient
_forward_jit = jax.jit(_forward)
_assemble_jit = jax.jit(_assemble)
_value_and_grad_jit = jax.jit(jax.value_and_grad(lambda p, sol: _assemble(p, sol).goodput))


def heterogeneous_solve(params: Params) -> HeterogeneousOptimum:
    """:func:`heterogeneous_optimum` without the float64 check (for internal use under jit)."""
    return _assemble(params, _forward_jit(jax.lax.stop_gradient(params)))


def heterogeneous_optimum(params: Params) -> HeterogeneousOptimum:
    r"""The continuous heterogeneous optimum for every scenario, differentiable (module docstring).

    .. math:: G^* = \max_{\tau, L, \beta} \frac{\sum_k A_k(L_k)}{\tau + T_v(n) + T_o}

    Parameters
    ----------
    params : Params
        One scenario (:func:`params_from_scenario`); ``jax.vmap`` it over a stack
        (:func:`stack_scenarios`).

    Returns
    -------
    HeterogeneousOptimum
        ``jax.grad`` of ``.goodput`` gives the sensitivities of the optimal goodput (Danskin
        in the deadline and the common cap, implicit differentiation of the ratio, lambda and
        the shares). The point (tau, beta, L) carries the derivatives at the optimal deadline
        and cap held fixed (at a vertex: of the D7 makespan of the lengths held).

    Notes
    -----
    Agrees with ``numerics.solve_heterogeneous(s, integer=False)`` (tests/test_differentiable.py).
    Source: docs/model.md D1-D6.
    """
    return _assemble_jit(params, _forward_jit(jax.lax.stop_gradient(params)))


def heterogeneous_goodput(params: Params):
    """G* of the continuous heterogeneous optimum (``heterogeneous_optimum(params).goodput``)."""
    return heterogeneous_optimum(params).goodput


def heterogeneous_value_and_grad(params: Params):
    """(G*, dG*/dparams): the optimal goodput and its gradient (a Params), for every scenario.

    The forward solve and the small differentiable assembly are compiled once per (K, static
    fields) and shared by every caller (sensitivity tables, tests, figures).
    """
    return _value_and_grad_jit(params, _forward_jit(jax.lax.stop_gradient(params)))


# ------------------------------------------------------------------ the inner problem at a fixed deadline
def _check_d3(params: Params) -> None:
    if params.rate_model != "linear" or params.positional:
        raise ValueError(f"rate_model: the D3 closed form is for the linear rate and i.i.d. alpha, got "
                         f"{params.rate_model!r}{' with a profile' if params.positional else ''}")


def d3_shares(params: Params, tau, lam):
    """D3 closed form (linear rate, i.i.d. alpha, mu = 0): (beta_k(lambda), L_k(lambda)) at deadline tau, cap max_draft.

    See :func:`numerics.differentiable._inner.d3_shares` for the formula (docs/model.md D3). Users
    with s_k = 0 get beta = 0 and L = min(L_max, tau / t_k); users with alpha_k = 0 get 0.

    Raises
    ------
    ValueError
        Shannon rate or a position-dependent profile (use :func:`inner_allocation`).
    """
    _check_d3(params)
    ell = jnp.where(params.alpha > 0, float(params.max_draft), 0.0)
    beta, L = _d3_shares_raw(params, tau, lam, ell)
    return jnp.where(jnp.isfinite(beta), beta, 0.0), L


@jax.jit
def _inner_allocation(params: Params, tau, price, cap):
    K = params.n_users
    st = stage(params, tau, jnp.full((K,), price), cap)
    lam, r = solve_lambda(jax.lax.stop_gradient(params), jax.lax.stop_gradient(st),
                          jnp.asarray(0.0), jnp.full((K,), 1.0 / K))
    sol = _Solution(jnp.asarray(tau), jnp.asarray(cap), jnp.asarray(0.0), st.mu, lam, r, jnp.asarray(False))
    sol = jax.tree_util.tree_map(jax.lax.stop_gradient, sol)
    return _inner_implicit(params, st, sol, sol.lam, sol.r)


def inner_allocation(params: Params, tau, price=0.0, cap=None):
    """The inner optimum at deadline tau: (lambda, beta, L), every scenario, implicit in lambda and beta.

    maximises sum_k (A_k(L_k) - price L_k) over the band at drafting deadline tau with caps
    min(cap, stop-short length) (docs/model.md D2, D3, D6). ``cap`` defaults to max_draft.
    Invariant: sum(beta) == 1 unless every user reaches its cap with band to spare (lambda = 0).
    """
    cap = float(params.max_draft) if cap is None else cap
    return _inner_allocation(params, jnp.asarray(tau, jnp.float64), jnp.asarray(price, jnp.float64),
                             jnp.asarray(cap, jnp.float64))


def d3_allocation(params: Params, tau):
    """(lambda, beta, L) of the inner problem at deadline tau (price 0, cap max_draft): :func:`inner_allocation`."""
    return inner_allocation(params, tau)


def inner_value(params: Params, tau):
    """F(tau) = max_beta sum_k A_k(min(L_max, tau / h_k(beta_k))) (docs/model.md D2, D3)."""
    _, _, L = inner_allocation(params, tau)
    return jnp.sum(tokens(params, L))


_ = np  # numpy kept for callers that pass NumPy scalars
