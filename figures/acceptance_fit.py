"""Acceptance fitted from a serving log, and the draft length it implies against the batch size.

Data: a seeded synthetic vLLM-style log of 2000 drafts of 5 tokens drawn from the published
EAGLE MT-bench profile (LLaMA2-Chat 7B, greedy, acceptance by position 0.76, 0.69, 0.67, 0.68,
0.68: Li et al. 2024, arXiv 2401.15077, Table 2; preset ``eagle-llama2-chat-7b-mtbench`` of
numerics/presets/acceptance.toml), reduced to vLLM's counters and fitted by
:func:`numerics.acceptance.fit_acceptance`.

Left: the per-position MLE a_i / n_i with 95% Clopper-Pearson intervals, the i.i.d. fit
(pooled MLE, band = its interval) and the published profile; the likelihood-ratio test of
i.i.d. against position-dependent is written on the panel. Right: the best common draft length
L*(K) of the homogeneous regime (docs/model.md H4) against the number of users K (the
verification batch), for the fitted acceptance under each model, with the 95% range of L* over
a seeded parametric bootstrap of the fit (:func:`numerics.acceptance.decision_uncertainty`).
The system is the cited ``vicuna-specbench`` preset (a 160M-parameter draft for a 7B LLaMA-family
target, token-id payload, 5 MHz uplink) cycled to K users; only ``alpha`` comes from the fit.
The positional model stops at the 5 positions the log observed; the i.i.d. model extrapolates.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario
from numerics.acceptance import decision_uncertainty, fit_acceptance, position_counts
from numerics.presets import profile
from numerics.sampling import sample_accepted

from ._suite import as_table, column

NAME = "acceptance_fit"
TITLE = "Acceptance fitted from a synthetic EAGLE log with exact intervals and the i.i.d. test; best L against users."

PROFILE = "eagle-llama2-chat-7b-mtbench"
SPEC_TOKENS = 5
DRAFTS = 2000
SEED = 2401
SYSTEM = "vicuna-specbench"
USERS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
DRAWS = 40


def data() -> dict[str, np.ndarray]:
    """Rows of two panels: ``panel`` 'profile' (x = draft position) or 'batch' (x = users K);
    ``series`` 'positional', 'iid' or 'published'; ``y`` the estimate (alpha, or L*), ``low`` and
    ``high`` its 95% interval (alpha) or bootstrap range (L*); ``lr_pvalue`` of the fit's test."""
    truth = profile(PROFILE, SPEC_TOKENS)
    rng = np.random.default_rng(SEED)
    N = sample_accepted(truth, SPEC_TOKENS, DRAFTS, rng)
    counts = position_counts(DRAFTS, [int(np.count_nonzero(N > i)) for i in range(SPEC_TOKENS)],
                             draft_tokens=DRAFTS * SPEC_TOKENS, accepted_tokens=int(N.sum()))
    fit = fit_acceptance({"eagle-mt-bench": counts})
    rows: dict[str, list] = {k: [] for k in ("panel", "series", "x", "y", "low", "high", "lr_pvalue")}

    def add(panel, series, x, y, lo, hi):
        for xi, yi, li, hi_ in zip(x, y, lo, hi, strict=True):
            rows["panel"].append(panel)
            rows["series"].append(series)
            rows["x"].append(int(xi))
            rows["y"].append(float(yi))
            rows["low"].append(float(li))
            rows["high"].append(float(hi_))
            rows["lr_pvalue"].append(float(fit.lr_pvalue[0]))

    pos = np.arange(1, SPEC_TOKENS + 1)
    add("profile", "positional", pos, fit.profile[0], fit.profile_low[0], fit.profile_high[0])
    add("profile", "iid", pos, np.full(SPEC_TOKENS, fit.iid[0]), np.full(SPEC_TOKENS, fit.iid_low[0]),
        np.full(SPEC_TOKENS, fit.iid_high[0]))
    add("profile", "published", pos, truth, truth, truth)
    system = Scenario.preset(SYSTEM, n_users=1)
    for model in ("positional", "iid"):
        du = decision_uncertainty(system, fit, model=model, draws=DRAWS, seed=SEED, regimes=("homogeneous",),
                                  users=USERS)
        t = du.batch_table
        add("batch", model, t["users"], t["draft_length"], t["draft_length_low"], t["draft_length_high"])
    return as_table(rows)


def plot(table: dict):
    """Left: profile with intervals; right: L*(K) step curves with bootstrap ranges."""
    import matplotlib.pyplot as plt

    panel, series = column(table, "panel"), column(table, "series")
    x, y, lo, hi = (column(table, c) for c in ("x", "y", "low", "high"))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.2))

    m = (panel == "profile") & (series == "positional")
    ax1.errorbar(x[m], y[m], yerr=np.vstack([y[m] - lo[m], hi[m] - y[m]]), fmt="o", color="C3", capsize=3,
                 label="per-position MLE, 95% Clopper-Pearson")
    m = (panel == "profile") & (series == "iid")
    ax1.plot(x[m], y[m], "-", color="C0", label="i.i.d. MLE")
    ax1.fill_between(x[m], lo[m], hi[m], color="C0", alpha=0.2, lw=0)
    m = (panel == "profile") & (series == "published")
    ax1.plot(x[m], y[m], "k:", marker="x", label="published profile (EAGLE, MT-bench)")
    p = float(column(table, "lr_pvalue")[0])
    ax1.text(0.03, 0.04, f"LR test, i.i.d. vs positional: p = {p:.2g}", transform=ax1.transAxes, fontsize=9)
    ax1.set_xlabel("draft position $i$")
    ax1.set_ylabel(r"acceptance $\alpha_i$")
    ax1.set_xticks(x[m])
    ax1.set_title("Fitted acceptance profile", fontsize=10)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="upper right")

    for model, color, shift in (("positional", "C3", -0.04), ("iid", "C0", 0.04)):
        m = (panel == "batch") & (series == model)
        ax2.step(x[m], y[m], where="post", color=color, label=f"{model} fit")
        ax2.errorbar(x[m] * (1 + shift), y[m], yerr=np.vstack([y[m] - lo[m], hi[m] - y[m]]), fmt="o", ms=3,
                     color=color, capsize=2, lw=0.8)
    from matplotlib.ticker import MaxNLocator, NullFormatter

    ax2.set_xscale("log", base=2)
    ax2.set_xticks(USERS, [str(k) for k in USERS])
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_xlabel("number of users $K$ (verification batch)")
    ax2.set_ylabel("best common draft length $L^*$")
    ax2.set_title("Draft length against batch size (bars: bootstrap 95% range)", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
