"""numerics.baselines (MODEL.md section 3, "Baselines").

References: the closed form K / (T_v(K) + T_o) of the autoregressive baseline computed by
hand; enumeration of every common L with the equal split (term-by-term token sums of
``_oracles_homogeneous``) for ``equal-best``.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from hypothesis import given

from _oracles_homogeneous import enumerate_common_length, random_scenario, scenarios
from numerics import BASELINES, Scenario, Solution, baseline, goodput
from numerics.latency import per_token_latency


def _sc(**kw) -> Scenario:
    d = dict(alpha=[0.8, 0.6, 0.7], t_draft=[0.01, 0.02, 0.0], bits_per_token=[300.0, 0.0, 800.0],
             bandwidth_hz=1e5, spectral_efficiency=[1.0, 2.0, 0.5], v0=0.05, v1=1e-3, overhead=0.01, max_draft=12)
    d.update(kw)
    return Scenario(**d)


def test_names():
    assert BASELINES == ("autoregressive", "equal-fixed", "equal-best", "equal-heterogeneous", "homogeneous",
                         "heterogeneous")


def test_autoregressive():
    sc = _sc()
    sol = baseline(sc, "autoregressive")
    # K / (v0 + v1 K + T_o) = 3 / (0.05 + 0.003 + 0.01)
    assert sol.goodput == pytest.approx(3 / 0.063, rel=1e-15)
    assert sol.round_time == pytest.approx(0.063, rel=1e-15)
    assert sol.draft_lengths.tolist() == [0, 0, 0] and sol.bandwidth.tolist() == [0.0, 0.0, 0.0]
    assert sol.name == "autoregressive" and sol.gap == 0.0 and sol.upper_bound == sol.goodput


def test_equal_fixed():
    sc = _sc()
    sol = baseline(sc, "equal-fixed")
    assert sol.draft_lengths.tolist() == [4, 4, 4]
    np.testing.assert_array_equal(sol.bandwidth, np.full(3, 1 / 3))
    assert sol.goodput == goodput(sc, 4, np.full(3, 1 / 3))
    assert baseline(sc, "equal-fixed", L=7).draft_lengths.tolist() == [7, 7, 7]
    clipped = baseline(sc, "equal-fixed", L=100)  # clipped to max_draft = 12
    assert clipped.draft_lengths.tolist() == [12, 12, 12] and clipped.multipliers["L_requested"] == 100


@given(scenarios(max_users=5))
def test_equal_best_is_best_common_length_of_the_equal_split(sc):
    sol = baseline(sc, "equal-best")
    K = sc.n_users
    theta = float(np.max(per_token_latency(sc, np.full(K, 1 / K))))
    L_ref, G_ref, Gs = enumerate_common_length(sc, theta)
    assert sol.goodput == pytest.approx(G_ref, rel=1e-10)
    L = int(sol.draft_lengths[0])
    assert L == L_ref or Gs[L - 1] == pytest.approx(G_ref, rel=1e-12)
    assert sol.goodput >= baseline(sc, "equal-fixed").goodput * (1 - 1e-12)


def test_homogeneous_dominates():
    sc = random_scenario(np.random.default_rng(9), 6, "shannon")
    G = {n: baseline(sc, n).goodput for n in ("autoregressive", "equal-fixed", "equal-best", "homogeneous")}
    assert G["homogeneous"] >= G["equal-best"] >= G["equal-fixed"]
    assert baseline(sc, "homogeneous").name == "homogeneous"


def test_heterogeneous_dispatch(monkeypatch):
    """'heterogeneous' and 'equal-heterogeneous' are dispatched lazily to numerics.heterogeneous."""
    calls = []
    fake = types.ModuleType("numerics.heterogeneous")

    def solve_heterogeneous(scenario, **kw):
        calls.append(("solve", kw))
        return "het"

    def equal_heterogeneous(scenario):
        calls.append(("equal", {}))
        return "eqhet"

    fake.solve_heterogeneous = solve_heterogeneous
    fake.equal_heterogeneous = equal_heterogeneous
    monkeypatch.setitem(sys.modules, "numerics.heterogeneous", fake)
    import numerics

    monkeypatch.setattr(numerics, "heterogeneous", fake, raising=False)
    sc = _sc()
    assert baseline(sc, "heterogeneous", integer=False) == "het"
    assert baseline(sc, "equal-heterogeneous") == "eqhet"
    assert calls == [("solve", {"integer": False}), ("equal", {})]


def test_every_name_returns_a_solution_when_available():
    sc = _sc()
    for name in ("autoregressive", "equal-fixed", "equal-best", "homogeneous"):
        assert isinstance(baseline(sc, name), Solution)


def test_raises():
    sc = _sc()
    with pytest.raises(ValueError, match="name must be one of .* got 'greedy'"):
        baseline(sc, "greedy")
    with pytest.raises(ValueError, match=r"L must be an integer >= 1, got 0"):
        baseline(sc, "equal-fixed", L=0)
    with pytest.raises(ValueError, match=r"L must be an integer >= 1, got 2.5"):
        baseline(sc, "equal-fixed", L=2.5)
    with pytest.raises(ValueError, match=r"baseline 'equal-best' takes no keyword arguments, got L=3"):
        baseline(sc, "equal-best", L=3)
    with pytest.raises(ValueError, match=r"baseline 'equal-fixed' takes only L, got M=3"):
        baseline(sc, "equal-fixed", M=3)
    with pytest.raises(ValueError, match="scenario must be a Scenario, got dict"):
        baseline({}, "autoregressive")



@pytest.mark.parametrize("v0", [0.0, 5e-324, 9.99e-13])
def test_round_time_below_a_picosecond_is_refused(v0):
    """New-user finding 9: v0 = 0 was a valid Scenario that the CLI refused (the autoregressive
    round time was 0), and v0 = 5e-324 made the autoregressive and equal-heterogeneous goodputs inf.
    The Scenario now requires v0 + v1 K + overhead >= 1e-12 s (numerics.validation.MIN_ROUND_TIME),
    naming the fields, their values and the limit."""
    with pytest.raises(ValueError, match=r"v0 \+ v1 K \+ overhead .*K = 1 users\) must be >= 1e-12 s \(limit "
                                         r"numerics.validation.MIN_ROUND_TIME\), got v0 = .*, v1 = 0.0, overhead = 0.0"):
        Scenario(alpha=0.8, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0, v0=v0)


def test_every_baseline_finite_at_the_shortest_round():
    """At the limit (v0 = 1e-12 s, v1 = overhead = 0) every baseline's goodput is finite and positive,
    without RuntimeWarnings. Reference for the autoregressive one: K / (v0 + v1 K + T_o) = 2 / 1e-12
    (docs/model.md section 3), exact in binary64 up to one rounding."""
    import warnings

    sc = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
                  spectral_efficiency=[2.0, 1.0], v0=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = {name: baseline(sc, name).goodput for name in BASELINES}
    assert got["autoregressive"] == pytest.approx(2.0 / 1e-12, rel=1e-15)
    assert all(np.isfinite(g) and g > 0 for g in got.values()), got
