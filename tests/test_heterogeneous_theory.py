"""theory.heterogeneous (D1-D7) and its ties to the numerics.

Each numeric formula of numerics.heterogeneous that comes from theory.heterogeneous is
compared with the SymPy expression, lambdified and evaluated with SciPy's complex Lambert-W
(``scipy.special.lambertw``, an implementation independent of numerics.lambertw), on grids that
include the edges (alpha near 0 and 1, free drafting t = 0, small and large deadlines).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.special import lambertw as scipy_lambertw

import theory.heterogeneous as TH
from numerics import Scenario
from numerics.allocation import share_for_deadline
from numerics.heterogeneous.inner import Inner
from numerics.heterogeneous.users import Users
from theory.symbols import B, L, alpha, beta, eta, lam, tau, v1

_W = {"LambertW": lambda z: np.real(scipy_lambertw(z))}


@pytest.fixture(scope="module")
def closed_form():
    return TH.kkt_closed_form()


# ------------------------------------------------------------------------- symbolic results
def test_d1_fill():
    d1 = TH.deadline_fill()
    assert d1["objective_increasing"] is True
    assert d1["draft_length"].has(sp.Min)


def test_d2_linear_and_composition():
    d2 = TH.inner_concavity_linear()
    assert d2["negative"] and d2["capacity_concave"] and d2["capacity_increasing"]
    assert d2["chain_rule_residual"] == 0
    comp = TH.inner_concavity_composition()
    assert comp["phi_increasing"] and comp["phi_concave"] and comp["L_second_residual"] == 0


def test_d3_solve_and_model_md(closed_form):
    assert closed_form["reduction_residual"] == 0
    assert len(closed_form["roots"]) == 2 and closed_form["v"].has(sp.LambertW)
    md = TH.model_md_closed_form()
    assert md["matches_solve"] and md["identity"] == 0
    slack = TH.kkt_time_slack()
    assert slack["residual"] == 0 and slack["argument_residual"] == 0 and slack["log_M_residual"] == 0
    free = TH.kkt_closed_form_free_drafting()
    assert free["residual"] == 0 and free["residual_displayed"] == 0


def test_d4_reward():
    r = TH.reward()
    assert r["increasing"] and r["matches_displayed"] and r["base_at_zero"] == 0


def test_d5_envelope_joint_concavity_and_bound():
    env = TH.envelope_derivative()
    assert env["residual"] == 0 and env["homogeneity_residual"] == 0
    for model in ("linear", "shannon"):
        jc = TH.joint_concavity(model)
        assert jc["harmonic_hessian_diag_nonpositive"] and jc["harmonic_hessian_det"] == 0
        assert jc["harmonic_increasing"] and jc["perspective_concave"] and jc["capacity_matches"]
    out = TH.outer_stationarity()
    assert sp.simplify(out["sign_factor"] - 1 / (tau + TH.c) ** 2) == 0
    assert TH.tangent_bound()["monotone_in_each"]


def test_d6_d7():
    d6 = TH.dinkelbach_stop_short()
    assert d6["matches_model_md"] and d6["concave"]
    d7 = TH.equal_finish_shares()
    assert d7["convex_in_L"] and d7["decreasing_in_T"]


@pytest.mark.parametrize("call, match", [
    (lambda: TH.kkt_system(0), "n must be an integer >= 1"),
    (lambda: TH.kkt_system(2, "cubic"), "rate_model must be 'linear' or 'shannon'"),
    (lambda: TH.rate("cubic"), "rate_model must be"),
    (lambda: TH.joint_concavity("cubic"), "rate_model must be"),
])
def test_theory_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------- ties to numerics
def _one_user(alpha_, t_, s_, eta_, Lmax=10_000):
    return Users(Scenario(alpha=[alpha_], t_draft=[t_], bits_per_token=[s_], bandwidth_hz=1e5,
                          spectral_efficiency=[eta_], v0=0.01, max_draft=Lmax), "smooth")


CASES = [  # alpha, t, s, eta, tau, lambda
    (0.8, 0.004, 300.0, 2.0, 0.05, 0.5),
    (0.3, 0.001, 1000.0, 1.0, 0.01, 0.05),
    (1 - 1e-9, 0.002, 50.0, 4.0, 0.03, 2.0),
    (1e-3, 0.002, 50.0, 4.0, 0.03, 1e-4),
    (0.95, 0.0005, 2000.0, 0.5, 0.2, 10.0),
]


@pytest.mark.parametrize("case", CASES)
def test_closed_form_matches_solve(case, closed_form):
    """numerics' slack form of D3 equals SymPy's solve root v (L = tau (1 - s v)/t)."""
    a_, t_, s_, e_, tau_, lam_ = case
    ts, ss = TH.t_pos, TH.s_pos
    v_expr = closed_form["v"].subs({TH.kappa: closed_form["kappa"], TH.M: closed_form["M"]})
    f = sp.lambdify((alpha, ts, ss, eta, B, tau, lam), v_expr, modules=[_W, "numpy"])
    v_ = float(f(a_, t_, s_, e_, 1e5, tau_, lam_))
    L_ref = tau_ * (1 - s_ * v_) / t_
    inner = Inner(_one_user(a_, t_, s_, e_), tau_)
    r = inner.respond(lam_)
    b, Lnum = r.beta, r.L
    if 0 < L_ref < inner.cap[0]:
        assert Lnum[0] == pytest.approx(L_ref, rel=1e-10, abs=1e-12)
        # and the stationarity holds: A'(L) dL/dbeta = lambda
        foc = sp.lambdify((alpha, ts, ss, eta, B, tau, beta), closed_form_foc(), modules="numpy")
        assert float(foc(a_, t_, s_, e_, 1e5, tau_, b[0])) == pytest.approx(lam_, rel=1e-9)
    else:
        assert Lnum[0] == pytest.approx(min(max(L_ref, 0.0), inner.cap[0]), abs=1e-9)


def closed_form_foc():
    Lb = TH.draft_capacity("linear")
    return TH.marginal().subs(L, Lb) * sp.diff(Lb, beta)


@pytest.mark.parametrize("case", CASES[:4])
def test_free_drafting_matches_solve(case):
    a_, _, s_, e_, tau_, lam_ = case
    expr = TH.kkt_closed_form_free_drafting()["draft_length"]
    f = sp.lambdify((alpha, TH.s_pos, eta, B, tau, lam), expr, modules="numpy")
    L_ref = float(f(a_, s_, e_, 1e5, tau_, lam_))
    inner = Inner(_one_user(a_, 0.0, s_, e_), tau_)
    Lnum = inner.respond(lam_).L
    assert Lnum[0] == pytest.approx(min(max(L_ref, 0.0), inner.cap[0]), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("a_", [1e-6, 0.2, 0.5, 0.9, 1 - 1e-10])
@pytest.mark.parametrize("gv1", [1e-4, 0.05, 0.5])
def test_stop_short_matches_solve(a_, gv1):
    expr = TH.dinkelbach_stop_short()["draft_length"]
    f = sp.lambdify((alpha, TH.g, v1), expr, modules="numpy")
    ref = float(f(a_, gv1, 1.0))
    u = _one_user(a_, 0.001, 100.0, 1.0)
    num = float(u.stop_short(np.array([gv1]))[0])
    assert num == pytest.approx(max(ref, 0.0), rel=1e-9, abs=1e-9)


def test_envelope_derivative_matches_finite_difference():
    """D5: the dual's tau-derivative at the lambda root is F'(tau) (central difference of F)."""
    rng = np.random.default_rng(5)
    for model in ("linear", "shannon"):
        K = 5
        kw = dict(alpha=rng.uniform(0.4, 0.9, K), t_draft=rng.uniform(0.001, 0.005, K),
                  bits_per_token=rng.uniform(100, 1000, K), bandwidth_hz=1e6, v0=0.02, max_draft=12,
                  rate_model=model)
        kw["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(1.0, 20.0, K)
        u = Users(Scenario(**kw), "smooth")
        tau0, h = 0.01, 1e-7

        def F(x):
            return Inner(u, x).solve().N

        fd = (F(tau0 + h) - F(tau0 - h)) / (2 * h)
        r = Inner(u, tau0).solve()
        assert r.dF == pytest.approx(fd, rel=1e-6)
        # and F'' (implicit differentiation through the band root) against central differences
        fd2 = (Inner(u, tau0 + 1e-6).solve().dF - Inner(u, tau0 - 1e-6).solve().dF) / 2e-6
        assert r.d2F == pytest.approx(fd2, rel=1e-5)


def test_d2_second_derivative_negative_on_grid():
    expr = TH.inner_concavity_linear()["second_derivative"]
    f = sp.lambdify((alpha, TH.t_pos, TH.s_pos, eta, B, tau, beta), expr, modules="numpy")
    a_, b_ = np.meshgrid(np.linspace(0.05, 0.99, 20), np.logspace(-4, 0, 20))
    vals = f(a_, 0.003, 500.0, 2.0, 1e6, 0.02, b_)
    assert np.all(vals < 0)


def test_d4_marginal_increasing_on_grid():
    expr = TH.reward()["dmarginal_dalpha"]
    f = sp.lambdify((alpha, L), expr, modules="numpy")
    a_, L_ = np.meshgrid(np.linspace(0.01, 0.99, 40), np.linspace(0.0, 50.0, 40))
    assert np.all(f(a_, L_) > 0)


def test_d7_share_matches_allocation():
    expr = TH.equal_finish_shares()["share"]
    Lp = [sym for sym in expr.free_symbols if sym.name == "L"][0]
    f = sp.lambdify((Lp, TH.t_pos, TH.s_pos, eta, B, TH.T), expr, modules="numpy")
    s = Scenario(alpha=[0.8, 0.7, 0.6], t_draft=[0.002, 0.003, 0.001], bits_per_token=[300.0, 600.0, 100.0],
                 bandwidth_hz=1e5, spectral_efficiency=[1.0, 2.0, 3.0], v0=0.02)
    Lv, T_ = np.array([3.0, 2.0, 5.0]), 0.5
    ref = f(Lv, s.t_draft, s.bits_per_token, s.spectral_efficiency, 1e5, T_)
    assert np.allclose(share_for_deadline(s, Lv, T_), ref, rtol=1e-13, atol=0)
