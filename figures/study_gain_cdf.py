"""Study (2): the distribution (CDF) of per-drop gains of each optimal regime over each
baseline, over every drop and number of users of the shipped study (``figures/data/study.toml``).

Per drop, gain = G(regime) / G(baseline) - 1 (``numerics.sweep``); a curve at x gives the share
of drops whose gain is at most x. Drops in which either method failed are left out (the table of
the study records them; the shipped study has none with the current solvers).
"""

from __future__ import annotations

import numpy as np

from ._study import NotApplicable, by_users, require_gain, result
from ._suite import STYLE, as_table, column

NAME = "study_gain_cdf"
TITLE = "Distribution of the per-drop gain over each baseline, over every drop and number of users."

REGIMES = ("homogeneous", "heterogeneous")


def data(study=None) -> dict[str, np.ndarray]:
    """Rows (regime, baseline, K, drop): the per-drop ``gain``, sorted within (regime, baseline).

    ``study``: None (the shipped study file), a ``numerics.sweep.Study``, or a ``SweepResult``
    (e.g. of a ``multispin sweep`` run) drawn as it is.

    Raises :class:`figures._study.NotApplicable` when the study ran no optimal regime and another
    method, or no drop in which both solved.
    """
    res = by_users(result(study))
    regimes = require_gain(res, REGIMES)
    r = res.results[res.results["status"] == "ok"]
    methods = list(dict.fromkeys(r["method"]))
    rows: dict[str, list] = {k: [] for k in ("regime", "baseline", "K", "drop", "gain")}
    G = r.pivot_table(index=["n_users", "drop"], columns="method", values="goodput", aggfunc="first")
    for regime in (m for m in regimes if m in methods):
        for b in (m for m in methods if m != regime):
            both = G[[regime, b]].dropna()
            both = both[both[b] > 0]
            g = (both[regime] / both[b] - 1.0)
            order = np.lexsort((g.index.get_level_values("drop"), g.index.get_level_values("n_users"), g.to_numpy()))
            for i in order:
                rows["regime"].append(regime)
                rows["baseline"].append(b)
                rows["K"].append(int(g.index[i][0]))
                rows["drop"].append(int(g.index[i][1]))
                rows["gain"].append(float(g.iloc[i]))
    if not rows["gain"]:
        raise NotApplicable(f"no drop in which {' or '.join(regimes)} and another method both solved")
    return as_table(rows)


def plot(table: dict):
    """One panel per regime; one empirical CDF per baseline (gain in %)."""
    import matplotlib.pyplot as plt

    reg, base, gain = column(table, "regime"), column(table, "baseline"), 100 * column(table, "gain")
    regimes = [r for r in REGIMES if np.any(reg == r)]
    fig, axes = plt.subplots(1, len(regimes), figsize=(4.8 * len(regimes), 4.0), squeeze=False, sharey=True)
    K = np.unique(column(table, "K"))
    for ax, regime in zip(axes[0], regimes, strict=True):
        for b in dict.fromkeys(base[reg == regime].tolist()):
            g = gain[(reg == regime) & (base == b)]  # sorted in data()
            st = STYLE[b]
            ax.step(g, np.arange(1, g.size + 1) / g.size, where="post", color=st["color"], ls=st["ls"], lw=1.2,
                    label=f"over {b}")
        ax.axvline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("gain per drop [%]")
        ax.set_title(STYLE[regime]["label"], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("share of drops with gain <= x")
    fig.suptitle(f"Per-drop gains, pooled over K = {', '.join(str(k) for k in K)} (random drops)", fontsize=10)
    fig.tight_layout()
    return fig
