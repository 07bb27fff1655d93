"""Heterogeneous draft lengths, D1 to D7 of docs/model.md, and the real Lambert-W.

Symbolic checks call :mod:`theory.heterogeneous` (SymPy decides signs and residuals).
Numeric checks run the solvers of :mod:`numerics.heterogeneous` on seeded random and
adversarial scenarios and compare with independent references: finite differences, brute-force
enumeration with :func:`numerics.allocation.equal_finish_allocation`, dense grids, mpmath at 40
digits.
"""

from __future__ import annotations

import functools
import itertools

import mpmath as mp
import numpy as np
import sympy as sp

import theory.heterogeneous as TH
import theory.latency as tlat
from numerics import Scenario
from numerics.allocation import equal_finish_allocation
from numerics.heterogeneous import solve_heterogeneous
from numerics.heterogeneous.inner import Inner
from numerics.heterogeneous.users import Users
from numerics.lambertw import lambertw
from numerics.latency import goodput
from theory.symbols import B, L, alpha, beta, eta, lam, q, rho, s, t, tau, v1

from . import _mp
from .registry import claim


def _scenario(seed: int, K: int, model: str = "linear", **kw) -> Scenario:
    rng = np.random.default_rng(seed)
    base = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=rng.uniform(5e-4, 8e-3, K),
                bits_per_token=rng.uniform(50, 1500, K), bandwidth_hz=5e5, v0=rng.uniform(0.01, 0.05),
                max_draft=8, rate_model=model)
    base["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 20.0, K)
    base.update(kw)
    return Scenario(**base)


# ------------------------------------------------------------------------------------- D1
def _sym_d1() -> str:
    """Min(L_max, tau/h) re-derived: solve L h(beta) = tau for L, h from theory.latency; = the capacity."""
    for model in ("linear", "shannon"):
        d1 = TH.deadline_fill(model)
        h = tlat.per_token_latency(model)
        assert sp.simplify(d1["per_token_latency"] - h) == 0, (model, d1["per_token_latency"])
        (root,) = sp.solve(sp.Eq(L * h, tau), L)
        assert sp.simplify(d1["draft_length"] - sp.Min(TH.L_max, root)) == 0, (model, d1["draft_length"])
        cap = TH.draft_capacity(model).subs({TH.t_pos: t, TH.s_pos: s})
        assert sp.simplify(root - cap) == 0, (model, cap)
    assert TH.deadline_fill()["objective_increasing"] is True
    return "L_k = Min(L_max, solve(L h = tau)) = Min(L_max, tau r/(s + t r)) for both rates; dA/dL > 0"


@claim("D1", "with v1 = 0 and a fixed deadline every user drafts until the deadline: L_k = min(L_max, tau/h_k)",
       symbolic=_sym_d1)
def _num_d1() -> str:
    worst = 0.0
    for seed in range(4):
        s = _scenario(seed, 5)
        u = Users(s, "smooth")
        for tau_v in (0.004, 0.02, 0.1):
            sol = Inner(u, tau_v).solve()
            h = s.t_draft + s.bits_per_token / (np.maximum(sol.beta, 1e-300) * s.bandwidth_hz * s.spectral_efficiency)
            fill = np.minimum(s.max_draft, tau_v / h)
            on = sol.beta > 0
            worst = max(worst, float(np.max(np.abs(sol.L[on] - fill[on]) / np.maximum(fill[on], 1e-12))))
    assert worst < 1e-9, f"L differs from min(L_max, tau/h) by {worst:.1e}"
    return f"max rel. deviation {worst:.1e} over 12 (scenario, tau)"


# ------------------------------------------------------------------------------------- D2
def _sym_d2() -> str:
    """The second derivatives against mpmath.diff of A(L(beta)) and of L(beta); their signs at random points."""
    lin = TH.inner_concavity_linear()
    comp = TH.inner_concavity_composition()
    assert lin["negative"] and comp["phi_increasing"] and comp["phi_concave"]
    A = TH.tokens()
    for model in ("linear", "shannon"):
        ch = eta if model == "linear" else rho
        cd = TH.capacity_derivatives(model)
        args = (beta, alpha, TH.t_pos, TH.s_pos, B, ch, tau)
        fL = _mp.fn(TH.draft_capacity(model), args)
        fA = _mp.fn(A, (alpha, L))
        f1, f2, fg = (_mp.fn(cd[k], args) for k in ("d_capacity", "d2_capacity", "generic_d2"))
        f_second = _mp.fn(lin["second_derivative"], args) if model == "linear" else None
        with mp.workdps(_mp.DPS):
            for pt in _mp.points(5, 3, b=(1e-4, 1.0), a=(0.05, 0.95), t=(1e-4, 1e-2), s=(10, 1e3), ch=(0.3, 30.0),
                                 tau=(1e-3, 0.2)):
                v = (pt["b"], pt["a"], pt["t"], pt["s"], mp.mpf(10) ** 5, pt["ch"], pt["tau"])

                def F(x, fL=fL, rest=v[1:]):
                    return fL(x, *rest)

                _mp.close(f1(*v), mp.diff(F, v[0]), 1e-15, f"{model}: dL/dbeta")
                _mp.close(f2(*v), mp.diff(F, v[0], 2), 1e-12, f"{model}: d2L/dbeta2")
                _mp.close(fg(*v), f2(*v), 1e-20, f"{model}: chain-rule L''")
                assert f1(*v) > 0 and f2(*v) < 0, model
                if f_second is not None:
                    second = mp.diff(lambda x, fA=fA, a=pt["a"], F=F: fA(a, F(x)), v[0], 2)
                    _mp.close(f_second(*v), second, 1e-12, "d2 A(L(beta))/dbeta2")
                    assert f_second(*v) < 0
    rr = sp.Symbol("r", positive=True)
    phi = comp["phi"].subs({x: rr for x in comp["phi"].free_symbols if x.name == "r"})
    assert sp.simplify(phi - rr / (TH.s_pos + t * rr)) == 0, phi
    assert sp.simplify(comp["phi_prime"] - sp.diff(phi, rr).subs(rr, next(x for x in comp["phi_prime"].free_symbols
                                                                      if x.name == "r"))) == 0
    return ("d2 A(L(beta))/dbeta2 < 0 (linear) and L' > 0 > L'' (both rates) = mpmath.diff at random points; "
            "phi(r) = r/(s + t r) concave increasing")


@claim("D2", "the inner problem F(tau) = max_beta sum_k A(L_k(beta_k)) is concave in beta", symbolic=_sym_d2)
def _num_d2() -> str:
    # midpoint concavity of beta -> A(L(beta)) per user, both rates, on random pairs
    rng = np.random.default_rng(7)
    bad = 0
    for model in ("linear", "shannon"):
        s = _scenario(11, 6, model)
        u = Users(s, "smooth")
        for _ in range(200):
            b1, b2 = rng.uniform(1e-4, 1.0, 2)
            k = np.array([int(rng.integers(0, 6))])
            # L(beta) = tau r(beta) / (s + t r(beta)): the deadline-filling length with share beta
            f = [float(u.tokens(np.minimum(u.length_terms(np.array([b]), 0.02, k)["L"], s.max_draft), k)[0])
                 for b in (b1, b2, 0.5 * (b1 + b2))]
            bad += f[2] < 0.5 * (f[0] + f[1]) - 1e-12
    assert bad == 0, f"{bad} midpoint violations"
    return "400 midpoint checks, no violation"


# ------------------------------------------------------------------------------------- D3
def d3_closed_form_check(n: int = 4) -> str:
    """At random points: v of the returned W_0 form gives (via the returned beta and L) a share whose stationarity
    A'(L(beta)) L'(beta), by mpmath.diff of A(L(beta)), is lambda; the slack form, MODEL.md's form, t = 0, and
    d beta/d lambda = 1/S'(beta) (S by mpmath.diff) agree."""
    cf, sl = TH.kkt_closed_form(), TH.kkt_time_slack()
    md, fd = TH.model_md_closed_form(), TH.kkt_closed_form_free_drafting()
    base = (alpha, TH.t_pos, TH.s_pos, eta, B, tau, lam)
    f_v = _mp.fn(cf["v"].subs({TH.kappa: cf["kappa"], TH.M: cf["M"]}), base)
    f_beta = _mp.fn(cf["beta"], (TH.v, TH.t_pos, TH.s_pos, eta, B))
    f_Lv = _mp.fn(cf["draft_length"], (TH.v, TH.t_pos, TH.s_pos, tau))
    f_st = _mp.fn(cf["stationarity_v"], (TH.v, alpha, TH.t_pos, TH.s_pos, eta, B, tau))
    f_md = _mp.fn(md["v"], base)
    f_w = _mp.fn(sl["w"], base)
    f_Lw = _mp.fn(sl["draft_length"], (TH.w, TH.t_pos, tau))
    f_slack = _mp.fn(sl["slack_of_v"], (TH.v, TH.s_pos, tau))
    f_cap = _mp.fn(TH.draft_capacity("linear"), (beta, alpha, TH.t_pos, TH.s_pos, B, eta, tau))
    f_A = _mp.fn(TH.tokens(), (alpha, L))
    ks = TH.kkt_share_slope("linear")
    f_S = _mp.fn(ks["stationarity"], (beta, alpha, TH.t_pos, TH.s_pos, B, eta, tau))
    f_slope = _mp.fn(ks["slope"], (beta, alpha, TH.t_pos, TH.s_pos, B, eta, tau))
    f_free = [_mp.fn(fd[k], (alpha, TH.s_pos, eta, B, tau, lam)) for k in ("draft_length", "displayed")]
    f_free_beta = _mp.fn(fd["beta"], (L, TH.s_pos, eta, B, tau))
    n_ok = 0
    with mp.workdps(_mp.DPS):
        for pt in _mp.points(13, n, a=(0.1, 0.95), t=(1e-3, 1e-2), s=(50, 1e3), eta=(0.5, 5.0), tau=(5e-3, 0.1),
                             lam=(1e-2, 10.0)):
            a_, t_, s_, e_, tau_, lam_, B_ = pt["a"], pt["t"], pt["s"], pt["eta"], pt["tau"], pt["lam"], mp.mpf(10) ** 5
            vals = (a_, t_, s_, e_, B_, tau_, lam_)
            v_ = f_v(*vals)
            assert mp.im(v_) == 0, f"D3: v = {v_} is not real (wrong branch of W?)"
            v_ = mp.re(v_)
            b_ = f_beta(v_, t_, s_, e_, B_)
            if not b_ > 0:
                continue  # lambda too high for this user: it gets no band (the closed form's max(0, .))
            n_ok += 1

            def Lb(x, rest=(a_, t_, s_, B_, e_, tau_)):
                return f_cap(x, *rest)

            _mp.close(f_Lv(v_, t_, s_, tau_), Lb(b_), 1e-20, "D3 draft length = capacity at beta")
            foc = mp.diff(lambda x, a_=a_, Lb=Lb: f_A(a_, Lb(x)), b_)
            _mp.close(foc, lam_, 1e-15, "D3 stationarity A'(L) dL/dbeta = lambda")
            _mp.close(f_st(v_, a_, t_, s_, e_, B_, tau_), lam_, 1e-15, "D3 stationarity in v")
            _mp.close(f_md(*vals), v_, 1e-20, "MODEL.md's v")
            w_ = f_w(*vals)
            _mp.close(w_, f_slack(v_, s_, tau_), 1e-20, "slack w = tau s v")
            _mp.close(f_Lw(w_, t_, tau_), Lb(b_), 1e-20, "slack form L = (tau - w)/t")
            _mp.close(f_S(b_, a_, t_, s_, B_, e_, tau_), foc, 1e-15, "S(beta)")
            dS = mp.diff(lambda x, rest=(a_, t_, s_, B_, e_, tau_): f_S(x, *rest), b_)
            _mp.close(f_slope(b_, a_, t_, s_, B_, e_, tau_), 1 / dS, 1e-12, "d beta/d lambda = 1/S'")
            # t = 0: L = tau beta B eta / s, A'(L) tau B eta / s = lambda
            Lf = f_free[0](a_, s_, e_, B_, tau_, lam_)
            _mp.close(f_free[1](a_, s_, e_, B_, tau_, lam_), Lf, 1e-20, "free drafting: displayed form")
            dA = mp.diff(functools.partial(f_A, a_), Lf)
            _mp.close(dA * tau_ * B_ * e_ / s_, lam_, 1e-15, "free drafting stationarity")
            _mp.close(f_free_beta(Lf, s_, e_, B_, tau_) * tau_ * B_ * e_ / s_, Lf, 1e-20, "free drafting share")
    assert n_ok >= max(1, n // 2), f"only {n_ok} of {n} points with a positive share"
    return f"{n_ok} random points"


def _sym_d3() -> str:
    cf = TH.kkt_closed_form()
    assert len(cf["roots"]) == 2 and cf["v"].has(sp.LambertW)
    detail = d3_closed_form_check()
    return ("solve()'s W_0 root v: beta(v), L(v) satisfy A'(L) dL/dbeta = lambda by mpmath.diff; MODEL.md's v, the "
            "slack form, t = 0 and d beta/d lambda agree (" + detail + ")")


@claim("D3", "KKT: A'(L_k) dL_k/dbeta_k = lambda; linear rate: v = 2 W0(kappa sqrt(M)/2)/kappa; "
             "lambda is the root of sum_k beta_k(lambda) = 1", symbolic=_sym_d3)
def _num_d3() -> str:
    worst, worst_sum = 0.0, 0.0
    for seed in range(4):
        s = _scenario(20 + seed, 6)
        u = Users(s, "smooth")
        sol = Inner(u, 0.015).solve()
        worst_sum = max(worst_sum, abs(float(np.sum(sol.beta)) - 1.0))
        inner = (sol.status == 1) & (sol.beta > 0)
        # stationarity by central differences of A(L(beta)) in beta
        for k in np.flatnonzero(inner):
            b, h = sol.beta[k], 1e-6 * sol.beta[k]
            kk = np.array([k])
            fp = [float(u.tokens(u.length_terms(np.array([x]), 0.015, kk)["L"], kk)[0]) for x in (b + h, b - h)]
            worst = max(worst, abs((fp[0] - fp[1]) / (2 * h) / sol.lam - 1.0))
    assert worst < 1e-6 and worst_sum < 1e-13, f"stationarity {worst:.1e}, band {worst_sum:.1e}"
    return f"|A'(L) L'(beta)/lambda - 1| <= {worst:.1e} (finite differences); |sum beta - 1| <= {worst_sum:.0e}"


# ------------------------------------------------------------------------------------- D4
def _sym_d4() -> str:
    r = TH.reward()
    # the scaled log derivative of the returned marginal, recomputed, and its displayed form
    Ap = TH.marginal()
    dlog = sp.diff(sp.log(Ap), alpha) * (1 - alpha) * alpha * (-sp.log(alpha))
    shown = sp.log(1 + q) * (1 + L * q / (1 + q)) - q / (1 + q)
    f_d, f_s, f_dm = _mp.fn(dlog, (alpha, L)), _mp.fn(shown, (q, L)), _mp.fn(r["dmarginal_dalpha"], (alpha, L))
    f_Ap = _mp.fn(Ap, (alpha, L))
    with mp.workdps(_mp.DPS):
        for pt in _mp.points(17, 6, a=(1e-3, 0.999), L=(1e-3, 50.0)):
            a_, L_ = pt["a"], pt["L"]
            _mp.close(f_d(a_, L_), f_s(1 / a_ - 1, L_), 1e-20, "D4 scaled log derivative")
            _mp.close(f_dm(a_, L_), mp.diff(lambda x, L_=L_: f_Ap(x, L_), a_), 1e-15, "dA'(L)/dalpha")
            assert f_dm(a_, L_) > 0
    assert r["increasing"], "d A'(L)/d alpha > 0 not decided"
    return ("(1-a) a (-ln a) d ln A'(L)/da = ln(1+q)(1 + Lq/(1+q)) - q/(1+q) > 0; dA'/dalpha = mpmath.diff, "
            "positive at random points")


@claim("D4", "reward: a higher alpha gives at least as much band and as long a draft", symbolic=_sym_d4)
def _num_d4() -> str:
    # two users alike but for alpha, at the continuous optimum (both rates, v1 = 0 and > 0)
    n = 0
    for seed, (model, v1_v) in enumerate(itertools.product(("linear", "shannon"), (0.0, 3e-4))):
        rng = np.random.default_rng(30 + seed)
        a1, a2 = np.sort(rng.uniform(0.3, 0.95, 2))
        kw = dict(alpha=[a1, a2], t_draft=0.003, bits_per_token=600.0, bandwidth_hz=3e5, v0=0.02, v1=v1_v,
                  max_draft=12, rate_model=model)
        kw["spectral_efficiency" if model == "linear" else "snr"] = 5.0
        c = solve_heterogeneous(Scenario(**kw), integer=False)
        assert c.bandwidth[1] >= c.bandwidth[0] - 1e-9 and c.draft_lengths[1] >= c.draft_lengths[0] - 1e-9, \
            f"{model}, v1={v1_v}: beta {c.bandwidth}, L {c.draft_lengths} for alpha {a1:.3f} < {a2:.3f}"
        n += 1
    return f"{n} pairs of users alike but for alpha: higher alpha, no less band nor draft"


# ------------------------------------------------------------------------------------- D5
def _sym_d5() -> str:
    env = TH.envelope_derivative()
    f_env = _mp.fn(env["envelope_form"], (alpha, beta, TH.t_pos, TH.s_pos, eta, B, tau))
    f_cap = _mp.fn(TH.draft_capacity("linear"), (beta, TH.t_pos, TH.s_pos, B, eta, tau))
    f_A = _mp.fn(TH.tokens(), (alpha, L))
    with mp.workdps(_mp.DPS):
        for pt in _mp.points(19, 4, a=(0.1, 0.95), b=(1e-3, 1.0), t=(1e-3, 1e-2), s=(50, 1e3), e=(0.5, 5.0),
                             tau=(5e-3, 0.2)):
            a_, b_, t_, s_, e_, tau_ = pt["a"], pt["b"], pt["t"], pt["s"], pt["e"], pt["tau"]
            fd = mp.diff(lambda x, a_=a_, head=(b_, t_, s_, 10**5, e_): f_A(a_, f_cap(*head, x)), tau_)
            _mp.close(f_env(a_, b_, t_, s_, e_, 10**5, tau_), fd, 1e-15, "D5 envelope dA(L)/dtau = A'(L) L/tau")
    for model in ("linear", "shannon"):
        jc = TH.joint_concavity(model)
        assert jc["perspective_concave"] and jc["harmonic_hessian_det"] == 0 and jc["capacity_matches"]
    out = TH.outer_stationarity()
    assert sp.simplify(out["dG"] - out["phi"] / (tau + TH.c) ** 2) == 0
    # the certificate's corner formula: no point of a mpmath grid beats the returned supremum, and it is reached
    tb = TH.tangent_bound()
    p_, d_, m_ = tb["symbols"]
    f_sup = _mp.fn(tb["supremum"], (p_, d_, m_, v1, TH.c, tb["n_max"]))
    f_R = _mp.fn(tb["ratio"], (p_, d_, m_, v1, TH.c, tau, tb["n"]))
    taus = [mp.mpf(0)] + [mp.mpf(10) ** (k / 4) for k in range(-24, 33)]
    with mp.workdps(_mp.DPS):
        for case in ((3, 10, 0, 0, "0.05", 40), (1, 50, 0, 0, "0.1", 10), (3, 1, 0, 0, "0.05", 40),
                     (1, 2, "0.5", "1e-3", "0.1", 80), (5, -1, "0.2", "2e-3", "0.2", 100),
                     ("0.5", 30, 3, "1e-4", "0.02", 500)):
            p, d, m, w, c, nmax = (mp.mpf(x) for x in case)
            sup = f_sup(p, d, m, w, c, nmax)
            grid = max(f_R(p, d, m, w, c, x, n) for x in taus for n in (0, nmax / 2, nmax))
            assert grid <= sup * (1 + mp.mpf(10) ** -20) and grid >= sup * (1 - mp.mpf("1e-6")), (case, grid, sup)
    return ("dA(L(beta,tau))/dtau = A'(L) L/tau (mpmath.diff); (tau, tau beta, L) convex: G quasi-concave in tau; "
            "the corner supremum of the tangent ratio = a dense mpmath grid's max")


@claim("D5", "outer search: F'(tau) = sum_k A'(L_k) L_k / tau (envelope); G(tau) = F/(tau + c) has one "
             "maximum, found by bracketing and refinement, with a certified bound", symbolic=_sym_d5)
def _num_d5() -> str:
    worst_fd, worst_grid = 0.0, 0.0
    for seed, model in enumerate(("linear", "shannon")):
        s = _scenario(40 + seed, 5, model)
        u = Users(s, "smooth")

        def F(x, u=u):
            return Inner(u, x).solve().N

        tau0, h = 0.01, 1e-7
        fd = (F(tau0 + h) - F(tau0 - h)) / (2 * h)
        worst_fd = max(worst_fd, abs(Inner(u, tau0).solve().dF / fd - 1))
        c = solve_heterogeneous(s, integer=False)
        tau_star, value = c.multipliers["tau"], c.multipliers["continuous_goodput"]
        grid = tau_star * np.linspace(0.25, 4.0, 60)
        best = max(F(x) / (x + s.v0 + s.overhead) for x in grid)  # G(tau) = F(tau) / (tau + c), v1 = 0
        assert best <= c.upper_bound, "a grid point beats the certified bound"
        worst_grid = max(worst_grid, best / value - 1)
    assert worst_fd < 1e-6 and worst_grid <= 1e-9, f"envelope {worst_fd:.1e}, grid excess {worst_grid:.1e}"
    return f"envelope vs finite difference {worst_fd:.1e}; dense tau grid never above the optimum"


# ------------------------------------------------------------------------------------- D6
def _sym_d6() -> str:
    r = TH.dinkelbach_stop_short()
    f_A = _mp.fn(TH.tokens(), (alpha, L))
    fs = [_mp.fn(r[k], (alpha, TH.g, v1)) for k in ("draft_length", "model_md")]
    with mp.workdps(_mp.DPS):
        for pt in _mp.points(23, 5, a=(0.05, 0.99), gv=(1e-4, 0.2)):
            a_, gv = pt["a"], pt["gv"]
            for f in fs:
                Ls = f(a_, gv, 1)
                _mp.close(mp.diff(functools.partial(f_A, a_), Ls), gv, 1e-15, "D6: A'(L) = g v1")
    assert r["concave"]
    return "L = ln(g v1 (1-alpha)/(-ln alpha))/ln(alpha) - 1 solves A'(L) = g v1 (mpmath.diff; solve and MODEL.md)"


@claim("D6", "v1 > 0: Dinkelbach on G; a user stops short where A'(L) = G v1", symbolic=_sym_d6)
def _num_d6() -> str:
    s = _scenario(50, 4, v1=2e-3, t_draft=[0.0, 0.0, 0.002, 0.003], bits_per_token=[0.0, 0.0, 100.0, 100.0])
    c = solve_heterogeneous(s, integer=False)
    g = c.multipliers["dinkelbach_ratio"]
    assert abs(g / c.multipliers["continuous_goodput"] - 1) < 1e-12
    # users 0 and 1 draft for free (t = s = 0): they stop exactly where A'(L) = g v1
    a = s.alpha[:2]
    L_md = np.log(g * s.v1 * (1 - a) / (-np.log(a))) / np.log(a) - 1
    L_md = np.clip(L_md, 0, s.max_draft)
    dev = float(np.max(np.abs(c.draft_lengths[:2] - L_md)))
    assert dev < 1e-9, f"stop-short lengths differ by {dev:.1e}"
    assert c.gap < 1e-8
    return f"free-drafting users stop at MODEL.md's L (|dev| {dev:.0e}); ratio = goodput"


# ------------------------------------------------------------------------------------- D7
def _sym_d7() -> str:
    r = TH.equal_finish_shares()
    share = r["share"]
    Lp = next(x for x in share.free_symbols if x.name == "L")
    assert sp.simplify(Lp * (TH.t_pos + TH.s_pos / (share * B * eta)) - TH.T) == 0, share
    f_b = _mp.fn(share, (Lp, TH.t_pos, TH.s_pos, eta, B, TH.T))
    f_dT = _mp.fn(r["d_share_dT"], (Lp, TH.t_pos, TH.s_pos, eta, B, TH.T))
    with mp.workdps(_mp.DPS):
        for pt in _mp.points(29, 4, L=(1, 20), t=(1e-3, 1e-2), s=(50, 1e3), e=(0.5, 5.0), slack=(1e-3, 1.0)):
            L_, t_, s_, e_ = pt["L"], pt["t"], pt["s"], pt["e"]
            T_ = L_ * t_ + pt["slack"]
            dT = mp.diff(lambda x, head=(L_, t_, s_, e_, 10**5): f_b(*head, x), T_)
            _mp.close(f_dT(L_, t_, s_, e_, 10**5, T_), dT, 1e-15, "D7 d beta/dT")
            convex = mp.diff(lambda x, rest=(t_, s_, e_, 10**5, T_): f_b(x, *rest), L_, 2)
            assert convex > 0  # convex in L
    assert r["convex_in_L"] and r["decreasing_in_T"]
    return "beta_k(L, T) = s L/(B eta (T - t L)) solves L h = T; d beta/dT = mpmath.diff; convex in L, decreasing in T"


@claim("D7", "integer L: equal finishing times per vector; exact by enumeration for small systems, "
             "a local search certified optimal for +-1 and pair moves otherwise, with the relaxation's bound",
       symbolic=_sym_d7)
def _num_d7() -> str:
    n = 0
    for seed, (model, batching) in enumerate(itertools.product(("linear", "shannon"), ("ragged", "padded"))):
        s = _scenario(60 + seed, 3, model, max_draft=4, v1=3e-4, batching=batching)
        sol = solve_heterogeneous(s)
        best = max(goodput(s, np.array(v), equal_finish_allocation(s, np.array(v))[0])
                   for v in itertools.product(range(5), repeat=3))
        assert abs(sol.goodput / best - 1) < 1e-12, f"{model}/{batching}: {sol.goodput} vs enumeration {best}"
        assert best <= sol.upper_bound
        n += 1
    big = _scenario(70, 12, max_draft=8, bandwidth_hz=2e6)
    sol = solve_heterogeneous(big)
    assert sol.method == "local-search" and sol.multipliers["locally_optimal"] and 0 <= sol.gap < 0.02
    return f"{n} small systems equal to enumeration; K=12 heuristic gap {sol.gap:.1e}"


# ------------------------------------------------------------------------------------- Lambert-W
@claim("lambertw", "real Lambert-W, both branches: relative error <= 1e-14 against mpmath (40 digits), "
                   "exact at -1/e and 0")
def _num_lambertw() -> str:
    inv_e = float(np.exp(-1.0))
    worst = 0.0
    with mp.workdps(40):
        for branch, xs in ((0, np.r_[np.logspace(-300, 300, 120), -np.logspace(-300, np.log10(inv_e) - 1e-9, 80)]),
                           (-1, -np.logspace(-300, np.log10(inv_e) - 1e-9, 120)),
                           (0, np.nextafter(-inv_e, 0) + np.logspace(-16, -1, 60)),
                           (-1, np.nextafter(-inv_e, 0) + np.logspace(-16, -1, 60))):
            w = lambertw(xs, branch)
            ref = np.array([float(mp.re(mp.lambertw(mp.mpf(float(x)), branch))) for x in xs])
            worst = max(worst, float(np.max(np.abs(w - ref) / np.abs(np.where(ref == 0, 1.0, ref)))))
    assert lambertw(-inv_e) == -1.0 and lambertw(-inv_e, -1) == -1.0 and lambertw(0.0) == 0.0
    assert lambertw(0.0, -1) == -np.inf
    assert worst <= 1e-14, f"max relative error {worst:.1e}"
    return f"max relative error {worst:.1e} on 440 points (both branches, near -1/e and 0)"
