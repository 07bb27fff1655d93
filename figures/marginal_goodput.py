"""Marginal goodput per extra MHz and per +0.01 of acceptance, by user, in both regimes, for two systems.

The sensitivities of the optimal goodput (:func:`numerics.sensitivity.sensitivity`, envelope
theorem at the optimum with the draft lengths held fixed: the integer optima are locally
constant) at the homogeneous optimum (``solve_homogeneous``, H1-H4) and at the heterogeneous
optimum (``solve_heterogeneous``, integer draft lengths, D1-D7), for two K = 6 systems
(:func:`scenarios`):

- ``linear``: the linear rate, memory-bound verification (v1 = 0), i.i.d. acceptance;
- ``shannon-v1-profile``: the Shannon rate, compute-bound verification (v1 > 0, ragged
  batching) and position-dependent acceptance profiles.

Drawn per user:

- per extra MHz given to user k: dG/dbeta_k / B x 10^6 = nu_k L_k (-h_k'(beta_k)) / B x 10^6.
  The KKT conditions make it the same for every user that uploads (the band multiplier): the
  optimum leaves no gain in moving band between users; a user without band shows 0.
- per extra MHz of total band: dG/dB x 10^6 (drawn as a line). B dG/dB = lambda sum_k r_k / r'_k:
  for the linear rate (r / r' = beta) it equals the per-user value; for the Shannon rate it is
  larger, since r(beta) > beta r'(beta) for a strictly concave rate with r(0) = 0 (a wider band
  adds bandwidth to every share at the same per-Hz SNR, while moving share between users does not).
- per +0.01 of alpha_k: dG/dalpha_k x 0.01; for a profile, a +0.01 shift of every position of
  user k's profile (the sum of the per-position derivatives).

docs/model.md (results H2, D3, D6, D7) for the multipliers.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario

from ._suite import STYLE, as_table, column

NAME = "marginal_goodput"
TITLE = "Marginal goodput per extra MHz and per +0.01 acceptance, by user, at both optima, for two systems."

REGIMES = ("homogeneous", "heterogeneous")
SCENARIOS = ("linear", "shannon-v1-profile")
MHZ = 1e6
D_ALPHA = 0.01

#: EAGLE (arXiv 2401.15077, Table 2), LLaMA2-Chat 7B, MT-bench, greedy: acceptance by position
#: (docs/model.md section 4); later positions keep the last value
_EAGLE_PROFILE = (0.76, 0.69, 0.67, 0.68, 0.68)


def default_scenario() -> Scenario:
    """The ``linear`` system: K = 6 devices differing in acceptance, draft speed and channel.

    alpha in the range measured by Leviathan et al. 2023 (Table 3: 0.53 to 0.82) and
    Liu et al. (0.65 to 0.76); draft times of 7 to 14 ms per token (about 1B-parameter drafts
    on laptop- to phone-class devices); a top-32 sparse draft distribution per token,
    32 (ceil(log2 32000) + 16) = 992 bits (docs/model.md section 4, Llama-2 vocabulary); 1 MHz
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


def shannon_profile_scenario() -> Scenario:
    """The ``shannon-v1-profile`` system: the devices of :func:`default_scenario` on a Shannon-rate
    uplink, with compute-bound verification and position-dependent acceptance.

    Acceptance by position: EAGLE's measured profile (arXiv 2401.15077, Table 2: 0.76, 0.69,
    0.67, 0.68, 0.68, the last repeated) scaled per user by alpha_k / 0.76, so that the first
    position carries the i.i.d. rate of :func:`default_scenario` (0.55 to 0.86) and every user
    loses acceptance along the draft as EAGLE does. Receive SNRs of 0 to 20 dB over the whole
    band (1 to 100); verification v0 = 40 ms plus v1 = 0.5 ms per token in the batch (ragged
    batching: a compute-bound server, where long drafts cost verification time).
    """
    base = default_scenario()
    M = base.max_draft
    prof = np.array([_EAGLE_PROFILE[min(j, len(_EAGLE_PROFILE) - 1)] for j in range(M)])
    alpha = np.clip(np.outer(base.alpha / _EAGLE_PROFILE[0], prof), 0.0, 0.99)
    return Scenario(
        alpha=alpha,
        t_draft=base.t_draft,
        bits_per_token=base.bits_per_token,
        bandwidth_hz=base.bandwidth_hz,
        rate_model="shannon",
        snr=[1.0, 100.0, 10.0, 2.0, 40.0, 5.0],
        v0=0.040,
        v1=0.0005,
        batching="ragged",
        overhead=base.overhead,
        max_draft=M,
    )


def scenarios() -> dict[str, Scenario]:
    """The two systems of the figure, by name (:data:`SCENARIOS`)."""
    return {"linear": default_scenario(), "shannon-v1-profile": shannon_profile_scenario()}


def _solve(scenario: Scenario, regime: str):
    if regime == "homogeneous":
        from numerics import solve_homogeneous

        return solve_homogeneous(scenario)
    from numerics import solve_heterogeneous  # documented interface (docs/model.md sec. 6)

    return solve_heterogeneous(scenario, integer=True)


def data(scenario: Scenario | None = None, regimes=REGIMES) -> dict[str, np.ndarray]:
    """One row per (system, regime, user): L, beta, the marginal goodputs, and the optimal goodput.

    Columns: ``scenario`` (the system's name; 'custom' for a given ``scenario``), ``regime``,
    ``user``, ``alpha`` (the user's first-position acceptance), ``L``, ``beta``,
    ``per_mhz_user`` (tokens/s per extra MHz given to that user), ``per_mhz_total`` (per extra
    MHz of total band), ``per_alpha`` (tokens/s per +0.01 of that user's alpha, or of every
    position of its profile), ``goodput``.
    """
    from numerics.channel import rate, rate_derivative
    from numerics.sensitivity import sensitivity

    systems = scenarios() if scenario is None else {"custom": scenario}
    rows: dict[str, list] = {k: [] for k in ("scenario", "regime", "user", "alpha", "L", "beta", "per_mhz_user",
                                             "per_mhz_total", "per_alpha", "goodput")}
    for name, sc in systems.items():
        for regime in regimes:
            sol = _solve(sc, regime)
            tab = sensitivity(sc, sol)
            u = tab.users
            beta, L = u["beta"], u["L"]
            up = (beta > 0) & (L > 0) & (sc.bits_per_token > 0)
            b_ = np.where(up, beta, 1.0)
            r = rate(sc.rate_model, b_, sc.bandwidth_hz, sc.channel)
            g = (sc.bits_per_token / r) * (rate_derivative(sc.rate_model, b_, sc.bandwidth_hz, sc.channel) / r)  # -h'
            dG_dbeta = np.where(up, u["nu"] * L * g, 0.0)
            rows["scenario"] += [name] * sc.n_users
            rows["regime"] += [regime] * sc.n_users
            rows["user"] += u["user"].tolist()
            rows["alpha"] += (sc.alpha[:, 0] if sc.positional else sc.alpha).tolist()
            rows["L"] += L.tolist()
            rows["beta"] += beta.tolist()
            rows["per_mhz_user"] += (dG_dbeta / sc.bandwidth_hz * MHZ).tolist()
            rows["per_mhz_total"] += [tab.system["dG_dB"] * MHZ] * sc.n_users
            rows["per_alpha"] += (u["dG_dalpha"] * D_ALPHA).tolist()
            rows["goodput"] += [tab.system["goodput"]] * sc.n_users
    return as_table(rows)


def plot(table: dict):
    """One row of panels per system: grouped bars by user, per extra MHz (with the total-band line)
    and per +0.01 alpha."""
    import matplotlib.pyplot as plt

    systems = list(dict.fromkeys(column(table, "scenario").tolist()))
    fig, axes = plt.subplots(len(systems), 2, figsize=(10, 4.0 * len(systems)), squeeze=False)
    for row, system in zip(axes, systems, strict=True):
        ms = column(table, "scenario") == system
        regime = column(table, "regime")
        names = [r for r in REGIMES if np.any(ms & (regime == r))]
        width = 0.8 / max(len(names), 1)
        for i, name in enumerate(names):
            m = ms & (regime == name)
            users = column(table, "user")[m]
            x = users + (i - (len(names) - 1) / 2) * width
            st = STYLE[name]
            row[0].bar(x, column(table, "per_mhz_user")[m], width, color=st["color"], alpha=0.8,
                       label=f"{name}: to user k")
            row[0].axhline(column(table, "per_mhz_total")[m][0], color=st["color"], ls="--", lw=1,
                           label=f"{name}: total band")
            row[1].bar(x, column(table, "per_alpha")[m], width, color=st["color"], alpha=0.8,
                       label=f"{name} (G* = {column(table, 'goodput')[m][0]:.1f} tok/s)")
        for ax in row:
            ax.set_xlabel("user k")
            ax.set_xticks(np.unique(column(table, "user")[ms]))
            ax.legend(fontsize=8, loc="lower center", framealpha=0.9)
        row[0].set_ylabel("tokens/s per extra MHz")
        row[0].set_title(f"{system}: band, equal for every served user (KKT)", fontsize=10)
        row[1].set_ylabel(r"tokens/s per +0.01 of $\alpha_k$")
        row[1].set_title(f"{system}: acceptance, worth most where drafts are long", fontsize=10)
    fig.tight_layout()
    return fig
