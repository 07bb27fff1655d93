"""Benchmark: numerics.solve_heterogeneous against the conic reference (CVXPY + Clarabel).

For every family of ``benchmarks/_bench.py`` (``wide-spread``, ``v1K-fixed``, ``presets``),
K = 10, 100, 1000, 10^4, 10^5 users, both rate models, both batchings and v1 > 0 and v1 = 0,
in one run:

- ``ours`` / continuous: ``solve_heterogeneous(s, integer=False)``; certified_gap is its
  (upper_bound - goodput) / upper_bound;
- ``ours`` / integer: ``solve_heterogeneous(s)``; certified_gap as above (mostly the
  integrality gap of the relaxation), ``method`` the integer method it reports (and, where the
  solver reports them, ``passes`` over the users and ``evaluations``);
- ``conic-cvxpy`` / continuous (K <= ``--max-conic-K``): the whole continuous relaxation as ONE
  conic program (``benchmarks/conic_reference.py``: exponential cone for A, rotated
  second-order cones for the draft capacity, relative entropy for the Shannon rate, a common
  cap variable for padded batching), solved by Clarabel at its default tolerances. Its
  seconds are the full call (building the CVXPY problem, canonicalisation, Clarabel, recovery:
  what a generic-solver user pays); solver_seconds is Clarabel's own time.

goodput: the exact goodput (``numerics.goodput``) of the point each method returns (the conic
one clipped into the feasible set); rel_gap = (G_best - G) / G_best within the continuous
group (ours against the conic program). A failed solve (an exception, a time-out, a CVXPY
status other than optimal / optimal_inaccurate) is written with status ``failed``, its reason
in ``detail`` and no time; the ``solver_time`` figure draws it as failed. Every row records
the 1-minute load average (``load1``): timings taken on a loaded machine are noisy.

Also times numerics.lambertw against scipy.special.lambertw (both branches, 10^6 points),
written to ``benchmarks/results/lambertw.csv``.

Usage::

    python benchmarks/bench_heterogeneous.py [--quick] [--families F ...] [--sizes K ...]
        [--max-conic-K N] [--repeats R] [--timeout S] [--out DIR]

Writes ``DIR/heterogeneous.csv``: by default ``figures/data/`` (read by the ``solver_time``
figure), with ``--quick`` (K = 10, 100, 1000, one repeat) ``build/bench/`` so that a quick
run does not replace the committed results.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench import DATA, FAMILIES, QUICK_OUT, load1, make_scenario, rel_gaps, row, timed, write_csv
from conic_reference import conic_relaxation

from numerics import goodput, solve_heterogeneous

SIZES = (10, 100, 1000, 10_000, 100_000)
QUICK_SIZES = (10, 100, 1000)
OUT_W = Path(__file__).resolve().parent / "results" / "lambertw.csv"


def _ours(sc, integer: bool, repeats: int, limit: float) -> dict:
    sec, sol, err = timed(lambda: solve_heterogeneous(sc, integer=integer), repeats, limit)
    if err:
        return dict(status="failed", detail=err, goodput=math.nan)
    m = sol.multipliers
    return dict(status="ok", seconds=sec, goodput=sol.goodput, certified_gap=sol.gap, method=str(m.get("method", "")),
                passes=m.get("passes", ""), evaluations=m.get("evaluations", ""))


def _conic(sc, limit: float) -> dict:
    sec, res, err = timed(lambda: conic_relaxation(sc), 1, limit)
    if err:
        return dict(status="failed", detail=err, goodput=math.nan)
    if not res.ok:
        return dict(status="failed", detail=f"CLARABEL {res.status}", goodput=math.nan)
    try:
        G = goodput(sc, res.draft_lengths, res.bandwidth, continuous=True)
    except ValueError as exc:  # the recovered point is clipped feasible; this would be a bug of ours
        return dict(status="failed", detail=f"recovered point infeasible: {exc}", goodput=math.nan)
    return dict(status="ok", seconds=sec, solver_seconds=res.solver_seconds, goodput=G,
                detail="" if res.status == "optimal" else res.status)


def run(families, sizes, max_conic_K: int, repeats: int, limit: float) -> list[dict]:
    rows = []
    for family in families:
        for model in ("linear", "shannon"):
            for batching in ("ragged", "padded"):
                for v1_zero in (False, True):
                    for K in sizes:
                        sc = make_scenario(family, K, model, batching, v1_zero)
                        reps = repeats if K <= 10_000 else 1
                        key = dict(K=K, family=family, rate_model=model, batching=batching, v1=sc.v1)
                        cont = _ours(sc, False, reps, limit)
                        integ = _ours(sc, True, 1, limit)
                        conic = _conic(sc, limit) if K <= max_conic_K else None
                        gaps = rel_gaps({"ours": cont["goodput"],
                                         **({"conic": conic["goodput"]} if conic else {})})
                        stamp = load1()
                        rows.append(row(**key, relaxation="continuous", solver="ours", rel_gap=gaps["ours"],
                                        load1=stamp, **cont))
                        rows.append(row(**key, relaxation="integer", solver="ours", load1=stamp, **integ))
                        if conic:
                            rows.append(row(**key, relaxation="continuous", solver="conic-cvxpy",
                                            rel_gap=gaps["conic"], load1=stamp, **conic))
                        print(_line(key, cont, integ, conic), flush=True)
    return rows


def _fmt(r: dict | None) -> str:
    if r is None:
        return "skipped"
    if r["status"] != "ok":
        return f"FAILED ({r['detail'][:60]})"
    return f"{r['seconds']:8.4f} s"


def _line(key, cont, integ, conic) -> str:
    ratio = ""
    if conic and conic["status"] == "ok" and cont["status"] == "ok":
        ratio = f" ratio {conic['seconds'] / cont['seconds']:7.1f}x"
    v1 = "v1>0" if key["v1"] > 0 else "v1=0"
    return (f"{key['family']:11s} K={key['K']:>6} {key['rate_model']:7s} {key['batching']:6s} {v1} | "
            f"ours {_fmt(cont)} | integer {_fmt(integ)} | conic {_fmt(conic)}{ratio} | load {load1():.1f}")


def best_time(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_lambertw(n: int = 1_000_000) -> list[tuple]:
    from scipy.special import lambertw as scipy_lambertw

    from numerics.lambertw import lambertw

    rng = np.random.default_rng(0)
    rows = []
    for label, x, b in (("W0 on [0, 10]", rng.uniform(0, 10, n), 0),
                        ("W0 on [-1/e, 0]", rng.uniform(-np.exp(-1.0), 0, n), 0),
                        ("W-1 on [-1/e, 0)", rng.uniform(-np.exp(-1.0), -1e-300, n), -1),
                        ("W0 on 10^[-10, 10]", np.logspace(-10, 10, n), 0)):
        t_ours, _ = best_time(lambda x=x, b=b: lambertw(x, b), 3)
        t_sp, _ = best_time(lambda x=x, b=b: np.real(scipy_lambertw(x, b)), 3)
        rows.append((label, n, t_ours / n * 1e9, t_sp / n * 1e9))
        print(f"  lambertw {label:20s}: ours {t_ours / n * 1e9:6.1f} ns, scipy {t_sp / n * 1e9:6.1f} ns "
              f"an element ({t_sp / t_ours:4.1f}x)")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="K = 10, 100, 1000, one repeat, written to build/bench/")
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--sizes", nargs="+", type=int, default=None)
    ap.add_argument("--max-conic-K", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=0.0, help="seconds per solve before it counts as failed (0: none)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    repeats = 1 if args.quick else args.repeats
    out = args.out or (QUICK_OUT if args.quick else DATA)
    print(f"load average at start: {load1():.2f} (timings on a loaded machine are noisy)")
    warm = make_scenario("wide-spread", 10, "shannon")  # imports and first-call caches are not solve times
    timed(lambda: solve_heterogeneous(warm, integer=False))
    timed(lambda: conic_relaxation(warm))
    rows = run(args.families, sizes, args.max_conic_K, repeats, args.timeout)
    write_csv(out / "heterogeneous.csv", rows)
    if not args.quick:
        wrows = bench_lambertw()
        OUT_W.parent.mkdir(parents=True, exist_ok=True)
        with open(OUT_W, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["case", "n", "ours_ns", "scipy_ns"])
            for r in wrows:
                w.writerow([r[0], r[1], f"{r[2]:.4g}", f"{r[3]:.4g}"])
        print(f"wrote {OUT_W}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
