"""``python -m proofs_check [ID ...]``: run the derivation checks of the model's results and print a table.

Exit status: 0 when every check passes, 1 on any failure (or, with ``--planted``, any planted
fault that no claim catches), 2 for an unknown claim id or a bad argument. Errors follow the
command line's contract (:func:`numerics.cli_common.run_guarded`): one line on stderr, output
into a closed pipe ends quietly, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from numerics.cli_common import ArgumentParser, run_guarded

from .registry import load_all, run_claims


def _parser(prog: str) -> argparse.ArgumentParser:
    p = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="*", metavar="ID", help="claim ids to run (default: all)")
    p.add_argument("--planted", action="store_true",
                   help="plant each fault of proofs_check.planted in theory (in memory) and report which claims "
                        "catch it; exit 1 if one is not caught")
    p.add_argument("--every-claim", action="store_true",
                   help="with --planted: run every claim's symbolic check for every fault (the full matrix; slow)")
    p.add_argument("--ties", action="store_true",
                   help="print the tie table (theory expression -> numeric code -> test, or the reason for none)")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m proofs_check") -> int:
    """Run the claims (all, or the ids in ``argv``); returns the exit code. ``prog`` names the
    program in messages (``multispin check`` when run by ``multispin``)."""
    return run_guarded("", lambda: _main(sys.argv[1:] if argv is None else argv, prog), program=prog)


def _main(argv: list[str], prog: str) -> int:
    try:
        a = _parser(prog).parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
        return int(exc.code or 0)
    claims = load_all()
    if a.ties:
        from .ties import table_text

        print(table_text())
        return 0
    if a.planted:
        from .planted import FAULTS, report_text, run_planted

        results = run_planted(FAULTS, every_claim=a.every_claim)
        print(report_text(results))
        return 1 if any(not r.caught_by for r in results) else 0
    unknown = [i for i in a.ids if i not in claims]
    if unknown:
        raise ValueError(f"unknown claim id {unknown[0]!r}; known: {', '.join(sorted(claims))}")
    results = run_claims(a.ids or None)
    w = max([len(r.claim_id) for r in results] + [5])
    print(f"{'claim':<{w}}  {'method':<8}  {'result':<6}  {'seconds':>8}  detail")
    print("-" * (w + 40))
    for r in results:
        print(f"{r.claim_id:<{w}}  {r.method:<8}  {'ok' if r.ok else 'FAIL':<6}  {r.seconds:8.3f}  {r.detail}")
    failed = [r for r in results if not r.ok]
    n_claims = len({r.claim_id for r in results})
    print(f"\n{n_claims} claims, {len(results)} checks, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
