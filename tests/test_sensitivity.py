"""Sensitivities of the optimal goodput: envelope theorem vs implicit differentiation vs finite differences.

Three independent computations of dG*/dp:
- :func:`numerics.sensitivity.sensitivity`: the envelope theorem with multipliers recovered
  from the KKT conditions at the solution (NumPy);
- :func:`numerics.sensitivity.sensitivity_autodiff`: ``jax.grad`` through the JAX closed
  forms, theta*/T*/lambda*/tau* differentiated implicitly (``jax.lax.custom_root``);
- central finite differences of the solvers (``solve_homogeneous``, the equal-finish
  allocation at fixed L, ``solve_heterogeneous`` when present, the JAX D3/D5 optimum).
Scenarios have K = 5 and fixed static fields, so each jitted function compiles once.
"""

from __future__ import annotations

import numpy as np
import pytest
from _scenario_kinds import STATIC_KINDS, kind_scenario

import numerics
from numerics import Scenario, Solution, equal_finish_allocation, goodput, round_time, solve_homogeneous
from numerics.sensitivity import SensitivityTable, sensitivity, sensitivity_autodiff

K = 5
AGREE = 1e-9  # envelope vs implicit autodiff: both exact formulas, float64 round-off only


def _scenario(rate_model="linear", seed=3, **kw):
    rng = np.random.default_rng(seed)
    d = dict(alpha=rng.uniform(0.5, 0.9, K), t_draft=rng.uniform(0.005, 0.02, K),
             bits_per_token=rng.uniform(50, 500, K), bandwidth_hz=1e5,
             spectral_efficiency=rng.uniform(1, 4, K), snr=10 ** rng.uniform(-1, 3, K),
             rate_model=rate_model, v0=0.05, max_draft=16)
    d.update(kw)
    return Scenario(**d)


def _assert_tables_agree(a: SensitivityTable, b: SensitivityTable, rel=AGREE):
    for col in ("dG_dalpha", "dG_dt", "dG_ds", "dG_dchannel", "nu"):
        x, y = a.users[col], b.users[col]
        scale = np.max(np.abs(x)) + 1e-300
        assert np.all(np.abs(x - y) <= rel * np.maximum(np.abs(x), 1e-6 * scale)), (col, x, y)
    for key in ("goodput", "band_value", "dG_dB", "dG_dv0", "dG_dv1", "dG_doverhead"):
        assert a.system[key] == pytest.approx(b.system[key], rel=rel, abs=1e-300), key


# Finite differences: the solvers are exact to ~1e-15 relative; with a relative step h = 1e-6
# the rounding error of a central difference is ~1e-15 G / (h p) and the truncation ~h^2, so
# a relative tolerance of 1e-6 (plus an absolute floor of 1e-8 G / p) is safe and still fails
# for any wrong term (the terms differ by O(1) factors).
H = 1e-6
FD_REL = 1e-6


def _fd(G_of, base: float, step: float, G0: float) -> tuple[float, float]:
    """Central difference of G_of at base with step, and its absolute tolerance floor (45 eps G / step)."""
    return (G_of(base + step) - G_of(base - step)) / (2 * step), 1e-14 * G0 / step


def _fd_check(table: SensitivityTable, sc: Scenario, G_star, per_user=True, users=None):
    """Compare every derivative of ``table`` with central differences of G_star(scenario).

    Fields at 0 (s_k = 0, t_k = 0, T_o = 0) are skipped: a central difference would leave the domain.
    """
    G0 = table.system["goodput"]
    assert G_star(sc) == pytest.approx(G0, rel=1e-12)
    scal = {"bandwidth_hz": "dG_dB", "v0": "dG_dv0", "overhead": "dG_doverhead"}
    if sc.v1 > 0:
        scal["v1"] = "dG_dv1"
    for field, key in scal.items():
        base = getattr(sc, field)
        if base == 0:  # T_o = 0: a central difference would leave the domain; dG/dT_o = dG/dv0 anyway
            continue
        fd, floor = _fd(lambda x, field=field: G_star(sc.replace(**{field: x})), base, H * base, G0)
        assert table.system[key] == pytest.approx(fd, rel=FD_REL, abs=floor), field
    if not per_user:
        return
    ch = "spectral_efficiency" if sc.rate_model == "linear" else "snr"
    fields = [("t_draft", "dG_dt"), ("bits_per_token", "dG_ds"), (ch, "dG_dchannel")]
    if not sc.positional:
        fields.insert(0, ("alpha", "dG_dalpha"))
    for field, key in fields:
        arr = getattr(sc, field)
        for k in (range(K) if users is None else users):
            if arr[k] == 0:
                continue
            def G_of(x, k=k, arr=arr, field=field):
                a = arr.copy()
                a[k] = x
                return G_star(sc.replace(**{field: a}))
            fd, floor = _fd(G_of, arr[k], H * arr[k], G0)
            assert table.users[key][k] == pytest.approx(fd, rel=FD_REL, abs=floor), (field, k)
    if sc.positional:  # a few positions of each user's profile
        al = sc.alpha
        for k in (range(K) if users is None else users):
            for j in (0, 2):
                if al[k, j] == 0:
                    continue
                def G_of(x, k=k, j=j):
                    a = al.copy()
                    a[k, j] = x
                    return G_star(sc.replace(alpha=a))
                fd, floor = _fd(G_of, al[k, j], H * al[k, j], G0)
                assert table.profile[k, j] == pytest.approx(fd, rel=FD_REL, abs=floor), ("alpha", k, j)


# ============================================================== homogeneous (H2 envelope)
@pytest.mark.parametrize("model,extra", [("linear", {}), ("shannon", dict(v1=2e-4, overhead=0.01, batching="padded"))])
def test_homogeneous_envelope_vs_autodiff_vs_solver_fd(model, extra):
    sc = _scenario(model, **extra)
    sol = solve_homogeneous(sc)
    env = sensitivity(sc, sol)
    _assert_tables_agree(env, sensitivity_autodiff(sc, sol))
    # the multipliers the solver reports: mu_k (sum 1) and the band value G L lambda / T
    D = sol.round_time
    assert np.allclose(env.users["nu"], sol.goodput / D * sol.multipliers["mu"], rtol=1e-12)
    assert env.system["band_value"] == pytest.approx(sol.multipliers["band_value"], rel=1e-12)
    L0 = sol.draft_lengths

    def G_star(s):
        other = solve_homogeneous(s)
        assert np.array_equal(other.draft_lengths, L0)  # the integer optimum is locally constant
        return other.goodput

    _fd_check(env, sc, G_star)
    # signs every reader expects: more band, faster devices, better channels and higher
    # acceptance help; slower verification hurts
    assert env.system["dG_dB"] > 0 and env.system["dG_dv0"] < 0
    assert np.all(env.users["dG_dalpha"] > 0) and np.all(env.users["dG_dt"] < 0)
    assert np.all(env.users["dG_dchannel"] > 0)


def test_makespan_set_by_a_user_without_upload():
    """The slowest device uploads nothing (s = 0) and sets theta*: the band is slack (lambda = 0),
    only that user's t and the shared parameters move G*."""
    sc = _scenario("linear", bits_per_token=[100.0, 0.0, 300.0, 50.0, 400.0])
    sc = sc.replace(t_draft=np.where(sc.bits_per_token > 0, sc.t_draft, 0.05))
    sol = solve_homogeneous(sc)
    env = sensitivity(sc, sol)
    assert env.system["band_value"] == 0 and env.system["dG_dB"] == 0
    assert np.count_nonzero(env.users["dG_dt"]) == 1 and env.users["dG_dt"][1] < 0
    _assert_tables_agree(env, sensitivity_autodiff(sc, sol))
    _fd_check(env, sc, lambda s: solve_homogeneous(s).goodput)


def test_linear_band_value_is_bandwidth_times_dG_dB():
    """Linear rate: r depends on beta B only, so B dG/dB = lambda (dG per unit of band budget)."""
    sc = _scenario("linear")
    env = sensitivity(sc, solve_homogeneous(sc))
    assert env.system["dG_dB"] * sc.bandwidth_hz == pytest.approx(env.system["band_value"], rel=1e-13)


# ============================================================== heterogeneous, integer L held fixed (D7)
def _fixed_length_solution(sc: Scenario, L) -> Solution:
    beta, T = equal_finish_allocation(sc, L)
    G = goodput(sc, L, beta)
    return Solution("heterogeneous", np.asarray(L), beta, G, round_time(sc, L, beta), G, 0.0, {"T": T})


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_fixed_integer_lengths_envelope_vs_autodiff_vs_fd(model):
    sc = _scenario(model, v1=1e-4, overhead=0.005)
    L = np.array([3, 1, 5, 2, 0])  # user 4 idle: no band, no drafting
    sol = _fixed_length_solution(sc, L)
    env = sensitivity(sc, sol)
    assert env.users["nu"][4] == 0 and env.users["dG_dt"][4] == 0
    _assert_tables_agree(env, sensitivity_autodiff(sc, sol))
    _fd_check(env, sc, lambda s: _fixed_length_solution(s, L).goodput)


# ============================================================== heterogeneous continuous optimum (D3/D5)
def _jax_optimum_solution(sc: Scenario):
    import jax

    from numerics import differentiable as jd

    with jax.enable_x64(True):
        opt = jd.heterogeneous_optimum(jd.params_from_scenario(sc))
    L, beta = np.asarray(opt.L), np.asarray(opt.beta)
    G = goodput(sc, L, beta, continuous=True)
    sol = Solution("heterogeneous", L, beta, G, round_time(sc, L, beta, continuous=True), G, 0.0,
                   {"lambda": float(opt.lam), "tau": float(opt.tau)})
    return sol, opt


def test_continuous_heterogeneous_envelope_vs_implicit_autodiff_vs_fd():
    # user 2 uploads nothing and drafts to the deadline: its multiplier comes from
    # stationarity in L_2 (mode 'optimal'), not from the band
    sc = _scenario("linear", bits_per_token=[120.0, 300.0, 0.0, 80.0, 450.0], overhead=0.01)
    sol, opt = _jax_optimum_solution(sc)
    assert 0 < sol.draft_lengths[2] < sc.max_draft and not bool(opt.corner)
    env = sensitivity(sc, sol)
    assert env.users["nu"][2] > 0
    _assert_tables_agree(env, sensitivity_autodiff(sc, sol), rel=1e-8)  # lambda*, tau* found to ~1e-15
    # D3's lambda is dF/d(budget); in goodput units it is divided by tau + v0 + T_o
    assert env.system["band_value"] == pytest.approx(float(opt.lam) / (float(opt.tau) + sc.v0 + sc.overhead), rel=1e-9)
    _fd_check(env, sc, lambda s: _jax_optimum_solution(s)[0].goodput, per_user=False)


def test_continuous_heterogeneous_corner_every_user_at_the_cap():
    """G_D still increasing at tau_sat: every user at L_max with the equal-finish band (lambda not
    unique there); the implicit derivative must stay finite and equal the fixed-L envelope."""
    sc = _scenario("linear", alpha=[0.99, 0.995, 0.98, 0.99, 0.985], v0=2.0)
    sol, opt = _jax_optimum_solution(sc)
    assert bool(opt.corner) and np.all(sol.draft_lengths == sc.max_draft)
    env = sensitivity(sc, sol)  # integer L: lengths held fixed
    _assert_tables_agree(env, sensitivity_autodiff(sc, sol, lengths="optimal"), rel=1e-8)
    _fd_check(env, sc, lambda s: _jax_optimum_solution(s)[0].goodput, per_user=False)


@pytest.mark.parametrize("integer", [True, False])
def test_heterogeneous_solver_envelope_vs_fd(integer):
    from numerics import solve_heterogeneous

    sc = _scenario("linear", overhead=0.01)
    sol = solve_heterogeneous(sc, integer=integer)
    env = sensitivity(sc, sol)
    L0 = np.asarray(sol.draft_lengths)

    def G_star(s):
        other = solve_heterogeneous(s, integer=integer)
        if integer:
            assert np.array_equal(other.draft_lengths, L0)
        return other.goodput

    _fd_check(env, sc, G_star)
    if not integer:
        _assert_tables_agree(env, sensitivity_autodiff(sc, sol), rel=1e-7)


# ============================================================== interface
def test_to_text_lists_every_user_and_the_system_rows():
    sc = _scenario("shannon")
    tab = sensitivity(sc, solve_homogeneous(sc))
    lines = tab.to_text().splitlines()
    assert lines[0].startswith("sensitivity of G* =") and "homogeneous; draft lengths held fixed" in lines[0]
    assert "dG/drho" in lines[1] and "dG/ds" in lines[1] and len(lines) == 2 + K + 2 + len(tab.notes)
    assert "per MHz" in lines[2 + K] and "dG/dv0" in lines[3 + K]
    assert tab.mode == "fixed" and lines[-1] == "note: draft lengths held fixed (band-allocation optimum, D7/H2)"


def test_bad_input_raises():
    sc = _scenario("linear")
    sol = solve_homogeneous(sc)
    with pytest.raises(ValueError, match="scenario must be a Scenario, got str"):
        sensitivity("x", sol)
    with pytest.raises(ValueError, match=r"solution must be a numerics\.Solution, got dict"):
        sensitivity(sc, {})
    with pytest.raises(ValueError, match=r"lengths must be one of .*, got 'both'"):
        sensitivity(sc, sol, lengths="both")
    with pytest.raises(ValueError, match="beta must sum to at most 1, got sum"):
        sensitivity(sc, Solution("x", sol.draft_lengths, sol.bandwidth * 1.1, sol.goodput, 1.0, 1.0, 0.0))
    with pytest.raises(ValueError, match=r"solution.goodput = 1.0 does not match the scenario's goodput"):
        sensitivity(sc, Solution("x", sol.draft_lengths, sol.bandwidth, 1.0, 1.0, 1.0, 0.0))
    eq = numerics.baseline(sc, "equal-best")  # equal shares: users finish at different times
    with pytest.raises(ValueError, match=r"solution is not band-optimal: user .* uploads but finishes at"):
        sensitivity(sc, eq)
    free = _scenario("linear", t_draft=0.0)  # h_k = s_k / r_k: shrinking every share keeps them equal
    fs = solve_homogeneous(free)
    beta = fs.bandwidth * 0.9
    short = Solution("x", fs.draft_lengths, beta, goodput(free, fs.draft_lengths, beta), 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"solution is not band-optimal: sum\(beta\) = 0.899"):
        sensitivity(free, short)


# ============================================================== every scenario (issue 15)
def _np_continuous(sc: Scenario):
    from numerics import solve_heterogeneous

    return solve_heterogeneous(sc, integer=False)


@pytest.mark.parametrize("static", [("linear", "ragged", False), ("shannon", "padded", True)])
def test_every_kind_envelope_vs_implicit_autodiff(static):
    """Both regimes and both modes for kinds beyond the linear, v1 = 0 corner: the envelope
    multipliers (NumPy, at the NumPy solutions) and jax.grad through the JAX solvers (at their own
    optima) agree: 1e-9 at integer points (the same point); 1e-7 at the continuous optimum, which
    NumPy places to ~1e-9 in tau and JAX to ~1e-11 (the derivatives are first order in it:
    measured up to 3e-8). Profiles: the per-position derivatives too."""
    model, batching, profile = static
    for v1, edge in ((0.0, True), (1e-4, False)):
        if batching == "padded" and profile and v1 > 0:
            continue  # the NumPy cap search is not reliable there (reported to i9-solver): see the slow test
        sc = kind_scenario(7, K, model, v1, batching, profile, edge)
        sols = [solve_homogeneous(sc), _np_continuous(sc)]
        from numerics import solve_heterogeneous

        sols.append(solve_heterogeneous(sc, integer=True))
        for sol in sols:
            env, ad = sensitivity(sc, sol), sensitivity_autodiff(sc, sol)
            assert env.mode == ad.mode == ("optimal" if sol is sols[1] else "fixed")
            rel = 1e-7 if sol is sols[1] else AGREE
            _assert_tables_agree(env, ad, rel=rel)
            if profile:
                scale = np.max(np.abs(env.profile))
                assert np.allclose(env.profile, ad.profile, rtol=rel, atol=1e-6 * rel * scale)


@pytest.mark.slow
@pytest.mark.parametrize("static", STATIC_KINDS)
def test_every_kind_envelope_vs_autodiff_vs_fd_slow(static):
    """Slow: every static combination; at the JAX continuous optimum, envelope vs implicit autodiff
    (1e-9) and vs central differences of the JAX optimum (h = 1e-6 relative, FD_REL)."""
    model, batching, profile = static
    for v1 in (0.0, 1e-4):
        for seed in range(3):
            sc = kind_scenario(40 + seed, K, model, v1, batching, profile, edge=bool(seed % 2))
            sol, opt = _jax_optimum_solution(sc)
            if bool(opt.vertex) and batching == "padded" and profile:
                continue  # a kink of G* (the common cap on an integer): one-sided derivatives
            env = sensitivity(sc, sol, lengths="optimal")
            _assert_tables_agree(env, sensitivity_autodiff(sc, sol, lengths="optimal"), rel=1e-8)
            _fd_check(env, sc, lambda s: float(_jax_optimum_solution(s)[1].goodput), users=(0, 4))


def test_bits_per_token_and_profile_derivatives_vs_solver_fd():
    """dG/ds_k (new) and the per-position dG/dalpha_{k,j} of a profile vs central differences of the
    NumPy continuous solver (Shannon rate, v1 > 0 ragged: Dinkelbach), h = 1e-6 relative."""
    sc = kind_scenario(11, K, "shannon", 1e-4, "ragged", True, edge=False)
    sol = _np_continuous(sc)
    env = sensitivity(sc, sol)
    assert env.mode == "optimal" and env.profile.shape == (K, sc.max_draft)
    assert np.allclose(env.users["dG_dalpha"], env.profile.sum(axis=1), rtol=1e-14)
    _fd_check(env, sc, lambda s: _np_continuous(s).goodput, users=(0, 3))


# ============================================================== figure: marginal goodput
REGIMES = ("homogeneous", "heterogeneous")


@pytest.fixture(scope="module")
def figure_table():
    from figures import marginal_goodput as fig

    return fig.data(regimes=REGIMES)


def test_marginal_goodput_figure_table(figure_table):
    from figures import marginal_goodput as fig
    from figures._pipeline import check_table
    from numerics import solve_heterogeneous

    systems = fig.scenarios()
    sc = systems["linear"]
    assert sc.n_users == 6 and len(np.unique(sc.t_draft)) == 6 and len(np.unique(sc.spectral_efficiency)) == 6
    sp = systems["shannon-v1-profile"]
    assert sp.rate_model == "shannon" and sp.v1 > 0 and sp.positional  # issue 15 item 5
    t = figure_table
    assert check_table(t) == 6 * len(REGIMES) * len(systems)
    for name, sc in systems.items():
        for regime in REGIMES:
            m = (t["regime"] == regime) & (t["scenario"] == name)
            sol = solve_homogeneous(sc) if regime == "homogeneous" else solve_heterogeneous(sc, integer=True)
            assert np.array_equal(t["L"][m], sol.draft_lengths) and np.array_equal(t["beta"][m], sol.bandwidth)
            served = t["beta"][m] > 0
            per_user = t["per_mhz_user"][m]
            # KKT: the marginal value of band is the same for every served user, 0 for the others
            assert np.allclose(per_user[served], per_user[served][0], rtol=1e-10) and np.all(per_user[~served] == 0)
            env = sensitivity(sc, sol)
            assert np.array_equal(t["per_alpha"][m], 0.01 * env.users["dG_dalpha"])
            assert np.all(t["per_alpha"][m] > 0) and np.all(t["goodput"][m] == sol.goodput)
            if sc.rate_model == "linear":
                # r depends on beta B only, so an extra MHz is worth the same wherever it goes
                assert np.allclose(t["per_mhz_total"][m], per_user[served][0], rtol=1e-12)
            else:
                # Shannon: B dG/dB = sum_k nu_k L_k s_k / r_k = lambda sum_k r_k / r'_k > lambda sum_k beta_k
                # = lambda, since r(beta) > beta r'(beta) for a strictly concave rate with r(0) = 0
                assert np.all(t["per_mhz_total"][m] > per_user[served][0])
    # at a common draft length A is convex in alpha: +0.01 is worth more to the better drafter
    h = (t["regime"] == "homogeneous") & (t["scenario"] == "linear")
    order = np.argsort(t["alpha"][h])
    assert np.all(np.diff(t["per_alpha"][h][order]) > 0)


def test_marginal_goodput_figure_draws(figure_table):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from figures import marginal_goodput as fig
    from figures._pipeline import figure_modules

    assert figure_modules()["marginal_goodput"] is fig and fig.TITLE.endswith(".")
    f = fig.plot(figure_table)
    assert len(f.axes) == 4 and all(ax.patches for ax in f.axes)
    plt.close(f)
