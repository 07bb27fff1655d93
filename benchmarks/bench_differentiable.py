"""Benchmark: the vmapped JAX continuous heterogeneous optimum (and its gradient) vs a Python loop over NumPy.

For K = 8 and 64 users and batches of 10^3 and 10^4 seeded scenarios (one static kind: linear
rate, ragged batching, i.i.d. alpha; v1 = 0 for half of them and v1 > 0, Dinkelbach, for the
other half -- v1 is a leaf, so both share one batch and one compilation), in one run:

- ``stack``: :func:`numerics.differentiable.stack_scenarios` (one array operation per field);
- ``jax_optimum``: ``jax.jit(jax.vmap(heterogeneous_optimum))`` over the batch, compiled first
  (the compile time is reported separately), then timed on a second call;
- ``jax_value_and_grad``: the same for ``jax.vmap(heterogeneous_value_and_grad)`` (G* and
  dG*/dparams, implicit differentiation);
- ``numpy_loop``: ``numerics.solve_heterogeneous(s, integer=False)`` in a Python loop over the
  first ``--loop`` scenarios of the batch (scenarios/s measured on those), and the largest
  relative difference of G* between the two implementations on them.

Wall clock, one process, best of ``--repeats``; the machine's load average is printed with
each row (timings on a shared machine are noisy). Writes ``benchmarks/results/differentiable.csv``
(K, batch, method, seconds, scenarios_per_s, compile_s, max_rel_diff, load).

Usage: ``python benchmarks/bench_differentiable.py [--sizes 8,64] [--batches 1000,10000] [--loop 200]
[--repeats 2]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np

from numerics import Scenario, solve_heterogeneous

OUT = Path(__file__).resolve().parent / "results" / "differentiable.csv"


def make_scenario(K: int, seed: int) -> Scenario:
    """Seeded scenario: t 0.1-20 ms, s 50-5000 bit, eta 0.5-8 bit/s/Hz, B 10 kHz-10 MHz (log-uniform),
    alpha 0.4-0.95, v0 5-200 ms, v1 = 0 (even seeds) or 1e-4 s per token (odd), max_draft 16."""
    rng = np.random.default_rng([seed, K])

    def lu(lo, hi, n=K):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))

    return Scenario(alpha=rng.uniform(0.4, 0.95, K), t_draft=lu(1e-4, 2e-2), bits_per_token=lu(50, 5000),
                    bandwidth_hz=float(lu(1e4, 1e7, 1)[0]), spectral_efficiency=lu(0.5, 8.0),
                    v0=float(lu(5e-3, 0.2, 1)[0]), v1=1e-4 * (seed % 2), overhead=float(rng.uniform(0.0, 0.01)),
                    max_draft=16)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(sizes, batches, n_loop: int, repeats: int) -> list[dict]:
    import jax

    from numerics import differentiable as jd

    rows = []
    with jax.enable_x64(True):
        opt = jax.jit(jax.vmap(jd.heterogeneous_optimum))
        vag = jax.jit(jax.vmap(jd.heterogeneous_value_and_grad))
        for K in sizes:
            for N in batches:
                scs = [make_scenario(K, i) for i in range(N)]
                load = os.getloadavg()[0]
                t_stack = _best(lambda scs=scs: jax.block_until_ready(jd.stack_scenarios(scs)), repeats)
                P = jd.stack_scenarios(scs)
                out = {}
                for name, fn in (("jax_optimum", lambda P=P: opt(P).goodput),
                                 ("jax_value_and_grad", lambda P=P: vag(P))):
                    t0 = time.perf_counter()
                    res = jax.block_until_ready(fn())
                    first = time.perf_counter() - t0
                    t = _best(lambda fn=fn: jax.block_until_ready(fn()), repeats)
                    out[name] = (t, max(first - t, 0.0), res)
                G_jax = np.asarray(out["jax_optimum"][2])
                m = min(n_loop, N)
                t0 = time.perf_counter()
                G_np = np.array([solve_heterogeneous(sc, integer=False).goodput for sc in scs[:m]])
                t_loop = time.perf_counter() - t0
                diff = float(np.max(np.abs(G_jax[:m] / G_np - 1.0)))
                rows.append(dict(K=K, batch=N, method="stack", seconds=t_stack, scenarios_per_s=N / t_stack,
                                 compile_s="", max_rel_diff="", load=load))
                for name in ("jax_optimum", "jax_value_and_grad"):
                    t, c, _ = out[name]
                    rows.append(dict(K=K, batch=N, method=name, seconds=t, scenarios_per_s=N / t, compile_s=c,
                                     max_rel_diff=diff if name == "jax_optimum" else "", load=load))
                rows.append(dict(K=K, batch=m, method="numpy_loop", seconds=t_loop, scenarios_per_s=m / t_loop,
                                 compile_s="", max_rel_diff=diff, load=load))
                for r in rows[-4:]:
                    c = "" if r["compile_s"] == "" else f"compile {r['compile_s']:.1f} s"
                    print(f"K={K:3d} batch={r['batch']:6d} {r['method']:19s} {r['seconds']:9.3f} s "
                          f"{r['scenarios_per_s']:11.1f}/s {c:17s} diff={r['max_rel_diff']} load={load:.1f}",
                          flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8,64")
    ap.add_argument("--batches", default="1000,10000")
    ap.add_argument("--loop", type=int, default=200, help="NumPy solves timed per (K, batch)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    rows = run([int(x) for x in a.sizes.split(",")], [int(x) for x in a.batches.split(",")], a.loop, a.repeats)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
