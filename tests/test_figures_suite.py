"""Figures (b)..(j): each data() on reduced sizes, checked for the physical and structural
property it illustrates; each plot() draws its table; two full renders are byte-stable."""

from __future__ import annotations

import csv
import statistics

import numpy as np
import pytest

from figures import analysis_vs_montecarlo as fig_h
from figures import band_share_compensation as fig_c
from figures import gain_vs_heterogeneity as fig_g
from figures import goodput_per_task as fig_i
from figures import goodput_vs_bandwidth as fig_f
from figures import goodput_vs_draft_length as fig_b
from figures import goodput_vs_users as fig_e
from figures import heterogeneous_reward as fig_d
from figures import solver_time as fig_j
from figures._pipeline import check_table, figure_modules, render
from numerics import BASELINES, goodput

SUITE = (fig_b, fig_c, fig_d, fig_e, fig_f, fig_g, fig_h, fig_i, fig_j)
REL = 1e-9  # relative slack of an ordering: round-off of two independent float evaluations


def by(table, **eq):
    m = np.ones(len(next(iter(table.values()))), bool)
    for k, v in eq.items():
        m &= np.asarray(table[k]) == v
    return m


def test_modules_are_registered():
    mods = figure_modules()
    for mod in SUITE:
        assert mods[mod.NAME] is mod and mod.__name__.endswith(mod.NAME)
        assert mod.TITLE.endswith(".") and len(mod.TITLE) < 140


# ---------------------------------------------------------------- (b)
def test_b_optimum_marked_is_the_maximum():
    t = fig_b.data(users=(1, 8))
    check_table(t)
    for K in (1, 8):
        m = by(t, K=K)
        assert np.count_nonzero(t["optimum"][m]) == 1
        assert t["goodput"][m][t["optimum"][m] == 1][0] == np.max(t["goodput"][m])
        assert np.all(t["goodput"][m] > 0)


# ---------------------------------------------------------------- (c)
def test_c_compensation_direction():
    t = fig_c.data(users=3, factors=(0.5, 1.0, 2.0, 4.0), cqis=(2, 6, 10, 14))
    for sweep, sign in (("device", 1), ("channel", -1)):
        m0 = by(t, sweep=sweep, user=0)
        x, b = t["x"][m0], t["beta"][m0]
        assert np.all(np.diff(x) > 0)
        assert np.all(sign * np.diff(b) > 0)  # H3: share up with t_0, down with eta_0
        for xv in np.unique(t["x"][by(t, sweep=sweep)]):  # H2: the whole band is used
            assert t["beta"][by(t, sweep=sweep) & (t["x"] == xv)].sum() == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------- (d)
def test_d_reward_direction():
    t = fig_d.data(users=5)
    order = np.argsort(t["alpha"])
    assert np.all(np.diff(t["L"][order]) >= 0)  # D4: longer drafts for higher alpha
    assert np.all(np.diff(t["beta"][order]) >= -1e-12)  # D4: at least as much band
    assert t["beta"].sum() <= 1 + 1e-12
    s = fig_d.scenario(5)
    assert t["goodput"][0] == pytest.approx(goodput(s, t["L"], t["beta"]), rel=1e-12)


# ---------------------------------------------------------------- (e), (f): orderings by construction
def _orderings(t, key, values):
    for v in values:
        G = {m: float(t["goodput"][by(t, method=m, **{key: v})][0]) for m in BASELINES}
        assert all(g > 0 for g in G.values())
        assert G["homogeneous"] >= G["equal-best"] * (1 - REL)  # equal band is feasible for H1-H4
        assert G["equal-best"] >= G["equal-fixed"] * (1 - REL)  # best common L beats L = 4
        assert G["heterogeneous"] >= G["homogeneous"] * (1 - REL)  # common L is a per-user L
        assert G["heterogeneous"] >= G["equal-heterogeneous"] * (1 - REL)
        assert G["equal-heterogeneous"] >= G["equal-best"] * (1 - REL)
    return True


def test_e_goodput_vs_users():
    t = fig_e.data(users=(1, 4, 8))
    check_table(t)
    assert _orderings(t, "K", (1, 4, 8))


def test_f_goodput_vs_bandwidth():
    bands = (1e5, 1e6, 1e7)
    t = fig_f.data(bands=bands, users=4)
    assert _orderings(t, "bandwidth_hz", bands)
    hom = [t["goodput"][by(t, method="homogeneous", bandwidth_hz=b)][0] for b in bands]
    assert np.all(np.diff(hom) >= 0)  # more band never lowers the exact homogeneous optimum


# ---------------------------------------------------------------- (g)
def test_g_gains_nonnegative_and_zero_without_spread():
    t = fig_g.data(spreads=(0.0, 0.5, 1.0), kinds=("device", "alpha"), users=4)
    assert np.all(t["gain"] >= -REL)
    m = by(t, spread=0.0, kind="device", regime="homogeneous")
    assert abs(t["gain"][m][0]) <= 1e-9  # identical users: the equal split is optimal
    best = fig_g.largest(t)
    assert best["gain"] == np.max(t["gain"])
    assert fig_g.spread_scenario("all", 1.0, 4).n_users == 4
    with pytest.raises(ValueError, match="kind must be one of"):
        fig_g.spread_scenario("colour", 0.5)


# ---------------------------------------------------------------- (h)
def test_h_analysis_agrees_with_monte_carlo():
    cases = (("default", "default", {}, ("equal-best", "homogeneous", "heterogeneous")),
             ("EAGLE", "llama2-eagle", {}, ("homogeneous",)))
    t = fig_h.data(rounds=3000, cases=cases)
    nofade = t["fading"] == 0
    # Bonferroni over the no-fading rows: family level 95%
    z = statistics.NormalDist().inv_cdf(1 - 0.025 / np.count_nonzero(nofade))
    dev = np.abs(t["mc"] - t["analytic"])[nofade]
    assert np.all(dev <= z * t["se"][nofade] + 1e-12 * t["analytic"][nofade])
    assert np.all((t["truncated"] >= 0) & (t["truncated"] <= 1)) and np.all(t["truncated"][nofade] == 0)
    again = fig_h.data(rounds=3000, cases=cases)
    assert all(np.array_equal(t[k], again[k]) for k in t)  # seeded: identical


# ---------------------------------------------------------------- (i)
def test_i_goodput_per_task():
    ids = fig_i.entries()
    assert len(ids) == 16 and not any(e.startswith("lamda") for e in ids)
    t = fig_i.data(limit=3)
    for e in ids[:3]:
        target, draft, task = e.split("/")
        G = {m: float(t["goodput"][by(t, task=task, pair=f"{draft} -> {target}", method=m)][0]) for m in fig_i.METHODS}
        assert G["heterogeneous"] >= G["homogeneous"] * (1 - REL) >= G["equal-best"] * (1 - REL) ** 2
    s = fig_i.task_scenario("vicuna-7b/llama-160m/spider")
    assert np.all(s.alpha == 0.76) and s.bits_per_token[0] == 32 * (15 + 16)


# ---------------------------------------------------------------- (j)
def _write(path, rows, header=("K", "rate_model", "solver", "status", "seconds", "rel_gap")):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_j_reads_benchmark_csv(tmp_path):
    _write(tmp_path / "homogeneous.csv",
           [[10, "linear", "ours", "ok", 1e-4, 0.0], [10, "linear", "cvxpy", "ok", 0.2, 1e-7]])
    _write(tmp_path / "heterogeneous.csv", [[10, "shannon", "ours", "ok", 3e-3, ""]])
    t = fig_j.data(tmp_path)
    assert t["regime"].tolist() == ["homogeneous", "homogeneous", "heterogeneous"]
    assert t["K"].dtype.kind == "i" and np.isnan(t["rel_gap"][2])
    fig_j.plot(t)


def test_j_failed_solves_are_drawn_as_failed_not_timed(tmp_path):
    """A failed solve keeps no time (even if a file carries one) and is drawn as a red cross, not on a curve."""
    import matplotlib.pyplot as plt

    header = ("K", "family", "rate_model", "batching", "v1", "relaxation", "solver", "status", "seconds", "detail")
    _write(tmp_path / "homogeneous.csv",
           [[10, "wide-spread", "linear", "ragged", 1e-5, "integer", "ours", "ok", 1e-4, ""],
            [10, "wide-spread", "linear", "ragged", 1e-5, "integer", "cvxpy", "failed", 0.12, "CLARABEL SolverError"]],
           header)
    _write(tmp_path / "heterogeneous.csv", [
        [K, "v1K-fixed", "linear", b, 1e-4, rel, solver, "failed" if (K, solver) == (100, "conic-cvxpy") else "ok",
         "" if (K, solver) == (100, "conic-cvxpy") else 1e-3 * K, ""]
        for K in (10, 100) for b in ("ragged", "padded")
        for rel, solver in (("continuous", "ours"), ("integer", "ours"), ("continuous", "conic-cvxpy"))], header)
    t = fig_j.data(tmp_path)
    failed = t["status"] == "failed"
    assert failed.sum() == 3 and np.all(np.isnan(t["seconds"][failed])) and np.all(t["seconds"][~failed] > 0)
    fig = fig_j.plot(t)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        drawn = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), float)]
        assert 0.12 not in drawn  # the failed solve's time is never drawn
        crosses = [c for c in ax.collections if len(c.get_offsets())]
        assert len(crosses) == 1 and len(crosses[0].get_offsets()) == 1  # one failed solve per panel
        assert any("failed solve" in txt.get_text() for txt in ax.get_legend().get_texts())
    plt.close(fig)


def test_j_missing_file_and_column(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"homogeneous.csv' not found: run `make bench`"):
        fig_j.data(tmp_path)
    (tmp_path / "homogeneous.csv").write_text("K,solver\n1,ours\n")
    with pytest.raises(ValueError, match="lack column 'rate_model'"):
        fig_j.data(tmp_path)
    _write(tmp_path / "homogeneous.csv", [[10, "linear", "ours", "ok", "", 0.0]])
    _write(tmp_path / "heterogeneous.csv", [[10, "linear", "ours", "ok", 1e-3, 0.0]])
    with pytest.raises(ValueError, match="an ok row without a time"):
        fig_j.data(tmp_path)


def test_j_committed_results_if_present():
    if not all((fig_j.RESULTS / f"{r}.csv").is_file() for r in fig_j.REGIMES):
        pytest.skip("figures/data not written yet (make bench)")
    t = fig_j.data()
    ok = t["status"] == "ok"
    assert np.all(t["seconds"][ok] > 0) and np.all(np.isnan(t["seconds"][~ok])) and np.all(t["K"] >= 1)
    assert {"homogeneous", "heterogeneous"} == set(t["regime"].tolist())


# ---------------------------------------------------------------- plots and renders
@pytest.mark.parametrize("mod, kwargs", [
    (fig_b, dict(users=(2,))), (fig_c, dict(users=2, factors=(1.0, 2.0), cqis=(3, 9))),
    (fig_d, dict(users=3)), (fig_e, dict(users=(2, 3))), (fig_f, dict(bands=(1e6, 2e6), users=2)),
    (fig_g, dict(spreads=(0.0, 1.0), kinds=("channel",), users=3)),
    (fig_h, dict(rounds=200, cases=(("default", "default", {}, ("homogeneous",)),))),
    (fig_i, dict(limit=1)),
])
def test_plot_draws_the_table(mod, kwargs):
    import matplotlib.pyplot as plt

    fig = mod.plot(mod.data(**kwargs))
    assert fig.axes
    plt.close(fig)


@pytest.mark.parametrize("mod", [fig_b, fig_c])
def test_full_render_is_deterministic(tmp_path, mod):
    a = render(mod, tmp_path / "a")
    b = render(mod, tmp_path / "b")
    for pa, pb in zip(a, b, strict=True):
        assert pa.stat().st_size > 0 and pa.read_bytes() == pb.read_bytes(), pa.name
