"""(j) Solver time against the number of users: ours and the generic CVXPY peers.

Read from the committed benchmark output ``figures/data/homogeneous.csv`` and
``figures/data/heterogeneous.csv`` (package data of ``figures``, so that an installed wheel
renders this figure too), written by ``make bench`` (``benchmarks/bench_homogeneous.py`` and
``benchmarks/bench_heterogeneous.py``; schema in ``benchmarks/_bench.py``), so that rendering
is deterministic and fast: nothing is timed here.

A failed solve (status other than ``ok``: an exception, a time-out, a CVXPY status without a
solution) has no time. It stays in the table with ``seconds`` = nan and is drawn as failed: a
red cross at the top edge of its panel, at its K, with its own legend entry; never as a
timing.

Panels: the homogeneous regime (every family in the file), and the heterogeneous regime with
ragged and with padded batching (v1 > 0, one family: ``v1K-fixed`` when present, the family
whose solve stays non-trivial at K = 10^5; else the first in the file); a panel without rows
is left out. The table holds every row; the panels draw that slice.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ._suite import as_table, column

NAME = "solver_time"
TITLE = "Solver time against the number of users: our solvers against generic CVXPY programs (benchmark output)."

RESULTS = Path(__file__).resolve().parent / "data"
REGIMES = ("homogeneous", "heterogeneous")
#: columns every results file must have
REQUIRED = ("K", "rate_model", "solver", "status", "seconds")
#: optional columns and their value when a file lacks them
OPTIONAL = {"family": "", "batching": "ragged", "v1": "nan", "relaxation": "", "rel_gap": "nan"}
#: the heterogeneous family drawn, in order of preference
FAMILY_PREFERENCE = ("v1K-fixed", "presets", "wide-spread")


def _float(text: str) -> float:
    return float(text) if text not in ("", None) else float("nan")


def data(results_dir: str | Path = RESULTS) -> dict[str, np.ndarray]:
    """Rows of both CSV files with a ``regime`` column; failed solves kept with seconds = nan.

    Raises
    ------
    FileNotFoundError
        A file is missing (run ``make bench``): the figure pipeline skips the figure.
    ValueError
        A file lacks a column, or an ``ok`` row has no finite positive time (a malformed file
        is a bug, not a missing input).
    """
    rows: dict[str, list] = {k: [] for k in ("regime", *REQUIRED, *OPTIONAL)}
    for regime in REGIMES:
        path = Path(results_dir) / f"{regime}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"benchmark results {str(path)!r} not found: run `make bench` to write them")
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"benchmark results {str(path)!r} lack column {missing[0]!r}")
            for rec in reader:
                ok = rec["status"] == "ok"
                sec = _float(rec["seconds"]) if ok else float("nan")
                if ok and not (np.isfinite(sec) and sec > 0):
                    raise ValueError(f"benchmark results {str(path)!r}: an ok row without a time: {rec}")
                rows["regime"].append(regime)
                rows["K"].append(int(rec["K"]))
                rows["rate_model"].append(rec["rate_model"])
                rows["solver"].append(rec["solver"])
                rows["status"].append("ok" if ok else "failed")
                rows["seconds"].append(sec)
                for c, default in OPTIONAL.items():
                    v = rec.get(c) or default
                    rows[c].append(_float(v) if c in ("v1", "rel_gap") else v)
    if not rows["K"]:
        raise ValueError(f"benchmark results in {str(results_dir)!r} are empty: run `make bench`")
    return as_table(rows)


def _panels(table: dict) -> list[tuple[str, np.ndarray]]:
    """(title, row mask) of each panel (module docstring)."""
    reg, fam, bat, v1 = (column(table, c) for c in ("regime", "family", "batching", "v1"))
    het = reg == "heterogeneous"
    present = [f for f in FAMILY_PREFERENCE if np.any(het & (fam == f))] or list(dict.fromkeys(fam[het].tolist()))
    family = present[0] if present else ""
    panels = [("homogeneous regime", reg == "homogeneous")]
    for b in ("ragged", "padded"):
        # v1 > 0 (nan: a file without the column, taken as the solver's default scenario)
        m = het & (fam == family) & (bat == b) & ~(v1 == 0)
        panels.append((f"heterogeneous, {b}" + (f" ({family}, v1 > 0)" if family else ""), m))
    return [p for p in panels if p[1].any()] or panels[:1]  # a panel without rows is left out


def plot(table: dict):
    """Log-log seconds against K; colour by solver (and relaxation), line style by rate model;
    failed solves as red crosses at the top edge."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    reg, K, rm, sol, rel, st, sec = (column(table, c) for c in ("regime", "K", "rate_model", "solver", "relaxation",
                                                               "status", "seconds"))
    # our heterogeneous solver appears twice: continuous relaxation and integer lengths
    label = np.array([f"{s} ({r})" if g == "heterogeneous" and s == "ours" and r else s
                      for g, s, r in zip(reg, sol, rel, strict=True)])
    colours = {lab: f"C{i}" for i, lab in enumerate(dict.fromkeys(label.tolist()))}
    styles = {"linear": "-", "shannon": "--"}
    panels = _panels(table)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.0), sharey=True)
    for ax, (title, m) in zip(np.atleast_1d(axes), panels, strict=True):
        ok = m & (st == "ok")
        for lab in colours:
            for r in dict.fromkeys(rm.tolist()):
                sel = ok & (label == lab) & (rm == r)
                if sel.any():
                    order = np.argsort(K[sel])
                    ax.plot(K[sel][order], sec[sel][order], marker="o", ms=3, ls=styles.get(r, ":"),
                            color=colours[lab], label=f"{lab}, {r}")
        failed = m & (st != "ok")
        handles, labels = ax.get_legend_handles_labels()
        if failed.any():
            ax.scatter(K[failed], np.ones(failed.sum()), transform=ax.get_xaxis_transform(), marker="X", s=60,
                       color="red", clip_on=False, zorder=5)
            handles.append(Line2D([], [], ls="none", marker="X", color="red", ms=8))
            labels.append(f"failed solve, no time ({int(failed.sum())})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("number of users $K$")
        ax.grid(alpha=0.3, which="both")
        if handles:
            ax.legend(handles, labels, fontsize=6.5)
    np.atleast_1d(axes)[0].set_ylabel("solve time [s]")
    fig.suptitle("Solver time (figures/data, written by `make bench`; failed solves marked, not timed)", fontsize=10)
    fig.tight_layout()
    return fig
