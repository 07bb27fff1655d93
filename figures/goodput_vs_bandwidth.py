"""(f) Sum goodput against the total uplink band B, for every baseline and both regimes.

The default preset (K = 8) with B swept log-uniformly from 0.1 MHz to 20 MHz, the range from
below an NB-IoT carrier (180 kHz) to the largest LTE channel (20 MHz, TS 36.101 Table 5.6-1).
Methods and evaluation as in figure (e). More band never lowers an optimum (the tests check
it for the exact homogeneous solve), and the gain of band allocation vanishes once upload is
no longer the bottleneck.
"""

from __future__ import annotations

import numpy as np

from numerics import BASELINES, Scenario, baseline

from ._suite import PRESET, STYLE, as_table, column

NAME = "goodput_vs_bandwidth"
TITLE = "Sum goodput against the uplink band: allocation matters most when the band is scarce."

BANDS = tuple(np.geomspace(1e5, 2e7, 10))


def data(bands=BANDS, methods=BASELINES, users: int = 8, preset: str = PRESET) -> dict[str, np.ndarray]:
    """Rows (bandwidth_hz, method): ``goodput`` [tokens/s]."""
    rows: dict[str, list] = {k: [] for k in ("bandwidth_hz", "method", "goodput")}
    for B in bands:
        s = Scenario.preset(preset, n_users=users, bandwidth_hz=float(B))
        for m in methods:
            rows["bandwidth_hz"].append(float(B))
            rows["method"].append(m)
            rows["goodput"].append(baseline(s, m).goodput)
    return as_table(rows)


def plot(table: dict):
    """One line per method, log band axis."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    B, meth, G = column(table, "bandwidth_hz"), column(table, "method"), column(table, "goodput")
    for m in dict.fromkeys(meth.tolist()):
        sel = meth == m
        st = STYLE[m]
        ax.plot(B[sel] / 1e6, G[sel], marker=st["marker"], ls=st["ls"], color=st["color"], label=st["label"], ms=4)
    ax.set_xscale("log")
    ax.set_xlabel("uplink band $B$ [MHz]")
    ax.set_ylabel("sum goodput [tokens/s]")
    ax.set_title("Sum goodput vs uplink band (default preset, K = 8)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
