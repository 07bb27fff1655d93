"""``python -m proofs_check [ID ...]``: run the checks, print a table, exit 1 on any failure."""

from __future__ import annotations

import argparse
import sys

from .registry import load_all, run_claims


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m proofs_check",
                                description="Run the derivation checks; print a table; exit 1 on any failure.")
    p.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    argv = p.parse_args(argv).ids
    claims = load_all()
    unknown = [a for a in argv if a not in claims]
    if unknown:
        print(f"unknown claim id {unknown[0]!r}; known: {', '.join(sorted(claims))}", file=sys.stderr)
        return 2
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
