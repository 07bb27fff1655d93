"""The figure pipeline: every public module of :mod:`figures` is one figure.

A figure module defines

- ``NAME``: str, the file stem (``tokens_per_round``);
- ``TITLE``: str, one sentence on what the figure shows (used in the README gallery);
- ``data() -> dict[str, array_like]``: the table drawn, equal-length 1-D columns (tested);
- ``plot(table) -> matplotlib.figure.Figure``: drawing only, no computation of results.

:func:`render` writes ``NAME.png``, ``NAME.pdf`` and ``NAME.csv``; output is deterministic
(seeded data, no timestamps in the files).

A figure whose ``data()`` reads an input file that is absent (for example benchmark results
not yet written) raises :class:`MissingInput` (any ``FileNotFoundError`` counts):
:func:`render_all` then reports it in one line and renders the other figures.
"""

from __future__ import annotations

import csv
import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import numpy as np

__all__ = ["MissingInput", "check_table", "figure_modules", "render", "render_all", "write_csv"]


class MissingInput(FileNotFoundError):
    """A figure's input file is absent; :func:`render_all` skips that figure and says so."""


def figure_modules() -> dict[str, ModuleType]:
    """All figure modules by NAME (public modules of the ``figures`` package), sorted."""
    import figures

    mods = {}
    for info in sorted(pkgutil.iter_modules(figures.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"figures.{info.name}")
        mods[mod.NAME] = mod
    return mods


def check_table(table: dict) -> int:
    """Validate a data() table: non-empty dict of equal-length 1-D columns; returns the row count."""
    if not isinstance(table, dict) or not table:
        raise ValueError(f"a figure table must be a non-empty dict of columns, got {type(table).__name__}")
    lengths = {k: len(np.atleast_1d(np.asarray(v))) for k, v in table.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"figure table columns have different lengths: {lengths}")
    return next(iter(lengths.values()))


def write_csv(table: dict, path: Path) -> None:
    """Write a table as CSV (floats with repr precision, so the file is exact and stable)."""
    n = check_table(table)
    cols = {k: np.atleast_1d(np.asarray(v)) for k, v in table.items()}
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(cols))
        for i in range(n):
            w.writerow([_cell(c, i) for c in cols.values()])


def _cell(col: np.ndarray, i: int) -> object:
    """A CSV cell: floats with repr precision, NumPy scalars as Python scalars."""
    if np.issubdtype(col.dtype, np.floating):
        return repr(float(col[i]))
    return col[i].item() if hasattr(col[i], "item") else col[i]


def render(mod: ModuleType, out_dir: Path | str, table: dict | None = None) -> list[Path]:
    """Compute ``mod.data()`` (unless ``table`` is given), draw ``mod.plot(table)``, write PNG, PDF and CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if table is None:
        table = mod.data()
    fig = mod.plot(table)
    paths = [out / f"{mod.NAME}.{ext}" for ext in ("png", "pdf", "csv")]
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    write_csv(table, paths[2])
    return paths


def _say_skipped(name: str, err: FileNotFoundError) -> None:
    from tqdm import tqdm

    tqdm.write(f"figures: skipped {name}: {err}", file=sys.stderr)  # one line, without breaking a progress bar


def render_all(out_dir: Path | str, only: Iterable[str] | None = None, progress: bool = False,
               on_missing: Callable[[str, FileNotFoundError], None] | None = None) -> list[Path]:
    """Render every figure (or those named in ``only``) into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    only : iterable of str, optional
        Figure names to render (default: all, see :func:`figure_modules`).
    progress : bool
        Show a progress bar on stderr.
    on_missing : callable, optional
        Called as ``on_missing(name, error)`` for a figure whose ``data()`` raised
        :class:`MissingInput` (or any ``FileNotFoundError``); that figure is skipped and the
        others render. Default: one line ``figures: skipped NAME: <error>`` on stderr.

    Returns
    -------
    list of Path
        The files written, three per rendered figure (PNG, PDF, CSV).

    Raises
    ------
    ValueError
        A name in ``only`` is not a figure (before anything is rendered).
    """
    mods = figure_modules()
    names = list(only) if only else list(mods)
    unknown = [n for n in names if n not in mods]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; known: {', '.join(mods)}")
    report = on_missing or _say_skipped
    it: Iterable[str] = names
    if progress:
        from tqdm import tqdm

        it = tqdm(names, desc="figures", unit="fig")
    paths: list[Path] = []
    for n in it:
        try:
            table = mods[n].data()
        except FileNotFoundError as err:  # MissingInput, or a plain open() of an absent input
            report(n, err)
            continue
        paths += render(mods[n], out_dir, table)
    return paths
