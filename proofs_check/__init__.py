"""Verification of every MODEL.md result, symbolically and numerically (``python -m proofs_check``)."""

from .registry import CLAIMS as CLAIMS, claim as claim, load_all as load_all, run_claims as run_claims
