r"""Per-user model of the heterogeneous regime: tokens, upload share and their derivatives.

Everything the solver needs of one user, vectorised over users (``idx``: an index array, or
None for all users). Results of ``docs/model.md``:

- tokens per round A(alpha, L) and its marginal A'(L) (section 2, "Acceptance"), in three
  forms (:attr:`Users.kind`): ``'smooth'`` the closed form of i.i.d. acceptance at real L (the
  relaxation of ``integer=False``); ``'chord'`` i.i.d. acceptance interpolated linearly between
  integers (slopes alpha^j: the concave envelope of the integer points, which certifies integer
  answers); ``'table'`` a position-dependent profile (slopes prod_{i<=j} alpha_i, always
  piecewise linear). A fourth, ``'linear0'``, replaces A by its tangent at L = 0 (the
  deadline -> 0 limit of the outer search, D5).
- D1 at a drafting deadline tau: user k drafts L tokens by tau with the least share
  b(L, tau) = r^{-1}(q), q = s L / w, w = tau - t L (its upload rate must carry s L bits in
  the time left after drafting; H2's closed forms per user). b is convex in L and in tau, and
  X = tau b(L, tau) is jointly convex in (L, tau) (a perspective): the basis of the concavity
  of the inner problem (D2) and of the certificate. :meth:`Users.share_terms` gives b and its
  first and second partial derivatives, by implicit differentiation of r(b) = q.
- effective caps (:meth:`Users.useful_caps`): no optimal point drafts beyond them, so the
  solver's work and answer do not depend on ``max_draft`` once it is above them.
"""

from __future__ import annotations

import numpy as np

from ..channel import _shannon_u
from ..scenario import Scenario

__all__ = ["Users"]

_LN2 = float(np.log(2.0))


def _take(v, idx):
    return v if idx is None else v[idx]


class Users:
    """Per-user constants of a scenario (module docstring).

    Parameters
    ----------
    scenario : Scenario
    kind : {'smooth', 'chord'}
        How A is relaxed between integers for i.i.d. acceptance (a position-dependent profile
        is always ``'table'``).
    """

    def __init__(self, scenario: Scenario, kind: str = "smooth"):
        self.K = scenario.n_users
        self.model = scenario.rate_model
        self.B = float(scenario.bandwidth_hz)
        self.t = np.asarray(scenario.t_draft, dtype=np.float64)
        self.s = np.asarray(scenario.bits_per_token, dtype=np.float64)
        self.ch = np.asarray(scenario.channel, dtype=np.float64)
        self.max_draft = int(scenario.max_draft)
        if scenario.positional:
            self.kind = "table"
            self.slope = np.cumprod(scenario.alpha, axis=1)
            # A grows only while the cumulative product is positive: the leading positive run
            self.last = np.sum(np.cumprod(scenario.alpha > 0, axis=1), axis=1).astype(np.float64)
            self.cum = np.concatenate([np.zeros((self.K, 1)), np.cumsum(self.slope, axis=1)], axis=1)
            c1 = self.slope[:, 0]
        else:
            if kind not in ("smooth", "chord"):
                raise ValueError(f"kind must be 'smooth' or 'chord', got {kind!r}")
            self.kind = kind
            al = np.asarray(scenario.alpha, dtype=np.float64)
            self.alpha = al
            pos = al > 0
            oma = 1.0 - al
            with np.errstate(divide="ignore"):
                self.a = np.where(pos, -np.log(np.where(pos, al, 1.0)), np.inf)  # -ln alpha
            self.inv_oma = 1.0 / oma
            # ln A'(L) = lnk - a (L + 1), A'(L) = a alpha^(L+1) / (1 - alpha)
            self.lnk = np.where(pos, np.log(np.where(pos, self.a, 1.0)) - np.log(oma), -np.inf)
            self.last = np.where(pos, np.inf, 0.0)
            c1 = self.d_tokens(np.zeros(self.K)) if kind == "smooth" else al
        self.c1 = np.asarray(c1, dtype=np.float64)  # A'(0+) (the first segment's slope)
        self.zero_cost = (self.t == 0) & (self.s == 0)
        self.cap = np.where(self.c1 > 0, np.minimum(float(self.max_draft), self.last), 0.0)

    # ------------------------------------------------------------------ masks
    @property
    def active(self) -> np.ndarray:
        """Users for which drafting can pay: A'(0+) > 0 and a positive cap."""
        return (self.c1 > 0) & (self.cap > 0)

    @property
    def piecewise(self) -> bool:
        return self.kind in ("chord", "table", "linear0")

    def linearised(self) -> Users:
        """The deadline -> 0 limit (D5): A replaced by its tangent 1 + A'(0) L, at tau = 1.

        As tau -> 0 every user with a cost drafts L = tau l with l <= phi(beta) =
        r(beta) / (s + t r(beta)), and A(L) <= 1 + A'(0) L (concavity), so
        F(tau) <= F(0) + tau M(lambda_x) for every tau >= 0, where M is the value of this
        linear problem (kind 'linear0') at deadline 1; its optimum is F'(0+). Caps: l <= phi(1)
        (a share is at most 1), 1/t without upload; users without any cost are left out (they
        draft their cap at every deadline).
        """
        out = object.__new__(Users)
        out.__dict__.update(self.__dict__)
        out.kind = "linear0"
        r1 = self.full_rate()
        with np.errstate(divide="ignore", invalid="ignore"):
            phi1 = np.where(self.s > 0, r1 / (self.s + self.t * r1), 1.0 / np.where(self.t > 0, self.t, 1.0))
        out.cap = np.where((self.c1 > 0) & ~self.zero_cost & (self.cap > 0), phi1, 0.0)
        out.last = np.full(self.K, np.inf)
        return out

    # ------------------------------------------------------------------ tokens
    def tokens(self, L, idx=None) -> np.ndarray:
        """A_k(L_k) at real L (the relaxation of the kind)."""
        L = np.asarray(L, dtype=np.float64)
        if self.kind == "linear0":
            return 1.0 + _take(self.c1, idx) * L
        if self.kind == "smooth":
            a = _take(self.a, idx)
            with np.errstate(invalid="ignore"):
                val = -np.expm1(-(L + 1.0) * a) * _take(self.inv_oma, idx)
            return np.where(np.isfinite(a), val, 1.0)
        j = np.floor(L)
        return self.tokens_int(j, idx) + (L - j) * self.segment(j + 1.0, idx)

    def tokens_int(self, j, idx=None) -> np.ndarray:
        """A_k(j) at integer j >= 0 (exact values of the integer problem)."""
        j = np.asarray(j, dtype=np.float64)
        if self.kind == "table":
            cum = _take(self.cum, idx)
            ji = np.clip(j, 0, cum.shape[1] - 1).astype(np.int64)
            rows = np.arange(cum.shape[0]) if np.ndim(ji) else slice(None)
            return 1.0 + cum[rows, ji]
        if self.kind == "linear0":
            return 1.0 + _take(self.c1, idx) * j
        a = _take(self.a, idx)
        with np.errstate(invalid="ignore"):
            val = -np.expm1(-(j + 1.0) * a) * _take(self.inv_oma, idx)
        return np.where(np.isfinite(a), val, 1.0)

    def segment(self, j, idx=None) -> np.ndarray:
        """Slope c_j = A(j) - A(j-1) of segment j >= 1 (piecewise kinds; 0 past the profile)."""
        j = np.asarray(j, dtype=np.float64)
        if self.kind == "linear0":
            return np.broadcast_to(_take(self.c1, idx), np.shape(j)) * 1.0
        if self.kind == "table":
            sl = _take(self.slope, idx)
            M = sl.shape[1]
            ji = np.clip(j, 1, M).astype(np.int64) - 1
            rows = np.arange(sl.shape[0]) if np.ndim(ji) else slice(None)
            return np.where((j >= 1) & (j <= M), sl[rows, ji], 0.0)
        a = _take(self.a, idx)
        with np.errstate(invalid="ignore", over="ignore"):
            return np.where(np.isfinite(a), np.exp(-j * a), 0.0)  # alpha^j

    def d_tokens(self, L, idx=None) -> np.ndarray:
        """A'(L): the derivative (smooth) or the slope of the segment ceil(L) (right slope at 0)."""
        L = np.asarray(L, dtype=np.float64)
        if self.kind == "smooth":
            with np.errstate(over="ignore"):
                return np.exp(_take(self.lnk, idx) - _take(self.a, idx) * (L + 1.0))
        return self.segment(np.maximum(np.ceil(L), 1.0), idx)

    def stop_short(self, mu, idx=None) -> np.ndarray:
        """D6: the largest L with A'(L) >= mu (inf for mu = 0 on a smooth curve)."""
        mu = np.asarray(mu, dtype=np.float64)
        if self.kind == "smooth":
            a, lnk = _take(self.a, idx), _take(self.lnk, idx)
            with np.errstate(divide="ignore", invalid="ignore"):
                Ls = (lnk - np.log(mu)) / a - 1.0
            return np.where(mu > 0, np.maximum(np.where(np.isfinite(a), Ls, 0.0), 0.0), np.inf)
        if self.kind == "linear0":
            return np.where(_take(self.c1, idx) > mu, np.inf, 0.0)
        if self.kind == "chord":
            a = _take(self.a, idx)
            with np.errstate(divide="ignore", invalid="ignore"):
                j = np.ceil(np.log(mu) / -a) - 1.0  # alpha^j > mu  <=>  j < ln(mu) / ln(alpha)
            return np.where(mu > 0, np.maximum(np.where(np.isfinite(a), j, 0.0), 0.0), np.inf)
        sl = _take(self.slope, idx)
        return np.sum(sl > mu[..., None] if np.ndim(mu) else sl > mu, axis=1).astype(np.float64)

    # ------------------------------------------------------------------ channel
    def full_rate(self, idx=None) -> np.ndarray:
        """r_k(1): the rate with the whole band."""
        ch = _take(self.ch, idx)
        if self.model == "linear":
            return self.B * ch
        return self.B * np.log1p(ch) / _LN2

    def rate_limit(self, idx=None) -> np.ndarray:
        """sup_beta r_k(beta): inf (linear), B rho / ln 2 (Shannon)."""
        ch = _take(self.ch, idx)
        if self.model == "linear":
            return np.full(ch.shape, np.inf)
        with np.errstate(over="ignore"):  # a huge SNR: no limit in binary64 (inf)
            return self.B * ch / _LN2

    def reach(self, tau: float, idx=None) -> np.ndarray:
        """Largest L user k can draft by tau with any share: tau R / (s + t R), R = sup r."""
        t, s = _take(self.t, idx), _take(self.s, idx)
        R = self.rate_limit(idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = np.where(t > 0, tau / np.where(t > 0, t, 1.0), np.inf)
            shn = np.where(s > 0, tau / (s / R + t), lin)  # = tau R / (s + t R), no overflow of tau R
        return lin if self.model == "linear" else shn

    def _rate_terms(self, beta, ch):
        """r, r', r'' at shares beta > 0 (Shannon: r = k beta ln(1 + p), p = rho / beta, k = B / ln 2)."""
        if self.model == "linear":
            r1 = self.B * ch
            return beta * r1, r1 * np.ones_like(beta), np.zeros_like(beta)
        k = self.B / _LN2
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = ch / beta
            lg = np.where(np.isinf(p), np.log(ch) - np.log(beta), np.log1p(np.where(np.isinf(p), 1.0, p)))
            frac = np.where(np.isinf(p), 1.0, p / (1.0 + p))
            return k * beta * lg, k * (lg - frac), -(k / beta) * frac * frac

    @staticmethod
    def _derivatives(out, L, w, q, rp, rpp, tau, t, s, order):
        """b's partial derivatives from q = s L / w and r'(b), r''(b) (docstring of share_terms)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            w2 = w * w
            qL = s * tau / w2
            qt = -s * L / w2
            out["ln_bL"] = np.log(s) + np.log(tau) - 2.0 * np.log(w) - np.log(rp)
            out["bL"] = qL / rp
            out["btau"] = qt / rp
            if order >= 2:
                w3 = w2 * w
                rp3 = rp * rp * rp
                out["bLL"] = 2.0 * s * tau * t / w3 / rp - qL * qL * rpp / rp3
                out["bLtau"] = -s * (tau + t * L) / w3 / rp - qL * qt * rpp / rp3
                out["btautau"] = 2.0 * s * L / w3 / rp - qt * qt * rpp / rp3
        return out

    def share_terms(self, L, tau: float, idx=None, order: int = 2):
        """b(L, tau) and its partial derivatives for uploading users (s > 0), L >= 0, t L < tau.

        Returns a dict with 'b', 'L', 'w', 'ln_bL' (ln b_L), 'bL', 'btau' and, for ``order`` 2,
        'bLL', 'bLtau', 'btautau'. With q = s L / w, w = tau - t L: q_L = s tau / w^2,
        q_tau = -s L / w^2, q_LL = 2 s tau t / w^3, q_Ltau = -s (tau + t L) / w^3,
        q_tautau = 2 s L / w^3; b_x = q_x / r', b_xy = q_xy / r' - q_x q_y r'' / r'^3 at b = r^{-1}(q)
        (Shannon: the W_{-1} closed form of :func:`numerics.channel.rate_inverse`). Infinite b
        (the Shannon rate cannot carry q, or w <= 0) gives b = inf and ln_bL = inf.
        :meth:`length_terms` gives the same from the share, without the cancellation of
        w = tau - t L near the deadline.
        """
        L = np.asarray(L, dtype=np.float64)
        t, s, ch = _take(self.t, idx), _take(self.s, idx), _take(self.ch, idx)
        w = tau - t * L
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q = s * L / w
            if self.model == "linear":
                b = q / (self.B * ch)
                rp, rpp = self.B * ch * np.ones_like(b), np.zeros_like(b)
                bad = ~(w > 0)
            else:
                c = q * _LN2 / (self.B * ch)
                ok = (c > 0) & (c < 1) & (w > 0)
                u = np.ones_like(c)
                if ok.any():
                    u[ok] = _shannon_u(c[ok])
                b = np.where(ok, c * ch / u, 0.0)
                _, rp, rpp = self._rate_terms(np.where(ok, b, 1.0), ch)
                zero = (L == 0) & (w > 0)
                rp = np.where(zero, np.inf, rp)
                bad = ~(ok | zero)
        out = {"L": L, "w": w}
        out = self._derivatives(out, L, w, q, rp, rpp, tau, t, s, order)
        out["b"] = np.where(bad, np.inf, b)
        for key in ("ln_bL", "bL", "bLL"):
            if key in out:
                out[key] = np.where(bad, np.inf, out[key])
        for key in ("btau", "bLtau", "btautau"):
            if key in out:
                out[key] = np.where(bad, 0.0, out[key])
        if self.model != "linear":  # L = 0: b = 0, b_L = 0 (r'(0) = inf)
            for key in ("ln_bL",):
                out[key] = np.where(zero, -np.inf, out[key])
            for key in ("bL", "bLL", "btau", "bLtau", "btautau"):
                if key in out:
                    out[key] = np.where(zero, 0.0, out[key])
        return out

    def length_terms(self, beta, tau: float, idx=None, order: int = 2):
        """The same dict as :meth:`share_terms`, from the share beta > 0 (uploading users).

        L = tau r / (s + t r) and w = tau s / (s + t r) (r = r(beta)) carry full relative
        precision also when the upload takes a tiny part of the deadline (w << tau), where
        w = tau - t L would cancel.
        """
        beta = np.asarray(beta, dtype=np.float64)
        t, s, ch = _take(self.t, idx), _take(self.s, idx), _take(self.ch, idx)
        r, rp, rpp = self._rate_terms(beta, ch)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            den = s + t * r
            L = tau * r / den
            w = tau * s / den
        out = {"L": L, "w": w, "b": beta}
        return self._derivatives(out, L, w, r, rp, rpp, tau, t, s, order)

    # ------------------------------------------------------------------ caps
    def useful_caps(self, G_lb: float, c: float, v1: float, batching: str) -> np.ndarray:
        """Per-user caps beyond which no point with goodput >= G_lb drafts (docs/model.md D7).

        A point with goodput >= G_lb has round time T <= N / G_lb, N <= N_max = sum_k A_k(inf)
        (1 / (1 - alpha_k) for i.i.d. acceptance: independent of max_draft), so its drafting
        and verification beyond the round time c at L = 0 take at most N_max / G_lb - c; user k
        spends at least L_k (t_k + s_k / r_k(1)) drafting (beta_k <= 1) and v1 L_k (ragged) or
        v1 K L_k (padded: the longest draft) verifying. Users without any such cost keep their
        cap. The caps only depend on max_draft through min(max_draft, .), so every answer built
        on them is the same for all max_draft above them (issue 9, item 2).
        """
        if self.kind == "table":
            Nmax = float(np.sum(self.tokens_int(self.cap)))
        else:
            Nmax = float(np.sum(np.where(np.isfinite(self.a), self.inv_oma, 1.0)))
        slack = max(Nmax / G_lb - c, 0.0)
        per = self.t + np.where(self.s > 0, self.s / self.full_rate(), 0.0)
        per = per + (v1 if batching == "ragged" else v1 * self.K)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lim = np.where(per > 0, np.floor(slack / np.where(per > 0, per, 1.0) * (1 + 1e-9)) + 1.0, np.inf)
        return np.minimum(self.cap, lim)
