"""
Solve a scenario, compare the regimes, print the gains
======================================================

This tutorial starts from the cited ``default`` preset (Qwen3.5-0.8B drafting for Qwen3.5-27B
on one A100, eight phone and laptop users on a 1.4 MHz uplink), solves both regimes of
:doc:`the model </model>` (one common draft length, H1-H4; one draft length per user, D1-D7),
compares them with every baseline, and checks the winner with the Monte Carlo simulator.
"""

# %%
# The scenario
# ------------
# A :class:`numerics.Scenario` holds one array entry per user; scalars broadcast. Presets cite
# the source of every number (``multispin presets`` lists them).
import numpy as np

from numerics import BASELINES, Scenario, baseline, solve_heterogeneous, solve_homogeneous

s = Scenario.preset("default")
print(f"K = {s.n_users} users, B = {s.bandwidth_hz / 1e6:g} MHz, rate model {s.rate_model}, {s.batching} batching")
print("acceptance alpha      :", np.round(s.alpha, 3))
print("draft time t [ms/tok] :", np.round(1e3 * s.t_draft, 3))
print("spectral eff. [b/s/Hz]:", np.round(s.channel, 3))

# %%
# Both optimal regimes
# --------------------
# ``solve_homogeneous`` finds the equal-finish band shares (H2) and the best common draft
# length (H4). ``solve_heterogeneous`` gives each user its own draft length; its integer answer
# comes with a certified upper bound (the continuous relaxation) and the relative gap.
hom = solve_homogeneous(s)
het = solve_heterogeneous(s)
for sol in (hom, het):
    print(f"{sol.name:>13}: goodput {sol.goodput:8.3f} tokens/s, bound {sol.upper_bound:8.3f}, gap {sol.gap:.1e}")
    print(f"{'':>13}  draft lengths {sol.draft_lengths.tolist()}")
    print(f"{'':>13}  band shares   {np.round(sol.bandwidth, 4).tolist()}")

# %%
# The weaker device gets more band (H3: compensation), and in the heterogeneous regime the
# users whose drafts are accepted more often draft longer (D4: reward).

# %%
# Gains over the baselines
# ------------------------
# Every baseline of the model, evaluated on the same scenario; the gains are G / G_baseline - 1.
base = {name: baseline(s, name).goodput for name in BASELINES if name not in ("homogeneous", "heterogeneous")}
print(f"{'baseline':<22}{'goodput':>10}{'homogeneous':>14}{'heterogeneous':>15}")
for name, g in base.items():
    print(f"{name:<22}{g:>10.3f}{100 * (hom.goodput / g - 1):>+13.1f}%{100 * (het.goodput / g - 1):>+14.1f}%")

# %%
# Check by simulation
# -------------------
# The simulator draws every token's acceptance round by round (seeded); without fading its
# 95% interval should contain the analytic goodput.
from numerics import simulate  # noqa: E402

res = simulate(s, het, rounds=20_000, seed=0)
print(f"analytic {het.goodput:.3f} tokens/s; Monte Carlo {res.goodput:.3f} "
      f"[{res.ci_low:.3f}, {res.ci_high:.3f}]; inside: {res.contains(het.goodput)}")

# %%
# A picture: goodput against the common draft length
# --------------------------------------------------
# The homogeneous goodput G_H(L) is quasi-concave (H4): one peak, at the solver's L.
import matplotlib.pyplot as plt  # noqa: E402

from numerics import goodput  # noqa: E402

L = np.arange(1, s.max_draft + 1)
G = [goodput(s, np.full(s.n_users, n), hom.bandwidth) for n in L]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(L, G, marker="o")
ax.axvline(hom.draft_lengths[0], color="C3", ls="--", label=f"H4 optimum L = {hom.draft_lengths[0]}")
ax.set_xlabel("common draft length L")
ax.set_ylabel("goodput [tokens/s]")
ax.legend()
fig.tight_layout()
