"""(e) Sum goodput against the number of users K, for every baseline and both regimes.

The default preset's users are cycled to K users (same band, same server). Methods: the six
of docs/model.md section 3 (:data:`numerics.BASELINES`), each evaluated by
:func:`numerics.baseline`. The tests check the orderings that hold by construction
(each optimum is at least the baselines its problem contains).
"""

from __future__ import annotations

import numpy as np

from numerics import BASELINES, Scenario, baseline

from ._suite import PRESET, STYLE, as_table, column

NAME = "goodput_vs_users"
TITLE = "Sum goodput against the number of users, for both optimal regimes and every baseline."

USERS = (1, 2, 4, 8, 12, 16, 24, 32)


def data(users=USERS, methods=BASELINES, preset: str = PRESET) -> dict[str, np.ndarray]:
    """Rows (K, method): ``goodput`` [tokens/s]."""
    rows: dict[str, list] = {k: [] for k in ("K", "method", "goodput")}
    for K in users:
        s = Scenario.preset(preset, n_users=K)
        for m in methods:
            rows["K"].append(K)
            rows["method"].append(m)
            rows["goodput"].append(baseline(s, m).goodput)
    return as_table(rows)


def plot(table: dict):
    """One line per method."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    K, meth, G = column(table, "K"), column(table, "method"), column(table, "goodput")
    for m in dict.fromkeys(meth.tolist()):
        sel = meth == m
        st = STYLE[m]
        ax.plot(K[sel], G[sel], marker=st["marker"], ls=st["ls"], color=st["color"], label=st["label"], ms=4)
    ax.set_xlabel("number of users $K$")
    ax.set_ylabel("sum goodput [tokens/s]")
    ax.set_title("Sum goodput vs number of users (default preset, 1.4 MHz uplink)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
