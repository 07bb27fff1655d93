"""The scenario: every parameter of one Multi-SPIN system (MODEL.md sections 2 and 6).

A :class:`Scenario` is a frozen dataclass. Per-user fields are 1-D float64 arrays of length
K (scalars broadcast); ``alpha`` may also be a (K, max_draft) array of position-dependent
acceptance probabilities. Validation runs at construction and raises ``ValueError`` naming
the field and the offending value, before any computation.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["Scenario", "RATE_MODELS", "BATCHING_MODES"]

RATE_MODELS = ("linear", "shannon")
BATCHING_MODES = ("ragged", "padded")

#: per-user fields (1-D arrays of length K after construction)
_PER_USER = ("alpha", "t_draft", "bits_per_token", "spectral_efficiency", "snr")
#: non-negative finite system scalars
_NONNEG_SCALARS = ("v0", "v1", "overhead")


def _fmt(value: Any) -> str:
    """Short repr of a bad value for error messages."""
    arr = np.asarray(value) if not isinstance(value, str) else value
    if isinstance(arr, np.ndarray) and arr.size > 6:
        return f"array of shape {arr.shape}"
    return repr(value.tolist() if isinstance(value, np.ndarray) else value)


def _as_float_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be a number or an array of numbers, got {_fmt(value)}")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {_fmt(value)}") from None
    return arr


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> float:
    return float(arr[bad].flat[0])


def read_toml(path: str | Path) -> dict[str, Any]:
    """The table of a scenario file; ``ValueError`` with one clear line for a missing file,
    a TOML syntax error (with its line and column) or a file that is not UTF-8 text."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"scenario file {str(path)!r} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"scenario file {str(path)!r}: TOML syntax error: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"scenario file {str(path)!r} is not UTF-8 text: {exc}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class Scenario:
    """A Multi-SPIN system: K users, one FDMA uplink, one edge verifier.

    Parameters
    ----------
    alpha : float or array (K,) or (K, max_draft)
        Per-token acceptance probability alpha_k in [0, 1), or a position-dependent profile
        (row k holds alpha_{k,1..max_draft}).
    t_draft : float or array (K,)
        Draft time per token t_k >= 0 [s].
    bits_per_token : float or array (K,)
        Upload payload per draft token s_k >= 0 [bit].
    bandwidth_hz : float
        Total uplink band B > 0 [Hz].
    v0 : float
        Verification latency of a batch, constant part [s], >= 0.
    rate_model : {'linear', 'shannon'}
        ``linear``: r = beta B eta; ``shannon``: r = beta B log2(1 + rho / beta).
    spectral_efficiency : float or array (K,), optional
        eta_k > 0 [bit/s/Hz]; required by the linear rate model.
    snr : float or array (K,), optional
        rho_k > 0 (linear scale, full-band receive SNR); required by the Shannon model.
    v1 : float
        Verification latency per token in the batch [s], >= 0 (0: memory-bound).
    batching : {'ragged', 'padded'}
        Batch size n = sum_k (L_k + 1) (ragged) or K (max_k L_k + 1) (padded).
    overhead : float
        Fixed per-round overhead T_o >= 0 [s].
    max_draft : int
        Largest draft length L_max >= 1.

    Raises
    ------
    ValueError
        Naming the field and the value, for any parameter outside its domain.

    Examples
    --------
    >>> s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=32, bandwidth_hz=1e5,
    ...              spectral_efficiency=[2.0, 1.0], v0=0.05)
    >>> s.n_users
    2
    >>> Scenario.from_dict(s.to_dict()) == s
    True
    """

    alpha: Any
    t_draft: Any
    bits_per_token: Any
    bandwidth_hz: float
    v0: float
    rate_model: str = "linear"
    spectral_efficiency: Any = None
    snr: Any = None
    v1: float = 0.0
    batching: str = "ragged"
    overhead: float = 0.0
    max_draft: int = 16

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field and normalise arrays (run by the constructor).

        Raises ``ValueError`` naming the field and the value.
        """
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)

        # -- categorical fields
        if self.rate_model not in RATE_MODELS:
            raise ValueError(f"rate_model must be one of {RATE_MODELS}, got {self.rate_model!r}")
        if self.batching not in BATCHING_MODES:
            raise ValueError(f"batching must be one of {BATCHING_MODES}, got {self.batching!r}")

        # -- max_draft: an integer >= 1
        md = self.max_draft
        if isinstance(md, bool) or not isinstance(md, (int, np.integer, float, np.floating)):
            raise ValueError(f"max_draft must be an integer >= 1, got {_fmt(md)}")
        if not (math.isfinite(float(md)) and float(md) == int(md) and int(md) >= 1):
            raise ValueError(f"max_draft must be an integer >= 1, got {_fmt(md)}")
        set_("max_draft", int(md))

        # -- system scalars
        b = _as_float_array("bandwidth_hz", self.bandwidth_hz)
        if b.ndim != 0 or not np.isfinite(b) or b <= 0:
            raise ValueError(f"bandwidth_hz must be a finite number > 0, got {_fmt(self.bandwidth_hz)}")
        set_("bandwidth_hz", float(b))
        for name in _NONNEG_SCALARS:
            raw = getattr(self, name)
            v = _as_float_array(name, raw)
            if v.ndim != 0 or not np.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {_fmt(raw)}")
            set_(name, float(v))

        # -- channel parameter required by the rate model
        needed = "spectral_efficiency" if self.rate_model == "linear" else "snr"
        if getattr(self, needed) is None:
            raise ValueError(f"{needed} is required by rate_model={self.rate_model!r}, got None")

        # -- per-user arrays: convert, check shapes, broadcast
        arrays: dict[str, np.ndarray] = {}
        for name in _PER_USER:
            raw = getattr(self, name)
            if raw is None:
                continue
            arr = _as_float_array(name, raw)
            max_ndim = 2 if name == "alpha" else 1
            if arr.ndim > max_ndim:
                raise ValueError(f"{name} must be a scalar or a 1-D array, got an array of shape {arr.shape}")
            if arr.ndim >= 1 and arr.shape[0] == 0:
                raise ValueError(f"{name} has no users (empty array), got {_fmt(raw)}")
            if arr.ndim == 2 and arr.shape[1] != self.max_draft:
                raise ValueError(
                    f"alpha as a position-dependent profile must have max_draft={self.max_draft} "
                    f"columns, got shape {arr.shape}"
                )
            arrays[name] = arr
        lengths = {n: a.shape[0] for n, a in arrays.items() if a.ndim >= 1}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"per-user arrays have different lengths: {lengths}")
        K = next(iter(lengths.values())) if lengths else 1

        for name, arr in arrays.items():
            # value checks (NaN fails every comparison, so test the good set)
            if name == "alpha":
                bad = ~((arr >= 0) & (arr < 1))
                if bad.any():
                    raise ValueError(f"alpha must lie in [0, 1), got {_first_bad(arr, bad)!r}")
            elif name in ("t_draft", "bits_per_token"):
                bad = ~((arr >= 0) & np.isfinite(arr))
                if bad.any():
                    raise ValueError(f"{name} must be finite and >= 0, got {_first_bad(arr, bad)!r}")
            else:  # channel parameters: used ones must be positive, unused ones are still checked
                bad = ~((arr > 0) & np.isfinite(arr))
                if bad.any():
                    raise ValueError(f"{name} must be finite and > 0, got {_first_bad(arr, bad)!r}")
            if arr.ndim == 0:
                arr = np.full(K, float(arr))
            elif arr.ndim == 2 and name == "alpha":
                pass
            arr = np.ascontiguousarray(arr, dtype=np.float64)
            arr.setflags(write=False)
            set_(name, arr)

    # ------------------------------------------------------------------ properties
    @property
    def n_users(self) -> int:
        """Number of users K."""
        return int(self.t_draft.shape[0])

    @property
    def positional(self) -> bool:
        """True when ``alpha`` is a (K, max_draft) position-dependent profile."""
        return self.alpha.ndim == 2

    @property
    def channel(self) -> np.ndarray:
        """The channel parameter of the rate model: eta_k (linear) or rho_k (Shannon)."""
        return self.spectral_efficiency if self.rate_model == "linear" else self.snr

    def replace(self, **changes: Any) -> "Scenario":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (lists and scalars) that :meth:`from_dict` reads back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                v = v.tolist()
            if v is not None:
                out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scenario":
        """Build from a mapping of field names; an unknown key raises ``ValueError``."""
        if not isinstance(d, Mapping):
            raise ValueError(f"scenario must be a mapping of field names, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown scenario key {unknown[0]!r}; known keys: {sorted(names)}")
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [n for n in required if n not in d]
        if missing:
            raise ValueError(f"scenario key {missing[0]!r} is required, got keys {sorted(d)}")
        return cls(**dict(d))

    @classmethod
    def from_toml(cls, path: str | Path) -> "Scenario":
        """Read a scenario from a TOML file whose top-level keys are the field names."""
        return cls.from_dict(read_toml(path))

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        a, b = self.to_dict(), other.to_dict()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ presets
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "Scenario":
        """A cited preset scenario (see :mod:`numerics.presets`), with optional field overrides.

        ``n_users=K`` cycles the preset's users to K users.

        Examples
        --------
        >>> Scenario.preset('default').n_users
        8
        """
        from .presets import preset  # lazy: presets imports this module

        return preset(name, **overrides)

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        """Names accepted by :meth:`preset`."""
        from .presets import preset_names

        return preset_names()
