"""``multispin fit``: acceptance from a serving log to a scenario file.

    multispin fit FILE [--per-user LABEL] [--positional | --iid | --auto] [--out SCENARIO.toml]
                  [--scenario BASE.toml | --preset NAME] [--format F] [--confidence C]
                  [--interval METHOD] [--point RULE] [--min-draft-length {0,1}]
                  [--decisions DRAWS] [--seed S] [--json]

FILE is a vLLM Prometheus text exposition (``curl host:8000/metrics > FILE.prom``), the same
counters as JSON, or per-round records as CSV (:mod:`numerics.acceptance_readers`). The command
prints, per user, the i.i.d. estimate and the per-position profile with exact intervals, the
mean acceptance length (observed, and implied by each model with its interval), and the
likelihood-ratio test of i.i.d. against position-dependent acceptance (per user and combined);
with ``--out`` it writes a scenario whose ``alpha`` is the fit, merged into ``--scenario`` (a
scenario file) or into ``--preset`` (default ``default``, with ``n_users`` = the log's users).
The estimates, intervals, test and source file are recorded as comments at the top of the file
(written as UTF-8 whatever the locale, and only once the whole text is ready: a failure leaves
no file behind). ``--auto`` (the default) writes the profile when the combined test rejects
i.i.d. at 5%, and i.i.d. when the test cannot be run (a note says why).

vLLM counters of drafts of varying length (an n-gram proposer, drafts cut near the end of a
request) do not identify the at-risk counts: the fit then prints the identified set of each
estimate, intervals that cover every consistent split, runs the LR test only on identified
positions (or not at all), and writes no profile the counts do not identify
(:func:`numerics.acceptance.position_counts`). Per-round records (CSV) identify everything.
``--decisions DRAWS`` adds the decision analysis of :func:`numerics.acceptance.decision_uncertainty`
on the fitted scenario (a seeded parametric bootstrap with DRAWS draws): the interval of the
optimal goodput, how often the draft lengths change, the expected regret, and the best common
draft length by number of users (0 = no speculation, at most the server's draft length) as
vLLM's ``num_speculative_tokens_per_batch_size`` ranges.

A positional profile covers the positions the log determines for every user: the written
``max_draft`` is lowered to that length when the base scenario's is longer (printed), since the
log says nothing about longer drafts. A user whose MLE is 0 at some position (no draft passed it)
does not cut the others: its later positions are never reached and are written as 0
(:meth:`numerics.acceptance.AcceptanceFit.profile_positions`).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run_fit", "scenario_text"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``fit`` on the ``multispin`` subparsers; returns its parser."""
    from .acceptance import INTERVALS, MAX_DRAWS, POINTS
    from .acceptance_readers import FORMATS

    p = subparsers.add_parser("fit", help="fit acceptance (alpha) from a serving log and write a scenario",
                              description=__doc__.split("\n\n")[2],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="LOG", help="vLLM metrics (.prom), counters (.json) or per-round records (.csv)")
    p.add_argument("--per-user", metavar="LABEL", default=None,
                   help="label (CSV column) whose values are the users, e.g. model_name (default: one pooled user)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--positional", dest="model", action="store_const", const="positional",
                   help="write the per-position profile")
    g.add_argument("--iid", dest="model", action="store_const", const="iid", help="write one alpha per user")
    g.add_argument("--auto", dest="model", action="store_const", const="auto",
                   help="profile if the LR test rejects i.i.d. at 5%%, else i.i.d. (default)")
    p.set_defaults(model="auto")
    p.add_argument("--out", metavar="SCENARIO.toml", default=None, help="write the fitted scenario here")
    base = p.add_mutually_exclusive_group()
    base.add_argument("--scenario", metavar="BASE.toml", default=None, help="merge alpha into this scenario file")
    base.add_argument("--preset", metavar="NAME", default="default",
                      help="base preset when no --scenario (default: default)")
    p.add_argument("--format", choices=FORMATS, default=None, help="log format (default: from the suffix)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--interval", choices=INTERVALS, default="clopper-pearson",
                   help="binomial interval: clopper-pearson (exact, conservative; default) or jeffreys "
                        "(equal-tailed Beta(a + 1/2, n - a + 1/2) posterior interval: not exact, may under-cover)")
    p.add_argument("--point", choices=POINTS, default="mle",
                   help="estimate written: MLE, or Jeffreys posterior mean (always < 1) (default: mle)")
    p.add_argument("--min-draft-length", type=int, choices=(0, 1), default=0,
                   help="shortest draft the counters may count: 0 (default; vLLM subtracts unfilled placeholder "
                        "tokens, so an empty draft can be counted) or 1 (every counted draft had a token)")
    p.add_argument("--decisions", type=int, default=0, metavar="DRAWS",
                   help=f"bootstrap draws of the decision analysis, 0..{MAX_DRAWS} (default 0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the decision analysis (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run_fit)
    return p


def _fmt_ci(x: float, lo: float, hi: float, digits: int = 4) -> str:
    return f"{x:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _fmt_p(p: float, statistic: float, df: int) -> str:
    """A p-value; below the float range it is written from chi^2's log survival function (never 'p = 0')."""
    if math.isnan(p):
        return "not tested"
    if p > 0.0:
        return f"{p:.3g}"
    import mpmath  # the chi^2 survival function Q(df/2, x/2) at 30 digits, far below the float range

    with mpmath.workdps(30):
        log10p = float(mpmath.log10(mpmath.gammainc(df / 2.0, statistic / 2.0, mpmath.inf, regularized=True)))
    exp = math.floor(log10p)
    return f"{10.0 ** (log10p - exp):.3g}e{exp}"


def _runs_of(flags) -> list[tuple[int, int]]:
    """Inclusive index ranges of the True runs of a boolean sequence."""
    out: list[tuple[int, int]] = []
    for i, f in enumerate(flags):
        if f:
            if out and out[-1][1] == i - 1:
                out[-1] = (out[-1][0], i)
            else:
                out.append((i, i))
    return out


def _report(fit, model: str, level_pct: str, written: bool) -> list[str]:
    lines = [f"acceptance fit of {fit.source}: {fit.n_users} user(s), {level_pct} {fit.interval} intervals"]
    for k, user in enumerate(fit.users):
        c = fit.counts[k]
        lines.append(f"== user {user!r}: {c.drafts} drafts, longest draft {c.positions}, "
                     f"{c.accepted_tokens} accepted draft tokens")
        if fit.undrafted_tokens[k]:
            lines.append(f"   drafts fell {fit.undrafted_tokens[k]} tokens short of length {c.positions} in total"
                         + ("" if c.identified else ": the at-risk counts are only bounded (identified sets below)"))
        if c.identified:
            lines.append(f"   i.i.d. alpha              {_fmt_ci(fit.iid[k], fit.iid_low[k], fit.iid_high[k])}")
        else:
            lines.append(f"   i.i.d. alpha              {_fmt_ci(fit.iid[k], fit.iid_low[k], fit.iid_high[k])}"
                         f" (moment estimate; pooled MLE identified in [{fit.iid_estimate_low[k]:.4f}, "
                         f"{fit.iid_estimate_high[k]:.4f}])")
        lines.append(f"   mean acceptance length    observed {fit.observed_mean_acceptance_length[k]:.4f}"
                     " (1 + accepted/drafts)")
        for m in ("iid", "positional"):
            v, lo, hi = (x[k] for x in fit.mean_acceptance_length[m])
            shown = _fmt_ci(v, lo, hi) if not math.isnan(v) else f"not identified, interval [{lo:.4f}, {hi:.4f}]"
            lines.append(f"     implied by {m:<10}     {shown} at draft length {c.positions}")
        ambiguous_user = not c.identified
        rw = 7 if not ambiguous_user else max(7, 2 + 2 * len(str(int(fit.at_risk_high[k].max()))))
        lines.append(f"   position  {'at risk':>{rw}}  accepted  alpha [interval]")
        unreached = {start: end for start, end in _runs_of(~fit.reached[k, :c.positions])}
        i = 0
        while i < c.positions:
            if i in unreached:
                end = unreached[i]
                span = f"{i + 1}" if end == i else f"{i + 1}..{end + 1}"
                lines.append(f"   {span:>8}  not reached by any draft")
                i = end + 1
                continue
            lo_n, hi_n = int(fit.at_risk_low[k, i]), int(fit.at_risk_high[k, i])
            if fit.identified[k, i]:
                est = _fmt_ci(fit.profile[k, i], fit.profile_low[k, i], fit.profile_high[k, i])
                risk = f"{hi_n}"
            else:
                est = (f"not identified: MLE in [{fit.profile_estimate_low[k, i]:.4f}, "
                       f"{fit.profile_estimate_high[k, i]:.4f}], interval [{fit.profile_low[k, i]:.4f}, "
                       f"{fit.profile_high[k, i]:.4f}]")
                risk = f"{lo_n}..{hi_n}"
            lines.append(f"   {i + 1:>8}  {risk:>{rw}}  {fit.accepted[k, i]:>8}  {est}")
            i += 1
        if fit.lr_tested[k]:
            lines.append(f"   LR test i.i.d. vs positional: statistic {fit.lr_statistic[k]:.3f}, df {fit.lr_df[k]},"
                         f" p = {_fmt_p(fit.lr_pvalue[k], fit.lr_statistic[k], int(fit.lr_df[k]))}")
        else:
            lines.append("   LR test i.i.d. vs positional: not run (fewer than two identified positions)")
    if fit.combined_lr_tested:
        verdict = "rejects" if fit.combined_lr_pvalue < 0.05 else "does not reject"
        lines.append(f"combined LR test over users: statistic {fit.combined_lr_statistic:.3f}, df {fit.combined_lr_df},"
                     f" p = {_fmt_p(fit.combined_lr_pvalue, fit.combined_lr_statistic, fit.combined_lr_df)} -> "
                     f"{verdict} i.i.d. at 5%")
    else:
        lines.append("combined LR test over users: not run (no user has two identified positions)")
    lines.append(f"model {'written' if written else 'chosen'}: {model}")
    return lines


def _decision_report(du) -> list[str]:
    pct = f"{100 * du.confidence:g}%"
    lines = [f"decision analysis: {du.draws} bootstrap draws of the {du.model} fit (seed {du.seed})"]
    for regime, r in du.regimes.items():
        lines.append(f"  {regime:<13} goodput {r['goodput']:.4f} tokens/s, {pct} over draws "
                     f"[{r['goodput_low']:.4f}, {r['goodput_high']:.4f}]; draft lengths change in "
                     f"{100 * r['lengths_changed']:.1f}% of draws; expected regret {r['regret']:.4g} tokens/s "
                     f"({100 * r['relative_regret']:.3g}%); {r['solved']} solved, {len(r['failures'])} failed")
        if r["beaten_by_point"]:
            lines.append(f"    in {r['beaten_by_point']} draws the point decision beat the solver's answer "
                         "(sub-optimal solve)")
        for b, msg in r["failures"]:
            lines.append(f"    draw {b} failed: {msg}")
    if du.rejected_draws:
        lines.append(f"  {len(du.rejected_draws)} draws left the model (alpha* = 1) and were not solved")
    t = du.batch_table
    lines.append("  best common draft length by number of users (homogeneous regime; 0 = no speculation):")
    lines.append("    users " + " ".join(f"{k:>4d}" for k in t["users"]))
    lines.append("    L*    " + " ".join(f"{k:>4d}" for k in t["draft_length"]))
    lines.append(f"    {pct} over draws " + " ".join(f"[{lo},{hi}]" for lo, hi in
                                                     zip(t["draft_length_low"], t["draft_length_high"], strict=True)))
    schedule = [list(r) for r in du.num_speculative_tokens_per_batch_size]
    lines.append(f"  num_speculative_tokens_per_batch_size = {schedule}  (0 = no speculation; draft lengths "
                 f"searched up to {du.table_max_draft})")
    lines += [f"  note: {n}" for n in du.notes]
    return lines


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _comment(text: str) -> str:
    """One TOML comment line: control characters (a newline in a file name, ...) escaped as \\xNN,
    which TOML forbids in comments; other characters (UTF-8) kept."""
    return "".join(ch if (ch == "\t" or (ord(ch) >= 0x20 and ord(ch) != 0x7F)) else f"\\x{ord(ch):02x}"
                   for ch in text)


def _base_users(base: dict[str, Any]) -> tuple[int, str] | None:
    """(users, field) of a full scenario table: the length of its first per-user list; None if every
    per-user field is a scalar (scalars broadcast to any number of users)."""
    from .validation import PER_USER

    for name in PER_USER:
        if name != "alpha" and isinstance(base.get(name), list):
            return len(base[name]), name
    return None


def scenario_text(fit, model: str, point: str, base: dict[str, Any], log_path: Path,
                  base_label: str) -> tuple[str, list[str]]:
    """The fitted scenario as TOML text (comment header + table) and the notes to print.

    ``base`` is a scenario table: full (every field; per-user fields given as scalars broadcast
    to the log's users) or ``preset`` plus overrides. Raises ``ValueError`` when the merged
    table is not a valid scenario (e.g. per-user lists of another number of users).
    """
    import tomli_w

    from .presets import scenario_from_mapping

    merged = dict(base)
    notes: list[str] = []
    K = fit.n_users
    if "preset" in merged:
        if merged.get("n_users", K) != K:
            notes.append(f"n_users set from {merged['n_users']} to {K} (the log's users)")
        merged["n_users"] = K
    else:
        users = _base_users(merged)
        if users is not None and users[0] != K:
            raise ValueError(f"{base_label} has {users[0]} users ({users[1]} has {users[0]} entries), the log "
                             f"{log_path} has {K}")
    merged.pop("alpha", None)
    resolved = scenario_from_mapping({**merged, "alpha": [0.5] * K} if "preset" not in merged else merged)
    if resolved.n_users != K:
        raise ValueError(f"{base_label} has {resolved.n_users} users, the log {log_path} has {K}")
    if model == "positional":
        P = fit.profile_positions(point)
        if P < 1:
            fit.alpha("positional", point)  # raises: the profile is not identified
        width = min(P, resolved.max_draft)
        lengths = fit.profile_lengths(point)
        for k, user in enumerate(fit.users):
            stop = int(fit.identified[k].cumprod().sum())
            if stop < min(lengths[k], width):
                rest = f"position {width} is" if stop + 1 == width else f"positions {stop + 1}..{width} are"
                notes.append(f"user {user!r}: no draft passed position {stop} (estimate 0): {rest} written as 0 "
                             "(never reached under the fitted profile)")
        if resolved.max_draft > P:
            longest = {user: int(lengths[k]) for k, user in enumerate(fit.users)}
            short = [u for u, n in longest.items() if n == P]
            more = {u: n for u, n in longest.items() if n > P}
            why = f"the log determines the profile of user(s) {', '.join(repr(u) for u in short)} up to position {P}"
            if more:
                why += " (" + ", ".join(f"{u!r} up to {n}" for u, n in more.items()) + "; one max_draft serves all)"
            notes.append(f"max_draft lowered from {resolved.max_draft} to {P}: {why}")
            merged["max_draft"] = P
        alpha = fit.alpha("positional", point, positions=width)
    else:
        alpha = fit.alpha("iid", point)
        shortest = int(fit.positions.min())
        if resolved.max_draft > shortest:
            notes.append(f"max_draft {resolved.max_draft} exceeds the log's longest draft ({shortest} positions"
                         f"{' for some user' if fit.n_users > 1 else ''}): the i.i.d. alpha is extrapolated "
                         "beyond the measured positions")
    merged["alpha"] = alpha.tolist()
    scenario_from_mapping(merged)  # the file written is a valid scenario (ValueError otherwise)

    pct = f"{100 * fit.confidence:g}%"
    if fit.combined_lr_tested:
        test = (f"LR test i.i.d. vs position-dependent (combined over users): statistic "
                f"{fit.combined_lr_statistic:.4g}, df {fit.combined_lr_df}, p = "
                f"{_fmt_p(fit.combined_lr_pvalue, fit.combined_lr_statistic, fit.combined_lr_df)}.")
    else:
        test = "LR test i.i.d. vs position-dependent: not run (the counts identify fewer than two positions)."
    head = [
        f"Scenario fitted by `multispin fit` from {log_path} (sha256 {_sha256(log_path)[:16]}),",
        f"base {base_label}; alpha = {model} {'MLE' if point == 'mle' else 'Jeffreys posterior mean'} per user"
        + (" and draft position" if model == "positional" else "") + f"; {pct} {fit.interval} intervals.",
        test,
    ]
    for k, user in enumerate(fit.users):
        c = fit.counts[k]
        if fit.undrafted_tokens[k]:
            head.append(f"user {k} {user!r}: drafts fell {fit.undrafted_tokens[k]} tokens short of the full length"
                        + ("" if c.identified else
                           f" (at-risk counts only bounded; i.i.d. = moment estimate, pooled MLE in "
                           f"[{fit.iid_estimate_low[k]:.4g}, {fit.iid_estimate_high[k]:.4g}])"))
        head.append(f"user {k} {user!r}: {c.drafts} drafts; i.i.d. alpha "
                    f"{_fmt_ci(fit.iid[k], fit.iid_low[k], fit.iid_high[k])}; LR p = "
                    f"{_fmt_p(fit.lr_pvalue[k], fit.lr_statistic[k], int(fit.lr_df[k]))}")
        prof = ", ".join(_fmt_ci(fit.profile[k, i], fit.profile_low[k, i], fit.profile_high[k, i], 3)
                         if fit.identified[k, i] else f"? [{fit.profile_low[k, i]:.3f}, {fit.profile_high[k, i]:.3f}]"
                         for i in range(c.positions) if fit.reached[k, i])
        head.append(f"  by position: {prof}")
    head += notes
    text = "".join(f"# {_comment(h)}\n" for h in head) + "\n" + tomli_w.dumps(merged)
    return text, notes


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (whatever the locale) to a temporary file next to ``path``, then
    rename it over ``path``: a failure leaves neither an empty nor a half-written file. The file
    keeps the permissions of the one it replaces, or gets those of a new file (0o666 less the
    umask), not the 0o600 of a temporary file."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_fit(a: argparse.Namespace) -> int:
    """Run ``multispin fit`` (bad input raises ValueError: the CLI prints one line, exit 2)."""
    from .acceptance import MAX_DRAWS, decision_uncertainty, fit_acceptance
    from .acceptance_readers import read_counts
    from .cli_common import print_json
    from .scenario import read_toml
    from .validation import as_int

    log = Path(a.file)
    as_int("--decisions", a.decisions, low=0, high=MAX_DRAWS, limit="numerics.acceptance.MAX_DRAWS")
    as_int("--seed", a.seed, low=0)
    counts = read_counts(log, per_user=a.per_user, fmt=a.format, min_draft_length=a.min_draft_length)
    fit = fit_acceptance(counts, confidence=a.confidence, interval=a.interval, source=str(log))
    model = fit.select(0.05) if a.model == "auto" else a.model
    out: dict[str, Any] = {"fit": fit.to_dict(), "model": model}
    notes: list[str] = list(fit.selection_notes())
    if a.scenario is not None:
        base, label = read_toml(a.scenario), f"scenario {a.scenario}"
    else:
        base, label = {"preset": a.preset}, f"preset {a.preset!r}"
    du = None
    if a.out is not None or a.decisions > 0:
        text, scenario_notes = scenario_text(fit, model, a.point, base, log, label)
        notes += scenario_notes
    if a.decisions > 0:
        import tomllib

        from .presets import scenario_from_mapping

        system = scenario_from_mapping(tomllib.loads(text))
        du = decision_uncertainty(system, fit, model=model, point=a.point, draws=a.decisions, seed=a.seed)
        out["decisions"] = du.to_dict()
    if a.out is not None:  # last: a failure above leaves no file
        _write_atomically(Path(a.out), text)
        out["out"] = str(a.out)
    out["notes"] = notes
    if a.json:
        print_json(out)
        return 0
    print("\n".join(_report(fit, model, f"{100 * fit.confidence:g}%", a.out is not None)))
    for n in notes:
        print(f"note: {n}")
    if du is not None:
        print("\n".join(_decision_report(du)))
    if a.out is not None:
        print(f"wrote {a.out} (alpha: {model}); solve it with `multispin solve {a.out}`")
    return 0
