"""``python -m figures [--only NAME ...] [--out DIR]``: render figures (PNG, PDF, CSV).

Errors follow the command line's contract (:mod:`numerics.cli_common`, the one guard that maps
exceptions to exit codes): a bad ``--out`` or figure name is one line on stderr and exit 2,
output into a closed pipe ends quietly, never a traceback. ``multispin figures`` runs the
same :func:`render`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from numerics.cli_common import ArgumentParser, run_guarded

from ._pipeline import figure_modules, render_all

PROG = "python -m figures"


def render(out: str, only: Sequence[str] | None) -> int:
    """Render the figures named in ``only`` (all if empty or None) into ``out``; print a summary.

    Raises ``ValueError`` for an ``out`` that is an existing file or an unknown figure name,
    before any rendering; an unusable folder (permissions, ...) fails on ``mkdir`` (an
    ``OSError`` naming the path).
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out!r} is a file, not a directory")
    path.mkdir(parents=True, exist_ok=True)  # an unusable path fails here, before any progress output
    paths = render_all(out, only, progress=True)
    print(f"wrote {len(paths)} files to {out} ({len(paths) // 3} figures of {len(figure_modules())})")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Render the figures; returns the exit code (0, or 2 on bad input: one line on stderr)."""
    p = ArgumentParser(prog=prog, description="Render the figures of the Multi-SPIN toolkit (PNG, PDF and CSV).")
    p.add_argument("--only", nargs="*", default=None, metavar="NAME", help="figures to render (default: all)")
    p.add_argument("--out", default="build/figures", metavar="DIR", help="output folder (default: build/figures)")

    def run() -> int:
        try:
            a = p.parse_args(argv)
        except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
            return int(exc.code or 0)
        return render(a.out, a.only)

    return run_guarded("", run, program=prog)


if __name__ == "__main__":
    sys.exit(main())
