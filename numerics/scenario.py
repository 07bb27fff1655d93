"""The scenario: every parameter of one Multi-SPIN system (MODEL.md sections 2 and 6).

A :class:`Scenario` is a frozen dataclass. Per-user fields are 1-D float64 arrays of length
K (scalars broadcast); ``alpha`` may also be a (K, max_draft) array of position-dependent
acceptance probabilities. Validation runs at construction (:func:`numerics.validation.scenario_fields`:
type rules, shapes, ranges and limits) and raises ``ValueError`` naming the field and the
offending value, before any computation.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .validation import BATCHING_MODES, MAX_FILE_BYTES, RATE_MODELS, check_keywords, scenario_fields

__all__ = ["Scenario", "RATE_MODELS", "BATCHING_MODES", "read_toml", "read_text"]


def _shown_path(name: str, limit: int = 200) -> str:
    """repr of a path for a message; a very long one by its start and its length."""
    return repr(name) if len(name) <= limit else f"{name[:limit // 2]!r}... ({len(name)} characters)"


def read_text(path: str | Path, what: str = "scenario file") -> str:
    """The text of a file, decoded as UTF-8 whatever the locale (a UTF-8 byte-order mark is dropped).

    Raises ``ValueError`` with one clear line naming the path: it does not exist, it is a
    directory, it cannot be read (permissions, a name too long for the system, ...), it is larger than
    :data:`numerics.validation.MAX_FILE_BYTES`, or it is not UTF-8 text.
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise ValueError(f"{what} path must be a str or a path, got {type(path).__name__}")
    p = Path(path)
    name = _shown_path(str(path))
    try:  # one stat: Path.is_dir/exists raise OSError themselves for e.g. a name too long for the system
        st = os.stat(p)
    except FileNotFoundError:
        raise ValueError(f"{what} {name} does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL character
        raise ValueError(f"{what} {name} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{what} {name} is a directory, not a file")
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{what} {name} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{what} {name} is larger than {MAX_FILE_BYTES} bytes "
                         f"(limit MAX_FILE_BYTES of numerics.validation)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {name} is not UTF-8 text: byte {exc.start} ({data[exc.start:exc.start + 1]!r}) "
                         f"{exc.reason}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The table of a scenario file; ``ValueError`` with one clear line for a missing file, a
    directory, an unreadable or oversized file, a file that is not UTF-8 text (read as UTF-8
    whatever the locale: :func:`read_text`) or a TOML syntax error (with its line and column)."""
    text = read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"scenario file {_shown_path(str(path))}: TOML syntax error: {exc}") from None


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
        Largest draft length L_max, an ``int`` in [1, 1_000_000]
        (:data:`numerics.validation.MAX_DRAFT`).

    Numbers are ``int``/``float``/NumPy scalars: a bool, None (for a required field) or a
    string is refused, also inside a list; ragged nested lists are refused. Limits: at most
    :data:`~numerics.validation.MAX_USERS` users, a profile of at most
    :data:`~numerics.validation.MAX_PROFILE_ENTRIES` entries, a finite full-band rate and a
    normal full-band upload time per user (:mod:`numerics.validation`, Limits).

    Raises
    ------
    ValueError
        Naming the field and the value (and the limit), for any parameter outside its domain.

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

        The rules and limits are those of :func:`numerics.validation.scenario_fields`.
        Raises ``ValueError`` naming the field and the value.
        """
        fields = scenario_fields({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        for name, value in fields.items():
            object.__setattr__(self, name, value)  # frozen dataclass

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
        """A copy with some fields changed (validated again); an unknown field raises ``ValueError``."""
        check_keywords("Scenario.replace", changes, [f.name for f in dataclasses.fields(self)])
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
        unknown = sorted((k for k in d if k not in names), key=repr)
        if unknown:
            raise ValueError(f"unknown scenario key {unknown[0]!r}; known keys: {sorted(names)}")
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [n for n in required if n not in d]
        if missing:
            raise ValueError(f"scenario key {missing[0]!r} is required, got keys {sorted(d)}")
        return cls(**dict(d))

    @classmethod
    def from_toml(cls, path: str | Path) -> "Scenario":
        """Read a scenario file (TOML), as the command line does (:func:`numerics.presets.load_scenario`).

        The file holds either every Scenario field at top level (``scenarios/example.toml``) or
        ``preset = "name"`` plus overrides of any field and ``n_users``
        (``scenarios/preset_override.toml``). Raises ``ValueError`` with one line naming the
        file: missing, a directory, unreadable, not UTF-8, a TOML syntax error, an unknown key,
        or a bad value naming the field.
        """
        from .presets import load_scenario  # lazy: presets imports this module

        return load_scenario(path)

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        a, b = self.to_dict(), other.to_dict()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ presets
    @classmethod
    def preset(cls, name: str, /, **overrides: Any) -> "Scenario":
        """A cited preset scenario (see :mod:`numerics.presets`), with optional field overrides.

        ``n_users=K`` cycles the preset's users to K users. An unknown keyword (``name=...``
        included) raises ``ValueError``.

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
