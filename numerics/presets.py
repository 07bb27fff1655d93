"""Cited presets: hardware, models, acceptance rates, channels, and named scenarios.

The numbers live in TOML data files beside this module (``numerics/presets/*.toml``), each
with its source in a comment. This module holds only the formulas that turn them into
scenario parameters:

- draft latency per token, memory-bound roofline: t = P b / W_mem (P weights of b bytes read
  once per token from memory of bandwidth W_mem); W_mem = clock x transfers per clock x bus
  width / 8 where the data sheet gives the memory clock;
- server verification latency, roofline (MODEL.md section 2, T_v(n) = v0 + v1 n):
  v0 = P b / W_HBM (one pass over the weights) and v1 = 2 P / F_peak (2 FLOPs per weight per
  token at peak F_peak). The affine sum is the no-overlap bound of the roofline
  max(v0, v1 n): max <= v0 + v1 n <= 2 max;
- payload per draft token (MODEL.md section 4): token id only ceil(log2 V); a lattice-quantised
  draft distribution of resolution l (Zhang et al., arXiv 2507.00605): the number of lattice
  points is the number of compositions of l into V parts, C(l + V - 1, V - 1), so
  ceil(log2 C(l + V - 1, V - 1)) + 16 bits (16 bits for the token id / side information as in
  that paper's scheme); a top-k sparse distribution: k (ceil(log2 V) + q) bits (k ids and k
  probabilities of q bits);
- channel: eta = LTE CQI efficiency (TS 36.213 Table 7.2.3-1); Shannon SNR rho = 2^eta - 1,
  the full-band SNR whose capacity equals eta.

Scenario files and presets. :func:`preset` builds a :class:`~numerics.scenario.Scenario`
from a named entry of ``scenarios.toml`` (``preset_names()`` lists them), with optional
overrides of any Scenario field and ``n_users`` (the preset's users are cycled to that count).
:func:`load_scenario` reads a TOML file that is either a full scenario (top-level keys are the
Scenario fields) or ``preset = "name"`` plus such overrides.
"""

from __future__ import annotations

import functools
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .scenario import Scenario, read_toml, _shown_path
from .validation import MAX_DRAFT, MAX_PROFILE_ENTRIES, MAX_USERS, as_int, fmt

__all__ = [
    "tables",
    "memory_bandwidth",
    "draft_latency",
    "verification_roofline",
    "llama_params",
    "token_id_bits",
    "lattice_bits",
    "topk_bits",
    "payload_bits",
    "cqi_efficiency",
    "cqi_snr",
    "acceptance_ids",
    "acceptance",
    "profile",
    "preset_names",
    "preset_spec",
    "build",
    "preset",
    "scenario_from_mapping",
    "load_scenario",
]

_FILES = ("hardware", "models", "acceptance", "channel", "scenarios")
_SCENARIO_FIELDS = (
    "alpha", "t_draft", "bits_per_token", "bandwidth_hz", "v0", "rate_model", "spectral_efficiency",
    "snr", "v1", "batching", "overhead", "max_draft",
)

_REQUIRED_SPEC_KEYS = ("target", "draft", "server", "server_precision", "rate_model", "batching", "max_draft",
                       "payload", "users")
_SPEC_KEYS = {
    "description", "target", "draft", "server", "server_precision", "rate_model", "batching",
    "max_draft", "payload", "users", "bandwidth_hz",
}


@functools.cache
def tables() -> dict[str, dict[str, Any]]:
    """The parsed data files, by stem: hardware, models, acceptance, channel, scenarios."""
    root = resources.files("numerics") / "presets"
    return {name: tomllib.loads((root / f"{name}.toml").read_text()) for name in _FILES}


def _lookup(table: Mapping[str, Any], key: Any, field: str) -> Any:
    if not isinstance(key, str) or key not in table:
        raise ValueError(f"{field} must be one of {sorted(table)}, got {key!r}")
    return table[key]


# ---------------------------------------------------------------- rooflines
def memory_bandwidth(device: str) -> float:
    """Device memory bandwidth [B/s]: the cited value, or clock x transfers x bus width / 8.

    Examples
    --------
    >>> memory_bandwidth('phone')        # 4.8e9 x 2 x 64 / 8
    76800000000.0
    """
    d = _lookup(tables()["hardware"]["devices"], device, "device")
    if "memory_bandwidth" in d:
        return float(d["memory_bandwidth"])
    return float(d["memory_clock_hz"] * d["transfers_per_clock"] * d["bus_width_bits"] / 8)


def draft_latency(model: str, device: str, precision: str) -> float:
    """Per-token draft latency t = P b / W_mem [s] (memory-bound decoding roofline, a lower bound).

    Examples
    --------
    >>> round(draft_latency('tinyllama-1.1b', 'phone', 'fp16') * 1e3, 2)   # ms
    28.65
    """
    m = _lookup(tables()["models"], model, "draft model")
    b = _lookup(tables()["hardware"]["precisions"], precision, "precision")
    return float(m["params"]) * float(b) / memory_bandwidth(device)


def verification_roofline(model: str, server: str = "a100-80gb-sxm", precision: str = "fp16") -> tuple[float, float]:
    """(v0, v1) of T_v(n) = v0 + v1 n: v0 = P b / W_HBM, v1 = 2 P / F_peak [s, s/token].

    Raises ``ValueError`` when the weights do not fit in the server's memory.

    Examples
    --------
    >>> v0, v1 = verification_roofline('llama-2-7b')
    >>> round(v0 * 1e3, 3), round(v1 * 1e6, 2)        # ms, us per token
    (6.61, 43.19)
    """
    m = _lookup(tables()["models"], model, "target model")
    srv = _lookup(tables()["hardware"]["servers"], server, "server")
    b = float(_lookup(tables()["hardware"]["precisions"], precision, "server precision"))
    weight_bytes = float(m["params"]) * b
    if weight_bytes > float(srv["memory_bytes"]):
        raise ValueError(
            f"target model {model!r} needs {weight_bytes / 1e9:.0f} GB of weights, more than the "
            f"{float(srv['memory_bytes']) / 1e9:.0f} GB of server {server!r}"
        )
    return weight_bytes / float(srv["hbm_bandwidth"]), 2.0 * float(m["params"]) / float(srv["peak_flops_bf16"])


def llama_params(layers: int, hidden: int, intermediate: int, vocab: int, heads: int | None = None,
                 kv_heads: int | None = None) -> int:
    """Weights of a Llama-architecture decoder (untied embeddings, SwiGLU, RMSNorm, no biases).

    Per layer: attention 2 d^2 + 2 d (d kv/h) (q, o, and k, v with grouped queries), MLP 3 d f,
    two norms 2 d; plus embedding and LM head 2 V d and the final norm d.

    Examples
    --------
    >>> llama_params(32, 4096, 11008, 32000)     # Llama-2-7B
    6738415616
    """
    layers, hidden, intermediate, vocab = (as_int(n, v, low=1) for n, v in (
        ("layers", layers), ("hidden", hidden), ("intermediate", intermediate), ("vocab", vocab)))
    heads = None if heads is None else as_int("heads", heads, low=1)
    kv_heads = None if kv_heads is None else as_int("kv_heads", kv_heads, low=1)
    kv = hidden if heads is None or kv_heads is None else hidden * kv_heads // heads
    per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * intermediate + 2 * hidden
    return layers * per_layer + 2 * vocab * hidden + hidden


# ---------------------------------------------------------------- payloads
#: largest vocabulary and lattice resolution of the payload formulas: C(l + V - 1, V - 1) is
#: computed exactly, which takes seconds beyond (the largest vocabularies in use are ~2.6e5)
MAX_VOCAB = 10_000_000
MAX_RESOLUTION = 100_000


def _check_pos_int(name: str, v: Any, high: int | None = None) -> int:
    names = {MAX_VOCAB: "numerics.presets.MAX_VOCAB", MAX_RESOLUTION: "numerics.presets.MAX_RESOLUTION"}
    limit = None if high is None else names.get(high)
    return as_int(name, v, low=1, high=high, limit=limit)


def _ceil_log2(x: int) -> int:
    """ceil(log2 x) for an integer x >= 1, exactly (integer arithmetic)."""
    return (x - 1).bit_length()


def token_id_bits(vocab: int) -> int:
    """ceil(log2 V) bits: the token id alone.

    Examples
    --------
    >>> token_id_bits(32000), token_id_bits(248320)
    (15, 18)
    """
    return _ceil_log2(_check_pos_int("vocab", vocab, MAX_VOCAB))


def lattice_bits(vocab: int, resolution: int) -> int:
    """ceil(log2 C(l + V - 1, V - 1)) + 16 bits: a lattice-quantised distribution (arXiv 2507.00605).

    C(l + V - 1, V - 1) counts the distributions whose V probabilities are multiples of 1/l;
    computed exactly with integer arithmetic.

    Examples
    --------
    >>> lattice_bits(4, 2)        # C(5, 3) = 10 points -> 4 bits, + 16
    20
    """
    V = _check_pos_int("vocab", vocab, MAX_VOCAB)
    ell = _check_pos_int("resolution l", resolution, MAX_RESOLUTION)
    return _ceil_log2(math.comb(ell + V - 1, V - 1)) + 16


def topk_bits(vocab: int, k: int, q: int) -> int:
    """k (ceil(log2 V) + q) bits: a top-k sparse distribution with q-bit probabilities.

    Examples
    --------
    >>> topk_bits(32000, 8, 16)
    248
    """
    V = _check_pos_int("vocab", vocab, MAX_VOCAB)
    return _check_pos_int("k", k) * (_ceil_log2(V) + _check_pos_int("q", q))


def payload_bits(payload: Mapping[str, Any], vocab: int) -> int:
    """Bits per draft token of a payload spec: {kind: 'token-id' | 'lattice' (l) | 'top-k' (k, q)}."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"payload must be a table with a 'kind', got {payload!r}")
    kind = payload.get("kind")
    known = {"token-id": (), "lattice": ("l",), "top-k": ("k", "q")}
    if kind not in known:
        raise ValueError(f"payload.kind must be one of {sorted(known)}, got {kind!r}")
    extra = sorted(set(payload) - {"kind", *known[kind]})
    if extra:
        raise ValueError(f"unknown payload key {extra[0]!r} for kind {kind!r}")
    missing = [p for p in known[kind] if p not in payload]
    if missing:
        raise ValueError(f"payload of kind {kind!r} needs {missing[0]!r}")
    if kind == "token-id":
        return token_id_bits(vocab)
    if kind == "lattice":
        return lattice_bits(vocab, payload["l"])
    return topk_bits(vocab, payload["k"], payload["q"])


# ---------------------------------------------------------------- channel
def cqi_efficiency(cqi: int) -> float:
    """Spectral efficiency [bit/s/Hz] of an LTE CQI level 1..15 (TS 36.213 Table 7.2.3-1).

    Examples
    --------
    >>> cqi_efficiency(1), cqi_efficiency(15)
    (0.1523, 5.5547)
    """
    eff = tables()["channel"]["cqi"]["efficiency"]
    if isinstance(cqi, bool) or not isinstance(cqi, (int, np.integer)) or not 1 <= cqi <= len(eff):
        raise ValueError(f"cqi must be an integer in [1, {len(eff)}], got {cqi!r}")
    return float(eff[int(cqi) - 1])


def cqi_snr(cqi: int) -> float:
    """Full-band SNR whose Shannon capacity equals the CQI efficiency: rho = 2^eta - 1.

    Examples
    --------
    >>> round(10 * math.log10(cqi_snr(15)), 1)      # dB
    16.6
    """
    return math.expm1(cqi_efficiency(cqi) * math.log(2.0))


# ---------------------------------------------------------------- acceptance
def _rates() -> dict[str, dict[str, Any]]:
    return {f"{r['target']}/{r['draft']}/{r['task']}": r for r in tables()["acceptance"]["rates"]}


def acceptance_ids() -> list[str]:
    """Ids '<target>/<draft>/<task>' of the published constant acceptance rates."""
    return list(_rates())


def acceptance(entry: str) -> float:
    """The published acceptance rate of an entry '<target>/<draft>/<task>'.

    Examples
    --------
    >>> acceptance('t5-xxl/t5-small/ende-greedy')
    0.75
    """
    return float(_lookup(_rates(), entry, "acceptance")["alpha"])


def profile(name: str, max_draft: int) -> np.ndarray:
    """A position-dependent profile alpha_1..alpha_max_draft; positions past the published
    ones repeat the last value (stated in acceptance.toml).

    Examples
    --------
    >>> profile('eagle-llama2-chat-7b-mtbench', 7).tolist()
    [0.76, 0.69, 0.67, 0.68, 0.68, 0.68, 0.68]
    """
    p = _lookup(tables()["acceptance"]["profiles"], name, "profile")
    md = as_int("max_draft", max_draft, low=1, high=MAX_DRAFT, limit="numerics.validation.MAX_DRAFT")
    a = np.asarray(p["alpha"], dtype=np.float64)
    return np.concatenate([a, np.full(max(0, md - a.size), a[-1])])[:md]


# ---------------------------------------------------------------- scenarios
def preset_names() -> tuple[str, ...]:
    """Names of the scenario presets (``scenarios.toml``)."""
    return tuple(tables()["scenarios"])


def preset_spec(name: str) -> dict[str, Any]:
    """The resolved spec of a preset (``base`` entries merged, child keys win)."""
    specs = tables()["scenarios"]
    if not isinstance(name, str) or name not in specs:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(specs)}")
    spec = dict(specs[name])
    seen = {name}
    while "base" in spec:
        base = spec.pop("base")
        if base in seen or base not in specs:
            raise ValueError(f"preset {name!r} has a bad base {base!r}")
        seen.add(base)
        spec = {**specs[base], **spec}
    return spec


def build(spec: Mapping[str, Any], n_users: int | None = None) -> dict[str, Any]:
    """Scenario fields from a preset spec (see ``scenarios.toml`` for the keys).

    Returns a dict that :meth:`Scenario.from_dict` accepts. ``n_users`` (an int in
    [1, :data:`~numerics.validation.MAX_USERS`]) cycles the spec's users; a profile user gets
    ``max_draft`` positions (:func:`profile`: truncated, or padded with its last value), and
    K x max_draft must stay within :data:`~numerics.validation.MAX_PROFILE_ENTRIES` (checked
    before anything is built).
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"spec must be a mapping of preset keys, got {type(spec).__name__}")
    unknown = sorted((k for k in spec if k not in _SPEC_KEYS), key=repr)
    if unknown:
        raise ValueError(f"unknown preset key {unknown[0]!r}; known keys: {sorted(_SPEC_KEYS)}")
    missing = [k for k in _REQUIRED_SPEC_KEYS if k not in spec]
    if missing:
        raise ValueError(f"preset key {missing[0]!r} is required, got keys {sorted(spec)}")
    users = spec["users"]
    if not isinstance(users, list) or not users or not all(isinstance(u, Mapping) for u in users):
        raise ValueError(f"preset key 'users' must be a non-empty list of tables, got {fmt(users)}")
    for i, u in enumerate(users):
        gone = [k for k in ("device", "precision", "cqi", "acceptance") if k not in u]
        if gone:
            raise ValueError(f"users[{i}] needs the key {gone[0]!r}, got keys {sorted(u)}")
    K = len(users) if n_users is None else as_int("n_users", n_users, low=1, high=MAX_USERS,
                                                  limit="numerics.validation.MAX_USERS")
    md = as_int("max_draft", spec["max_draft"], low=1, high=MAX_DRAFT, limit="numerics.validation.MAX_DRAFT")
    positional = any(isinstance(u.get("acceptance"), str) and u["acceptance"].startswith("profile:") for u in users)
    if positional and K * md > MAX_PROFILE_ENTRIES:
        raise ValueError(f"n_users x max_draft = {K} x {md} = {K * md} entries of the position-dependent profile, "
                         f"above the limit numerics.validation.MAX_PROFILE_ENTRIES = {MAX_PROFILE_ENTRIES}")
    draft, target = spec["draft"], spec["target"]
    vocab = int(_lookup(tables()["models"], draft, "draft model")["vocab"])
    v0, v1 = verification_roofline(target, spec["server"], spec["server_precision"])
    # one evaluation per user of the spec; user k of the scenario is spec user k mod len(users)
    t_base = [draft_latency(draft, u["device"], u["precision"]) for u in users]
    eta_base = [cqi_efficiency(u["cqi"]) for u in users]
    alpha_base: list[Any] = []
    for i, u in enumerate(users):
        a = u.get("acceptance")
        if isinstance(a, str) and a.startswith("profile:"):
            alpha_base.append(profile(a.removeprefix("profile:"), md))
        elif isinstance(a, str):
            alpha_base.append(np.full(md, acceptance(a)) if positional else acceptance(a))
        else:
            raise ValueError(f"users[{i}].acceptance must be an acceptance id or 'profile:<name>', got {a!r}")
    cycle = np.arange(K) % len(users)
    alpha = np.asarray(alpha_base, dtype=np.float64)[cycle]
    t = np.asarray(t_base, dtype=np.float64)[cycle]
    eta = np.asarray(eta_base, dtype=np.float64)[cycle]
    fields: dict[str, Any] = {
        "alpha": alpha,
        "t_draft": t,
        "bits_per_token": float(payload_bits(spec["payload"], vocab)),
        "bandwidth_hz": float(spec.get("bandwidth_hz", tables()["channel"]["bandwidth"]["default_hz"])),
        "v0": v0,
        "v1": v1,
        "rate_model": spec["rate_model"],
        "batching": spec["batching"],
        "overhead": float(tables()["channel"]["overhead"]["user_plane_latency_s"]),
        "max_draft": md,
    }
    if spec["rate_model"] == "shannon":
        fields["snr"] = np.expm1(eta * math.log(2.0))
    else:
        fields["spectral_efficiency"] = eta
    return fields


def preset(name: str, /, n_users: int | None = None, **overrides: Any) -> Scenario:
    """The scenario of a named preset, with optional overrides of Scenario fields.

    Parameters
    ----------
    name : str
        One of :func:`preset_names`.
    n_users : int, optional
        Number of users, in [1, :data:`~numerics.validation.MAX_USERS`]; the preset's user
        list is cycled to this length.
    **overrides
        Any Scenario field (``bandwidth_hz=5e6``, ``rate_model='shannon'``, ...); a rate-model
        override keeps the channel (the SNR of each CQI level is rho = 2^eta - 1). A
        ``max_draft`` override on a preset with a position-dependent profile builds the
        profile with that many positions: truncated to the first max_draft published
        positions, or padded with the last published value (as :func:`profile` does).

    Raises
    ------
    ValueError
        Unknown preset name, unknown override key (``name=...`` too: the name is positional), or
        a bad value (naming the field), or
        n_users / max_draft above their limits (:mod:`numerics.validation`), checked before
        anything is built.

    Examples
    --------
    >>> s = preset('default')
    >>> s.n_users, s.rate_model
    (8, 'linear')
    >>> preset('default', n_users=3, bandwidth_hz=5e6).bandwidth_hz
    5000000.0
    >>> preset('llama2-eagle', max_draft=3).alpha[0].tolist()   # the EAGLE profile, truncated
    [0.76, 0.69, 0.67]
    """
    spec = preset_spec(name)
    unknown = sorted((k for k in overrides if k not in _SCENARIO_FIELDS), key=repr)
    if unknown:
        raise ValueError(f"unknown scenario key {unknown[0]!r}; known keys: "
                         f"{[*sorted(_SCENARIO_FIELDS), 'n_users', 'preset']}")
    if "rate_model" in overrides and overrides["rate_model"] in ("linear", "shannon"):
        spec = {**spec, "rate_model": overrides["rate_model"]}
    if "max_draft" in overrides:  # a profile preset is built with max_draft positions (truncated or padded)
        spec = {**spec, "max_draft": as_int("max_draft", overrides["max_draft"], low=1, high=MAX_DRAFT,
                                            limit="numerics.validation.MAX_DRAFT")}
    fields = build(spec, n_users)  # built for the requested rate model: eta or rho = 2^eta - 1
    fields.update(overrides)
    return Scenario.from_dict(fields)


def scenario_from_mapping(data: Mapping[str, Any]) -> Scenario:
    """A Scenario from a parsed file: full field set, or ``preset = "name"`` plus overrides."""
    if not isinstance(data, Mapping):
        raise ValueError(f"scenario must be a mapping of field names, got {type(data).__name__}")
    if "preset" in data:
        rest = dict(data)
        name = rest.pop("preset")
        n_users = rest.pop("n_users", None)
        unknown = sorted((k for k in rest if k not in _SCENARIO_FIELDS), key=repr)
        if unknown:  # also keys that are not strings, before they become keyword arguments
            raise ValueError(f"unknown scenario key {unknown[0]!r}; known keys: "
                             f"{[*sorted(_SCENARIO_FIELDS), 'n_users', 'preset']}")
        return preset(name, n_users=n_users, **rest)
    if "n_users" in data:
        raise ValueError("n_users is only allowed together with preset = \"name\"")
    return Scenario.from_dict(data)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (TOML): full Scenario fields, or ``preset = "name"`` plus overrides.

    Raises ``ValueError`` with one clear line: missing file, TOML syntax error (with its line
    and column), unknown key, or a bad value naming the field.
    """
    data = read_toml(path)
    try:
        return scenario_from_mapping(data)
    except ValueError as exc:
        raise ValueError(f"scenario file {_shown_path(str(path))}: {exc}") from None
