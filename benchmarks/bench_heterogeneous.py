"""Benchmark: numerics.solve_heterogeneous against CVXPY with the same outer search.

For K = 10, 100, 1000, 10^4, 10^5 users and both rate models, in one run:

- ``ours``: the continuous relaxation (``solve_heterogeneous(s, integer=False)``: per-user
  closed form or vectorised Newton, lambda root, Dinkelbach, outer search, certificate);
  rel_gap is its certified gap (upper_bound - goodput) / upper_bound.
- ``ours-integer``: ``solve_heterogeneous(s)`` (integer draft lengths); rel_gap is its
  certified gap to the continuous bound (mostly the integrality gap of the relaxation).
- ``cvxpy`` (K <= 1000): the same outer search (numerics.heterogeneous_outer: bracket, Brent,
  Dinkelbach) with the inner problem F(tau) solved by CVXPY/CLARABEL instead (exponential cone
  for A; inv_pos for the linear capacity, relative entropy for the Shannon rate; tau and the
  Dinkelbach price are CVXPY Parameters, so the problem is compiled once); F'(tau) from the
  duals of the capacity constraints. rel_gap = |G_cvxpy - G_ours| / G_ours.

Scenarios: as in ``bench_homogeneous.py`` (seeded; t in [0.1, 3] ms, s in [100, 5000] bit,
one user in six without upload, B = 2e5 K Hz, v0 = 0.05 s, v1 = 1e-5 s/token, L_max = 16),
so ragged batching with v1 > 0 (Dinkelbach). A second family with v1 = 0 (memory-bound
verification, the pure D1-D5 path) is timed for ``ours`` only (solver ``ours-v1=0``).

Also times numerics.lambertw against scipy.special.lambertw (both branches, 10^6 points),
written to ``benchmarks/results/lambertw.csv``.

Usage: ``python benchmarks/bench_heterogeneous.py [--max-cvxpy-K N] [--repeats R]``. Writes
``figures/data/heterogeneous.csv`` (read by the ``solver_time`` figure) (K, rate_model, solver, seconds, rel_gap).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numerics import Scenario, solve_heterogeneous  # noqa: E402
from numerics.heterogeneous_kkt import Users  # noqa: E402
from numerics.heterogeneous_outer import _Evaluator, exact_saturation, outer_search, saturation_deadline  # noqa: E402

SIZES = (10, 100, 1000, 10_000, 100_000)
OUT = Path(__file__).resolve().parent.parent / "figures" / "data" / "heterogeneous.csv"
OUT_W = Path(__file__).resolve().parent / "results" / "lambertw.csv"

# the same seeded family of systems as the homogeneous benchmark (this folder is on sys.path
# when a benchmark runs as a script)
from bench_homogeneous import make_scenario  # noqa: E402


class _CvxInner:
    """The inner problem F(tau) (price mu per draft token) as a CVXPY problem, compiled once."""

    def __init__(self, sc: Scenario):
        import cvxpy as cp

        self.cp = cp
        self.sc = sc
        K = sc.n_users
        al, t, s = sc.alpha, sc.t_draft, sc.bits_per_token
        self.up = up = s > 0
        self.tau = cp.Parameter(nonneg=True)
        self.mu = cp.Parameter(nonneg=True)
        L = cp.Variable(K, nonneg=True)
        a = -np.log(al)
        obj = cp.sum(-cp.multiply(al / (1 - al), cp.exp(-cp.multiply(a, L)))) - self.mu * cp.sum(L)
        cons = [L <= sc.max_draft]
        iu = np.flatnonzero(up)
        iz = np.flatnonzero(~up)
        B = sc.bandwidth_hz
        if sc.rate_model == "linear":
            # y = beta t B eta / s: capacity (tau/t)(1 - 1/(1 + y)), band sum (s/(t B eta)) y <= 1
            y = cp.Variable(iu.size, nonneg=True)
            eta = sc.spectral_efficiency[iu]
            cons.append(cp.sum(cp.multiply(s[iu] / (t[iu] * B * eta), y)) <= 1)
            cap = cp.multiply(1.0 / t[iu], 1 - cp.inv_pos(y + 1)) * self.tau
            self.share = lambda: np.maximum(y.value, 0) * s[iu] / (t[iu] * B * eta)
        else:
            # r / B = beta log2(1 + rho/beta) = -rel_entr(beta, beta + rho) / ln2 (concave); with
            # sigma = s / (t B) the capacity tau r / (s + t r) is (tau/t)(1 - sigma / (sigma + r/B))
            beta = cp.Variable(iu.size, nonneg=True)
            rho = sc.snr[iu]
            rn = -cp.rel_entr(beta, beta + rho) / np.log(2.0)
            sig = s[iu] / (t[iu] * B)
            cons.append(cp.sum(beta) <= 1)
            cap = cp.multiply(1.0 / t[iu], 1 - cp.multiply(sig, cp.inv_pos(sig + rn))) * self.tau
            self.share = lambda: np.maximum(beta.value, 0)
        self.c_up = L[iu] <= cap
        cons.append(self.c_up)
        if iz.size:  # no upload: L <= tau / t
            self.c_free = L[iz] <= cp.multiply(1.0 / t[iz], np.ones(iz.size)) * self.tau
            cons.append(self.c_free)
        self.iu, self.iz, self.L = iu, iz, L
        self.prob = cp.Problem(cp.Maximize(obj), cons)
        self.solver_seconds = 0.0
        self.wall_seconds = 0.0

    def __call__(self, tau: float, mu: float):
        self.tau.value, self.mu.value = tau, mu
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            self.prob.solve(solver="CLARABEL")
        self.wall_seconds += time.perf_counter() - t0
        self.solver_seconds += float(self.prob.solver_stats.solve_time or 0.0)
        L = np.clip(self.L.value, 0, self.sc.max_draft)
        beta = np.zeros(self.sc.n_users)
        beta[self.iu] = self.share()
        # envelope: F'(tau) = sum_k nu_k dH_k/dtau = sum_k nu_k L_k / tau (capacities are
        # homogeneous of degree 1 in tau), nu_k the duals of the capacity constraints
        dF = float(np.sum(self.c_up.dual_value * L[self.iu])) / tau
        if self.iz.size:
            dF += float(np.sum(self.c_free.dual_value * L[self.iz])) / tau
        return _CvxSolution(self.sc, L, beta, dF, mu)


class _CvxSolution:
    """The attributes of an InnerSolution that the outer search reads."""

    def __init__(self, sc, L, beta, dF, mu):
        self.L, self.beta, self.lam, self._dF = L, beta, 0.0, dF
        self.mu = np.full(sc.n_users, mu)
        self.tokens = (1 - sc.alpha ** (L + 1)) / (1 - sc.alpha)

    def dual(self):
        return float(np.sum(self.tokens)), self._dF


class _CvxEvaluator(_Evaluator):
    """The outer search of numerics.heterogeneous_outer with CVXPY as the inner solver."""

    def __init__(self, sc: Scenario):
        super().__init__(sc, Users.from_scenario(sc))
        self.cvx = _CvxInner(sc)

    def _inner(self, tau, mu=0.0, cap=None):
        return self.cvx(tau, float(np.max(mu)) if np.ndim(mu) else float(mu))


def cvxpy_relaxation(sc: Scenario) -> tuple[float, float, float]:
    """(goodput of the continuous relaxation, wall seconds, CLARABEL seconds) with CVXPY inside."""
    t0 = time.perf_counter()
    ev = _CvxEvaluator(sc)
    u = ev.u
    ts = exact_saturation(u) if ev.mode == "plain" else None
    tau, _ = outer_search(ev, saturation_deadline(u), None, tau_sat=ts)
    G = ev(tau)[0]
    return G, time.perf_counter() - t0, ev.cvx.solver_seconds


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
        t_ours, _ = best_time(lambda: lambertw(x, b), 3)
        t_sp, _ = best_time(lambda: np.real(scipy_lambertw(x, b)), 3)
        rows.append((label, n, t_ours / n * 1e9, t_sp / n * 1e9))
        print(f"  lambertw {label:20s}: ours {t_ours / n * 1e9:6.1f} ns, scipy {t_sp / n * 1e9:6.1f} ns "
              f"an element ({t_sp / t_ours:4.1f}x)")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-cvxpy-K", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rows = []
    for model in ("linear", "shannon"):
        for K in SIZES:
            sc = make_scenario(K, model)
            reps = args.repeats if K <= 10_000 else 1
            t_c, sol_c = best_time(lambda: solve_heterogeneous(sc, integer=False), reps)
            rows.append((K, model, "ours", t_c, sol_c.gap))
            line = f"K={K:>6} {model:7s} ours {t_c:8.4f} s (gap {sol_c.gap:.1e})"
            t_i, sol_i = best_time(lambda: solve_heterogeneous(sc), 1)
            rows.append((K, model, "ours-integer", t_i, sol_i.gap))
            line += f" | integer {t_i:7.3f} s (gap {sol_i.gap:.1e}, {sol_i.multipliers['method']})"
            sc0 = sc.replace(v1=0.0)
            t_0, sol_0 = best_time(lambda: solve_heterogeneous(sc0, integer=False), reps)
            rows.append((K, model, "ours-v1=0", t_0, sol_0.gap))
            line += f" | v1=0 {t_0:7.4f} s"
            if K <= args.max_cvxpy_K:
                try:
                    G_cvx, t_cvx, t_clar = cvxpy_relaxation(sc)
                    gap = abs(G_cvx - sol_c.goodput) / sol_c.goodput
                    rows.append((K, model, "cvxpy", t_cvx, gap))
                    line += (f" | cvxpy {t_cvx:8.3f} s (CLARABEL {t_clar:.3f} s), ratio {t_cvx / t_c:7.1f}x, "
                             f"|dG|/G {gap:.1e}")
                except Exception as exc:  # a failed generic solve is a result, not a crash
                    rows.append((K, model, "cvxpy", float("nan"), float("nan")))
                    line += f" | cvxpy FAILED ({type(exc).__name__})"
            else:
                line += " | cvxpy skipped"
            print(line, flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["K", "rate_model", "solver", "seconds", "rel_gap"])
        for K, model, solver, sec, gap in rows:
            w.writerow([K, model, solver, f"{sec:.6g}", "" if not np.isfinite(gap) else f"{gap:.3e}"])
    print(f"wrote {OUT}")
    wrows = bench_lambertw()
    with open(OUT_W, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "n", "ours_ns", "scipy_ns"])
        for r in wrows:
            w.writerow([r[0], r[1], f"{r[2]:.4g}", f"{r[3]:.4g}"])
    print(f"wrote {OUT_W}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
