r"""The continuous relaxation of the heterogeneous regime: outer search and certificate (D1-D6).

.. math::

    G^\star = \max_{\tau \ge 0}\ \max_{L, \beta}\ \frac{\sum_k A_k(L_k)}{\tau + T_v(n) + T_o}
    \quad \text{s.t.}\ L_k h_k(\beta_k) \le \tau,\ 0 \le L_k \le L_{max},\ \sum_k \beta_k \le 1.

Write c = v0 + v1 K + T_o. Three cases, by the verification term:

- v1 = 0 (either batching): G(tau) = F(tau) / (tau + c), F the inner problem
  (:mod:`numerics.heterogeneous_kkt`, D1-D3).
- v1 > 0, ragged batching: the denominator is tau + c + v1 sum_k L_k. At each tau, Dinkelbach
  (D6): g <- N/D with the inner problem priced at mu = g v1 per draft token, until g is fixed.
- v1 > 0, padded batching: the denominator is tau + c + v1 K m with m = max_k L_k. At each tau,
  a one-dimensional search over the cap m in [0, L_max] (quasi-concave, below), on the sign of
  dG/dm = (sum_k nu_k - G v1 K) / D, nu_k the multipliers of L_k <= m.

The outer search over tau uses the sign of dG/dtau = (F'(tau) - G) / D (D5, envelope
derivative). In (tau, x = tau beta, L) the whole problem is a concave-fractional program
(:func:`theory.heterogeneous.joint_concavity`), so G(tau) is quasi-concave and the sign changes
once: the search brackets the change by scanning tau down from the saturation deadline by
factors of 4, then refines it with Brent's method. The quasi-concavity is also checked on every
evaluated point; if it failed (it has not been seen to), a dense scan with a local refinement
replaces the bracket, and ``Relaxation.unimodal_check`` records it.

Certificate (:func:`certificate`). For a fixed band price lambda_x the dual function
D(tau) = lambda_x tau + sum_k psi_k(tau) bounds sum_k (A(L_k) - mu_k L_k) from above at every
feasible point with deadline tau, and it is concave in tau; hence with p = D(tau0) - D'(tau0) tau0,

    ragged:  G <= max( p/c, D'(tau0), (p + mu n_max) / (c + v1 n_max) ),   n_max = K L_max,
    padded:  G <= max( p/c, D'(tau0), (p + N_nu L_max) / (c + v1 K L_max) ),

(:func:`theory.heterogeneous.tangent_bound`; in the padded case the caps L_k <= m are dualised
with the multipliers nu_k found, N_nu = sum_k nu_k). This holds whatever tau0 and lambda, so
the bound does not depend on the search having found the maximum; at the optimum it is tight
to second order. A relative margin of 1e-12 covers the rounding of the sums. The bound is an
upper bound on the integer problem as well (its feasible set is a subset).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import brentq

from .heterogeneous_kkt import Inner, InnerSolution, Users, solve_inner
from .scenario import Scenario

__all__ = ["Relaxation", "relax", "certificate", "outer_search", "saturation_deadline"]

#: relative safety margin added to the certified bound (rounding of sums of K terms)
BOUND_MARGIN = 1e-12
#: the certificate searches a better band price only when its first bound is looser than this
_TIGHT = 1e-8
#: above this many users the outer search starts from the optimum of a subsample of this size
_SUBSAMPLE_ABOVE = 4096
_SUBSAMPLE_SIZE = 1024
_EPS = np.finfo(np.float64).eps
#: Dinkelbach stops when the ratio moves by less than this (relative; superlinear convergence)
_RATIO_TOL = 1e-13


@dataclasses.dataclass
class Relaxation:
    """The continuous optimum found and its certificate."""

    tau: float
    lam: float
    L: np.ndarray
    beta: np.ndarray
    value: float            # G at (tau, L): sum A / (tau + T_v + T_o)
    upper_bound: float      # certified: >= the optimum of the continuous (and integer) problem
    ratio: float | None     # Dinkelbach ratio g (ragged, v1 > 0)
    cap: float | None       # the padded cap m (padded, v1 > 0)
    mode: str               # 'plain' | 'dinkelbach' | 'padded'
    evaluations: int
    unimodal_check: bool
    solution: InnerSolution | None


def saturation_deadline(users: Users, cap=None) -> float:
    """A deadline by which every user can reach its cap at once (F is constant beyond it).

    max_k cap_k t_k + sum_k s_k cap_k / r_k(1) over the users that can gain from drafting:
    with beta_k proportional to the upload time on the whole band each user meets it, since
    r(beta) >= beta r(1) for a concave rate with r(0) = 0.
    """
    cap = users.max_draft if cap is None else cap
    act = users.active
    if not act.any():
        return 0.0
    t, s, ch = users.t[act], users.s[act], users.ch[act]
    B = users.bandwidth
    r1 = B * ch if users.model == "linear" else B * np.log1p(ch) / np.log(2.0)
    return float(np.max(cap * t) + np.sum(s * cap / r1))


class _Evaluator:
    """G*(tau) and the sign function omega(tau) = F'(tau) - G*(tau), with warm starts."""

    def __init__(self, scenario: Scenario, users: Users, cap: float | None = None, extra: float = 0.0,
                 mode: str | None = None):
        self.sc = scenario
        self.u = users
        self.K = users.K
        self.v1 = scenario.v1
        self.c = scenario.v0 + scenario.v1 * self.K + scenario.overhead
        self.cap = cap        # a common cap on L (padded batching: m)
        self.extra = extra    # added to the denominator (padded batching: v1 K m)
        if mode is not None:
            self.mode = mode
        elif scenario.v1 == 0:
            self.mode = "plain"
        elif scenario.batching == "ragged":
            self.mode = "dinkelbach"
        else:
            self.mode = "padded"
        self.lam = None
        self.g = None
        self.m = None
        self.beta = None
        self.n_eval = 0
        self.history: list[tuple[float, float]] = []
        self.cache: dict[float, tuple] = {}

    def _inner(self, tau, mu=0.0, cap=None) -> InnerSolution:
        inn = Inner(self.u, tau, mu, cap)
        if self.beta is not None:
            inn.set_warm(self.beta)
        sol = solve_inner(inn, self.lam)
        if sol.lam > 0:
            self.lam = sol.lam
        self.beta = sol.beta
        return sol

    def __call__(self, tau: float) -> tuple[float, float, InnerSolution, float | None, float | None]:
        """(G*(tau), omega(tau), solution, Dinkelbach ratio, padded cap)."""
        if tau in self.cache:
            return self.cache[tau]
        self.n_eval += 1
        if self.mode == "plain":
            sol = self._inner(tau, 0.0, self.cap)
            G = float(np.sum(sol.tokens)) / (tau + self.c + self.extra)
            out = (G, sol.dual()[1] - G, sol, None, self.cap)
        elif self.mode == "dinkelbach":
            out = self._dinkelbach(tau)
        else:
            raise ValueError(f"the padded search works through relax(), got mode {self.mode!r}")
        self.cache[tau] = out
        self.history.append((tau, out[0]))
        return out

    def _dinkelbach(self, tau):
        g = self.g
        if g is None:  # start from the value of the deadline-filling point (a feasible ratio)
            sol = self._inner(tau)
            g = float(np.sum(sol.tokens)) / (tau + self.c + self.v1 * float(np.sum(sol.L)))
        for _ in range(100):
            sol = self._inner(tau, g * self.v1)
            N = float(np.sum(sol.tokens))
            D = tau + self.c + self.v1 * float(np.sum(sol.L))
            g_new = N / D
            done = abs(g_new - g) <= _RATIO_TOL * g_new
            g = g_new
            if done:
                break
        self.g = g
        return (g, sol.dual()[1] - g, sol, g, None)


def exact_saturation(users: Users, cap: float | None = None) -> float:
    """The deadline at which every active user reaches its cap at once: the D7 equal-finish
    makespan of the vector of caps (beyond it F(tau) is constant, so G decreases)."""
    from .heterogeneous_integer import makespan_batch

    c = users.max_draft if cap is None else cap
    Lcap = np.where(users.active, float(c), 0.0)
    return float(makespan_batch(users, Lcap[None, :])[0])


def outer_search(ev: _Evaluator, tau_hi: float, tau_guess: float | None = None,
                 xtol: float = 1e-9, tau_sat: float | None = None) -> tuple[float, bool]:
    """The maximiser of G*(tau) on [0, tau_hi] (module docstring).

    If G still rises just below the exact saturation deadline ``tau_sat`` (all users reach
    their caps there and F is flat beyond), that deadline is the maximiser (a kink, found
    without a bracket). Else bracket the sign change of omega: from ``tau_guess`` outwards by
    factors of 1.5 when a guess is given, else down from tau_hi by factors of 4; then Brent.
    """
    if tau_sat is not None and 0.0 < tau_sat <= tau_hi and ev(tau_sat * (1.0 - 1e-9))[1] > 0:
        G_sat = ev(tau_sat)[0]
        return tau_sat, all(G <= G_sat * (1 + 1e-12) for _, G in ev.history)
    lo = hi = None
    if tau_guess is not None and 0.0 < tau_guess < tau_hi:
        x = tau_guess
        if ev(x)[1] > 0:
            lo = x
            while hi is None:
                x = min(1.5 * x, tau_hi)
                if ev(x)[1] <= 0:
                    hi = x
                elif x >= tau_hi:
                    break
                else:
                    lo = x
        else:
            hi = x
            floor = tau_hi * 1e-15
            while lo is None and x > floor:
                x = x / 1.5
                if ev(x)[1] > 0:
                    lo = x
                else:
                    hi = x
    if lo is None or hi is None:  # no guess, or the guess did not bracket: scan from tau_hi
        _, om_hi, *_ = ev(tau_hi)
        for _ in range(60):  # tau_hi saturates, so omega < 0 there; guard against round-off
            if om_hi < 0:
                break
            tau_hi *= 2.0
            _, om_hi, *_ = ev(tau_hi)
        hi, lo = tau_hi, None
        tau = tau_hi
        floor = tau_hi * 1e-15
        while tau > floor:
            tau = tau / 4.0
            if ev(tau)[1] > 0:
                lo = tau
                break
            hi = tau
    if lo is None:
        tau_star = hi  # omega <= 0 down to tau_hi 1e-15: the optimum is at tau -> 0
    else:
        # G is stationary at the root: a relative error 1e-9 in tau costs ~1e-18 in G (and in
        # the tightness of the certificate, which is valid at any tau)
        tau_star = brentq(lambda x: ev(x)[1], lo, hi, xtol=xtol * hi, rtol=xtol, maxiter=300)
    G_star = ev(tau_star)[0]
    # at a kink of G (piecewise-linear A, a user reaching its cap at the deadline) the root of
    # omega is a jump, bracketed to 1e-9: keep the best point evaluated on either side
    tau_b, G_b = max(ev.history, key=lambda h: h[1])
    if G_b > G_star:
        tau_star, G_star = tau_b, G_b
    # quasi-concavity check: no evaluated point away from the maximiser is higher
    unimodal = all(G <= G_star * (1 + 1e-12) for _, G in ev.history)
    if not unimodal:  # fallback: dense scan and a local refinement around the best point
        grid = tau_hi * np.logspace(-8, 0, 161)
        vals = [ev(x)[0] for x in grid]
        i = int(np.argmax(vals))
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        from scipy.optimize import minimize_scalar

        r = minimize_scalar(lambda x: -ev(x)[0], bounds=(a, b), method="bounded",
                            options={"xatol": 1e-12 * b})
        cands = [(ev(x)[0], x) for x in (tau_star, grid[i], float(r.x))]
        tau_star = max(cands)[1]
    return tau_star, unimodal


def _max_ratio(lines: list[tuple[float, float]], P: float, w: float, c: float, n_max: float) -> tuple[float, float, float]:
    """sup over tau >= 0, 0 <= n <= n_max of (min_i (p_i + d_i tau) + P n) / (c + tau + w n).

    For fixed n the ratio is monotone on each piece of the concave piecewise-linear
    numerator, and for fixed tau monotone in n (:func:`theory.heterogeneous.tangent_bound`),
    so the supremum is at tau = 0, a crossing of two lines, or tau -> inf (limit min_i d_i),
    with n = 0 or n_max.
    """
    p = np.array([l[0] for l in lines])
    d = np.array([l[1] for l in lines])
    taus = [0.0]
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            if d[i] != d[j]:
                x = (p[j] - p[i]) / (d[i] - d[j])
                if x > 0 and np.isfinite(x):
                    taus.append(float(x))
    finite = -np.inf
    for x in taus:
        f = float(np.min(p + d * x))
        finite = max(finite, f / (c + x))
        if P > 0 or w > 0:
            finite = max(finite, (f + P * n_max) / (c + x + w * n_max))
    return max(finite, float(np.min(d))), float(np.min(d)), finite


def _maximise_direct(ev: _Evaluator, tau_hi: float, tau_guess: float | None) -> float:
    """Padded batching, v1 > 0: maximise the quasi-concave G*(tau) from its values alone.

    The best common cap m*(tau) may sit on a kink that moves with tau (a user reaching the cap
    exactly at the deadline), where the envelope derivative does not give the sign of
    dG*/dtau; so the maximiser is bracketed by a scan (a point higher than both neighbours)
    and refined by Brent's derivative-free method.
    """
    from scipy.optimize import minimize_scalar

    def G(x):
        return ev(x)[0]

    x0 = tau_guess if (tau_guess is not None and 0.0 < tau_guess < tau_hi) else tau_hi / 4.0
    f = 1.5 if tau_guess is not None else 4.0
    a, b = x0 / f, x0
    Ga, Gb = G(a), G(b)
    floor = tau_hi * 1e-15
    if Ga > Gb:  # go down until G stops rising
        while True:
            c, Gc = b, Gb
            b, Gb = a, Ga
            a = b / f
            if a < floor:
                return b
            Ga = G(a)
            if Ga <= Gb:
                break
    else:  # go up until G falls
        while True:
            c = min(b * f, tau_hi)
            Gc = G(c)
            if Gc <= Gb or c >= tau_hi:
                break
            a, Ga, b, Gb = b, Gb, c, Gc
        if Gc > Gb:
            return c
    r = minimize_scalar(lambda x: -G(x), bounds=(a, c), method="bounded",
                        options={"xatol": 1e-9 * c, "maxiter": 200})
    return max((G(x), x) for x in (b, float(r.x)))[1]


def certificate(ev: _Evaluator, sol: InnerSolution, G_value: float, ratio, cap) -> float:
    """Certified upper bound on the continuous (hence integer) optimum (module docstring).

    For a fixed band price lambda_x the dual D(tau) is concave in tau, so it lies below each of
    its tangents, and below their minimum. The bound is first taken with the tangent at the
    solution found, with its price. Where the optimum sits on a kink (a user reaching its cap
    exactly at the deadline, or held at a kink of a piecewise-linear A, so that a range of
    prices is optimal) that price can give a valid but loose bound; then the price is chosen
    to minimise the bound (a bisection that balances the slope term against the finite-tau
    term, then a grid and Brent's method on ln lambda_x), and if still needed tangents on both
    sides of tau0 (relative offsets 1e-8 and 1e-6) are added. Every trial is a valid bound and
    the smallest is kept. Known limit: with padded batching, v1 > 0 and a position-dependent
    profile, an optimum where the common cap sits on a kink of A can leave a loose (still
    valid) bound, since the cap multipliers are not searched.
    """
    u = ev.u
    tau0 = sol.tau
    padded = ev.mode == "padded"
    if padded:
        nu = sol.cap_multipliers()

        def prices():
            return nu
        n_max, w = float(u.max_draft), ev.v1 * ev.K
        inners: dict = {}
    else:
        n_max, w = ev.K * float(u.max_draft), ev.v1
        inners = {(tau0, None): sol.inner}

    def tangent(tau_i: float, lam_x: float) -> tuple[float, float]:
        key = (tau_i, None)
        inn = inners.get(key)
        if inn is None:
            inn = inners[key] = Inner(u, tau_i, prices() if padded else sol.mu, None)
        lam = lam_x * tau_i
        beta, L, _, L1 = inn.best_response(lam)
        capped = (L >= inn.ell) & (inn.ell > 0)
        dsol = InnerSolution(tau=tau_i, lam=lam, beta=beta, L=L, mu=inn.mu, cap=inn.ell,
                             dL_dbeta=L1, capped=capped, inner=inn)
        D0, Dt = dsol.dual()
        return D0 - Dt * tau_i, Dt

    def parts(lam_x: float, points) -> tuple[float, float, float]:
        """(bound, its tau -> inf term, its finite-tau term) for the price lam_x."""
        lines = [tangent(x, lam_x) for x in points]
        if not all(np.isfinite(a) and np.isfinite(b) for a, b in lines):
            return np.inf, np.inf, np.inf
        P = float(np.sum(prices())) if padded else (float(sol.mu[0]) if sol.mu.size else 0.0)
        return _max_ratio(lines, P, w, ev.c, n_max)

    def balance(z0: float, points) -> tuple[float, float]:
        """Single tangent: the bound is max(slope term, finite-tau term); on a flat stretch of the
        dual (users held at kinks) the slope rises and the finite term falls with lambda_x, so
        bisect ln(lambda_x) on the sign of their difference. Every trial is a valid bound."""
        best, z_best = np.inf, z0
        b0, inf0, fin0 = parts(float(np.exp(z0)), points)
        if b0 < best:
            best, z_best = b0, z0
        up = inf0 - fin0 <= 0  # slope below the finite term: raise lambda_x
        z_a, z_b, step = z0, None, 0.25
        for _ in range(7):  # at most 0.25 (2^7 - 1) ~ 32 in ln(lambda_x) from the start
            z_n = z_a + (step if up else -step)
            bn, infn, finn = parts(float(np.exp(z_n)), points)
            if bn < best:
                best, z_best = bn, z_n
            if (infn - finn <= 0) != up:
                z_b = z_n
                break
            z_a, step = z_n, 2.0 * step
        if z_b is None:
            return best, z_best
        lo, hi = min(z_a, z_b), max(z_a, z_b)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            bm, infm, finm = parts(float(np.exp(mid)), points)
            if bm < best:
                best, z_best = bm, mid
            if infm - finm > 0:
                hi = mid
            else:
                lo = mid
            if hi - lo < 1e-13 or best <= G_value * (1.0 + 1e-12):
                break
        return best, z_best

    def search(z0: float, points, half: float, n: int) -> tuple[float, float]:
        """Smallest bound over ln(lambda_x) in [z0 - half, z0 + half] (and lambda_x = 0): a grid of
        n points, then Brent's bounded method in the cells around the best. Every trial is a
        valid bound; the smallest is kept. Returns (bound, its ln lambda_x)."""
        from scipy.optimize import minimize_scalar

        zs = np.linspace(z0 - half, z0 + half, n)
        vals = [parts(float(np.exp(z)), points)[0] for z in zs]
        i = int(np.argmin(vals))
        best, z_best = vals[i], zs[i]
        zero = parts(0.0, points)[0]
        if zero < best:
            return zero, -np.inf
        a, b = zs[max(i - 1, 0)], zs[min(i + 1, n - 1)]
        r = minimize_scalar(lambda z: parts(float(np.exp(z)), points)[0], bounds=(a, b), method="bounded",
                            options={"xatol": 1e-9})
        v = parts(float(np.exp(r.x)), points)[0]
        return (v, float(r.x)) if v < best else (best, z_best)

    lam_x0 = sol.lam / tau0
    ub = parts(lam_x0, [tau0])[0]
    inner0 = inners.get((tau0, None)) or Inner(u, tau0, prices() if padded else sol.mu, None)
    if not ub <= G_value * (1.0 + _TIGHT):
        # the price: around the solution's, or the marginal value of band at the caps if it is 0
        if lam_x0 > 0:
            z0 = float(np.log(lam_x0))
        else:
            g = inner0.g
            m = np.zeros(0)
            if g.idx.size:
                bc = np.where(np.isfinite(g.bcap), g.bcap, 1.0)
                gv, _, _, _ = inner0._grad_g(np.maximum(bc, 1e-150), g, 0.0)
                m = gv[np.isfinite(gv) & (gv > 0)]
            z0 = float(np.log((float(np.max(m)) if m.size else 1.0) / tau0))
        v, z1 = balance(z0, [tau0])
        ub = min(ub, v)
        if not ub <= G_value * (1.0 + _TIGHT):
            v, z1b = search(z0, [tau0], 12.0, 25)
            if v < ub:
                ub, z1 = v, z1b
        if not ub <= G_value * (1.0 + _TIGHT):  # a kink in tau: tangents on both sides
            points = [tau0 * (1 + f) for f in (-1e-6, -1e-8, 0.0, 1e-8, 1e-6)]
            for zc in {z0, z1 if np.isfinite(z1) and abs(z1 - z0) <= 12.0 else z0}:
                ub = min(ub, search(zc, points, 3.0, 13)[0])
    return float(max(ub, G_value) * (1.0 + BOUND_MARGIN))


def relax(scenario: Scenario, users: Users | None = None) -> Relaxation:
    """Solve the continuous relaxation and certify it (module docstring)."""
    u = Users.from_scenario(scenario) if users is None else users
    ev = _Evaluator(scenario, u)
    tau_hi = saturation_deadline(u)
    if tau_hi <= 0.0:  # no active user has a drafting or upload cost: the deadline is 0
        return _at_zero(u, ev)
    tau_guess = m_guess = None
    if u.K > _SUBSAMPLE_ABOVE:  # a cheap guess of tau (and of the padded cap) from a subsample
        R_sub = relax(_subsample(scenario, _SUBSAMPLE_SIZE))
        if R_sub.tau > 0:
            tau_guess, m_guess = R_sub.tau, R_sub.cap
    if ev.mode == "padded":
        tau_star, unimodal, G, sol, cap, n_eval = _padded_search(scenario, u, tau_guess, m_guess)
        ratio = None
        ev.n_eval = n_eval
    else:
        ts = exact_saturation(u) if ev.mode == "plain" else None
        tau_star, unimodal = outer_search(ev, tau_hi, tau_guess, tau_sat=ts)
        G, _, sol, ratio, cap = ev(tau_star)
    ub = certificate(ev, sol, G, ratio, cap)
    beta = sol.beta / max(1.0, float(np.sum(sol.beta)))
    return Relaxation(tau=tau_star, lam=sol.lam, L=sol.L.copy(), beta=beta, value=G, upper_bound=ub,
                      ratio=ratio, cap=cap, mode=ev.mode, evaluations=ev.n_eval,
                      unimodal_check=unimodal, solution=sol)


def _padded_search(scenario: Scenario, u: Users, tau_guess, m_guess):
    """Padded batching, v1 > 0: G**(m) = max_tau F(tau, m) / (tau + c + v1 K m) over the common cap m.

    For a fixed m the deadline search is the plain one (cap m, the batch term a constant).
    G** is quasi-concave in m (a projection of the jointly quasi-concave G); it is maximised
    from its values (a grid of 7 caps, then Brent's bounded method in the cells around the
    best): its derivative in m is not used, since the best deadline may sit on a kink that
    moves with m (a user reaching the cap exactly at the deadline). Warm starts carry lambda,
    the shares and the deadline from one cap to the next.
    """
    from scipy.optimize import minimize_scalar

    K, Lmax = u.K, float(u.max_draft)
    state = {"lam": None, "beta": None, "tau": tau_guess, "m": m_guess}
    cache: dict[float, tuple] = {}
    n_eval = [0]

    def G_of(m: float, xtol: float = 1e-6) -> float:
        # the deadline to 1e-6 while searching the cap (G is stationary in tau: error ~1e-12),
        # to 1e-9 at the cap finally chosen
        if m in cache and cache[m][4] <= xtol:
            return cache[m][0]
        ev_m = _Evaluator(scenario, u, cap=m, extra=scenario.v1 * K * m, mode="plain")
        ev_m.lam, ev_m.beta = state["lam"], state["beta"]
        th = max(saturation_deadline(u, cap=m), 1e-300)
        ts = exact_saturation(u, cap=m)
        guess = state["tau"] * m / state["m"] if state["tau"] and state["m"] else None  # tau grows with m
        guess = guess if guess is not None and guess < th else None
        tau_m, uni = outer_search(ev_m, th, guess, xtol, tau_sat=ts)
        G, _, sol, _, _ = ev_m(tau_m)
        state.update(lam=ev_m.lam, beta=ev_m.beta, tau=tau_m, m=m)
        n_eval[0] += ev_m.n_eval
        cache[m] = (G, tau_m, sol, uni, xtol)
        return G

    m_lo = Lmax * 1e-9
    grid = np.linspace(0.0, Lmax, 7)
    grid[0] = m_lo
    if m_guess is not None and m_lo < m_guess < Lmax:
        grid = np.unique(np.r_[grid, m_guess])
    vals = [G_of(float(m)) for m in grid]
    i = int(np.argmax(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    # an end of the range that beats its close neighbour is the maximiser (quasi-concavity)
    at_end = False
    if i == grid.size - 1:
        at_end = G_of(float(Lmax * (1 - 1e-7))) <= vals[i]
    elif i == 0:
        at_end = G_of(float(grid[0] + 1e-7 * Lmax)) <= vals[i]
    if b > a and not at_end:
        # 1e-7: G** is stationary at an interior m* (error ~1e-14); at a kink the certificate,
        # valid at any point, absorbs the rest
        r = minimize_scalar(lambda m: -G_of(float(m)), bounds=(a, b), method="bounded",
                            options={"xatol": 1e-7 * Lmax})
        G_of(float(r.x))
    m_star = max(cache, key=lambda m: cache[m][0])
    G_of(m_star, 1e-9)
    G, tau_star, sol, uni, _ = cache[m_star]
    # quasi-concavity check along the evaluated caps: values rise then fall
    ms = sorted(cache)
    v = np.array([cache[m][0] for m in ms])
    k = int(np.argmax(v))
    unimodal = uni and bool(np.all(np.diff(v[: k + 1]) >= -1e-10 * G) and np.all(np.diff(v[k:]) <= 1e-10 * G))
    return tau_star, unimodal, G, sol, m_star, n_eval[0]


def _subsample(scenario: Scenario, n: int) -> Scenario:
    """n users drawn without replacement (seeded), with the band and v1 scaled so that the
    per-user band and the total verification load v1 K, v1 sum L keep their size."""
    K = scenario.n_users
    idx = np.sort(np.random.default_rng(0).choice(K, size=n, replace=False))
    per_user = {}
    for name in ("alpha", "t_draft", "bits_per_token", "spectral_efficiency", "snr"):
        v = getattr(scenario, name)
        if v is not None:
            per_user[name] = v[idx]
    return scenario.replace(bandwidth_hz=scenario.bandwidth_hz * n / K, v1=scenario.v1 * K / n, **per_user)


def _at_zero(u: Users, ev: _Evaluator) -> Relaxation:
    """tau = 0: only users with t = s = 0 (free drafting) draft; every other user keeps L = 0.

    plain: the free users take L_max (exact). dinkelbach: per-user stop-short lengths at the
    fixed point g (exact: the problem is separable given g). padded: G(m) =
    (sum_free A(m) + K_other) / (c + v1 K m) is concave over affine in the common cap m; its
    maximiser is found by a bounded scalar search and certified by the tangent of the
    numerator (left derivative), maximised over the end points m = 0 and m = L_max.
    """
    free = u.active & (u.t == 0) & (u.s == 0)
    Lmax = float(u.max_draft)
    ratio = cap = None
    if ev.mode == "plain":
        L = np.where(free, Lmax, 0.0)
        val = float(np.sum(u.tokens(L))) / ev.c
        ub = val
    elif ev.mode == "dinkelbach":
        g = float(u.K) / ev.c
        for _ in range(100):
            L = np.where(free, np.minimum(Lmax, u.stop_short(g * ev.v1)), 0.0)
            g_new = float(np.sum(u.tokens(L))) / (ev.c + ev.v1 * float(np.sum(L)))
            done = abs(g_new - g) <= 4 * _EPS * g_new
            g = g_new
            if done:
                break
        val = ub = ratio = g
    else:
        from scipy.optimize import minimize_scalar

        cK = ev.v1 * u.K

        def G(m):
            return float(np.sum(u.tokens(np.where(free, m, 0.0)))) / (ev.c + cK * m)

        grid = np.linspace(0.0, Lmax, 4 * u.max_draft + 1)
        i = int(np.argmax([G(m) for m in grid]))
        r = minimize_scalar(lambda m: -G(m), bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
                            method="bounded", options={"xatol": 1e-12 * Lmax})
        cap = max((G(m), m) for m in (grid[i], float(r.x)))[1]
        L = np.where(free, cap, 0.0)
        val = G(cap)
        N0 = float(np.sum(u.tokens(L)))
        d = float(np.sum(u.slope_left(L[free], free))) if free.any() else 0.0
        ub = max((N0 + d * (m - cap)) / (ev.c + cK * m) for m in (0.0, Lmax))
    return Relaxation(tau=0.0, lam=0.0, L=L, beta=np.zeros(u.K), value=val,
                      upper_bound=max(ub, val) * (1 + BOUND_MARGIN), ratio=ratio, cap=cap, mode=ev.mode,
                      evaluations=0, unimodal_check=True, solution=None)
