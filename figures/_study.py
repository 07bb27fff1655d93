"""The shipped study (``figures/data/study.toml``, linked as ``scenarios/study.toml``) behind the
three ``study_*`` figures: run once per process, in-process and serially (deterministic: the
same tables as any Dask run of the study, ``numerics.sweep``), without writing files.

Private (a leading underscore): :func:`figures._pipeline.figure_modules` skips it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from numerics.sweep import Study, SweepResult, load_study, run_sweep

#: the study the figures render (package data of ``figures``, so a wheel renders it too)
STUDY_FILE = Path(__file__).resolve().parent / "data" / "study.toml"


@functools.cache
def _shipped(path: str) -> SweepResult:
    return run_sweep(load_study(path), None, workers=0, progress=False)


def result(study: Study | SweepResult | None = None) -> SweepResult:
    """The sweep result of ``study`` (default: the shipped study file, computed once per process);
    a :class:`~numerics.sweep.SweepResult` (e.g. of a ``multispin sweep`` run) is used as it is.

    Raises ``FileNotFoundError`` when the shipped study file is missing (the figure is skipped).
    """
    if isinstance(study, SweepResult):
        return study
    if study is not None:
        return run_sweep(study, None, workers=0, progress=False)
    if not STUDY_FILE.is_file():
        raise FileNotFoundError(f"study file {str(STUDY_FILE)!r} is missing")
    return _shipped(str(STUDY_FILE))



def by_users(study_result: SweepResult) -> SweepResult:
    """Check that the number of users is the study's only axis (the study figures draw against it)."""
    axes = study_result.results.columns[1:study_result.results.columns.get_loc("drop")]
    if len(axes):
        raise ValueError(f"the study figures need n_users as the only axis, got also {list(axes)}")
    return study_result
