"""Tokens per round against draft length, analysis and Monte Carlo (docs/model.md sec. 2).

Curves: A(alpha, L) = (1 - alpha^(L+1)) / (1 - alpha) (:func:`numerics.expected_tokens`) for
alpha in {0.6, 0.7, 0.8, 0.9}, the range of measured acceptance rates in Leviathan et al.
(2023, arXiv 2211.17192, Table 3: 0.53 to 0.82) and above it. Markers: the mean of N + 1 over
seeded Monte Carlo rounds drawn by per-token Bernoulli acceptance
(:func:`numerics.sample_accepted`), with a 95% confidence interval (normal approximation,
mean +- 1.96 s / sqrt(n), s the sample standard deviation).
"""

from __future__ import annotations

import numpy as np

from numerics import expected_tokens, sample_accepted

NAME = "tokens_per_round"
TITLE = "Tokens per round grow with the draft length and saturate at 1/(1 - alpha); Monte Carlo agrees."

#: acceptance rates drawn (see module docstring for the source of the range)
ALPHAS = (0.6, 0.7, 0.8, 0.9)
#: draft lengths 0..MAX_DRAFT
MAX_DRAFT = 16
#: Monte Carlo rounds per (alpha, L) point, and the seed of the whole figure
ROUNDS = 4000
SEED = 20240601
#: two-sided 95% normal quantile
Z95 = 1.959963984540054


def data() -> dict[str, np.ndarray]:
    """The table drawn: one row per (alpha, L).

    Columns: ``alpha``, ``L``, ``analytic`` (A), ``mc_mean`` (mean of N + 1 over ``rounds``
    draws), ``mc_ci_low`` and ``mc_ci_high`` (95% CI of that mean), ``rounds``, and
    ``saturation`` = 1/(1 - alpha) (the limit of A as L -> inf).
    """
    rng = np.random.default_rng(SEED)
    rows: dict[str, list] = {k: [] for k in
                             ("alpha", "L", "analytic", "mc_mean", "mc_ci_low", "mc_ci_high", "rounds", "saturation")}
    for alpha in ALPHAS:
        for L in range(MAX_DRAFT + 1):
            tokens = sample_accepted(alpha, L, ROUNDS, rng) + 1
            mean = float(tokens.mean())
            half = Z95 * float(tokens.std(ddof=1)) / np.sqrt(ROUNDS)
            rows["alpha"].append(alpha)
            rows["L"].append(L)
            rows["analytic"].append(float(expected_tokens(alpha, L)))
            rows["mc_mean"].append(mean)
            rows["mc_ci_low"].append(mean - half)
            rows["mc_ci_high"].append(mean + half)
            rows["rounds"].append(ROUNDS)
            rows["saturation"].append(1.0 / (1.0 - alpha))
    return {k: np.asarray(v, dtype=np.int64 if k in ("L", "rounds") else np.float64) for k, v in rows.items()}


def plot(table: dict):
    """Draw the table: analytic lines, Monte Carlo markers with 95% CI bars, saturation levels."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    alphas = np.asarray(table["alpha"])
    for idx, alpha in enumerate(np.unique(alphas)):
        m = alphas == alpha
        color = f"C{idx}"
        L = np.asarray(table["L"])[m]
        ax.plot(L, np.asarray(table["analytic"])[m], "-", color=color, lw=1.6,
                label=rf"$\alpha = {alpha:g}$")
        mean = np.asarray(table["mc_mean"])[m]
        err = np.vstack([mean - np.asarray(table["mc_ci_low"])[m], np.asarray(table["mc_ci_high"])[m] - mean])
        ax.errorbar(L, mean, yerr=err, fmt="o", ms=3.5, color=color, mfc="white", capsize=2, lw=0.8)
        ax.axhline(np.asarray(table["saturation"])[m][0], color=color, ls=":", lw=0.8)
    ax.set_xlabel("draft length $L$")
    ax.set_ylabel(r"tokens per round $A(\alpha, L)$")
    n = int(np.asarray(table["rounds"])[0])
    ax.set_title(f"Tokens per round: analysis (lines), Monte Carlo ({n} rounds, 95% CI)", fontsize=10)
    ax.set_xlim(-0.3, float(np.max(table["L"])) + 0.3)
    ax.set_ylim(bottom=0.8)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", framealpha=1, fontsize=9, title=r"dotted: $1/(1-\alpha)$", title_fontsize=8)
    fig.tight_layout()
    return fig
