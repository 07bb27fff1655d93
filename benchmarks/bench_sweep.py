"""Sweep throughput: solves per second of the serial loop, 1 and 2 local Dask workers, in one run.

The same study (the shipped ``scenarios/study.toml`` = ``figures/data/study.toml``, every
method, with ``--drops`` drops per point) is run three ways by :func:`numerics.sweep.run_sweep`:

- ``serial``: the chunks one after the other in this process (``workers=0``, no Dask);
- ``dask-1``, ``dask-2``: a ``LocalCluster`` of 1 or 2 single-threaded worker processes.

``startup_s`` is the cluster's start plus a one-drop warm-up in every worker (imports and first
solves: a cost paid once per sweep; the serial loop gets the same warm-up, untimed);
``run_s`` is the sweep itself (submission to the last chunk, summary
included) and ``solves_per_s`` = solves / run_s. The three result tables are checked to be
identical (all columns but the measured solve times) before anything is written. The machine
may be shared: beside each run the CSV records when it started (``date_utc``, ISO 8601) and the
load averages over 1, 5 and 15 minutes just before it (``load_1min_before``, ``uptime_load``:
what ``uptime`` prints), so a timing taken under load says so.

Usage: ``python benchmarks/bench_sweep.py [--drops N] [--out FILE]`` (default
``benchmarks/results/sweep.csv``)
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _conditions() -> dict:
    """When a run starts and the machine's load then: UTC date (ISO 8601) and ``uptime``'s three load averages."""
    from datetime import UTC, datetime

    one, five, fifteen = os.getloadavg()
    return dict(date_utc=datetime.now(UTC).isoformat(timespec="seconds"), load_before=one,
                uptime_load=f"{one:.2f} {five:.2f} {fifteen:.2f}")


def main(argv: list[str] | None = None) -> int:
    import pandas as pd
    from distributed import Client, LocalCluster

    from numerics.sweep import load_study, run_chunk, run_sweep

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--drops", type=int, default=16, help="drops per axis point (default 16)")
    p.add_argument("--study", default=str(ROOT / "scenarios" / "study.toml"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep.csv"))
    a = p.parse_args(argv)
    study = load_study(a.study).with_drops(a.drops)
    rows, tables = [], {}

    run_chunk(study, 0, 0, 1)  # warm-up: the first solve imports and initialises what the solvers use
    cond = _conditions()
    res = run_sweep(study, None, workers=0, progress=False)
    tables["serial"] = res.results
    rows.append(dict(executor="serial", workers=0, startup_s=0.0, run_s=res.seconds, **cond))

    for n in (1, 2):
        cond = _conditions()
        t0 = time.perf_counter()
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            client.run(run_chunk, study, 0, 0, 1)  # the same warm-up in every worker
            startup = time.perf_counter() - t0
            res = run_sweep(study, None, client=client, progress=False)
        tables[f"dask-{n}"] = res.results
        rows.append(dict(executor=f"dask-{n}", workers=n, startup_s=startup, run_s=res.seconds, **cond))

    ref = tables["serial"].drop(columns=["solve_time_s"])
    for name, t in tables.items():
        pd.testing.assert_frame_equal(t.drop(columns=["solve_time_s"]), ref, obj=name)

    solves = len(ref)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["executor", "workers", "drops_per_point", "points", "solves", "startup_s", "run_s",
                    "solves_per_s", "load_1min_before", "uptime_load", "date_utc", "cpu_count", "identical_tables"])
        for r in rows:
            w.writerow([r["executor"], r["workers"], a.drops, study.n_points, solves, f"{r['startup_s']:.3f}",
                        f"{r['run_s']:.3f}", f"{solves / r['run_s']:.2f}", f"{r['load_before']:.2f}",
                        r["uptime_load"], r["date_utc"], os.cpu_count(), True])
    for r in rows:
        print(f"{r['executor']:<7} {solves / r['run_s']:8.2f} solves/s  (run {r['run_s']:.1f} s, startup "
              f"{r['startup_s']:.1f} s, load {r['uptime_load']} at {r['date_utc']})")
    print(f"{solves} solves per executor, identical tables; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
