"""Real Lambert-W, both real branches, vectorised.

W_0 on [-1/e, inf) and W_{-1} on [-1/e, 0). Used by the Shannon-rate inverse (MODEL.md
section 2), the H4 draft-length closed form and the D3 allocation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import lambertw as _scipy_lambertw

__all__ = ["lambertw"]


def lambertw(x, branch: int = 0):
    """Real Lambert-W: the solution w of w e^w = x on branch 0 or -1.

    Raises ``ValueError`` for x outside the real domain of the branch.
    """
    if branch not in (0, -1):
        raise ValueError(f"branch must be 0 or -1, got {branch!r}")
    x = np.asarray(x, dtype=np.float64)
    lo = -np.exp(-1.0)
    ok = (x >= lo) & ((x < 0) if branch == -1 else np.isfinite(x) | (x == np.inf))
    if branch == -1:
        ok = (x >= lo) & (x < 0)
    if not np.all(ok):
        bad = x[~ok].flat[0] if x.ndim else x
        dom = "[-1/e, 0)" if branch == -1 else "[-1/e, inf]"
        raise ValueError(f"x must lie in {dom} for branch {branch}, got {float(bad)!r}")
    return np.real(_scipy_lambertw(x, branch))[()]
