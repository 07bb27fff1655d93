"""The shipped study (``figures/data/study.toml``, linked as ``scenarios/study.toml``) behind the
three ``study_*`` figures: run once per process, in-process and serially (deterministic: the
same tables as any Dask run of the study, ``numerics.sweep``), without writing files.

Private (a leading underscore): :func:`figures._pipeline.figure_modules` skips it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from numerics.sweep import Study, SweepResult, load_study, run_sweep

from ._pipeline import MissingInput

#: the study the figures render (package data of ``figures``, so a wheel renders it too)
STUDY_FILE = Path(__file__).resolve().parent / "data" / "study.toml"


@functools.cache
def _shipped(path: str) -> SweepResult:
    return run_sweep(load_study(path), None, workers=0, progress=False)


def result(study: Study | SweepResult | None = None) -> SweepResult:
    """The sweep result of ``study`` (default: the shipped study file, computed once per process);
    a :class:`~numerics.sweep.SweepResult` (e.g. of a ``multispin sweep`` run) is used as it is.

    Raises :class:`figures._pipeline.MissingInput` when the shipped study file is missing (the
    pipeline then skips the figure).
    """
    if isinstance(study, SweepResult):
        return study
    if study is not None:
        return run_sweep(study, None, workers=0, progress=False)
    if not STUDY_FILE.is_file():
        raise MissingInput(f"study file {str(STUDY_FILE)!r} is missing")
    return _shipped(str(STUDY_FILE))



def _axes(study_result: SweepResult) -> list[str]:
    cols = list(study_result.results.columns)
    return cols[1:cols.index("drop")]  # between "point" and "drop": the axes other than n_users


def subsets(study_result: SweepResult) -> list[tuple[dict, SweepResult]]:
    """Split a result by the values of its axes other than the number of users.

    Returns ``[(values, part), ...]``: ``values`` maps each such axis to its value (empty when
    n_users is the only axis), ``part`` the rows of those points with the axis columns removed,
    ready for the study figures.
    """
    axes = _axes(study_result)
    if not axes:
        return [({}, study_result)]
    r, s = study_result.results, study_result.summary
    out = []
    for values, rows in r.groupby(axes, sort=False):
        values = dict(zip(axes, values if isinstance(values, tuple) else (values,), strict=True))
        points = rows["point"].unique()
        part = SweepResult(results=rows.drop(columns=axes).reset_index(drop=True),
                           summary=s[s["point"].isin(points)].drop(columns=axes).reset_index(drop=True),
                           out_dir=study_result.out_dir, computed_chunks=0, skipped_chunks=0, seconds=0.0)
        out.append((values, part))
    return out


def by_users(study_result: SweepResult) -> SweepResult:
    """Check that the number of users is the study's only axis (the study figures draw against it)."""
    axes = _axes(study_result)
    if axes:
        raise ValueError(f"the study figures need n_users as the only axis, got also {list(axes)}")
    return study_result


class NotApplicable(MissingInput):
    """A study figure does not apply to this study (its methods, or its successful solves, do not
    hold what the figure draws): the figure is skipped with a one-line note, not drawn empty.

    A :class:`~figures._pipeline.MissingInput`, so :func:`figures._pipeline.render_all` skips it too.
    """


def methods(study_result: SweepResult) -> list[str]:
    """The methods the study ran, in the study's order (the summary lists each one, solved or not)."""
    s = study_result.summary
    return list(dict.fromkeys(s.loc[s["kind"] == "goodput", "method"]))


def require_gain(study_result: SweepResult, regimes) -> list[str]:
    """The regimes of ``regimes`` the study ran, each with at least one other method to gain over.

    Raises :class:`NotApplicable` when there is none (e.g. ``methods = ["equal-best"]``).
    """
    ran = methods(study_result)
    have = [r for r in regimes if r in ran and len(ran) > 1]
    if not have:
        raise NotApplicable(f"needs an optimal regime ({' or '.join(regimes)}) and another method to compare it "
                            f"with; the study ran {ran}")
    return have


def failed_note(n_failed: int) -> str:
    """Title fragment saying how many solves failed and were left out (empty when none did)."""
    return f"; {n_failed} failed solve{'s' if n_failed != 1 else ''} left out" if n_failed else ""
