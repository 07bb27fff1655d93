"""Multi-SPIN theory in SymPy: the closed forms, KKT systems and sign arguments (MODEL.md section 3).

One module per equation family, with the same names as in :mod:`numerics`.
"""
