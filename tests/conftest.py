"""Shared test configuration: float64, deterministic hypothesis profile, warnings as errors (pyproject)."""

import os

import numpy as np
from hypothesis import HealthCheck, settings

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "ci",
    derandomize=True,  # seeded: the same examples every run
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

