"""``multispin fit``: acceptance from a serving log to a scenario file.

    multispin fit FILE [--per-user LABEL] [--positional | --iid | --auto] [--out SCENARIO.toml]
                  [--scenario BASE.toml | --preset NAME] [--format F] [--confidence C]
                  [--interval METHOD] [--point RULE] [--decisions DRAWS] [--json]

FILE is a vLLM Prometheus text exposition (``curl host:8000/metrics > FILE.prom``), the same
counters as JSON, or per-round records as CSV (:mod:`numerics.acceptance_readers`). The command
prints, per user, the i.i.d. estimate and the per-position profile with exact intervals, the
mean acceptance length (observed, and implied by each model with its interval), and the
likelihood-ratio test of i.i.d. against position-dependent acceptance (per user and combined);
with ``--out`` it writes a scenario whose ``alpha`` is the fit, merged into ``--scenario`` (a
scenario file) or into ``--preset`` (default ``default``, with ``n_users`` = the log's users).
The estimates, intervals, test and source file are recorded as comments at the top of the file.
``--auto`` (the default) writes the profile when the combined test rejects i.i.d. at 5%.
``--decisions DRAWS`` adds the decision analysis of :func:`numerics.acceptance.decision_uncertainty`
on the fitted scenario (a seeded parametric bootstrap with DRAWS draws): the interval of the
optimal goodput, how often the draft lengths change, the expected regret, and the best common
draft length by number of users as vLLM's ``num_speculative_tokens_per_batch_size`` ranges.

A positional profile covers the positions the log observed: the written ``max_draft`` is
lowered to that length when the base scenario's is longer (printed), since the log says
nothing about longer drafts.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run_fit", "scenario_text"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``fit`` on the ``multispin`` subparsers; returns its parser."""
    from .acceptance import INTERVALS, POINTS
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
    p.add_argument("--interval", choices=INTERVALS, default="clopper-pearson", help="exact interval method")
    p.add_argument("--point", choices=POINTS, default="mle",
                   help="estimate written: MLE, or Jeffreys posterior mean (always < 1) (default: mle)")
    p.add_argument("--decisions", type=int, default=0, metavar="DRAWS",
                   help="bootstrap draws of the decision analysis (default 0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the decision analysis (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run_fit)
    return p


def _fmt_ci(x: float, lo: float, hi: float, digits: int = 4) -> str:
    return f"{x:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _report(fit, model: str, level_pct: str) -> list[str]:
    lines = [f"acceptance fit of {fit.source}: {fit.n_users} user(s), {level_pct} {fit.interval} intervals"]
    for k, user in enumerate(fit.users):
        c = fit.counts[k]
        lines.append(f"== user {user!r}: {c.drafts} drafts, longest draft {c.positions}, "
                     f"{c.accepted_tokens} accepted draft tokens")
        if fit.undrafted_tokens[k]:
            lines.append(f"   drafts fell {fit.undrafted_tokens[k]} tokens short of length {c.positions} in total: "
                         "estimates assume those drafts were rejected; intervals cover every censored/rejected split")
        lines.append(f"   i.i.d. alpha              {_fmt_ci(fit.iid[k], fit.iid_low[k], fit.iid_high[k])}")
        lines.append(f"   mean acceptance length    observed {fit.observed_mean_acceptance_length[k]:.4f}"
                     " (1 + accepted/drafts)")
        for m in ("iid", "positional"):
            v, lo, hi = (x[k] for x in fit.mean_acceptance_length[m])
            lines.append(f"     implied by {m:<10}     {_fmt_ci(v, lo, hi)} at draft length {c.positions}")
        lines.append("   position  at risk  accepted  alpha [interval]")
        for i in range(c.positions):
            if fit.identified[k, i]:
                est = _fmt_ci(fit.profile[k, i], fit.profile_low[k, i], fit.profile_high[k, i])
            else:
                est = "not reached by any draft"
            lines.append(f"   {i + 1:>8}  {fit.at_risk[k, i]:>7}  {fit.accepted[k, i]:>8}  {est}")
        lines.append(f"   LR test i.i.d. vs positional: statistic {fit.lr_statistic[k]:.3f}, df {fit.lr_df[k]},"
                     f" p = {fit.lr_pvalue[k]:.3g}")
    lines.append(f"combined LR test over users: statistic {fit.combined_lr_statistic:.3f}, df {fit.combined_lr_df},"
                 f" p = {fit.combined_lr_pvalue:.3g} -> "
                 f"{'rejects' if fit.combined_lr_pvalue < 0.05 else 'does not reject'}"
                 f" i.i.d. at 5%; model written: {model}")
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
    lines.append("  best common draft length by number of users (homogeneous regime):")
    lines.append("    users " + " ".join(f"{k:>4d}" for k in t["users"]))
    lines.append("    L*    " + " ".join(f"{k:>4d}" for k in t["draft_length"]))
    lines.append(f"    {pct} over draws " + " ".join(f"[{lo},{hi}]" for lo, hi in
                                                     zip(t["draft_length_low"], t["draft_length_high"], strict=True)))
    schedule = [list(r) for r in du.num_speculative_tokens_per_batch_size]
    lines.append(f"  num_speculative_tokens_per_batch_size = {schedule}")
    return lines


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scenario_text(fit, model: str, point: str, base: dict[str, Any], log_path: Path,
                  base_label: str) -> tuple[str, list[str]]:
    """The fitted scenario as TOML text (comment header + table) and the notes to print.

    ``base`` is a scenario table: full (every field) or ``preset`` plus overrides. Raises
    ``ValueError`` when the merged table is not a valid scenario (e.g. another number of users).
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
    merged.pop("alpha", None)
    resolved = scenario_from_mapping({**merged, "alpha": 0.5} if "preset" not in merged else merged)
    if resolved.n_users != K:
        raise ValueError(f"scenario {base_label} has {resolved.n_users} users, the log {log_path} has {K}")
    if model == "positional":
        P = fit.identified_positions
        width = min(P, resolved.max_draft)
        if resolved.max_draft > P:
            notes.append(f"max_draft lowered from {resolved.max_draft} to {P}: the log has no acceptance data "
                         f"beyond position {P}")
            merged["max_draft"] = P
        alpha = fit.alpha("positional", point, positions=width)
    else:
        alpha = fit.alpha("iid", point)
    merged["alpha"] = alpha.tolist()
    scenario_from_mapping(merged)  # the file written is a valid scenario (ValueError otherwise)

    pct = f"{100 * fit.confidence:g}%"
    head = [
        f"Scenario fitted by `multispin fit` from {log_path} (sha256 {_sha256(log_path)[:16]}),",
        f"base {base_label}; alpha = {model} {'MLE' if point == 'mle' else 'Jeffreys posterior mean'} per user"
        + (" and draft position" if model == "positional" else "") + f"; {pct} {fit.interval} intervals.",
        f"LR test i.i.d. vs position-dependent (combined over users): statistic {fit.combined_lr_statistic:.4g},"
        f" df {fit.combined_lr_df}, p = {fit.combined_lr_pvalue:.4g}.",
    ]
    for k, user in enumerate(fit.users):
        if fit.undrafted_tokens[k]:
            head.append(f"user {k} {user!r}: drafts fell {fit.undrafted_tokens[k]} tokens short of the full length "
                        "(estimates assume rejected; intervals cover every split)")
        head.append(f"user {k} {user!r}: {fit.counts[k].drafts} drafts; i.i.d. alpha "
                    f"{_fmt_ci(fit.iid[k], fit.iid_low[k], fit.iid_high[k])}; LR p = {fit.lr_pvalue[k]:.4g}")
        prof = ", ".join(_fmt_ci(fit.profile[k, i], fit.profile_low[k, i], fit.profile_high[k, i], 3)
                         for i in range(fit.counts[k].positions) if fit.identified[k, i])
        head.append(f"  by position: {prof}")
    head += notes
    text = "".join(f"# {h}\n" for h in head) + "\n" + tomli_w.dumps(merged)
    return text, notes


def run_fit(a: argparse.Namespace) -> int:
    """Run ``multispin fit`` (bad input raises ValueError: the CLI prints one line, exit 2)."""
    from .acceptance import decision_uncertainty, fit_acceptance
    from .acceptance_readers import read_counts
    from .cli_common import print_json
    from .scenario import read_toml

    log = Path(a.file)
    if a.decisions < 0:
        raise ValueError(f"--decisions must be an integer >= 0, got {a.decisions}")
    if a.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {a.seed}")
    counts = read_counts(log, per_user=a.per_user, fmt=a.format)
    fit = fit_acceptance(counts, confidence=a.confidence, interval=a.interval, source=str(log))
    model = fit.select(0.05) if a.model == "auto" else a.model
    out: dict[str, Any] = {"fit": fit.to_dict(), "model": model}
    notes: list[str] = []
    if a.scenario is not None:
        base, label = read_toml(a.scenario), f"scenario {a.scenario}"
    else:
        base, label = {"preset": a.preset}, f"preset {a.preset!r}"
    du = None
    if a.out is not None or a.decisions > 0:
        text, notes = scenario_text(fit, model, a.point, base, log, label)
    if a.out is not None:
        Path(a.out).write_text(text)
        out["out"] = str(a.out)
        out["notes"] = notes
    if a.decisions > 0:
        import tomllib

        from .presets import scenario_from_mapping

        system = scenario_from_mapping(tomllib.loads(text))
        du = decision_uncertainty(system, fit, model=model, point=a.point, draws=a.decisions, seed=a.seed)
        out["decisions"] = du.to_dict()
    if a.json:
        print_json(out)
        return 0
    print("\n".join(_report(fit, model, f"{100 * fit.confidence:g}%")))
    for n in notes:
        print(f"note: {n}")
    if du is not None:
        print("\n".join(_decision_report(du)))
    if a.out is not None:
        print(f"wrote {a.out} (alpha: {model}); solve it with `multispin solve {a.out}`")
    return 0
