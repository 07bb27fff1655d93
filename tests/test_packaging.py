"""What an installed user meets first: the version, and every ``python -m`` entry answering ``--help``.

The wheel itself (every subpackage and data file shipped, the commands run from outside the
repository) is checked by ``.ci/run``, which builds and installs it.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import numerics
from numerics.cli import main


def test_version_is_the_installed_metadata():
    assert numerics.__version__ == version("multispin")
    assert numerics.__version__.count(".") >= 2


def test_cli_version(capsys):
    try:  # argparse's version action exits with SystemExit(0); main() may turn that into 0
        code = main(["--version"])
    except SystemExit as exc:
        code = exc.code
    assert code == 0
    assert capsys.readouterr().out == f"multispin {numerics.__version__}\n"


@pytest.mark.parametrize("module, usage", [
    ("numerics", "usage: multispin"),
    ("figures", "usage: python -m figures"),
    ("proofs_check", "usage: python -m proofs_check"),
])
def test_python_m_entries_answer_help(module, usage):
    res = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(usage) and res.stderr == ""


def test_python_m_numerics_runs_the_cli():
    res = subprocess.run([sys.executable, "-m", "numerics", "--version"], capture_output=True, text=True, timeout=120)
    assert (res.returncode, res.stdout) == (0, f"multispin {numerics.__version__}\n")


def test_proofs_check_unknown_id_is_refused(capsys):
    from proofs_check.__main__ import main as check_main

    assert check_main(["no-such-claim"]) == 2
    assert capsys.readouterr().err.startswith("python -m proofs_check: error: unknown claim id 'no-such-claim'; known: ")


def _check_wheel(tmp_path, monkeypatch, extra=(), drop=()):
    """.ci/check_wheel.py's verdict on a wheel holding the tracked package files, plus ``extra``, minus ``drop``."""
    import importlib.util
    import zipfile

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("check_wheel", root / ".ci" / "check_wheel.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.chdir(root)
    tracked = subprocess.run(["git", "ls-files", "--", *mod.PACKAGES], capture_output=True, text=True,
                             check=True).stdout.split()
    wheel = tmp_path / "multispin-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for f in [*tracked, *extra, "multispin-0.dist-info/METADATA"]:
            if f not in drop:
                z.writestr(f, "")
    return mod.main(str(wheel))


def test_check_wheel_refuses_untracked_and_missing_files(tmp_path, monkeypatch, capsys):
    """New-user finding 5: a module deleted from the tree still shipped from a stale build/lib, and
    the check looked only for missing files. Now both directions fail CI (the dist-info is not a
    package file and is ignored)."""
    assert _check_wheel(tmp_path, monkeypatch) == 0
    assert _check_wheel(tmp_path, monkeypatch, extra=["numerics/stale_mod.py"]) == 1
    assert "not tracked by git" in capsys.readouterr().out
    assert _check_wheel(tmp_path, monkeypatch, drop=["numerics/py.typed"]) == 1
    assert "numerics/py.typed" in capsys.readouterr().out
