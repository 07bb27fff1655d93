"""Scenario: construction, broadcasting, (de)serialisation, and every validation error (issue 2, item 2)."""

import math

import numpy as np
import pytest
import tomli_w

from numerics import Scenario

BASE = dict(alpha=[0.8, 0.6, 0.7], t_draft=0.01, bits_per_token=[32.0, 64.0, 16.0],
            bandwidth_hz=1e5, spectral_efficiency=2.0, v0=0.05)


def make(**changes):
    kw = dict(BASE)
    kw.update(changes)
    return Scenario(**kw)


# ---------------------------------------------------------------- construction
def test_broadcasting_and_types():
    s = make()
    assert s.n_users == 3
    for name in ("alpha", "t_draft", "bits_per_token", "spectral_efficiency"):
        arr = getattr(s, name)
        assert arr.shape == (3,) and arr.dtype == np.float64 and not arr.flags.writeable
    assert s.t_draft.tolist() == [0.01] * 3
    assert s.snr is None and s.channel is s.spectral_efficiency
    assert isinstance(s.bandwidth_hz, float) and isinstance(s.max_draft, int)
    assert not s.positional


def test_all_scalars_is_one_user():
    s = Scenario(alpha=0.5, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, snr=10.0,
                 rate_model="shannon", v0=0.1)
    assert s.n_users == 1 and s.channel.tolist() == [10.0]


def test_positional_profile():
    prof = np.tile([0.76, 0.69, 0.67, 0.68], (2, 1))
    s = Scenario(alpha=prof, t_draft=[0.01, 0.02], bits_per_token=8, bandwidth_hz=1e6,
                 spectral_efficiency=1.0, v0=0.1, max_draft=4)
    assert s.positional and s.alpha.shape == (2, 4) and s.n_users == 2


def test_frozen_and_replace_revalidates():
    s = make()
    with pytest.raises(AttributeError):
        s.v0 = 1.0
    s2 = s.replace(v0=0.2)
    assert s2.v0 == 0.2 and s.v0 == 0.05
    with pytest.raises(ValueError, match="v0 must be a finite number >= 0, got -1"):
        s.replace(v0=-1)


def test_equality():
    assert make() == make()
    assert make() != make(v0=0.06)
    assert make().__eq__(3) is NotImplemented


# ---------------------------------------------------------------- round trips
def test_dict_round_trip():
    s = make(v1=1e-3, batching="padded", overhead=0.01, max_draft=8)
    d = s.to_dict()
    assert all(isinstance(v, (list, float, int, str)) for v in d.values())
    assert "snr" not in d  # None fields are left out
    assert Scenario.from_dict(d) == s


@pytest.mark.parametrize("positional", [False, True])
def test_toml_round_trip(tmp_path, positional):
    kw = dict(rate_model="shannon", snr=[10.0, 1000.0], spectral_efficiency=None, alpha=[0.5, 0.9])
    if positional:
        kw.update(alpha=[[0.9, 0.8], [0.7, 0.6]], max_draft=2)
    s = make(t_draft=[0.01, 0.02], bits_per_token=[8.0, 16.0], **kw)
    path = tmp_path / "scenario.toml"
    path.write_text(tomli_w.dumps(s.to_dict()))
    back = Scenario.from_toml(path)
    assert back == s and back.positional == positional


# ---------------------------------------------------------------- every ValueError of issue 2, item 2
@pytest.mark.parametrize("bad, shown", [(1.0, "1.0"), (1.5, "1.5"), (-0.1, "-0.1"), (math.nan, "nan")])
def test_alpha_outside_unit_interval(bad, shown):
    with pytest.raises(ValueError, match=rf"alpha must lie in \[0, 1\), got {shown}"):
        make(alpha=[0.5, bad, 0.5])


def test_alpha_profile_entry_outside():
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\), got 1.0"):
        Scenario(alpha=[[0.5, 1.0]], t_draft=0.1, bits_per_token=1, bandwidth_hz=1, spectral_efficiency=1,
                 v0=0, max_draft=2)


@pytest.mark.parametrize("field", ["t_draft", "bits_per_token"])
@pytest.mark.parametrize("bad, shown", [(-1.0, "-1.0"), (math.nan, "nan"), (math.inf, "inf")])
def test_negative_nan_infinite_times_and_bits(field, bad, shown):
    with pytest.raises(ValueError, match=rf"{field} must be finite and >= 0, got {shown}"):
        make(**{field: [1.0, bad, 1.0]})


@pytest.mark.parametrize("bad", [0.0, -1e6, math.nan, math.inf])
def test_bandwidth_not_positive(bad):
    with pytest.raises(ValueError, match=r"bandwidth_hz must be a finite number > 0, got"):
        make(bandwidth_hz=bad)


def test_unknown_rate_model():
    with pytest.raises(ValueError, match=r"rate_model must be one of \('linear', 'shannon'\), got 'cubic'"):
        make(rate_model="cubic")


def test_unknown_batching():
    with pytest.raises(ValueError, match=r"batching must be one of \('ragged', 'padded'\), got 'dense'"):
        make(batching="dense")


@pytest.mark.parametrize("model, field", [("linear", "spectral_efficiency"), ("shannon", "snr")])
def test_channel_parameter_missing(model, field):
    with pytest.raises(ValueError, match=rf"{field} is required by rate_model='{model}', got None"):
        make(rate_model=model, spectral_efficiency=None, snr=None)


@pytest.mark.parametrize("model, field", [("linear", "spectral_efficiency"), ("shannon", "snr")])
@pytest.mark.parametrize("bad, shown", [(0.0, "0.0"), (-2.0, "-2.0"), (math.nan, "nan"), (math.inf, "inf")])
def test_channel_parameter_not_positive(model, field, bad, shown):
    with pytest.raises(ValueError, match=rf"{field} must be finite and > 0, got {shown}"):
        make(rate_model=model, **{field: [1.0, 1.0, bad]})


def test_per_user_lengths_differ():
    with pytest.raises(ValueError, match=r"per-user arrays have different lengths: .*'alpha': 3.*'t_draft': 2"):
        make(t_draft=[0.01, 0.02])


def test_no_users():
    with pytest.raises(ValueError, match=r"alpha has no users \(empty array\), got \[\]"):
        make(alpha=[])


@pytest.mark.parametrize("bad", [0, -3, 2.5, math.inf, math.nan, "16", True])
def test_max_draft_below_one_or_not_integer(bad):
    with pytest.raises(ValueError, match=r"max_draft must be an integer >= 1, got"):
        make(max_draft=bad)


@pytest.mark.parametrize("field", ["v0", "v1", "overhead"])
@pytest.mark.parametrize("bad, shown", [(-0.5, "-0.5"), (math.nan, "nan"), (math.inf, "inf")])
def test_negative_v0_v1_overhead(field, bad, shown):
    with pytest.raises(ValueError, match=rf"{field} must be a finite number >= 0, got {shown}"):
        make(**{field: bad})


# ---------------------------------------------------------------- the other raises of scenario.py
def test_non_numeric_field():
    with pytest.raises(ValueError, match=r"t_draft must be a number or an array of numbers, got 'fast'"):
        make(t_draft="fast")
    with pytest.raises(ValueError, match=r"bits_per_token must be a number or an array of numbers, got"):
        make(bits_per_token=[1.0, "x", {}])


def test_per_user_array_too_many_dims():
    with pytest.raises(ValueError, match=r"t_draft must be a scalar or a 1-D array, got an array of shape \(3, 1\)"):
        make(t_draft=[[0.1], [0.1], [0.1]])


def test_alpha_profile_columns():
    with pytest.raises(ValueError, match=r"must have max_draft=16 columns, got shape \(3, 2\)"):
        make(alpha=[[0.5, 0.5]] * 3)


def test_from_dict_errors():
    with pytest.raises(ValueError, match=r"scenario must be a mapping of field names, got list"):
        Scenario.from_dict([1, 2])
    with pytest.raises(ValueError, match=r"unknown scenario key 'alpah'"):
        Scenario.from_dict({**BASE, "alpah": 0.5})
    d = dict(BASE)
    del d["v0"]
    with pytest.raises(ValueError, match=r"scenario key 'v0' is required"):
        Scenario.from_dict(d)


def test_from_toml_errors(tmp_path):
    with pytest.raises(ValueError, match=r"scenario file '.*missing.toml' does not exist"):
        Scenario.from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("alpha = [0.5,\n")
    with pytest.raises(ValueError, match=r"bad.toml': TOML syntax error"):
        Scenario.from_toml(bad)


def test_from_toml_name_too_long_or_with_nul(tmp_path):
    """New-user finding 10: Scenario.from_toml("x" * 5000) raised OSError (ENAMETOOLONG) from
    Path.is_dir; every unusable path is now a ValueError naming it (shortened: its start and length)."""
    with pytest.raises(ValueError, match=r"scenario file 'x{100}'\.\.\. \(5000 characters\) cannot be read: File name too long"):
        Scenario.from_toml("x" * 5000)
    with pytest.raises(ValueError, match=r"scenario file 'a\\x00b' cannot be read"):
        Scenario.from_toml("a\0b")
    f = tmp_path / "plain"
    f.write_text("")
    with pytest.raises(ValueError, match=r"cannot be read: Not a directory"):
        Scenario.from_toml(f / "below.toml")


def test_from_toml_reads_preset_files(tmp_path):
    """New-user finding 16: Scenario.from_toml on the README's preset file failed with "unknown
    scenario key 'n_users'". One reader for scenario files: from_toml is numerics.presets.load_scenario
    (the command line's reader). Reference: the same preset built by numerics.presets.preset with the
    file's overrides (3 MHz, Shannon, 12 users), which the file states in its comments."""
    from numerics.presets import preset

    got = Scenario.from_toml("scenarios/preset_override.toml")
    assert got == preset("default", n_users=12, bandwidth_hz=3e6, rate_model="shannon")
    p = tmp_path / "p.toml"
    p.write_text('preset = "default"\nn_users = 0\n')
    with pytest.raises(ValueError, match=r"p.toml': n_users must be an integer >= 1, got 0"):
        Scenario.from_toml(p)
