"""Multi-SPIN theory in SymPy: the closed forms, KKT systems and sign arguments (docs/model.md section 3).

One module per equation family, with the same names as in :mod:`numerics`. This module only
re-exports; every function returns SymPy expressions (or SymPy's sign decision) built from
the symbols of :mod:`theory.symbols`.

Examples
--------
>>> import theory
>>> theory.expected_tokens()
(alpha**(L + 1) - 1)/(alpha - 1)
"""

from . import channel, latency, symbols, tokens
from .channel import linear_share_for_rate, rate, rate_linear, rate_shannon, shannon_share_for_rate
from .latency import batch_size, goodput, per_token_latency, round_time, verification_latency
from .symbols import in_unit_interval, user_symbols
from .tokens import (
    accepted_pmf,
    accepted_variance,
    expected_accepted,
    expected_tokens,
    expected_tokens_positional,
    marginal_tokens,
    tokens_limit,
)

# -- later modules (homogeneous, heterogeneous, ...): import above, and add the names below

# The public names (the imports above keep them by family, one module each); ruff (RUF022) keeps
# this list sorted.
__all__ = [
    "accepted_pmf",
    "accepted_variance",
    "batch_size",
    "channel",
    "expected_accepted",
    "expected_tokens",
    "expected_tokens_positional",
    "goodput",
    "in_unit_interval",
    "latency",
    "linear_share_for_rate",
    "marginal_tokens",
    "per_token_latency",
    "rate",
    "rate_linear",
    "rate_shannon",
    "round_time",
    "shannon_share_for_rate",
    "symbols",
    "tokens",
    "tokens_limit",
    "user_symbols",
    "verification_latency",
]
