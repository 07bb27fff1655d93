"""Marginal goodput per extra MHz and per +0.01 of acceptance, by user, in both regimes.

The sensitivities of the optimal goodput (:func:`numerics.sensitivity.sensitivity`, envelope
theorem at the optimum with the draft lengths held fixed) for a small system of K = 6
heterogeneous devices (:func:`default_scenario`), at the homogeneous optimum
(``solve_homogeneous``, H1-H4) and at the heterogeneous optimum (``solve_heterogeneous``,
integer draft lengths, D1-D7).

- per extra MHz given to user k: dG/dbeta_k / B x 10^6 = nu_k L_k (-h_k'(beta_k)) / B x 10^6.
  The KKT conditions make it the same for every user that uploads (the band multiplier): the
  optimum leaves no gain in moving band between users; a user without band shows 0.
- per extra MHz of total band: dG/dB x 10^6 (drawn as a line).
- per +0.01 of alpha_k: dG/dalpha_k x 0.01, which grows with the user's draft length.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario

from ._suite import STYLE, as_table, column

NAME = "marginal_goodput"
TITLE = "Marginal goodput per extra MHz and per +0.01 acceptance, by user, at both optima."

REGIMES = ("homogeneous", "heterogeneous")
MHZ = 1e6
D_ALPHA = 0.01


def default_scenario() -> Scenario:
    """K = 6 devices differing in acceptance, draft speed and channel (one uplink, one server).

    alpha in the range measured by Leviathan et al. 2023 (Table 3: 0.53 to 0.82) and
    Liu et al. (0.65 to 0.76); draft times of 7 to 14 ms per token (about 1B-parameter drafts
    on laptop- to phone-class devices); a top-32 sparse draft distribution per token,
    32 (ceil(log2 32000) + 16) = 992 bits (MODEL.md section 4, Llama-2 vocabulary); 1 MHz
    of uplink with spectral efficiencies 0.8 to 4 bit/s/Hz; v0 = 60 ms per verification pass
    (memory-bound, v1 = 0) and 5 ms of fixed overhead.
    """
    return Scenario(
        alpha=[0.55, 0.62, 0.68, 0.74, 0.80, 0.86],
        t_draft=[0.014, 0.011, 0.009, 0.012, 0.007, 0.010],
        bits_per_token=992.0,
        bandwidth_hz=1e6,
        spectral_efficiency=[1.0, 4.0, 2.0, 0.8, 3.0, 1.5],
        v0=0.060,
        overhead=0.005,
        max_draft=12,
    )


def _solve(scenario: Scenario, regime: str):
    if regime == "homogeneous":
        from numerics import solve_homogeneous

        return solve_homogeneous(scenario)
    from numerics.heterogeneous import solve_heterogeneous  # documented interface (MODEL.md sec. 6)

    return solve_heterogeneous(scenario, integer=True)


def data(scenario: Scenario | None = None, regimes=REGIMES) -> dict[str, np.ndarray]:
    """One row per (regime, user): L, beta, the marginal goodputs, and the optimal goodput.

    Columns: ``regime``, ``user``, ``alpha``, ``L``, ``beta``, ``per_mhz_user`` (tokens/s per
    extra MHz given to that user), ``per_mhz_total`` (per extra MHz of total band),
    ``per_alpha`` (tokens/s per +0.01 of that user's alpha), ``goodput``.
    """
    from numerics.channel import rate, rate_derivative
    from numerics.sensitivity import sensitivity

    sc = default_scenario() if scenario is None else scenario
    rows: dict[str, list] = {k: [] for k in ("regime", "user", "alpha", "L", "beta", "per_mhz_user",
                                             "per_mhz_total", "per_alpha", "goodput")}
    for regime in regimes:
        sol = _solve(sc, regime)
        tab = sensitivity(sc, sol)
        u = tab.users
        beta, L = u["beta"], u["L"]
        up = (beta > 0) & (L > 0) & (sc.bits_per_token > 0)
        b_ = np.where(up, beta, 1.0)
        r = rate(sc.rate_model, b_, sc.bandwidth_hz, sc.channel)
        g = sc.bits_per_token * rate_derivative(sc.rate_model, b_, sc.bandwidth_hz, sc.channel) / r ** 2  # -h'
        dG_dbeta = np.where(up, u["nu"] * L * g, 0.0)
        rows["regime"] += [regime] * sc.n_users
        rows["user"] += u["user"].tolist()
        rows["alpha"] += sc.alpha.tolist()
        rows["L"] += L.tolist()
        rows["beta"] += beta.tolist()
        rows["per_mhz_user"] += (dG_dbeta / sc.bandwidth_hz * MHZ).tolist()
        rows["per_mhz_total"] += [tab.system["dG_dB"] * MHZ] * sc.n_users
        rows["per_alpha"] += (u["dG_dalpha"] * D_ALPHA).tolist()
        rows["goodput"] += [tab.system["goodput"]] * sc.n_users
    return as_table(rows)


def plot(table: dict):
    """Two panels of grouped bars by user: per extra MHz (with the total-band line) and per +0.01 alpha."""
    import matplotlib.pyplot as plt

    regime = column(table, "regime")
    names = [r for r in REGIMES if np.any(regime == r)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        m = regime == name
        users = column(table, "user")[m]
        x = users + (i - (len(names) - 1) / 2) * width
        st = STYLE[name]
        axes[0].bar(x, column(table, "per_mhz_user")[m], width, color=st["color"], alpha=0.8,
                    label=f"{name}: to user k")
        axes[0].axhline(column(table, "per_mhz_total")[m][0], color=st["color"], ls="--", lw=1,
                        label=f"{name}: total band")
        axes[1].bar(x, column(table, "per_alpha")[m], width, color=st["color"], alpha=0.8,
                    label=f"{name} (G* = {column(table, 'goodput')[m][0]:.1f} tok/s)")
    for ax in axes:
        ax.set_xlabel("user k")
        ax.set_xticks(np.unique(column(table, "user")))
        ax.legend(fontsize=8, loc="lower center", framealpha=0.9)
    axes[0].set_ylabel("tokens/s per extra MHz")
    axes[0].set_title("Band: equal for every served user (KKT)")
    axes[1].set_ylabel(r"tokens/s per +0.01 of $\alpha_k$")
    axes[1].set_title("Acceptance: worth most where drafts are long")
    fig.tight_layout()
    return fig
