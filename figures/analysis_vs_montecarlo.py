"""(h) Analytic goodput against the Monte Carlo simulator, with and without fading.

For every method of docs/model.md section 3 on the default preset, and for the two optima on the
Shannon-rate preset with padded batching and on the position-dependent EAGLE-profile preset,
the operating point is simulated by :func:`numerics.simulate` (per-token Bernoulli
acceptance, seeded) for ``ROUNDS`` rounds, without fading and with Rayleigh block fading
(upload deadline twice the fading-free makespan; see :mod:`numerics.simulate`). The figure
shows the relative deviation of the Monte Carlo goodput from the analytic one with its 95%
interval: without fading the analysis is exact (intervals cover 0; the tests check it), with
fading the loss to deep fades is visible.
"""

from __future__ import annotations

import numpy as np

from numerics import BASELINES, Scenario, baseline
from numerics.simulate import simulate

from ._suite import PRESET, as_table, column

NAME = "analysis_vs_montecarlo"
TITLE = "Monte Carlo rounds agree with the analytic goodput within their 95% intervals; fading costs goodput."

ROUNDS = 20_000
SEED = 7
#: (label, preset, overrides, methods)
CASES = (
    ("default", PRESET, {}, BASELINES),
    ("shannon, padded", "default-shannon", {"batching": "padded"}, ("homogeneous", "heterogeneous")),
    ("EAGLE profile", "llama2-eagle", {}, ("equal-best", "homogeneous", "heterogeneous")),
)


def data(rounds: int = ROUNDS, cases=CASES, seed: int = SEED) -> dict[str, np.ndarray]:
    """Rows (case, method, fading): ``analytic``, ``mc``, ``ci_low``, ``ci_high``, ``se``, ``truncated``, ``rounds``."""
    columns = ("case", "method", "fading", "analytic", "mc", "ci_low", "ci_high", "se", "truncated", "rounds")
    rows: dict[str, list] = {k: [] for k in columns}
    for label, name, overrides, methods in cases:
        s = Scenario.preset(name, **overrides)
        for m in methods:
            sol = baseline(s, m)
            for fading in (False, True):
                r = simulate(s, sol, rounds=rounds, seed=seed, fading=fading)
                rows["case"].append(label)
                rows["method"].append(m)
                rows["fading"].append(fading)
                rows["analytic"].append(sol.goodput)
                rows["mc"].append(r.goodput)
                rows["ci_low"].append(r.ci_low)
                rows["ci_high"].append(r.ci_high)
                rows["se"].append(r.std_error)
                rows["truncated"].append(r.truncated_fraction)
                rows["rounds"].append(rounds)
    return as_table(rows)


def plot(table: dict):
    """Relative deviation (MC / analytic - 1) in % with 95% bars, one row per (case, method)."""
    import matplotlib.pyplot as plt

    case, meth, fad = column(table, "case"), column(table, "method"), column(table, "fading")
    an, mc, lo, hi = (column(table, c) for c in ("analytic", "mc", "ci_low", "ci_high"))
    labels = list(dict.fromkeys(f"{c}: {m}" for c, m in zip(case, meth, strict=True)))
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(labels) + 1.6))
    for f, color, name, dy in ((0, "C0", "no fading", -0.12), (1, "C3", "Rayleigh block fading", 0.12)):
        sel = fad == f
        y = np.array([labels.index(f"{c}: {m}") for c, m in zip(case[sel], meth[sel], strict=True)]) + dy
        dev = 100 * (mc[sel] / an[sel] - 1)
        err = np.vstack([100 * (mc[sel] - lo[sel]) / an[sel], 100 * (hi[sel] - mc[sel]) / an[sel]])
        ax.errorbar(dev, y, xerr=err, fmt="o", ms=4, color=color, capsize=2, label=name)
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Monte Carlo / analytic goodput - 1 [%] (95% interval)")
    ax.set_title(f"Analysis vs Monte Carlo ({int(column(table, 'rounds')[0])} rounds per point)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
