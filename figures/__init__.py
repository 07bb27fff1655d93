"""Figures: one module a figure (``data()`` tested, ``plot()`` draws); ``python -m figures`` renders all.

A figure whose input file is absent raises :class:`MissingInput` from ``data()``; the pipeline
(:func:`figures._pipeline.render_all`) reports it in one line and renders the others.
"""

from ._pipeline import MissingInput as MissingInput
