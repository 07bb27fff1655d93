"""Test hygiene (issue 11, item 5): property tests use the profile's example count, long sweeps are
marked slow (so ``make test-slow`` runs something), no skip guard waits for code that exists."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _sources():
    return {p.name: p.read_text() for p in sorted(TESTS.glob("test_*.py"))}


def test_no_property_test_below_60_examples():
    """A literal ``max_examples=N`` overrides the profile (``explore`` could not widen it); N < 60 is below the
    floor issue 11 sets for key property tests. Forms like ``max(N, settings.default.max_examples)`` are fine."""
    low = [(name, int(m.group(1))) for name, src in _sources().items()
           for m in re.finditer(r"max_examples\s*=\s*(\d+)", src) if int(m.group(1)) < 60]
    assert not low, low


def test_slow_tests_exist():
    marked = [name for name, src in _sources().items() if "pytest.mark.slow" in src]
    assert marked, "no test is marked slow: `make test-slow` would collect nothing (pytest exit 5)"


def test_no_skip_guard_for_available_code():
    stale = [name for name, src in _sources().items() if re.search(r"skipif\(.*not available yet", src)]
    assert not stale, stale


def test_ci_profile_is_deterministic():
    from hypothesis import settings

    from tests.conftest import PROFILES

    assert PROFILES["ci"]["derandomize"] is True and PROFILES["ci"]["max_examples"] >= 60
    assert PROFILES["explore"]["derandomize"] is False and PROFILES["explore"]["max_examples"] > 60
    assert settings.get_profile("ci").derandomize is True
