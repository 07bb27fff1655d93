r"""Random user drops in one cell: positions, path loss, shadowing, SNR, CQI, devices and tasks.

A *drop* places K users at random around the edge server's base station and turns each
user's link budget and draw of device and task into one :class:`numerics.Scenario`, the way
wireless system-level studies judge an allocation: over many drops, not one hand-made case.
Every constant lives in the cited data file ``numerics/presets/drops.toml``; this module holds
the formulas (3GPP TR 38.901, Tables 7.4.1-1 and 7.4.2-1, written out below; docs/model.md
section 8).

Per user k (all outdoor, at height h_UT; the BS at height h_BS):

1. Position, uniform in area in the annulus r_min <= d_2D <= R:
   d_2D = sqrt(r_min^2 + U (R^2 - r_min^2)), azimuth 2 pi U' (U, U' uniform on [0, 1)).
2. Line of sight with probability (Table 7.4.2-1)
   P_LOS(d) = 1 for d <= d1, else d1/d + exp(-d/d2) (1 - d1/d).
3. Path loss (Table 7.4.1-1; d_3D = sqrt(d_2D^2 + (h_BS - h_UT)^2) in m, f_c in GHz)::

       LOS   PL1 = a + b1 log10(d_3D) + c log10(f_c)                                   for d_2D <= d'_BP
             PL2 = a + 40 log10(d_3D) + c log10(f_c) - e log10(d'_BP^2 + (h_BS - h_UT)^2)  beyond
             d'_BP = 4 (h_BS - h_E)(h_UT - h_E) f_c[Hz] / c,  h_E = 1 m
       NLOS  PL = max(PL_LOS, a' + b' log10(d_3D) + c' log10(f_c) - g (h_UT - 1.5))

4. Log-normal shadowing: PL + sigma_SF Z, Z standard normal, sigma_SF of the LOS state.
5. Full-band SNR (the ``snr`` field of the Shannon rate model, docs/model.md section 2):
   rho_dB = P_UE - PL - (N_0 + 10 log10 B + NF)   [dBm, dB, dBm/Hz, Hz, dB].
6. Spectral efficiency of the linear rate model: eta = efficiency of the highest LTE CQI level
   q (3GPP TS 36.213 Table 7.2.3-1, ``channel.toml``) with (2^eta_q - 1) G <= rho, G the SNR gap
   (the presets' convention rho = 2^eta - 1 at G = 0 dB). A user below CQI 1 is out of coverage
   and is drawn again (steps 1-4), so a drop is a set of covered users; the number of redraws
   is reported.
7. Device class (device, precision) and task (acceptance) drawn from mix fractions; the draft
   latency, payload, verifier and draft length cap come from the base preset
   (:func:`numerics.presets.build`).

Randomness: user k of a drop draws from its own stream, ``SeedSequence(entropy,
spawn_key=drop_key + (k,))``, so a drop of K users is the first K users of the same drop with
more users (common random numbers across the number of users), and every drop is reproducible
from its seed alone.

Limits of the model (stated, not hidden): one cell, no interference, no indoor users, no
fast fading (the study averages over large-scale fading only); h_UT in [1.5, 13) m, where
TR 38.901's effective environment height is exactly 1 m and the UMa LOS-probability height
term vanishes.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np

from . import presets as _presets
from .scenario import Scenario
from .validation import MAX_USERS, as_float, as_int, as_positive

__all__ = [
    "DROP_FIELDS",
    "ENVIRONMENTS",
    "Drop",
    "DropModel",
    "breakpoint_distance",
    "cqi_from_snr",
    "drop_constants",
    "los_probability",
    "noise_power_dbm",
    "pathloss_db",
]

ENVIRONMENTS = ("uma", "umi")

#: largest number of draws of one user before the drop model gives up (coverage too small)
MAX_REDRAWS = 10_000

#: TR 38.901 Table 7.4.1-1: the path-loss formulas hold for 0.5 GHz <= f_c <= 100 GHz
_CARRIER_RANGE_HZ = (0.5e9, 100e9)
#: h_UT range where h_E = 1 m exactly and C'(h_UT) = 0 (UMa): [1.5, 13) m
_UE_HEIGHT_RANGE_M = (1.5, 13.0)


@functools.cache
def drop_constants() -> dict[str, Any]:
    """The parsed ``numerics/presets/drops.toml`` (cited constants of the link budget)."""
    return tomllib.loads((resources.files("numerics") / "presets" / "drops.toml").read_text())


def _env(environment: str) -> Mapping[str, Any]:
    envs = drop_constants()["environments"]
    if not isinstance(environment, str) or environment not in envs:
        raise ValueError(f"environment must be one of {tuple(envs)}, got {environment!r}")
    return envs[environment]


# ---------------------------------------------------------------- link-budget formulas
def breakpoint_distance(environment: str, carrier_hz: float, ue_height_m: float = 1.5) -> float:
    """Breakpoint distance d'_BP = 4 (h_BS - h_E)(h_UT - h_E) f_c / c [m] (TR 38.901 Table 7.4.1-1 Note 1).

    Examples
    --------
    >>> round(breakpoint_distance('uma', 2e9), 6)       # 4 x 24 x 0.5 x 2e9 / 3e8
    320.0
    """
    e = _env(environment)
    h_e = drop_constants()["link"]["effective_environment_height_m"]
    c = drop_constants()["physics"]["speed_of_light"]
    return 4.0 * (e["bs_height_m"] - h_e) * (ue_height_m - h_e) * carrier_hz / c


def los_probability(environment: str, distance_m: Any) -> np.ndarray:
    """P_LOS(d_2D) = 1 for d <= d1, else d1/d + exp(-d/d2)(1 - d1/d) (TR 38.901 Table 7.4.2-1).

    Outdoor users with h_UT <= 13 m (the UMa height factor is 1 there).

    Examples
    --------
    >>> float(los_probability('umi', 18.0)), round(float(los_probability('uma', 100.0)), 4)  # 0.18 + e^(-100/63) 0.82
    (1.0, 0.3477)
    """
    e = _env(environment)
    d = np.asarray(distance_m, dtype=np.float64)
    d1, d2 = e["los_d1_m"], e["los_d2_m"]
    safe = np.maximum(d, d1)  # the formula is only used beyond d1 (no division by zero)
    return np.where(d <= d1, 1.0, d1 / safe + np.exp(-safe / d2) * (1.0 - d1 / safe))


def pathloss_db(environment: str, distance_m: Any, los: Any, carrier_hz: float,
                ue_height_m: float = 1.5) -> np.ndarray:
    """Path loss without shadowing [dB] (TR 38.901 Table 7.4.1-1; formulas in the module docstring).

    Parameters
    ----------
    environment : {'uma', 'umi'}
    distance_m : array_like
        2-D distance d_2D [m], within the table's range 10 m .. 5 km.
    los : array_like of bool
        Line-of-sight state (broadcast against ``distance_m``).
    carrier_hz : float
        Carrier frequency f_c [Hz].
    ue_height_m : float
        h_UT [m].

    Examples
    --------
    >>> round(float(pathloss_db('uma', 100.0, True, 2e9)), 3)  # 28 + 22 log10(sqrt(100^2 + 23.5^2)) + 20 log10(2)
    78.277
    """
    e = _env(environment)
    d = np.asarray(distance_m, dtype=np.float64)
    dh = e["bs_height_m"] - ue_height_m
    d3 = np.sqrt(d * d + dh * dh)
    lf = math.log10(carrier_hz / 1e9)
    bp = breakpoint_distance(environment, carrier_hz, ue_height_m)
    pl1 = e["los_intercept_db"] + e["los_slope_near"] * np.log10(d3) + e["los_freq_slope"] * lf
    pl2 = (e["los_intercept_db"] + 40.0 * np.log10(d3) + e["los_freq_slope"] * lf
           - e["los_breakpoint_slope"] * math.log10(bp * bp + dh * dh))
    pl_los = np.where(d <= bp, pl1, pl2)
    pl_nlos = (e["nlos_intercept_db"] + e["nlos_slope"] * np.log10(d3) + e["nlos_freq_slope"] * lf
               - e["nlos_height_slope"] * (ue_height_m - 1.5))
    return np.where(np.asarray(los, dtype=bool), pl_los, np.maximum(pl_los, pl_nlos))


def noise_power_dbm(bandwidth_hz: float, noise_figure_db: float, noise_density_dbm_hz: float = -174.0) -> float:
    """Receiver noise power N_0 + 10 log10(B) + NF [dBm].

    Examples
    --------
    >>> round(noise_power_dbm(1e6, 5.0), 6)
    -109.0
    """
    return noise_density_dbm_hz + 10.0 * math.log10(bandwidth_hz) + noise_figure_db


def cqi_from_snr(snr_db: Any, snr_gap_db: float = 0.0) -> np.ndarray:
    """Highest LTE CQI level q with 10 log10(2^eta_q - 1) + gap <= SNR [dB]; 0 means out of coverage.

    eta_q: TS 36.213 Table 7.2.3-1 (``channel.toml``); 2^eta - 1 is :func:`numerics.presets.cqi_snr`.

    Examples
    --------
    >>> cqi_from_snr([-10.0, -8.0, 20.0]).tolist()   # CQI 1 needs -9.54 dB, CQI 2 -7.54 dB
    [0, 1, 15]
    """
    n = len(_presets.tables()["channel"]["cqi"]["efficiency"])
    thresholds = np.array([10.0 * math.log10(_presets.cqi_snr(q)) for q in range(1, n + 1)]) + snr_gap_db
    return np.searchsorted(thresholds, np.asarray(snr_db, dtype=np.float64), side="right").astype(np.int64)


# ---------------------------------------------------------------- the drop model
#: fields of :class:`DropModel` (study files may set each one, or sweep over it)
DROP_FIELDS = ("preset", "environment", "cell_radius_m", "min_distance_m", "carrier_hz", "ue_height_m",
               "ue_power_dbm", "noise_density_dbm_hz", "noise_figure_db", "snr_gap_db", "devices", "tasks")


def _finite(name: str, v: Any) -> float:
    return as_float(name, v)  # numerics.validation: a real number (not bool, not str), finite


def _mix(name: str, entries: Any, keys: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    """Validate a mix: a non-empty list of tables with ``keys`` and a ``fraction``, fractions summing to 1."""
    if isinstance(entries, Mapping) or isinstance(entries, str) or not hasattr(entries, "__iter__"):
        raise ValueError(f"{name} must be a list of tables with keys {[*keys, 'fraction']}, got {entries!r}")
    out = []
    for i, e in enumerate(entries):
        if isinstance(e, Mapping):
            extra = sorted(set(e) - {*keys, "fraction"})
            missing = [k for k in (*keys, "fraction") if k not in e]
            if extra or missing:
                raise ValueError(f"{name}[{i}] must have exactly the keys {[*keys, 'fraction']}, got {sorted(e)}")
            e = (*(e[k] for k in keys), e["fraction"])
        e = tuple(e)
        if len(e) != len(keys) + 1:
            raise ValueError(f"{name}[{i}] must be ({', '.join(keys)}, fraction), got {e!r}")
        f = _finite(f"{name}[{i}].fraction", e[-1])
        if f <= 0:
            raise ValueError(f"{name}[{i}].fraction must be > 0, got {e[-1]!r}")
        out.append((*e[:-1], f))
    if not out:
        raise ValueError(f"{name} must not be empty")
    total = math.fsum(e[-1] for e in out)
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"{name} fractions must sum to 1, got {total!r}")
    return tuple(out)


def _preset_mix(spec: Mapping[str, Any]) -> tuple[tuple, tuple]:
    """Default mixes: the base preset's users, each (device, precision) and task by its share."""
    users = list(spec["users"])
    dev = collections.Counter((u["device"], u["precision"]) for u in users)
    task = collections.Counter(u["acceptance"] for u in users)
    n = len(users)
    return (tuple((d, p, c / n) for (d, p), c in dev.items()), tuple((a, c / n) for a, c in task.items()))


@dataclasses.dataclass(frozen=True)
class Drop:
    """One drop: per-user link budget and draws (arrays of length K), and how to rebuild it.

    Attributes
    ----------
    entropy, spawn_key : int or tuple of int, tuple of int
        The drop's ``numpy.random.SeedSequence`` (user k draws from spawn key ``spawn_key + (k,)``);
        ``entropy`` is a tuple when the seed sequence was built from a sequence of integers.
    x_m, y_m, distance_m : ndarray
        Position relative to the BS and 2-D distance [m].
    los : ndarray of bool
        Line-of-sight state.
    shadowing_db, pathloss_db : ndarray
        Shadow fading sigma_SF Z and the total path loss including it [dB].
    snr_db : ndarray
        Full-band SNR 10 log10(rho) [dB] over ``bandwidth_hz``.
    cqi : ndarray of int
        CQI level 1..15 (TS 36.213 Table 7.2.3-1).
    device, precision, task : tuple of str
        Device class and task (acceptance id) of each user.
    redraws : ndarray of int
        How many times each user was drawn again for lack of coverage.
    bandwidth_hz : float
        The band over which the SNR is computed.
    """

    entropy: int | tuple[int, ...]
    spawn_key: tuple[int, ...]
    x_m: np.ndarray
    y_m: np.ndarray
    distance_m: np.ndarray
    los: np.ndarray
    shadowing_db: np.ndarray
    pathloss_db: np.ndarray
    snr_db: np.ndarray
    cqi: np.ndarray
    device: tuple[str, ...]
    precision: tuple[str, ...]
    task: tuple[str, ...]
    redraws: np.ndarray
    bandwidth_hz: float

    @property
    def n_users(self) -> int:
        return int(self.distance_m.size)


@dataclasses.dataclass(frozen=True)
class DropModel:
    """Users dropped uniformly in an annulus around one BS, with a TR 38.901 link budget.

    Parameters
    ----------
    preset : str
        Base preset (``numerics/presets/scenarios.toml``): model pair, server, payload, draft cap,
        rate model, batching, band; its users give the default device and task mixes.
    environment : {'uma', 'umi'}
        TR 38.901 scenario: urban macro or urban micro street canyon.
    cell_radius_m : float, optional
        Outer radius R [m] (default: half the environment's inter-site distance), <= 5 km.
    min_distance_m : float, optional
        Inner radius r_min [m] (default: TR 38.901 Table 7.2-1's minimum BS-UT distance), >= 10 m.
    carrier_hz : float, optional
        Carrier frequency [Hz] in [0.5, 100] GHz (default ``drops.toml`` [link] carrier_hz).
    ue_height_m : float, optional
        h_UT [m] in [1.5, 13).
    ue_power_dbm : float, optional
        UE transmit power [dBm] (default 23, power class 3).
    noise_density_dbm_hz : float, optional
        Thermal noise density [dBm/Hz] (default -174).
    noise_figure_db : float, optional
        BS receiver noise figure [dB] >= 0 (default 5).
    snr_gap_db : float
        SNR gap of the CQI mapping [dB] >= 0 (default 0).
    devices : sequence of (device, precision, fraction), optional
        Device-class mix (keys of ``hardware.toml``); fractions sum to 1.
    tasks : sequence of (acceptance id, fraction), optional
        Task mix (``acceptance.toml`` ids or ``'profile:<name>'``); fractions sum to 1.

    Raises
    ------
    ValueError
        Naming the field and the value, for any parameter outside its domain.

    Examples
    --------
    >>> m = DropModel()
    >>> m.environment, m.cell_radius_m, m.min_distance_m
    ('uma', 250.0, 35.0)
    >>> s, d = m.sample(4, seed=1)
    >>> s.n_users, bool(np.all((d.distance_m >= 35) & (d.distance_m <= 250)))
    (4, True)
    """

    preset: str = "default"
    environment: str = "uma"
    cell_radius_m: float | None = None
    min_distance_m: float | None = None
    carrier_hz: float | None = None
    ue_height_m: float | None = None
    ue_power_dbm: float | None = None
    noise_density_dbm_hz: float | None = None
    noise_figure_db: float | None = None
    snr_gap_db: float = 0.0
    devices: Any = None
    tasks: Any = None

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        if not isinstance(self.preset, str) or self.preset not in _presets.preset_names():
            raise ValueError(f"preset must be one of {_presets.preset_names()}, got {self.preset!r}")
        env = _env(self.environment)
        const, link = drop_constants(), drop_constants()["link"]
        defaults = {
            "cell_radius_m": env["inter_site_distance_m"] / 2.0,
            "min_distance_m": env["min_distance_m"],
            "carrier_hz": link["carrier_hz"],
            "ue_height_m": link["ue_height_m"],
            "ue_power_dbm": link["ue_power_dbm"],
            "noise_density_dbm_hz": const["physics"]["noise_density_dbm_hz"],
            "noise_figure_db": link["bs_noise_figure_db"],
        }
        got: dict[str, float] = {}
        for name, default in defaults.items():
            v = getattr(self, name)
            got[name] = float(default) if v is None else _finite(name, v)
            set_(name, got[name])
        set_("snr_gap_db", _finite("snr_gap_db", self.snr_gap_db))
        r0, R = got["min_distance_m"], got["cell_radius_m"]
        lo = min(e["min_distance_m"] for e in const["environments"].values())  # 10 m: the table's lower end
        if r0 < lo:
            raise ValueError(f"min_distance_m must be >= {lo:g} m (TR 38.901 range), got {r0!r}")
        if not r0 < R <= env["max_distance_m"]:
            raise ValueError(f"cell_radius_m must be in (min_distance_m={r0:g}, "
                             f"{env['max_distance_m']:g}] m, got {R!r}")
        if not _CARRIER_RANGE_HZ[0] <= got["carrier_hz"] <= _CARRIER_RANGE_HZ[1]:
            raise ValueError(f"carrier_hz must be in [0.5e9, 100e9] Hz (TR 38.901 range), got {got['carrier_hz']!r}")
        if not _UE_HEIGHT_RANGE_M[0] <= got["ue_height_m"] < _UE_HEIGHT_RANGE_M[1]:
            raise ValueError(f"ue_height_m must be in [1.5, 13) m, got {got['ue_height_m']!r}")
        for name in ("noise_figure_db", "snr_gap_db"):
            as_float(name, getattr(self, name), low=0.0)
        spec = _presets.preset_spec(self.preset)
        dev_default, task_default = _preset_mix(spec)
        devices = _mix("devices", dev_default if self.devices is None else self.devices, ("device", "precision"))
        tasks = _mix("tasks", task_default if self.tasks is None else self.tasks, ("acceptance",))
        hw = _presets.tables()["hardware"]
        for i, (d, p, _) in enumerate(devices):
            if d not in hw["devices"]:
                raise ValueError(f"devices[{i}].device must be one of {sorted(hw['devices'])}, got {d!r}")
            if p not in hw["precisions"]:
                raise ValueError(f"devices[{i}].precision must be one of {sorted(hw['precisions'])}, got {p!r}")
        for i, (a, _) in enumerate(tasks):
            ok = isinstance(a, str) and (a in _presets.acceptance_ids() or (
                a.startswith("profile:") and a.removeprefix("profile:") in _presets.tables()["acceptance"]["profiles"]))
            if not ok:
                raise ValueError(f"tasks[{i}].acceptance must be an acceptance id or 'profile:<name>', got {a!r}")
        set_("devices", devices)
        set_("tasks", tasks)

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DropModel:
        """Build from a mapping of :data:`DROP_FIELDS`; an unknown key raises ``ValueError``."""
        if not isinstance(d, Mapping):
            raise ValueError(f"drop model must be a table of fields, got {type(d).__name__}")
        unknown = sorted(set(d) - set(DROP_FIELDS))
        if unknown:
            raise ValueError(f"unknown drop-model key {unknown[0]!r}; known keys: {list(DROP_FIELDS)}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (every field resolved) that :meth:`from_dict` reads back."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["devices"] = [{"device": d, "precision": p, "fraction": f} for d, p, f in self.devices]
        out["tasks"] = [{"acceptance": a, "fraction": f} for a, f in self.tasks]
        return out

    # ------------------------------------------------------------------ drawing
    def noise_dbm(self, bandwidth_hz: float) -> float:
        """Noise power over the band [dBm]."""
        nf, n0 = self.noise_figure_db, self.noise_density_dbm_hz
        assert nf is not None and n0 is not None  # resolved in __post_init__ (narrows the type for mypy)
        return noise_power_dbm(bandwidth_hz, nf, n0)

    def _user(self, rng: np.random.Generator, noise_dbm: float) -> dict[str, Any]:
        env = _env(self.environment)
        u_dev, u_task = rng.random(2)
        r0, R, fc, h_ut, p_ue = (self.min_distance_m, self.cell_radius_m, self.carrier_hz, self.ue_height_m,
                                 self.ue_power_dbm)
        # resolved in __post_init__ (narrows the types for mypy)
        assert r0 is not None and R is not None and fc is not None and h_ut is not None and p_ue is not None
        for redraws in range(MAX_REDRAWS):
            u_r, u_phi, u_los = rng.random(3)
            z = rng.standard_normal()
            d = math.sqrt(r0 * r0 + u_r * (R * R - r0 * r0))
            los = bool(u_los < float(los_probability(self.environment, d)))
            sf = (env["shadowing_los_db"] if los else env["shadowing_nlos_db"]) * z
            pl = float(pathloss_db(self.environment, d, los, fc, h_ut)) + sf
            snr_db = p_ue - pl - noise_dbm
            if cqi_from_snr(snr_db, self.snr_gap_db) >= 1:
                phi = 2.0 * math.pi * u_phi
                return dict(x_m=d * math.cos(phi), y_m=d * math.sin(phi), distance_m=d, los=los, shadowing_db=sf,
                            pathloss_db=pl, snr_db=snr_db, redraws=redraws, u_dev=u_dev, u_task=u_task)
        raise ValueError(
            f"no covered position after {MAX_REDRAWS} draws: the link budget (ue_power_dbm={self.ue_power_dbm:g}, "
            f"noise {noise_dbm:.1f} dBm, cell_radius_m={self.cell_radius_m:g}) leaves almost no user above CQI 1")

    @staticmethod
    def _pick(u: float, mix: tuple[tuple, ...]) -> tuple:
        cum = np.cumsum([e[-1] for e in mix])
        cum /= cum[-1]
        return mix[int(np.searchsorted(cum, u, side="right"))]

    def drop(self, n_users: int, seed: int | np.random.SeedSequence, bandwidth_hz: float) -> Drop:
        """Draw K users (see the module docstring for the steps).

        Parameters
        ----------
        n_users : int
            K >= 1.
        seed : int or numpy.random.SeedSequence
            The drop's seed; user k draws from ``SeedSequence(entropy, spawn_key=spawn_key + (k,))``.
        bandwidth_hz : float
            Uplink band B > 0 [Hz] over which the full-band SNR is computed.

        Raises
        ------
        ValueError
            Bad ``n_users``, ``seed`` or ``bandwidth_hz``; a link budget that covers (almost) no position.
        """
        n_users = as_int("n_users", n_users, low=1, high=MAX_USERS, limit="numerics.validation.MAX_USERS")
        B = as_positive("bandwidth_hz", bandwidth_hz)
        if isinstance(seed, np.random.SeedSequence):
            ss = seed
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
            ss = np.random.SeedSequence(int(seed))
        else:
            raise ValueError(f"seed must be an integer >= 0 or a numpy.random.SeedSequence, got {seed!r}")
        noise = self.noise_dbm(B)
        users = []
        for k in range(int(n_users)):
            child = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, k), pool_size=ss.pool_size)
            users.append(self._user(np.random.default_rng(child), noise))
        col = lambda k, dt=np.float64: np.array([u[k] for u in users], dtype=dt)  # noqa: E731
        devs = [self._pick(u["u_dev"], self.devices) for u in users]
        tasks = [self._pick(u["u_task"], self.tasks)[0] for u in users]
        snr_db = col("snr_db")
        # a seed sequence built from a sequence of integers keeps it (the drop is rebuilt from it)
        ent = ss.entropy
        assert ent is not None  # SeedSequence() draws fresh entropy when given none
        entropy = int(ent) if isinstance(ent, (int, np.integer)) else tuple(int(e) for e in ent)
        return Drop(entropy=entropy, spawn_key=tuple(int(k) for k in ss.spawn_key), x_m=col("x_m"),
                    y_m=col("y_m"), distance_m=col("distance_m"), los=col("los", bool),
                    shadowing_db=col("shadowing_db"), pathloss_db=col("pathloss_db"), snr_db=snr_db,
                    cqi=cqi_from_snr(snr_db, self.snr_gap_db),
                    device=tuple(d for d, _, _ in devs), precision=tuple(p for _, p, _ in devs), task=tuple(tasks),
                    redraws=col("redraws", np.int64), bandwidth_hz=B)

    def scenario(self, drop: Drop, **overrides: Any) -> Scenario:
        """The Scenario of a drop: the base preset with the drop's users, and any Scenario overrides.

        ``rate_model`` (default: the preset's) selects the channel field: ``snr`` = 10^(snr_db/10)
        (Shannon) or ``spectral_efficiency`` = the CQI efficiency (linear). ``bandwidth_hz`` must
        be the drop's (the SNR was computed over it). ``max_draft`` and ``batching`` are applied
        before the acceptance profiles are built; every other Scenario field overrides the result.
        """
        spec = dict(_presets.preset_spec(self.preset))
        B = overrides.pop("bandwidth_hz", drop.bandwidth_hz)
        if B != drop.bandwidth_hz:
            raise ValueError(f"bandwidth_hz must be the drop's band {drop.bandwidth_hz!r}, got {B!r}")
        for key in ("rate_model", "max_draft", "batching"):
            if key in overrides:
                spec[key] = overrides.pop(key)
        spec["bandwidth_hz"] = drop.bandwidth_hz
        spec["users"] = [{"device": d, "precision": p, "cqi": int(q), "acceptance": a}
                         for d, p, q, a in zip(drop.device, drop.precision, drop.cqi, drop.task, strict=True)]
        if spec.get("rate_model") not in ("linear", "shannon"):
            raise ValueError(f"rate_model must be one of ('linear', 'shannon'), got {spec.get('rate_model')!r}")
        if not (isinstance(spec.get("max_draft"), (int, np.integer)) and not isinstance(spec["max_draft"], bool)
                and spec["max_draft"] >= 1):
            raise ValueError(f"max_draft must be an integer >= 1, got {spec.get('max_draft')!r}")
        fields = _presets.build(spec)
        if spec["rate_model"] == "shannon":
            fields["snr"] = (10.0 ** (drop.snr_db / 10.0)).tolist()
        fields.update(overrides)
        return Scenario.from_dict(fields)

    def sample(self, n_users: int, seed: int | np.random.SeedSequence, **overrides: Any) -> tuple[Scenario, Drop]:
        """Draw a drop and build its Scenario: ``(scenario, drop)``.

        ``overrides`` are Scenario fields; ``bandwidth_hz`` (default: the preset's band) is the
        band of the link budget.
        """
        spec = _presets.preset_spec(self.preset)
        default_band = spec.get("bandwidth_hz", _presets.tables()["channel"]["bandwidth"]["default_hz"])
        B = overrides.get("bandwidth_hz", default_band)
        d = self.drop(n_users, seed, B)
        return self.scenario(d, **overrides), d
