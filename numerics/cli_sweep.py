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
    if not args.no_figures:  # before the report on stdout: a reader closing the pipe early loses no figure
        n = render_figures(res, res.out_dir / "figures")
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
        print(f"wrote {n} study figures (PNG, PDF, CSV) to {res.out_dir / 'figures'}")
    return 0


def render_figures(res: Any, out_dir: Any, note: Any = None) -> int:
    """Render the study figures of a sweep result into ``out_dir`` (a sub-folder per value of the
    axes other than the number of users); returns the number of figures written.

    A figure that does not apply to the study (:class:`figures._study.NotApplicable`: e.g. no
    optimal regime among its methods) is skipped with a one-line note, ``note(line)`` (default:
    stderr). Any other failure of a figure is an internal error (``RuntimeError`` naming the
    figure, exit 1), never reported as bad input.

    The command line is the one place of ``numerics`` that may import ``figures`` (entry point).
    """
    import sys
    from pathlib import Path

    from figures import study_gain_cdf, study_gain_vs_users, study_zero_draft
    from figures._pipeline import render
    from figures._study import NotApplicable, subsets

    say = note or (lambda line: print(line, file=sys.stderr))
    n = 0
    for values, part in subsets(res):
        sub = Path(out_dir).joinpath(*(folder_name(k, v) for k, v in values.items()))
        where = f" ({', '.join(f'{k}={v}' for k, v in values.items())})" if values else ""
        for mod in (study_gain_vs_users, study_gain_cdf, study_zero_draft):
            try:
                render(mod, sub, mod.data(part))
            except NotApplicable as exc:
                say(f"multispin sweep: skipped figure {mod.NAME}{where}: {exc}")
                continue
            except OSError:  # writing into the user's --out folder: the guard reports the path (exit 2)
                raise
            except Exception as exc:
                raise RuntimeError(f"figure {mod.NAME}{where} failed: {type(exc).__name__}: {exc}") from exc
            n += 1
    return n


def folder_name(axis: str, value: Any) -> str:
    """The figure folder of one axis value: ``axis=value`` when that is a plain file name, else the
    value reduced to safe characters plus 8 hex digits of its SHA-256 (distinct values never share a
    folder; a JSON value such as a task mix never nests folders through its ``/``).

    >>> folder_name("bandwidth_hz", 1400000.0)
    'bandwidth_hz=1400000.0'
    >>> folder_name("tasks", '[{"acceptance": "a/b"}]')
    'tasks=acceptance_a_b-d465112c'
    """
    import hashlib
    import re

    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9._+-]{1,80}", text):
        return f"{axis}={text}"
    safe = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_.")[:60]
    return f"{axis}={safe}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
