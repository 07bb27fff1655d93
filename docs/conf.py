"""Sphinx configuration of the multispin documentation (``make docs``; CI builds it with -W).

Generated at build time into ``docs/generated/`` (not committed):

- ``generated/gallery.md`` and ``generated/figures/``: every figure, rendered by the figures
  pipeline (:func:`figures._pipeline.render_all`); a figure skipped for a missing input is a
  warning, hence an error in CI;
- ``generated/cli.md``: the ``--help`` of the ``multispin`` command and its subcommands;
- ``generated/tutorials/``: the tutorials of ``docs/tutorials/``, executed by sphinx-gallery;
- ``generated/api/``: autosummary pages of the public names (numpydoc docstrings).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

from numerics import __version__  # after the backend is set

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "generated"

project = "multispin"
author = "the multispin developers"
copyright = "2026, the multispin developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "tutorials/GALLERY_HEADER.rst", "generated/tutorials/*.ipynb",
                    "generated/tutorials/*.py", "generated/tutorials/*.zip"]
root_doc = "index"

# MyST: $...$ and $$...$$ math (docs/model.md), heading anchors for cross-page links
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# API reference: autosummary writes one page per public name; numpydoc renders the sections
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Tutorials: executed at build time (so they cannot rot); their output is shown in the page
sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["generated/tutorials"],
    "filename_pattern": r"/tutorial_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "alabaster"
html_title = f"multispin {release}"
html_theme_options = {"description": "Multi-SPIN: multi-user speculative inference at the edge",
                      "fixed_sidebar": True}
html_static_path: list[str] = []


# ------------------------------------------------------------------ generated pages
def _write_if_changed(path: Path, text: str) -> None:
    """Write only on change, so that Sphinx does not rebuild unchanged pages."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _render_gallery(app) -> None:
    """Render every figure with the figures pipeline and write the gallery page.

    If ``MULTISPIN_FIGURES_DIR`` names a folder that ``multispin figures`` wrote in the same
    run (CI does this), its files are reused instead of rendering them a second time.
    """
    import shutil

    from sphinx.util import logging

    from figures._pipeline import figure_modules, render_all

    log = logging.getLogger("multispin.gallery")
    out = GENERATED / "figures"
    out.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []

    def on_missing(name: str, err: FileNotFoundError) -> None:
        skipped.append(name)
        log.warning("figure %s skipped: %s", name, err)

    todo = list(figure_modules())
    given = os.environ.get("MULTISPIN_FIGURES_DIR")
    if given:
        files = {n: [Path(given) / f"{n}.{ext}" for ext in ("png", "pdf", "csv")] for n in todo}
        for n in [n for n in todo if all(f.is_file() for f in files[n])]:
            for f in files[n]:
                if f.resolve() != (out / f.name).resolve():  # the folder may be the gallery's own
                    shutil.copyfile(f, out / f.name)
            todo.remove(n)
    if todo:
        render_all(out, todo, on_missing=on_missing)
    lines = ["# Figure gallery", "",
             "Rendered by the figures pipeline while this site was built (`multispin figures` writes",
             "the same files: PNG, PDF and the CSV of the data drawn). Every figure starts from the",
             "cited `default` preset unless its caption says otherwise.", ""]
    for name, mod in figure_modules().items():
        lines += [f"## `{name}`", "", mod.TITLE, ""]
        if name in skipped:
            lines += ["*Not rendered: its input is missing (see the build log).*", ""]
            continue
        lines += [f"```{{image}} figures/{name}.png", f":alt: {name}", ":width: 100%", "```", "",
                  f"Files: {{download}}`PDF <figures/{name}.pdf>`, {{download}}`CSV <figures/{name}.csv>`.", ""]
        doc = (mod.__doc__ or "").strip().split("\n", 1)  # the first line repeats the title
        if len(doc) == 2 and doc[1].strip():
            lines += ["```{eval-rst}", inspect.cleandoc(doc[1]), "```", ""]
    _write_if_changed(GENERATED / "gallery.md", "\n".join(lines))


def _write_cli(app) -> None:
    """The command line reference: ``--help`` of ``multispin`` and of every subcommand."""
    import argparse

    from numerics.cli import _parser

    parser = _parser()
    lines = ["# Command line", "",
             "`multispin` (also `python -m numerics`). Generated from the parser at build time.", "",
             "```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                lines += [f"## `multispin {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    _write_if_changed(GENERATED / "cli.md", "\n".join(lines))


def setup(app):
    app.connect("builder-inited", _render_gallery)
    app.connect("builder-inited", _write_cli)
