"""Study (1): mean gain of each optimal regime over each baseline against the number of users,
with 95% intervals, over random user drops in a cell.

The shipped study (``figures/data/study.toml`` = ``scenarios/study.toml``): users dropped
uniformly in an urban-macro annulus (3GPP TR 38.901 path loss, LOS probability and log-normal
shadowing; ``numerics.drops``), their channel mapped to an LTE CQI efficiency, device class and
task drawn from the default preset's mix. Per drop, gain = G(regime) / G(baseline) - 1; the
line is the mean over the drops and the band its 95% Student-t interval (``numerics.sweep``).
"""

from __future__ import annotations

import numpy as np

from ._study import by_users, require_gain, result
from ._suite import STYLE, as_table, column

NAME = "study_gain_vs_users"
TITLE = "Mean gain over each baseline against the number of users over random drops, with 95% intervals."

REGIMES = ("homogeneous", "heterogeneous")


def data(study=None) -> dict[str, np.ndarray]:
    """Rows (K, regime, baseline): ``mean``, ``ci_low``, ``ci_high``, ``median`` gain and ``n`` drops.

    ``study``: None (the shipped study file), a ``numerics.sweep.Study``, or a ``SweepResult``
    (e.g. of a ``multispin sweep`` run) drawn as it is. ``n_failed``: drops left out because the
    regime or the baseline failed on them.

    Raises :class:`figures._study.NotApplicable` when the study ran no optimal regime, or no other
    method to compare it with.
    """
    res = by_users(result(study))
    regimes = require_gain(res, REGIMES)
    s = res.summary[(res.summary["kind"] == "gain") & res.summary["method"].isin(regimes)]
    rows: dict[str, list] = {k: [] for k in ("K", "regime", "baseline", "mean", "ci_low", "ci_high", "median", "n",
                                             "n_failed")}
    for _, r in s.iterrows():
        rows["K"].append(int(r["n_users"]))
        rows["regime"].append(r["method"])
        rows["baseline"].append(r["baseline"])
        for k in ("mean", "ci_low", "ci_high", "median"):
            rows[k].append(float(r[k]))
        rows["n"].append(int(r["n"]))
        rows["n_failed"].append(int(r["n_failed"]))
    return as_table(rows)


def plot(table: dict):
    """One panel per regime; one line per baseline (mean gain in %) with its 95% band."""
    import matplotlib.pyplot as plt

    K, reg, base = column(table, "K"), column(table, "regime"), column(table, "baseline")
    mean, lo, hi = (100 * column(table, c) for c in ("mean", "ci_low", "ci_high"))
    regimes = [r for r in REGIMES if np.any(reg == r)]
    fig, axes = plt.subplots(1, len(regimes), figsize=(4.8 * len(regimes), 4.0), squeeze=False)
    for ax, regime in zip(axes[0], regimes, strict=True):
        for b in dict.fromkeys(base[reg == regime].tolist()):
            m = (reg == regime) & (base == b)
            st = STYLE[b]
            ax.plot(K[m], mean[m], marker=st["marker"], ls=st["ls"], color=st["color"], ms=4, label=f"over {b}")
            ax.fill_between(K[m], lo[m], hi[m], color=st["color"], alpha=0.18, lw=0)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(np.unique(K), [str(k) for k in np.unique(K)])
        ax.set_xlabel("number of users $K$")
        ax.set_title(STYLE[regime]["label"], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("mean gain per drop [%] (95% interval)")
    n = column(table, "n")
    drops = f"{int(n.max())}" if n.min() == n.max() else f"{int(n.min())} to {int(n.max())}"
    failed = " after failed solves left out" if np.any(column(table, "n_failed") > 0) else ""
    fig.suptitle(f"Gain over the baselines, random drops in a cell ({drops} drops per point{failed})", fontsize=10)
    fig.tight_layout()
    return fig
