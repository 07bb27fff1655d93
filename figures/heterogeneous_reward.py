"""(d) Heterogeneous optimum per user against its acceptance rate (D4, reward).

K = 8 users identical except for alpha: the device, channel and payload of the default
preset's first user, alpha_k evenly spaced over the range of published acceptance rates
(0.53 to 0.82 in Leviathan et al. 2023, Table 3; widened to 0.5 .. 0.9). The point is
:func:`numerics.heterogeneous.solve_heterogeneous` (integer draft lengths). D4 says the
user with the higher alpha gets at least as much band and as long a draft; the tests check
both monotonicities.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario

from ._suite import PRESET, as_table, column

NAME = "heterogeneous_reward"
TITLE = "Heterogeneous optimum rewards acceptance: higher alpha, more band and longer drafts (D4)."

USERS = 8
ALPHA_RANGE = (0.5, 0.9)


def scenario(users: int = USERS, preset: str = PRESET) -> Scenario:
    """The identical-but-alpha population drawn."""
    base = Scenario.preset(preset, n_users=1)
    alpha = np.linspace(*ALPHA_RANGE, users)
    return base.replace(alpha=alpha, t_draft=np.full(users, base.t_draft[0]),
                        bits_per_token=np.full(users, base.bits_per_token[0]),
                        spectral_efficiency=np.full(users, base.spectral_efficiency[0]))


def data(users: int = USERS, preset: str = PRESET) -> dict[str, np.ndarray]:
    """Rows per user: ``alpha``, band share ``beta``, draft length ``L`` of the heterogeneous optimum."""
    from numerics.heterogeneous import solve_heterogeneous

    s = scenario(users, preset)
    sol = solve_heterogeneous(s, integer=True)
    return as_table({"user": list(range(users)), "alpha": s.alpha.tolist(),
                     "beta": sol.bandwidth.tolist(), "L": sol.draft_lengths.tolist(),
                     "goodput": [sol.goodput] * users})


def plot(table: dict):
    """Band share (bars) and draft length (line, right axis) against alpha."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    a, beta, L = column(table, "alpha"), column(table, "beta"), column(table, "L")
    w = 0.6 * (a[1] - a[0]) if a.size > 1 else 0.02
    ax.bar(a, beta, width=w, color="C0", alpha=0.7, label=r"band share $\beta_k$")
    ax.set_xlabel(r"acceptance rate $\alpha_k$")
    ax.set_ylabel(r"band share $\beta_k$", color="C0")
    ax2 = ax.twinx()
    ax2.plot(a, L, "s-", color="C3", label="draft length $L_k$")
    ax2.set_ylabel("draft length $L_k$", color="C3")
    ax.set_title(f"Reward (D4): heterogeneous optimum, users alike but for alpha "
                 f"(G = {float(column(table, 'goodput')[0]):.1f} tokens/s)", fontsize=9)
    ax.grid(alpha=0.3)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_ylim(0, 1.25 * float(np.max(beta)))
    ax2.set_ylim(0, 1.25 * max(float(np.max(L)), 1.0))
    fig.tight_layout()
    return fig
