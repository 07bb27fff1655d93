"""(g) Gain of the optimal regimes over equal-best against a heterogeneity spread.

Base population: K = 8 identical users at the default preset's averages (geometric means of
t_k and eta_k, arithmetic mean of alpha_k; same payload, band, server). A spread
sigma in [0, 1] then spreads one attribute over the users, with x_k evenly spaced in [-1, 1]:

- ``device``:  t_k = t_mean 16^(sigma x_k / 2)       (max/min ratio 16^sigma);
- ``channel``: eta_k = eta_mean 16^(sigma x_k / 2)   (max/min 16^sigma; the LTE CQI table spans 36);
- ``alpha``:   alpha_k = alpha_mean + 0.2 sigma x_k  (0.51 .. 0.91 at sigma = 1, around the
  published 0.53 .. 0.82 of Leviathan et al. 2023, Table 3);
- ``all``:     the three at once, each over its own fixed seeded permutation of the users
  (so that speed, channel and alpha are not aligned).

Gain = G(regime) / G(equal-best) - 1 for the homogeneous (H1-H4) and heterogeneous (D1-D7)
optima; equal-best is the heterogeneity-agnostic baseline of docs/model.md section 3. The largest
gain and its scenario are written on the figure. The tests check gains >= 0 and zero gain of
the homogeneous regime at sigma = 0 for a spread of device or channel only.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario, baseline

from ._suite import PRESET, STYLE, as_table, column

NAME = "gain_vs_heterogeneity"
TITLE = "Gain over the equal-band baseline grows with heterogeneity; the largest gain is written on the figure."

SPREADS = tuple(np.linspace(0.0, 1.0, 6))
KINDS = ("device", "channel", "alpha", "all")
RATIO = 16.0
ALPHA_HALF_RANGE = 0.2
SEED = 6


def spread_scenario(kind: str, sigma: float, users: int = 8, preset: str = PRESET) -> Scenario:
    """The population with one attribute (or all three) spread by ``sigma``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    base = Scenario.preset(preset, n_users=users, rate_model="linear")
    t_mean = float(np.exp(np.mean(np.log(base.t_draft))))
    e_mean = float(np.exp(np.mean(np.log(base.spectral_efficiency))))
    a_mean = float(np.mean(base.alpha))
    x = np.linspace(-1.0, 1.0, users)
    perm = [np.random.default_rng(SEED + i).permutation(users) for i in range(3)]
    xt, xe, xa = (x[p] for p in perm) if kind == "all" else (x, x, x)
    t = t_mean * RATIO ** (sigma * xt / 2) if kind in ("device", "all") else np.full(users, t_mean)
    eta = e_mean * RATIO ** (sigma * xe / 2) if kind in ("channel", "all") else np.full(users, e_mean)
    alpha = a_mean + ALPHA_HALF_RANGE * sigma * xa if kind in ("alpha", "all") else np.full(users, a_mean)
    return base.replace(t_draft=t, spectral_efficiency=eta, alpha=alpha,
                        bits_per_token=np.full(users, float(base.bits_per_token[0])))


def data(spreads=SPREADS, kinds=KINDS, users: int = 8, preset: str = PRESET) -> dict[str, np.ndarray]:
    """Rows (kind, spread, regime): ``gain`` over equal-best, ``goodput``, ``equal_best``."""
    rows: dict[str, list] = {k: [] for k in ("kind", "spread", "regime", "gain", "goodput", "equal_best")}
    for kind in kinds:
        for sigma in spreads:
            s = spread_scenario(kind, float(sigma), users, preset)
            ref = baseline(s, "equal-best").goodput
            for regime in ("homogeneous", "heterogeneous"):
                G = baseline(s, regime).goodput
                rows["kind"].append(kind)
                rows["spread"].append(float(sigma))
                rows["regime"].append(regime)
                rows["gain"].append(G / ref - 1.0)
                rows["goodput"].append(G)
                rows["equal_best"].append(ref)
    return as_table(rows)


def largest(table: dict) -> dict:
    """The row of the largest gain, as a dict."""
    i = int(np.argmax(column(table, "gain")))
    return {k: np.asarray(v)[i].item() for k, v in table.items()}


def plot(table: dict):
    """Gain in % against the spread; one panel per regime, one line per kind; the maximum annotated."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), sharey=True)
    kind, sp, reg, gain = (column(table, c) for c in ("kind", "spread", "regime", "gain"))
    for ax, regime in zip(axes, ("homogeneous", "heterogeneous"), strict=True):
        for i, k in enumerate(dict.fromkeys(kind.tolist())):
            m = (kind == k) & (reg == regime)
            ax.plot(sp[m], 100 * gain[m], "-o", ms=3, color=f"C{i}", label=k)
        ax.set_title(STYLE[regime]["label"], fontsize=9)
        ax.set_xlabel(r"heterogeneity spread $\sigma$")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("gain over equal-best [%]")
    axes[0].legend(fontsize=8, title="spread of", title_fontsize=8)
    best = largest(table)
    ax = axes[0] if best["regime"] == "homogeneous" else axes[1]
    ax.annotate(f"largest: +{100 * best['gain']:.1f} %\n{best['regime']}, spread of {best['kind']}, "
                f"$\\sigma$ = {best['spread']:.1f}\n({best['goodput']:.1f} vs {best['equal_best']:.1f} tokens/s)",
                xy=(best["spread"], 100 * best["gain"]), xytext=(0.03, 0.97), textcoords="axes fraction",
                va="top", fontsize=8, arrowprops=dict(arrowstyle="->", lw=0.8))
    fig.suptitle("Gain over the heterogeneity-agnostic equal-best baseline (K = 8)", fontsize=10)
    fig.tight_layout()
    return fig
