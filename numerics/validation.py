"""The one validation layer of ``numerics``: type rules, shapes, ranges and limits.

Every public entry point that takes a scenario, draft lengths, band shares or a count checks
it here, before any work starts, and a bad value raises ``ValueError`` whose message names
the field and the value (and the limit, for a value above one). :class:`~numerics.Scenario`
(construction, ``from_dict``, ``from_toml``, ``replace``), the presets and their overrides,
``goodput``/``round_time`` and the other latency functions, ``baseline``, ``simulate``,
``sensitivity`` and the solvers' entry checks all call the functions below; new public
functions should too (one mechanism, one wording).

**Type rules.**

- A *number* is an ``int``, a ``float``, a NumPy integer or floating scalar (any
  ``numbers.Real``) or a 0-d array of one. ``bool`` and ``numpy.bool_`` are not numbers
  (``True`` is not 1.0), ``None`` is not a value, strings are not numbers (``"16"`` is
  refused, not parsed), nor are complex numbers, dates, mappings or other objects.
- An *array of numbers* is a list or tuple (nested for 2-D) or an ndarray whose every entry
  is a number by the rule above; a ragged nesting is refused with the field's name (not
  NumPy's "inhomogeneous shape" message); an ndarray of booleans, strings or objects that
  are not numbers is refused.
- An *integer* count (``max_draft``, ``n_users``, ``rounds``, ``seed``, ...) is an ``int``
  or a NumPy integer: ``16.0`` is refused like ``"16"``. *Draft lengths* given as an array
  may be float-typed when every entry is integral (solvers and NumPy arithmetic produce
  float arrays); a non-integral entry is refused unless the caller asks for the continuous
  relaxation.
- A *flag* is ``bool`` or ``numpy.bool_`` (``1`` and ``"yes"`` are refused); a *choice* is a
  ``str`` among the allowed ones.

**Limits.** Served up to, refused above (``ValueError`` naming the field, the value and the limit):

- :data:`MAX_DRAFT` = 1_000_000: ``max_draft`` (the draft cap L_max). Tables indexed by the
  draft length (position-dependent profiles, the homogeneous scan, the integer search) have
  max_draft entries per user; a billion would take gigabytes and hours.
- :data:`MAX_USERS` = 1_000_000: the number of users K (per-user arrays, ``n_users`` of a
  preset). Every solver is O(K) or O(K log K) per iteration; 10^6 users solve in seconds.
- :data:`MAX_PROFILE_ENTRIES` = 10_000_000: a position-dependent acceptance profile has
  K x max_draft entries (80 MB of float64).
- :data:`MAX_ROUNDS` = 10_000_000: Monte Carlo rounds of :func:`numerics.simulate`, which
  keeps two float64 per round for its confidence interval (160 MB).
- :data:`MAX_SIMULATION_DRAWS` = 10_000_000_000: rounds x K x (longest draft of a
  position-dependent profile, else 1) random draws of one simulation (minutes at about
  5e7 draws per second); above it a simulation would run for hours.
- :data:`MAX_SAMPLES` = 100_000_000: draws returned at once by
  :func:`numerics.sample_accepted` (an int64 array of 800 MB).
- :data:`MAX_FILE_BYTES` = 128 MiB: a scenario file (a 10^7-entry profile in TOML is about
  60 MB; a larger file is not a scenario, e.g. ``/dev/zero``).
- :data:`MIN_ROUND_TIME` = 1e-12 s: the time of a round in which the verifier only checks one
  token per user, v0 + v1 K + overhead (the autoregressive round, and a lower bound on every
  round: a batch holds at least K tokens), must be at least a picosecond. A faster verifier
  is not physical, and at v0 = v1 = overhead = 0 (or 5e-324) the autoregressive goodput
  K / (v0 + v1 K + overhead) is infinite; from 1e-12 s up every goodput is finite
  (at most K (max_draft + 1) / 1e-12 < 1e25 tokens/s).
- Scale of the channel: the full-band rate of every user, B eta_k (linear) or
  B log2(1 + rho_k) (Shannon), must be a finite normal double (2.2e-308 to 1.8e308 bit/s),
  and the full-band upload time of a token, s_k / r_k(1), must be finite and a normal
  double (>= 2.2e-308 s) for every uploading user: otherwise the rate or the upload time
  is 0 or infinite, or subnormal with few significant bits, and so would be the shares of
  the equal-finish allocation. Bandwidths from 1 Hz to 1e300 Hz with any physical payload
  are inside.
- Scale of the round: the longest round of the equal band split at the longest draft,
  max_draft (t_k + K s_k / r_k(1)) + v0 + v1 K (max_draft + 1) + overhead, must be a finite
  double (<= 1.8e308 s). It bounds the round time of every point whose uploading users hold
  at least 1/K of the band (the baselines' equal split, the solvers' equal-finish shares),
  so that no baseline's round time overflows. Only absurd scales are refused (a draft time
  of 1e303 s at max_draft = 10^6, say).
- An operating point given to :func:`numerics.round_time`, :func:`numerics.goodput` or the
  latency functions: a positive share so small that the user's upload time
  s_k / r_k(beta_k), or its drafting-plus-upload time L_k h_k(beta_k), overflows (above
  1.8e308 s: beta = 1e-320 at 10 kHz, say) is refused naming ``beta[k]``
  (:func:`numerics.latency.per_token_latency`); a zero share of an uploading user is +inf
  there (the documented limit), and refused by :func:`as_operating_point`.

The same limits are listed in ``docs/model.md`` (section Limits).

**Helpers** (public within the package; import them from ``numerics.validation``):
:func:`fmt`, :func:`as_float`, :func:`as_nonnegative`, :func:`as_positive`,
:func:`as_int`, :func:`as_bool`, :func:`as_choice`, :func:`as_float_array`,
:func:`check_range`, :func:`as_probabilities`, :func:`as_scenario`,
:func:`as_draft_lengths`, :func:`as_band_shares`, :func:`as_operating_point`,
:func:`check_keywords`, :func:`check_simulation_size`, :func:`scenario_fields`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .scenario import Scenario

__all__ = [
    "BAND_SLACK",
    "BATCHING_MODES",
    "MAX_DRAFT",
    "MAX_FILE_BYTES",
    "MAX_PROFILE_ENTRIES",
    "MAX_ROUNDS",
    "MAX_SAMPLES",
    "MAX_SIMULATION_DRAWS",
    "MAX_USERS",
    "MIN_ROUND_TIME",
    "RATE_MODELS",
    "as_band_shares",
    "as_bool",
    "as_choice",
    "as_draft_lengths",
    "as_float",
    "as_float_array",
    "as_int",
    "as_nonnegative",
    "as_operating_point",
    "as_positive",
    "as_probabilities",
    "as_scenario",
    "check_keywords",
    "check_range",
    "check_simulation_size",
    "fmt",
    "scenario_fields",
]

#: largest draft cap L_max (module docstring, Limits)
MAX_DRAFT = 1_000_000
#: largest number of users K
MAX_USERS = 1_000_000
#: largest position-dependent profile, K x max_draft entries
MAX_PROFILE_ENTRIES = 10_000_000
#: largest number of Monte Carlo rounds of one simulation
MAX_ROUNDS = 10_000_000
#: largest number of random draws of one simulation (rounds x K x profile width)
MAX_SIMULATION_DRAWS = 10_000_000_000
#: largest number of draws returned at once by numerics.sample_accepted (800 MB of int64)
MAX_SAMPLES = 100_000_000
#: largest scenario file, in bytes
MAX_FILE_BYTES = 128 * 1024 * 1024
#: shortest round allowed: v0 + v1 K + overhead >= MIN_ROUND_TIME seconds (module docstring, Limits)
MIN_ROUND_TIME = 1e-12

RATE_MODELS = ("linear", "shannon")
BATCHING_MODES = ("ragged", "padded")

#: slack allowed on sum(beta) <= 1 for round-off
BAND_SLACK = 1e-12

_TINY = float(np.finfo(np.float64).tiny)  # smallest normal double, 2.2e-308


# ---------------------------------------------------------------------------- messages
def fmt(value: Any) -> str:
    """A short repr of a bad value for an error message (arrays above 6 entries by their shape)."""
    if isinstance(value, np.ndarray):
        if value.size > 6:
            return f"an array of shape {value.shape}"
        return repr(value.tolist())
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"a {type(value).__name__} of {len(value)} entries"
    if isinstance(value, (str, bytes)) and len(value) > 60:
        return repr(value[:57]) + "..."
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return repr(value.item())
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _rule(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """'>= 0', '> 0', 'in [0, 1)', ...: the range part of a message."""
    def num(x: float) -> str:
        return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))

    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{num(low)}, {num(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {num(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {num(high)}"
    return ""


# ---------------------------------------------------------------------------- scalars
def _is_number(value: Any) -> bool:
    """True for a real number that is not a bool (the type rule of the module docstring)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _scalar(name: str, value: Any) -> float:
    """A number as a Python float (type rule only); ``ValueError`` naming the field otherwise."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value[()]
    if not _is_number(value):
        raise ValueError(f"{name} must be a number, got {fmt(value)}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf if value > 0 else -math.inf


def as_float(name: str, value: Any, *, low: float | None = None, high: float | None = None,
             low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """A number as a float, checked against [low, high] (open ends on request) and finiteness.

    Messages: ``"<name> must be a number, got <value>"``, ``"<name> must be a finite number
    >= 0, got -1.0"``, ``"<name> must lie in [0, 1), got 1.5"``.

    Examples
    --------
    >>> as_float('v0', 0.05, low=0.0)
    0.05
    >>> as_float('v0', True, low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: v0 must be a number, got True
    """
    x = _scalar(name, value)
    ok = not (finite and not math.isfinite(x))
    if low is not None:
        ok = ok and (x > low if low_open else x >= low)
    if high is not None:
        ok = ok and (x < high if high_open else x <= high)
    if not ok or math.isnan(x):
        rule = _rule(low, high, low_open, high_open)
        if low is not None and high is not None:
            raise ValueError(f"{name} must lie in {rule.removeprefix('in ')}, got {fmt(value)}")
        text = "a finite number" if finite else "a number"
        raise ValueError(f"{name} must be {text}{' ' + rule if rule else ''}, got {fmt(value)}")
    return x


def as_nonnegative(name: str, value: Any) -> float:
    """A finite number >= 0 (times, payloads, v0, v1, the overhead)."""
    return as_float(name, value, low=0.0)


def as_positive(name: str, value: Any) -> float:
    """A finite number > 0 (bandwidth, spectral efficiency, SNR)."""
    return as_float(name, value, low=0.0, low_open=True)


def as_int(name: str, value: Any, low: int | None = None, high: int | None = None,
           limit: str | None = None) -> int:
    """An integer count (``int`` or NumPy integer; not bool, not float) in [low, high].

    ``limit`` names the limit when ``high`` is one (e.g. ``'numerics.validation.MAX_DRAFT'``);
    a value above it gets ``"<name> must be <= <high> (limit <limit>), got <value>"``.

    Examples
    --------
    >>> as_int('rounds', 1000, low=2, high=MAX_ROUNDS, limit='numerics.validation.MAX_ROUNDS')
    1000
    >>> as_int('max_draft', 10**18, low=1, high=MAX_DRAFT, limit='numerics.validation.MAX_DRAFT')
    Traceback (most recent call last):
    ...
    ValueError: max_draft must be <= 1000000 (limit numerics.validation.MAX_DRAFT), got 1000000000000000000
    """
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value[()]
    ok_type = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok_type or (low is not None and value < low):
        rule = f" >= {low}" if low is not None else ""
        raise ValueError(f"{name} must be an integer{rule}, got {fmt(value)}")
    if high is not None and value > high:
        why = f" (limit {limit})" if limit else ""
        raise ValueError(f"{name} must be <= {high}{why}, got {fmt(value)}")
    return int(value)


def as_bool(name: str, value: Any) -> bool:
    """A flag: ``True``/``False`` or a NumPy bool only."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {fmt(value)}")
    return bool(value)


def as_choice(name: str, value: Any, options: Iterable[str]) -> str:
    """A string among ``options``."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {fmt(value)}")
    return value


# ---------------------------------------------------------------------------- arrays
def _has_non_number(seq: Any) -> Any:
    """The first leaf of nested lists/tuples that is not a number (bool, None, str, ...), else a sentinel."""
    stack = [seq]
    while stack:
        item = stack.pop()
        for x in item:
            if isinstance(x, (list, tuple)):
                stack.append(x)
            elif not _is_number(x):
                return x
    return _OK


_OK = object()


def as_float_array(name: str, value: Any, ndim: Iterable[int] | None = (0, 1)) -> np.ndarray:
    """A number or array of numbers as a float64 ndarray of one of the dimensions ``ndim`` (None: any).

    Enforces the type rules of the module docstring (no bool, None or strings, also inside
    lists; ragged nesting refused) and the dimension; not the values (see :func:`check_range`).
    The result may share memory with an ndarray argument: do not write to it.

    Examples
    --------
    >>> as_float_array('t_draft', [0.01, 0.02]).tolist()
    [0.01, 0.02]
    >>> as_float_array('t_draft', [0.01, True])
    Traceback (most recent call last):
    ...
    ValueError: t_draft must be a number or an array of numbers, got [0.01, True] (True is not a number)
    """
    what = "a number or an array of numbers"
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        bad = _has_non_number(value)
        if bad is not _OK:
            raise ValueError(f"{name} must be {what}, got {fmt(value)} ({fmt(bad)} is not a number)")
        try:
            arr = np.array(value)
        except ValueError:
            raise ValueError(f"{name} must be a rectangular array of numbers, got ragged nested lists "
                             f"{fmt(value)}") from None
    elif _is_number(value):
        arr = np.array(_scalar(name, value))
    else:
        raise ValueError(f"{name} must be {what}, got {fmt(value)}")
    kind = arr.dtype.kind
    if kind == "O":  # Python ints beyond int64, Fractions, ...: every entry was checked above
        if isinstance(value, np.ndarray) and not all(_is_number(x) for x in arr.flat):
            raise ValueError(f"{name} must be {what}, got {fmt(value)}")
        try:
            arr = arr.astype(np.float64)
        except OverflowError:  # an int beyond the float range: +-inf, refused by the range checks
            arr = np.array([_scalar(name, x) for x in arr.flat], dtype=np.float64).reshape(arr.shape)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {what}, got {fmt(value)}") from None
    elif kind not in "iuf":
        raise ValueError(f"{name} must be {what}, got {fmt(value)}"
                         + (" (booleans are not numbers)" if kind == "b" else ""))
    if ndim is not None and arr.ndim not in (ndim := tuple(ndim)):
        dims = " or ".join("a scalar" if d == 0 else f"a {d}-D array" for d in ndim)
        raise ValueError(f"{name} must be {dims}, got an array of shape {arr.shape}")
    if arr.dtype != np.float64:
        with np.errstate(over="ignore"):
            arr = arr.astype(np.float64)
    return arr


def check_range(name: str, arr: np.ndarray, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> None:
    """``ValueError`` naming the first entry of ``arr`` outside the finite range [low, high].

    NaN and infinities are outside every range (``high=None`` still requires finite values).
    Message: ``"<name> must be finite and >= 0, got -1.0"`` or ``"<name> must lie in [0, 1),
    got 1.0"``.
    """
    ok = np.isfinite(arr)
    if low is not None:
        ok &= (arr > low) if low_open else (arr >= low)
    if high is not None:
        ok &= (arr < high) if high_open else (arr <= high)
    if not ok.all():
        bad = float(arr[~ok].flat[0]) if arr.ndim else float(arr)
        rule = _rule(low, high, low_open, high_open)
        if low is not None and high is not None:
            raise ValueError(f"{name} must lie in {rule.removeprefix('in ')}, got {bad!r}")
        raise ValueError(f"{name} must be finite{' and ' + rule if rule else ''}, got {bad!r}")


def as_probabilities(name: str, value: Any, ndim: Iterable[int] = (0, 1), one: bool = False) -> np.ndarray:
    """An array of probabilities in [0, 1) (or [0, 1] with ``one=True``), float64.

    Examples
    --------
    >>> as_probabilities('alpha', [0.8, 0.6]).tolist()
    [0.8, 0.6]
    >>> as_probabilities('alpha', [0.8, 1.0])
    Traceback (most recent call last):
    ...
    ValueError: alpha must lie in [0, 1), got 1.0
    """
    arr = as_float_array(name, value, ndim)
    check_range(name, arr, 0.0, 1.0, high_open=not one)
    return arr


# ---------------------------------------------------------------------------- scenario and points
def as_scenario(value: Any, name: str = "scenario") -> Scenario:
    """``value`` itself if it is a :class:`~numerics.Scenario`, else ``ValueError``.

    A mapping gets a hint to ``Scenario.from_dict`` (a dict is not converted silently).
    """
    from .scenario import Scenario  # lazy: scenario imports this module

    if not isinstance(value, Scenario):
        hint = " (build one with Scenario.from_dict)" if isinstance(value, Mapping) else ""
        raise ValueError(f"{name} must be a Scenario, got {type(value).__name__}{hint}")
    return value


def as_draft_lengths(scenario: Scenario, L: Any, continuous: bool = False, name: str = "L",
                     capped: bool = True) -> np.ndarray:
    """Draft lengths as a float64 array of length K (a scalar broadcasts), each in [0, max_draft].

    Integral values are required unless ``continuous`` (the relaxation of the solvers);
    float-typed arrays with integral entries are accepted. ``capped=False`` drops the upper
    bound max_draft (finite lengths >= 0: building blocks such as the equal-finish
    allocation are defined for any length).
    """
    K = scenario.n_users
    arr = as_float_array(name, L, (0, 1))
    if arr.ndim == 0:
        arr = np.full(K, float(arr))
    if arr.shape != (K,):
        raise ValueError(f"{name} must be a scalar or have length K={K}, got shape {arr.shape}")
    if not capped:
        check_range(name, arr, 0.0)
    ok = (arr >= 0) & (arr <= scenario.max_draft)
    if capped and not ok.all():
        raise ValueError(f"{name} must lie in [0, max_draft={scenario.max_draft}], got {float(arr[~ok][0])!r}")
    if not continuous:
        frac = arr != np.floor(arr)
        if frac.any():
            raise ValueError(f"{name} must be integers, got {float(arr[frac][0])!r}")
    return arr


def as_band_shares(scenario: Scenario, beta: Any, name: str = "beta") -> np.ndarray:
    """Band shares as a float64 array of length K (a scalar broadcasts): finite, >= 0, sum <= 1 + 1e-12."""
    K = scenario.n_users
    arr = as_float_array(name, beta, (0, 1))
    if arr.ndim == 0:
        arr = np.full(K, float(arr))
    if arr.shape != (K,):
        raise ValueError(f"{name} must be a scalar or have length K={K}, got shape {arr.shape}")
    check_range(name, arr, 0.0)
    total = float(arr.sum())
    if total > 1 + BAND_SLACK:
        raise ValueError(f"{name} must sum to at most 1, got sum {total!r}")
    return arr


def as_operating_point(scenario: Any, L: Any, beta: Any, continuous: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A feasible operating point (L, beta) of ``scenario``, as float64 arrays of length K.

    Checks :func:`as_scenario`, :func:`as_draft_lengths`, :func:`as_band_shares`, and that no
    user who uploads (s_k > 0, L_k > 0) has a zero share.
    """
    scenario = as_scenario(scenario)
    L = as_draft_lengths(scenario, L, continuous)
    beta = as_band_shares(scenario, beta)
    starved = (beta == 0) & (scenario.bits_per_token > 0) & (L > 0)
    if starved.any():
        k = int(np.flatnonzero(starved)[0])
        raise ValueError(f"beta[{k}] = 0 but user {k} uploads (s_k > 0, L_k = {L[k]:g} > 0)")
    return L, beta


def check_keywords(where: str, given: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """``ValueError`` for a keyword argument that ``where`` does not take (instead of ``TypeError``)."""
    allowed = tuple(allowed)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        takes = f"takes only {', '.join(allowed)}" if allowed else "takes no keyword arguments"
        raise ValueError(f"{where} {takes}, got {unknown[0]}={fmt(given[unknown[0]])}")


def check_simulation_size(scenario: Scenario, rounds: int, width: int) -> None:
    """``ValueError`` when rounds x K x width random draws exceed :data:`MAX_SIMULATION_DRAWS`."""
    draws = rounds * scenario.n_users * max(1, width)
    if draws > MAX_SIMULATION_DRAWS:
        raise ValueError(f"rounds = {rounds} with K = {scenario.n_users} users"
                         + (f" and drafts of up to {width} positions" if width > 1 else "")
                         + f" needs {draws:.3g} random draws, above the limit "
                           f"numerics.validation.MAX_SIMULATION_DRAWS = {MAX_SIMULATION_DRAWS:.0e}")


# ---------------------------------------------------------------------------- the Scenario fields
#: per-user fields (1-D arrays of length K after validation; alpha may be (K, max_draft))
PER_USER = ("alpha", "t_draft", "bits_per_token", "spectral_efficiency", "snr")


def scenario_fields(f: Mapping[str, Any]) -> dict[str, Any]:
    """Check every Scenario field and return them normalised (floats, read-only float64 arrays).

    ``f`` maps every field name of :class:`~numerics.Scenario` to its raw value; used by
    ``Scenario.validate``. Order: categorical fields, ``max_draft``, system scalars, the
    channel parameter the rate model needs, then the per-user arrays (types, shapes,
    lengths, limits, values), then the scale of the channel (module docstring, Limits).
    """
    out: dict[str, Any] = {}
    out["rate_model"] = as_choice("rate_model", f["rate_model"], RATE_MODELS)
    out["batching"] = as_choice("batching", f["batching"], BATCHING_MODES)
    md = f["max_draft"]
    if isinstance(md, float) and md.is_integer():  # say why 16.0 is refused
        raise ValueError(f"max_draft must be an integer (an int, not a float), got {fmt(md)}")
    out["max_draft"] = md = as_int("max_draft", md, low=1, high=MAX_DRAFT, limit="numerics.validation.MAX_DRAFT")
    out["bandwidth_hz"] = _finite_scalar("bandwidth_hz", f["bandwidth_hz"], positive=True)
    for name in ("v0", "v1", "overhead"):
        out[name] = _finite_scalar(name, f[name], positive=False)

    needed = "spectral_efficiency" if out["rate_model"] == "linear" else "snr"
    if f[needed] is None:
        raise ValueError(f"{needed} is required by rate_model={out['rate_model']!r}, got None")
    for name in ("alpha", "t_draft", "bits_per_token"):
        if f[name] is None:
            raise ValueError(f"{name} is required, got None")

    arrays: dict[str, np.ndarray] = {}
    for name in PER_USER:
        raw = f[name]
        if raw is None:
            continue
        arr = as_float_array(name, raw, (0, 1, 2) if name == "alpha" else (0, 1))
        if arr.ndim >= 1 and arr.shape[0] == 0:
            raise ValueError(f"{name} has no users (empty array), got {fmt(raw)}")
        if arr.ndim >= 1 and arr.shape[0] > MAX_USERS:
            raise ValueError(f"{name} has {arr.shape[0]} users, above the limit "
                             f"numerics.validation.MAX_USERS = {MAX_USERS}")
        if arr.ndim == 2:
            if arr.shape[1] != md:
                raise ValueError(f"alpha as a position-dependent profile must have max_draft={md} "
                                 f"columns, got shape {arr.shape}")
            if arr.size > MAX_PROFILE_ENTRIES:
                raise ValueError(f"alpha profile has {arr.shape[0]} x {arr.shape[1]} = {arr.size} entries, above "
                                 f"the limit numerics.validation.MAX_PROFILE_ENTRIES = {MAX_PROFILE_ENTRIES}")
        arrays[name] = arr
    lengths = {n: a.shape[0] for n, a in arrays.items() if a.ndim >= 1}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"per-user arrays have different lengths: {lengths}")
    K = next(iter(lengths.values())) if lengths else 1

    for name, arr in arrays.items():
        if name == "alpha":
            check_range(name, arr, 0.0, 1.0, high_open=True)
        elif name in ("t_draft", "bits_per_token"):
            check_range(name, arr, 0.0)
        else:  # channel parameters: used ones must be positive, unused ones are still checked
            check_range(name, arr, 0.0, low_open=True)
        if arr.ndim == 0:
            arr = np.full(K, float(arr))
        arr = np.array(arr, dtype=np.float64, order="C")  # own copy: the caller's array may change
        arr.setflags(write=False)
        out[name] = arr
    for name in PER_USER:
        out.setdefault(name, None)
    _check_round_time(out, K)
    _check_longest_round(out, K, _check_channel_scale(out))
    return out


def _check_round_time(out: Mapping[str, Any], K: int) -> None:
    """v0 + v1 K + overhead >= MIN_ROUND_TIME (module docstring, Limits)."""
    v0, v1, overhead = out["v0"], out["v1"], out["overhead"]
    if not v0 + v1 * K + overhead >= MIN_ROUND_TIME:
        raise ValueError(f"v0 + v1 K + overhead (the verification and overhead time of a round, K = {K} users) "
                         f"must be >= {MIN_ROUND_TIME:g} s (limit numerics.validation.MIN_ROUND_TIME), got "
                         f"v0 = {v0!r}, v1 = {v1!r}, overhead = {overhead!r}")


def _finite_scalar(name: str, value: Any, positive: bool) -> float:
    """A system scalar: the historical wording "<name> must be a finite number > 0, got ..."."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise ValueError(f"{name} must be a number, got an array of shape {value.shape}")
    if isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a number, got {fmt(value)}")
    return as_float(name, value, low=0.0, low_open=positive)


def _check_channel_scale(out: Mapping[str, Any]) -> np.ndarray:
    """Full-band rates normal and finite, full-band upload times normal and finite (module docstring, Limits).

    Returns the full-band rates r_k(1)."""
    B = out["bandwidth_hz"]
    linear = out["rate_model"] == "linear"
    ch = out["spectral_efficiency"] if linear else out["snr"]
    with np.errstate(over="ignore", under="ignore"):
        r1 = B * ch if linear else B * (np.log1p(ch) / math.log(2.0))
    bad = ~((r1 >= _TINY) & np.isfinite(r1))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        field = "spectral_efficiency" if linear else "snr"
        raise ValueError(f"bandwidth_hz x {'spectral_efficiency' if linear else 'log2(1 + snr)'} (the full-band "
                         f"rate of user {k}) must be finite and >= {_TINY:.3g} bit/s (a normal double), got "
                         f"bandwidth_hz = {B!r}, {field} = {float(ch[k])!r}")
    s = out["bits_per_token"]
    with np.errstate(over="ignore", under="ignore"):
        a = s / r1
    bad = (s > 0) & ~((a >= _TINY) & np.isfinite(a))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"bits_per_token / full-band rate (the upload time of a token of user {k}) must be finite "
                         f"and >= {_TINY:.3g} s (a normal double), got bits_per_token = {float(s[k])!r} at a rate "
                         f"of {float(r1[k])!r} bit/s")
    return r1


def _check_longest_round(out: Mapping[str, Any], K: int, r1: np.ndarray) -> None:
    """The longest round of the equal band split at the longest draft is a finite double (module docstring, Limits).

    max_draft (t_k + K s_k / r_k(1)) + v0 + v1 K (max_draft + 1) + overhead bounds the round time
    of every operating point whose uploading users hold at least 1/K of the band (r(beta) >=
    beta r(1) for a concave rate with r(0) = 0): the equal split of the baselines, and the
    equal-finish shares of the solvers (they shorten the longest upload).
    """
    Lmax, t, s = out["max_draft"], out["t_draft"], out["bits_per_token"]
    with np.errstate(over="ignore"):
        per_user = Lmax * (t + np.where(s > 0, K * (s / r1), 0.0))
        total = float(np.max(per_user)) + out["v0"] + out["v1"] * K * (Lmax + 1.0) + out["overhead"]
    if not math.isfinite(total):
        k = int(np.argmax(per_user))
        raise ValueError(f"the longest round of the equal band split, max_draft (t_k + K s_k / r_k(1)) + v0 + v1 K "
                         f"(max_draft + 1) + overhead, must be a finite double (<= {np.finfo(np.float64).max:.3g} s), "
                         f"got {total!r} s with max_draft = {Lmax}, K = {K}, v0 = {out['v0']!r}, v1 = {out['v1']!r}, "
                         f"overhead = {out['overhead']!r} and user {k}: t_draft = {float(t[k])!r}, bits_per_token = "
                         f"{float(s[k])!r}, full-band rate {float(r1[k])!r} bit/s")
