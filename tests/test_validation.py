"""Issue 10 item 1: the one validation layer (numerics.validation) and the entry points that use it.

Every raise of ``numerics/validation.py`` (and the new ones in scenario.py, presets.py,
latency.py, simulate.py, baselines.py) has a test here with ``match=``; the issue's handed
cases are marked "handed case". No numeric reference values: the expected outcomes are the
documented rules (module docstring of numerics.validation).
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from numerics import Scenario, baseline, expected_tokens, goodput, rate, round_time, simulate, solve_homogeneous
from numerics import validation as V
from numerics.allocation import equal_finish_allocation, share_for_deadline
from numerics.latency import batch_size, drafting_time, per_token_latency
from numerics.presets import lattice_bits, preset, profile, scenario_from_mapping, token_id_bits
from numerics.scenario import read_text, read_toml

BASE = dict(alpha=0.8, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=1.0, v0=0.05)


def make(**changes):
    return Scenario(**{**BASE, **changes})


# ---------------------------------------------------------------- the handed cases
def test_handed_case_bool_t_draft():
    """Issue 10 handed case: t_draft=True is refused, naming t_draft (bool is not a number)."""
    with pytest.raises(ValueError, match=r"t_draft must be a number or an array of numbers, got True"):
        Scenario(alpha=0.8, t_draft=True, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=1.0, v0=0.05)


@pytest.mark.parametrize("bad", [10**18, 2**63, 10**8 + 1, 1_000_001])
def test_handed_case_max_draft_above_limit(bad):
    """Issue 10 handed case: max_draft=10**18 (and 2**63, 10**8) refused with the limit, at once."""
    with pytest.raises(ValueError, match=rf"max_draft must be <= 1000000 \(limit numerics.validation.MAX_DRAFT\), "
                                         rf"got {bad}"):
        make(max_draft=bad)


def test_max_draft_at_the_limit_is_served():
    """max_draft = 1_000_000 (the limit) is inside: constructed and solved (homogeneous: closed form)."""
    s = make(max_draft=V.MAX_DRAFT)
    assert s.max_draft == V.MAX_DRAFT
    assert 1 <= solve_homogeneous(s).draft_lengths[0] <= V.MAX_DRAFT


@pytest.mark.parametrize("bad, shown", [(1e300, "1e+300"), (16.0, "16.0"), ("16", "'16'"), (True, "True"),
                                        (None, "None"), (np.float64(4.0), "4.0")])
def test_max_draft_not_an_int(bad, shown):
    with pytest.raises(ValueError, match=rf"max_draft must be an integer.*got {re_escape(shown)}"):
        make(max_draft=bad)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


# ---------------------------------------------------------------- type rules of Scenario fields
@pytest.mark.parametrize("field", ["alpha", "t_draft", "bits_per_token", "spectral_efficiency"])
@pytest.mark.parametrize("bad, shown", [
    (True, "True"), (np.bool_(False), "False"), ("0.5", "'0.5'"), (b"1", "b'1'"), (1 + 0j, "(1+0j)"),
    ({"a": 1}, "{'a': 1}"), ([0.5, True], r"[0.5, True] (True is not a number)"),
    ([0.5, None], r"[0.5, None] (None is not a number)"), ([0.5, "x"], r"[0.5, 'x'] ('x' is not a number)"),
    (np.array([True, False]), r"[True, False] (booleans are not numbers)"), (np.array(["a"]), "['a']"),
    (np.array([0.5, None], dtype=object), "[0.5, None]"),
])
def test_per_user_field_type_rules(field, bad, shown):
    with pytest.raises(ValueError, match=rf"{field} must be a number or an array of numbers, got {re_escape(shown)}"):
        make(**{field: bad})


@pytest.mark.parametrize("field", ["alpha", "t_draft", "bits_per_token"])
def test_required_field_none(field):
    with pytest.raises(ValueError, match=rf"{field} is required, got None"):
        make(**{field: None})


@pytest.mark.parametrize("field", ["bandwidth_hz", "v0", "v1", "overhead"])
@pytest.mark.parametrize("bad, shown", [(True, "True"), (None, "None"), ("1", "'1'"), ([1.0], "[1.0]"),
                                        (np.array([1.0, 2.0]), "an array of shape (2,)")])
def test_system_scalar_type_rules(field, bad, shown):
    with pytest.raises(ValueError, match=rf"{field} must be a number, got {re_escape(shown)}"):
        make(**{field: bad})


def test_numbers_that_are_accepted():
    """ints, floats, NumPy scalars, 0-d arrays and Fractions are numbers; int beyond float range -> inf (refused)."""
    s = make(t_draft=np.float32(0.5), bits_per_token=np.int64(3), v0=Fraction(1, 4), bandwidth_hz=np.array(2.0),
             alpha=[Fraction(1, 2), np.float16(0.25)])
    assert s.t_draft.tolist() == [0.5, 0.5] and s.v0 == 0.25 and s.bandwidth_hz == 2.0
    with pytest.raises(ValueError, match=r"t_draft must be finite and >= 0, got inf"):
        make(t_draft=[10**400, 1])
    with pytest.raises(ValueError, match=r"v0 must be a finite number >= 0, got -1000000"):
        make(v0=-(10**400))


@pytest.mark.parametrize("field, value", [("rate_model", 3), ("rate_model", None), ("rate_model", ["linear"]),
                                          ("batching", True), ("batching", "Ragged")])
def test_choice_fields(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be one of \(.*\), got {re_escape(V.fmt(value))}"):
        make(**{field: value})


def test_ragged_lists_name_the_field():
    with pytest.raises(ValueError, match=r"alpha must be a rectangular array of numbers, got ragged nested lists"):
        make(alpha=[[0.5, 0.5], [0.5]], max_draft=2)
    with pytest.raises(ValueError, match=r"t_draft must be a rectangular array of numbers, got ragged"):
        make(t_draft=[0.1, [0.2, 0.3]])


def test_profile_width_and_dims():
    with pytest.raises(ValueError, match=r"alpha as a position-dependent profile must have max_draft=4 columns, "
                                         r"got shape \(2, 3\)"):
        make(alpha=[[0.5] * 3] * 2, max_draft=4)
    with pytest.raises(ValueError, match=r"alpha must be a scalar or a 1-D array or a 2-D array, got an array of "
                                         r"shape \(1, 1, 1\)"):
        make(alpha=[[[0.5]]])


# ---------------------------------------------------------------- limits of Scenario
def test_users_limit():
    with pytest.raises(ValueError, match=r"t_draft has 1000001 users, above the limit numerics.validation.MAX_USERS "
                                         r"= 1000000"):
        make(t_draft=np.zeros(V.MAX_USERS + 1))
    assert make(t_draft=np.zeros(V.MAX_USERS)).n_users == V.MAX_USERS  # at the limit: served


def test_profile_entries_limit():
    with pytest.raises(ValueError, match=r"alpha profile has 11 x 1000000 = 11000000 entries, above the limit "
                                         r"numerics.validation.MAX_PROFILE_ENTRIES = 10000000"):
        make(alpha=np.broadcast_to(0.5, (11, V.MAX_DRAFT)), max_draft=V.MAX_DRAFT)


def test_full_band_rate_must_be_finite():
    with pytest.raises(ValueError, match=r"bandwidth_hz x spectral_efficiency \(the full-band rate of user 0\) must be "
                                         r"finite and >= 2.23e-308 bit/s \(a normal double\), got bandwidth_hz = "
                                         r"1e\+300, spectral_efficiency = 10000000000.0"):
        make(bandwidth_hz=1e300, spectral_efficiency=1e10)
    with pytest.raises(ValueError, match=r"bandwidth_hz x log2\(1 \+ snr\) .* must be finite .*, got bandwidth_hz = "
                                         r"1e\+307, snr = 1e\+300"):
        make(rate_model="shannon", snr=1e300, bandwidth_hz=1e307, spectral_efficiency=None)
    with pytest.raises(ValueError, match=r"full-band rate of user 0\) must be finite and >= 2.23e-308 bit/s .*got "
                                         r"bandwidth_hz = 5e-324, spectral_efficiency = 1e-300"):
        make(bandwidth_hz=5e-324, spectral_efficiency=1e-300)


def test_full_band_upload_time_must_be_normal():
    with pytest.raises(ValueError, match=r"bits_per_token / full-band rate \(the upload time of a token of user 1\) "
                                         r"must be finite and >= 2.23e-308 s"):
        make(bits_per_token=[1.0, 1e-300], bandwidth_hz=1e22, t_draft=0.0)
    with pytest.raises(ValueError, match=r"upload time of a token of user 0\) must be finite .* got bits_per_token = "
                                         r"1e\+300 at a rate of 1e-300 bit/s"):
        make(bits_per_token=1e300, bandwidth_hz=1e-300)
    assert make(bits_per_token=[1.0, 0.0], bandwidth_hz=1e300).n_users == 2  # s = 0: no upload, no limit


# ---------------------------------------------------------------- helpers, one raise each
def test_as_float_messages():
    assert V.as_float("x", 2) == 2.0 and isinstance(V.as_float("x", np.int8(2)), float)
    with pytest.raises(ValueError, match=r"x must be a number, got None"):
        V.as_float("x", None)
    with pytest.raises(ValueError, match=r"x must be a finite number >= 0, got -1"):
        V.as_float("x", -1, low=0.0)
    assert V.as_nonnegative("y", 0) == 0.0
    with pytest.raises(ValueError, match=r"x must be a finite number > 0, got 0.0"):
        V.as_positive("x", 0.0)
    with pytest.raises(ValueError, match=r"x must be a finite number, got nan"):
        V.as_float("x", math.nan)
    with pytest.raises(ValueError, match=r"x must be a number <= 3, got nan"):
        V.as_float("x", math.nan, high=3, finite=False)
    with pytest.raises(ValueError, match=r"x must lie in \(0, 1\), got 1"):
        V.as_float("x", 1, low=0, high=1, low_open=True, high_open=True)
    assert V.as_float("x", math.inf, finite=False) == math.inf


def test_as_int_messages():
    assert V.as_int("n", np.int32(5), low=1) == 5 and V.as_int("n", np.array(3)) == 3
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got 0"):
        V.as_int("n", 0, low=1)
    with pytest.raises(ValueError, match=r"n must be an integer, got 2.0"):
        V.as_int("n", 2.0)
    with pytest.raises(ValueError, match=r"n must be <= 10, got 11"):
        V.as_int("n", 11, high=10)
    with pytest.raises(ValueError, match=r"n must be <= 10 \(limit X\), got 11"):
        V.as_int("n", 11, high=10, limit="X")


def test_as_bool_and_choice():
    assert V.as_bool("f", np.bool_(True)) is True
    with pytest.raises(ValueError, match=r"f must be True or False, got 1"):
        V.as_bool("f", 1)
    with pytest.raises(ValueError, match=r"m must be one of \('a', 'b'\), got 'c'"):
        V.as_choice("m", "c", ("a", "b"))


def test_as_float_array_messages():
    assert V.as_float_array("a", (1, 2)).dtype == np.float64
    assert V.as_float_array("a", np.zeros((2, 3), dtype=np.float32), None).shape == (2, 3)
    with pytest.raises(ValueError, match=r"a must be a scalar or a 1-D array, got an array of shape \(2, 2\)"):
        V.as_float_array("a", [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"a must be a 2-D array, got an array of shape \(\)"):
        V.as_float_array("a", 1.0, (2,))
    with pytest.raises(ValueError, match=r"a must be a number or an array of numbers, got \[1, None\]"):
        V.as_float_array("a", np.array([1, None], dtype=object))
    with pytest.raises(ValueError, match=r"a must be a number or an array of numbers, got "
                                         r"\[datetime.date\(2020, 1, 1\)\]"):
        V.as_float_array("a", np.array(["2020-01-01"], dtype="datetime64[D]"))


def test_check_range_and_probabilities():
    V.check_range("a", np.array([0.0, 1.0]), 0.0, 1.0)
    with pytest.raises(ValueError, match=r"a must be finite and > 0, got 0.0"):
        V.check_range("a", np.array([1.0, 0.0]), 0.0, low_open=True)
    with pytest.raises(ValueError, match=r"a must be finite, got inf"):
        V.check_range("a", np.array(np.inf))
    with pytest.raises(ValueError, match=r"a must be finite and <= 2, got 3.0"):
        V.check_range("a", np.array([3.0]), high=2.0)
    assert V.as_probabilities("p", [0.0, 1.0], one=True).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got 1.0"):
        V.as_probabilities("p", [0.5, 1.0])


def test_fmt_is_short():
    assert V.fmt(np.arange(100)) == "an array of shape (100,)"
    assert V.fmt(list(range(100))) == "a list of 100 entries"
    assert V.fmt("x" * 100).endswith("...'") or V.fmt("x" * 100).endswith("...")
    assert len(V.fmt({i: i for i in range(100)})) <= 80
    assert V.fmt(np.float64(0.5)) == "0.5"


# ---------------------------------------------------------------- scenario-taking functions
def test_public_functions_refuse_a_dict_scenario():
    d = make().to_dict()
    for call in (lambda: goodput(d, 1, 1.0), lambda: round_time(d, 1, 1.0), lambda: simulate(d, (1, 1.0)),
                 lambda: baseline(d, "autoregressive"), lambda: solve_homogeneous(d),
                 lambda: per_token_latency(d, 1.0), lambda: batch_size(d, 1), lambda: drafting_time(d, 1, 1.0),
                 lambda: equal_finish_allocation(d, 1), lambda: share_for_deadline(d, 1, 1.0)):
        with pytest.raises(ValueError, match=r"scenario must be a Scenario, got dict "
                                             r"\(build one with Scenario.from_dict\)"):
            call()


@pytest.mark.parametrize("L, msg", [
    ("3", r"L must be a number or an array of numbers, got '3'"),
    (True, r"L must be a number or an array of numbers, got True"),
    ([1, None], r"L must be a number or an array of numbers, got \[1, None\]"),
    ([1, 2], r"L must be a scalar or have length K=1, got shape \(2,\)"),
    (2.5, r"L must be integers, got 2.5"),
    (-1, r"L must lie in \[0, max_draft=16\], got -1.0"),
    (np.nan, r"L must lie in \[0, max_draft=16\], got nan"),
])
def test_draft_lengths(L, msg):
    with pytest.raises(ValueError, match=msg):
        goodput(make(), L, 1.0)


@pytest.mark.parametrize("beta, msg", [
    ("1", r"beta must be a number or an array of numbers, got '1'"),
    (None, r"beta must be a number or an array of numbers, got None"),
    ([0.5, 0.5], r"beta must be a scalar or have length K=1, got shape \(2,\)"),
    (-0.1, r"beta must be finite and >= 0, got -0.1"),
    (1.5, r"beta must sum to at most 1, got sum 1.5"),
    (0.0, r"beta\[0\] = 0 but user 0 uploads"),
])
def test_band_shares(beta, msg):
    with pytest.raises(ValueError, match=msg):
        round_time(make(), 2, beta)


def test_per_token_latency_shares():
    with pytest.raises(ValueError, match=r"beta must be a scalar or have length K=2, got shape \(3,\)"):
        per_token_latency(make(alpha=[0.5, 0.6]), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"beta must be finite and >= 0, got -1.0"):
        per_token_latency(make(), -1.0)
    assert per_token_latency(make(alpha=[0.5, 0.6]), 1.0).shape == (2,)  # any share, no sum check here


def test_allocation_inputs():
    with pytest.raises(ValueError, match=r"T must be a number, got '1'"):
        share_for_deadline(make(), 1, "1")
    with pytest.raises(ValueError, match=r"L must be finite and >= 0, got -1.0"):
        equal_finish_allocation(make(), -1)
    beta, _ = equal_finish_allocation(make(max_draft=2), 5)  # a building block: any length, not capped
    assert beta.tolist() == [1.0]


def test_flags_of_public_functions():
    with pytest.raises(ValueError, match=r"continuous must be True or False, got 'yes'"):
        goodput(make(), 1, 1.0, continuous="yes")


def test_baseline_keywords_are_value_errors():
    """Issue 10: baseline(s, 'heterogeneous', foo=1) raised TypeError."""
    with pytest.raises(ValueError, match=r"baseline 'heterogeneous' takes only integer, got foo=1"):
        baseline(make(), "heterogeneous", foo=1)
    with pytest.raises(ValueError, match=r"name must be one of .*, got 3"):
        baseline(make(), 3)
    with pytest.raises(ValueError, match=r"L must be an integer >= 1, got True"):
        baseline(make(), "equal-fixed", L=True)


def test_tokens_type_rules():
    with pytest.raises(ValueError, match=r"alpha must be a number or an array of numbers, got '0.5'"):
        expected_tokens("0.5", 2)
    with pytest.raises(ValueError, match=r"L must be a number or an array of numbers, got True"):
        expected_tokens(0.5, True)


def test_rate_type_rules():
    with pytest.raises(ValueError, match=r"rate_model must be 'linear' or 'shannon', got \['linear'\]"):
        rate(["linear"], 0.5, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"beta must be a number or an array of numbers, got True"):
        rate("linear", True, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"bandwidth_hz must be a number or an array of numbers, got None"):
        rate("linear", 0.5, None, 1.0)


# ---------------------------------------------------------------- simulate
def test_simulate_limits():
    """Issue 10: rounds = 1e14 raised MemoryError; now a ValueError naming rounds and the limit."""
    s = make()
    with pytest.raises(ValueError, match=r"rounds must be <= 10000000 \(limit numerics.validation.MAX_ROUNDS\), "
                                         r"got 100000000000000"):
        simulate(s, (1, 1.0), rounds=10**14)
    big = make(t_draft=np.zeros(10_000))
    with pytest.raises(ValueError, match=r"rounds = 2000000 with K = 10000 users needs 2e\+10 random draws, above the "
                                         r"limit numerics.validation.MAX_SIMULATION_DRAWS = 1e\+10"):
        simulate(big, (1, 1e-4), rounds=2_000_000)
    prof = make(alpha=[[0.5] * 10] * 1000, t_draft=0.0, max_draft=10)
    with pytest.raises(ValueError, match=r"with K = 1000 users and drafts of up to 10 positions needs 1e\+10"):
        V.check_simulation_size(prof, 1_000_001, 10)
    with pytest.raises(ValueError, match=r"confidence must be a number, got True"):
        simulate(s, (1, 1.0), confidence=True)
    with pytest.raises(ValueError, match=r"deadline_factor must be a number, got True"):
        simulate(s, (1, 1.0), deadline_factor=True)
    with pytest.raises(ValueError, match=r"progress must be True or False, got 1"):
        simulate(s, (1, 1.0), progress=1)


# ---------------------------------------------------------------- presets
def test_preset_max_draft_override_truncates_or_pads_the_profile():
    """Issue 10: Scenario.preset('llama2-eagle', max_draft=4) failed on alpha's shape. The EAGLE profile
    (acceptance.toml: 0.76, 0.69, 0.67, 0.68, 0.68) is truncated to max_draft positions, or padded with
    its last value."""
    s = Scenario.preset("llama2-eagle", max_draft=4)
    assert s.max_draft == 4 and s.alpha.shape == (4, 4)
    assert s.alpha[0].tolist() == [0.76, 0.69, 0.67, 0.68]
    s = Scenario.preset("llama2-eagle", max_draft=8)
    assert s.alpha[0].tolist() == [0.76, 0.69, 0.67, 0.68, 0.68, 0.68, 0.68, 0.68]
    assert Scenario.preset("default", max_draft=3).max_draft == 3
    with pytest.raises(ValueError, match=r"max_draft must be <= 1000000 \(limit numerics.validation.MAX_DRAFT\)"):
        Scenario.preset("llama2-eagle", max_draft=10**18)
    with pytest.raises(ValueError, match=r"max_draft must be an integer >= 1, got 0"):
        Scenario.preset("llama2-eagle", max_draft=0)


def test_preset_n_users_limits():
    with pytest.raises(ValueError, match=r"n_users must be an integer >= 1, got 1e\+30"):
        preset("default", n_users=1e30)
    with pytest.raises(ValueError, match=r"n_users must be <= 1000000 \(limit numerics.validation.MAX_USERS\), "
                                         r"got 1000000000"):
        preset("default", n_users=10**9)
    with pytest.raises(ValueError, match=r"n_users x max_draft = 1000000 x 16 = 16000000 entries of the "
                                         r"position-dependent profile, above the limit"):
        preset("llama2-eagle", n_users=10**6)
    with pytest.raises(ValueError, match=r"unknown scenario key 3"):
        scenario_from_mapping({"preset": "default", 3: 1})


def test_preset_many_users_is_cheap():
    """1e6 users of a constant-alpha preset (the limit) are built without K x max_draft tables."""
    s = preset("default", n_users=V.MAX_USERS, max_draft=V.MAX_DRAFT)
    assert s.n_users == V.MAX_USERS and s.alpha.shape == (V.MAX_USERS,)


def test_payload_formula_limits():
    with pytest.raises(ValueError, match=r"vocab must be <= 10000000 \(limit numerics.presets.MAX_VOCAB\), "
                                         r"got 10000001"):
        token_id_bits(10_000_001)
    with pytest.raises(ValueError, match=r"resolution l must be <= 100000 \(limit numerics.presets.MAX_RESOLUTION\)"):
        lattice_bits(32000, 10**9)
    with pytest.raises(ValueError, match=r"max_draft must be <= 1000000"):
        profile("eagle-llama2-chat-7b-mtbench", 10**7)


# ---------------------------------------------------------------- files
def test_read_text_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"scenario file '.*' is a directory, not a file"):
        read_text(tmp_path)
    with pytest.raises(ValueError, match=r"scenario file '.*nope.toml' does not exist"):
        read_text(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("v0 = 0.1 # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.toml' is not UTF-8 text: byte 14 \(b'\\xe9'\) invalid continuation"):
        read_toml(bad)
    big = tmp_path / "big.toml"
    big.write_text("a = 1\n" * 100)
    monkeypatch.setattr("numerics.scenario.MAX_FILE_BYTES", 64)
    with pytest.raises(ValueError, match=r"big.toml' is larger than 64 bytes \(limit MAX_FILE_BYTES"):
        read_text(big)


def test_read_text_is_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """The file is decoded as UTF-8 (with or without a byte-order mark) even if the locale says otherwise."""
    import locale

    p = tmp_path / "s.toml"
    p.write_bytes("\ufeff# caf\u00e9\nv0 = 0.1\n".encode())
    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a, **k: "ascii")
    monkeypatch.setattr(locale, "getencoding", lambda *a, **k: "ascii", raising=False)
    assert read_toml(p) == {"v0": 0.1}


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path):  # pragma: no cover (CI runs as a user; this machine as root)
    p = tmp_path / "s.toml"
    p.write_text("v0 = 1\n")
    p.chmod(0)
    with pytest.raises(ValueError, match=r"cannot be read: Permission denied"):
        read_text(p)


def test_from_dict_keys_of_any_type():
    with pytest.raises(ValueError, match=r"unknown scenario key 3"):
        Scenario.from_dict({**BASE, 3: 1})


def test_replace_unknown_field():
    with pytest.raises(ValueError, match=r"Scenario.replace takes only alpha, .*, got alpah=0.5"):
        make().replace(alpah=0.5)


def test_special_function_and_sampling_type_rules():
    from numerics import lambertw, sample_accepted
    from numerics.lambertw import wright_omega
    from numerics.presets import llama_params

    with pytest.raises(ValueError, match=r"x must be a number or an array of numbers, got '1.0'"):
        lambertw("1.0")
    with pytest.raises(ValueError, match=r"z must be a number or an array of numbers, got None"):
        wright_omega(None)
    with pytest.raises(ValueError, match=r"alpha must be a number or an array of numbers, got True"):
        sample_accepted(True, 2, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"layers must be an integer >= 1, got '32'"):
        llama_params("32", 4096, 11008, 32000)


# ---------------------------------------------------------------- every public entry point
_SWEEP_BAD = [None, True, "1", b"x", 1 + 1j, {"a": 1}, [], [None], [[1], [1, 2]], math.nan, -1, 10**400, object(),
              np.array(["a"])]


def _sweep(module, good: dict) -> list[str]:
    """Call every public function of ``module`` with one required argument replaced by each bad value
    (the others good); return the calls that raised anything but ValueError."""
    import inspect

    failures = []
    for fname in sorted(n for n in dir(module) if not n.startswith("_")):
        f = getattr(module, fname)
        if not callable(f) or inspect.isclass(f) or inspect.ismodule(f) or not getattr(f, "__module__", "").startswith(
                "numerics"):
            continue
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
        for i in range(len(params)):
            for bad in _SWEEP_BAD:
                args = [good.get(q.name, 1.0) for q in params]
                args[i] = bad
                try:
                    with np.errstate(all="ignore"):
                        f(*args)
                except ValueError:
                    pass
                except Exception as exc:  # anything else is the failure this test looks for
                    failures.append(f"{fname}({params[i].name}={bad!r:.30}): {type(exc).__name__}: {exc}")
    return failures


def test_public_entry_points_raise_only_value_errors():
    """Issue 10 "Done when": no public entry point of ``numerics`` (and of numerics.presets)
    raises anything but ValueError for a bad input. Discovered by name, so new public
    functions are swept too; their other arguments get good values by name (1.0 otherwise)."""
    import numerics
    import numerics.presets

    s = make(alpha=[0.8, 0.6])
    good = {"scenario": s, "solution": solve_homogeneous(s), "L": 1, "beta": 0.5, "alpha": 0.5, "alphas": [0.5, 0.5],
            "x": 0.5, "z": 0.5, "rate_model": "linear", "bandwidth_hz": 1.0, "channel": 1.0, "r": 1.0,
            "name": "autoregressive", "size": 3, "rng": np.random.default_rng(0), "T": 1.0, "spec": {}, "data": {},
            "path": "no/such/file.toml", "payload": {"kind": "token-id"}, "vocab": 32000, "entry": "x", "model": "x",
            "device": "x", "precision": "x", "cqi": 1, "resolution": 2, "k": 2, "q": 2, "max_draft": 4,
            "layers": 2, "hidden": 8, "intermediate": 16}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # solver warnings on odd inputs are not the subject here
        failures = _sweep(numerics, good) + _sweep(numerics.presets, good)
    assert not failures, "\n".join(failures)


def test_sampling_and_pmf_limits():
    from numerics import accepted_pmf, sample_accepted
    from numerics.latency import verification_latency

    with pytest.raises(ValueError, match=r"L must be <= 1000000 \(limit numerics.validation.MAX_DRAFT\), got 10000000"):
        accepted_pmf(0.5, 10**7)
    with pytest.raises(ValueError, match=r"L must be <= 1000000 \(limit numerics.validation.MAX_DRAFT\), got 1000000"):
        accepted_pmf(0.5, 10**400)  # an int beyond the float range: refused by the limit, not by float()
    with pytest.raises(ValueError, match=r"L must be an integer >= 0, got 2.5"):
        accepted_pmf(0.5, 2.5)
    with pytest.raises(ValueError, match=r"size \(10000, 100000\) asks for 1000000000 draws, above the limit "
                                         r"numerics.validation.MAX_SAMPLES = 100000000"):
        sample_accepted(0.5, 2, (10_000, 100_000), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"size must be an integer >= 0 or a tuple of them, got 'abc'"):
        sample_accepted(0.5, 2, "abc", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"scenario must be a Scenario, got NoneType"):
        verification_latency(None, 1)


def test_preset_spec_errors():
    from numerics.presets import build, preset_spec

    spec = preset_spec("default")
    with pytest.raises(ValueError, match=r"spec must be a mapping of preset keys, got list"):
        build([])
    with pytest.raises(ValueError, match=r"preset key 'users' is required, got keys"):
        build({k: v for k, v in spec.items() if k != "users"})
    with pytest.raises(ValueError, match=r"preset key 'users' must be a non-empty list of tables, got \[\]"):
        build({**spec, "users": []})
    with pytest.raises(ValueError, match=r"users\[0\] needs the key 'cqi', got keys"):
        build({**spec, "users": [{"device": "phone", "precision": "int4", "acceptance": "x"}]})
    with pytest.raises(ValueError, match=r"unknown preset key 3"):
        build({**spec, 3: 1})


def test_read_text_path_type():
    with pytest.raises(ValueError, match=r"scenario file path must be a str or a path, got bytes"):
        read_text(b"s.toml")
