"""(c) Homogeneous band shares per user against one user's device speed and channel (H3).

Start from the default preset with K = 4 users. Left: user 0's draft latency t_0 is swept
from a quarter to four times its preset value; right: its spectral efficiency (linear rate
model) over the 15 LTE CQI levels. Every point is :func:`numerics.solve_homogeneous`; the
shares of all users are drawn. H3 (compensation) says user 0's share increases with t_0 and
decreases with eta_0: the weaker device gets more band. The tests check both directions.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario, solve_homogeneous
from numerics.presets import cqi_efficiency

from ._suite import PRESET, as_table, column

NAME = "band_share_compensation"
TITLE = "Homogeneous optimum compensates: the slower device or the worse channel gets more band (H3)."

USERS = 4
FACTORS = tuple(np.geomspace(0.25, 4.0, 9))
CQIS = tuple(range(1, 16))


def data(users: int = USERS, factors=FACTORS, cqis=CQIS, preset: str = PRESET) -> dict[str, np.ndarray]:
    """Rows (sweep, x, user): ``beta`` of every user; sweep 'device' (x = t_0 [s]) or 'channel' (x = eta_0)."""
    base = Scenario.preset(preset, n_users=users, rate_model="linear")
    rows: dict[str, list] = {k: [] for k in ("sweep", "x", "user", "beta", "L")}

    def add(sweep: str, x: float, s: Scenario) -> None:
        sol = solve_homogeneous(s)
        for k in range(users):
            rows["sweep"].append(sweep)
            rows["x"].append(x)
            rows["user"].append(k)
            rows["beta"].append(float(sol.bandwidth[k]))
            rows["L"].append(int(sol.draft_lengths[k]))

    for f in factors:
        t = base.t_draft.copy()
        t[0] *= f
        add("device", float(t[0]), base.replace(t_draft=t))
    for q in cqis:
        eta = base.spectral_efficiency.copy()
        eta[0] = cqi_efficiency(q)
        add("channel", float(eta[0]), base.replace(spectral_efficiency=eta))
    return as_table(rows)


def plot(table: dict):
    """Two panels: shares against t_0 and against eta_0; user 0 bold."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), sharey=True)
    sweep, x, user, beta = (column(table, c) for c in ("sweep", "x", "user", "beta"))
    for ax, name, xlabel, scale in ((axes[0], "device", "draft latency of user 0, $t_0$ [ms]", 1e3),
                                    (axes[1], "channel", r"spectral efficiency of user 0, $\eta_0$ [bit/s/Hz]", 1.0)):
        for k in np.unique(user):
            m = (sweep == name) & (user == k)
            ax.plot(x[m] * scale, beta[m], "-o", ms=3, lw=2.4 if k == 0 else 1.0, color=f"C{k}",
                    label=f"user {k}" + (" (swept)" if k == 0 else ""))
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"band share $\beta_k$")
    axes[0].legend(fontsize=8)
    fig.suptitle("Compensation (H3): homogeneous-optimal band shares", fontsize=10)
    fig.tight_layout()
    return fig
