"""README: its Python examples run as doctests; the Quick start block is intact; the gallery
names every figure module with its image link."""

from __future__ import annotations

import doctest
from pathlib import Path

from figures._pipeline import figure_modules

README = Path(__file__).resolve().parent.parent / "README.md"

QUICK_START = """```sh
make figures   # render every figure (PNG, PDF, CSV) into build/figures/
make test      # run the test suite, which includes every check of proofs_check
```"""


def test_readme_examples_run():
    res = doctest.testfile(str(README), module_relative=False,
                           optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 15 and res.failed == 0


def test_quick_start_unchanged():
    assert QUICK_START in README.read_text()


def test_gallery_lists_every_figure():
    text = README.read_text()
    for name in figure_modules():
        assert f"![{name}](build/figures/{name}.png)" in text
        assert f"`{name}`" in text
