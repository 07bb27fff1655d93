"""Readers of speculative-decoding logs: vLLM Prometheus metrics, the same counters as JSON,
and per-round records as CSV. Each returns per-user :class:`~numerics.acceptance.AcceptanceCounts`.

vLLM names (V1 engine). The counters and their labels are those of vLLM's source:

- ``vllm/v1/spec_decode/metrics.py`` (class ``SpecDecodingProm``) creates the Prometheus
  counters ``vllm:spec_decode_num_drafts``, ``vllm:spec_decode_num_draft_tokens``,
  ``vllm:spec_decode_num_accepted_tokens`` (labels ``labelnames``) and
  ``vllm:spec_decode_num_accepted_tokens_per_pos`` (labels ``labelnames + ["position"]``, one
  series per position ``str(pos)`` for pos in 0..num_speculative_tokens - 1); its
  ``SpecDecodingStats.observe_draft`` adds 1 to every position < num_accepted_tokens of a draft,
  so the position-i counter counts the drafts with N >= i + 1 (our a_{i+1});
- ``vllm/v1/metrics/loggers.py`` (class ``PrometheusStatLogger``) passes
  ``labelnames = ["model_name", "engine"]``;
- ``vllm/v1/core/sched/scheduler.py`` (``Scheduler.update_from_output`` and
  ``make_spec_decoding_stats``, read at commit 00024d314514900f361ad072af6931e403b7f589) records
  a draft for every request that had scheduled draft tokens, after subtracting its invalid
  (unfilled placeholder) tokens: drafts vary in length, and an empty draft can be counted. Hence
  ``min_draft_length`` = 0 by default (:func:`numerics.acceptance.position_counts`).

The Prometheus client appends ``_total`` to a counter's samples (``..._num_drafts_total``) and may
add ``_created`` samples; in its OpenMetrics output recent versions escape the colon of the metric
name to an underscore (``vllm_spec_decode_num_drafts_total``): both spellings are read. The text
is parsed by ``prometheus_client.parser`` (not by hand).

The JSON form holds the same counters under the field names of vLLM's ``SpecDecodingStats``::

    {"source": "...", "series": [{"labels": {"model_name": "m", "engine": "0"},
      "num_drafts": 2000, "num_draft_tokens": 10000, "num_accepted_tokens": 5702,
      "num_accepted_tokens_per_pos": [1520, 1055, 1046, 1040, 1041]}]}

The CSV form has one row per draft (round and user) with columns ``draft_length`` and
``accepted`` (the accepted count N, 0..draft_length) and any others (a user column, ...);
lines starting with ``#`` are comments.

Users. ``per_user=LABEL`` groups the series (or CSV rows) by the value of that label (column);
series with the same value are summed (e.g. several engines of one user). Without it every
series is summed into one user labelled ``all``. A series that appears twice (the same label
set, e.g. two scrapes appended to one file) is refused: counters are cumulative, so summing or
keeping either would be a guess.

Limits: counts up to :data:`numerics.acceptance.MAX_COUNT` (2^53 - 1), draft lengths and
positions up to :data:`numerics.validation.MAX_DRAFT`, files up to
:data:`numerics.validation.MAX_FILE_BYTES`; a JSON file nested deeper than Python's parser
allows is refused as bad input.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .acceptance import MAX_COUNT, AcceptanceCounts, position_counts, record_counts
from .scenario import read_text
from .validation import MAX_DRAFT, fmt

__all__ = [
    "FORMATS",
    "POSITION_LABEL",
    "VLLM_COUNTERS",
    "SpecDecodeCounters",
    "counters_to_counts",
    "parse_prometheus",
    "read_counters_json",
    "read_counts",
    "read_prometheus",
    "read_records_csv",
]

#: SpecDecodingStats field -> vLLM Prometheus counter name (vllm/v1/spec_decode/metrics.py)
VLLM_COUNTERS = {
    "num_drafts": "vllm:spec_decode_num_drafts",
    "num_draft_tokens": "vllm:spec_decode_num_draft_tokens",
    "num_accepted_tokens": "vllm:spec_decode_num_accepted_tokens",
    "num_accepted_tokens_per_pos": "vllm:spec_decode_num_accepted_tokens_per_pos",
}
#: the extra label of the per-position counter (0-based draft position)
POSITION_LABEL = "position"
#: file formats, chosen from the suffix unless given
FORMATS = ("prometheus", "json", "csv")
#: the label of the single pooled user when per_user is None
POOLED = "all"


@dataclasses.dataclass(frozen=True)
class SpecDecodeCounters:
    """One series of vLLM's speculative-decoding counters (one label set).

    Attributes
    ----------
    labels : dict of str
        The series' labels (``model_name``, ``engine``, ...), without ``position``.
    num_drafts : int
    num_accepted_tokens_per_pos : tuple of int
        Position 0, 1, ... (vLLM's 0-based ``position`` label).
    num_draft_tokens, num_accepted_tokens : int or None
        Present when the source has them (used as consistency checks).
    """

    labels: dict[str, str]
    num_drafts: int
    num_accepted_tokens_per_pos: tuple[int, ...]
    num_draft_tokens: int | None = None
    num_accepted_tokens: int | None = None


def _count(where: str, value: Any) -> int:
    """A counter value as an int (counters are floats in Prometheus; they must be whole and <= MAX_COUNT)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or value != math.floor(value):
        raise ValueError(f"{where} must be a non-negative integer count, got {value!r}")
    if value > MAX_COUNT:
        raise ValueError(f"{where} must be <= {MAX_COUNT} (2^53 - 1: counts above it are not exact in float64; "
                         f"limit numerics.acceptance.MAX_COUNT), got {value!r}")
    return int(value)


def _read_text(path: str | Path) -> str:
    """The log's text (numerics.scenario.read_text: missing, directory, too large, not UTF-8 -> one line)."""
    return read_text(path, what="log file")


# ------------------------------------------------------------------------ Prometheus text
def parse_prometheus(text: str, source: str = "prometheus text") -> list[SpecDecodeCounters]:
    """The speculative-decoding series of a Prometheus text exposition (vLLM ``/metrics``).

    Raises
    ------
    ValueError
        A line the Prometheus parser rejects; no ``vllm:spec_decode_num_drafts`` series; a series
        without per-position counters, with positions that are not 0..P-1, with a non-integer
        count, or whose per-position series has no matching drafts series.
    """
    from prometheus_client.parser import text_string_to_metric_families

    by_name = {v: k for k, v in VLLM_COUNTERS.items()}
    found: dict[tuple, dict[str, Any]] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(f"{source}: not a Prometheus text exposition: {exc}") from None
    for fam in families:
        for sample in fam.samples:
            name = sample.name
            if name.endswith("_created"):
                continue
            base = name[: -len("_total")] if name.endswith("_total") else name
            if base.startswith("vllm_spec_decode_"):  # OpenMetrics escaping of the colon
                base = "vllm:" + base[len("vllm_"):]
            field = by_name.get(base)
            if field is None:
                continue
            labels = dict(sample.labels)
            pos = labels.pop(POSITION_LABEL, None)
            key = tuple(sorted(labels.items()))
            entry = found.setdefault(key, {"labels": labels, "pos": {}})
            where = f"{source}: {name}{{{', '.join(f'{k}={v!r}' for k, v in sample.labels.items())}}}"
            value = _count(where, sample.value)
            if field == "num_accepted_tokens_per_pos":
                if pos is None or not pos.isdigit():
                    raise ValueError(f"{where}: label {POSITION_LABEL!r} must be a draft position 0, 1, ..., "
                                     f"got {pos!r}")
                if int(pos) >= MAX_DRAFT:
                    raise ValueError(f"{where}: label {POSITION_LABEL!r} must be < {MAX_DRAFT} (a draft length; "
                                     f"limit numerics.validation.MAX_DRAFT), got {pos!r}")
                if int(pos) in entry["pos"]:
                    raise ValueError(f"{where} appears twice (two scrapes in one file?); keep one exposition per file")
                entry["pos"][int(pos)] = value
            else:
                if field in entry:
                    raise ValueError(f"{where} appears twice (two scrapes in one file?); keep one exposition per file")
                entry[field] = value
    if not any("num_drafts" in e for e in found.values()):
        raise ValueError(f"{source}: no {VLLM_COUNTERS['num_drafts']} series (is speculative decoding enabled?)")
    return [_series(source, e) for e in found.values()]


def _series(source: str, e: dict[str, Any]) -> SpecDecodeCounters:
    labels = e["labels"]
    where = f"{source}: series {labels}"
    if "num_drafts" not in e:
        raise ValueError(f"{where} has per-position counts but no {VLLM_COUNTERS['num_drafts']}")
    pos = e["pos"]
    if not pos:
        raise ValueError(f"{where} has no {VLLM_COUNTERS['num_accepted_tokens_per_pos']} series")
    if sorted(pos) != list(range(len(pos))):
        raise ValueError(f"{where}: positions must be 0..{len(pos) - 1}, got {sorted(pos)}")
    return SpecDecodeCounters(labels=labels, num_drafts=e["num_drafts"],
                              num_accepted_tokens_per_pos=tuple(pos[i] for i in range(len(pos))),
                              num_draft_tokens=e.get("num_draft_tokens"),
                              num_accepted_tokens=e.get("num_accepted_tokens"))


def read_prometheus(path: str | Path) -> list[SpecDecodeCounters]:
    """:func:`parse_prometheus` of a file (a saved ``curl .../metrics``)."""
    return parse_prometheus(_read_text(path), source=str(path))


# ------------------------------------------------------------------------ JSON counters
def read_counters_json(path: str | Path) -> list[SpecDecodeCounters]:
    """The counters as JSON (module docstring): ``{"series": [{"labels": {...}, "num_drafts": ...}]}``.

    Raises
    ------
    ValueError
        Invalid JSON (with its line), a missing ``series`` list, a series that is not an object,
        a missing or non-integer field, labels that are not strings.
    """
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: JSON syntax error: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to be a counters file") from None
    series = data.get("series") if isinstance(data, dict) else None
    if not isinstance(series, list) or not series:
        raise ValueError(f"{path}: expected an object with a non-empty list 'series', got {type(data).__name__}")
    out = []
    for idx, s in enumerate(series):
        where = f"{path}: series[{idx}]"
        if not isinstance(s, dict):
            raise ValueError(f"{where} must be an object, got {type(s).__name__}")
        unknown = sorted(set(s) - set(VLLM_COUNTERS) - {"labels"})
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r}; known: {['labels', *VLLM_COUNTERS]}")
        labels = s.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ValueError(f"{where}.labels must map label names to strings, got {fmt(labels)}")
        for req in ("num_drafts", "num_accepted_tokens_per_pos"):
            if req not in s:
                raise ValueError(f"{where}: field {req!r} is required")
        per_pos = s["num_accepted_tokens_per_pos"]
        if not isinstance(per_pos, list) or not per_pos:
            raise ValueError(f"{where}.num_accepted_tokens_per_pos must be a non-empty list, got {fmt(per_pos)}")
        if len(per_pos) > MAX_DRAFT:
            raise ValueError(f"{where}.num_accepted_tokens_per_pos must have at most {MAX_DRAFT} positions (a draft "
                             f"length; limit numerics.validation.MAX_DRAFT), got {len(per_pos)}")
        out.append(SpecDecodeCounters(
            labels=dict(labels),
            num_drafts=_count(f"{where}.num_drafts", s["num_drafts"]),
            num_accepted_tokens_per_pos=tuple(_count(f"{where}.num_accepted_tokens_per_pos[{i}]", v)
                                              for i, v in enumerate(per_pos)),
            num_draft_tokens=None if s.get("num_draft_tokens") is None
            else _count(f"{where}.num_draft_tokens", s["num_draft_tokens"]),
            num_accepted_tokens=None if s.get("num_accepted_tokens") is None
            else _count(f"{where}.num_accepted_tokens", s["num_accepted_tokens"]),
        ))
    return out


# ------------------------------------------------------------------------ CSV records
def read_records_csv(path: str | Path, per_user: str | None = None) -> dict[str, AcceptanceCounts]:
    """Per-round records (one row per draft) grouped by the ``per_user`` column.

    Raises
    ------
    ValueError
        No header, a missing ``draft_length``/``accepted``/``per_user`` column, a non-integer
        value (with its line), or what :func:`numerics.acceptance.record_counts` rejects.
    """
    kept = [(no, line) for no, line in enumerate(_read_text(path).splitlines(), start=1)
            if not line.lstrip().startswith("#")]  # comment lines (a file's provenance) are skipped
    rows = csv.DictReader([line for _, line in kept])
    cols = rows.fieldnames or []
    needed = ["draft_length", "accepted"] + ([per_user] if per_user is not None else [])
    for col in needed:
        if col not in cols:
            raise ValueError(f"{path}: column {col!r} is required, got columns {cols}")
    groups: dict[str, tuple[list[int], list[int]]] = {}
    for row in rows:
        line = kept[rows.line_num - 1][0]
        vals = []
        for col in ("draft_length", "accepted"):
            raw = (row.get(col) or "").strip()
            try:
                v = float(raw)
            except ValueError:
                raise ValueError(f"{path}: line {line}: {col} must be an integer >= 0, got {raw!r}") from None
            vals.append(_count(f"{path}: line {line}: {col}", v))
        if vals[0] > MAX_DRAFT:
            raise ValueError(f"{path}: line {line}: draft_length must be <= {MAX_DRAFT} (limit "
                             f"numerics.validation.MAX_DRAFT), got {vals[0]}")
        user = POOLED if per_user is None else (row.get(per_user) or "").strip()
        Ls, Ns = groups.setdefault(user, ([], []))
        Ls.append(vals[0])
        Ns.append(vals[1])
    if not groups:
        raise ValueError(f"{path}: no records")
    out = {}
    for user, (Ls, Ns) in groups.items():
        try:
            out[user] = record_counts(Ls, Ns)
        except ValueError as exc:
            raise ValueError(f"{path}: user {user!r}: {exc}") from None
    return out


# ------------------------------------------------------------------------ grouping
def counters_to_counts(series: Iterable[SpecDecodeCounters], per_user: str | None = None,
                       source: str = "counters", min_draft_length: int = 0) -> dict[str, AcceptanceCounts]:
    """Sum the series of each user (value of label ``per_user``; all series when None) and
    check them (:func:`numerics.acceptance.position_counts`, with ``min_draft_length``).

    Raises
    ------
    ValueError
        A series whose label set appears twice (named); a series without the ``per_user``
        label; series of one user with different numbers of positions; what ``position_counts``
        rejects (named with the user).
    """
    groups: dict[str, list[SpecDecodeCounters]] = {}
    seen: set[tuple[tuple[str, str], ...]] = set()
    for s in series:
        key = tuple(sorted(s.labels.items()))
        if key in seen:
            raise ValueError(f"{source}: series {s.labels} appears twice (two scrapes in one file?); counters are "
                             "cumulative: keep one value per series")
        seen.add(key)
        if per_user is not None and per_user not in s.labels:
            raise ValueError(f"{source}: series {s.labels} has no label {per_user!r} (--per-user)")
        groups.setdefault(POOLED if per_user is None else s.labels[per_user], []).append(s)
    out = {}
    for user, ss in groups.items():
        P = {len(s.num_accepted_tokens_per_pos) for s in ss}
        if len(P) > 1:
            raise ValueError(f"{source}: user {user!r} has series with different numbers of positions {sorted(P)}; "
                             "fit them as separate users (--per-user)")
        D = sum(s.num_drafts for s in ss)
        a = np.sum([s.num_accepted_tokens_per_pos for s in ss], axis=0)
        tokens = [s.num_draft_tokens for s in ss]
        accepted = [s.num_accepted_tokens for s in ss]
        T = None if None in tokens else sum(t for t in tokens if t is not None)
        S = None if None in accepted else sum(x for x in accepted if x is not None)
        try:
            out[user] = position_counts(D, a, draft_tokens=T, accepted_tokens=S, min_draft_length=min_draft_length)
        except ValueError as exc:
            raise ValueError(f"{source}: user {user!r}: {exc}") from None
    return out


def _format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    return "prometheus"  # .prom, .txt, a bare /metrics dump


def read_counts(path: str | Path, per_user: str | None = None, fmt: str | None = None,
                min_draft_length: int = 0) -> dict[str, AcceptanceCounts]:
    """Per-user counts of a log file: Prometheus text (default, e.g. ``.prom``), ``.json``
    counters or ``.csv`` records (``fmt`` overrides the suffix); ``min_draft_length`` is passed
    to :func:`numerics.acceptance.position_counts` for counters (records give every length).

    Raises
    ------
    ValueError
        A missing file, an unknown format, or what the format's reader rejects.
    """
    p = Path(path)
    kind = _format(p, fmt)
    if kind == "csv":
        return read_records_csv(p, per_user)
    series = read_prometheus(p) if kind == "prometheus" else read_counters_json(p)
    return counters_to_counts(series, per_user, source=str(p), min_draft_length=min_draft_length)
