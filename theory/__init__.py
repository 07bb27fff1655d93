"""Multi-SPIN theory in SymPy: the closed forms, KKT systems and sign arguments (MODEL.md section 3).

One module per equation family, with the same names as in :mod:`numerics`. This module only
re-exports; every function returns SymPy expressions (or SymPy's sign decision) built from
the symbols of :mod:`theory.symbols`.

Examples
--------
>>> import theory
>>> theory.expected_tokens()
(alpha**(L + 1) - 1)/(alpha - 1)
"""

from . import symbols as symbols, tokens as tokens, channel as channel, latency as latency
from .symbols import in_unit_interval as in_unit_interval, user_symbols as user_symbols
from .tokens import (
    accepted_pmf as accepted_pmf,
    accepted_variance as accepted_variance,
    expected_accepted as expected_accepted,
    expected_tokens as expected_tokens,
    expected_tokens_positional as expected_tokens_positional,
    marginal_tokens as marginal_tokens,
    tokens_limit as tokens_limit,
)
from .channel import (
    rate as rate,
    rate_linear as rate_linear,
    rate_shannon as rate_shannon,
    shannon_share_for_rate as shannon_share_for_rate,
    linear_share_for_rate as linear_share_for_rate,
)
from .latency import (
    per_token_latency as per_token_latency,
    verification_latency as verification_latency,
    batch_size as batch_size,
    round_time as round_time,
    goodput as goodput,
)
# -- later modules (homogeneous, heterogeneous, ...): one line each, added below by their issue
