r"""Studies at scale: random drops x axis points x methods, run on Dask, averaged with intervals.

A *study* (a TOML file, ``scenarios/study.toml``) names a base preset, a drop model
(:class:`numerics.drops.DropModel`), fixed Scenario overrides, a grid of axes, the number of
drops, the methods (any of :data:`numerics.BASELINES`) and a seed::

    name = "study"
    preset = "default"           # base preset (model pair, server, payload, device and task mix)
    seed = 2026
    drops = 40                   # drops per axis point (`multispin sweep --drops N` overrides it)
    chunk_size = 10              # drops per task
    methods = ["equal-best", "homogeneous", "heterogeneous"]   # default: all six
    [drop]                       # DropModel fields (defaults: numerics/presets/drops.toml)
    environment = "uma"
    [scenario]                   # fixed Scenario overrides (and n_users if it is not an axis)
    rate_model = "linear"
    [axes]                       # every combination; keys: n_users, Scenario fields, drop-model fields
    n_users = [2, 4, 8]
    bandwidth_hz = [1.4e6, 5e6]

Execution (:func:`run_sweep`): every (axis point, chunk of drops) is one task on a Dask
cluster (a ``LocalCluster`` with one single-threaded worker process per core by default, or an
existing cluster by its scheduler address); the client writes each finished chunk to
``DIR/chunks/`` at once, so a rerun skips what is done (resumable after a crash or a kill;
``DIR/study.json`` pins the study and a hash of the ``numerics`` code, so a changed study or
solver never mixes its rows with old ones, and the workers must run the client's code), then
assembles ``DIR/results.parquet`` (one row per drop x axis point x method) and
``DIR/summary.csv`` (:func:`summarize`).

Determinism: drop d draws from ``SeedSequence(seed, spawn_key=(d,))`` (= the d-th child of
``SeedSequence(seed).spawn``) and user k of it from spawn key ``(d, k)``, whatever the chunk,
the worker or the number of workers: the tables are identical for any cluster (only the
measured ``solve_time_s`` differs). The same drop index is used at every axis point (common
random numbers: the K-user drop d is the first K users of the 2K-user drop d), so differences
between axis points are not drop noise.

Failures: a method that raises on a scenario gives a row with ``status = "error"``, the
exception in ``error``, the *study* seed (``seed``) and the drop index (``drop``): together they
are the drop's seed, ``SeedSequence(seed, spawn_key=(drop,))`` (:func:`drop_seed`; not
``DropModel().sample(K, seed)``, which is another drop), and ``drop_scenario(study, point, drop)``
rebuilds the scenario; the sweep goes on, and ``DIR/failures.csv`` lists them.

Axis values: each axis value appears once (a repeated value is rejected: it would count the same
drops twice); an axis whose values are all numbers, all bools or all strings is a column of
those, any other axis (lists, tables, a mix) a column of JSON text. ``seed`` is at most
:data:`MAX_SEED` = 2^63 - 1 (the TOML integer range, stored exactly in the int64 column).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import BASELINES, baseline
from .drops import DROP_FIELDS, DropModel
from .scenario import Scenario, read_toml
from .validation import MAX_USERS, as_int

__all__ = [
    "MAX_SEED",
    "REGIMES",
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "Study",
    "SweepResult",
    "drop_scenario",
    "drop_seed",
    "headline",
    "load_study",
    "run_chunk",
    "run_sweep",
    "summarize",
    "t_interval",
]

#: the optimal regimes whose gains over the other methods are summarised
REGIMES = ("homogeneous", "heterogeneous")

#: result columns after the axis columns (one row per drop x axis point x method)
RESULT_COLUMNS = (
    "drop", "seed", "n_users", "method", "status", "error", "goodput", "round_time_s", "upper_bound", "gap",
    "draft_min", "draft_mean", "draft_max", "zero_draft_users", "share_min", "share_max", "solve_time_s",
    "snr_db_min", "snr_db_median", "snr_db_max", "redraws",
)

#: summary columns after the axis columns
SUMMARY_COLUMNS = (
    "kind", "method", "baseline", "n", "n_failed", "mean", "ci_low", "ci_high", "std", "median", "p05", "p95",
    "min", "max", "zero_draft_share",
)

_STUDY_KEYS = ("name", "description", "preset", "seed", "drops", "chunk_size", "methods", "drop", "scenario", "axes")
_SCENARIO_KEYS = (*tuple(f.name for f in dataclasses.fields(Scenario)), "n_users")
_FORMAT = 1  # version of the chunk layout; part of the fingerprint
#: largest study seed: the TOML integer range (int64), stored exactly in the tables' int64 ``seed`` column
MAX_SEED = 2**63 - 1
_ERROR_CHARS = 400


def _int(name: str, v: Any, lo: int, hi: int | None = None) -> int:
    return as_int(name, v, low=lo, high=hi)  # numerics.validation: an int or NumPy integer, not bool


def _axis_key(v: Any) -> Any:
    """What makes two axis values the same point: numbers by value (1.4e6 == 1400000), else the JSON text."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        return ("number", float(v))
    return ("json", json.dumps(_plain(v), sort_keys=True))


def _plain(v: Any) -> Any:
    """TOML/JSON-ready value (numpy scalars and tuples converted)."""
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


# ---------------------------------------------------------------- the study
@dataclasses.dataclass(frozen=True, eq=False)
class Study:
    """A study: base preset, drop model, fixed overrides, axes, drops, methods, seed.

    Construct with :meth:`from_dict` / :func:`load_study`; every field is validated, and every
    axis point is built once (one drop), so a bad study raises ``ValueError`` naming the field
    before any work starts.
    """

    name: str
    seed: int
    drops: int
    chunk_size: int
    methods: tuple[str, ...]
    preset: str
    drop: dict[str, Any]
    scenario: dict[str, Any]
    axes: dict[str, tuple[Any, ...]]
    description: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Study:
        """Validate a parsed study file (see the module docstring for the keys)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"study must be a table, got {type(d).__name__}")
        unknown = sorted(set(d) - set(_STUDY_KEYS))
        if unknown:
            raise ValueError(f"unknown study key {unknown[0]!r}; known keys: {list(_STUDY_KEYS)}")
        for key in ("seed", "drops"):
            if key not in d:
                raise ValueError(f"study key {key!r} is required")
        name = d.get("name", "study")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        methods = d.get("methods", list(BASELINES))
        if isinstance(methods, str) or not isinstance(methods, (list, tuple)) or not methods:
            raise ValueError(f"methods must be a non-empty list of {BASELINES}, got {methods!r}")
        for m in methods:
            if m not in BASELINES:
                raise ValueError(f"methods must be names of {BASELINES}, got {m!r}")
        if len(set(methods)) != len(methods):
            raise ValueError(f"methods must not repeat a name, got {list(methods)!r}")
        tables = {}
        for key in ("drop", "scenario", "axes"):
            t = d.get(key, {})
            if not isinstance(t, Mapping):
                raise ValueError(f"{key} must be a table, got {t!r}")
            tables[key] = dict(t)
        drop, scen, axes = tables["drop"], tables["scenario"], tables["axes"]
        if "preset" in drop:
            raise ValueError("drop.preset: set the base preset at the top level (preset = \"name\")")
        bad = sorted(set(drop) - set(DROP_FIELDS))
        if bad:
            raise ValueError(f"unknown drop key {bad[0]!r}; known keys: {[f for f in DROP_FIELDS if f != 'preset']}")
        bad = sorted(set(scen) - set(_SCENARIO_KEYS))
        if bad:
            raise ValueError(f"unknown scenario key {bad[0]!r}; known keys: {list(_SCENARIO_KEYS)}")
        axis_keys = set(DROP_FIELDS) | set(_SCENARIO_KEYS)
        for k, vals in axes.items():
            if k not in axis_keys:
                raise ValueError(f"unknown axis {k!r}; an axis is n_users, a Scenario field or a drop-model field")
            if isinstance(vals, (str, Mapping)) or not isinstance(vals, (list, tuple)) or not vals:
                raise ValueError(f"axes.{k} must be a non-empty list of values, got {vals!r}")
            seen: dict[Any, Any] = {}
            for v in vals:
                key = _axis_key(v)
                if key in seen:
                    same = "" if repr(seen[key]) == repr(v) else f" (as {seen[key]!r})"
                    raise ValueError(f"axes.{k} repeats the value {v!r}{same}: every axis value once")
                seen[key] = v
            if k in drop or k in scen:
                where = "drop" if k in drop else "scenario"
                raise ValueError(f"axes.{k} is also set in [{where}]: set it in one place")
        if "n_users" not in axes and "n_users" not in scen:
            raise ValueError("n_users must be set in [axes] or [scenario]")
        description = d.get("description", "")
        if not isinstance(description, str):
            raise ValueError(f"description must be a string, got {description!r}")
        study = cls(
            name=name,
            seed=_int("seed", d["seed"], 0, MAX_SEED),
            drops=_int("drops", d["drops"], 1, 10_000_000),
            chunk_size=_int("chunk_size", d.get("chunk_size", 10), 1, 1_000_000),
            methods=tuple(methods),
            preset=d.get("preset", "default"),
            drop=drop,
            scenario=scen,
            axes={k: tuple(v) for k, v in axes.items()},
            description=description,
        )
        for p in range(study.n_points):  # every point once: a bad value fails here, naming its field
            try:
                drop_scenario(study, p, 0)
            except ValueError as exc:
                raise ValueError(f"axis point {study.point(p)}: {exc}") from None
        return study

    # ------------------------------------------------------------------ grid
    @property
    def n_points(self) -> int:
        """Number of axis points (the product of the axes' lengths; 1 without axes)."""
        return math.prod(len(v) for v in self.axes.values())

    def point(self, index: int) -> dict[str, Any]:
        """The axis values of point ``index`` (axes in file order, the last one varying fastest)."""
        values = next(itertools.islice(itertools.product(*self.axes.values()), index, None))
        return dict(zip(self.axes, values, strict=True))

    def points(self) -> list[dict[str, Any]]:
        """Every axis point, in order."""
        return [dict(zip(self.axes, vals, strict=True)) for vals in itertools.product(*self.axes.values())]

    def settings(self, index: int) -> tuple[dict[str, Any], dict[str, Any], int]:
        """(drop-model fields, Scenario overrides, n_users) of point ``index``."""
        pt = self.point(index)
        drop = {"preset": self.preset, **self.drop, **{k: v for k, v in pt.items() if k in DROP_FIELDS}}
        scen = {**self.scenario, **{k: v for k, v in pt.items() if k not in DROP_FIELDS}}
        n_users = as_int("n_users", scen.pop("n_users"), low=1, high=MAX_USERS, limit="numerics.validation.MAX_USERS")
        return drop, scen, n_users

    def chunks(self, drops: int | None = None) -> list[tuple[int, int, int]]:
        """Tasks ``(point, start, stop)``: drops [start, stop) of an axis point."""
        n = self.drops if drops is None else drops
        return [(p, a, min(a + self.chunk_size, n)) for p in range(self.n_points) for a in range(0, n, self.chunk_size)]

    def with_drops(self, drops: int) -> Study:
        """The same study with another number of drops (the first drops are the same drops)."""
        return dataclasses.replace(self, drops=_int("drops", drops, 1, 10_000_000))

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict that :meth:`from_dict` reads back."""
        return _plain({"name": self.name, "description": self.description, "preset": self.preset,
                       "seed": self.seed, "drops": self.drops, "chunk_size": self.chunk_size,
                       "methods": list(self.methods), "drop": self.drop, "scenario": self.scenario,
                       "axes": {k: list(v) for k, v in self.axes.items()}})

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the chunks on disk: the study (but ``drops``) and the
        code and data of ``numerics`` (a SHA-256 over its files), so that a changed solver never
        mixes its rows with an old one's."""
        d = self.to_dict()
        d.pop("drops")
        d.pop("description")
        return {"format": _FORMAT, "numerics_sha256": _code_hash(), "study": d}


def _code_hash() -> str:
    """SHA-256 of the ``numerics`` package's Python and TOML files (names and contents, sorted)."""
    import hashlib

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def load_study(path: str | Path) -> Study:
    """Read and validate a study file (TOML).

    Raises ``ValueError`` with one clear line: missing file, TOML syntax error, unknown key, or a
    bad value naming the field.
    """
    try:
        data = read_toml(path)
    except ValueError as exc:  # the shared reader names the file a "scenario file"
        raise ValueError(str(exc).replace("scenario file", "study file", 1)) from None
    try:
        return Study.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"study file {str(path)!r}: {exc}") from None


def drop_seed(seed: int, drop: int) -> np.random.SeedSequence:
    """Seed of drop ``drop``: ``SeedSequence(seed, spawn_key=(drop,))``, the ``drop``-th child of
    ``SeedSequence(seed).spawn(...)``.

    Examples
    --------
    >>> drop_seed(7, 2).generate_state(2).tolist() == np.random.SeedSequence(7).spawn(3)[2].generate_state(2).tolist()
    True
    """
    return np.random.SeedSequence(seed, spawn_key=(drop,))


def drop_scenario(study: Study, point: int, drop: int):
    """Rebuild the scenario of drop ``drop`` at axis point ``point``: ``(Scenario, Drop)``.

    This is how a failing row of a results table is reproduced from its ``point`` and ``drop``.
    """
    drop_fields, scen, n_users = study.settings(point)
    return DropModel.from_dict(drop_fields).sample(n_users, drop_seed(study.seed, drop), **scen)


# ---------------------------------------------------------------- one task
def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return text[:_ERROR_CHARS]


def _row(study: Study, point: int, drop: int, n_users: int, method: str, d=None) -> dict[str, Any]:
    row = {c: math.nan for c in RESULT_COLUMNS}
    row.update(drop=drop, seed=study.seed, n_users=n_users, method=method, status="error", error="")
    if d is not None:
        row.update(snr_db_min=float(np.min(d.snr_db)), snr_db_median=float(np.median(d.snr_db)),
                   snr_db_max=float(np.max(d.snr_db)), redraws=float(np.sum(d.redraws)))
    return row


def run_chunk(study: Study, point: int, start: int, stop: int):
    """Rows of drops [start, stop) at axis point ``point``, every method (a pandas DataFrame).

    Runs on a Dask worker; pure: the same arguments give the same table (but ``solve_time_s``).
    A method or a drop that raises gives rows with ``status = "error"`` and the exception text.
    """
    import pandas as pd

    drop_fields, scen, n_users = study.settings(point)
    model = DropModel.from_dict(drop_fields)
    rows = []
    for drop in range(start, stop):
        try:
            s, d = model.sample(n_users, drop_seed(study.seed, drop), **scen)
        except Exception as exc:  # a drop that cannot be built is recorded for every method
            err = _error_text(exc)
            for m in study.methods:
                rows.append({**_row(study, point, drop, n_users, m), "error": err})
            continue
        for m in study.methods:
            row = _row(study, point, drop, n_users, m, d)
            t0 = time.perf_counter()
            try:
                sol = baseline(s, m)
            except Exception as exc:  # recorded with the drop's seed, never dropped
                row["solve_time_s"] = time.perf_counter() - t0
                row["error"] = _error_text(exc)
                rows.append(row)
                continue
            row["solve_time_s"] = time.perf_counter() - t0
            L = np.asarray(sol.draft_lengths, dtype=np.float64)
            beta = np.asarray(sol.bandwidth, dtype=np.float64)
            row.update(status="ok", goodput=float(sol.goodput), round_time_s=float(sol.round_time),
                       upper_bound=float(sol.upper_bound), gap=float(sol.gap), draft_min=float(L.min()),
                       draft_mean=float(L.mean()), draft_max=float(L.max()), zero_draft_users=float(np.sum(L == 0)),
                       share_min=float(beta.min()), share_max=float(beta.max()))
            rows.append(row)
    df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for k, v in reversed(list(study.point(point).items())):
        if k != "n_users":
            df.insert(0, k, _axis_value(v, study.axes[k]))
    df.insert(0, "point", point)
    return _typed(df)


def _axis_value(v: Any, values: Sequence[Any]) -> Any:
    """An axis value as a table cell, one column type per axis: the value as it is when every value
    of the axis (``values``) is a number, or every one a bool, or every one a string; else JSON text
    (an axis mixing ``0.5`` and ``[0.6, 0.7]`` is a text column, which Parquet can store)."""
    kinds = {_cell_kind(x) for x in values}
    return _plain(v) if len(kinds) == 1 and "json" not in kinds else json.dumps(_plain(v))


def _cell_kind(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    return "str" if isinstance(v, str) else "json"


def _typed(df):
    for c in ("point", "drop", "seed", "n_users"):
        df[c] = df[c].astype("int64")
    for c in ("method", "status", "error"):
        df[c] = df[c].astype(str)
    for c in RESULT_COLUMNS[6:]:
        df[c] = df[c].astype("float64")
    return df


# ---------------------------------------------------------------- the summary
def t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean: mean -/+ t_{(1+level)/2, n-1} s / sqrt(n).

    NaN for fewer than two values (no spread to estimate).

    Examples
    --------
    >>> lo, hi = t_interval(np.array([1.0, 2.0, 3.0]))
    >>> round(lo, 4), round(hi, 4)     # 2 -/+ 4.3027 x 1 / sqrt(3)
    (-0.4841, 4.4841)
    """
    from scipy.stats import t as student_t

    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 2:
        return math.nan, math.nan
    m = float(np.mean(x))
    half = float(student_t.ppf(0.5 + level / 2.0, n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return m - half, m + half


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {k: math.nan for k in ("mean", "ci_low", "ci_high", "std", "median", "p05", "p95", "min", "max")}
    lo, hi = t_interval(x)
    return {"mean": float(np.mean(x)), "ci_low": lo, "ci_high": hi,
            "std": float(np.std(x, ddof=1)) if x.size > 1 else math.nan,
            "median": float(np.median(x)), "p05": float(np.percentile(x, 5)), "p95": float(np.percentile(x, 95)),
            "min": float(np.min(x)), "max": float(np.max(x))}


def summarize(results, study: Study):
    """Per axis point: each method's goodput, and each regime's per-drop gain over each method.

    Rows ``kind = "goodput"`` (``method``; ``zero_draft_share``: the share of drops in which the
    method leaves some user at L = 0) and ``kind = "gain"`` (``method`` a regime of
    :data:`REGIMES`, ``baseline`` another method; the per-drop gain G_method / G_baseline - 1 over
    the drops where both solved). Statistics: ``n`` values used, ``n_failed`` drops left out by a
    failed solve, mean with its 95% Student-t interval (:func:`t_interval`), std (ddof 1), median,
    5th/95th percentiles (linear interpolation, ``numpy.percentile``), min and max.
    """
    import pandas as pd

    axes = [k for k in study.axes if k != "n_users"]
    out = []
    for p, grp in results.groupby("point", sort=True):
        head = {"point": int(p), **{k: grp[k].iloc[0] for k in axes}, "n_users": int(grp["n_users"].iloc[0])}
        ok = grp["status"] == "ok"
        G = grp[ok].pivot(index="drop", columns="method", values="goodput")
        drops = np.unique(grp["drop"])
        for m in study.methods:
            sel = grp[(grp["method"] == m) & ok]
            x = sel["goodput"].to_numpy(np.float64)
            zero = float(np.mean(sel["zero_draft_users"].to_numpy() > 0)) if len(sel) else math.nan
            out.append({**head, "kind": "goodput", "method": m, "baseline": "", "n": int(x.size),
                        "n_failed": int(drops.size - x.size), **_stats(x), "zero_draft_share": zero})
        for r in (m for m in study.methods if m in REGIMES):
            for b in study.methods:
                if b == r:
                    continue
                both = G[[r, b]].dropna() if r in G and b in G else pd.DataFrame(columns=[r, b])
                both = both[both[b] > 0]
                g = (both[r] / both[b] - 1.0).to_numpy(np.float64)
                out.append({**head, "kind": "gain", "method": r, "baseline": b, "n": int(g.size),
                            "n_failed": int(drops.size - g.size), **_stats(g), "zero_draft_share": math.nan})
    cols = ["point", *axes, "n_users", *SUMMARY_COLUMNS]
    return pd.DataFrame(out, columns=cols)


def headline(results, summary, study: Study):
    """The study's answer per (regime, baseline): the largest per-drop gain (with its point and
    drop), the largest 95th percentile over the axis points, and the point of the largest mean.
    """
    import pandas as pd

    axes = [k for k in study.axes if k != "n_users"] + ["n_users"]
    rows = []
    gains = summary[summary["kind"] == "gain"]
    ok = results[results["status"] == "ok"]
    for (r, b), grp in gains.groupby(["method", "baseline"], sort=False):
        if grp["n"].sum() == 0:
            continue
        best_mean = grp.loc[grp["mean"].idxmax()]
        best_p95 = grp.loc[grp["p95"].idxmax()]
        best_max = grp.loc[grp["max"].idxmax()]
        sub = ok[(ok["point"] == best_max["point"]) & ok["method"].isin([r, b])]
        G = sub.pivot(index="drop", columns="method", values="goodput").dropna()
        G = G[G[b] > 0]
        drop = int((G[r] / G[b]).idxmax())
        rows.append({"method": r, "baseline": b, "drops": int(grp["n"].sum()),
                     "max_gain": float(best_max["max"]), "max_point": int(best_max["point"]), "max_drop": drop,
                     "max_setting": json.dumps({k: _plain(best_max[k]) for k in axes}),
                     "p95_gain": float(best_p95["p95"]),
                     "p95_setting": json.dumps({k: _plain(best_p95[k]) for k in axes}),
                     "best_mean_gain": float(best_mean["mean"]), "best_mean_ci_low": float(best_mean["ci_low"]),
                     "best_mean_ci_high": float(best_mean["ci_high"]),
                     "best_mean_setting": json.dumps({k: _plain(best_mean[k]) for k in axes})})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- execution
@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` produced: the tables, where they were written, and the work done."""

    results: Any
    summary: Any
    out_dir: Path | None
    computed_chunks: int
    skipped_chunks: int
    seconds: float

    @property
    def failures(self):
        """Rows of failed solves (status 'error')."""
        return self.results[self.results["status"] != "ok"]


def _chunk_path(out: Path, point: int, start: int, stop: int) -> Path:
    return out / "chunks" / f"p{point:05d}-d{start:07d}-{stop:07d}.parquet"


def _write_atomic(df, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_parquet(tmp, engine="pyarrow", index=False)
    os.replace(tmp, path)


def _prepare_dir(out: Path, study: Study) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "chunks").mkdir(exist_ok=True)
    fp_path = out / "study.json"
    fp = study.fingerprint()
    if fp_path.exists():
        try:
            old = json.loads(fp_path.read_text())
        except json.JSONDecodeError:
            old = None
        if old != fp:
            raise ValueError(f"--out {str(out)!r} holds chunks of another study (or of other numerics code); "
                             f"use another folder or delete it")
    else:
        fp_path.write_text(json.dumps(fp, indent=2, sort_keys=True) + "\n")


def _client(workers: int | None, scheduler: str | None):
    """A dask.distributed Client: to ``scheduler``, else to a new LocalCluster of ``workers`` processes."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except ValueError as exc:  # Dask's address parser ("missing port number", int("18786x"), ...)
            raise ValueError(f"--scheduler {scheduler!r}: not a scheduler address such as tcp://host:8786: "
                             f"{exc}") from None
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler {scheduler!r}: cannot connect: {exc}") from None
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            client.close()
            raise ValueError(f"--scheduler {scheduler!r}: no worker joined within 60 s") from None
        return client, None
    n = (os.cpu_count() or 1) if workers is None else workers
    # dashboard_address ":0": a free port, never a collision with another cluster on the machine
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_sweep(study: Study, out_dir: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, client: Any = None, drops: int | None = None,
              progress: bool | None = None) -> SweepResult:
    """Run a study: every (axis point, chunk of drops) a Dask task; write and summarise the tables.

    Parameters
    ----------
    study : Study
    out_dir : path, optional
        Folder of ``results.parquet``, ``summary.csv``, ``failures.csv``, ``study.json`` and the
        per-chunk files of ``chunks/`` (a rerun skips chunks already there). ``None``: nothing is
        written and nothing resumed.
    workers : int, optional
        Worker processes of the LocalCluster (default: the number of cores); 0 runs the chunks
        in this process, one after the other, without Dask.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers need this
        package installed. Exclusive with ``workers``.
    client : distributed.Client, optional
        An existing client (used as it is, not closed).
    drops : int, optional
        Overrides the study's number of drops (the first drops are the same drops).
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        Bad arguments, an unreachable scheduler, an ``out_dir`` holding another study.
    RuntimeError
        A task failed as a whole (a worker died, ...); the finished chunks are kept: rerun to resume.
    """
    import pandas as pd

    if not isinstance(study, Study):
        raise ValueError(f"study must be a Study, got {type(study).__name__}")
    if drops is not None:
        study = study.with_drops(drops)
    if workers is not None:
        workers = _int("workers", workers, 0, 4096)
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
        raise ValueError(f"scheduler must be an address such as 'tcp://host:8786', got {scheduler!r}")
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValueError("give one of workers, scheduler or client")
    out = None if out_dir is None else Path(out_dir)
    t_start = time.perf_counter()
    tasks = study.chunks()
    if out is not None:
        _prepare_dir(out, study)
        todo = [c for c in tasks if not _chunk_path(out, *c).exists()]
    else:
        todo = list(tasks)
    # drop-major order: a run stopped early leaves every axis point with (nearly) the same drops
    todo.sort(key=lambda c: (c[1], c[0]))
    frames: dict[tuple[int, int, int], Any] = {}

    def done(task, df) -> None:
        if out is not None:
            _write_atomic(df, _chunk_path(out, *task))
        else:
            frames[task] = df

    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=f"sweep {study.name}", unit="chunk",
               disable=not show, file=sys.stderr)
    try:
        if todo and workers == 0:
            for task in todo:
                done(task, run_chunk(study, *task))
                bar.update(1)
        elif todo:
            _run_dask(study, todo, done, bar, workers, scheduler, client)
    finally:
        bar.close()

    if out is not None:
        parts = [pd.read_parquet(_chunk_path(out, *c), engine="pyarrow") for c in tasks]
    else:
        parts = [frames[c] for c in tasks]
    results = _typed(pd.concat(parts, ignore_index=True))  # one dtype per column, from memory or from disk
    order = {m: i for i, m in enumerate(study.methods)}
    results = results.sort_values(["point", "drop", "method"], key=lambda s: s.map(order) if s.name == "method" else s,
                                  kind="stable").reset_index(drop=True)
    summary = summarize(results, study)
    if out is not None:
        results.to_parquet(out / "results.parquet", engine="pyarrow", index=False)
        summary.to_csv(out / "summary.csv", index=False, float_format="%.10g")
        fails = results[results["status"] != "ok"]
        cols = ["point", *[k for k in study.axes if k != "n_users"], "n_users", "drop", "seed", "method", "error"]
        fails[cols].to_csv(out / "failures.csv", index=False)
        headline(results, summary, study).to_csv(out / "headline.csv", index=False, float_format="%.10g")
    return SweepResult(results=results, summary=summary, out_dir=out, computed_chunks=len(todo),
                       skipped_chunks=len(tasks) - len(todo), seconds=time.perf_counter() - t_start)


def _run_dask(study: Study, todo: Sequence[tuple[int, int, int]], done, bar, workers, scheduler, client) -> None:
    from distributed import as_completed

    own_client, cluster = (client, None) if client is not None else _client(workers, scheduler)
    try:
        mine = _code_hash()
        other = sorted(w for w, h in own_client.run(_code_hash).items() if h != mine)
        if other:  # a worker with other numerics code would mix its answers with ours
            raise ValueError(f"Dask workers {other} run other numerics code than this client "
                             f"(install the same multispin version on every worker)")
        futures = {}
        for task in todo:
            fut = own_client.submit(run_chunk, study, *task, pure=False)
            futures[fut] = task
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                df = fut.result()
            except Exception as exc:
                for f in futures:
                    f.cancel()
                raise RuntimeError(f"chunk {task} failed as a whole ({_error_text(exc)}); finished chunks are "
                                   f"kept: rerun to resume") from None
            done(task, df)
            bar.update(1)
            del df
    finally:
        if client is None:
            own_client.close()
            if cluster is not None:
                cluster.close()

