"""Benchmark: numerics.solve_homogeneous against a generic CVXPY/CLARABEL formulation.

For the families of ``benchmarks/_bench.py`` (default ``wide-spread``), K = 10, 100, 1000,
10^4 users and both rate models, in one run:

- ``ours``: ``solve_homogeneous`` (the H2 root plus the H4 closed form and integer search);
  best of several repeats (wall clock, one process).
- ``cvxpy``: the epigraph problem min theta s.t. t_k + s_k / r_k(beta_k) <= theta,
  sum beta <= 1 (inv_pos for the linear rate, relative entropy -- the exponential cone --
  for the Shannon rate), solved by CLARABEL, then every L in [1, max_draft] evaluated at
  the shares CVXPY returns. Its time is the full ``Problem.solve`` call (canonicalisation
  included: that is what a generic-solver user pays); solver_seconds is CLARABEL's own time.

goodput: the exact goodput (``numerics.goodput``) of each method's point; rel_gap =
(G_best - G) / G_best, G_best the larger of the two. A failed solve (CLARABEL raising
SolverError, a status other than optimal / optimal_inaccurate, an exception of ours, a
time-out) is written with status ``failed``, its reason in ``detail`` and no time: the
``solver_time`` figure draws it as failed, never as a timing. Every row records the 1-minute
load average (``load1``).

Usage: ``python benchmarks/bench_homogeneous.py [--quick] [--families F ...] [--sizes K ...]
[--max-cvxpy-K N] [--repeats R] [--timeout S] [--out DIR]``. Writes ``DIR/homogeneous.csv``
(schema: ``benchmarks/_bench.py``): by default ``figures/data/`` (read by the
``solver_time`` figure); ``--quick`` (K = 10, 100, 1000, one repeat) writes to
``build/bench/`` unless ``--out`` is given. CVXPY is skipped above ``--max-cvxpy-K`` (default
10^4, where it takes 0.5 to 2 s) and the skip is printed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench import DATA, FAMILIES, QUICK_OUT, load1, make_scenario, rel_gaps, row, timed, write_csv

from numerics import Scenario, goodput, solve_homogeneous

SIZES = (10, 100, 1000, 10_000)
QUICK_SIZES = (10, 100, 1000)


class CvxpyFailed(Exception):
    """CLARABEL returned no usable solution (its status is the message)."""


def cvxpy_solve(sc: Scenario) -> tuple[float, float, float]:
    """(goodput, wall seconds of Problem.solve, CLARABEL seconds) of the generic formulation.

    Raises ``CvxpyFailed`` (or CVXPY's ``SolverError``) when CLARABEL returns no solution.
    """
    import cvxpy as cp

    s, t = sc.bits_per_token, sc.t_draft
    up = s > 0
    ch = sc.channel[up]
    B = sc.bandwidth_hz
    full = B * ch if sc.rate_model == "linear" else B * np.log2(1 + ch)
    scale = float(np.max(t) + np.sum(s[up] / full))  # time unit: theta = O(1) for the solver
    tt, a = t[up] / scale, s[up] / full / scale
    n = int(up.sum())
    # variables x_k = beta_k / sigma_k with sigma_k a rough share (the linear-rate share at the
    # earliest time some user could finish): shares of very different sizes otherwise leave
    # CLARABEL several per cent off or failing at K = 1000
    sigma = a / (float(np.max(tt + a)) - tt)
    sigma /= sigma.sum()
    th, x = cp.Variable(), cp.Variable(n)
    beta = cp.multiply(sigma, x)
    if sc.rate_model == "linear":
        cons = [tt + cp.multiply(a / sigma, cp.inv_pos(x)) <= th]
    else:
        # normalised rate r(beta)/r(1) = rho (-rel_entr(w, w + 1)) / log(1 + rho), w = beta / rho
        u, w = cp.Variable(n), cp.multiply(sigma / ch, x)
        cons = [cp.multiply(sigma, u) <= cp.multiply(ch / np.log1p(ch), -cp.rel_entr(w, w + 1)),
                tt + cp.multiply(a / sigma, cp.inv_pos(u)) <= th]
    cons += [cp.sum(beta) <= 1, x >= 0, th >= float(np.max(t)) / scale]
    prob = cp.Problem(cp.Minimize(th), cons)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an inaccurate status shows up in rel_gap
        prob.solve(solver=cp.CLARABEL)
    wall = time.perf_counter() - t0
    if prob.status not in ("optimal", "optimal_inaccurate") or beta.value is None:
        raise CvxpyFailed(f"CLARABEL status {prob.status}")
    b = np.zeros(sc.n_users)
    b[up] = np.maximum(np.asarray(beta.value, dtype=float), 1e-300)
    b /= max(1.0, b.sum() / (1 - 1e-15))
    G = max(goodput(sc, L, b) for L in range(1, sc.max_draft + 1))
    return G, wall, float(prob.solver_stats.solve_time or np.nan)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="K = 10, 100, 1000, one repeat, written to build/bench/")
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=["wide-spread"])
    ap.add_argument("--sizes", nargs="+", type=int, default=None)
    ap.add_argument("--max-cvxpy-K", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=0.0, help="seconds per solve before it counts as failed (0: none)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    repeats = 1 if args.quick else args.repeats
    out = args.out or (QUICK_OUT if args.quick else DATA)
    print(f"load average at start: {load1():.2f} (timings on a loaded machine are noisy)")
    warm = make_scenario("wide-spread", 10, "shannon")  # imports and first-call caches are not solve times
    solve_homogeneous(warm)
    timed(lambda: cvxpy_solve(warm))
    print(f"{'family':11s} {'K':>6} {'rate':>8} {'ours [ms]':>10} {'cvxpy [ms]':>11} {'clarabel [ms]':>14} "
          f"{'ratio':>8} {'gap ours':>9} {'gap cvxpy':>10}")
    rows = []
    for family in args.families:
        for model in ("linear", "shannon"):
            for K in sizes:
                sc = make_scenario(family, K, model)
                key = dict(K=K, family=family, rate_model=model, batching=sc.batching, v1=sc.v1,
                           relaxation="integer")
                t_ours, sol, err_ours = timed(lambda sc=sc: solve_homogeneous(sc), repeats, args.timeout)
                G_ours = sol.goodput if sol is not None else math.nan
                if K <= args.max_cvxpy_K:
                    t_cvx, res, err_cvx = timed(lambda sc=sc: cvxpy_solve(sc), 1, args.timeout)
                    G_cvx, _, t_clar = res if res is not None else (math.nan, math.nan, math.nan)
                else:
                    err_cvx, G_cvx = "skipped", math.nan
                gaps = rel_gaps({"ours": G_ours, "cvxpy": G_cvx})
                stamp = load1()
                rows.append(row(**key, solver="ours", status="failed" if err_ours else "ok", seconds=t_ours,
                                goodput=G_ours, rel_gap=gaps["ours"], detail=err_ours or "", load1=stamp))
                if err_cvx != "skipped":
                    rows.append(row(**key, solver="cvxpy", status="failed" if err_cvx else "ok", seconds=t_cvx,
                                    solver_seconds=t_clar if not err_cvx else math.nan, goodput=G_cvx,
                                    rel_gap=gaps["cvxpy"], detail=err_cvx or "", load1=stamp))
                ours_txt = "FAILED" if err_ours else f"{1e3 * t_ours:10.2f}"
                if err_cvx == "skipped":
                    cvx_txt = f"{'skipped':>11} (K > --max-cvxpy-K={args.max_cvxpy_K})"
                elif err_cvx:
                    cvx_txt = f"{'FAILED':>11} ({err_cvx[:60]})"
                else:
                    ratio = f"{t_cvx / t_ours:7.0f}x" if not err_ours else "-"
                    cvx_txt = (f"{1e3 * t_cvx:>11.1f} {1e3 * t_clar:>14.1f} {ratio:>8} {gaps['ours']:>9.1e} "
                               f"{gaps['cvxpy']:>10.1e}")
                print(f"{family:11s} {K:>6} {model:>8} {ours_txt:>10} {cvx_txt}", flush=True)
    write_csv(out / "homogeneous.csv", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
