"""Baselines against which the Multi-SPIN gains are reported (MODEL.md section 3, "Baselines").

- ``autoregressive``: no drafting; the server makes one token per user per pass,
  G = K / (T_v(K) + T_o) (L = 0, beta = 0).
- ``equal-fixed``: beta_k = 1/K, one fixed common L (default 4, clipped to max_draft).
- ``equal-best``: beta_k = 1/K, the best common L (H4 search at the per-token makespan
  theta = max_k h_k(1/K): :func:`numerics.homogeneous.best_common_length`).
- ``equal-heterogeneous``: beta_k = 1/K, per-user L_k (``numerics.heterogeneous``).
- ``homogeneous``: the H1-H4 optimum (:func:`numerics.homogeneous.solve_homogeneous`).
- ``heterogeneous``: the D1-D7 optimum (``numerics.heterogeneous.solve_heterogeneous``).

The fixed-policy baselines are evaluated exactly: upper_bound = goodput, gap = 0.
"""

from __future__ import annotations

import inspect

import numpy as np

from .homogeneous import best_common_length, solve_homogeneous
from .latency import goodput, per_token_latency, round_time
from .scenario import Scenario
from .solution import Solution
from .validation import as_choice, as_int, as_scenario, check_keywords

__all__ = ["BASELINES", "baseline"]

#: every baseline name, in the order of MODEL.md section 3
BASELINES = ("autoregressive", "equal-fixed", "equal-best", "equal-heterogeneous", "homogeneous", "heterogeneous")

#: the common draft length of ``equal-fixed`` unless ``L`` is given
DEFAULT_FIXED_L = 4


def _exact(name: str, scenario: Scenario, L: np.ndarray, beta: np.ndarray, **mult) -> Solution:
    G = goodput(scenario, L, beta)
    return Solution(name=name, draft_lengths=L, bandwidth=beta, goodput=G,
                    round_time=round_time(scenario, L, beta), upper_bound=G, gap=0.0, multipliers=mult)


def _no_kwargs(name: str, kw: dict, allowed: tuple[str, ...] = ()) -> None:
    check_keywords(f"baseline {name!r}", kw, allowed)


def baseline(scenario: Scenario, name: str, **kw) -> Solution:
    """Operating point and goodput of the baseline ``name`` (MODEL.md section 3).

    Parameters
    ----------
    scenario : Scenario
    name : str
        One of :data:`BASELINES`.
    **kw
        ``equal-fixed``: ``L`` (integer >= 1, default 4; clipped to max_draft).
        ``heterogeneous``: passed to ``solve_heterogeneous`` (e.g. ``integer``).
        The other baselines take none.

    Returns
    -------
    Solution
        ``name`` as given. ``equal-best`` reports multipliers 'theta' (the per-token
        makespan max_k h_k(1/K)), 'L_continuous' and 'L_method'.

    Raises
    ------
    ValueError
        Unknown ``name``; an unexpected keyword; ``L`` not an integer >= 1. (Every goodput
        is finite: the Scenario guarantees v0 + v1 K + overhead >= 1e-12 s,
        :data:`numerics.validation.MIN_ROUND_TIME`.)

    Examples
    --------
    >>> sc = Scenario(alpha=0.8, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0,
    ...               spectral_efficiency=1.0, v0=0.5)
    >>> baseline(sc, 'autoregressive').goodput   # K / T_v(K)
    2.0
    """
    scenario = as_scenario(scenario)
    name = as_choice("name", name, BASELINES)
    K = scenario.n_users
    if name == "heterogeneous":  # lazy: another issue's module
        from .heterogeneous import solve_heterogeneous

        params = list(inspect.signature(solve_heterogeneous).parameters.values())[1:]  # after the scenario
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            _no_kwargs(name, kw, tuple(p.name for p in params))
        return solve_heterogeneous(scenario, **kw)
    if name == "equal-heterogeneous":
        _no_kwargs(name, kw)
        from .heterogeneous import equal_heterogeneous

        return equal_heterogeneous(scenario)
    if name == "homogeneous":
        _no_kwargs(name, kw)
        return solve_homogeneous(scenario)
    if name == "autoregressive":
        _no_kwargs(name, kw)
        return _exact(name, scenario, np.zeros(K, dtype=np.int64), np.zeros(K))
    equal = np.full(K, 1.0 / K)
    if name == "equal-fixed":
        L = kw.pop("L", DEFAULT_FIXED_L)
        _no_kwargs(name, kw, ("L",))
        L_fixed = as_int("L", L, low=1)
        L_used = min(L_fixed, scenario.max_draft)
        return _exact(name, scenario, np.full(K, L_used, dtype=np.int64), equal, L_requested=L_fixed)
    # equal-best: the H4 search at the per-token makespan of the equal split
    _no_kwargs(name, kw)
    theta = float(np.max(per_token_latency(scenario, equal)))
    L, Lc, method = best_common_length(scenario, theta)
    return _exact(name, scenario, np.full(K, L, dtype=np.int64), equal, theta=theta,
                  L_continuous=Lc, L_method=method)
