r"""The inner band problem at a fixed drafting deadline (docs/model.md D1, D2, D3, D6).

At a deadline tau, with per-user token prices mu_k >= 0 (mu = g v1 in Dinkelbach's step for
ragged batching, D6; cap multipliers in the certificate of padded batching) and caps ell_k:

.. math::

    F(\tau) = \max_{\beta \ge 0,\ \sum_k \beta_k \le 1,\ 0 \le L_k \le \ell_k}\ \sum_k A_k(L_k) - \mu_k L_k
    \quad\text{s.t.}\quad \beta_k \ge b_k(L_k, \tau),

concave (D2). Dualising the band with lambda >= 0 splits it into one problem per user,
psi_k = max_L A_k(L) - mu_k L - lambda b_k(L, tau), whose maximiser L_k(lambda) solves
(D3 stationarity, written in L so that it lives on the bounded interval [0, ell_k])

.. math::  A_k'(L) - \mu_k = \lambda\, \partial_L b_k(L, \tau),

a decreasing function of L (A concave, b convex). Per user (:meth:`Inner.respond`):

- smooth A, linear rate, mu = 0: the closed form of D3 with the principal branch,
  w = tau - t L = (2 t / a) omega(zeta) (omega = W_0(e^zeta), :func:`numerics.lambertw.omega_unchecked`),
  L taken from whichever of (tau - w)/t and -1 + ln(w^2 / K0)/a loses fewer digits (the first
  cancels when t is tiny, the second when alpha -> 1);
- smooth A otherwise: the root of ln(A' - mu) - ln(lambda) - ln(b_L) (concave in L for the
  linear rate) by :func:`numerics.roots.newton`, warm-started from the previous response;
- piecewise-linear A (chord, profile): segment by segment (:mod:`.response`).

Users without upload (s = 0) fill the deadline, L = min(ell, tau / t) (D1); users with no
cost at all take their cap; users with A'(0) <= mu keep L = 0 (D6).

The band multiplier lambda is the root of sum_k b_k(L_k(lambda), tau) = 1 (decreasing in
lambda; :meth:`Inner.solve`), or 0 when every user reaches its cap with band to spare. Where
the sum jumps over 1 (users indifferent along a segment: linear rate, t = 0, piecewise A), the
users on the jump share the rest of the band (a convex combination of the two responses).

Each response also returns the partial derivatives the outer search needs (implicit
differentiation of the stationarity): d beta / d lambda, d beta / d tau, and d psi / d tau,
d^2 psi / d tau^2 at fixed lambda, from which F'(tau) (the envelope theorem, D5) and F''(tau)
follow.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..lambertw import omega_unchecked
from ..roots import NOT_BRACKETED, newton
from ..solution import SolverError
from .response import ResponseParts
from .users import Users

__all__ = ["Inner", "Response"]

_EPS = float(np.finfo(np.float64).eps)


@dataclasses.dataclass
class Response:
    """Per-user optimum of the inner problem at (tau, lambda): arrays over all K users.

    ``status``: 0 at L = 0, 1 interior root, 2 held at a cap or a kink, 3 user without
    upload bound by the deadline, 4 user without upload not bound (cap or stop-short).
    """

    tau: float
    lam: float
    L: np.ndarray
    beta: np.ndarray
    status: np.ndarray
    S: float                 # sum_k beta_k - 1
    dS_dlnlam: float         # lambda dS/dlambda (<= 0)
    F: float                 # sum_k A_k(L_k) - mu_k L_k
    N: float                 # sum_k A_k(L_k)
    sumL: float
    dF: float = np.nan       # F'(tau) at fixed lambda (= the envelope derivative when S = 0)
    d2F: float = np.nan      # F''(tau) along lambda(tau)
    dlnlam_dtau: float = 0.0  # d ln(lambda)/d tau along the root
    passes: int = 0
    terms: dict | None = None  # the uploading users' share terms (Users.share_terms / length_terms)
    psi_tt: float = np.nan     # sum_k d^2 psi_k / d tau^2 at fixed lambda
    dS_dtau: float = 0.0       # d S / d tau at fixed lambda
    dS_dmu: float = 0.0        # d S / d mu (a common token price)
    dsumL_dtau: float = 0.0    # d sum_k L_k / d tau at fixed lambda and mu
    dsumL_dmu: float = 0.0     # d sum_k L_k / d mu
    dnet_dmu: float = 0.0      # sum_k (A'(L_k) - mu) dL_k / d mu
    dbeta_dlnlam: np.ndarray | None = None  # per user lambda d beta_k / d lambda (0 without upload)


class Inner(ResponseParts):
    """The inner problem at a deadline ``tau`` with prices ``mu`` and caps ``cap`` (module docstring)."""

    def __init__(self, users: Users, tau: float, mu=0.0, cap=None):
        u = self.u = users
        K = u.K
        self.tau = tau = float(tau)
        self.mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), (K,)).copy()
        self.cap = u.cap.copy() if cap is None else np.minimum(u.cap, np.broadcast_to(cap, (K,)))
        can = u.active & (self.cap > 0) & (u.c1 > self.mu)
        self.zc = can & u.zero_cost
        if tau > 0:
            self.free = can & (u.s == 0) & (u.t > 0)
            self.up_mask = can & (u.s > 0)
        else:  # at tau = 0 only users without any cost draft
            self.free = np.zeros(K, dtype=bool)
            self.up_mask = np.zeros(K, dtype=bool)
        self.up = np.flatnonzero(self.up_mask)
        self.passes = 0
        self.warm_L: np.ndarray | None = None
        self.warm_beta: np.ndarray | None = None
        self.warm_J: np.ndarray | None = None
        # users that need no band: fixed responses (independent of lambda)
        self.L_fixed = np.zeros(K)
        stop = u.stop_short(self.mu)
        zc = self.zc
        self.L_fixed[zc] = np.minimum(self.cap[zc], stop[zc])
        fr = self.free
        if fr.any():
            lim = tau / u.t[fr]
            top = np.minimum(self.cap[fr], stop[fr])
            self.L_fixed[fr] = np.minimum(top, lim)
            self.free_bound = np.zeros(K, dtype=bool)
            self.free_bound[fr] = lim < top
        else:
            self.free_bound = np.zeros(K, dtype=bool)
        up = self.up
        if up.size:
            self.Ltop = np.minimum(np.minimum(self.cap[up], stop[up]), u.reach(tau, up))
            self.mu_up = self.mu[up]
            self.closed_form = u.kind == "smooth" and u.model == "linear" and not np.any(self.mu_up > 0)
            if self.closed_form:
                self._prepare_closed_form()
            # ln b_L at L = 0 (the zero test): linear ln(s / (tau B eta)), Shannon -inf (r'(0) = inf)
            if u.model == "linear":
                self.ln_bL0 = np.log(u.s[up]) - np.log(tau) - np.log(u.B * u.ch[up])
            else:
                self.ln_bL0 = np.full(up.size, -np.inf)
        self._b_top: np.ndarray | None = None

    @property
    def b_top(self) -> np.ndarray:
        """The share at the top of each uploading user's bracket where it is reachable (inf else):
        with lambda -> 0 every user goes there, so there is band to spare if these shares fit
        (computed on first use: a W_{-1} evaluation per user for the Shannon rate)."""
        if self._b_top is None:
            u, up, tau = self.u, self.up, self.tau
            reachable = self.Ltop < u.reach(tau, up)
            top_terms = u.share_terms(np.where(reachable, self.Ltop, 0.0), tau, up, order=1)
            self._b_top = np.where(reachable, top_terms["b"], np.inf)
        return self._b_top

    # ------------------------------------------------------------------ per-user pieces
    def _prepare_closed_form(self) -> None:
        u, up, tau = self.u, self.up, self.tau
        t, s, a = u.t[up], u.s[up], u.a[up]
        Be = u.B * u.ch[up]
        # K0 / lambda = s tau (1 - alpha) / (a B eta);  e^{-a(L+1)} = lambda K0' / w^2
        self.cf_lnK0 = np.log(s) + np.log(tau) - np.log(u.inv_oma[up]) - np.log(a) - np.log(Be)
        pos = t > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.cf_zeta0 = np.where(pos, np.log(a) - np.log(2.0 * t) + 0.5 * self.cf_lnK0
                                     + 0.5 * a * (1.0 + tau / np.where(pos, t, 1.0)), 0.0)
        self.cf_pos = pos

    def _closed_form(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """D3 with W_0 (module docstring): (L, w = tau - t L) of every uploading user, unclipped."""
        u, up, tau = self.u, self.up, self.tau
        t, a = u.t[up], u.a[up]
        lnl = np.log(lam)
        lnK0 = self.cf_lnK0 + lnl
        pos = self.cf_pos
        w = np.full(up.size, tau)
        if pos.any():
            om = omega_unchecked(self.cf_zeta0[pos] + 0.5 * lnl)
            w[pos] = (2.0 * t[pos] / a[pos]) * om
        with np.errstate(divide="ignore", invalid="ignore"):
            L_log = -1.0 + (2.0 * np.log(w) - lnK0) / a
            L_lin = (tau - w) / np.where(pos, t, 1.0)
            err_lin = tau / np.where(pos, t, 1.0)
            err_log = (2.0 * np.abs(np.log(w)) + np.abs(lnK0) + 1.0) / a
        return np.where(pos & (err_lin < err_log), L_lin, L_log), w

    def _phi(self, st, idx, lnlam):
        """phi = ln A'(L) - ln(mu + lambda b_L) and d phi / d L (uploading users idx).

        Its root is the stationarity A'(L) - mu = lambda b_L. Written so, phi is smooth through
        the stop-short length A'(L) = mu (where ln(A' - mu) would be singular, the root of a user
        drafting nearly to it sitting next to a pole) and still in logarithms (lambda and b_L span
        hundreds of decades across scenarios).
        """
        u = self.u
        sub = self.up if idx is None else self.up[idx]
        mu = self.mu_up if idx is None else self.mu_up[idx]
        lnA = u.lnk[sub] - u.a[sub] * (st["L"] + 1.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lb = lnlam + st["ln_bL"]                       # ln(lambda b_L)
            cost = np.logaddexp(np.log(mu), lb)            # ln(mu + lambda b_L)
            share = np.exp(lb - cost)                      # lambda b_L / (mu + lambda b_L)
            kappa = st["bLL"] / st["bL"]
            phi = lnA - cost
            dphi = -u.a[sub] - share * kappa
        return np.where(np.isnan(phi), -np.inf, phi), dphi

    def _smooth(self, lam: float):
        """(beta, L-terms, status) of the uploading users for a smooth A (module docstring).

        Closed form (linear rate, mu = 0), else the root of phi in ln(beta) on
        (0, b(top)): in the share the lengths and the upload slack w = tau s / (s + t r) keep
        their precision near the deadline (t L -> tau), where L-space would cancel.
        """
        u, up = self.u, self.up
        n = up.size
        cap = self.cap[up]
        beta = np.zeros(n)
        status = np.zeros(n, dtype=np.int8)
        if self.closed_form:
            Lc, w = self._closed_form(lam)
            zero = ~(Lc > 0)
            capd = ~zero & (Lc >= cap)
            Be = u.B * u.ch[up]
            with np.errstate(divide="ignore", invalid="ignore"):
                bc = u.s[up] * Lc / (Be * w)
            beta = np.where(zero, 0.0, np.where(capd, self.b_top, bc))
            status = np.where(zero, 0, np.where(capd, 2, 1)).astype(np.int8)
            return beta, status
        lnlam = float(np.log(lam))
        mu = self.mu_up
        lnA0 = u.lnk[up] - u.a[up]
        with np.errstate(divide="ignore", invalid="ignore"):
            net0 = np.exp(lnA0) - mu
            zero = ~(np.log(np.maximum(net0, 0.0)) - lnlam - self.ln_bL0 > 0)
        todo = np.flatnonzero(~zero)
        if todo.size:
            # the root of min(phi(beta), ln(cap / L(beta))): the optimum, or the share that just
            # reaches the cap (phi decreasing, so phi(b(cap)) >= 0 exactly when the cap binds) -
            # the cap needs no share of its own; beyond the stop-short length phi is -inf
            lncap = np.log(cap[todo])

            def fun(x, idx):
                sel = todo if idx is None else todo[idx]
                st = u.length_terms(x, self.tau, up[sel], order=2)
                ph, dph = self._phi(st, sel, lnlam)
                with np.errstate(divide="ignore", invalid="ignore"):
                    dph = dph / st["bL"]                  # d phi / d beta = phi_L L'(beta), L' = 1 / b_L
                    lc = (lncap if idx is None else lncap[idx]) - np.log(st["L"])
                    dlc = -1.0 / (st["L"] * st["bL"])
                at = lc < ph
                return np.where(at, lc, ph), np.where(at, dlc, dph)

            # start: the previous response, else an equal split
            warm = np.full(todo.size, 1.0 / n) if self.warm_beta is None else self.warm_beta[up][todo]
            warm = np.where(warm > 0, warm, 1.0 / n)
            # (the shares to 1e-13 relative: the objective is stationary there, its error ~1e-26)
            r = newton(fun, 1e-300, 1e300, warm, increasing=False, log=True, rtol=1e-13, lo_open=True,
                       hi_open=True)
            self.passes += r.passes
            bx = np.where((r.status == NOT_BRACKETED) & (r.x <= 1e-300), 0.0, r.x)  # below 1e-300: L = 0
            at_cap = (r.status == NOT_BRACKETED) & (r.x >= 1e300)
            L = u.length_terms(bx, self.tau, up[todo], order=1)["L"]
            at_cap |= L >= cap[todo] * (1.0 - 1e-13)
            beta[todo] = bx
            status[todo] = np.where(bx > 0, 1, 0)
            if at_cap.any():  # the exact share of the cap
                ci = todo[at_cap]
                beta[ci] = u.share_terms(cap[ci], self.tau, up[ci], order=1)["b"]
                status[ci] = 2
        return beta, status

    # ------------------------------------------------------------------ responses
    def respond(self, lam: float, derivatives: bool = True) -> Response:
        """Every user's optimum at the band price ``lam`` > 0 (or the caps at ``lam`` = 0)."""
        u, up = self.u, self.up
        K = u.K
        L = self.L_fixed.copy()
        beta = np.zeros(K)
        status = np.zeros(K, dtype=np.int8)
        status[self.free] = np.where(self.free_bound[self.free], 3, 4)
        status[self.zc] = 4
        dS = 0.0
        self.passes += 1
        d_up = None
        st = None
        if up.size:
            order = 2 if derivatives else 1
            if lam <= 0.0:
                Lu = self.Ltop.copy()
                su = np.full(up.size, 2, dtype=np.int8)
                st = u.share_terms(Lu, self.tau, up, order=order)
            elif u.piecewise:
                self.beta_interior = None
                Lu, su = self._piecewise(lam)
                st = u.share_terms(Lu, self.tau, up, order=order)
                if self.beta_interior is not None:  # Shannon users inside a segment: terms from the share
                    ids, bx = self.beta_interior
                    pos = np.searchsorted(up, ids)
                    sti = u.length_terms(bx, self.tau, ids, order=order)
                    for key, val in sti.items():
                        if key in st:
                            st[key] = st[key].copy()
                            st[key][pos] = val
            else:
                bu, su = self._smooth(lam)
                st = u.length_terms(bu, self.tau, up, order=order)
                # users at the cap or at 0 keep their exact lengths
                st["L"] = np.where(su == 2, self.Ltop, np.where(su == 0, 0.0, st["L"]))
                st["b"] = bu
            Lu = st["L"]
            L[up] = Lu
            status[up] = su
            bu = np.where(Lu > 0, st["b"], 0.0)
            beta[up] = bu
            if derivatives and lam > 0:
                d_up = self._derivatives(lam, Lu, su, st)
                dS = float(np.sum(d_up["beta_lnlam"]))
        S = float(np.sum(beta[up])) - 1.0 if up.size else -1.0
        A = u.tokens(L)
        N = float(np.sum(A))
        F = N - float(np.sum(self.mu * L))
        resp = Response(tau=self.tau, lam=lam, L=L, beta=beta, status=status, S=S, dS_dlnlam=dS, F=F, N=N,
                        sumL=float(np.sum(L)), terms=st if up.size else None)
        if derivatives:
            self._envelope(resp, lam, d_up)
            resp.dbeta_dlnlam = np.zeros(K)
            if d_up is not None:
                resp.dbeta_dlnlam[up] = d_up["beta_lnlam"]
        self.warm_L = L
        self.warm_beta = beta
        return resp

    # ------------------------------------------------------------------ the multiplier
    def solve(self, lam0: float | None = None, pure: bool = False) -> Response:
        """The band multiplier (module docstring): sum_k beta_k(lambda) = 1, or lambda = 0.

        ``pure``: on a jump of the sum of shares, return the responses on its feasible side
        (every user at its own optimum for that price, as the certificate needs) instead of
        the combination that fills the band.
        """
        up = self.up
        if up.size == 0 or float(np.sum(self.b_top)) <= 1.0:
            r = self.respond(0.0)
            r.passes = self.passes
            return r
        if lam0 is None or not (lam0 > 0 and np.isfinite(lam0)):
            lam0 = self._initial_lambda()
        cache: dict[float, Response] = {}

        def S_of(x, idx):
            # ln(sum of shares) (close to linear in ln lambda: the shares follow power laws of the
            # price far from the root), its derivative, and for the kinks the primitive of S,
            # lambda S - F (minus the dual function), with S itself
            lam = float(x[0])
            r = cache.get(lam)
            if r is None:
                r = cache[lam] = self.respond(lam)
            tot = r.S + 1.0
            if tot > 0:
                f, df = float(np.log(tot)), r.dS_dlnlam / (tot * lam)
            else:
                f, df = -np.inf, np.nan
            return np.array([f]), np.array([df]), np.array([lam * r.S - r.F]), np.array([r.S])

        rr = newton(S_of, 1e-300, 1e300, lam0, increasing=False, log=True, rtol=4 * _EPS,
                    lo_open=True, hi_open=True, primitive=True, max_log_step=8.0)
        if rr.status[0] == NOT_BRACKETED:
            # the root lies beyond [1e-300, 1e300] (absurd scales): the feasible response nearest it
            feas = [r for r in cache.values() if r.S <= 0]
            if not feas:
                raise SolverError("inner band problem", f"no band price in [1e-300, 1e300] makes the shares "
                                  f"fit at tau={self.tau!r}")
            best = max(feas, key=lambda r: r.S)
            best.passes = self.passes
            return best
        lam = float(rr.x[0])
        # the response at the last evaluated multiplier nearest the root
        best = min(cache.values(), key=lambda r: (abs(r.S), abs(np.log(r.lam / lam))))
        if abs(best.S) > 1e-12:
            if pure:
                hi = float(rr.hi[0])
                best = cache.get(hi) or self.respond(hi)
            else:
                best = self._jump(cache, float(rr.lo[0]), float(rr.hi[0]))
        best.passes = self.passes
        return best

    def _initial_lambda(self) -> float:
        """A start for lambda: the median marginal value of band A'(L) / b_L(L) at an equal split."""
        u, up = self.u, self.up
        b = 1.0 / up.size
        # L with share b: L = tau r / (s + t r)
        if u.model == "linear":
            r = b * u.B * u.ch[up]
        else:
            r = b * u.B * np.log1p(u.ch[up] / b) / np.log(2.0)
        L = np.minimum(self.tau * r / (u.s[up] + u.t[up] * r), self.Ltop)
        st = u.share_terms(L, self.tau, up, order=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            m = np.log(np.maximum(u.d_tokens(L, up) - self.mu_up, 0.0)) - st["ln_bL"]
        m = m[np.isfinite(m)]
        return float(np.exp(np.clip(np.median(m), -700.0, 700.0))) if m.size else 1.0

    def _jump(self, cache: dict, lam_lo: float, lam_hi: float) -> Response:
        """The sum of shares jumps over 1 between lam_lo and lam_hi: users on the jump share the rest."""
        lo = cache.get(lam_lo) or self.respond(lam_lo)
        hi = cache.get(lam_hi) or self.respond(lam_hi)
        S_lo, S_hi = lo.S, hi.S  # S_lo > 0 > S_hi
        theta = S_hi / (S_hi - S_lo) if S_lo != S_hi else 1.0  # weight of the lo response
        if not (np.all(np.isfinite(lo.beta)) and np.all(np.isfinite(lo.L)) and 0.0 <= theta <= 1.0):
            return hi  # the side that fits the band
        beta = theta * lo.beta + (1.0 - theta) * hi.beta
        L = theta * lo.L + (1.0 - theta) * hi.L
        status = np.where(lo.L != hi.L, 1, hi.status).astype(np.int8)
        A = self.u.tokens(L)
        N = float(np.sum(A))
        # F' = sum_k pi_k L_k / tau is linear in the users' (L, beta): combine it like them
        r = Response(tau=self.tau, lam=lam_hi, L=L, beta=beta, status=status, S=float(np.sum(beta)) - 1.0,
                     dS_dlnlam=hi.dS_dlnlam, F=N - float(np.sum(self.mu * L)), N=N, sumL=float(np.sum(L)),
                     dF=theta * lo.dF + (1.0 - theta) * hi.dF, d2F=np.nan, dlnlam_dtau=0.0)
        # F'' is not that of either side on a jump (a user indifferent along a segment absorbs the
        # band): NaN lets the deadline search use secant steps
        return r
