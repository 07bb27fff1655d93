"""Every registered claim of proofs_check (all claim modules) passes; the command line works."""

import subprocess
import sys
from pathlib import Path

import pytest

from proofs_check.registry import CLAIMS, Claim, claim, load_all, run_claims

ROOT = Path(__file__).resolve().parents[1]
CLAIM_IDS = sorted(load_all())


def test_claims_are_registered():
    assert len(CLAIM_IDS) >= 15  # the ingredient facts of docs/model.md sec. 2 alone register 15
    for cid in CLAIM_IDS:
        c = CLAIMS[cid]
        assert c.statement and callable(c.numeric)


@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_claim(claim_id):
    results = run_claims([claim_id])
    assert results and {r.method for r in results} <= {"symbolic", "numeric"}
    failed = [f"{r.method}: {r.detail}" for r in results if not r.ok]
    assert not failed, f"{claim_id}: " + "; ".join(failed)


def test_registry_rejects_duplicate_ids():
    with pytest.raises(ValueError, match=r"claim id 'tokens-mean' is registered twice"):
        claim("tokens-mean", "again")(lambda: None)


def test_a_failing_check_is_reported_not_raised(monkeypatch):
    def boom():
        raise AssertionError("expected failure")

    monkeypatch.setitem(CLAIMS, "zz-test-failure", Claim("zz-test-failure", "fails", boom))
    (res,) = run_claims(["zz-test-failure"])
    assert not res.ok and "AssertionError: expected failure" in res.detail


def test_command_line():
    """``python -m proofs_check ID ...`` runs the claims, prints the table, exits 0 (every claim runs in-process
    in test_claim above; the subprocess checks the entry point on two of them)."""
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "tokens-pmf", "H1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    header = proc.stdout.splitlines()[0].split()
    assert header == ["claim", "method", "result", "seconds", "detail"]
    assert "2 claims, 4 checks, 0 failed" in proc.stdout


def test_command_line_help_and_ties():
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "usage: python -m proofs_check" in proc.stdout and "--planted" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "--ties"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "theory.heterogeneous.deadline_fill[draft_length]" in proc.stdout
    assert "numerics.heterogeneous:solve_heterogeneous" in proc.stdout


def test_command_line_exit_status_on_failure(monkeypatch, capsys):
    from proofs_check.__main__ import main

    def boom():
        raise AssertionError("expected failure")

    monkeypatch.setitem(CLAIMS, "zz-test-failure", Claim("zz-test-failure", "fails", boom))
    assert main(["zz-test-failure"]) == 1
    assert "1 failed" in capsys.readouterr().out


def test_command_line_unknown_id():
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "no-such-claim"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "unknown claim id 'no-such-claim'" in proc.stderr
