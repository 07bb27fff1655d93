"""theory.heterogeneous (D1-D7): the derivations' own results, and sign facts on grids.

The ties of its expressions to the numerics (D1's fill, every D3 form, the capacity
derivatives, the share slopes, the certificate's corner formula, D6, D7) are listed in
``proofs_check/ties.py`` and tested in ``tests/test_ties.py`` (through the public solver or the
table's adapters, so that they survive refactorings of the solver).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import theory.heterogeneous as TH
from numerics import Scenario
from proofs_check import ties
from theory.symbols import B, L, alpha, beta, eta, tau


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


def test_d3_solve_and_model_md():
    closed_form = TH.kkt_closed_form()
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


# ------------------------------------------------------------------------- numerics (ties: tests/test_ties.py)
def test_envelope_derivative_matches_finite_difference():
    """D5: the dual's tau-derivative at the lambda root is F'(tau) (central difference of F)."""
    rng = np.random.default_rng(5)
    for model in ("linear", "shannon"):
        K = 5
        kw = dict(alpha=rng.uniform(0.4, 0.9, K), t_draft=rng.uniform(0.001, 0.005, K),
                  bits_per_token=rng.uniform(100, 1000, K), bandwidth_hz=1e6, v0=0.02, max_draft=12,
                  rate_model=model)
        kw["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(1.0, 20.0, K)
        sc = Scenario(**kw)
        tau0, h = 0.01, 1e-7

        def F(x):
            return float(np.sum(ties.envelope_slope(sc, x)[1].tokens))

        fd = (F(tau0 + h) - F(tau0 - h)) / (2 * h)
        assert ties.envelope_slope(sc, tau0)[0] == pytest.approx(fd, rel=1e-6)


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
