"""Verification of every docs/model.md result, symbolically and numerically (``python -m proofs_check``)."""

from .registry import CLAIMS as CLAIMS
from .registry import claim as claim
from .registry import load_all as load_all
from .registry import run_claims as run_claims
