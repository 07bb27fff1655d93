"""Shared pieces of the solver benchmarks: the seeded scenario families, timing with a time
limit, and the one CSV schema that the ``solver_time`` figure reads (``figures/data/*.csv``).

Families (seeded; K users; ``model`` 'linear' or 'shannon'):

- ``wide-spread``: t_k log-uniform in [0.1, 3] ms, s_k in [100, 5000] bit with one user in six
  without upload, eta_k in [0.5, 8] bit/s/Hz or rho_k in [0.1, 1e3], alpha_k uniform in
  [0.5, 0.95], B = 2e5 K Hz, v0 = 0.05 s, v1 = 1e-5 s/token, max_draft = 16. Degenerate at
  large K: v1 is fixed while the band grows with K, so at K = 10^5 a batch token costs as much
  as 2 s of band-limited drafting and drafting nothing is optimal for every user.
- ``v1K-fixed``: the same users with v1 = 1e-3 s / K, so the batch's verification cost per
  unit of draft length, v1 K, is the same 1 ms at every K (the solve stays non-trivial).
- ``presets``: the cited ``default`` preset (``default-shannon`` for the Shannon rate) cycled
  to K users (its spreads of device speed, CQI and acceptance), with the band and v1 scaled
  so that the per-user band B / K and v1 K stay those of its 8 users.

Each family has a ``v1 = 0`` variant (the same scenario with v1 = 0: memory-bound
verification) and is run with both batchings.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from numerics import Scenario

ROOT = Path(__file__).resolve().parent.parent
#: where the figure reads the results (package data of ``figures``)
DATA = ROOT / "figures" / "data"
#: where ``--quick`` runs write unless ``--out`` is given (not the committed results)
QUICK_OUT = ROOT / "build" / "bench"

FAMILIES = ("wide-spread", "v1K-fixed", "presets")
COLUMNS = ("K", "family", "rate_model", "batching", "v1", "relaxation", "solver", "status", "seconds",
           "solver_seconds", "goodput", "rel_gap", "certified_gap", "method", "passes", "evaluations", "detail",
           "load1")


def wide_spread(K: int, model: str, seed: int = 0, v1: float = 1e-5) -> Scenario:
    """The ``wide-spread`` family (module docstring)."""
    rng = np.random.default_rng([seed, K, model == "shannon"])
    lu = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), K))  # noqa: E731
    s = lu(100.0, 5000.0)
    s[rng.random(K) < 1 / 6] = 0.0
    kw = {"spectral_efficiency": lu(0.5, 8.0)} if model == "linear" else {"snr": lu(0.1, 1e3)}
    return Scenario(alpha=rng.uniform(0.5, 0.95, K), t_draft=lu(1e-4, 3e-3), bits_per_token=s,
                    bandwidth_hz=2e5 * K, rate_model=model, v0=0.05, v1=v1, max_draft=16, **kw)


def make_scenario(family: str, K: int, model: str, batching: str = "ragged", v1_zero: bool = False) -> Scenario:
    """A scenario of ``family`` (module docstring) with K users."""
    if family == "wide-spread":
        sc = wide_spread(K, model)
    elif family == "v1K-fixed":
        sc = wide_spread(K, model, v1=1e-3 / K)
    elif family == "presets":
        base = Scenario.preset("default" if model == "linear" else "default-shannon")
        n = base.n_users
        sc = Scenario.preset("default" if model == "linear" else "default-shannon", n_users=K,
                             bandwidth_hz=base.bandwidth_hz * K / n, v1=base.v1 * n / K)
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return sc.replace(batching=batching, v1=0.0 if v1_zero else sc.v1)


class SolveTimeout(Exception):
    """A solve exceeded the benchmark's time limit."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`SolveTimeout` inside the block after ``seconds`` of wall time (0: no limit; SIGALRM)."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum, frame):
        raise SolveTimeout(f"timeout after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timed(fn, repeats: int = 1, limit: float = 0.0):
    """(best wall seconds over ``repeats``, last result, None) or (nan, None, 'Error: message') on failure.

    A failure (any exception, a time-out) is a result of the benchmark, not a crash of it;
    its time is not a timing and is not returned.
    """
    best, out = math.inf, None
    try:
        for _ in range(repeats):
            with time_limit(limit):
                t0 = time.perf_counter()
                out = fn()
                best = min(best, time.perf_counter() - t0)
    except Exception as exc:  # every failure of a solver is recorded as failed
        return math.nan, None, f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
    return best, out, None


def load1() -> float:
    """The 1-minute load average now (recorded with every row: the timings' conditions)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def row(**fields) -> dict:
    """A CSV row with every column (missing ones empty); a failed row never carries a time."""
    out = {c: fields.get(c, "") for c in COLUMNS}
    if out["status"] != "ok":
        out["seconds"] = out["solver_seconds"] = ""
    for c in ("seconds", "solver_seconds", "goodput", "rel_gap", "certified_gap", "load1", "v1"):
        v = out[c]
        if isinstance(v, float):
            out[c] = f"{v:.6g}" if math.isfinite(v) else ""
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")


def rel_gaps(goodputs: dict[str, float]) -> dict[str, float]:
    """(G_best - G) / G_best for each solver of one group, G_best the best finite goodput; nan if failed."""
    finite = [g for g in goodputs.values() if g is not None and math.isfinite(g)]
    if not finite:
        return {k: math.nan for k in goodputs}
    best = max(finite)
    return {k: (best - g) / best if g is not None and math.isfinite(g) else math.nan for k, g in goodputs.items()}
