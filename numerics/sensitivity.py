r"""Sensitivity of the optimal goodput to the scenario, by the envelope theorem (docs/model.md H2, D3, D5, D6, D7).

At an optimum (L*, beta*, tau*) of

.. math:: \max\ \Phi = \frac{\sum_k A_k(L_k)}{\tau + T_v(L) + T_o}
   \quad\text{s.t.}\quad L_k h_k(\beta_k; p) \le \tau\ (\nu_k),\quad \sum_k \beta_k \le 1\ (\lambda),

the derivative of the optimal value in a parameter p is the partial derivative of the
Lagrangian at the optimum (the envelope theorem), with every decision variable held fixed:

.. math:: \frac{dG^*}{dp} = \frac{\partial \Phi}{\partial p} - \sum_k \nu_k L_k \frac{\partial h_k}{\partial p}.

The multipliers come from the KKT conditions at the solution's point: stationarity in tau gives
sum_k nu_k = G / D (D = tau + T_v + T_o), stationarity in beta_k gives
nu_k L_k (-h_k'(beta_k)) = lambda on every user that uploads, so nu_k = lambda w_k with
w_k = 1 / (L_k (-h_k'(beta_k))). How lambda is fixed depends on what is held:

- ``lengths='fixed'`` (integer draft lengths held: the band-allocation optimum D7, and the
  homogeneous H2): lambda = (G/D) / sum_j w_j over the users that finish at the makespan
  (the homogeneous latency multipliers are mu_k = w_k / sum_j w_j); users without upload
  that set the makespan take G/D when no uploading user does.
- ``lengths='optimal'`` (a continuous optimum, every length optimised: D3-D6): a user whose
  length is interior (0 < L_k below its cap, off the kinks of a profile, not the padded
  maximum) also satisfies stationarity in L_k, dPhi/dL_k = nu_k h_k with
  dPhi/dL_k = (A'_k(L_k) - G v1 dn/dL_k) / D; an interior uploading user fixes lambda
  (lambda = nu_k L_k (-h_k')), an interior user without upload its own nu_k; users held at a
  cap or a kink get the rest of G/D (uploading ones through lambda; where no uploading user
  is interior -- a vertex -- lambda is the rest of G/D over their w_k).

Then, with r_k the rate, D and n (the batch size) as above:

- dG/dalpha_k = A_alpha(alpha_k, L_k) / D (a profile: dA/dalpha_{k,j} / D per position, in
  ``SensitivityTable.profile``; ``users['dG_dalpha']`` is then their sum, the derivative for a
  uniform shift of the user's whole profile)
- dG/dt_k     = -nu_k L_k
- dG/ds_k     = -nu_k L_k / r_k                                  (bits per token)
- dG/deta_k   = nu_k L_k s_k / (r_k eta_k)                        (linear rate)
- dG/drho_k   = nu_k L_k s_k B beta_k / (r_k^2 (beta_k + rho_k) ln 2)   (Shannon)
- dG/dB       = sum_k nu_k L_k s_k / (r_k B)                      (r is proportional to B at fixed beta)
- dG/dv0 = dG/dT_o = -G / D,   dG/dv1 = -G n / D.

Checked in ``tests/test_sensitivity.py`` and the claims of ``proofs_check/claims_sensitivity.py``
against differentiation through the JAX solvers (:func:`sensitivity_autodiff`, implicit
differentiation) and against finite differences of the NumPy solvers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .channel import rate, rate_derivative
from .latency import batch_size, check_point, tokens_per_round, verification_latency
from .scenario import Scenario
from .solution import Solution
from .tokens import marginal_tokens
from .validation import as_choice, as_scenario

__all__ = ["SensitivityTable", "profile_alpha_derivative", "sensitivity", "sensitivity_autodiff"]

#: relative tolerance for "finishes at the makespan", "uses the whole band" and "at a kink"
KKT_TOL = 1e-9
#: relative distance below which a continuous length counts as held at its cap or at a kink
_HELD_TOL = 1e-8
_MODES = ("auto", "fixed", "optimal")


@dataclasses.dataclass(frozen=True)
class SensitivityTable:
    """Derivatives of the optimal goodput G* [tokens/s] per unit of each parameter.

    Attributes
    ----------
    regime : str
        The solution's name ('homogeneous', 'heterogeneous', ...).
    channel : str
        'eta' (linear rate) or 'rho' (Shannon): the meaning of ``users['dG_dchannel']``.
    users : dict of ndarray (K,)
        'user', 'L', 'beta', 'nu' (latency multipliers in goodput units), 'dG_dalpha',
        'dG_dt', 'dG_ds' (per bit per token), 'dG_dchannel'.
    system : dict of float
        'goodput', 'band_value' (lambda: dG per unit of band budget), 'dG_dB' [per Hz],
        'dG_dv0', 'dG_dv1', 'dG_doverhead'.
    notes : tuple of str
        What was held fixed, and the non-differentiable points met (ties, vertices).
    mode : str
        'fixed' (draft lengths held at their values: the band-allocation optimum) or
        'optimal' (every length optimised: the continuous optimum).
    profile : ndarray (K, max_draft) or None
        dG/dalpha_{k,j} per position for a position-dependent profile.
    """

    regime: str
    channel: str
    users: dict
    system: dict
    notes: tuple = ()
    mode: str = "fixed"
    profile: np.ndarray | None = None

    def to_text(self) -> str:
        """A readable table: one row per user, then the system-wide derivatives."""
        u = self.users
        head = (f"{'user':>4} {'L':>8} {'beta':>10} {'dG/dalpha':>12} {'dG/dt [1/s2]':>14} "
                f"{'dG/ds':>12} {'dG/d' + self.channel:>12}")
        held = "draft lengths held fixed" if self.mode == "fixed" else "every draft length optimised"
        rows = [f"sensitivity of G* = {self.system['goodput']:.6g} tokens/s ({self.regime}; {held})", head]
        for k in range(len(u["user"])):
            rows.append(f"{int(u['user'][k]):>4} {u['L'][k]:>8.4g} {u['beta'][k]:>10.4g} {u['dG_dalpha'][k]:>12.5g} "
                        f"{u['dG_dt'][k]:>14.5g} {u['dG_ds'][k]:>12.5g} {u['dG_dchannel'][k]:>12.5g}")
        s = self.system
        rows.append(f"dG/dB = {s['dG_dB']:.5g} per Hz ({s['dG_dB'] * 1e6:.5g} per MHz); "
                    f"band value lambda = {s['band_value']:.5g}")
        rows.append(f"dG/dv0 = {s['dG_dv0']:.5g}, dG/dv1 = {s['dG_dv1']:.5g}, "
                    f"dG/dT_o = {s['dG_doverhead']:.5g} (per second)")
        rows += [f"note: {n}" for n in self.notes]
        return "\n".join(rows)


def _check_inputs(scenario, solution, mode):
    as_scenario(scenario)
    if not isinstance(solution, Solution):
        raise ValueError(f"solution must be a numerics.Solution, got {type(solution).__name__}")
    as_choice("lengths", mode, _MODES)
    L, beta = check_point(scenario, solution.draft_lengths, solution.bandwidth, continuous=True)
    if mode == "auto":
        mode = "fixed" if np.all(L == np.round(L)) else "optimal"
    return L, beta, mode


def _point(scenario: Scenario, L, beta):
    """Rates, latencies, finishing times, goodput and denominator D at (L, beta)."""
    s, t = scenario.bits_per_token, scenario.t_draft
    r = rate(scenario.rate_model, beta, scenario.bandwidth_hz, scenario.channel)
    up = (s > 0) & (L > 0)
    r_ = np.where(up, r, 1.0)
    h = t + np.where(up, s / r_, 0.0)
    finish = np.where(L > 0, L * h, 0.0)
    M = float(np.max(finish))
    D = M + verification_latency(scenario, L) + scenario.overhead
    N = float(np.sum(tokens_per_round(scenario, L)))
    return r, r_, up, h, finish, M, D, N


def _marginal(scenario: Scenario, L):
    """A'_k(L_k): smooth, or the left slope of a profile (the right one at L = 0)."""
    if scenario.positional:
        c = np.cumprod(scenario.alpha, axis=1)
        j = np.clip(np.ceil(L).astype(np.int64), 1, scenario.max_draft) - 1
        return c[np.arange(scenario.n_users), j]
    return marginal_tokens(scenario.alpha, L)


def profile_alpha_derivative(alphas, L):
    """dA/dalpha_j of a profile at (real) L, per position: c_{j-1} Q_j (no division, zeros allowed).

    With c_i = prod_{m <= i} alpha_m, A(L) = 1 + sum_i w_i c_i, w_i = 1 for i <= l,
    w_{l+1} = L - l, 0 beyond (l = ceil(L) - 1: the left derivative at an integer L), so
    dA/dalpha_j = c_{j-1} Q_j with Q_j = w_j + alpha_{j+1} Q_{j+1} (Q_{M+1} = 0).

    Parameters
    ----------
    alphas : array (K, M)
    L : array (K,)

    Returns
    -------
    ndarray (K, M)
    """
    a = np.asarray(alphas, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    K, M = a.shape
    seg = np.clip(np.ceil(L).astype(np.int64) - 1, 0, M - 1)  # segment (seg, seg + 1], 0-based index of its slope
    i = np.arange(M)[None, :]
    w = np.where(i < seg[:, None], 1.0, np.where(i == seg[:, None], (L - seg)[:, None], 0.0))
    Q = np.zeros((K, M + 1))
    for j in range(M - 1, -1, -1):
        nxt = a[:, j + 1] if j + 1 < M else np.zeros(K)
        Q[:, j] = w[:, j] + nxt * Q[:, j + 1]
    c_prev = np.concatenate([np.ones((K, 1)), np.cumprod(a, axis=1)[:, :-1]], axis=1)
    return c_prev * Q[:, :M]


def sensitivity(scenario: Scenario, solution: Solution, lengths: str = "auto") -> SensitivityTable:
    """dG*/dp for B, v0, v1, T_o and each user's alpha_k (or profile), t_k, s_k, eta_k or rho_k (envelope theorem).

    Parameters
    ----------
    scenario : Scenario
        Any scenario: both rate models, both batching modes, v1 >= 0, position-dependent profiles.
    solution : Solution
        An optimum of the band allocation for its draft lengths: every uploading user with
        L_k > 0 finishes at the makespan and the band is used in full (H2, D3, D7). Output of
        ``solve_homogeneous`` or ``solve_heterogeneous`` (integer or continuous).
    lengths : {'auto', 'fixed', 'optimal'}
        'fixed': the draft lengths are held at their values (integer solutions: the result is
        the sensitivity of the band-allocation optimum at those lengths, D7, which is the
        sensitivity of the integer optimum wherever the optimal lengths do not change).
        'optimal': every length is optimised (the continuous relaxation); the multipliers
        use stationarity in the interior lengths (module docstring). 'auto': 'optimal' if
        some L_k is not an integer, else 'fixed'. The table says which.

    Returns
    -------
    SensitivityTable

    Raises
    ------
    ValueError
        Wrong types; an infeasible point (the messages of :func:`numerics.latency.check_point`);
        a goodput that does not match the scenario; a point that is not band-optimal (an
        uploading user finishing before the makespan while another one sets it, or band left
        unused while an uploading user sets the makespan).

    Examples
    --------
    >>> from numerics import Scenario, solve_homogeneous
    >>> sc = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...               spectral_efficiency=[2.0, 1.0], v0=0.1)
    >>> tab = sensitivity(sc, solve_homogeneous(sc))
    >>> bool(tab.system['dG_dB'] > 0), bool(np.all(tab.users['dG_dalpha'] > 0)), tab.mode
    (True, True, 'fixed')
    """
    L, beta, mode = _check_inputs(scenario, solution, lengths)
    s, t = scenario.bits_per_token, scenario.t_draft
    B, ch = scenario.bandwidth_hz, scenario.channel
    K = scenario.n_users
    _r, r_, up, h, finish, M, D, N = _point(scenario, L, beta)
    G = N / D
    if not math.isclose(G, solution.goodput, rel_tol=1e-8):
        raise ValueError(f"solution.goodput = {solution.goodput!r} does not match the scenario's goodput {G!r} "
                         "at its point")
    binding = (L > 0) & (finish >= M * (1 - KKT_TOL))
    # KKT: an uploading user that finishes early has nu_k = 0, so lambda = 0 (band worthless):
    # then no uploading user may bind. Either every uploader binds and the band is used in
    # full, or none binds (the makespan is set by users without upload, the band is slack).
    up_bind = up & binding
    if up_bind.any():
        if np.any(up & ~binding):
            k = int(np.flatnonzero(up & ~binding)[0])
            raise ValueError(f"solution is not band-optimal: user {k} uploads but finishes at {finish[k]!r} "
                             f"< makespan {M!r}")
        if abs(float(np.sum(beta)) - 1.0) > KKT_TOL:
            raise ValueError(f"solution is not band-optimal: sum(beta) = {float(np.sum(beta))!r} < 1 "
                             "with uploading users")

    notes: list[str] = ["draft lengths held fixed (band-allocation optimum, D7/H2)" if mode == "fixed"
                        else "every draft length optimised (continuous optimum, D3-D6)"]
    total = G / D  # sum_k nu_k (stationarity in tau)
    free = binding & ~up  # finish at the makespan without uploading
    if up_bind.any():
        # -h_k'(beta_k) = s r' / r^2, as (s / r)(r' / r): r^2 overflows above 1.3e154 bit/s
        g = (s / r_) * (rate_derivative(scenario.rate_model, np.where(up, beta, 1.0), B, ch) / r_)
        g = np.where(up, g, 1.0)
        w = np.where(up_bind, 1.0 / (np.where(up, L, 1.0) * g), 0.0)
    else:
        g = np.ones(K)
        w = np.zeros(K)
    nu = np.zeros(K)
    if mode == "optimal":
        # stationarity in L_k where L_k is interior: dPhi/dL_k = nu_k h_k
        ragged = scenario.batching == "ragged"
        # "at" a kink or the cap within 1e-8 relative: the continuous solvers place the deadline
        # to ~1e-9, and a user without upload held there drafts tau / t
        if scenario.positional:
            off_kink = np.abs(L - np.round(L)) > _HELD_TOL * np.maximum(1.0, L)
        else:
            off_kink = np.ones(K, bool)
        below_cap = L < scenario.max_draft * (1 - _HELD_TOL)
        if not ragged and scenario.v1 > 0:
            below_cap &= L < float(np.max(L)) * (1 - _HELD_TOL)  # the padded maximum is a held length
        dphi = (_marginal(scenario, L) - G * scenario.v1 * (1.0 if ragged else 0.0)) / D
        # a length at the stop-short point (dPhi/dL = 0) is interior too; at L = 0 it is held
        interior = binding & (L > 0) & below_cap & off_kink
        nu_L = np.where(interior, dphi / np.where(h > 0, h, 1.0), 0.0)
        up_int = interior & up
        free_int = interior & ~up & (t > 0)
        held_free = free & ~free_int
        nu = nu + np.where(free_int, nu_L, 0.0)
        if up_bind.any():
            if up_int.any():
                lam_k = nu_L[up_int] * L[up_int] * g[up_int]
                lam_g = float(np.median(lam_k))
                if lam_k.size > 1 and np.max(np.abs(lam_k - lam_g)) > 1e-6 * abs(lam_g):
                    notes.append("the interior uploading users disagree on lambda by "
                                 f"{float(np.max(np.abs(lam_k - lam_g)) / abs(lam_g)):.1e}: "
                                 "the point is not a KKT point")
            else:
                rest = total - float(np.sum(nu))
                lam_g = rest / float(np.sum(w))
                if held_free.any():
                    notes.append("vertex with users without upload held at the deadline: their multiplier is not "
                                 "unique; lambda takes the whole rest of G/D")
                else:
                    notes.append("vertex (every uploading user at its cap or at a kink): lambda from the rest of G/D")
            nu = nu + lam_g * w
        rest = total - float(np.sum(nu))
        if held_free.any() and abs(rest) > 1e-12 * total:
            if held_free.sum() > 1:
                notes.append("several users without upload held at the deadline: the rest of G/D split equally")
            nu = nu + np.where(held_free, rest / held_free.sum(), 0.0)
    else:
        if free.any() and up_bind.any():
            notes.append("users without upload tie at the makespan with uploading users: a kink; "
                         "derivatives in their t_k are one-sided (reported as 0)")
        if up_bind.any():
            nu = total * w / np.sum(w)
        elif free.any():
            if free.sum() > 1:
                notes.append("several users without upload set the makespan: a kink; derivatives split equally")
            nu = np.where(free, total / free.sum(), 0.0)
    k0 = np.flatnonzero(up_bind)
    band_value = float(nu[k0[0]] * L[k0[0]] * g[k0[0]]) if k0.size else 0.0

    # partial derivatives of h_k in the channel parameter, s_k and B at fixed beta_k
    if scenario.rate_model == "linear":
        dh_dch = np.where(up, -s / (r_ * ch), 0.0)
    else:
        dr_drho = B * beta / ((beta + ch) * math.log(2.0))
        dh_dch = np.where(up, -(s / r_) * (dr_drho / r_), 0.0)
    dh_dB = np.where(up, -s / (r_ * B), 0.0)  # r(beta; B) = B r(beta; 1): dr/dB = r / B
    dh_ds = np.where(up, 1.0 / r_, 0.0)

    profile = None
    if scenario.positional:
        profile = profile_alpha_derivative(scenario.alpha, L) / D
        dG_dalpha = profile.sum(axis=1)
    else:
        dG_dalpha = _tokens_alpha_derivative(scenario.alpha, L) / D
    n = batch_size(scenario, L)
    users = {
        "user": np.arange(K),
        "L": L,
        "beta": beta,
        "nu": nu,
        "dG_dalpha": dG_dalpha,
        "dG_dt": -nu * L,
        "dG_ds": -nu * L * dh_ds,
        "dG_dchannel": -nu * L * dh_dch,
    }
    system = {
        "goodput": G,
        "band_value": band_value,
        "dG_dB": float(-np.sum(nu * L * dh_dB)),
        "dG_dv0": -G / D,
        "dG_dv1": -G * n / D,
        "dG_doverhead": -G / D,
    }
    return SensitivityTable(solution.name, "eta" if scenario.rate_model == "linear" else "rho", users, system,
                            tuple(notes), mode, profile)


def _tokens_alpha_derivative(alpha, L):
    """dA/dalpha = (1 - (L+1) alpha^L + L alpha^(L+1)) / (1 - alpha)^2 (:func:`theory.tokens.tokens_alpha_derivative`).

    Evaluated as g (1 + psi(y) - L psi(L y)) with y = -log(alpha), g = (1 - alpha^L)/(1 - alpha)
    (no cancellation; see :mod:`numerics.differentiable._tokens`), here in NumPy.
    """
    a = np.asarray(alpha, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    zero = a == 0
    a_ = np.where(zero, 0.5, a)
    y = -np.log(a_)
    g = np.where(zero, np.where(L > 0, 1.0, 0.0), np.expm1(-L * y) / np.expm1(-y))

    def psi(z):
        small = z < 0.5
        zs = np.where(small, 1.0, z)
        with np.errstate(over="ignore"):  # expm1 of a large z is inf: 1/inf = 0 is the value
            direct = 1.0 / np.expm1(zs) - 1.0 / zs
        zz = np.where(small, z, 0.0)
        # Bernoulli series -1/2 + z/12 - z^3/720 + z^5/30240 - z^7/1209600 + z^9/47900160 (error < 1e-16 at z < 1/2)
        series = -0.5 + zz * (1 / 12 + zz ** 2 * (-1 / 720 + zz ** 2 * (1 / 30240 + zz ** 2 * (-1 / 1209600
                                                                                    + zz ** 2 / 47900160))))
        return np.where(small, series, direct)

    return np.where(zero, g, g * (1.0 + psi(y) - L * psi(L * y)))


def sensitivity_autodiff(scenario: Scenario, solution: Solution, lengths: str = "auto") -> SensitivityTable:
    """The same table by ``jax.grad`` through the JAX solvers (an independent computation), every scenario.

    'fixed': d/dp of sum_k A_k(L_k) / (T*(p) + T_v + T_o), T* the equal-finish makespan
    (H2/D7) differentiated implicitly. 'optimal': d/dp of the continuous heterogeneous optimum
    of :func:`numerics.differentiable.heterogeneous_optimum` (the Dinkelbach ratio, lambda*
    and the shares differentiated implicitly at the optimal deadline, Danskin's theorem in the
    deadline and the common cap; the D7 makespan at a vertex). Runs JAX inside
    ``jax.enable_x64(True)`` (float64, without changing the global configuration).

    Raises
    ------
    ValueError
        As :func:`sensitivity`.
    """
    L, beta, mode = _check_inputs(scenario, solution, lengths)
    import jax

    from . import differentiable as jd

    with jax.enable_x64(True):
        p = jd.params_from_scenario(scenario)
        if mode == "optimal":
            G, d = jd.heterogeneous_value_and_grad(p)
        else:
            G, d = jd.fixed_length_value_and_grad(p, L)
        d = jax.tree_util.tree_map(np.asarray, d)
        G = float(G)
    _r, r_, up, *_ = _point(scenario, L, beta)
    dG_dt = d.t
    nu = np.where(L > 0, -dG_dt / np.where(L > 0, L, 1.0), 0.0)  # dG/dt_k = -nu_k L_k
    band_value = 0.0
    if up.any():  # lambda = nu_k L_k (-h_k'(beta_k)) on an uploading user
        k = int(np.flatnonzero(up)[0])
        g = (scenario.bits_per_token[k] / r_[k]) * (float(rate_derivative(
            scenario.rate_model, beta[k], scenario.bandwidth_hz, scenario.channel[k])) / r_[k])
        band_value = float(nu[k] * L[k] * g)
    profile = d.alpha if scenario.positional else None
    users = {
        "user": np.arange(scenario.n_users),
        "L": L,
        "beta": beta,
        "nu": nu,
        "dG_dalpha": d.alpha.sum(axis=1) if scenario.positional else d.alpha,
        "dG_dt": dG_dt,
        "dG_ds": d.s,
        "dG_dchannel": d.channel,
    }
    system = {
        "goodput": G,
        "band_value": band_value,
        "dG_dB": float(d.bandwidth),
        "dG_dv0": float(d.v0),
        "dG_dv1": float(d.v1),
        "dG_doverhead": float(d.overhead),
    }
    return SensitivityTable(solution.name, "eta" if scenario.rate_model == "linear" else "rho", users, system,
                            (), mode, profile)
