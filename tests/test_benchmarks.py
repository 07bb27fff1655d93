"""The benchmark scripts record a failed solve as failed: a status, its reason, and no time.

Issue 9, item 5: the homogeneous benchmark used to write the time to a CVXPY failure as a
finite time, and the ``solver_time`` figure drew it as a timing. These tests run the scripts'
``main`` on one tiny size with solvers made to fail, and read the CSV back through the figure.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import _bench
import bench_heterogeneous
import bench_homogeneous

from figures import solver_time


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_timed_and_row_never_time_a_failure():
    sec, out, err = _bench.timed(lambda: 1 / 0)
    assert np.isnan(sec) and out is None and err.startswith("ZeroDivisionError")
    r = _bench.row(K=10, solver="x", status="failed", seconds=0.5, detail=err)
    assert r["seconds"] == "" and r["status"] == "failed" and set(r) == set(_bench.COLUMNS)
    sec, out, err = _bench.timed(lambda: sum(range(10)), repeats=2)
    assert sec > 0 and out == 45 and err is None


def test_time_limit_turns_a_slow_solve_into_a_failure():
    import time

    sec, _out, err = _bench.timed(lambda: time.sleep(2.0), limit=0.05)
    assert np.isnan(sec) and err.startswith("SolveTimeout")


def test_homogeneous_benchmark_writes_failures_as_failed(tmp_path, monkeypatch):
    def broken(sc):
        raise bench_homogeneous.CvxpyFailed("CLARABEL status infeasible")

    monkeypatch.setattr(bench_homogeneous, "cvxpy_solve", broken)
    assert bench_homogeneous.main(["--quick", "--sizes", "10", "--out", str(tmp_path)]) == 0
    rows = _read(tmp_path / "homogeneous.csv")
    assert {r["solver"] for r in rows} == {"ours", "cvxpy"} and len(rows) == 4  # two rate models
    for r in rows:
        if r["solver"] == "cvxpy":
            assert r["status"] == "failed" and r["seconds"] == "" and "infeasible" in r["detail"]
        else:
            assert r["status"] == "ok" and float(r["seconds"]) > 0 and float(r["goodput"]) > 0


def test_heterogeneous_benchmark_writes_failures_as_failed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    def fails_when_integer(sc, integer=True):  # the continuous answer: a stand-in, not the solver
        if integer:
            raise RuntimeError("lambda root of the inner problem not bracketed")
        return SimpleNamespace(goodput=100.0, gap=0.0, multipliers={"method": "continuous", "passes": 7})

    def conic_fails(sc):
        from conic_reference import ConicResult

        K = sc.n_users
        return ConicResult("failed: user_limit", np.nan, np.zeros(K), np.zeros(K), np.nan, 0.1, 0.1)

    monkeypatch.setattr(bench_heterogeneous, "solve_heterogeneous", fails_when_integer)
    monkeypatch.setattr(bench_heterogeneous, "conic_relaxation", conic_fails)
    rows = bench_heterogeneous.run(["presets"], [10], max_conic_K=10, repeats=1, limit=0.0)
    _bench.write_csv(tmp_path / "heterogeneous.csv", rows)
    back = _read(tmp_path / "heterogeneous.csv")
    assert len(back) == 2 * 2 * 2 * 3  # rates x batchings x v1 regimes x (ours cont., ours int., conic)
    for r in back:
        failed = r["relaxation"] == "integer" or r["solver"] == "conic-cvxpy"
        if failed:
            assert r["status"] == "failed" and r["seconds"] == "" and r["detail"]
        else:
            assert r["status"] == "ok" and float(r["seconds"]) > 0 and r["passes"] == "7"
    # the figure reads them back as failed, without a time
    (tmp_path / "homogeneous.csv").write_text((Path(solver_time.RESULTS) / "homogeneous.csv").read_text())
    t = solver_time.data(tmp_path)
    het = t["regime"] == "heterogeneous"
    bad = het & (t["status"] == "failed")
    assert bad.sum() >= 16 and np.all(np.isnan(t["seconds"][bad]))


@pytest.mark.parametrize("family", _bench.FAMILIES)
def test_families_are_seeded_and_scaled(family):
    a = _bench.make_scenario(family, 20, "shannon", "padded", v1_zero=False)
    b = _bench.make_scenario(family, 20, "shannon", "padded", v1_zero=False)
    assert a == b and a.n_users == 20 and a.batching == "padded" and a.rate_model == "shannon"
    assert _bench.make_scenario(family, 20, "linear", v1_zero=True).v1 == 0.0
    if family != "wide-spread":  # v1 K stays fixed as K grows
        big = _bench.make_scenario(family, 2000, "linear")
        assert big.v1 * 2000 == pytest.approx(a.v1 * 20, rel=1e-12)
