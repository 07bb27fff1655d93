"""(i) Goodput per task for the preset model pairs with published acceptance rates.

For every published constant acceptance rate of ``numerics/presets/acceptance.toml`` whose
target fits on the A100 80GB of the default preset (LaMDA 137B does not: 274 GB in bf16),
the default preset's 8 users (devices, channels, top-32 payload over the draft's vocabulary)
run that pair: draft latency from the draft's parameter count (memory roofline), verification
latency from the target's (HBM and FLOP rooflines), every user at the task's alpha. Bars: the
two optima, equal-best and the server-only autoregressive baseline.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario, baseline
from numerics.presets import acceptance_ids, build, preset_spec, tables

from ._suite import PRESET, STYLE, as_table, column

NAME = "goodput_per_task"
TITLE = "Goodput per task for the published model pairs: the optimum tracks the measured acceptance rate."

METHODS = ("autoregressive", "equal-best", "homogeneous", "heterogeneous")


def entries(preset: str = PRESET) -> list[str]:
    """Acceptance ids whose target fits on the preset's server."""
    spec = preset_spec(preset)
    srv = tables()["hardware"]["servers"][spec["server"]]
    b = tables()["hardware"]["precisions"][spec["server_precision"]]
    models = tables()["models"]
    out = []
    for e in acceptance_ids():
        target, draft, _ = e.split("/")
        if target in models and draft in models and models[target]["params"] * b <= srv["memory_bytes"]:
            out.append(e)
    return out


def task_scenario(entry: str, preset: str = PRESET) -> Scenario:
    """The preset's users running the pair and task of ``entry``."""
    target, draft, _ = entry.split("/")
    spec = preset_spec(preset)
    users = [{**u, "acceptance": entry} for u in spec["users"]]
    return Scenario.from_dict(build({**spec, "target": target, "draft": draft, "users": users}))


def data(methods=METHODS, preset: str = PRESET, limit: int | None = None) -> dict[str, np.ndarray]:
    """Rows (entry, method): ``pair``, ``task``, ``alpha``, ``goodput`` (``limit``: first entries only)."""
    rows: dict[str, list] = {k: [] for k in ("pair", "task", "alpha", "method", "goodput")}
    for e in entries(preset)[:limit]:
        target, draft, task = e.split("/")
        s = task_scenario(e, preset)
        for m in methods:
            rows["pair"].append(f"{draft} -> {target}")
            rows["task"].append(task)
            rows["alpha"].append(float(s.alpha[0]))
            rows["method"].append(m)
            rows["goodput"].append(baseline(s, m).goodput)
    return as_table(rows)


def plot(table: dict):
    """Grouped horizontal bars: one group per (pair, task), one bar per method."""
    import matplotlib.pyplot as plt

    pair, task, alpha, meth, G = (column(table, c) for c in ("pair", "task", "alpha", "method", "goodput"))
    groups = list(dict.fromkeys(f"{p}: {t} (alpha {a:.2f})" for p, t, a in zip(pair, task, alpha, strict=True)))
    methods = list(dict.fromkeys(meth.tolist()))
    fig, ax = plt.subplots(figsize=(7.6, 0.42 * len(groups) + 2.2))
    h = 0.8 / len(methods)
    gi = np.array([groups.index(f"{p}: {t} (alpha {a:.2f})") for p, t, a in zip(pair, task, alpha, strict=True)])
    for j, m in enumerate(methods):
        sel = meth == m
        ax.barh(gi[sel] + (j - (len(methods) - 1) / 2) * h, G[sel], height=h, color=STYLE[m]["color"],
                label=STYLE[m]["label"])
    ax.set_yticks(range(len(groups)), groups, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("sum goodput [tokens/s], 8 users")
    ax.set_title("Goodput per task and model pair (published acceptance rates)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    fig.tight_layout()
    return fig
