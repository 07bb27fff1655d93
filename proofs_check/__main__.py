"""``python -m proofs_check [ID ...]``: run the checks, print a table, exit 1 on any failure.

Errors follow the command line's contract (:func:`numerics.cli_common.run_guarded`): an
unknown claim id or a bad argument is one line on stderr and exit 2, output into a closed
pipe ends quietly, never a traceback.
"""

from __future__ import annotations

import sys

from numerics.cli_common import ArgumentParser, run_guarded

from .registry import load_all, run_claims


def main(argv: list[str] | None = None, prog: str = "python -m proofs_check") -> int:
    """Run the claims (all, or the ids in ``argv``); returns the exit code. ``prog`` names the
    program in messages (``multispin check`` when run by ``multispin``)."""
    return run_guarded("", lambda: _main(argv, prog), program=prog)


def _main(argv: list[str] | None, prog: str) -> int:
    p = ArgumentParser(prog=prog, description="Run the derivation checks; print a table; exit 1 on any failure.")
    p.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    try:
        argv = p.parse_args(argv).ids
    except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
        return int(exc.code or 0)
    claims = load_all()
    unknown = [a for a in argv if a not in claims]
    if unknown:
        raise ValueError(f"unknown claim id {unknown[0]!r}; known: {', '.join(sorted(claims))}")
    results = run_claims(argv or None)
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
