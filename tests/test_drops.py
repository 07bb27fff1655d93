"""The drop model (numerics/drops.py): cited constants, the TR 38.901 formulas recomputed here
from numbers typed in from the tables, and the statistics of many seeded drops (path-loss mean,
shadowing spread, LOS share, positions uniform in area, mix fractions) against those formulas.

Reference values: 3GPP TR 38.901 Table 7.4.1-1 (path loss, shadow fading), Table 7.4.2-1 (LOS
probability), Table 7.2-1 (layout), typed in below (and checked against NVIDIA Sionna's TR 38.901
module and SEAMCAT's reprint of the table, as drops.toml says); statistical tolerances are
stated where used (4 standard errors, or a test level of 1e-4: a false alarm in about one run
in ten thousand, with the seeds fixed so a run is reproducible).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import constants, stats

from numerics import Scenario
from numerics import drops as D
from numerics import presets as P

# TR 38.901 Table 7.4.1-1 / 7.4.2-1 / 7.2-1, typed in from the tables (independent of drops.toml)
UMA = dict(a=28.0, b1=22.0, c=20.0, e=9.0, an=13.54, bn=39.08, cn=20.0, gn=0.6, sl=4.0, sn=6.0, d1=18.0, d2=63.0,
           hbs=25.0, isd=500.0, rmin=35.0)
UMI = dict(a=32.4, b1=21.0, c=20.0, e=9.5, an=22.4, bn=35.3, cn=21.3, gn=0.3, sl=4.0, sn=7.82, d1=18.0, d2=36.0,
           hbs=10.0, isd=200.0, rmin=10.0)
TABLE = {"uma": UMA, "umi": UMI}


def ref_pathloss(env, d2d, los, fc_hz, hut=1.5):
    """TR 38.901 Table 7.4.1-1 written out again (h_E = 1 m, c = 3e8 m/s, f_c in GHz in the formulas)."""
    t = TABLE[env]
    d3 = math.hypot(d2d, t["hbs"] - hut)
    fc = fc_hz / 1e9
    bp = 4 * (t["hbs"] - 1.0) * (hut - 1.0) * fc_hz / 3e8
    if d2d <= bp:
        pl_los = t["a"] + t["b1"] * math.log10(d3) + t["c"] * math.log10(fc)
    else:
        pl_los = (t["a"] + 40 * math.log10(d3) + t["c"] * math.log10(fc)
                  - t["e"] * math.log10(bp**2 + (t["hbs"] - hut) ** 2))
    if los:
        return pl_los
    return max(pl_los, t["an"] + t["bn"] * math.log10(d3) + t["cn"] * math.log10(fc) - t["gn"] * (hut - 1.5))


def ref_plos(env, d):
    t = TABLE[env]
    return 1.0 if d <= t["d1"] else t["d1"] / d + math.exp(-d / t["d2"]) * (1 - t["d1"] / d)


def draw_many(model, n_drops, n_users, bandwidth_hz, seed=0):
    return [model.drop(n_users, np.random.SeedSequence(seed, spawn_key=(i,)), bandwidth_hz) for i in range(n_drops)]


def cat(ds, field):
    return np.concatenate([np.asarray(getattr(d, field)) for d in ds])


# ---------------------------------------------------------------- constants
@pytest.mark.parametrize("env", ["uma", "umi"])
def test_constants_match_the_tables(env):
    e, t = D.drop_constants()["environments"][env], TABLE[env]
    got = (e["los_intercept_db"], e["los_slope_near"], e["los_freq_slope"], e["los_breakpoint_slope"],
           e["nlos_intercept_db"], e["nlos_slope"], e["nlos_freq_slope"], e["nlos_height_slope"],
           e["shadowing_los_db"], e["shadowing_nlos_db"], e["los_d1_m"], e["los_d2_m"], e["bs_height_m"],
           e["inter_site_distance_m"], e["min_distance_m"])
    keys = ("a", "b1", "c", "e", "an", "bn", "cn", "gn", "sl", "sn", "d1", "d2", "hbs", "isd", "rmin")
    want = tuple(t[k] for k in keys)
    assert got == want


def test_link_constants():
    c = D.drop_constants()
    # thermal noise density k T0 at T0 = 290 K (scipy.constants.k, exact SI value of Boltzmann's constant)
    kT0_dbm_hz = 10 * math.log10(constants.k * 290.0 / 1e-3)
    assert round(kT0_dbm_hz, 2) == -173.98 and round(kT0_dbm_hz) == c["physics"]["noise_density_dbm_hz"] == -174
    assert c["link"]["ue_power_dbm"] == 23.0  # TS 36.101 Table 6.2.2-1, power class 3
    assert c["link"]["bs_noise_figure_db"] == 5.0
    assert c["physics"]["speed_of_light"] == 3.0e8  # the value TR 38.901's breakpoint formula states


# ---------------------------------------------------------------- formulas
@pytest.mark.parametrize("env", ["uma", "umi"])
@pytest.mark.parametrize("fc", [0.9e9, 2e9, 3.5e9, 28e9])
def test_pathloss_formula(env, fc):
    d = np.geomspace(10.0, 5000.0, 41)
    for los in (True, False):
        got = D.pathloss_db(env, d, los, fc)
        want = [ref_pathloss(env, x, los, fc) for x in d]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(D.los_probability(env, d), [ref_plos(env, x) for x in d], rtol=0, atol=1e-15)


@pytest.mark.parametrize("env", ["uma", "umi"])
def test_los_pathloss_is_continuous_at_the_breakpoint(env):
    # PL2(d'BP) = PL1(d'BP) exactly, since d3D(d'BP)^2 = d'BP^2 + (hBS - hUT)^2 and 40 - e*2 = b1
    bp = D.breakpoint_distance(env, 3.5e9)
    lo, hi = D.pathloss_db(env, [bp * (1 - 1e-12), bp * (1 + 1e-12)], True, 3.5e9)
    assert abs(hi - lo) < 1e-9
    assert bp == pytest.approx(4 * (TABLE[env]["hbs"] - 1) * 0.5 * 3.5e9 / 3e8, rel=1e-15)


def test_cqi_thresholds_follow_the_preset_convention():
    eff = [0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141, 2.4063, 2.7305, 3.3223, 3.9023,
           4.5234, 5.1152, 5.5547]  # TS 36.213 Table 7.2.3-1, column "efficiency"
    thr = [10 * math.log10(2.0**e - 1) for e in eff]
    for q, t in enumerate(thr, start=1):
        assert D.cqi_from_snr(t + 1e-9).item() == q and D.cqi_from_snr(t - 1e-9).item() == q - 1
        assert D.cqi_from_snr(t + 3.0 + 1e-9, snr_gap_db=3.0).item() == q  # a 3 dB gap moves every threshold
        assert D.cqi_from_snr(t + 3.0 - 1e-9, snr_gap_db=3.0).item() == q - 1
    assert D.cqi_from_snr(1e3).item() == 15


# ---------------------------------------------------------------- statistics of drops
def test_pathloss_mean_and_spread_at_a_fixed_distance():
    """At d = 100 m (annulus 99.99..100 m): E[PL] = P PL_LOS + (1-P) PL_NLOS and
    Var = P sL^2 + (1-P) sN^2 + P(1-P)(PL_LOS - PL_NLOS)^2 (a two-component mixture), TR 38.901 numbers."""
    m = D.DropModel(environment="uma", min_distance_m=99.99, cell_radius_m=100.0, carrier_hz=2e9)
    ds = draw_many(m, 100, 100, 180e3, seed=11)  # 10,000 users, none below CQI 1 at 100 m (> 6 sigma)
    assert cat(ds, "redraws").sum() == 0
    pl = cat(ds, "pathloss_db")
    p = ref_plos("uma", 100.0)
    a, b = ref_pathloss("uma", 100.0, True, 2e9), ref_pathloss("uma", 100.0, False, 2e9)
    mean = p * a + (1 - p) * b
    var = p * 16.0 + (1 - p) * 36.0 + p * (1 - p) * (a - b) ** 2
    se = math.sqrt(var / pl.size)
    assert abs(pl.mean() - mean) < 4 * se  # 4 standard errors
    # sample variance: chi-square-like spread; 4 standard errors of the variance estimate (kurtosis bound 3x)
    assert abs(pl.var(ddof=1) - var) < 4 * var * math.sqrt(3 * 2 / pl.size)


@pytest.mark.parametrize("env", ["uma", "umi"])
def test_shadowing_los_share_and_positions(env):
    t = TABLE[env]
    m = D.DropModel(environment=env, carrier_hz=2e9)
    assert m.min_distance_m == t["rmin"] and m.cell_radius_m == t["isd"] / 2
    ds = draw_many(m, 60, 50, 180e3, seed=3)  # 3,000 users; 180 kHz keeps every user covered
    assert cat(ds, "redraws").sum() == 0
    d, los, sf, pl = (cat(ds, f) for f in ("distance_m", "los", "shadowing_db", "pathloss_db"))
    base = np.array([ref_pathloss(env, x, bool(s), 2e9) for x, s in zip(d, los, strict=True)])
    np.testing.assert_allclose(pl - base, sf, rtol=0, atol=1e-9)  # PL = formula + shadowing, exactly
    z = sf / np.where(los, t["sl"], t["sn"])  # standard normal if sigma_SF is the table's
    assert stats.kstest(z, "norm").pvalue > 1e-4
    assert stats.chi2.sf((z**2).sum(), z.size) > 1e-4 and stats.chi2.cdf((z**2).sum(), z.size) > 1e-4
    # LOS share: sum of Bernoulli(P_LOS(d_i)); normal approximation, |z| < 4
    p = np.array([ref_plos(env, x) for x in d])
    assert abs(los.sum() - p.sum()) < 4 * math.sqrt((p * (1 - p)).sum())
    # positions uniform in area in the annulus: F(d) = (d^2 - r0^2) / (R^2 - r0^2), azimuth uniform
    r0, R = t["rmin"], t["isd"] / 2
    assert np.all((d >= r0) & (d <= R))
    assert stats.kstest(d, lambda x: (x**2 - r0**2) / (R**2 - r0**2)).pvalue > 1e-4
    phi = np.mod(np.arctan2(cat(ds, "y_m"), cat(ds, "x_m")), 2 * np.pi)
    assert stats.kstest(phi / (2 * np.pi), "uniform").pvalue > 1e-4
    np.testing.assert_allclose(np.hypot(cat(ds, "x_m"), cat(ds, "y_m")), d, rtol=1e-12)


def test_snr_and_scenario_fields():
    m = D.DropModel(noise_figure_db=7.0, ue_power_dbm=20.0)
    s, d = m.sample(12, seed=5, bandwidth_hz=5e6)
    noise = -174 + 10 * math.log10(5e6) + 7.0
    np.testing.assert_allclose(d.snr_db, 20.0 - d.pathloss_db - noise, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(d.cqi, [D.cqi_from_snr(x).item() for x in d.snr_db])
    assert np.all(d.cqi >= 1)
    # the linear model's eta is the CQI efficiency; draft latency and alpha from the cited presets
    np.testing.assert_array_equal(s.spectral_efficiency, [P.cqi_efficiency(int(q)) for q in d.cqi])
    t_ref = [P.draft_latency("qwen3.5-0.8b", dv, pr) for dv, pr in zip(d.device, d.precision, strict=True)]
    np.testing.assert_array_equal(s.t_draft, t_ref)
    np.testing.assert_array_equal(s.alpha, [P.acceptance(a) for a in d.task])
    assert s.bandwidth_hz == 5e6 and s.rate_model == "linear"
    sh, dh = m.sample(12, seed=5, bandwidth_hz=5e6, rate_model="shannon", v1=0.0)
    np.testing.assert_allclose(sh.snr, 10 ** (d.snr_db / 10), rtol=1e-15)
    assert sh.v1 == 0.0 and isinstance(sh, Scenario)
    np.testing.assert_array_equal(dh.distance_m, d.distance_m)


def test_nested_drops_and_determinism():
    m = D.DropModel(environment="umi")
    a = m.drop(5, 42, 1.4e6)
    b = m.drop(9, 42, 1.4e6)
    c = m.drop(9, np.random.SeedSequence(42), 1.4e6)
    for f in ("distance_m", "snr_db", "cqi", "shadowing_db"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f)[:5])  # common random numbers across K
        np.testing.assert_array_equal(getattr(b, f), getattr(c, f))
    assert a.task == b.task[:5] and a.device == b.device[:5]
    assert not np.array_equal(m.drop(5, 43, 1.4e6).distance_m, a.distance_m)


def test_seed_sequence_from_a_sequence_of_integers():
    """A SeedSequence built from several integers is a valid seed (it raised TypeError in int(entropy),
    found by mypy); the drop records the entropy tuple, and rebuilding from it gives the same users."""
    m = D.DropModel(environment="umi")
    a = m.drop(4, np.random.SeedSequence([7, 11, 13], spawn_key=(2,)), 1.4e6)
    assert a.entropy == (7, 11, 13) and a.spawn_key == (2,)
    b = m.drop(4, np.random.SeedSequence(a.entropy, spawn_key=a.spawn_key), 1.4e6)
    np.testing.assert_array_equal(a.snr_db, b.snr_db)
    assert not np.array_equal(m.drop(4, np.random.SeedSequence([7, 11, 14], spawn_key=(2,)), 1.4e6).snr_db, a.snr_db)


def test_mix_fractions():
    m = D.DropModel(devices=[("phone", "int4", 0.7), ("laptop", "fp16", 0.3)],
                    tasks=[{"acceptance": "t5-xxl/t5-small/ende-greedy", "fraction": 0.2},
                           {"acceptance": "t5-xxl/t5-large/ende-greedy", "fraction": 0.8}])
    ds = draw_many(m, 40, 50, 1.4e6, seed=9)  # 2,000 users
    dev = cat(ds, "device")
    n = dev.size
    obs = [np.sum(dev == "phone"), np.sum(dev == "laptop")]
    assert stats.chisquare(obs, [0.7 * n, 0.3 * n]).pvalue > 1e-4
    assert set(zip(cat(ds, "device"), cat(ds, "precision"), strict=True)) == {("phone", "int4"), ("laptop", "fp16")}
    task = cat(ds, "task")
    obs = [np.sum(task == "t5-xxl/t5-small/ende-greedy"), np.sum(task == "t5-xxl/t5-large/ende-greedy")]
    assert stats.chisquare(obs, [0.2 * n, 0.8 * n]).pvalue > 1e-4
    # default mixes: the base preset's users (default preset: 4 laptops and 4 phones, 4 tasks twice each)
    dm = D.DropModel()
    assert dm.devices == (("laptop", "int4", 0.5), ("phone", "int4", 0.5))
    assert [f for _, f in dm.tasks] == [0.25] * 4


def test_coverage_redraws():
    m = D.DropModel(cell_radius_m=2000.0)
    ds = draw_many(m, 10, 20, 20e6, seed=1)
    assert cat(ds, "redraws").sum() > 0 and np.all(cat(ds, "cqi") >= 1)
    with pytest.raises(ValueError, match="no covered position after 10000 draws"):
        D.DropModel(ue_power_dbm=-60.0).drop(1, 0, 20e6)


def test_positional_profile_task():
    m = D.DropModel(preset="llama2-eagle", tasks=[("profile:eagle-llama2-chat-7b-mtbench", 1.0)])
    s, _ = m.sample(3, seed=0)
    assert s.positional and s.alpha.shape == (3, s.max_draft)
    s8, _ = m.sample(3, seed=0, max_draft=8)
    assert s8.alpha.shape == (3, 8)


@pytest.mark.parametrize("kwargs, match", [
    (dict(environment="rma"), r"environment must be one of \('uma', 'umi'\), got 'rma'"),
    (dict(preset="nope"), "preset must be one of"),
    (dict(min_distance_m=5.0), r"min_distance_m must be >= 10 m \(TR 38.901 range\), got 5.0"),
    (dict(cell_radius_m=30.0), r"cell_radius_m must be in \(min_distance_m=35, 5000\] m, got 30.0"),
    (dict(cell_radius_m=6000.0), r"cell_radius_m must be in .* got 6000.0"),
    (dict(carrier_hz=200e9), r"carrier_hz must be in \[0.5e9, 100e9\] Hz"),
    (dict(ue_height_m=20.0), r"ue_height_m must be in \[1.5, 13\) m, got 20.0"),
    (dict(noise_figure_db=-1.0), "noise_figure_db must be a finite number >= 0, got -1.0"),
    (dict(snr_gap_db=float("nan")), "snr_gap_db must be a finite number, got nan"),
    (dict(ue_power_dbm="23"), "ue_power_dbm must be a number, got '23'"),
    (dict(devices=[("phone", "int4", 0.5)]), "devices fractions must sum to 1, got 0.5"),
    (dict(devices=[("toaster", "int4", 1.0)]), r"devices\[0\].device must be one of"),
    (dict(devices=[("phone", "int3", 1.0)]), r"devices\[0\].precision must be one of"),
    (dict(devices=[]), "devices must not be empty"),
    (dict(devices=[{"device": "phone", "fraction": 1.0}]), r"devices\[0\] must have exactly the keys"),
    (dict(tasks=[("a/b/c", 1.0)]), r"tasks\[0\].acceptance must be an acceptance id"),
    (dict(tasks=[("t5-xxl/t5-small/ende-greedy", -1.0), ("t5-xxl/t5-base/ende-greedy", 2.0)]),
     r"tasks\[0\].fraction must be > 0, got -1.0"),
])
def test_bad_drop_model(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.DropModel(**kwargs)


def test_bad_draws():
    m = D.DropModel()
    with pytest.raises(ValueError, match="n_users must be an integer >= 1, got 0"):
        m.drop(0, 0, 1e6)
    with pytest.raises(ValueError, match=r"bandwidth_hz must be a finite number > 0, got -1\.0"):
        m.drop(1, 0, -1.0)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0 or a numpy\.random\.SeedSequence, got -3"):
        m.drop(1, -3, 1e6)
    with pytest.raises(ValueError, match="unknown drop-model key 'radius'"):
        D.DropModel.from_dict({"radius": 3})
    d = m.drop(2, 0, 1e6)
    with pytest.raises(ValueError, match=r"bandwidth_hz must be the drop's band 1000000\.0, got 2000000\.0"):
        m.scenario(d, bandwidth_hz=2e6)
    with pytest.raises(ValueError, match="rate_model must be one of"):
        m.scenario(d, rate_model="cubic")
    with pytest.raises(ValueError, match="alpha must lie in"):
        m.scenario(d, alpha=1.5)
    assert D.DropModel.from_dict(m.to_dict()) == m
