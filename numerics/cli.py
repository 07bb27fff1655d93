"""The ``multispin`` command line (console script ``multispin = numerics.cli:main``).

Subcommands::

    multispin figures [--only NAME ...] [--out DIR]     render figures (PNG, PDF, CSV)
    multispin check [ID ...] [--ties] [--planted]       run the proofs_check claims (or the tie table, planted faults)
    multispin solve FILE [--regime R] [--json]          solve a scenario file
    multispin simulate FILE [--rounds N] [--seed S] [--regime R] [--fading] [--json]
    multispin presets                                   list the cited preset scenarios
    multispin fit LOG [--per-user LABEL] [--out FILE]   fit acceptance from a serving log (numerics.cli_fit)
    multispin sweep STUDY --out DIR [--workers N] [--scheduler ADDRESS] [--drops N]   a study on Dask

A scenario file is TOML, read as UTF-8 whatever the locale: either every Scenario field at
top level (see ``scenarios/example.toml``), or ``preset = "name"`` plus overrides of any
Scenario field and ``n_users`` (see ``scenarios/preset_override.toml``).

Errors and exit codes (:mod:`numerics.cli_common`, the one place that maps exceptions to exit
codes): bad input (a missing file, a directory, a file that is not UTF-8 or not TOML, an
unknown key, a bad value naming the field, a value above a limit of
:mod:`numerics.validation`, a bad argument) prints one line on stderr and exits with 2; an
internal failure (a solver defect) prints one line and exits with 1; never a traceback
(``MULTISPIN_TRACEBACK=1`` adds it to an internal error). Output into a closed pipe ends
quietly with 141. ``--json`` output is strict JSON: a number that is not finite is written
as ``null``.

New subcommands live in their own module with ``add_parser(subparsers)`` (which sets
``func``); listing the module in :data:`SUBCOMMAND_MODULES` registers it.

This module is the program's entry point, so it is the one place in ``numerics`` that
imports ``figures`` and ``proofs_check``; it does so inside the subcommand functions, so that
``import numerics`` never pulls them in.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .cli_common import EXIT_INTERNAL, ArgumentParser, print_json, register_failure, run_guarded
from .solution import SolverError

register_failure(SolverError, EXIT_INTERNAL, "solver failure")

__all__ = ["SUBCOMMAND_MODULES", "main", "solve_report"]

REGIMES = ("homogeneous", "heterogeneous")

#: modules that add a subcommand with ``add_parser(subparsers)`` (one line each)
SUBCOMMAND_MODULES: tuple[str, ...] = ("numerics.cli_fit", "numerics.cli_sweep")


def _regimes(choice: str) -> tuple[str, ...]:
    return REGIMES if choice == "all" else (choice,)


def _solve(scenario, regime: str, where: str | None = None):
    """The regime's solution; a solver failure names ``where`` (the scenario file) and its step."""
    try:
        if regime == "homogeneous":
            from .homogeneous import solve_homogeneous

            return solve_homogeneous(scenario)
        from .heterogeneous import solve_heterogeneous

        return solve_heterogeneous(scenario, integer=True)
    except SolverError as exc:
        raise SolverError(f"{regime} regime, {exc.step}", exc.detail, where) from None


def _baselines_for(regimes: Sequence[str]) -> tuple[str, ...]:
    """The baselines a report of ``regimes`` compares with: without the heterogeneous regime,
    neither it nor its equal-band ablation (computed only when printed)."""
    from .baselines import BASELINES

    if "heterogeneous" in regimes:
        return BASELINES
    return tuple(b for b in BASELINES if b not in ("heterogeneous", "equal-heterogeneous"))


def solve_report(scenario, regimes: Sequence[str], where: str | None = None) -> dict[str, Any]:
    """Solutions of the regimes, the goodput of the baselines they are compared with, and the gains.

    Returns a JSON-ready dict: ``scenario`` (fields), ``solutions`` (regime -> Solution dict),
    ``baselines`` (name -> goodput) and ``gains`` (regime -> baseline -> G / G_baseline - 1).
    Only what is reported is computed: a report of the homogeneous regime alone leaves out the
    heterogeneous regime and its equal-band ablation. ``where`` (the scenario file) is named
    in a :class:`numerics.SolverError`.
    """
    from .baselines import baseline

    sols = {r: _solve(scenario, r, where) for r in regimes}
    base = {}
    for name in _baselines_for(regimes):
        if name in sols:
            base[name] = sols[name].goodput
            continue
        try:
            base[name] = baseline(scenario, name).goodput
        except SolverError as exc:
            raise SolverError(f"baseline {name}, {exc.step}", exc.detail, where) from None
    gains = {r: {b: sols[r].goodput / g - 1.0 for b, g in base.items() if b != r and g > 0} for r in regimes}
    return {
        "scenario": scenario.to_dict(),
        "solutions": {r: s.to_dict() for r, s in sols.items()},
        "baselines": base,
        "gains": gains,
    }


def _user_table(scenario, L, beta) -> str:
    alpha = scenario.alpha.mean(axis=1) if scenario.positional else scenario.alpha
    ch_name = "eta" if scenario.rate_model == "linear" else "snr"
    rows = [f"  {'user':>4}  {'alpha':>6}  {'t_draft[ms]':>11}  {'bits':>7}  {ch_name:>7}  {'L':>3}  {'beta':>8}"]
    for k in range(scenario.n_users):
        rows.append(
            f"  {k:>4}  {alpha[k]:>6.3f}  {scenario.t_draft[k] * 1e3:>11.3f}  {scenario.bits_per_token[k]:>7.0f}"
            f"  {scenario.channel[k]:>7.3f}  {int(L[k]):>3d}  {beta[k]:>8.5f}"
        )
    if scenario.positional:
        rows.append("  (alpha: mean of the position-dependent profile)")
    return "\n".join(rows)


def _print_solve(report: dict[str, Any], scenario) -> None:
    for regime, sol in report["solutions"].items():
        print(f"== {regime} regime: goodput {sol['goodput']:.4f} tokens/s, round time {sol['round_time'] * 1e3:.3f} ms,"
              f" upper bound {sol['upper_bound']:.4f}, gap {sol['gap']:.2e}")
        print(_user_table(scenario, sol["draft_lengths"], sol["bandwidth"]))
        print("  gain over baselines:")
        for b, g in report["gains"][regime].items():
            print(f"    {b:<20} {report['baselines'][b]:>12.4f} tokens/s   {100 * g:+8.2f} %")


# ------------------------------------------------------------------ subcommands
def _cmd_figures(a: argparse.Namespace) -> int:
    from figures.__main__ import render  # entry point: allowed here (module docstring)

    return render(a.out, a.only)


def _cmd_check(a: argparse.Namespace) -> int:
    from proofs_check.__main__ import main as check_main  # entry point: allowed here (module docstring)

    return check_main(list(a.ids) + ["--ties"] * a.ties + ["--planted"] * a.planted, prog="multispin check")


def _cmd_solve(a: argparse.Namespace) -> int:
    from .presets import load_scenario

    s = load_scenario(a.file)
    report = solve_report(s, _regimes(a.regime), where=a.file)
    if a.json:
        print_json(report)
    else:
        print(f"scenario {a.file}: K = {s.n_users} users, B = {s.bandwidth_hz:g} Hz, rate model {s.rate_model},"
              f" T_v(n) = {s.v0 * 1e3:g} ms + {s.v1 * 1e6:g} us n ({s.batching}), T_o = {s.overhead * 1e3:g} ms")
        _print_solve(report, s)
    return 0


def _cmd_simulate(a: argparse.Namespace) -> int:
    from .presets import load_scenario
    from .simulate import simulate
    from .validation import MAX_ROUNDS, as_int, check_simulation_size

    rounds = as_int("--rounds", a.rounds, low=2, high=MAX_ROUNDS, limit="numerics.validation.MAX_ROUNDS")
    as_int("--seed", a.seed, low=0)
    s = load_scenario(a.file)
    if not s.positional:  # else the width is the solved L: simulate checks it
        check_simulation_size(s, rounds, 1)
    out = {}
    for regime in _regimes(a.regime):
        sol = _solve(s, regime, where=a.file)
        res = simulate(s, sol, rounds=a.rounds, seed=a.seed, fading=a.fading, progress=a.rounds >= 200_000)
        out[regime] = {"analytic_goodput": sol.goodput, **res.to_dict()}
    if a.json:
        print_json(out)
        return 0
    for regime, r in out.items():
        print(f"{regime}: Monte Carlo {r['goodput']:.4f} tokens/s, 95% CI [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
              f" ({r['rounds']} rounds, seed {r['seed']}, fading {'on' if r['fading'] else 'off'})")
        if r["fading"]:
            # the analysis has no fading: report the loss, not a coverage test
            print(f"  fading-free analytic {r['analytic_goodput']:.4f} tokens/s; Monte Carlo / analytic - 1 ="
                  f" {100 * (r['goodput'] / r['analytic_goodput'] - 1):+.2f} %; drafts cut by the upload deadline:"
                  f" {100 * r['truncated_fraction']:.2f} % of user-rounds")
        else:
            inside = "inside" if r["ci_low"] <= r["analytic_goodput"] <= r["ci_high"] else "outside"
            print(f"  analytic {r['analytic_goodput']:.4f} tokens/s ({inside} the interval)")
    return 0


def _cmd_presets(a: argparse.Namespace) -> int:
    from .presets import preset_names, preset_spec

    for name in preset_names():
        print(f"{name:<20} {preset_spec(name).get('description', '')}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="multispin", description="Multi-SPIN toolkit: figures, checks, solver, simulator.")
    p.add_argument("--version", action="version", version=f"multispin {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    f = sub.add_parser("figures", help="render figures (PNG, PDF and CSV)")
    f.add_argument("--only", nargs="+", default=None, metavar="NAME", help="figures to render (default: all)")
    f.add_argument("--out", default="build/figures", metavar="DIR", help="output folder (default: build/figures)")
    f.set_defaults(func=_cmd_figures)

    c = sub.add_parser("check", help="run the derivation checks of proofs_check")
    c.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    c.add_argument("--ties", action="store_true",
                   help="print the tie table (theory expression -> numeric code -> test)")
    c.add_argument("--planted", action="store_true",
                   help="check the checks: plant faults in theory, report the catches")
    c.set_defaults(func=_cmd_check)

    for name, helptext, func in (("solve", "solve a scenario file and print the allocation", _cmd_solve),
                                 ("simulate", "Monte Carlo goodput of the solved allocation", _cmd_simulate)):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("file", metavar="SCENARIO.toml")
        q.add_argument("--regime", choices=(*REGIMES, "all"), default="all", help="which optimum (default: all)")
        q.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "simulate":
            q.add_argument("--rounds", type=int, default=20_000, help="simulated rounds (default 20000)")
            q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
            q.add_argument("--fading", action="store_true", help="Rayleigh block fading per round")
        q.set_defaults(func=func)

    r = sub.add_parser("presets", help="list the cited preset scenarios")
    r.set_defaults(func=_cmd_presets)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).add_parser(sub)
    return p


def _tolerant_streams() -> None:
    """Never fail on printing a character the terminal's encoding lacks (a file name, say)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (e.g. captured by a test)
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    0 on success, 2 on bad input and 1 on an internal failure (one line on stderr each),
    141 when stdout is a closed pipe (:func:`numerics.cli_common.run_guarded`).
    """
    _tolerant_streams()
    command = ""

    def run() -> int:
        nonlocal command
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
            return int(exc.code or 0)
        command = args.command
        return int(args.func(args))

    return run_guarded(lambda: command, run)


if __name__ == "__main__":
    sys.exit(main())
