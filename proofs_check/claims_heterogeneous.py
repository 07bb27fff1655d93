"""Heterogeneous draft lengths, D1 to D7 of MODEL.md, and the real Lambert-W.

Symbolic checks call :mod:`theory.heterogeneous` (SymPy decides signs and residuals).
Numeric checks run the solvers of :mod:`numerics.heterogeneous` on seeded random and
adversarial scenarios and compare with independent references: finite differences, brute-force
enumeration with :func:`numerics.allocation.equal_finish_allocation`, dense grids, mpmath at 40
digits.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np

import theory.heterogeneous as TH
from numerics import Scenario
from numerics.allocation import equal_finish_allocation
from numerics.heterogeneous import solve_heterogeneous
from numerics.heterogeneous.inner import Inner
from numerics.heterogeneous.users import Users
from numerics.lambertw import lambertw
from numerics.latency import goodput

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
    r = TH.deadline_fill()
    assert r["objective_increasing"], "dA/dL > 0 not decided"
    return "dA/dL > 0 on alpha in (0,1): each L_k rises to min(L_max, tau/h_k)"


@claim("D1", "with v1 = 0 and a fixed deadline every user drafts until the deadline: L_k = min(L_max, tau/h_k)",
       symbolic=_sym_d1)
def _num_d1() -> str:
    worst = 0.0
    for seed in range(4):
        s = _scenario(seed, 5)
        u = Users(s, "smooth")
        for tau in (0.004, 0.02, 0.1):
            sol = Inner(u, tau).solve()
            h = s.t_draft + s.bits_per_token / (np.maximum(sol.beta, 1e-300) * s.bandwidth_hz * s.spectral_efficiency)
            fill = np.minimum(s.max_draft, tau / h)
            on = sol.beta > 0
            worst = max(worst, float(np.max(np.abs(sol.L[on] - fill[on]) / np.maximum(fill[on], 1e-12))))
    assert worst < 1e-9, f"L differs from min(L_max, tau/h) by {worst:.1e}"
    return f"max rel. deviation {worst:.1e} over 12 (scenario, tau)"


# ------------------------------------------------------------------------------------- D2
def _sym_d2() -> str:
    lin = TH.inner_concavity_linear()
    comp = TH.inner_concavity_composition()
    assert lin["negative"] and lin["chain_rule_residual"] == 0, "linear: second derivative not negative"
    assert comp["phi_increasing"] and comp["phi_concave"] and comp["L_second_residual"] == 0
    return "linear: d2A(L(beta))/dbeta2 < 0; any concave rate: phi(r) = r/(s+tr) concave increasing"


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
def _sym_d3() -> str:
    cf = TH.kkt_closed_form()
    md = TH.model_md_closed_form()
    slack = TH.kkt_time_slack()
    assert cf["reduction_residual"] == 0 and md["matches_solve"] and md["identity"] == 0
    assert slack["residual"] == 0 and slack["argument_residual"] == 0
    return "solve(): v = 2 W0(kappa sqrt(M)/2)/kappa, MODEL.md's form confirmed; slack form equal"


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
    assert TH.reward()["increasing"], "d A'(L)/d alpha > 0 not decided"
    return "(1-a) a (-ln a) d ln A'(L)/da = ln(1+q)(1 + Lq/(1+q)) - q/(1+q) > 0"


@claim("D4", "reward: a higher alpha gives at least as much band and as long a draft", symbolic=_sym_d4)
def _num_d4() -> str:
    # two users alike but for alpha, at the continuous optimum (both rates, v1 = 0 and > 0)
    n = 0
    for seed, (model, v1) in enumerate(itertools.product(("linear", "shannon"), (0.0, 3e-4))):
        rng = np.random.default_rng(30 + seed)
        a1, a2 = np.sort(rng.uniform(0.3, 0.95, 2))
        kw = dict(alpha=[a1, a2], t_draft=0.003, bits_per_token=600.0, bandwidth_hz=3e5, v0=0.02, v1=v1,
                  max_draft=12, rate_model=model)
        kw["spectral_efficiency" if model == "linear" else "snr"] = 5.0
        c = solve_heterogeneous(Scenario(**kw), integer=False)
        assert c.bandwidth[1] >= c.bandwidth[0] - 1e-9 and c.draft_lengths[1] >= c.draft_lengths[0] - 1e-9, \
            f"{model}, v1={v1}: beta {c.bandwidth}, L {c.draft_lengths} for alpha {a1:.3f} < {a2:.3f}"
        n += 1
    return f"{n} pairs of users alike but for alpha: higher alpha, no less band nor draft"


# ------------------------------------------------------------------------------------- D5
def _sym_d5() -> str:
    env = TH.envelope_derivative()
    assert env["residual"] == 0 and env["homogeneity_residual"] == 0
    for model in ("linear", "shannon"):
        jc = TH.joint_concavity(model)
        assert jc["perspective_concave"] and jc["harmonic_hessian_det"] == 0 and jc["capacity_matches"]
    assert TH.tangent_bound()["monotone_in_each"]
    return "F'(tau) = sum A'(L)L/tau; (tau, tau beta, L) convex: G quasi-concave in tau"


@claim("D5", "outer search: F'(tau) = sum_k A'(L_k) L_k / tau (envelope); G(tau) = F/(tau + c) has one "
             "maximum, found by bracketing and refinement, with a certified bound", symbolic=_sym_d5)
def _num_d5() -> str:
    worst_fd, worst_grid = 0.0, 0.0
    for seed, model in enumerate(("linear", "shannon")):
        s = _scenario(40 + seed, 5, model)
        u = Users(s, "smooth")
        F = lambda x: Inner(u, x).solve().N  # noqa: E731
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
    assert r["matches_model_md"] and r["concave"]
    return "L = ln(g v1 (1-alpha)/(-ln alpha))/ln(alpha) - 1 solves A'(L) = g v1 (MODEL.md confirmed)"


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
    assert r["convex_in_L"] and r["decreasing_in_T"]
    return "beta_k(L, T) = s L/(B eta (T - t L)): convex in L, decreasing in T"


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
