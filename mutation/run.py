"""Mutation testing of the core numerics modules with cosmic-ray (``make mutate``; not part of CI).

For each core module the mutants are run against the fast tests that exercise it, twice: with
the tests that existed before issue 11 (``before``) and with issue 11's new tests added
(``after``), so the report shows which mutants the new tests kill. The run happens in a copy
of the committed tree (``build/mutate/src``, from ``git archive HEAD``), never in the work tree
(cosmic-ray edits the module on disk while a mutant is tested), with ``PYTHONPATH`` pointing at
the copy so that the mutated module is the one imported.

The machine is shared: by default a seeded sample of ``--sample`` mutants per module is run
(the same sample before and after), each test command with a timeout; ``--sample 0`` runs every
mutant. Usage::

    python mutation/run.py [--modules tokens channel ...] [--sample 25] [--seed 0]

Writes ``build/mutate/report.md`` (score = killed / (killed + survived); timeouts count as
killed, as cosmic-ray does) with every surviving mutant's diff.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "mutate"

_PYTEST = "python -m pytest -x -q -p no:cacheprovider --no-header"
#: module -> (tests before issue 11, tests issue 11 adds)
CORE = {
    "tokens": ("tests/test_tokens.py tests/test_theory_core.py", "tests/test_ties.py -k tokens_alpha"),
    "channel": ("tests/test_channel.py tests/test_theory_core.py",
                'tests/test_ties.py -k "shannon or rate_terms"'),
    "latency": ("tests/test_latency.py tests/test_theory_core.py", 'tests/test_ties.py -k "drafting_time or h1"'),
    "allocation": ("tests/test_allocation.py", 'tests/test_ties.py -k "share_slope_in_the_deadline or d7 or h1"'),
    "homogeneous": ("tests/test_homogeneous.py", "tests/test_integer_answers.py -k bad_start tests/test_ties.py -k h4"),
    "heterogeneous_integer": ("tests/test_heterogeneous_integer.py", "tests/test_integer_answers.py -k locally"),
    "baselines": ("tests/test_baselines.py", "tests/test_readme_numbers.py"),
    "simulate": ("tests/test_simulate.py", "tests/test_ties.py -k fading"),
}


def _copy_tree(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def _command(tests: str) -> str:
    """One shell command: the plain test files in one pytest run, each ``file -k EXPR`` in its own."""
    files, cmds = [], []
    for g in tests.replace(" tests/", "\ntests/").split("\n"):
        if " -k " in g:
            cmds.append(f"{_PYTEST} {g}")
        else:
            files.append(g)
    if files:
        cmds.insert(0, f"{_PYTEST} {' '.join(files)}")
    return "bash -c '" + " && ".join(cmds) + "'"  # cosmic-ray splits the command with shlex: no shell otherwise


def _run_session(src: Path, module: str, tests: str, tag: str, sample: int, seed: int, timeout: float) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    cfg = OUT / f"{module}-{tag}.toml"
    db = OUT / f"{module}-{tag}.sqlite"
    if db.exists():
        db.unlink()
    cfg.write_text(
        "[cosmic-ray]\n"
        f'module-path = "numerics/{module}.py"\n'
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(_command(tests))}\n"
        "\n[cosmic-ray.distributor]\nname = \"local\"\n"
    )
    env = dict(os.environ, PYTHONPATH=str(src), JAX_PLATFORMS="cpu",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cr = str(Path(sys.executable).with_name("cosmic-ray"))
    # the unmutated module must pass its tests in the copy, or every mutant would count as killed
    base = subprocess.run(shlex.split(_command(tests)), cwd=src, env=env, capture_output=True, text=True)
    if base.returncode != 0:
        raise RuntimeError(f"{module} ({tag}): the tests fail without a mutant:\n{base.stdout[-2000:]}")
    subprocess.run([cr, "init", str(cfg), str(db)], cwd=src, env=env, check=True)
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        items = sorted(wdb.work_items, key=lambda w: w.job_id)
        keep = set(w.job_id for w in items)
        if sample and len(items) > sample:
            # the same mutants before and after: sample by a seeded shuffle of the sorted job descriptions
            desc = sorted(items, key=lambda w: json.dumps([[str(m.module_path), m.operator_name, m.occurrence,
                                                            list(m.start_pos)] for m in w.mutations]))
            random.Random(seed).shuffle(desc)
            keep = set(w.job_id for w in desc[:sample])
            skip = [w.job_id for w in items if w.job_id not in keep]
            wdb.set_multiple_results(skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    subprocess.run([cr, "exec", str(cfg), str(db)], cwd=src, env=env, check=True)
    out = {"killed": [], "survived": [], "total_mutants": len(items), "sampled": len(keep)}
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        by_id = {w.job_id: w for w in wdb.work_items}
        for job_id, res in wdb.results:
            if job_id not in keep:
                continue
            w = by_id[job_id]
            m = w.mutations[0]
            key = f"{m.operator_name} #{m.occurrence} at line {m.start_pos[0]}"
            if res.worker_outcome != WorkerOutcome.NORMAL:
                out["killed"].append((key, f"worker: {res.worker_outcome.value}"))
            elif res.test_outcome.value == "survived":
                out["survived"].append((key, res.diff or ""))
            else:
                out["killed"].append((key, res.test_outcome.value))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python mutation/run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modules", nargs="*", default=list(CORE), choices=list(CORE))
    p.add_argument("--sample", type=int, default=25, help="mutants per module (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per test command")
    a = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    src = OUT / "src"
    _copy_tree(src)
    lines = ["# Mutation testing (cosmic-ray)", "",
             f"Sample: {a.sample or 'all'} mutants per module (seed {a.seed}); "
             "score = killed / (killed + survived).", ""]
    for module in a.modules:
        before, new = CORE[module]
        res_b = _run_session(src, module, before, "before", a.sample, a.seed, a.timeout)
        res_a = _run_session(src, module, f"{before} {new}", "after", a.sample, a.seed, a.timeout)
        lines.append(f"## numerics/{module}.py ({res_b['total_mutants']} mutants, {res_b['sampled']} run)")
        for tag, r in (("before", res_b), ("after", res_a)):
            n = len(r["killed"]) + len(r["survived"])
            score = len(r["killed"]) / n if n else float("nan")
            lines.append(f"- {tag}: {len(r['killed'])}/{n} killed ({score:.0%})")
        lines.append("")
        for key, diff in res_a["survived"]:
            lines += [f"### survives after: {key}", "```diff", diff.strip(), "```", ""]
        killed_new = sorted(set(k for k, _ in res_b["survived"]) - set(k for k, _ in res_a["survived"]))
        if killed_new:
            lines += ["Killed only by the new tests: " + "; ".join(killed_new), ""]
        (OUT / "report.md").write_text("\n".join(lines))
        print("\n".join(lines[-12:]), flush=True)
    print(f"report: {OUT / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
