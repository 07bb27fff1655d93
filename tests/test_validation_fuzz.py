"""Issue 10 item 2: a fuzz test of validation (hypothesis; deterministic in CI).

Random field values are drawn from a pool of good and bad values of every type (numbers at and
beyond the edges, bools, None, strings, bytes, complex numbers, mappings, dates, ragged and
oversized arrays, ...) for

- ``Scenario(**fields)`` in Python,
- the TOML reader (``numerics.presets.load_scenario``: full scenarios and presets with
  overrides), on files written by tomli_w and on raw bytes,
- the command line (``main(['solve', FILE, ...])`` in-process; the subprocess paths are in
  ``tests/test_cli_errors.py``).

The only outcomes allowed: a valid object (a Scenario whose arrays are float64, read-only and
of length K; exit 0 with strict JSON for the CLI) or a ``ValueError`` whose message names a
field (CLI: exit 2 and exactly one line on stderr). Determinism and the number of examples
come from the hypothesis profile loaded by ``tests/conftest.py`` (``ci``: derandomize=True);
every single odd value of every field is also tried exhaustively, without hypothesis
(``test_every_odd_value_of_every_field``, ``test_every_odd_toml_value_of_every_field``).
"""

from __future__ import annotations

import datetime
import json
import math
import warnings

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numerics import Scenario
from numerics import validation as V
from numerics.cli import main
from numerics.presets import load_scenario
from numerics.scenario import read_toml

FIELDS = ("alpha", "t_draft", "bits_per_token", "bandwidth_hz", "v0", "rate_model", "spectral_efficiency", "snr",
          "v1", "batching", "overhead", "max_draft")
# the words a message may name instead of a Scenario field (preset keys, file-level problems)
OTHER_NAMES = ("n_users", "preset", "scenario", "unknown", "beta", "user", "round time")

# ---------------------------------------------------------------- the pools
#: odd values that no numeric field accepts (wrong type, NaN, infinite, negative, empty, ragged)
NEVER = [True, False, None, "0.5", "", b"1", 1 + 2j, {"a": 1}, [], [True], [None], ["x"], [0.5, True],
         [[0.5], [0.5, 0.5]], [0.5, [0.5]], math.nan, math.inf, -math.inf, -1.0, -1, [0.5, -1.0], 10**400,
         -(10**400), datetime.date(2020, 1, 1), object(), np.array([True]), np.array(["a"]), np.bool_(True),
         np.float64("nan"), np.array([0.5, None], dtype=object)]
#: odd values at the edge: valid for some fields or combinations, refused for others
EDGE = [2**63, 1e300, 5e-324, np.float16(0.5), 10**20]
GOOD = {
    "alpha": [0.0, 0.5, 0.8, 1 - 1e-12, 1e-12, [0.8, 0.6], [0.0, 0.99], np.array([0.7, 0.7]), [[0.8, 0.7, 0.6]] * 2,
              np.full((2, 3), 0.5)],
    "t_draft": [0.0, 1e-3, 2.0, [0.0, 3.0], np.array([1e-3, 1e-2]), np.float32(0.01)],
    "bits_per_token": [0.0, 1.0, 1000.0, [0.0, 64.0], 32],
    "bandwidth_hz": [1.0, 1e6, 1e22, 1e300],
    "v0": [0.0, 0.05, 10],
    "rate_model": ["linear", "shannon"],
    "spectral_efficiency": [1.0, [2.0, 0.5], 1e-6],
    "snr": [10.0, [1e3, 0.1], 1e30],
    "v1": [0.0, 1e-4],
    "batching": ["ragged", "padded"],
    "overhead": [0.0, 0.01],
    "max_draft": [1, 3, 16, np.int64(8), V.MAX_DRAFT],
}
#: odd values of one field that the field refuses whatever the others are
BAD_SPECIFIC = {
    "alpha": [1.0, 1.5, [0.5, 1.0], np.zeros((2, 2, 2)), np.full(V.MAX_USERS + 1, 0.5)],
    "t_draft": [[[0.1], [0.1]]],
    "bits_per_token": [[1.0, -1.0]],
    "bandwidth_hz": [0.0, [1e6]],
    "rate_model": ["cubic", "Linear"],
    "spectral_efficiency": [0.0],
    "snr": [0.0],
    "batching": ["dense"],
    "max_draft": [0, 16.0, 10**18, V.MAX_DRAFT + 1, "16"],
}


def _odd_pool(name: str, never=NEVER, edge=EDGE, specific=BAD_SPECIFIC) -> list[tuple[object, bool]]:
    """(value, must_fail) pairs for a field: every NEVER and BAD_SPECIFIC value must be refused;
    EDGE values must be refused by the categorical fields and max_draft only (none of them is an
    int in [1, MAX_DRAFT] but 10**20 and 2**63, both above it). None leaves the optional channel
    fields at their default."""
    pool = [(v, not (v is None and name in ("spectral_efficiency", "snr"))) for v in never]
    pool += [(v, name in ("rate_model", "batching", "max_draft")) for v in edge]
    pool += [(v, True) for v in specific.get(name, [])]
    return pool


REQUIRED = ("alpha", "t_draft", "bits_per_token", "bandwidth_hz", "v0")
#: messages about a combination of fields rather than one field's own value
CROSS = ("columns", "is required by rate_model", "full-band", "different lengths")


@st.composite
def scenario_kwargs(draw, pools=None, good=GOOD):
    """Fields with good values except 0, 1 or 2 of them drawn from their odd pool.

    Returns (kwargs, names of the fields given odd values, whether one of them must be refused).
    The odd value is drawn by a permuted index so that every part of the pool is reached (a plain
    ``sampled_from`` favours the first entries)."""
    pools = pools or {n: _odd_pool(n) for n in FIELDS}
    odd = draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True))
    kw, must_fail = {}, False
    for name in FIELDS:
        if name not in (*REQUIRED, "spectral_efficiency", "snr") and name not in odd and draw(st.booleans()):
            continue  # optional: leave the default
        if name in odd:
            pool = pools[name]
            value, fails = pool[draw(st.permutations(range(len(pool))))[0]]
            kw[name] = value
            must_fail |= fails
        else:
            kw[name] = draw(st.sampled_from(good[name]))
    return kw, odd, must_fail


def _names_a_field(message: str) -> bool:
    return any(f in message for f in FIELDS + OTHER_NAMES)


def _check_outcome(build, odd=(), must_fail=False):
    """Run ``build``; the result must be a valid Scenario or a ValueError naming a field (the odd
    field itself when there is one, unless the message is about a combination of fields), and a
    ValueError if an odd value is one that must be refused."""
    try:
        s = build()
    except ValueError as exc:
        msg = str(exc)
        assert _names_a_field(msg), msg
        assert "inhomogeneous" not in msg and "could not convert" not in msg, msg
        if len(odd) == 1:
            assert odd[0] in msg or any(c in msg for c in CROSS), (odd, msg)
        return None
    assert not must_fail, f"accepted although {odd} must be refused: {s!r}"
    assert isinstance(s, Scenario)
    K = s.n_users
    assert 1 <= K <= V.MAX_USERS and 1 <= s.max_draft <= V.MAX_DRAFT
    for name in ("alpha", "t_draft", "bits_per_token"):
        arr = getattr(s, name)
        assert arr.dtype == np.float64 and not arr.flags.writeable and arr.shape[0] == K
        assert np.all(np.isfinite(arr))
    assert s.channel.shape == (K,) and np.all(s.channel > 0)
    return s


# ---------------------------------------------------------------- Scenario in Python
#: a valid scenario with both channel parameters (the unused one is still checked)
BASE = dict(alpha=[0.8, 0.6], t_draft=[0.0, 1e-3], bits_per_token=[100.0, 0.0], bandwidth_hz=1e6, v0=0.05,
            spectral_efficiency=[1.0, 2.0], snr=[10.0, 100.0], max_draft=8)


@pytest.mark.parametrize("name", FIELDS)
def test_every_odd_value_of_every_field(name):
    """The whole pool, one field at a time, on a valid scenario: refused naming the field, or served."""
    for value, must_fail in _odd_pool(name):
        _check_outcome(lambda v=value: Scenario(**{**BASE, name: v}), (name,), must_fail)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(scenario_kwargs())
def test_scenario_fuzz(case):
    """Random combinations: good values and 0-2 odd ones."""
    kw, odd, must_fail = case
    s = _check_outcome(lambda: Scenario(**kw), odd, must_fail)
    if s is not None:  # a valid scenario survives a round trip through its dict
        assert Scenario.from_dict(s.to_dict()) == s


# ---------------------------------------------------------------- the TOML reader
def _plain(v):
    return v.tolist() if isinstance(v, np.ndarray) else (v.item() if isinstance(v, np.generic) else v)


TOML_GOOD = {k: [_plain(v) for v in vals if v is not None] for k, vals in GOOD.items()}
TOML_SPECIFIC = {k: [v for v in vals if not isinstance(v, np.ndarray)] for k, vals in BAD_SPECIFIC.items()}
#: TOML has no None, bytes, complex numbers or NumPy types; it has dates, times and tables
TOML_NEVER = [v for v in NEVER if v is not None and isinstance(v, (bool, str, int, float, list, dict))
              and not (isinstance(v, list) and None in v)] + [datetime.time(12, 0), [[[0.5]]], [{"a": 1}]]
TOML_EDGE = [2**63 - 1, 1e300, 5e-324]
TOML_POOLS = {n: _odd_pool(n, TOML_NEVER, TOML_EDGE, TOML_SPECIFIC) for n in FIELDS}


@st.composite
def toml_tables(draw):
    """A scenario file's table: full fields (as scenario_kwargs, TOML types only), or a preset with
    0-3 overrides and maybe n_users; sometimes an unknown key."""
    if draw(st.booleans()):  # a preset plus overrides
        table = {"preset": draw(st.sampled_from(["default", "llama2-eagle", "vicuna-specbench", "nope", 3]))}
        if draw(st.booleans()):
            table["n_users"] = draw(st.sampled_from([1, 3, 0, 1.5, 10**9, True, "2", 2**63 - 1]))
        for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
            pool = [(v, False) for v in TOML_GOOD[name]] + TOML_POOLS[name]
            table[name] = pool[draw(st.permutations(range(len(pool))))[0]][0]
    else:
        table, _, _ = draw(scenario_kwargs(TOML_POOLS, TOML_GOOD))
    if draw(st.integers(0, 9)) == 0:
        table[draw(st.sampled_from(["colour", "n-users", "Alpha"]))] = 1
    return table


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("form", ["full", "preset"])
def test_every_odd_toml_value_of_every_field(tmp_path, name, form):
    """The TOML pool, one field at a time, in a full scenario file and as a preset override."""
    base = {k: _plain(v) for k, v in BASE.items()} if form == "full" else {"preset": "default", "n_users": 2}
    for value, must_fail in TOML_POOLS[name]:
        p = tmp_path / "s.toml"
        p.write_text(tomli_w.dumps({**base, name: value}), encoding="utf-8")
        _check_outcome(lambda p=p: load_scenario(p), (name,), must_fail)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(toml_tables())
def test_toml_reader_fuzz(tmp_path, table):
    p = tmp_path / "s.toml"
    p.write_text(tomli_w.dumps(table), encoding="utf-8")
    _check_outcome(lambda: load_scenario(p))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=80),
                 st.text(max_size=60).map(lambda t: t.encode("utf-8")),
                 st.sampled_from([b"\xef\xbb\xbfv0 = 1\n", b"v0 = \xff\n", b"a = [1,\n", b"[x]\ny = 1\n", b"\x00"])))
def test_raw_file_fuzz(tmp_path, data):
    """Any bytes: a table or a ValueError naming the scenario file (UTF-8 or TOML syntax)."""
    p = tmp_path / "raw.toml"
    p.write_bytes(data)
    try:
        assert isinstance(read_toml(p), dict)
    except ValueError as exc:
        assert str(exc).startswith(f"scenario file {str(p)!r}"), exc
    _check_outcome(lambda: load_scenario(p))


# ---------------------------------------------------------------- the command line
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(toml_tables())
def test_cli_fuzz(tmp_path, capsys, table):
    """`multispin solve FILE --regime homogeneous --json`: exit 0 with strict JSON, or exit 2 with one line."""
    p = tmp_path / "s.toml"
    p.write_text(tomli_w.dumps(table), encoding="utf-8")
    try:
        s = load_scenario(p)
    except ValueError:
        s = None
    if s is not None and (s.n_users > 16 or s.max_draft > 64):
        return  # a valid but large scenario: solving it here costs time without testing validation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # solver warnings are not the subject of this test
        code = main(["solve", str(p), "--regime", "homogeneous", "--json"])
    cap = capsys.readouterr()
    # a valid scenario may still be refused by a solver's entry check (e.g. every cost zero:
    # the goodput would be infinite): bad input too, exit 2
    assert code in ((0, 2) if s is not None else (2,)), cap.err
    if code == 2:
        assert cap.out == ""
        lines = cap.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("multispin solve: error: "), cap.err
        assert _names_a_field(lines[0]) and "Traceback" not in cap.err
    else:
        json.loads(cap.out, parse_constant=lambda t: pytest.fail(f"non-strict JSON token {t}"))
