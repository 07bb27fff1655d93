"""What every ``multispin`` subcommand shares: exit codes, the error guard, strict JSON, file reading.

The contract of the command line (issue 10):

- exit 0 on success; **2** on bad input (a ``ValueError`` from the validation layer, a bad file
  or argument, an ``OSError`` on a path the user gave); **1** on an internal failure (any
  other exception: a solver defect, ``MemoryError``, ...) and when the system refuses a write
  (a full disk or quota, an I/O error: ``multispin presets > /dev/full``), which is not a bug
  of the program; 130 on Ctrl-C; **141** (128 + SIGPIPE, what a shell reports for a program
  stopped by a closed pipe) when the reader of stdout went away
  (``multispin solve x --json | head -3``): quietly, nothing on stderr. A stdout closed from
  the start (``multispin presets >&-``) is quiet too: the output is dropped (Python has no
  stdout then) and the exit status is the command's.
- on 1 and 2, exactly one line on stderr, ``multispin <command>: error: <message>`` (bad
  input, or a refused write: ``error: cannot write: No space left on device``) or
  ``multispin <command>: internal error: <Type>: <message> ...`` (internal: only this one asks
  for a bug report), never a traceback; an exception type given its own label and code with
  :func:`register_failure` (e.g. a solver failure, exit 1) prints
  ``multispin <command>: <label>: <message>``. The other entry points (``python -m figures``,
  ``python -m proofs_check``) use the same guard with their own program name.
  ``MULTISPIN_TRACEBACK=1`` in the environment adds the traceback of an internal error, for
  a bug report.
- Python warnings raised while a command runs are shown after it succeeds (as Python would),
  and dropped when it fails, so that the failure stays one line.
- JSON output is strict (RFC 8259): NaN and +-infinity have no JSON form and are written as
  ``null``; ``null`` therefore means "not a finite number" (the table output prints the same
  value as nan or inf). :func:`to_json` is the one writer.

A subcommand in its own module (``numerics/cli_fit.py``, ...) exposes ``add_parser(subparsers)``,
which calls ``subparsers.add_parser(name, ...)`` and ``set_defaults(func=run)``; ``run(args) ->
int`` raises ``ValueError`` for bad input and prints JSON with :func:`print_json`.
Registering it
is one line in ``numerics/cli.py`` (``SUBCOMMAND_MODULES``); :func:`run_guarded` does the rest.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "ArgumentParser",
    "one_line",
    "print_json",
    "register_failure",
    "run_guarded",
    "to_json",
    "to_jsonable",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def one_line(text: object, limit: int = 2000) -> str:
    """``text`` on one line (newlines and tabs become spaces), at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the command line's error contract: a usage error is one line on stderr, exit 2.

    Subparsers made by ``add_subparsers`` are of this class too (argparse uses the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again (closed pipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured by a test)
        pass


#: errno values of a write the system refused (disk full, quota, file too large, I/O error):
#: the environment's failure, not a defect of the program (module docstring)
_REFUSED_WRITE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def _flush_stdout() -> None:
    """Flush stdout if there is one (``>&-`` leaves Python without a stdout: ``sys.stdout`` is None)."""
    if sys.stdout is not None:
        sys.stdout.flush()


def _say(line: str) -> None:
    if sys.stderr is None:  # stderr closed too (2>&-): print(file=None) would write to stdout
        return
    try:
        print(line, file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed too: nothing more to do
        pass


#: exception types with their own exit code and message label, checked first (in order) by
#: :func:`run_guarded`; see :func:`register_failure`
_FAILURES: list[tuple[type[BaseException], int, str]] = []


def register_failure(exc_type: type[BaseException], code: int, label: str) -> None:
    """Give an exception type its exit code and one-line label: ``multispin <command>: <label>: <message>``.

    For example ``register_failure(SolverError, EXIT_INTERNAL, "solver failure")`` (one line in
    ``numerics/cli.py``); the message is ``str(exc)``. Registering the same type again replaces it.
    """
    _FAILURES[:] = [f for f in _FAILURES if f[0] is not exc_type]
    _FAILURES.append((exc_type, code, label))


def run_guarded(command: str | Callable[[], str], func: Callable[[], int], program: str = "multispin") -> int:
    """Run ``func`` and map every outcome to an exit code with at most one line on stderr.

    The single place where exceptions become exit codes (module docstring): ``ValueError`` and
    ``OSError`` naming a path -> 2, ``KeyboardInterrupt`` -> 130, ``BrokenPipeError`` on stdout
    -> 141 (silent), a write the system refused (``ENOSPC``, ``EDQUOT``, ``EFBIG``, ``EIO``)
    -> 1 with one line and no bug-report request, ``SystemExit`` passes through, anything else
    -> 1. ``command`` (or a callable returning it, read when the message is written: the
    subcommand is known only after parsing) names the subcommand in the message,
    ``<program> <command>: error: ...``; ``program`` is ``multispin`` or, for the other entry
    points, e.g. ``python -m figures`` (with ``command`` empty).
    """
    def prefix() -> str:
        name = command() if callable(command) else command
        return f"{program} {name}" if name else program

    with warnings.catch_warnings(record=True) as caught:
        try:
            code = func()
            _flush_stdout()  # a closed pipe or a full disk shows up here, inside the guard
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        except SystemExit:
            raise
        except tuple(f[0] for f in _FAILURES) as exc:  # registered kinds (an empty tuple matches nothing)
            exc_type, code, label = next(f for f in _FAILURES if isinstance(exc, f[0]))
            _say(f"{prefix()}: {label}: {one_line(exc) or exc_type.__name__}")
            return code
        except KeyboardInterrupt:
            _say(f"{prefix()}: interrupted")
            return EXIT_INTERRUPTED
        except ValueError as exc:
            _say(f"{prefix()}: error: {one_line(exc)}")
            return EXIT_BAD_INPUT
        except OSError as exc:
            if exc.filename is None and exc.errno in _REFUSED_WRITE:
                _drop_unwritable_stdout()
                _say(f"{prefix()}: error: cannot write: {one_line(exc.strerror or exc)}")
                return EXIT_INTERNAL
            if exc.filename is None:
                return _internal(prefix(), exc)
            _say(f"{prefix()}: error: {one_line(f'{exc.filename}: {exc.strerror or exc}')}")
            return EXIT_BAD_INPUT
        except Exception as exc:  # the one place that turns defects (MemoryError included) into exit 1
            return _internal(prefix(), exc)
    for w in caught:  # success: show the warnings as Python would have
        warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
    return int(code) if code is not None else EXIT_OK


def _drop_unwritable_stdout() -> None:
    """After a refused write: if stdout itself cannot be flushed, point it at /dev/null, so that
    the interpreter's final flush does not print a second error ("Exception ignored ...")."""
    try:
        _flush_stdout()
    except (OSError, ValueError):
        _silence_stdout()


def _internal(prefix: str, exc: BaseException) -> int:
    detail = one_line(str(exc)) or "(no message)"
    hint = "" if os.environ.get("MULTISPIN_TRACEBACK") else " (set MULTISPIN_TRACEBACK=1 for the traceback)"
    _say(f"{prefix}: internal error: {type(exc).__name__}: {detail}; please report it{hint}")
    if os.environ.get("MULTISPIN_TRACEBACK"):
        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_INTERNAL


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NumPy types as Python ones and every non-finite float as ``None`` (JSON null).

    Mappings (string keys), lists, tuples, ndarrays, NumPy scalars, floats, ints, bools, strings
    and None are converted; anything else is a defect (``TypeError``).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


def to_json(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (:func:`to_jsonable`; ``allow_nan=False`` guards the result).

    Examples
    --------
    >>> to_json({"mu": np.array([1.0, np.nan]), "gap": np.inf, "L": np.int64(3)}, indent=None)
    '{"mu": [1.0, null], "gap": null, "L": 3}'
    """
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)


def print_json(obj: Any, indent: int | None = 2) -> None:
    """Print :func:`to_json` of ``obj`` on stdout."""
    print(to_json(obj, indent=indent))
