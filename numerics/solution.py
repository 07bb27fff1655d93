"""The result type of every solver and baseline (docs/model.md section 6), and the error a solver raises."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["Solution", "SolverError"]


class SolverError(RuntimeError):
    """A step of a solver failed (a defect: never expected for a valid scenario).

    Attributes
    ----------
    step : str
        The step that failed (e.g. 'inner band problem', 'certificate').
    detail : str
        What went wrong.
    where : str or None
        Where the input came from (a scenario file), when the caller knows it.

    ``str(err)`` is one line: ``[where: ]step: detail``.
    """

    def __init__(self, step: str, detail: str, where: str | None = None):
        self.step, self.detail, self.where = step, detail, where
        super().__init__((f"{where}: " if where else "") + f"{step}: {detail}")


@dataclasses.dataclass(frozen=True, eq=False)
class Solution:
    """An operating point (L, beta) with its goodput and optimality certificate.

    Attributes
    ----------
    name : str
        Which solver or baseline produced it ('homogeneous', 'heterogeneous', 'equal-best', ...).
    draft_lengths : ndarray of int, shape (K,)
        L_k.
    bandwidth : ndarray, shape (K,)
        Band shares beta_k, sum <= 1.
    goodput : float
        Sum token goodput G [tokens/s].
    round_time : float
        T [s].
    upper_bound : float
        An upper bound on the optimal goodput of the solver's problem (the continuous
        relaxation for integer solves; the goodput itself for exact solves).
    gap : float
        Relative gap (upper_bound - goodput) / upper_bound, >= 0.
    multipliers : dict
        Multipliers and auxiliary optima the solver found (theta, lambda, tau, ...).
    method : str
        How the answer was obtained, e.g. 'enumeration', 'branch-and-bound' or 'local-search'
        (integer heterogeneous), 'continuous' (its relaxation), 'exact' (closed forms and
        exact searches); '' where not stated.
    """

    name: str
    draft_lengths: np.ndarray
    bandwidth: np.ndarray
    goodput: float
    round_time: float
    upper_bound: float
    gap: float
    multipliers: dict[str, Any] = dataclasses.field(default_factory=dict)
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        def conv(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, (np.floating, np.integer)):
                return v.item()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            return v
        return {f.name: conv(getattr(self, f.name)) for f in dataclasses.fields(self)}
