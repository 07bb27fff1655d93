"""What an installed user meets first: the version, and every ``python -m`` entry answering ``--help``.

The wheel itself (every subpackage and data file shipped, the commands run from outside the
repository) is checked by ``.ci/run``, which builds and installs it.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

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
    assert capsys.readouterr().err.startswith("unknown claim id 'no-such-claim'; known: ")
