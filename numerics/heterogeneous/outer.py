r"""The continuous relaxation: deadline search, Dinkelbach, joint Newton step (docs/model.md D5, D6).

.. math::

    G^\star = \max_{\tau \ge 0,\ L,\ \beta}\ \frac{\sum_k A_k(L_k)}{\tau + c + v_1 n(L)},\qquad
    c = v_0 + v_1 K + T_o,\quad L_k h_k(\beta_k) \le \tau .

In (tau, X = tau beta, L) this is a concave-fractional program (the inner problem F(tau) of
:mod:`.inner` is concave in tau), solved by three nested monotone one-dimensional roots, each
by :func:`numerics.roots.newton`:

- Dinkelbach (D6) on the ratio g: for a lower bound g (a feasible goodput), maximise
  P(g) = max_tau F_mu(tau) - g tau with the token price mu = g v1 (ragged batching; 0 for
  v1 = 0), then g <- N / D at the maximiser. g increases to G* superlinearly (Dinkelbach is
  Newton's method on P, convex in g) and P(g) <= 0 certifies that g is optimal.
- the deadline (D5): F_mu is concave, so its maximiser against the slope g is the root of the
  decreasing F'_mu(tau) = g (F' from the envelope theorem, F'' from implicit differentiation
  of the per-user stationarity and of the band root: Newton in ln tau, bracketed by the
  saturation deadline, where F' = 0, and by an expansion towards 0). If
  F'(0+) <= g (the value of the linearised problem, :meth:`.users.Users.linearised`), drafting
  does not pay at this ratio: tau = 0.
- padded batching with v1 > 0: the batch term v1 K (max_k L_k + 1) makes the common cap m a
  variable; G**(m) = max over the rest with caps L_k <= m (a plain problem with the constant
  c + v1 K m) is quasi-concave in m with dG**/dm = (sum_k nu_k - G v1 K) / D (nu_k the cap
  multipliers), whose one sign change is found by the same Newton helper (:mod:`.padded`).

The answer carries the final deadline bracket and the band price lambda_x = lambda / tau,
from which :mod:`.certificate` builds the certified bound (two tangents of the dual at the
bracket ends, and the linearised line through tau = 0).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..roots import NOT_BRACKETED, newton
from .certificate import certify, ratio_sup, tangent_line
from .inner import Inner, Response
from .users import Users

__all__ = ["Point", "Problem", "Relaxation", "deadline", "dinkelbach", "joint", "relax"]

_EPS = float(np.finfo(np.float64).eps)


@dataclasses.dataclass
class Relaxation:
    """The continuous optimum found and its certificate."""

    tau: float
    lam: float
    L: np.ndarray
    value: float             # N / D at (tau, L)
    upper_bound: float       # certified bound on the relaxation's optimum (and the integer one)
    mode: str                # 'plain' | 'dinkelbach' | 'padded'
    ratio: float | None      # Dinkelbach's g (ragged, v1 > 0)
    cap: float | None        # the common cap m (padded, v1 > 0)
    passes: int              # vectorised passes over the users
    evaluations: int         # inner problems solved (deadlines tried)
    beta: np.ndarray | None = None  # the shares of the lengths L at the deadline tau
    # (mu, P, w, n_max) of the certificate (plain and ragged batching); () for padded batching
    prices: tuple[float, float, float, float] | tuple[()] = ()


@dataclasses.dataclass
class Point:
    tau: float
    resp: Response
    inner: Inner
    g: float                       # N / D at this point
    mu: float = 0.0                # the token price of its inner problem (set by the searches)
    g_final: float = math.nan      # the search's last ratio g (set at its end)


class Problem:
    """Constants and warm starts shared by the searches."""

    def __init__(self, users: Users, caps: np.ndarray, v0: float, v1: float, overhead: float, batching: str):
        self.u = users
        self.caps = caps
        self.K = users.K
        self.v1 = v1
        self.batching = batching
        self.c = v0 + v1 * users.K + overhead
        self.passes = 0
        self.evals = 0
        self.tau_warm: float | None = None
        self.lam_warm: float | None = None
        self.dlnlam: float = 0.0
        self.L_warm: np.ndarray | None = None
        self.beta_warm: np.ndarray | None = None
        self.J_warm: np.ndarray | None = None

    def inner(self, tau: float, mu, caps) -> Inner:
        inn = Inner(self.u, tau, mu, caps)
        inn.warm_L = self.L_warm
        inn.warm_beta = self.beta_warm
        inn.warm_J = self.J_warm
        return inn

    def solve_at(self, tau: float, mu, caps) -> tuple[Inner, Response]:
        inn = self.inner(tau, mu, caps)
        lam0 = self.lam_warm
        if lam0 is not None and self.tau_warm:
            lam0 = lam0 * float(np.exp(np.clip(self.dlnlam * (tau - self.tau_warm), -50.0, 50.0)))
        r = inn.solve(lam0)
        self.passes += inn.passes
        self.evals += 1
        if r.lam > 0:
            self.lam_warm, self.tau_warm, self.dlnlam = r.lam, tau, r.dlnlam_dtau
        self.L_warm = r.L
        self.beta_warm = r.beta
        self.J_warm = getattr(inn, "J_last", None)
        return inn, r


def _saturation(u: Users, caps: np.ndarray, mu) -> float:
    """A deadline by which every user reaches min(cap, stop-short) at once: F' = 0 beyond it."""
    top = np.minimum(caps, u.stop_short(np.broadcast_to(mu, (u.K,))))
    act = u.active & (top > 0) & np.isfinite(top)
    if not act.any():
        return 0.0
    up = act & (u.s > 0)
    return float(np.max(np.where(act, top * u.t, 0.0)) + np.sum(np.where(up, u.s * top / u.full_rate(), 0.0)))


def deadline(pb: Problem, caps, mu, g: float) -> Point:
    """argmax_tau F_mu(tau) - g tau (module docstring)."""
    u = pb.u
    mu_arr = np.broadcast_to(np.asarray(mu, dtype=np.float64), (u.K,))
    base_in = pb.inner(0.0, mu_arr, caps)
    base = base_in.respond(0.0)
    # F'(0+) = value of the linearised problem at deadline 1 (users with a cost)
    lin = u.linearised()
    lin_in = Inner(lin, 1.0, mu_arr, np.where(caps > 0, lin.cap, 0.0))
    lr = lin_in.solve()
    pb.passes += lin_in.passes + 1
    M0 = float(np.sum((lin.c1 - mu_arr) * lr.L))
    tau_hi = _saturation(u, caps, mu_arr)
    if not (M0 > g) or tau_hi <= 0.0:
        return Point(0.0, base, base_in, 0.0)
    cache: dict[float, tuple[Inner, Response]] = {}

    def at(tau: float):
        hit = cache.get(tau)
        if hit is None:
            hit = cache[tau] = pb.solve_at(tau, mu_arr, caps)
        return hit

    def h(x, idx):  # F'(tau) - g, its derivative, and its primitive F(tau) - g tau
        tau = float(x[0])
        _, r = at(tau)
        return np.array([r.dF - g]), np.array([r.d2F]), np.array([r.F - g * tau])

    # at tau_hi every user is at min(cap, stop-short): F' = 0 and F is its maximum there
    top = np.minimum(caps, u.stop_short(mu_arr))
    top = np.where(u.active & np.isfinite(top), top, 0.0)
    F_sat = float(np.sum(u.tokens(top) - mu_arr * top))
    ends_hi = (-g, F_sat - g * tau_hi)
    # beyond (F_sat - F(0)) / g, F - g tau is below its value at tau = 0 whatever F does: the
    # search need not go further (a power-limited user can put the saturation at 1e180 s)
    tau_gain = (F_sat - base.F) / g if g > 0 else np.inf
    if tau_gain < tau_hi:
        if not tau_gain > 0.0:
            return Point(0.0, base, base_in, 0.0)
        tau_hi, ends_hi = tau_gain * (1.0 + 1e-9), (np.nan, np.nan)
    tau0 = pb.tau_warm if pb.tau_warm and 0 < pb.tau_warm < tau_hi else 0.5 * tau_hi
    # below tau_lo drafting adds less than 1e-17 F(0) (F' <= M0): the search need not go lower
    tau_lo = min(max(1e-17 * base.F / M0, tau_hi * 1e-300), 0.5 * tau_hi)
    tau0 = max(tau0, 2.0 * tau_lo)
    rr = newton(h, tau_lo, tau_hi, tau0, increasing=False, log=True, rtol=1e-13, lo_open=True,
                primitive=True, ends=(np.nan, np.nan, *ends_hi), max_log_step=5.0)
    if rr.status[0] == NOT_BRACKETED:  # F' <= g down to tau_lo: the optimum is tau -> 0
        return Point(0.0, base, base_in, 0.0)
    x = float(rr.x[0])
    if x not in cache and 0.0 < x <= tau_hi:
        at(x)
    # the best evaluated deadline for P(g) = F - g tau; among near-ties (P is flat at a smooth
    # optimum) the one nearest the root of F' - g
    Pv = {tau: cache[tau][1].F - g * tau for tau in cache}
    P_max = max(Pv.values())
    near = [tau for tau in cache if Pv[tau] >= P_max - 8 * _EPS * abs(P_max)]
    best_tau = min(near, key=lambda x_: abs(cache[x_][1].dF - g))
    inn, r = at(best_tau)
    if base.F >= r.F - g * best_tau:  # drafting nothing is at least as good (P(g) at tau = 0)
        return Point(0.0, base, base_in, 0.0)
    return Point(best_tau, r, inn, 0.0)


def joint(pb: Problem, caps, c: float, v1r: float, g0: float, tau0: float | None) -> Point | None:
    """The fast path: Newton's method on (ln tau, ln lambda, g) jointly.

    The equations: S(tau, lambda, mu) = 0 (the band), F'_mu(tau) = g (D5) and N - g D = 0 (the
    ratio, D6), with the token price mu = g v1 (ragged batching; 0 for v1 = 0). Their Jacobian
    comes from the implicit derivatives of every user's response (:meth:`.inner.Inner.respond`):
    d/dtau, d/dlambda of S and F' (the cross term is -dS/dtau, since
    d^2 psi_k / d tau d lambda = -d beta_k / d tau), and d/dmu (dL_k/dmu = 1 / f_L). Each step
    costs one response pass of every user (warm-started), against a band root nested in a
    deadline root nested in Dinkelbach's iteration; near the optimum the convergence is
    quadratic. Returns None where it does not converge in 40 steps or leaves the smooth regime
    (band to spare, no drafting, a singular Jacobian): the nested searches then take over.
    """
    if not tau0 or tau0 <= 0:
        return None
    g = g0
    tau = tau0
    if pb.lam_warm:  # a band price from the start point (one response pass, no band root)
        inn = pb.inner(tau, g * v1r, caps)
        r = inn.respond(pb.lam_warm)
        pb.passes += inn.passes
        pb.evals += 1
    else:
        inn, r = pb.solve_at(tau, g * v1r, caps)
    lam = r.lam
    step_small = False
    for _ in range(40):
        if not (lam > 0 and np.isfinite(r.dF) and np.isfinite(r.psi_tt) and r.dS_dlnlam < 0):
            return None
        D = tau + c + v1r * r.sumL
        S, h, E = r.S, r.dF - g, r.N - g * D
        if (abs(S) <= 1e-13 and abs(h) <= 1e-12 * g and abs(E) <= 1e-13 * r.N) or step_small:
            if abs(S) > 1e-12:
                return None
            pt = Point(tau, r, inn, r.N / D)
            pt.mu = g * v1r
            return pt
        J = np.array([
            [tau * r.dS_dtau, r.dS_dlnlam, v1r * r.dS_dmu],
            [tau * r.psi_tt, -lam * r.dS_dtau, -v1r * r.dsumL_dtau - 1.0],
            [tau * (lam * r.dS_dtau + h), lam * r.dS_dlnlam, -D + v1r * r.dnet_dmu],
        ])
        if not np.all(np.isfinite(J)):
            return None
        try:
            du, dv, dg = np.linalg.solve(J, -np.array([S, h, E]))
        except np.linalg.LinAlgError:
            return None
        if not (np.isfinite(du) and np.isfinite(dv) and np.isfinite(dg)):
            return None
        du, dv = float(np.clip(du, -0.5, 0.5)), float(np.clip(dv, -2.0, 2.0))
        dg = float(np.clip(dg, -0.5 * g, 0.5 * g))
        step_small = abs(du) <= 1e-14 and abs(dv) <= 1e-13 and abs(dg) <= 1e-14 * g
        tau *= float(np.exp(du))
        lam *= float(np.exp(dv))
        g += dg
        inn = pb.inner(tau, g * v1r, caps)
        r = inn.respond(lam)
        pb.passes += inn.passes
        pb.evals += 1
        pb.L_warm, pb.beta_warm = r.L, r.beta
    return None


def dinkelbach(pb: Problem, caps, c: float, v1r: float, g0: float) -> tuple[Point, float]:
    """Dinkelbach's iteration on the ratio (module docstring); returns the best point and the
    last ratio g with P(g) <= 0 to rounding (so g >= G* up to it)."""
    g = g0
    best: Point | None = None
    for _ in range(100):
        pt = deadline(pb, caps, g * v1r, g)
        r = pt.resp
        pt.g = r.N / (pt.tau + c + v1r * r.sumL)
        pt.mu = g * v1r
        if best is None or pt.g > best.g:
            best = pt
        if not pt.g > g * (1.0 + 4 * _EPS):
            break
        g = pt.g
    assert best is not None  # the loop runs at least once
    best.g_final = g
    return best, g


def _price_guess(pb: Problem, tau: float, mu: float, L: np.ndarray, beta: np.ndarray) -> float | None:
    """A band price from a feasible point (lengths L, shares beta filling the deadline tau): the
    median over the uploading users of the marginal value of band (A'(L) - mu) / b_L(L, tau)."""
    u = pb.u
    up = np.flatnonzero(u.active & (u.s > 0) & (L > 0) & (beta > 0))
    if up.size == 0:
        return None
    st = u.length_terms(beta[up], tau, up, order=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m = np.log(np.maximum(u.d_tokens(st["L"], up) - mu, 0.0)) - st["ln_bL"]
    m = m[np.isfinite(m)]
    return float(np.exp(np.clip(np.median(m), -700.0, 700.0))) if m.size else None


def relax(users: Users, caps: np.ndarray, v0: float, v1: float, overhead: float, batching: str,
          g0: float, tau_guess: float | None = None, m_guess: float | None = None,
          start: tuple | None = None) -> Relaxation:
    """Solve the continuous relaxation with per-user caps and certify it (module docstring).

    ``g0``: the goodput of a feasible point (a lower bound, e.g. the homogeneous optimum);
    ``tau_guess`` and ``start`` = (L, beta): that point's deadline and its lengths and shares,
    the warm start of every search.
    """
    from .padded import cap_multipliers, padded_joint, padded_nested  # (padded builds on this module)

    pb = Problem(users, caps, v0, v1, overhead, batching)
    pb.tau_warm = tau_guess
    if start is not None and tau_guess:
        L0, b0 = (np.asarray(x, dtype=np.float64) for x in start)
        pb.L_warm, pb.beta_warm = L0, b0
        pb.lam_warm = _price_guess(pb, tau_guess, g0 * v1 if batching == "ragged" else 0.0, L0, b0)
    K = users.K
    if v1 == 0.0 or batching == "ragged":
        mode = "plain" if v1 == 0.0 else "dinkelbach"
        v1r = v1 if batching == "ragged" else 0.0
        pt = joint(pb, caps, pb.c, v1r, g0, tau_guess) if not users.piecewise else None
        if pt is None or pt.g < g0:
            pt, g = dinkelbach(pb, caps, pb.c, v1r, g0)
        else:
            g = pt.g
        m = None
    else:
        mode = "padded"
        res = padded_joint(pb, g0, m_guess, tau_guess) if not users.piecewise else None
        if res is None or not res[0].g >= g0:
            res = padded_nested(pb, g0, m_guess)
        pt, g, m = res
    # ---- certificate (:func:`.certificate.certify`): valid for any token prices; these are tight
    c = pb.c
    lam_x = pt.resp.lam / pt.tau if pt.tau > 0 else 0.0
    if mode == "padded":
        # any nu >= 0 prices the caps L_k <= m; at an interior optimum sum nu = g v1 K. Tried: the
        # envelope's nu, and g v1 K spread over the users held at m by their marginal value
        # (where the envelope cannot split a user held by both the cap and the deadline)
        assert m is not None  # padded batching always has its common cap
        n_max = float(np.max(caps)) if caps.size else 0.0
        r = pt.resp
        held = (r.L >= m * (1.0 - 1e-6)) & users.active & (caps > 0) if m and pt.tau > 0 else users.active & (caps > 0)
        cands = [cap_multipliers(pb, pt, m, pt.g)]
        if pt.tau == 0.0:
            # no drafting: a first token of user k gains A'(0+) and costs at least G h_k, h_k its
            # per-token time with the whole band; the surplus prices the common cap
            h = users.t + np.where(users.s > 0, users.s / users.full_rate(), 0.0)
            cands.append(np.where(users.active & (caps > 0), np.maximum(users.c1 - pt.g * h, 0.0), 0.0))
        if held.any():
            marg = np.where(held, np.maximum(users.d_tokens(np.full(K, m if m else 0.0)), 0.0), 0.0)
            W = pt.g * v1 * K
            for wts in (marg, held.astype(np.float64)):
                if wts.sum() > 0:
                    cands.append(W * wts / wts.sum())
        ub = np.inf
        for nu in cands:
            b, passes = certify(users, caps, c, nu, float(np.sum(nu)), v1 * K, n_max, pt.tau, lam_x, pt.g)
            pb.passes += passes
            ub = min(ub, b)
    else:
        w, n_max = (v1, float(np.sum(caps))) if mode == "dinkelbach" else (0.0, 0.0)
        ub = np.inf
        if pt.tau > 0 and pt.resp.lam > 0:
            # first the tangent of the dual at the solution itself, at its own prices: at a smooth
            # optimum it is tight and nothing more is needed
            mu0 = float(pt.inner.mu[0]) if K else 0.0
            ub = ratio_sup([tangent_line(pt.inner, pt.resp, lam_x)], c, mu0 if w else 0.0, w, n_max)
            pb.passes += 1
        if not ub <= pt.g * (1.0 + 1e-13):
            # the token price at the ratio found: the n-term of the bound is then neutral
            mu_c = np.full(K, pt.g * v1) if mode == "dinkelbach" else np.zeros(K)
            b, passes = certify(users, caps, c, mu_c, float(pt.g * v1) if w else 0.0, w, n_max, pt.tau, lam_x, pt.g)
            pb.passes += passes
            ub = min(ub, b)
    value = pt.g
    prices: tuple[float, float, float, float] | tuple[()] = ()
    if mode != "padded":
        prices = (pt.g * v1 if mode == "dinkelbach" else 0.0, float(pt.g * v1) if mode == "dinkelbach" else 0.0,
                  v1 if mode == "dinkelbach" else 0.0, float(np.sum(caps)) if mode == "dinkelbach" else 0.0)
    return Relaxation(tau=pt.tau, lam=pt.resp.lam, L=pt.resp.L.copy(), value=value, upper_bound=max(ub, value),
                      mode=mode, ratio=g if mode == "dinkelbach" else None, cap=m, passes=pb.passes,
                      evaluations=pb.evals, beta=pt.resp.beta.copy(), prices=prices)
