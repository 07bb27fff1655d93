"""The study figures (figures/study_*.py): each data() on a tiny study, checked against the
sweep's own tables (and scipy's Wilson interval); plots draw; a render from a study file twice,
with the in-process cache cleared in between, is byte-identical."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from figures import _study
from figures import study_gain_cdf as fig_cdf
from figures import study_gain_vs_users as fig_gain
from figures import study_zero_draft as fig_zero
from figures._pipeline import check_table, figure_modules, render
from numerics import sweep as S

TINY = {"name": "tiny", "seed": 3, "drops": 3, "chunk_size": 3, "drop": {"environment": "uma"},
        "scenario": {"bandwidth_hz": 1.4e6}, "axes": {"n_users": [2, 3]}}


@pytest.fixture(scope="module")
def tiny():
    st = S.Study.from_dict(TINY)
    return st, S.run_sweep(st, None, workers=0)


def test_registered_and_shipped_study_is_valid():
    mods = figure_modules()
    for mod in (fig_gain, fig_cdf, fig_zero):
        assert mods[mod.NAME] is mod and mod.TITLE.endswith(".") and len(mod.TITLE) < 140
    st = S.load_study(_study.STUDY_FILE)  # the shipped study file parses and validates
    assert list(st.axes) == ["n_users"] and set(st.methods) == set(S.BASELINES)


def test_gain_table_is_the_summary(tiny):
    st, res = tiny
    t = fig_gain.data(st)
    n = check_table(t)
    g = res.summary[res.summary["kind"] == "gain"]
    assert n == len(g) == 2 * 2 * 5  # K values x regimes x other methods
    np.testing.assert_array_equal(t["mean"], g["mean"].to_numpy())
    assert np.all(t["ci_low"] <= t["mean"]) and np.all(t["mean"] <= t["ci_high"])


def test_cdf_table_has_every_drop_sorted(tiny):
    _st, res = tiny
    t = fig_cdf.data(res)
    check_table(t)
    r = res.results.set_index(["n_users", "drop", "method"])["goodput"]
    for regime, base in (("heterogeneous", "equal-best"), ("homogeneous", "autoregressive")):
        m = (t["regime"] == regime) & (t["baseline"] == base)
        assert m.sum() == 2 * 3 and np.all(np.diff(t["gain"][m]) >= 0)
        for K, d, g in zip(t["K"][m], t["drop"][m], t["gain"][m], strict=True):
            assert g == r[(K, d, regime)] / r[(K, d, base)] - 1


def test_zero_draft_share_and_wilson_interval(tiny):
    _st, res = tiny
    t = fig_zero.data(res)
    check_table(t)
    assert set(t["method"]) == {"heterogeneous", "equal-heterogeneous"}
    for K, m, share, lo, hi, n, k in zip(*(t[c] for c in ("K", "method", "share", "ci_low", "ci_high", "n",
                                                           "drops_with_zero")), strict=True):
        sub = res.results[(res.results["n_users"] == K) & (res.results["method"] == m)]
        assert n == 3 and k == int((sub["zero_draft_users"] > 0).sum()) and share == k / n
        # Wilson score interval written out (Wilson 1927): (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
        z = stats.norm.ppf(0.975)
        c = (share + z * z / (2 * n)) / (1 + z * z / n)
        h = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert (lo, hi) == pytest.approx((max(0.0, c - h), min(1.0, c + h)), abs=1e-12)


def test_plots_draw(tiny):
    import matplotlib.pyplot as plt

    _, res = tiny
    for mod in (fig_gain, fig_cdf, fig_zero):
        fig = mod.plot(mod.data(res))  # a SweepResult is drawn as it is
        assert fig.axes
        plt.close(fig)


def test_only_the_number_of_users_may_vary():
    st = S.Study.from_dict({**TINY, "drops": 1, "drop": {}, "axes": {"n_users": [2], "environment": ["uma", "umi"]}})
    msg = r"the study figures need n_users as the only axis, got also \['environment'\]"
    with pytest.raises(ValueError, match=msg):
        fig_gain.data(st)


def test_render_from_a_study_file_is_byte_identical(tmp_path, monkeypatch):
    import tomli_w

    f = tmp_path / "study.toml"
    f.write_text(tomli_w.dumps({**TINY, "drops": 2}))
    monkeypatch.setattr(_study, "STUDY_FILE", f)
    _study._shipped.cache_clear()
    a = render(fig_gain, tmp_path / "a")
    _study._shipped.cache_clear()  # recompute: nothing cached may make two renders agree
    b = render(fig_gain, tmp_path / "b")
    _study._shipped.cache_clear()
    for pa, pb in zip(a, b, strict=True):
        assert pa.stat().st_size > 0 and pa.read_bytes() == pb.read_bytes(), pa.name
    monkeypatch.setattr(_study, "STUDY_FILE", tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError, match=r"missing\.toml' is missing"):
        fig_zero.data()


def test_subsets_split_by_the_other_axes():
    st = S.Study.from_dict({**TINY, "drops": 1, "drop": {}, "scenario": {},
                            "axes": {"environment": ["uma", "umi"], "bandwidth_hz": [1.4e6], "n_users": [2, 3]}})
    res = S.run_sweep(st, None, workers=0)
    parts = _study.subsets(res)
    assert [v for v, _ in parts] == [{"environment": "uma", "bandwidth_hz": 1.4e6},
                                     {"environment": "umi", "bandwidth_hz": 1.4e6}]
    for values, part in parts:
        pts = [p for p in range(st.n_points) if st.point(p)["environment"] == values["environment"]]
        assert sorted(part.results["point"].unique()) == pts == sorted(part.summary["point"].unique())
        t = fig_gain.data(part)  # drawable: n_users is the only axis left
        assert set(t["K"]) == {2, 3}


def _with_failures(tiny):
    """The tiny result with heterogeneous failed on every drop at K = 3 (rows turned into error rows)."""
    import dataclasses

    st, res = tiny
    r = res.results.copy()
    bad = (r["n_users"] == 3) & (r["method"] == "heterogeneous")
    r.loc[bad, "status"] = "error"
    r.loc[bad, ["goodput", "zero_draft_users"]] = np.nan
    return dataclasses.replace(res, results=r, summary=S.summarize(r, st))


def test_failed_solves_are_counted_and_named_in_the_titles(tiny):
    """New-user test F6: the figures say that failed solves were left out (a point where a method
    failed on every drop has no share, not a crash)."""
    import matplotlib.pyplot as plt

    res = _with_failures(tiny)
    t = fig_zero.data(res)
    het = t["method"] == "heterogeneous"
    assert t["n_failed"][het].tolist() == [0, 3] and t["n"][het].tolist() == [3, 0]
    assert np.isnan(t["share"][het][1]) and not np.isnan(t["share"][het][0])
    g = fig_gain.data(res)
    m = (g["regime"] == "heterogeneous") & (g["K"] == 3)
    assert np.all(g["n_failed"][m] == 3) and np.all(g["n"][m] == 0)
    for mod, table in ((fig_zero, t), (fig_gain, g)):
        fig = mod.plot(table)
        title = fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()
        assert "0 to 3 drops" in title and "failed solves left out" in title, title
        plt.close(fig)
    tiny_t = fig_zero.data(tiny[1])
    fig = fig_zero.plot(tiny_t)
    assert "failed" not in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize("methods, skipped", [
    (["equal-best"], {"study_gain_vs_users", "study_gain_cdf", "study_zero_draft"}),
    (["heterogeneous"], {"study_gain_vs_users", "study_gain_cdf"}),
    (["homogeneous", "equal-fixed"], {"study_zero_draft"}),
])
def test_figures_that_do_not_apply_raise_not_applicable(methods, skipped):
    """New-user test F1: a figure whose methods the study did not run raises NotApplicable (a
    MissingInput: the pipeline skips it with one line), the others draw."""
    import matplotlib.pyplot as plt

    st = S.Study.from_dict({**TINY, "drops": 1, "methods": methods})
    res = S.run_sweep(st, None, workers=0)
    for mod in (fig_gain, fig_cdf, fig_zero):
        if mod.NAME in skipped:
            with pytest.raises(_study.NotApplicable, match="the study ran"):
                mod.data(res)
        else:
            plt.close(mod.plot(mod.data(res)))
    assert issubclass(_study.NotApplicable, FileNotFoundError)  # render_all's skip path


def test_no_successful_solve_is_not_applicable(tiny):
    import dataclasses

    st, res = tiny
    r = res.results.copy()
    r.loc[r["method"].isin(["heterogeneous", "equal-heterogeneous"]), "status"] = "error"
    broken = dataclasses.replace(res, results=r, summary=S.summarize(r, st))
    with pytest.raises(_study.NotApplicable, match="failed on every drop"):
        fig_zero.data(broken)
