"""The documentation's Python examples run as doctests (docs/*.md), like the README's."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if ">>> " in p.read_text())


def test_pages_with_examples_exist():
    assert [p.name for p in PAGES] == ["formulas.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_examples_run(page):
    res = doctest.testfile(str(page), module_relative=False,
                           optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 10 and res.failed == 0
