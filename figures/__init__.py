"""Figures: one module a figure (``data()`` tested, ``plot()`` draws); ``python -m figures`` renders all."""
