"""The handed cases a-i of issue 9 as regression tests.

Source of every expected value: issue 9 ("values from brute-force enumeration over all integer
draft lengths with equal-finish band shares"), printed there to 8 significant digits. Each is
re-confirmed here by ``tests/_bruteforce.py`` (scalar formulas, brentq equal-finish roots,
nothing of the library's allocation, token or goodput code):

- a, b, c, d, f, h and e at max_draft = 10^3, 10^4: exhaustive enumeration of every length
  vector, in the default run (milliseconds; e at 10^4 is 10^4 one-user vectors);
- e at max_draft = 10^5 and g (41^3 = 68,921 and 39^3 vectors): exhaustive enumeration in the
  ``slow`` run; the default run evaluates the issue's optimal vector with the brute-force
  evaluator and checks the value;
- the homogeneous values of a, d and e: every common L in [1, max_draft] at L theta*.

Tolerances: :func:`issue` = half a unit in the last digit the issue prints (the issue rounds;
the values are kept here as the issue prints them);
``BF_REL`` = 1e-9 between the library and the brute force (two independent equal-finish roots
agree to ~1e-13; the margin leaves room for a different but equally exact root method). A
certified bound or a continuous optimum must not fall below the integer optimum by more than
round-off: ``ROUND_REL`` = 1e-12.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _bruteforce as bf
import numpy as np
import pytest

from numerics import Scenario, goodput, solve_heterogeneous, solve_homogeneous

BF_REL = 1e-9
ROUND_REL = 1e-12
#: the fields the issue leaves unnamed
BASE = dict(rate_model="linear", v1=0.0, batching="ragged", overhead=0.0, max_draft=16)

CASE_A = dict(alpha=[[0.7, 0.64, 0.55, 0.48, 0.42, 0, 0, 0]], t_draft=0.004, bits_per_token=1088,
              bandwidth_hz=1.4e6, spectral_efficiency=2.4, v0=0.026, overhead=0.004, max_draft=8)
CASE_G = dict(alpha=[0.8902, 0.6252, 0.7698], t_draft=[0.002976, 0.005735, 0.004502],
              bits_per_token=[391.5, 660.3, 1900.5], bandwidth_hz=146181.7,
              spectral_efficiency=[3.2467, 0.5193, 1.3724], v0=0.0196, overhead=0.004, max_draft=40)
CASE_E = dict(alpha=0.8, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=1, v0=0.1)

#: name -> (scenario fields, heterogeneous integer L, G, homogeneous (L, G) or None, enumerate by default)
CASES = {
    "a": (CASE_A, [3], "55.720745", (3, "55.720745"), True),
    "b": (dict(alpha=[[0.9, 0.0, 0.9, 0.9]], t_draft=0.001, bits_per_token=100, bandwidth_hz=1e6,
               spectral_efficiency=5, v0=0.05, max_draft=4), [1], "37.240298", None, True),
    "c": (dict(alpha=0.001, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=1, v0=0.1),
          [0], "10.0", None, True),
    "d": (dict(alpha=0.311, t_draft=0.02, bits_per_token=1000, bandwidth_hz=1e6, spectral_efficiency=0.1,
               v0=0.05, v1=0.001, batching="padded", max_draft=3), [0], "19.607843", (1, "15.987805"), True),
    "e-1e3": ({**CASE_E, "max_draft": 1000}, [4], "18.675556", (4, "18.675556"), True),
    "e-1e4": ({**CASE_E, "max_draft": 10_000}, [4], "18.675556", (4, "18.675556"), True),
    "e-1e5": ({**CASE_E, "max_draft": 100_000}, [4], "18.675556", (4, "18.675556"), False),
    "f": (dict(alpha=[0.8, 0.7], t_draft=[1e-18, 0.004], bits_per_token=1088, bandwidth_hz=1.4e6,
               spectral_efficiency=2.4, v0=0.026), [14, 1], "206.166688", None, True),
    "g-40": (CASE_G, [5, 0, 1], "156.85097", None, False),
    "g-38": ({**CASE_G, "max_draft": 38}, [5, 0, 1], "156.85097", None, False),
    "h": (dict(alpha=0.5, t_draft=1, bits_per_token=1, bandwidth_hz=1, spectral_efficiency=1, v0=1e-12),
          [0], "1e12", None, True),
}


def issue(printed: str):
    """The issue's printed value with half a unit of its last printed digit as the tolerance."""
    decimals = len(printed.split(".")[1]) if "." in printed and "e" not in printed else 0
    return pytest.approx(float(printed), abs=0.5 * 10.0 ** -decimals, rel=0)


def scenario(name: str) -> Scenario:
    return Scenario(**{**BASE, **CASES[name][0]})


def _bf_value(name: str) -> float:
    """The brute-force goodput of the issue's optimal vector (the enumeration confirms it is optimal)."""
    return bf.goodput_of(scenario(name), CASES[name][1])


# ---------------------------------------------------------------------------- the issue's values, re-confirmed
def _confirm_by_enumeration(name: str) -> None:
    _, L, G, hom, _ = CASES[name]
    s = scenario(name)
    opt = bf.enumerate_heterogeneous(s)
    assert list(opt.draft_lengths) == L and len(opt.argmax) == 1  # a unique optimum
    assert opt.goodput == issue(G)
    if hom is not None:
        h = bf.homogeneous(s)
        assert h.draft_lengths[0] == hom[0] and h.goodput == issue(hom[1])


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[4]])
def test_issue_value_is_the_enumerated_optimum(name):
    _confirm_by_enumeration(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c[4]])
def test_issue_value_is_the_enumerated_optimum_slow(name):
    _confirm_by_enumeration(name)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c[4]])
def test_issue_vector_has_the_issue_value(name):
    """Default-run stand-in for the slow enumerations: the brute-force value of the issue's vector."""
    assert _bf_value(name) == issue(CASES[name][2])


# ---------------------------------------------------------------------------- the library
def _check_point(s: Scenario, sol, continuous: bool = False) -> None:
    """Finite, feasible, and the reported goodput is that of the reported point (library and brute force)."""
    L, beta = np.asarray(sol.draft_lengths, dtype=float), np.asarray(sol.bandwidth, dtype=float)
    assert np.all(np.isfinite(L)) and np.all(np.isfinite(beta))
    assert np.isfinite(sol.goodput) and np.isfinite(sol.upper_bound) and np.isfinite(sol.round_time)
    assert np.all((L >= 0) & (L <= s.max_draft)) and np.all(beta >= 0) and beta.sum() <= 1 + 1e-12
    if not continuous:
        assert np.array_equal(L, np.round(L))
    assert goodput(s, sol.draft_lengths, sol.bandwidth, continuous=continuous) == pytest.approx(sol.goodput, rel=1e-12)
    assert bf.evaluate(s, L, beta, continuous=continuous) == pytest.approx(sol.goodput, rel=BF_REL)
    assert sol.upper_bound >= sol.goodput


@pytest.mark.parametrize("name", list(CASES))
def test_heterogeneous_integer(name):
    _, L, G, _, _ = CASES[name]
    s = scenario(name)
    sol = solve_heterogeneous(s)
    _check_point(s, sol)
    assert sol.draft_lengths.tolist() == L
    assert sol.goodput == issue(G)
    assert sol.goodput == pytest.approx(_bf_value(name), rel=BF_REL)


@pytest.mark.parametrize("name", list(CASES))
def test_heterogeneous_continuous_is_never_below_the_integer_optimum(name):
    """Item 2: the continuous answer is never below the best integer point; its bound holds (e, f)."""
    s = scenario(name)
    G_int = _bf_value(name)
    sol = solve_heterogeneous(s, integer=False)
    _check_point(s, sol, continuous=True)
    assert sol.goodput >= G_int * (1 - ROUND_REL)
    assert sol.upper_bound >= G_int * (1 - ROUND_REL)


def test_case_h_continuous_gives_L_zero():
    """Case h: integer=False too gives L = 0 and G = 1e12 (it returned L = 1.4e-14, G = 9.7e11)."""
    sol = solve_heterogeneous(scenario("h"), integer=False)
    assert sol.draft_lengths.tolist() == [0.0]
    assert sol.goodput == pytest.approx(1e12, rel=ROUND_REL)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[3] is not None])
def test_homogeneous(name):
    _, _, _, (L, G), _ = CASES[name]
    s = scenario(name)
    sol = solve_homogeneous(s)
    _check_point(s, sol)
    assert sol.draft_lengths.tolist() == [L] * s.n_users
    assert sol.goodput == issue(G)
    assert sol.goodput == pytest.approx(bf.homogeneous(s).goodput, rel=BF_REL)


def test_case_g_optimum_does_not_drop_when_the_cap_grows():
    """Case g: raising max_draft from 38 to 40 keeps every old point feasible, so the optimum cannot drop."""
    g38 = solve_heterogeneous(scenario("g-38"))
    g40 = solve_heterogeneous(scenario("g-40"))
    assert g40.goodput >= g38.goodput * (1 - ROUND_REL)


# ---------------------------------------------------------------------------- case i: padded presets
@pytest.mark.parametrize("preset", ["llama2", "llama2-eagle"])
def test_case_i_padded_presets_solve_in_both_regimes(preset):
    s = Scenario.preset(preset, batching="padded")
    het, cont, hom = solve_heterogeneous(s), solve_heterogeneous(s, integer=False), solve_homogeneous(s)
    _check_point(s, het)
    _check_point(s, cont, continuous=True)
    _check_point(s, hom)
    h_bf = bf.homogeneous(s)  # exact homogeneous optimum (brentq theta*, every common L)
    assert hom.goodput == pytest.approx(h_bf.goodput, rel=BF_REL)
    assert het.goodput >= h_bf.goodput * (1 - ROUND_REL)
    assert het.goodput >= bf.autoregressive(s) * (1 - ROUND_REL)
    assert cont.upper_bound >= het.goodput * (1 - ROUND_REL)
    assert het.upper_bound >= het.goodput


# ---------------------------------------------------------------------------- case a: the command line
def _cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "multispin"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "numerics.cli"]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("regime", [None, "homogeneous"])
def test_case_a_cli_exits_0(tmp_path, regime):
    path = tmp_path / "case_a.toml"
    path.write_text("\n".join([
        "alpha = [[0.7, 0.64, 0.55, 0.48, 0.42, 0, 0, 0]]", "t_draft = 0.004", "bits_per_token = 1088",
        "bandwidth_hz = 1.4e6", "spectral_efficiency = 2.4", "v0 = 0.026", "overhead = 0.004", "max_draft = 8", ""]))
    extra = [] if regime is None else ["--regime", regime]
    done = _cli("solve", str(path), "--json", *extra)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    sols = json.loads(done.stdout)["solutions"]
    assert sorted(sols) == (["heterogeneous", "homogeneous"] if regime is None else ["homogeneous"])
    for sol in sols.values():
        assert sol["draft_lengths"] == [3] and sol["goodput"] == issue("55.720745")
    table = _cli("solve", str(path), *extra)
    assert table.returncode == 0 and "Traceback" not in table.stderr
