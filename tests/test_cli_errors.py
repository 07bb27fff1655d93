"""Issue 10 items 4 and 5: every error path of the command line, and strict JSON.

The contract (numerics.cli_common): bad input -> exactly one line on stderr and exit 2;
internal failure -> one line and exit 1; a closed stdout pipe -> quiet exit 141; never a
traceback; ``--json`` output parses with a strict parser (no NaN/Infinity tokens).

The first part drives each path through a subprocess (the console script as a user runs it,
in its own process with its own locale and pipes); the second part checks the single guard
``run_guarded`` and the JSON writer in-process, exception type by exception type.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from numerics import Scenario, goodput
from numerics.cli import main
from numerics.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ArgumentParser,
    register_failure,
    run_guarded,
    to_json,
    to_jsonable,
)

ROOT = Path(__file__).resolve().parent.parent
EXE = shutil.which("multispin", path=str(Path(sys.executable).parent))
CMD = [EXE] if EXE else [sys.executable, "-m", "numerics.cli"]


def _strict(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (RFC 8259)."""
    def refuse(token):
        raise AssertionError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def _run(args, env=None, **kw):
    return subprocess.run(CMD + list(args), capture_output=True, cwd=ROOT, timeout=300,
                          env={**os.environ, **(env or {})}, **kw)


def _one_line(err: bytes, start: str) -> str:
    text = err.decode("utf-8")
    assert "Traceback" not in text
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(start), text
    return lines[0]


# ---------------------------------------------------------------- subprocess: one test a path
def test_directory_is_reported_as_a_directory(tmp_path):
    """Issue 10: a directory passed as the scenario was reported as "does not exist"."""
    done = _run(["solve", str(tmp_path)])
    assert done.returncode == EXIT_BAD_INPUT and done.stdout == b""
    assert "is a directory, not a file" in _one_line(done.stderr, "multispin solve: error: scenario file")


def test_utf8_file_under_the_c_locale(tmp_path):
    """Issue 10: under a C locale (no UTF-8 coercion, no UTF-8 mode) a valid UTF-8 file was rejected.
    The file has a non-ASCII comment and a bad v0: the error must be about v0, so the file was decoded."""
    p = tmp_path / "caf\u00e9.toml"
    p.write_bytes('# sc\u00e9nario du caf\u00e9 \u2014 \u03b1\npreset = "default"\nv0 = -1.0\n'.encode())
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": ""}
    done = _run(["solve", str(p)], env=env)
    assert done.returncode == EXIT_BAD_INPUT
    line = _one_line(done.stderr, "multispin solve: error: scenario file")
    assert "v0 must be a finite number >= 0, got -1.0" in line


def test_value_above_a_limit(tmp_path):
    """Issue 10 handed case (file form): max_draft = 10**18 names the field, the value and the limit."""
    p = tmp_path / "big.toml"
    p.write_text('preset = "default"\nmax_draft = 1000000000000000000\n')
    done = _run(["solve", str(p)])
    assert done.returncode == EXIT_BAD_INPUT
    assert ("max_draft must be <= 1000000 (limit numerics.validation.MAX_DRAFT), got 1000000000000000000"
            in _one_line(done.stderr, "multispin solve: error:"))


def test_usage_error_is_one_line():
    done = _run(["simulate", "--rounds", "many", "x.toml"])
    assert done.returncode == EXIT_BAD_INPUT
    assert "invalid int value: 'many'" in _one_line(done.stderr, "multispin simulate: error: argument --rounds")


def test_closed_pipe_exits_quietly():
    """Issue 10: piping into `head` ended in a BrokenPipeError traceback. The read end is closed
    before the program writes (it is still importing), so its first write meets a closed pipe."""
    proc = subprocess.Popen([*CMD, "presets"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=300) == EXIT_BROKEN_PIPE
    assert err == b""


@pytest.mark.parametrize("args", [["proofs_check", "tokens-pmf"], ["figures", "--only", "tokens_per_round"]])
def test_other_entry_points_quiet_on_a_closed_pipe(args, tmp_path):
    """New-user finding 4: `python -m proofs_check ... | head -1` and `python -m figures ... | head -0`
    ended in a BrokenPipeError traceback; they now share multispin's guard (numerics.cli_common).
    (figures' progress bar still goes to stderr: only an error line or a traceback is refused.)"""
    out = ["--out", str(tmp_path)] if args[0] == "figures" else []
    proc = subprocess.Popen([sys.executable, "-m", *args, *out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "error" not in err


def test_python_m_figures_bad_out_is_one_line(tmp_path):
    """New-user finding 4: `python -m figures --out afile` raised FileExistsError with a traceback."""
    f = tmp_path / "afile"
    f.write_text("")
    done = subprocess.run([sys.executable, "-m", "figures", "--only", "tokens_per_round", "--out", str(f)],
                          capture_output=True, cwd=ROOT, timeout=300)
    assert done.returncode == EXIT_BAD_INPUT and done.stdout == b""
    assert _one_line(done.stderr, "python -m figures: error:") == (
        f"python -m figures: error: --out {str(f)!r} is a file, not a directory")


def test_stdout_closed_from_the_start_is_quiet():
    """New-user finding 15: `multispin presets >&-` (Python then has no sys.stdout) printed
    "internal error: AttributeError ... please report it"; now nothing is said and the exit
    status is the command's."""
    done = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *CMD, "presets"], capture_output=False,
                          stderr=subprocess.PIPE, cwd=ROOT, timeout=300)
    assert (done.returncode, done.stderr) == (0, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_full_disk_is_one_line_not_a_bug_report():
    """New-user finding 15: writing to /dev/full printed "internal error: OSError: [Errno 28] ...;
    please report it". A refused write is the environment's failure: one line, exit 1, no
    traceback and no bug-report request, and no second message from the interpreter's final flush."""
    with open("/dev/full", "wb") as full:
        done = subprocess.run([*CMD, "presets"], stdout=full, stderr=subprocess.PIPE, cwd=ROOT, timeout=300)
    assert done.returncode == EXIT_INTERNAL
    line = _one_line(done.stderr, "multispin presets: error: cannot write: No space left on device")
    assert "report" not in line


def test_check_unknown_id_has_the_command_prefix(capsys):
    """New-user finding 14: `multispin check NOPE` printed proofs_check's message without the
    documented prefix "multispin check: error:"."""
    assert main(["check", "NOPE"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("multispin check: error: unknown claim id 'NOPE'; known: ")


@pytest.mark.parametrize("errno_, text", [(28, "No space left on device"), (5, "Input/output error")])
def test_guard_refused_write_is_not_a_bug(capsys, errno_, text):
    got, cap = _guard(OSError(errno_, text), capsys)
    assert got == EXIT_INTERNAL and cap.err == f"multispin solve: error: cannot write: {text}\n"


def test_guard_names_another_program(capsys):
    def bad():
        raise ValueError("bad --out")

    assert run_guarded("", bad, program="python -m figures") == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("python -m figures: error: ")


def test_internal_failure_is_one_line_exit_1():
    """A solver defect (here injected: solve_homogeneous raising RuntimeError) -> one line, exit 1."""
    code = ("import sys, numerics.homogeneous as h\n"
            "def boom(s): raise RuntimeError('lambda root not bracketed\\n(second line)')\n"
            "h.solve_homogeneous = boom\n"
            "from numerics.cli import main\n"
            "sys.exit(main(['solve', 'scenarios/example.toml', '--regime', 'homogeneous']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "MULTISPIN_TRACEBACK"})
    assert done.returncode == EXIT_INTERNAL and done.stdout == b""
    line = _one_line(done.stderr, "multispin solve: internal error: RuntimeError: lambda root not bracketed")
    assert "(second line)" in line and "MULTISPIN_TRACEBACK=1" in line


# ---------------------------------------------------------------- in-process: the guard
def _guard(exc, capsys, **kw):
    def raise_it():
        raise exc

    code = run_guarded("solve", raise_it, **kw)
    return code, capsys.readouterr()


@pytest.mark.parametrize("exc, code, start", [
    (ValueError("v0 must be a finite number >= 0, got -1\nsecond"), EXIT_BAD_INPUT,
     "multispin solve: error: v0 must be a finite number >= 0, got -1 second"),
    (FileExistsError(17, "File exists", "out/fig"), EXIT_BAD_INPUT, "multispin solve: error: out/fig: File exists"),
    (OSError("disk on fire"), EXIT_INTERNAL, "multispin solve: internal error: OSError: disk on fire"),
    (RuntimeError(""), EXIT_INTERNAL, "multispin solve: internal error: RuntimeError: (no message)"),
    (MemoryError(), EXIT_INTERNAL, "multispin solve: internal error: MemoryError"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "multispin solve: interrupted"),
])
def test_guard_maps_each_exception(capsys, monkeypatch, exc, code, start):
    monkeypatch.delenv("MULTISPIN_TRACEBACK", raising=False)
    got, cap = _guard(exc, capsys)
    assert got == code and cap.out == ""
    lines = cap.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start) and "Traceback" not in cap.err


def test_guard_traceback_on_request(capsys, monkeypatch):
    monkeypatch.setenv("MULTISPIN_TRACEBACK", "1")
    got, cap = _guard(RuntimeError("defect"), capsys)
    assert got == EXIT_INTERNAL and "Traceback" in cap.err
    assert cap.err.splitlines()[0] == "multispin solve: internal error: RuntimeError: defect; please report it"


def test_guard_registered_failure(capsys):
    class SolverFailure(RuntimeError):
        pass

    register_failure(SolverFailure, EXIT_INTERNAL, "solver failure")
    got, cap = _guard(SolverFailure("in x.toml: outer search: no bracket"), capsys)
    assert got == EXIT_INTERNAL and cap.err == "multispin solve: solver failure: in x.toml: outer search: no bracket\n"


def test_guard_broken_pipe_is_silent(capsys):
    got, cap = _guard(BrokenPipeError(32, "Broken pipe"), capsys)
    assert got == EXIT_BROKEN_PIPE and cap.err == ""


def test_guard_warnings_shown_on_success_dropped_on_failure(capsys):
    """On success the warnings reach warnings.showwarning (stderr outside pytest, pytest's recorder
    here); on failure they are dropped, so that stderr stays one line."""
    def warn_then(result):
        def f():
            warnings.warn("overflow in square", RuntimeWarning, stacklevel=1)
            if isinstance(result, Exception):
                raise result
            return result
        return f

    with pytest.warns(RuntimeWarning, match="overflow in square"):
        assert run_guarded("solve", warn_then(0)) == 0
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert run_guarded("solve", warn_then(ValueError("bad"))) == EXIT_BAD_INPUT
    assert seen == [] and capsys.readouterr().err == "multispin solve: error: bad\n"


def test_argument_parser_error_is_one_line(capsys):
    p = ArgumentParser(prog="multispin x")
    p.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--n", "1.5"])
    assert exc.value.code == EXIT_BAD_INPUT
    assert capsys.readouterr().err == ("multispin x: error: argument --n: invalid int value: '1.5' "
                                       "(see multispin x --help)\n")


def test_main_help_and_no_command(capsys):
    with pytest.raises(SystemExit):  # argparse's own --help exits inside main's parse: caught there
        raise SystemExit(main(["--help"]))
    assert "COMMAND" in capsys.readouterr().out
    assert main([]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1


# ---------------------------------------------------------------- strict JSON
def test_to_jsonable_rules():
    assert to_jsonable({"a": np.float64("nan"), "b": [np.inf, -np.inf, 1.5], "c": np.arange(2), "d": np.bool_(True),
                        3: (None, "x")}) == {"a": None, "b": [None, None, 1.5], "c": [0, 1], "d": True,
                                             "3": [None, "x"]}
    assert to_json({"x": np.float32(0.5)}, indent=None) == '{"x": 0.5}'
    with pytest.raises(TypeError, match="cannot write a set as JSON"):
        to_jsonable({1, 2})


ODD = {
    # Issue 10 handed case: t = 0 and B = 1e300 (mu was NaN, printed as a NaN token)
    "huge-bandwidth": dict(alpha=0.8, t_draft=0.0, bits_per_token=1000, bandwidth_hz=1e300, spectral_efficiency=1,
                           v0=0.1),
    # a user with alpha = 0 (heterogeneous: L = 0) and a user with nothing to upload (share 0)
    "zero-length-and-zero-share": dict(alpha=[0.0, 0.8, 0.7], t_draft=[0.01, 0.0, 0.002],
                                       bits_per_token=[100.0, 0.0, 50.0], bandwidth_hz=1e4,
                                       spectral_efficiency=[1.0, 2.0, 0.5], v0=0.05, max_draft=8),
    # nobody uploads: every share 0, no band multiplier
    "no-upload": dict(alpha=[0.6, 0.9], t_draft=[0.01, 0.02], bits_per_token=0.0, bandwidth_hz=1.0,
                      spectral_efficiency=1.0, v0=0.05, max_draft=6),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_solve_json_is_strict_on_odd_scenarios(tmp_path, capsys, name):
    """`multispin solve --json` on odd scenarios parses strictly, and the printed point reproduces
    the printed goodput (numerics.goodput, docs/model.md section 2)."""
    import tomli_w

    p = tmp_path / f"{name}.toml"
    p.write_text(tomli_w.dumps(ODD[name]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # intermediate overflow warnings of a solver are not the subject here
        code = main(["solve", str(p), "--json"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    rep = _strict(cap.out)
    s = Scenario.from_dict(rep["scenario"])
    for sol in rep["solutions"].values():
        assert goodput(s, sol["draft_lengths"], sol["bandwidth"]) == pytest.approx(sol["goodput"], rel=1e-9)
    if name == "zero-length-and-zero-share":
        assert rep["solutions"]["heterogeneous"]["draft_lengths"][0] == 0
        assert rep["solutions"]["homogeneous"]["bandwidth"][1] == 0.0


def test_figures_out_is_a_file(tmp_path, capsys):
    """--out naming a file: one line, exit 2, before any figure (and its progress bar) starts."""
    f = tmp_path / "plot.png"
    f.write_text("")
    assert main(["figures", "--only", "goodput_vs_draft_length", "--out", str(f)]) == EXIT_BAD_INPUT
    cap = capsys.readouterr()
    assert cap.err == f"multispin figures: error: --out {str(f)!r} is a file, not a directory\n"
