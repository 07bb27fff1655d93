"""The registry of claims: each docs/model.md result with a symbolic and a numeric check.

A claim module (``proofs_check/claims_<family>.py``) registers functions with
:func:`claim`. A check function returns ``None`` (or a short detail string) on success and
raises ``AssertionError`` (or any exception) on failure. ``symbolic`` may be ``None`` where
SymPy cannot decide; the numeric check is mandatory and must use seeded randomness.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
import traceback
from collections.abc import Callable

__all__ = ["CLAIMS", "CheckResult", "Claim", "claim", "load_all", "run_claims"]


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    numeric: Callable[[], str | None]
    symbolic: Callable[[], str | None] | None = None


CLAIMS: dict[str, Claim] = {}


def claim(id: str, statement: str, symbolic: Callable[[], str | None] | None = None):
    """Decorator registering the decorated function as the numeric check of claim ``id``."""

    def deco(numeric: Callable[[], str | None]):
        if id in CLAIMS:
            raise ValueError(f"claim id {id!r} is registered twice")
        CLAIMS[id] = Claim(id, statement, numeric, symbolic)
        return numeric

    return deco


def load_all() -> dict[str, Claim]:
    """Import every ``proofs_check.claims_*`` module (which registers its claims)."""
    import proofs_check

    for mod in sorted(pkgutil.iter_modules(proofs_check.__path__), key=lambda m: m.name):
        if mod.name.startswith("claims_"):
            importlib.import_module(f"proofs_check.{mod.name}")
    return CLAIMS


@dataclasses.dataclass(frozen=True)
class CheckResult:
    claim_id: str
    method: str  # 'symbolic' | 'numeric'
    ok: bool
    seconds: float
    detail: str


def _run(fn: Callable[[], str | None]) -> tuple[bool, float, str]:
    t0 = time.perf_counter()
    try:
        detail = fn() or ""
        ok = True
    except Exception as exc:  # a failing check is a result, not a crash
        ok = False
        detail = f"{type(exc).__name__}: {exc}".strip()
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            detail += f" (at {tb[-1].filename.split('/')[-1]}:{tb[-1].lineno})"
    return ok, time.perf_counter() - t0, detail


def run_claims(ids: list[str] | None = None) -> list[CheckResult]:
    """Run the symbolic and numeric checks of the selected claims (all by default)."""
    claims = load_all()
    selected = [claims[i] for i in ids] if ids else [claims[k] for k in sorted(claims, key=_order)]
    results = []
    for c in selected:
        if c.symbolic is not None:
            ok, sec, det = _run(c.symbolic)
            results.append(CheckResult(c.id, "symbolic", ok, sec, det))
        ok, sec, det = _run(c.numeric)
        results.append(CheckResult(c.id, "numeric", ok, sec, det))
    return results


def _order(cid: str) -> tuple:
    """Ingredients first, then H1..H4, D1..D7, then the rest, alphabetically within."""
    head = cid.split("-")[0]
    rank = {"H": 1, "D": 2}.get(head[:1], 0 if not head[:1].isupper() else 3)
    if head[:1] in "HD" and head[1:].isdigit():
        return (rank, int(head[1:]), cid)
    return (rank if rank != 3 else 0, 0, cid)
