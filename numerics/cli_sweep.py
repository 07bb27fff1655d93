"""``multispin sweep STUDY.toml --out DIR [--workers N] [--scheduler ADDRESS] [--drops N]``.

Runs a study (:mod:`numerics.sweep`) on Dask: a ``LocalCluster`` of N single-threaded worker
processes (default: one per core), or the existing cluster whose scheduler listens at ADDRESS
(``tcp://host:8786``; its workers need this package installed). Writes ``DIR/results.parquet``
(one row per drop x axis point x method), ``DIR/summary.csv`` (means with 95% intervals and
per-drop gain statistics), ``DIR/headline.csv`` (largest, 95th-percentile and best-mean gain per
regime and baseline), ``DIR/failures.csv`` (failed solves with their seed and error) and the
per-chunk files that make a rerun resume where the last run stopped, and renders the study
figures (``study_gain_vs_users``, ``study_gain_cdf``, ``study_zero_draft``: PNG, PDF and CSV) into
``DIR/figures/``, one folder per value of the axes other than the number of users. ``--drops N`` overrides
the study's number of drops (the first N drops of the study, so a larger N later resumes).
``--workers 0`` runs the chunks in this process without Dask.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``sweep`` subcommand on an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "sweep", help="run a study of random drops on Dask (tables and summary)",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", metavar="STUDY.toml", help="study file (e.g. scenarios/study.toml)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (a rerun into it resumes)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local Dask worker processes (default: one per core; 0: no Dask, in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--drops", type=int, default=None, metavar="N", help="number of drops (overrides the study's)")
    p.add_argument("--no-figures", action="store_true", help="write the tables only")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the study; print where the tables went and the headline gains. ``ValueError`` on bad input."""
    from .sweep import headline, load_study, run_sweep

    if args.workers is not None and args.scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be an integer >= 0, got {args.workers}")
    if args.drops is not None and args.drops < 1:
        raise ValueError(f"--drops must be an integer >= 1, got {args.drops}")
    study = load_study(args.study)
    res = run_sweep(study, args.out, workers=args.workers, scheduler=args.scheduler, drops=args.drops)
    n_fail = len(res.failures)
    print(f"study {study.name}: {res.results['drop'].nunique()} drops x {study.n_points} axis points x "
          f"{len(study.methods)} methods = {len(res.results)} solves ({res.computed_chunks} chunks computed, "
          f"{res.skipped_chunks} resumed) in {res.seconds:.1f} s; {n_fail} failed (failures.csv)")
    print(f"wrote {res.out_dir}/results.parquet, summary.csv, headline.csv, failures.csv")
    top = headline(res.results, res.summary, study)
    for _, r in top.iterrows():
        print(f"  {r['method']:<13} over {r['baseline']:<19} max {100 * r['max_gain']:+7.1f} %  "
              f"p95 {100 * r['p95_gain']:+7.1f} %  best mean {100 * r['best_mean_gain']:+7.1f} % "
              f"at {r['best_mean_setting']}")
    if not args.no_figures:
        n = render_figures(res, res.out_dir / "figures")
        print(f"wrote {n} study figures (PNG, PDF, CSV) to {res.out_dir / 'figures'}")
    return 0


def render_figures(res: Any, out_dir: Any) -> int:
    """Render the study figures of a sweep result into ``out_dir`` (a sub-folder per value of the
    axes other than the number of users); returns the number of figures written.

    The command line is the one place of ``numerics`` that may import ``figures`` (entry point).
    """
    import types
    from pathlib import Path

    from figures import study_gain_cdf, study_gain_vs_users, study_zero_draft
    from figures._pipeline import render
    from figures._study import subsets

    n = 0
    for values, part in subsets(res):
        sub = Path(out_dir).joinpath(*(f"{k}={v}" for k, v in values.items()))
        for mod in (study_gain_vs_users, study_gain_cdf, study_zero_draft):
            # the pipeline's render() with this result as the figure's data
            view = types.SimpleNamespace(NAME=mod.NAME, data=lambda mod=mod, part=part: mod.data(part), plot=mod.plot)
            render(view, sub)
            n += 1
    return n
