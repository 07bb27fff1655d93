"""Study (3): the share of drops in which a per-user-draft-length method leaves some user at
L = 0 (the server makes that user's token itself, no drafting, no upload), against the number
of users, with 95% Wilson intervals (``scipy.stats.binomtest``).

Methods: the heterogeneous optimum (D1-D7) and the equal-band per-user-length baseline of the
shipped study (``figures/data/study.toml``); the common-length methods never do (L >= 1).
"""

from __future__ import annotations

import numpy as np

from ._study import NotApplicable, by_users, methods, result
from ._suite import STYLE, as_table, column

NAME = "study_zero_draft"
TITLE = "Share of drops in which the heterogeneous optimum leaves some user at L = 0, against the number of users."

METHODS = ("heterogeneous", "equal-heterogeneous")


def data(study=None) -> dict[str, np.ndarray]:
    """Rows (K, method): ``share`` of drops with some L_k = 0, ``ci_low``, ``ci_high`` (Wilson 95%), ``n``.

    ``study``: None (the shipped study file), a ``numerics.sweep.Study``, or a ``SweepResult``
    (e.g. of a ``multispin sweep`` run) drawn as it is. ``n``: drops the method solved; ``n_failed``:
    drops it failed on (left out; a point where it failed on every drop has no share).

    Raises :class:`figures._study.NotApplicable` when the study ran neither per-user-length method,
    or they never solved.
    """
    from scipy.stats import binomtest

    res = by_users(result(study))
    ran = [m for m in METHODS if m in methods(res)]
    if not ran:
        raise NotApplicable(f"needs a per-user-length method ({' or '.join(METHODS)}); the study ran {methods(res)}")
    r = res.results[res.results["method"].isin(ran)]
    if not (r["status"] == "ok").any():
        raise NotApplicable(f"{' and '.join(ran)} failed on every drop")
    rows: dict[str, list] = {k: [] for k in ("K", "method", "share", "ci_low", "ci_high", "n", "drops_with_zero",
                                             "n_failed")}
    for (K, m), grp in r.groupby(["n_users", "method"], sort=True):
        ok = grp[grp["status"] == "ok"]
        n = len(ok)
        k = int((ok["zero_draft_users"] > 0).sum())
        if n:
            ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
            share, low, high = k / n, float(ci.low), float(ci.high)
        else:  # failed on every drop of this K: no share to estimate
            share = low = high = float("nan")
        rows["K"].append(int(K))
        rows["method"].append(m)
        rows["share"].append(share)
        rows["ci_low"].append(low)
        rows["ci_high"].append(high)
        rows["n"].append(n)
        rows["drops_with_zero"].append(k)
        rows["n_failed"].append(len(grp) - n)
    return as_table(rows)


def plot(table: dict):
    """Share in % against K, one line per method, with the Wilson intervals as error bars."""
    import matplotlib.pyplot as plt

    K, meth = column(table, "K"), column(table, "method")
    share, lo, hi = (100 * column(table, c) for c in ("share", "ci_low", "ci_high"))
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for m in (x for x in METHODS if np.any(meth == x)):
        s = meth == m
        st = STYLE[m]
        ax.errorbar(K[s], share[s], yerr=[share[s] - lo[s], hi[s] - share[s]], marker=st["marker"], ls=st["ls"],
                    color=st["color"], ms=4, capsize=3, label=st["label"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(np.unique(K), [str(k) for k in np.unique(K)])
    ax.set_ylim(-2, 102)
    ax.set_xlabel("number of users $K$")
    ax.set_ylabel("drops with some user at $L_k = 0$ [%]")
    n = column(table, "n")
    drops = f"{int(n.max())}" if n.min() == n.max() else f"{int(n.min())} to {int(n.max())}"
    failed = " after failed solves left out" if np.any(column(table, "n_failed") > 0) else ""
    ax.set_title(f"Users left to the server, random drops in a cell ({drops} drops per K{failed})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
