"""The checks are themselves checked: every planted fault of proofs_check.planted is caught by a claim.

``run_planted`` plants each fault in ``theory`` (in memory), runs the symbolic checks of the
claims (the fault's own first) and restores ``theory``; here every fault must be caught, the
faults must cover every result of docs/model.md, and ``theory`` must come back intact.
"""

from __future__ import annotations

import importlib

import pytest
import sympy as sp

from proofs_check.planted import FAULTS, Fault, call_graph, callers, planted, probe, report_text, run_planted

RESULTS = {"ingredient", *(f"H{i}" for i in range(1, 5)), *(f"D{i}" for i in range(1, 8))}


@pytest.fixture(scope="module")
def results():
    return run_planted(FAULTS)


def test_every_planted_fault_is_caught(results):
    missed = [(r.fault.id, r.details) for r in results if not r.caught_by]
    assert not missed, report_text(results)
    for r in results:  # caught by an assertion of a check, not by a crash of the mutation
        assert r.details and "invalid fault" not in r.details[0], r.details


def test_faults_cover_every_result():
    assert len(FAULTS) >= 20
    assert RESULTS <= {f.result for f in FAULTS}
    assert len({f.id for f in FAULTS}) == len(FAULTS)
    # the faults issue 11 names
    ids = {f.id for f in FAULTS}
    assert {"D1-fill-product", "D3-beta-sign-of-s", "latency-assumption-typo", "fading-remaining-time"} <= ids


def test_theory_is_restored(results):
    import theory.heterogeneous as TH
    import theory.latency as tlat

    assert tlat.RATE_ASSUMPTIONS["d2R"] == {"nonpositive": True}
    d1 = TH.deadline_fill()["draft_length"]
    h = TH.deadline_fill()["per_token_latency"]
    assert sp.simplify(d1 - sp.Min(TH.L_max, TH.tau / h)) == 0
    for f in FAULTS:
        modname, _, name = f.target.rpartition(".")
        obj = getattr(importlib.import_module(modname), name)
        assert getattr(obj, "__wrapped__", None) is None or hasattr(obj, "cache_clear"), f.target


def test_an_invalid_fault_is_not_counted_as_caught():
    noop = Fault("noop", "D1", "theory.heterogeneous.deadline_fill", "draft_length", lambda v, d, a: v, ("D1",), "x")
    assert probe(noop) == "the planted value equals the original"
    crash = Fault("crash", "D1", "theory.heterogeneous.deadline_fill", "draft_length", lambda v, d, a: 1 / 0, ("D1",),
                  "x")
    assert probe(crash).startswith("the mutation raises ZeroDivisionError")
    (r,) = run_planted((noop,))
    assert r.caught_by == () and "INVALID" in report_text([r])


def test_planting_clears_the_caches_of_the_callers():
    graph = call_graph()
    assert "theory.heterogeneous.kkt_closed_form" in callers("theory.tokens.expected_tokens", graph)
    import theory.tokens as ttok

    f = next(x for x in FAULTS if x.id == "tokens-exponent")
    good = ttok.marginal_tokens()
    with planted(f, graph):
        assert ttok.marginal_tokens() != good  # re-derived from the faulty A, not served from the cache
    assert ttok.marginal_tokens() == good


@pytest.mark.slow
def test_full_matrix_every_claim_for_every_fault():
    """Slow: the symbolic check of every claim under every fault (``--planted --every-claim``)."""
    res = run_planted(FAULTS, every_claim=True)
    assert all(r.caught_by for r in res), report_text(res)
    # the fault's own claims are among those that catch it
    for r in res:
        assert set(r.fault.claims) & set(r.caught_by), (r.fault.id, r.caught_by)
