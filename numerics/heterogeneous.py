r"""Heterogeneous draft lengths: the D1-D7 optimum of MODEL.md, with a certificate.

.. math::

    \max_{L \in \{0..L_{max}\}^K,\ \beta \in \Delta}\;
    G = \frac{\sum_k A(\alpha_k, L_k)}{\max_k L_k h_k(\beta_k) + T_v(n) + T_o},
    \qquad h_k(\beta) = t_k + s_k / r_k(\beta).

Steps (derivations in :mod:`theory.heterogeneous`):

1. Continuous relaxation (:mod:`numerics.heterogeneous_outer`): the drafting deadline tau
   decouples the users (D1); at fixed tau the band problem is concave (D2) and its KKT
   system is solved per user in closed form with W_0 for the linear rate, by a vectorised
   safeguarded Newton method otherwise, with one monotone root for the band multiplier
   lambda (D3, :mod:`numerics.heterogeneous_kkt`); the outer search over tau uses the
   envelope derivative (D5) and, for v1 > 0, Dinkelbach's ratio (D6, ragged batching) or a
   search over the common cap (padded batching). Its certificate is a Lagrangian bound that
   holds whatever the search found.
2. Integer draft lengths (:mod:`numerics.heterogeneous_integer`, D7): for a fixed vector L
   the best shares equalise finishing times; small systems are enumerated exactly, large
   ones get rounding, a greedy knapsack around the continuous deadline and a local search.
   The reported shares are :func:`numerics.allocation.equal_finish_allocation` of the chosen
   L and the goodput is :func:`numerics.latency.goodput`.

Every answer reports ``upper_bound`` (a certified bound on the optimum of the problem solved)
and ``gap`` = (upper_bound - goodput) / upper_bound. For ``integer=False`` the relaxation is
the smooth one of MODEL.md (A(alpha, L) at real L, D3's closed form). Integer answers are
certified by the piecewise-linear relaxation instead (A interpolated linearly between
integers, the concave envelope of its integer points): it is still a relaxation of the
integer problem, and tighter, since the smooth A lies above its chords (by about 0.5% at
L ~ 2-3, alpha ~ 0.7); its solution also seeds the rounding. Position-dependent profiles use
the piecewise-linear A in both cases.
"""

from __future__ import annotations

import numpy as np

from .allocation import equal_finish_allocation
from .heterogeneous_equal import equal_heterogeneous
from .heterogeneous_integer import ENUM_LIMIT, integer_search, n_vectors
from .heterogeneous_kkt import Users
from .heterogeneous_outer import relax
from .latency import goodput, round_time
from .scenario import Scenario
from .solution import Solution

__all__ = ["solve_heterogeneous", "equal_heterogeneous"]

#: the integer goodput may exceed the certified bound by round-off only
_CERT_TOL = 1e-9


def _check(scenario: Scenario) -> None:
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.v0 + scenario.overhead + scenario.v1 == 0:
        raise ValueError("v0 + overhead + v1 must be > 0, got 0 (the goodput would be unbounded)")


def solve_heterogeneous(scenario: Scenario, integer: bool = True) -> Solution:
    r"""The heterogeneous optimum (MODEL.md D1-D7): per-user draft lengths and band shares.

    Parameters
    ----------
    scenario : Scenario
        Any scenario: both rate models, both batching modes, v1 >= 0, users with s_k = 0 or
        t_k = 0, position-dependent acceptance profiles.
    integer : bool
        True (default): integer draft lengths in [0, max_draft] (exact by enumeration when
        the number of length vectors is at most
        :data:`numerics.heterogeneous_integer.ENUM_LIMIT`, else rounding plus local search).
        False: the continuous relaxation; ``draft_lengths`` is then a float array (non-integer
        lengths; for a position-dependent profile A is interpolated linearly between
        integers, as in :func:`numerics.tokens.expected_tokens_positional`).

    Returns
    -------
    Solution
        ``name`` 'heterogeneous'; ``draft_lengths``, ``bandwidth`` (sums to 1 when a user
        uploads, never above), ``goodput`` and ``round_time`` of that point
        (:func:`numerics.latency.goodput`); ``upper_bound``: the certified bound on the
        continuous optimum (hence on the integer one); ``gap`` = (upper_bound - goodput) /
        upper_bound. ``multipliers``: ``lambda`` (band multiplier of the continuous optimum,
        per unit of share), ``tau`` (its drafting deadline), ``dinkelbach_ratio`` (ragged,
        v1 > 0), ``padded_cap`` (padded, v1 > 0), ``continuous_goodput``, ``method``
        ('continuous', 'enumeration' or 'rounding+local-search') and ``unimodal_check``
        (the outer search saw no violation of the quasi-concavity of G(tau)).

    Raises
    ------
    ValueError
        ``scenario`` is not a Scenario; ``integer`` is not a bool; v0 + overhead + v1 = 0
        (the goodput would be unbounded: rounds of vanishing length).
    RuntimeError
        The integer goodput exceeds the certified bound (a defect, never seen).

    Examples
    --------
    >>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.002, bits_per_token=100, bandwidth_hz=1e5,
    ...              spectral_efficiency=[2.0, 1.0], v0=0.03, max_draft=8)
    >>> sol = solve_heterogeneous(s)
    >>> sol.draft_lengths.tolist(), round(sol.gap, 3)
    ([5, 3], 0.0)
    """
    _check(scenario)
    if not isinstance(integer, (bool, np.bool_)):
        raise ValueError(f"integer must be a bool, got {integer!r}")
    users = Users.from_scenario(scenario)
    # integer answers are certified by the piecewise-linear relaxation (A interpolated between
    # integers: tighter than the smooth A); integer=False solves the smooth one (D3)
    R = relax(scenario, users.piecewise() if integer else users)
    mult = {"lambda": float(R.lam), "tau": float(R.tau), "continuous_goodput": float(R.value),
            "unimodal_check": bool(R.unimodal_check)}
    if R.ratio is not None:
        mult["dinkelbach_ratio"] = float(R.ratio)
    if R.cap is not None:
        mult["padded_cap"] = float(R.cap)
    ub = float(R.upper_bound)
    if not integer:
        L = np.minimum(R.L, scenario.max_draft)
        beta = R.beta
        mult["method"] = "continuous"
        G = goodput(scenario, L, beta, continuous=True)
        T = round_time(scenario, L, beta, continuous=True)
    else:
        # the equal-band optimum is a candidate too (exact, cheap): heterogeneous >= equal-heterogeneous
        eq = equal_heterogeneous(scenario) if n_vectors(users) > ENUM_LIMIT else None
        L_f, _, method = integer_search(scenario, users, R, extra=None if eq is None else [eq.draft_lengths])
        L = L_f.astype(np.int64)
        beta, _ = equal_finish_allocation(scenario, L)
        mult["method"] = method
        G = goodput(scenario, L, beta)
        T = round_time(scenario, L, beta)
    if G > ub * (1 + _CERT_TOL):
        raise RuntimeError(f"goodput {G!r} exceeds the certified upper bound {ub!r}")
    ub = max(ub, G)
    gap = max(0.0, (ub - G) / ub)
    return Solution(name="heterogeneous", draft_lengths=L, bandwidth=beta, goodput=G, round_time=T,
                    upper_bound=ub, gap=gap, multipliers=mult)
