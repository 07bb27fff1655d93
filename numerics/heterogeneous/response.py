r"""Per-user pieces of the inner problem's responses (docs/model.md D3, D5): mixed into
:class:`.inner.Inner`.

- :meth:`ResponseParts._piecewise`: the responses for a piecewise-linear A (chords between
  integers, position-dependent profiles): the last segment J whose left end still has
  c_J - mu > lambda b_L (:func:`numerics.roots.last_true`, galloping from the previous J), then
  inside it b_L(L) = (c_J - mu) / lambda (closed form for the linear rate, Newton in the share
  for Shannon), or the kink at its right end.
- :meth:`ResponseParts._derivatives` and :meth:`ResponseParts._envelope`: implicit
  differentiation of the per-user stationarity A'(L) - mu = lambda b_L(L, tau) (d beta / d
  lambda, d beta / d tau, d L / d mu) and, from them, F'(tau) by the envelope theorem (D5) and
  F''(tau) along the band root lambda(tau).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..roots import NOT_BRACKETED, last_true, newton

if TYPE_CHECKING:
    from .inner import Response
    from .users import Users

__all__ = ["ResponseParts"]


class ResponseParts:
    """Methods of :class:`.inner.Inner` (they use its attributes: u, up, tau, mu, mu_up, cap,
    Ltop, ln_bL0, warm_J, warm_beta, passes)."""

    # Inner's attributes used here, declared for the type checker (annotations only: no value)
    u: Users
    up: np.ndarray
    tau: float
    mu: np.ndarray
    mu_up: np.ndarray
    cap: np.ndarray
    Ltop: np.ndarray
    ln_bL0: np.ndarray
    warm_J: np.ndarray | None
    warm_beta: np.ndarray | None
    passes: int
    # set by _piecewise: each user's last segment, and the Shannon users solved inside one
    J_last: np.ndarray
    beta_interior: tuple[np.ndarray, np.ndarray] | None

    def _ln_bL(self, L, sel):
        return self.u.share_terms(L, self.tau, self.up[sel], order=1)["ln_bL"]

    def _piecewise(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """L and status of the uploading users for a piecewise-linear A (module docstring)."""
        u, up = self.u, self.up
        n = up.size
        lnlam = float(np.log(lam))
        mu = self.mu_up
        top = self.Ltop
        lin0 = u.kind == "linear0"
        jmax = np.ones(n, dtype=np.int64) if lin0 else np.maximum(np.ceil(top), 1.0).astype(np.int64)

        def pred(j, idx):
            sel = np.arange(n) if idx is None else idx
            jf = j.astype(np.float64)
            cj = u.segment(jf, up[sel]) - mu[sel]
            with np.errstate(divide="ignore", invalid="ignore"):
                lhs = np.log(np.maximum(cj, 0.0)) - lnlam
            lb = np.where(jf - 1.0 <= 0.0, self.ln_bL0[sel], self._ln_bL(jf - 1.0, sel))
            return (cj > 0) & (lhs > lb)

        guess = self.warm_J[up] if self.warm_J is not None else None
        J, p = last_true(pred, np.ones(n, dtype=np.int64), jmax, guess)
        self.passes += p
        J = np.maximum(J, 0)
        L = np.zeros(n)
        status = np.zeros(n, dtype=np.int8)
        live = np.flatnonzero(J >= 1)
        self.J_last = np.zeros(u.K, dtype=np.int64)
        self.J_last[up] = J
        if live.size == 0:
            return L, status
        Jl = J[live].astype(np.float64)
        E = top[live] if lin0 else np.minimum(Jl, top[live])
        start = np.zeros(live.size) if lin0 else Jl - 1.0
        with np.errstate(divide="ignore"):
            v = np.log(u.segment(Jl, up[live]) - mu[live]) - lnlam
        at_end = self._ln_bL(E, live) <= v
        L[live] = E
        status[live] = 2
        inner = np.flatnonzero(~at_end)
        if inner.size:
            sel = live[inner]
            lo, hi, vv = start[inner], E[inner], v[inner]
            if u.model == "linear":
                t, s = u.t[up[sel]], u.s[up[sel]]
                Be = u.B * u.ch[up[sel]]
                # b_L(L) = s tau / (B eta w^2) = e^v: w = sqrt(s tau e^-v / (B eta)), L = (tau - w) / t,
                # written as tau (tau - s e^-v / (B eta)) / (t (tau + w)) to be monotone in lambda
                # (t = 0 never comes here: b_L is then constant and the user sits at E)
                tau = self.tau
                z = np.exp(np.log(s) - vv - np.log(Be))       # s e^-v / (B eta) = w^2 / tau
                w = np.sqrt(z * tau)
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = tau * (tau - z) / (t * (tau + w))
                x = np.clip(np.where(np.isfinite(x), x, lo), lo, hi)
            else:
                # Shannon: the root of ln b_L = v in ln(beta) (b_L -> 0 as L -> 0, so the share can
                # be astronomically small), between the shares at the ends of the segment
                tau = self.tau
                b_lo = np.where(lo > 0, u.share_terms(lo, tau, up[sel], order=1)["b"], 1e-300)
                b_hi = u.share_terms(hi, tau, up[sel], order=1)["b"]
                b_hi = np.where(np.isfinite(b_hi), b_hi, 1e300)
                b_lo = np.minimum(b_lo, 0.5 * b_hi)

                def fun(xx, idx):
                    ss = sel if idx is None else sel[idx]
                    st = u.length_terms(xx, tau, up[ss], order=2)
                    vi = vv if idx is None else vv[idx]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        return st["ln_bL"] - vi, (st["bLL"] / st["bL"]) / st["bL"]  # d/dbeta = d/dL / b_L

                warm = None if self.warm_beta is None else self.warm_beta[up[sel]]
                r = newton(fun, b_lo, b_hi, warm, increasing=True, log=True, rtol=1e-13, lo_open=lo <= 0)
                self.passes += r.passes
                bx = np.where(r.status == NOT_BRACKETED, b_lo, r.x)
                x = np.clip(u.length_terms(bx, tau, up[sel], order=1)["L"], lo, hi)
                self.beta_interior = (up[sel], bx)
            L[sel] = x
            status[sel] = 1
        return L, status

    def _derivatives(self, lam, Lu, su, st):
        """Implicit derivatives of the uploading users' responses (module docstring)."""
        u, up = self.u, self.up
        interior = su == 1
        net = u.d_tokens(Lu, up) - self.mu_up        # A' - mu (= lambda b_L at an interior root)
        App = -u.a[up] * u.d_tokens(Lu, up) if u.kind == "smooth" else np.zeros(up.size)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            kappa = st["bLL"] / st["bL"]
            den = App - net * kappa                  # f_L / lambda-scale: (A'' - lambda b_LL)
            L_lnlam = np.where(interior, net / den, 0.0)           # lambda dL/dlambda
            L_tau = np.where(interior, net * (st["bLtau"] / st["bL"]) / den, 0.0)
            beta_lnlam = np.where(interior, st["bL"] * L_lnlam, 0.0)
            live = Lu > 0
            beta_tau = np.where(live, st["btau"] + st["bL"] * L_tau, 0.0)
            psi_tau = np.where(live, -lam * st["btau"], 0.0)
            psi_tt = np.where(live, -lam * (st["btautau"] + st["bLtau"] * L_tau), 0.0)
            L_mu = np.where(interior, 1.0 / den, 0.0)                # dL/dmu = 1 / f_L
            beta_mu = np.where(interior, st["bL"] * L_mu, 0.0)
        fin = lambda x: np.where(np.isfinite(x), x, 0.0)  # noqa: E731 (a user at L = 0 contributes nothing)
        return {"beta_lnlam": fin(beta_lnlam), "beta_tau": fin(beta_tau), "psi_tau": fin(psi_tau),
                "psi_tt": fin(psi_tt), "L_tau": fin(L_tau), "L_mu": fin(L_mu), "beta_mu": fin(beta_mu),
                "net": fin(net)}

    def _envelope(self, resp: Response, lam: float, d_up) -> None:
        """F'(tau) (envelope, D5) and F''(tau) along the root lambda(tau)."""
        u = self.u
        dF = d2F = 0.0
        fb = np.flatnonzero(resp.status == 3)
        if fb.size:  # users without upload bound by the deadline: L = tau / t
            t = u.t[fb]
            net = u.d_tokens(resp.L[fb], fb) - self.mu[fb]
            dF += float(np.sum(net / t))
            if u.kind == "smooth":
                d2F += float(np.sum(-u.a[fb] * u.d_tokens(resp.L[fb], fb) / t ** 2))
        dlnlam = 0.0
        S_tau = 0.0
        # sensitivities to the token price mu (Dinkelbach's g v1) and of sum L to tau, for the
        # joint Newton step of the outer search
        S_mu = Lsum_tau = netL_mu = 0.0
        if fb.size:
            Lsum_tau += float(np.sum(1.0 / u.t[fb]))
        if d_up is not None:
            dF += float(np.sum(d_up["psi_tau"]))
            d2F += float(np.sum(d_up["psi_tt"]))
            S_tau = float(np.sum(d_up["beta_tau"]))
            S_mu = float(np.sum(d_up["beta_mu"]))
            Lsum_tau += float(np.sum(d_up["L_tau"]))
            netL_mu = float(np.sum(d_up["net"] * d_up["L_mu"]))
        # users without band held at their stop-short length A'(L) = mu: dL/dmu = 1 / A''(L)
        Lsum_mu = 0.0 if d_up is None else float(np.sum(d_up["L_mu"]))
        if u.kind == "smooth" and np.any(self.mu > 0):
            ss = np.flatnonzero((resp.status == 4) & (resp.L > 0) & (resp.L < self.cap))
            if ss.size:
                with np.errstate(divide="ignore", invalid="ignore"):
                    lm = 1.0 / (-u.a[ss] * u.d_tokens(resp.L[ss], ss))
                Lsum_mu += float(np.sum(np.where(np.isfinite(lm), lm, 0.0)))
        resp.psi_tt, resp.dS_dtau = d2F, S_tau  # at fixed lambda
        resp.dS_dmu, resp.dsumL_dtau, resp.dsumL_dmu, resp.dnet_dmu = S_mu, Lsum_tau, Lsum_mu, netL_mu
        if d_up is not None and resp.dS_dlnlam < 0:
            dlnlam = -S_tau / resp.dS_dlnlam
            d2F += S_tau * S_tau * lam / resp.dS_dlnlam
        resp.dF, resp.d2F, resp.dlnlam_dtau = dF, d2F, dlnlam
