"""(b) Sum goodput against the common draft length L, for several numbers of users K.

For each K the default preset (:mod:`numerics.presets`) is cycled to K users. The band
shares are the H2 equal-finish allocation at L = 1, which by H1 is the best allocation for
every common L; the curve is then G_H(L) = sum_k A(alpha_k, L) / (L theta* + T_v(K(L+1)) + T_o)
(docs/model.md H4), evaluated by :func:`numerics.goodput` at every L in 1..max_draft. The marked
point is the draft length that :func:`numerics.solve_homogeneous` returns: the tests check that
it is the maximum of its curve.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario, equal_finish_allocation, goodput, solve_homogeneous

from ._suite import PRESET, as_table, column

NAME = "goodput_vs_draft_length"
TITLE = "Goodput against the common draft length: quasi-concave, with the optimum found by the H4 search marked."

USERS = (1, 4, 8, 16, 32)


def data(users=USERS, preset: str = PRESET) -> dict[str, np.ndarray]:
    """Rows (K, L): ``goodput`` at the H1 allocation, ``optimum`` = 1 at the solver's L."""
    rows: dict[str, list] = {k: [] for k in ("K", "L", "goodput", "optimum")}
    for K in users:
        s = Scenario.preset(preset, n_users=K)
        beta, _ = equal_finish_allocation(s, np.ones(K))  # H1: the same beta for every L
        L_opt = int(solve_homogeneous(s).draft_lengths[0])
        for L in range(1, s.max_draft + 1):
            rows["K"].append(K)
            rows["L"].append(L)
            rows["goodput"].append(goodput(s, L, beta))
            rows["optimum"].append(L == L_opt)
    return as_table(rows)


def plot(table: dict):
    """One curve per K (normalised per user), the optimum as a filled star."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    K, L, G, opt = (column(table, c) for c in ("K", "L", "goodput", "optimum"))
    for i, k in enumerate(np.unique(K)):
        m = K == k
        ax.plot(L[m], G[m] / k, "-o", ms=3, color=f"C{i}", label=f"K = {k}")
        o = m & (opt == 1)
        ax.plot(L[o], G[o] / k, "*", ms=14, color=f"C{i}", mec="k")
    ax.set_xlabel("common draft length $L$")
    ax.set_ylabel("goodput per user [tokens/s]")
    ax.set_title("Homogeneous regime: goodput vs draft length (star: solver optimum)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
