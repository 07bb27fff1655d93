"""Benchmark: numerics.solve_homogeneous against a generic CVXPY/CLARABEL formulation.

For K = 10, 100, 1000, 10^4 users and both rate models, in one run:

- ``solve_homogeneous``: the H2 root (safeguarded Newton) plus the H4 closed form and integer
  search; best of several repeats (wall clock, one process).
- ``cvxpy``: the epigraph problem min theta s.t. t_k + s_k / r_k(beta_k) <= theta,
  sum beta <= 1 (inv_pos for the linear rate, relative entropy -- the exponential cone --
  for the Shannon rate), solved by CLARABEL, then every L in [1, max_draft] evaluated at
  the shares CVXPY returns. Its time is the full ``Problem.solve`` call (canonicalisation
  included: that is what a generic-solver user pays) and, separately, CLARABEL's own time.

rel_gap = (G_best - G) / G_best, G_best the larger goodput of the two methods, each
evaluated exactly (numerics.goodput) at its own operating point; empty in the CSV (FAILED on
screen) when CLARABEL raises a SolverError, or when CVXPY was skipped.

Usage: ``python benchmarks/bench_homogeneous.py [--max-cvxpy-K N] [--repeats R]``. Writes
``figures/data/homogeneous.csv`` (read by the ``solver_time`` figure) (K, rate_model, solver, seconds, rel_gap). CVXPY is
skipped above ``--max-cvxpy-K`` (default 10^4, where it takes 0.5 to 2 s) and the skip is
printed.
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from pathlib import Path

import numpy as np

from numerics import Scenario, goodput, solve_homogeneous

SIZES = (10, 100, 1000, 10_000)
OUT = Path(__file__).resolve().parent.parent / "figures" / "data" / "homogeneous.csv"


def make_scenario(K: int, model: str, seed: int = 0, v1: float = 1e-5) -> Scenario:
    """Seeded realistic system: t in [1, 30] ms, s in [100, 5000] bit, one user in six without upload."""
    rng = np.random.default_rng([seed, K, model == "shannon"])
    lu = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), K))  # noqa: E731
    s = lu(100.0, 5000.0)
    s[rng.random(K) < 1 / 6] = 0.0
    kw = {"spectral_efficiency": lu(0.5, 8.0)} if model == "linear" else {"snr": lu(0.1, 1e3)}
    return Scenario(alpha=rng.uniform(0.5, 0.95, K), t_draft=lu(1e-4, 3e-3), bits_per_token=s,
                    bandwidth_hz=2e5 * K, rate_model=model, v0=0.05, v1=v1, max_draft=16, **kw)


def cvxpy_solve(sc: Scenario) -> tuple[float, float, float]:
    """(goodput, wall seconds of Problem.solve, CLARABEL seconds) of the generic formulation."""
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an inaccurate status shows up in rel_gap
            prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError:
        return np.nan, time.perf_counter() - t0, np.nan
    wall = time.perf_counter() - t0
    b = np.zeros(sc.n_users)
    b[up] = np.maximum(np.asarray(beta.value, dtype=float), 1e-300)
    b /= max(1.0, b.sum() / (1 - 1e-15))
    G = max(goodput(sc, L, b) for L in range(1, sc.max_draft + 1))
    return G, wall, float(prob.solver_stats.solve_time or np.nan)


def time_ours(sc: Scenario, repeats: int) -> tuple[float, float]:
    best, G = np.inf, np.nan
    for _ in range(repeats):
        t0 = time.perf_counter()
        G = solve_homogeneous(sc).goodput
        best = min(best, time.perf_counter() - t0)
    return G, best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-cvxpy-K", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    rows = []
    print(f"{'K':>6} {'rate':>8} {'ours [ms]':>10} {'cvxpy [ms]':>11} {'clarabel [ms]':>14} {'ratio':>8} "
          f"{'gap ours':>9} {'gap cvxpy':>10}")
    for model in ("linear", "shannon"):
        for K in SIZES:
            sc = make_scenario(K, model)
            G_ours, t_ours = time_ours(sc, args.repeats)
            if K <= args.max_cvxpy_K:
                G_cvx, t_cvx, t_clar = cvxpy_solve(sc)
                G_best = np.nanmax([G_ours, G_cvx])  # a failed CVXPY solve has G = nan
                gap_o, gap_c = (G_best - G_ours) / G_best, (G_best - G_cvx) / G_best
                rows += [(K, model, "solve_homogeneous", t_ours, gap_o), (K, model, "cvxpy", t_cvx, gap_c)]
                gap_txt = "FAILED" if np.isnan(G_cvx) else f"{gap_c:.1e}"  # CLARABEL raised SolverError
                print(f"{K:>6} {model:>8} {1e3 * t_ours:>10.2f} {1e3 * t_cvx:>11.1f} {1e3 * t_clar:>14.1f} "
                      f"{t_cvx / t_ours:>7.0f}x {gap_o:>9.1e} {gap_txt:>10}")
            else:
                rows.append((K, model, "solve_homogeneous", t_ours, np.nan))
                print(f"{K:>6} {model:>8} {1e3 * t_ours:>10.2f} {'skipped':>11} (K > --max-cvxpy-K={args.max_cvxpy_K})")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["K", "rate_model", "solver", "seconds", "rel_gap"])
        for K, model, solver, sec, gap in rows:
            wr.writerow([K, model, solver, f"{sec:.6g}", "" if np.isnan(gap) else f"{gap:.3e}"])
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
