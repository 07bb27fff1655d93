"""The sweep (numerics/sweep.py, `multispin sweep`): study validation, identical tables for 1 and
2 Dask workers (processes) and without Dask, resume after a partial run, a failing solve recorded
(not fatal), and the summary's statistics against scipy.stats on the same data.

Dask clusters are kept small: the worker-count identity uses processes (what `multispin sweep`
starts); the failure test a threaded cluster, so that a monkeypatched solver is seen by the workers.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from numerics import sweep as S
from numerics.cli import main as cli_main

TINY = {
    "name": "tiny", "seed": 7, "drops": 4, "chunk_size": 2,
    "methods": ["equal-fixed", "equal-best", "homogeneous", "heterogeneous"],
    "drop": {"environment": "umi"},
    "axes": {"n_users": [2, 3], "bandwidth_hz": [1.4e6]},
}
TIME = "solve_time_s"  # a measurement, not a result: the only column allowed to differ between runs


def study(**over):
    return S.Study.from_dict({**TINY, **over})


def no_time(df):
    return df.drop(columns=[TIME])


def write_study(path, d):
    import tomli_w

    path.write_text(tomli_w.dumps(d))
    return path


# ---------------------------------------------------------------- the study file
def test_points_chunks_and_seeds():
    st = study(axes={"n_users": [2, 3], "environment": ["uma", "umi"]}, drop={})
    assert st.n_points == 4 and st.points()[1] == {"n_users": 2, "environment": "umi"} == st.point(1)
    assert st.chunks() == [(p, a, a + 2) for p in range(4) for a in (0, 2)]
    assert st.with_drops(5).chunks()[:3] == [(0, 0, 2), (0, 2, 4), (0, 4, 5)]
    # drop d's seed is the d-th child of SeedSequence(seed).spawn (numpy's own spawn, the reference)
    kids = np.random.SeedSequence(7).spawn(4)
    for d in range(4):
        assert S.drop_seed(7, d).generate_state(4).tolist() == kids[d].generate_state(4).tolist()
    assert S.Study.from_dict(st.to_dict()).to_dict() == st.to_dict()


@pytest.mark.parametrize("over, match", [
    (dict(colour=1), "unknown study key 'colour'"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(drops=0), "drops must be an integer >= 1, got 0"),
    (dict(drops=10**8), "drops must be <= 10000000, got 100000000"),
    (dict(chunk_size=1.5), r"chunk_size must be an integer >= 1, got 1\.5"),
    (dict(methods=["greedy"]), "methods must be names of .* got 'greedy'"),
    (dict(methods=["homogeneous", "homogeneous"]), "methods must not repeat a name"),
    (dict(axes={"n_users": 3}), "axes.n_users must be a non-empty list of values, got 3"),
    (dict(axes={"n_users": [2], "speed": [1]}), "unknown axis 'speed'"),
    (dict(axes={"bandwidth_hz": [1e6]}), r"n_users must be set in \[axes\] or \[scenario\]"),
    (dict(drop={"radius": 3}), "unknown drop key 'radius'"),
    (dict(drop={"preset": "default"}), "drop.preset: set the base preset at the top level"),
    (dict(scenario={"colour": 1}), "unknown scenario key 'colour'"),
    (dict(scenario={"bandwidth_hz": 1e6}), r"axes.bandwidth_hz is also set in \[scenario\]"),
    (dict(axes={"n_users": [2, 0]}), r"axis point \{'n_users': 0\}: n_users must be an integer >= 1, got 0"),
    (dict(axes={"n_users": [2], "v1": [-1.0]}),
     r"axis point \{'n_users': 2, 'v1': -1.0\}: v1 must be a finite number >= 0"),
    (dict(axes={"n_users": [2], "cell_radius_m": [9000.0]}), "cell_radius_m must be in"),
    (dict(preset="nope"), "preset must be one of"),
    # new-user test F3: the seed is stored in an int64 column; 2^63 would wrap to a negative number
    (dict(seed=2**63), r"seed must be <= 9223372036854775807, got 9223372036854775808"),
    (dict(seed=2**64), r"seed must be <= 9223372036854775807, got 18446744073709551616"),
    # new-user test F4: a repeated axis value double-counts the same drops in the figures
    (dict(axes={"n_users": [2, 4], "bandwidth_hz": [1.4e6, 1.4e6]}), r"axes.bandwidth_hz repeats the value 1400000\.0"),
    (dict(axes={"n_users": [2, 2.0]}), r"axes.n_users repeats the value 2\.0"),
    (dict(axes={"n_users": [2], "alpha": [[0.6, 0.7], [0.6, 0.7]]}), r"axes.alpha repeats the value \[0\.6, 0\.7\]"),
])
def test_bad_study(over, match):
    with pytest.raises(ValueError, match=match):
        S.Study.from_dict({**TINY, **over})


def test_load_study_errors(tmp_path):
    with pytest.raises(ValueError, match=r"study file '.*nope\.toml' does not exist"):
        S.load_study(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = \n")
    with pytest.raises(ValueError, match=r"study file '.*bad\.toml': TOML syntax error"):
        S.load_study(bad)
    with pytest.raises(ValueError, match=r"study file '.*s\.toml': study key 'drops' is required"):
        S.load_study(write_study(tmp_path / "s.toml", {"seed": 1, "axes": {"n_users": [2]}}))


def test_largest_seed_is_stored_exactly(tmp_path):
    """New-user test F3: seed 2^63 - 1 (the largest accepted) round-trips through results.parquet."""
    st = study(seed=2**63 - 1, drops=1, methods=["equal-best"], axes={"n_users": [2]})
    S.run_sweep(st, tmp_path / "o", workers=0)
    assert pd.read_parquet(tmp_path / "o" / "results.parquet")["seed"].tolist() == [2**63 - 1]


def test_axis_mixing_scalars_and_lists_is_written(tmp_path):
    """New-user test F2: an axis holding 0.5 and [0.6, 0.7] is one text (JSON) column, so Parquet
    stores it; an all-number axis stays numeric."""
    st = study(drops=1, methods=["equal-best", "heterogeneous"],
               axes={"n_users": [2], "alpha": [0.5, [0.6, 0.7]], "bandwidth_hz": [1.4e6, 5e6]})
    res = S.run_sweep(st, tmp_path / "o", workers=0)
    back = pd.read_parquet(tmp_path / "o" / "results.parquet")
    assert back["alpha"].tolist() == ["0.5"] * 4 + ["[0.6, 0.7]"] * 4
    assert back["bandwidth_hz"].dtype == np.float64
    assert (back["status"] == "ok").all() and len(res.summary) > 0
    assert (tmp_path / "o" / "summary.csv").is_file()


def test_scheduler_address_errors_name_the_option():
    """New-user test F6: a malformed --scheduler address is reported as --scheduler, not by Dask's parser."""
    for addr in ("foo", "tcp://127.0.0.1:18786x"):
        with pytest.raises(ValueError, match=r"--scheduler '.*': "):
            S.run_sweep(study(), None, scheduler=addr)


# ---------------------------------------------------------------- determinism and resume
def test_identical_tables_for_one_and_two_workers_and_without_dask(tmp_path):
    st = study()
    serial = S.run_sweep(st, tmp_path / "s", workers=0)
    one = S.run_sweep(st, tmp_path / "w1", workers=1)
    two = S.run_sweep(st, tmp_path / "w2", workers=2)
    assert len(serial.results) == 2 * 4 * 4 and (serial.results["status"] == "ok").all()
    for r in (one, two):
        pd.testing.assert_frame_equal(no_time(r.results), no_time(serial.results))
        pd.testing.assert_frame_equal(r.summary, serial.summary)
    for name in ("summary.csv", "headline.csv", "failures.csv"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes() \
            == (tmp_path / "s" / name).read_bytes(), name
    on_disk = pd.read_parquet(tmp_path / "w2" / "results.parquet")
    pd.testing.assert_frame_equal(S._typed(on_disk), two.results)


def test_chunk_size_and_more_drops_give_the_same_drops(tmp_path):
    a = S.run_sweep(study(chunk_size=3, drops=6), None, workers=0)
    b = S.run_sweep(study(chunk_size=2), tmp_path / "b", workers=0, drops=3)  # 3 drops first ...
    b = S.run_sweep(study(chunk_size=2), tmp_path / "b", workers=0, drops=6)  # ... then 6: resumes
    assert b.skipped_chunks == 2 * 1 and b.computed_chunks == 2 * 2  # (0,2) kept; (2,4), (4,6) new
    pd.testing.assert_frame_equal(no_time(a.results), no_time(b.results))


def test_resume_after_a_partial_run(tmp_path):
    st = study()
    full = S.run_sweep(st, tmp_path / "full", workers=0)
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(tmp_path / "full" / "study.json", part)
    (part / "chunks").mkdir()
    chunks = sorted((tmp_path / "full" / "chunks").glob("*.parquet"))
    for c in chunks[::2]:  # a run killed after half of its chunks ...
        shutil.copy(c, part / "chunks")
    (part / "chunks" / f".{chunks[1].name}.123.tmp").write_bytes(b"half-written")  # ... and mid-write
    res = S.run_sweep(st, part, workers=0)
    assert res.computed_chunks == len(chunks) - len(chunks[::2]) and res.skipped_chunks == len(chunks[::2])
    pd.testing.assert_frame_equal(no_time(res.results), no_time(full.results))
    assert (part / "summary.csv").read_bytes() == (tmp_path / "full" / "summary.csv").read_bytes()
    again = S.run_sweep(st, part, workers=0)  # nothing left to do: the same table, times included
    assert again.computed_chunks == 0
    pd.testing.assert_frame_equal(again.results, res.results)


def test_out_dir_of_another_study(tmp_path):
    S.run_sweep(study(), tmp_path, workers=0, drops=1)
    with pytest.raises(ValueError, match="holds chunks of another study"):
        S.run_sweep(study(seed=8), tmp_path, workers=0, drops=1)


# ---------------------------------------------------------------- failures
def test_failing_solve_is_recorded_not_fatal(tmp_path, monkeypatch):
    """A solver that raises on one scenario (drop 1 at the second axis point): that row carries
    the error and the drop's seed, the other rows and the summary go on."""
    from distributed import Client, LocalCluster

    st = study()
    target, _ = S.drop_scenario(st, 1, 1)
    real = S.baseline

    def flaky(s, name, **kw):
        if name == "heterogeneous" and s == target:
            raise RuntimeError("lambda root of the inner problem not bracketed")
        return real(s, name, **kw)

    monkeypatch.setattr(S, "baseline", flaky)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        res = S.run_sweep(st, tmp_path, client=client)
    bad = res.failures
    assert len(bad) == 1
    row = bad.iloc[0]
    assert (row["point"], row["drop"], row["seed"], row["method"]) == (1, 1, 7, "heterogeneous")
    assert row["error"] == "RuntimeError: lambda root of the inner problem not bracketed"
    assert np.isnan(row["goodput"]) and row["status"] == "error"
    assert (res.results["status"] == "ok").sum() == len(res.results) - 1
    rebuilt, _ = S.drop_scenario(st, int(row["point"]), int(row["drop"]))  # reproducible from the row
    assert rebuilt == target
    f = pd.read_csv(tmp_path / "failures.csv")
    assert f[["point", "drop", "seed", "method"]].values.tolist() == [[1, 1, 7, "heterogeneous"]]
    g = res.summary.set_index(["point", "kind", "method", "baseline"])
    assert g.loc[(1, "goodput", "heterogeneous", ""), ["n", "n_failed"]].tolist() == [3, 1]
    assert g.loc[(1, "gain", "heterogeneous", "equal-best"), ["n", "n_failed"]].tolist() == [3, 1]
    assert g.loc[(0, "gain", "heterogeneous", "equal-best"), ["n", "n_failed"]].tolist() == [4, 0]


def test_failing_drop_is_recorded(monkeypatch):
    st = study(drops=2)
    real = S.DropModel.sample

    def sample(self, n_users, seed, **kw):
        if seed.spawn_key == (1,):
            raise ValueError("no covered position after 10000 draws")
        return real(self, n_users, seed, **kw)

    monkeypatch.setattr(S.DropModel, "sample", sample)
    res = S.run_sweep(st, None, workers=0)
    bad = res.failures
    assert len(bad) == 2 * len(st.methods) and set(bad["drop"]) == {1}
    assert set(bad["error"]) == {"ValueError: no covered position after 10000 draws"}


# ---------------------------------------------------------------- summary statistics
def test_summary_against_scipy_stats():
    st = study(drops=6, chunk_size=6)
    res = S.run_sweep(st, None, workers=0)
    r, summ = res.results, res.summary
    checked = 0
    for _, row in summ.iterrows():
        sub = r[r["point"] == row["point"]]
        G = sub.pivot(index="drop", columns="method", values="goodput")
        x = (G[row["method"]] if row["kind"] == "goodput" else G[row["method"]] / G[row["baseline"]] - 1).to_numpy()
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)  # scipy's own t interval of the mean
        assert row["n"] == x.size == 6
        if np.ptp(x) == 0:  # identical values (e.g. heterogeneous = homogeneous on every drop): no spread
            assert row["ci_low"] == row["ci_high"] == row["mean"]
            continue
        assert row["mean"] == pytest.approx(np.mean(x), rel=1e-12, abs=1e-15)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10, abs=1e-14)
        assert row["median"] == pytest.approx(stats.scoreatpercentile(x, 50), rel=1e-12, abs=1e-15)
        assert row["p05"] == pytest.approx(stats.scoreatpercentile(x, 5), rel=1e-12, abs=1e-15)
        assert row["p95"] == pytest.approx(stats.scoreatpercentile(x, 95), rel=1e-12, abs=1e-15)
        assert (row["min"], row["max"]) == (np.min(x), np.max(x))
        assert row["std"] == pytest.approx(np.std(x, ddof=1), rel=1e-12)
        checked += 1
    assert checked >= 10
    zero = summ[(summ["kind"] == "goodput")].set_index(["point", "method"])["zero_draft_share"]
    for (p, m), share in zero.items():
        sub = r[(r["point"] == p) & (r["method"] == m)]
        assert share == np.mean(sub["zero_draft_users"] > 0)


def test_t_interval_against_scipy():
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 1000):
        x = rng.normal(3.0, 2.0, n)
        ci = stats.t.interval(0.95, n - 1, loc=np.mean(x), scale=stats.sem(x))
        assert S.t_interval(x) == pytest.approx(ci, rel=1e-12)
    assert all(np.isnan(S.t_interval(np.array([1.0]))))


def test_headline_points_at_the_largest_gain():
    st = study()
    res = S.run_sweep(st, None, workers=0)
    h = S.headline(res.results, res.summary, st).set_index(["method", "baseline"])
    row = h.loc[("heterogeneous", "equal-fixed")]
    g = res.summary[(res.summary["kind"] == "gain") & (res.summary["method"] == "heterogeneous")
                    & (res.summary["baseline"] == "equal-fixed")]
    assert row["max_gain"] == g["max"].max() and row["p95_gain"] == g["p95"].max()
    assert row["best_mean_gain"] == g["mean"].max()
    sub = res.results[(res.results["point"] == row["max_point"]) & (res.results["drop"] == row["max_drop"])]
    G = sub.set_index("method")["goodput"]
    assert G["heterogeneous"] / G["equal-fixed"] - 1 == row["max_gain"]
    assert json.loads(row["max_setting"])["n_users"] in (2, 3)


# ---------------------------------------------------------------- command line
def test_cli_sweep(tmp_path, capsys):
    f = write_study(tmp_path / "tiny.toml", {**TINY, "drops": 2})
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o"), "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "study tiny: 2 drops x 2 axis points x 4 methods = 16 solves" in out and "heterogeneous over" in out
    for name in ("results.parquet", "summary.csv", "headline.csv", "failures.csv", "study.json"):
        assert (tmp_path / "o" / name).is_file()
    # the study figures, one folder per value of the axes other than n_users (here bandwidth_hz)
    figs = tmp_path / "o" / "figures" / "bandwidth_hz=1400000.0"
    for name in ("study_gain_vs_users", "study_gain_cdf", "study_zero_draft"):
        assert all((figs / f"{name}.{ext}").stat().st_size > 0 for ext in ("png", "pdf", "csv"))
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o2"), "--workers", "0", "--no-figures"]) == 0
    assert not (tmp_path / "o2" / "figures").exists()


@pytest.mark.parametrize("methods, written, skipped", [
    (["equal-best"], set(), {"study_gain_vs_users", "study_gain_cdf", "study_zero_draft"}),
    (["heterogeneous"], {"study_zero_draft"}, {"study_gain_vs_users", "study_gain_cdf"}),
    (["equal-best", "homogeneous"], {"study_gain_vs_users", "study_gain_cdf"}, {"study_zero_draft"}),
])
def test_cli_sweep_skips_figures_that_do_not_apply(tmp_path, capsys, methods, written, skipped):
    """New-user test F1: a valid study without a regime (or without a per-user-length method) gets
    the figures that apply, a one-line note per skipped one, and exit 0 (was: a matplotlib error, exit 2)."""
    f = write_study(tmp_path / "m.toml", {"name": "m", "seed": 1, "drops": 2, "methods": methods,
                                          "axes": {"n_users": [2, 3]}})
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o"), "--workers", "0"]) == 0
    err = capsys.readouterr().err
    figs = tmp_path / "o" / "figures"
    assert {p.stem for p in figs.glob("*.png")} == written
    lines = [x for x in err.splitlines() if "skipped figure" in x]
    assert sorted(x.split()[4].rstrip(":") for x in lines) == sorted(skipped)
    assert all(x.startswith("multispin sweep: skipped figure ") for x in lines)


def test_cli_sweep_figure_failure_is_internal(tmp_path, capsys, monkeypatch):
    """A figure that breaks after the tables are written is an internal failure: one line, exit 1 (not 2)."""
    from figures import study_gain_cdf

    def broken(table):
        raise ValueError("Number of columns must be a positive integer, not 0")

    monkeypatch.setattr(study_gain_cdf, "plot", broken)
    f = write_study(tmp_path / "tiny.toml", {**TINY, "drops": 1})
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o"), "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "study_gain_cdf" in err and "internal error" in err
    assert (tmp_path / "o" / "results.parquet").is_file()


def test_cli_sweep_closed_stdout_still_writes_the_figures(tmp_path, monkeypatch):
    """New-user test F6: `multispin sweep ... | head -1` ends quietly (141) with the figures written
    (they are rendered before the report on stdout)."""
    import io
    import sys

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    f = write_study(tmp_path / "tiny.toml", {**TINY, "drops": 1})
    monkeypatch.setattr(sys, "stdout", Closed())
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o"), "--workers", "0"]) == 141
    figs = tmp_path / "o" / "figures" / "bandwidth_hz=1400000.0"
    assert {p.stem for p in figs.glob("*.png")} == {"study_gain_vs_users", "study_gain_cdf", "study_zero_draft"}


def test_cli_sweep_figure_folder_of_a_json_axis_value(tmp_path):
    """New-user test F6: an axis over tasks (JSON with '/') gives one flat folder per value, not nested ones."""
    from numerics.cli_sweep import folder_name

    tasks = [[{"acceptance": "vicuna-7b/llama-160m/gsm8k", "fraction": 1.0}],
             [{"acceptance": "vicuna-7b/llama-160m/spider", "fraction": 1.0}]]
    f = write_study(tmp_path / "t.toml", {"name": "t", "seed": 1, "drops": 1,
                                          "methods": ["equal-best", "heterogeneous"],
                                          "axes": {"n_users": [2], "tasks": tasks}})
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o"), "--workers", "0"]) == 0
    folders = sorted(p.name for p in (tmp_path / "o" / "figures").iterdir())
    assert len(folders) == 2 and all("/" not in x and " " not in x and '"' not in x for x in folders)
    assert all((tmp_path / "o" / "figures" / x / "study_gain_cdf.png").is_file() for x in folders)
    assert folder_name("tasks", "a/b") != folder_name("tasks", "a_b")  # safe names stay distinct


@pytest.mark.parametrize("args, match", [
    (["sweep", "nope.toml", "--out", "o"], "study file 'nope.toml' does not exist"),
    (["sweep", "{f}", "--out", "o", "--workers", "-1"], "--workers must be an integer >= 0, got -1"),
    (["sweep", "{f}", "--out", "o", "--drops", "0"], "--drops must be an integer >= 1, got 0"),
    (["sweep", "{f}", "--out", "o", "--workers", "1", "--scheduler", "tcp://x:1"], "give --workers or --scheduler"),
])
def test_cli_sweep_bad_input(tmp_path, capsys, monkeypatch, args, match):
    import re

    monkeypatch.chdir(tmp_path)
    f = write_study(tmp_path / "tiny.toml", TINY)
    assert cli_main([a.format(f=f) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("multispin sweep: error: ") and re.search(match, err)


@pytest.mark.slow
def test_existing_cluster_by_scheduler_address(tmp_path):
    """`--scheduler ADDRESS`: a scheduler and two workers started as separate processes (the `dask`
    command line, on the loopback address), the study pointed at them: the same table as without Dask."""
    import os
    import subprocess
    import sys
    import time

    bindir = os.path.dirname(sys.executable)
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([os.path.join(bindir, "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(600):
            if sched_file.exists() and sched_file.stat().st_size > 0:
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(subprocess.Popen([os.path.join(bindir, "dask"), "worker", address, "--nworkers", "2",
                                       "--nthreads", "1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        f = write_study(tmp_path / "tiny.toml", TINY)
        assert cli_main(["sweep", str(f), "--out", str(tmp_path / "remote"), "--scheduler", address]) == 0
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
    local = S.run_sweep(study(), None, workers=0)
    remote = pd.read_parquet(tmp_path / "remote" / "results.parquet")
    pd.testing.assert_frame_equal(no_time(S._typed(remote)), no_time(local.results))


@pytest.mark.slow
def test_resume_after_a_killed_run(tmp_path):
    """A `multispin sweep` process killed (SIGKILL) once some chunks are on disk, then rerun: the
    same table as an uninterrupted run, and only the missing chunks computed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    f = write_study(tmp_path / "s.toml", {**TINY, "drops": 12, "chunk_size": 1})
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "numerics.cli", "sweep", str(f), "--out", str(out), "--workers", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(1200):
            if len(list((out / "chunks").glob("*.parquet"))) >= 3 or proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = len(list((out / "chunks").glob("*.parquet")))
    assert 0 < done < 24, "the run was not interrupted mid-way"
    res = S.run_sweep(S.load_study(f), out, workers=0)
    assert res.computed_chunks == 24 - done
    ref = S.run_sweep(S.load_study(f), None, workers=0)
    pd.testing.assert_frame_equal(no_time(res.results), no_time(ref.results))


def test_sweep_benchmark_records_date_and_load():
    """The sweep benchmark's CSV says when and under what load each timing was taken (issue-14 note:
    a timing without its conditions cannot be judged); reference: os.getloadavg and the clock."""
    import datetime
    import importlib.util
    import os
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py"
    spec = importlib.util.spec_from_file_location("bench_sweep", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    c = bench._conditions()
    when = datetime.datetime.fromisoformat(c["date_utc"])
    assert when.utcoffset() == datetime.timedelta(0) and before <= when <= datetime.datetime.now(datetime.UTC)
    loads = [float(x) for x in c["uptime_load"].split()]
    assert len(loads) == 3 and loads[0] == pytest.approx(c["load_before"], abs=0.005)
    assert all(x >= 0 for x in loads) and os.getloadavg()  # three load averages, as `uptime` prints
