"""Issue 9, item 7: ``multispin solve`` computes only what it prints, and a solver failure is one
line naming the scenario file and the failing step, exit 1, no traceback.

The failure is injected (monkeypatch): no valid scenario is known to make a solver fail.
"""

from __future__ import annotations

import pytest

import numerics.heterogeneous as het
from numerics import SolverError
from numerics.cli import main

CASE_A = """
alpha = [[0.7, 0.64, 0.55, 0.48, 0.42, 0.0, 0.0, 0.0]]
t_draft = 0.004
bits_per_token = 1088
bandwidth_hz = 1.4e6
spectral_efficiency = 2.4
v0 = 0.026
overhead = 0.004
max_draft = 8
"""


@pytest.fixture
def scenario_file(tmp_path):
    p = tmp_path / "case_a.toml"
    p.write_text(CASE_A)
    return p


def _failing(*args, **kwargs):
    raise SolverError("inner band problem", "band multiplier not bracketed (injected)")


def test_homogeneous_report_never_runs_the_heterogeneous_solver(scenario_file, monkeypatch, capsys):
    monkeypatch.setattr(het, "solve_heterogeneous", _failing)
    monkeypatch.setattr(het, "equal_heterogeneous", _failing)
    assert main(["solve", str(scenario_file), "--regime", "homogeneous", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"homogeneous"' in out and "equal-heterogeneous" not in out and '"heterogeneous"' not in out


@pytest.mark.parametrize("extra", [[], ["--json"], ["--regime", "heterogeneous"]])
def test_solver_failure_is_one_line_exit_1(scenario_file, monkeypatch, capsys, extra):
    monkeypatch.setattr(het, "solve_heterogeneous", _failing)
    assert main(["solve", str(scenario_file), *extra]) == 1
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert len(err) == 1, cap.err
    assert "solver failure" in err[0] and str(scenario_file) in err[0]
    assert "heterogeneous regime, inner band problem" in err[0] and "Traceback" not in cap.err


def test_simulate_names_the_file_too(scenario_file, monkeypatch, capsys):
    monkeypatch.setattr(het, "solve_heterogeneous", _failing)
    assert main(["simulate", str(scenario_file), "--rounds", "100", "--regime", "heterogeneous"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(scenario_file) in err[0] and "solver failure" in err[0]


def test_solver_error_message():
    e = SolverError("certificate", "no finite upper bound", "x.toml")
    assert str(e) == "x.toml: certificate: no finite upper bound" and e.step == "certificate"
    assert str(SolverError("a", "b")) == "a: b"
