"""The ``multispin`` command line: every subcommand through main(argv), the bad-file contract
(one line on stderr, exit code 2, no traceback), and one smoke test of the console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from numerics import Scenario, goodput
from numerics.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "scenarios" / "example.toml"
OVERRIDE = ROOT / "scenarios" / "preset_override.toml"


def test_presets_lists_every_name(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in Scenario.preset_names())


def test_solve_table(capsys):
    assert main(["solve", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "== homogeneous regime" in out and "== heterogeneous regime" in out
    for b in ("autoregressive", "equal-fixed", "equal-best", "equal-heterogeneous"):
        assert out.count(b) == 2  # one gain line per regime
    assert out.count("\n") > 2 * 4  # a row per user


def test_solve_json_is_consistent(capsys):
    assert main(["solve", str(OVERRIDE), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    s = Scenario.from_dict(rep["scenario"])
    assert s.n_users == 12 and s.rate_model == "shannon" and s.bandwidth_hz == 3e6
    for regime, sol in rep["solutions"].items():
        # the printed point reproduces the printed goodput (numerics.goodput, docs/model.md sec. 2)
        assert goodput(s, sol["draft_lengths"], sol["bandwidth"]) == pytest.approx(sol["goodput"], rel=1e-12)
        for b, gain in rep["gains"][regime].items():
            assert gain == pytest.approx(sol["goodput"] / rep["baselines"][b] - 1, rel=1e-12)
            assert b != regime
    assert rep["gains"]["heterogeneous"]["homogeneous"] >= -1e-9


def test_solve_one_regime(capsys):
    assert main(["solve", str(EXAMPLE), "--regime", "homogeneous", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["solutions"]) == ["homogeneous"]


def test_simulate_json(capsys):
    assert main(["simulate", str(EXAMPLE), "--rounds", "4000", "--seed", "3", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    for r in rep.values():
        # 99.9% band (z = 3.29) around the estimate: two comparisons, well inside a 5% family level
        assert abs(r["goodput"] - r["analytic_goodput"]) <= 3.29 * r["std_error"] + 1e-9 * r["goodput"]
        assert r["rounds"] == 4000 and r["seed"] == 3 and r["fading"] is False


def test_simulate_table_with_fading(capsys):
    assert main(["simulate", str(EXAMPLE), "--rounds", "2000", "--regime", "homogeneous", "--fading"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("homogeneous: Monte Carlo") and "fading on" in out and "deadline" in out


def test_figures_only_one(tmp_path, capsys):
    assert main(["figures", "--only", "goodput_vs_draft_length", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"goodput_vs_draft_length.{e}" for e in ("csv", "pdf", "png")]


def test_check_runs_one_claim(capsys):
    from proofs_check.registry import load_all

    first = sorted(load_all())[0]
    assert main(["check", first]) == 0
    assert first in capsys.readouterr().out


def _bad(tmp_path, text: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, fragment", [
    (None, "does not exist"),
    ("alpha = [0.5,\nv0 = ", "TOML syntax error: "),
    ('preset = "default"\ncolour = "red"\n', "unknown scenario key 'colour'"),
    ('alpha = 0.5\nt_draft = 0.01\nbits_per_token = 10\nbandwidth_hz = 1e6\nv0 = 0.1\n'
     'spectral_efficiency = 1.0\nwibble = 2\n', "unknown scenario key 'wibble'"),
    ('preset = "default"\nbandwidth_hz = -3.0\n', "bandwidth_hz must be a finite number > 0, got -3.0"),
    ('preset = "default"\nn_users = 2\nalpha = [0.5, 1.2]\n', "alpha must lie in [0, 1), got 1.2"),
    ('preset = "nonexistent"\n', "unknown preset 'nonexistent'"),
    ('alpha = 0.5\n', "scenario key 't_draft' is required"),
])
@pytest.mark.parametrize("command", ["solve", "simulate"])
def test_bad_file_one_line_exit_2(tmp_path, capsys, text, fragment, command):
    path = tmp_path / "missing.toml" if text is None else _bad(tmp_path, text)
    assert main([command, str(path)]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in cap.err
    assert lines[0].startswith(f"multispin {command}: error: ")


def test_toml_error_names_the_line(tmp_path, capsys):
    assert main(["solve", str(_bad(tmp_path, 'v0 = 0.1\nalpha = = 3\n'))]) == 2
    assert "line 2" in capsys.readouterr().err


@pytest.mark.parametrize("argv, fragment", [
    (["simulate", str(EXAMPLE), "--rounds", "1"], "--rounds must be an integer >= 2"),
    (["simulate", str(EXAMPLE), "--seed", "-4"], "--seed must be an integer >= 0"),
    (["figures", "--only", "no_such_figure"], "unknown figure 'no_such_figure'"),
])
def test_bad_arguments_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_console_script_smoke():
    exe = shutil.which("multispin", path=str(Path(sys.executable).parent)) or shutil.which("multispin")
    cmd = [exe] if exe else [sys.executable, "-m", "numerics.cli"]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run([*cmd, "solve", str(EXAMPLE), "--regime", "homogeneous"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "homogeneous regime" in done.stdout
    bad = subprocess.run([*cmd, "solve", "nope.toml"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
