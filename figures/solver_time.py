"""(j) Solver time against the number of users: ours and CVXPY.

Read from the committed benchmark output ``figures/data/homogeneous.csv`` and
``figures/data/heterogeneous.csv`` (package data of ``figures``, so that an installed wheel
renders this figure too; columns K, rate_model, solver, seconds, rel_gap),
written by ``make bench`` (``benchmarks/bench_homogeneous.py`` and
``benchmarks/bench_heterogeneous.py``), so that rendering is
deterministic and fast: nothing is timed here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ._suite import as_table, column

NAME = "solver_time"
TITLE = "Solver time against the number of users: the closed-form solvers against CVXPY (from the benchmark output)."

RESULTS = Path(__file__).resolve().parent / "data"
REGIMES = ("homogeneous", "heterogeneous")
COLUMNS = ("K", "rate_model", "solver", "seconds", "rel_gap")


def data(results_dir: str | Path = RESULTS) -> dict[str, np.ndarray]:
    """Rows of both CSV files with a ``regime`` column.

    A run that failed (the benchmark writes ``nan`` seconds, e.g. CLARABEL raising a
    SolverError) has no time to draw and is left out of the table.

    Raises
    ------
    FileNotFoundError
        A file is missing (run ``make bench``): the figure pipeline skips the figure.
    ValueError
        A file lacks a column (a malformed file is a bug, not a missing input).
    """
    rows: dict[str, list] = {k: [] for k in ("regime", *COLUMNS)}
    for regime in REGIMES:
        path = Path(results_dir) / f"{regime}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"benchmark results {str(path)!r} not found: run `make bench` to write them")
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"benchmark results {str(path)!r} lack column {missing[0]!r}")
            for rec in reader:
                if not np.isfinite(float(rec["seconds"])):
                    continue  # a failed solve: no time to plot (see docstring)
                rows["regime"].append(regime)
                rows["K"].append(int(rec["K"]))
                rows["rate_model"].append(rec["rate_model"])
                rows["solver"].append(rec["solver"])
                rows["seconds"].append(float(rec["seconds"]))
                rows["rel_gap"].append(float(rec["rel_gap"]) if rec["rel_gap"] not in ("", "nan") else float("nan"))
    if not rows["K"]:
        raise ValueError(f"benchmark results in {str(results_dir)!r} are empty: run `make bench`")
    return as_table(rows)


def plot(table: dict):
    """Log-log seconds against K; one panel per regime, colour by solver, line style by rate model."""
    import matplotlib.pyplot as plt

    reg, K, rm, sol, sec = (column(table, c) for c in ("regime", "K", "rate_model", "solver", "seconds"))
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), sharey=True)
    solvers = list(dict.fromkeys(sol.tolist()))
    styles = {"linear": "-", "shannon": "--"}
    for ax, regime in zip(axes, REGIMES):
        for i, s in enumerate(solvers):
            for r in dict.fromkeys(rm.tolist()):
                m = (reg == regime) & (sol == s) & (rm == r)
                if not m.any():
                    continue
                order = np.argsort(K[m])
                ax.plot(K[m][order], sec[m][order], marker="o", ms=3, ls=styles.get(r, ":"), color=f"C{i}",
                        label=f"{s}, {r}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{regime} regime", fontsize=9)
        ax.set_xlabel("number of users $K$")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("solve time [s]")
    fig.suptitle("Solver time (figures/data, written by `make bench`)", fontsize=10)
    fig.tight_layout()
    return fig
