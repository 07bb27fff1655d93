"""Shared test configuration: float64, hypothesis profiles, warnings as errors (pyproject).

Hypothesis profiles (select with the environment variable ``MULTISPIN_HYPOTHESIS_PROFILE``):

- ``ci`` (default): deterministic (``derandomize=True``: the same examples on every run and
  every machine), 60 examples per property, no deadline (the shared CI machine is noisy);
- ``explore``: random examples (a new seed each run, failures saved in ``.hypothesis/`` and
  replayed first), 600 examples per property, for hunting counterexamples by hand:
  ``MULTISPIN_HYPOTHESIS_PROFILE=explore make test``.

Property tests should not set ``max_examples`` themselves (an explicit setting overrides the
profile, so ``explore`` could not widen them); ``tests/test_hygiene.py`` enforces it.
"""

import os

from hypothesis import HealthCheck, settings

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

#: the environment variable that selects the hypothesis profile
PROFILE_ENV = "MULTISPIN_HYPOTHESIS_PROFILE"
PROFILES = {"ci": dict(derandomize=True, max_examples=60), "explore": dict(derandomize=False, max_examples=600)}

for _name, _kw in PROFILES.items():
    settings.register_profile(_name, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True,
                              **_kw)

_profile = os.environ.get(PROFILE_ENV, "ci")
if _profile not in PROFILES:
    raise ValueError(f"{PROFILE_ENV} must be one of {sorted(PROFILES)}, got {_profile!r}")
settings.load_profile(_profile)
