"""``python -m figures [--only NAME ...] [--out DIR]``: render figures (PNG, PDF, CSV)."""

from __future__ import annotations

import argparse
import sys

from ._pipeline import figure_modules, render_all


def main(argv: list[str] | None = None) -> int:
    """Render the figures; returns the exit code (2 on an unknown figure name)."""
    p = argparse.ArgumentParser(prog="python -m figures",
                                description="Render the figures of the Multi-SPIN toolkit (PNG, PDF and CSV).")
    p.add_argument("--only", nargs="*", default=None, metavar="NAME", help="figures to render (default: all)")
    p.add_argument("--out", default="build/figures", metavar="DIR", help="output folder (default: build/figures)")
    a = p.parse_args(argv)
    try:
        paths = render_all(a.out, a.only, progress=True)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} files to {a.out} ({len(paths) // 3} figures of {len(figure_modules())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
