"""Shared conventions of the figure suite (b)..(j): the default scenario, method styles.

Private (a leading underscore): :func:`figures._pipeline.figure_modules` skips it.
"""

from __future__ import annotations

import numpy as np

#: the preset every figure starts from (numerics/presets/scenarios.toml, cited sources)
PRESET = "default"

#: one style per method, in the order of docs/model.md section 3
STYLE = {
    "autoregressive": dict(color="0.45", marker="x", ls=":", label="autoregressive (server only)"),
    "equal-fixed": dict(color="C7", marker="v", ls="--", label="equal band, L = 4"),
    "equal-best": dict(color="C2", marker="^", ls="--", label="equal band, best common L"),
    "equal-heterogeneous": dict(color="C4", marker="d", ls="-.", label="equal band, per-user L"),
    "homogeneous": dict(color="C0", marker="o", ls="-", label="homogeneous optimum (H1-H4)"),
    "heterogeneous": dict(color="C3", marker="s", ls="-", label="heterogeneous optimum (D1-D7)"),
}


def column(table: dict, name: str) -> np.ndarray:
    """A table column as an array."""
    return np.asarray(table[name])


def as_table(rows: dict[str, list]) -> dict[str, np.ndarray]:
    """Lists to arrays: str columns stay str, bools become int 0/1, the rest float64 or int64."""
    out = {}
    for k, v in rows.items():
        a = np.asarray(v)
        if a.dtype == bool:
            a = a.astype(np.int64)
        elif a.dtype.kind == "f":
            a = a.astype(np.float64)
        out[k] = a
    return out
