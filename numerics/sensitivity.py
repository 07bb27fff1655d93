r"""Sensitivity of the optimal goodput to the scenario, by the envelope theorem (MODEL.md H2, D3, D5, D7).

At an optimum (L*, beta*, tau*) of

.. math:: \max\ \Phi = \frac{\sum_k A(\alpha_k, L_k)}{\tau + T_v(L) + T_o}
   \quad\text{s.t.}\quad L_k h_k(\beta_k; p) \le \tau\ (\nu_k),\quad \sum_k \beta_k \le 1\ (\lambda),

the derivative of the optimal value in a parameter p is the partial derivative of the
Lagrangian at the optimum (the envelope theorem), with every decision variable held fixed:

.. math:: \frac{dG^*}{dp} = \frac{\partial \Phi}{\partial p} - \sum_k \nu_k L_k \frac{\partial h_k}{\partial p}.

The multipliers come from the KKT conditions at the solution's point: stationarity in tau gives
sum_k nu_k = G / D (D = tau + T_v + T_o), stationarity in beta_k gives
nu_k L_k (-h_k'(beta_k)) = lambda on every user that uploads, so
nu_k = (G / D) w_k / sum_j w_j with w_k = 1 / (L_k (-h_k'(beta_k))) over the users that finish
at the makespan (H2 with L_k = 1, D7 with integer L_k; the homogeneous latency multipliers are
mu_k = w_k / sum_j w_j). The band multiplier in goodput units is lambda = nu_k L_k (-h_k').
Then, with r_k the rate and D as above:

- dG/dalpha_k = A_alpha(alpha_k, L_k) / D
- dG/dt_k     = -nu_k L_k
- dG/deta_k   = nu_k L_k s_k / (r_k eta_k)                     (linear rate)
- dG/drho_k   = nu_k L_k s_k B beta_k / (r_k^2 (beta_k + rho_k) ln 2)   (Shannon)
- dG/dB       = sum_k nu_k L_k s_k / (r_k B)                    (r is proportional to B at fixed beta)
- dG/dv0 = dG/dT_o = -G / D,   dG/dv1 = -G n / D.

Integer draft lengths are held fixed (the optimum over a finite set is locally constant where it
is unique). For the continuous heterogeneous optimum a user without upload (s_k = 0) that
drafts to the deadline has nu_k = (dPhi/dL_k) / t_k from stationarity in L_k (mode 'optimal').

Checked in ``tests/test_sensitivity.py`` against differentiation through the JAX closed forms
(:func:`sensitivity_autodiff`, implicit differentiation) and against finite differences of the
solvers.
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

__all__ = ["SensitivityTable", "sensitivity", "sensitivity_autodiff"]

#: relative tolerance for "finishes at the makespan" and "uses the whole band"
KKT_TOL = 1e-9
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
        'dG_dt', 'dG_dchannel'.
    system : dict of float
        'goodput', 'band_value' (lambda: dG per unit of band budget), 'dG_dB' [per Hz],
        'dG_dv0', 'dG_dv1', 'dG_doverhead'.
    notes : tuple of str
        Non-differentiable points met (ties at the makespan between users with and without upload).
    """

    regime: str
    channel: str
    users: dict
    system: dict
    notes: tuple = ()

    def to_text(self) -> str:
        """A readable table: one row per user, then the system-wide derivatives."""
        u = self.users
        head = f"{'user':>4} {'L':>8} {'beta':>10} {'dG/dalpha':>12} {'dG/dt [1/s2]':>14} {'dG/d' + self.channel:>12}"
        rows = [f"sensitivity of G* = {self.system['goodput']:.6g} tokens/s ({self.regime})", head]
        for k in range(len(u["user"])):
            rows.append(f"{int(u['user'][k]):>4} {u['L'][k]:>8.4g} {u['beta'][k]:>10.4g} {u['dG_dalpha'][k]:>12.5g} "
                        f"{u['dG_dt'][k]:>14.5g} {u['dG_dchannel'][k]:>12.5g}")
        s = self.system
        rows.append(f"dG/dB = {s['dG_dB']:.5g} per Hz ({s['dG_dB'] * 1e6:.5g} per MHz); band value lambda = {s['band_value']:.5g}")
        rows.append(f"dG/dv0 = {s['dG_dv0']:.5g}, dG/dv1 = {s['dG_dv1']:.5g}, dG/dT_o = {s['dG_doverhead']:.5g} (per second)")
        rows += [f"note: {n}" for n in self.notes]
        return "\n".join(rows)


def _check_inputs(scenario, solution, mode):
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a numerics.Scenario, got {type(scenario).__name__}")
    if not isinstance(solution, Solution):
        raise ValueError(f"solution must be a numerics.Solution, got {type(solution).__name__}")
    if mode not in _MODES:
        raise ValueError(f"lengths must be one of {_MODES}, got {mode!r}")
    if scenario.positional:
        raise ValueError(
            f"alpha: position-dependent profiles (shape {scenario.alpha.shape}) have no per-user dG/dalpha; "
            "use per-user alpha"
        )
    L, beta = check_point(scenario, solution.draft_lengths, solution.bandwidth, continuous=True)
    return L, beta


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


def sensitivity(scenario: Scenario, solution: Solution, lengths: str = "auto") -> SensitivityTable:
    """dG*/dp for B, v0, v1, T_o and each user's alpha_k, t_k, eta_k or rho_k (envelope theorem).

    Parameters
    ----------
    scenario : Scenario
        Per-user alpha (not a position-dependent profile).
    solution : Solution
        An optimum of the band allocation for its draft lengths: every uploading user with
        L_k > 0 finishes at the makespan and the band is used in full (H2, D3, D7). Output of
        ``solve_homogeneous`` or ``solve_heterogeneous``.
    lengths : {'auto', 'fixed', 'optimal'}
        'fixed': L held fixed (integer solutions). 'optimal': L is a continuous optimum (the
        relaxation): a non-uploading user drafting to the deadline gets its multiplier from
        stationarity in L_k. 'auto': 'optimal' if some L_k is not an integer, else 'fixed'.

    Returns
    -------
    SensitivityTable

    Raises
    ------
    ValueError
        Wrong types; a position-dependent alpha; an infeasible point (the messages of
        :func:`numerics.latency.check_point`); a goodput that does not match the scenario; a
        point that is not band-optimal (an uploading user finishing before the makespan while
        another one sets it, or band left unused while an uploading user sets the makespan).

    Examples
    --------
    >>> from numerics import Scenario, solve_homogeneous
    >>> sc = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...               spectral_efficiency=[2.0, 1.0], v0=0.1)
    >>> tab = sensitivity(sc, solve_homogeneous(sc))
    >>> bool(tab.system['dG_dB'] > 0), bool(np.all(tab.users['dG_dalpha'] > 0))
    (True, True)
    """
    L, beta = _check_inputs(scenario, solution, lengths)
    if lengths == "auto":
        lengths = "fixed" if np.all(L == np.round(L)) else "optimal"
    s, t = scenario.bits_per_token, scenario.t_draft
    B, ch = scenario.bandwidth_hz, scenario.channel
    r, r_, up, h, finish, M, D, N = _point(scenario, L, beta)
    G = N / D
    if not math.isclose(G, solution.goodput, rel_tol=1e-8):
        raise ValueError(f"solution.goodput = {solution.goodput!r} does not match the scenario's goodput {G!r} at its point")
    binding = (L > 0) & (finish >= M * (1 - KKT_TOL))
    # KKT: an uploading user that finishes early has nu_k = 0, so lambda = 0 (band worthless):
    # then no uploading user may bind. Either every uploader binds and the band is used in
    # full, or none binds (the makespan is set by users without upload, the band is slack).
    up_bind = up & binding
    if up_bind.any():
        if np.any(up & ~binding):
            k = int(np.flatnonzero(up & ~binding)[0])
            raise ValueError(f"solution is not band-optimal: user {k} uploads but finishes at {finish[k]!r} < makespan {M!r}")
        if abs(float(np.sum(beta)) - 1.0) > KKT_TOL:
            raise ValueError(f"solution is not band-optimal: sum(beta) = {float(np.sum(beta))!r} < 1 with uploading users")

    notes: list[str] = []
    nu = np.zeros(scenario.n_users)
    free = binding & ~up  # finish at the makespan without uploading
    total = G / D  # sum_k nu_k (stationarity in tau)
    if lengths == "optimal" and free.any():
        # stationarity in L_k: dPhi/dL_k = nu_k h_k (h_k = t_k), dPhi/dL_k = (A'(L_k) - G v1 dn/dL_k) / D
        dn = 1.0 if scenario.batching == "ragged" else 0.0
        dphi = (marginal_tokens(scenario.alpha, L) - G * scenario.v1 * dn) / D
        nu_free = np.where(free & (L < scenario.max_draft) & (t > 0), dphi / np.where(t > 0, t, 1.0), 0.0)
        nu = nu + nu_free
        total -= float(np.sum(nu_free))
    elif free.any() and up_bind.any():
        notes.append("users without upload tie at the makespan with uploading users: a kink; "
                     "derivatives in their t_k are one-sided (reported as 0)")
    if up_bind.any():
        g = s * rate_derivative(scenario.rate_model, np.where(up, beta, 1.0), B, ch) / r_ ** 2  # -h_k'(beta_k)
        g = np.where(up, g, 1.0)  # (s_k = 0 users: masked below)
        w = np.where(up, 1.0 / (np.where(up, L, 1.0) * g), 0.0)
        nu = nu + total * w / np.sum(w)
        k0 = int(np.flatnonzero(up)[0])
        band_value = float(nu[k0] * L[k0] * g[k0])
    else:
        band_value = 0.0
        if lengths != "optimal" and free.any():
            if free.sum() > 1:
                notes.append("several users without upload set the makespan: a kink; derivatives split equally")
            nu = np.where(free, total / free.sum(), 0.0)

    # partial derivatives of h_k in the channel parameter at fixed beta_k
    if scenario.rate_model == "linear":
        dh_dch = np.where(up, -s / (r_ * ch), 0.0)
    else:
        dr_drho = B * beta / ((beta + ch) * math.log(2.0))
        dh_dch = np.where(up, -s * dr_drho / r_ ** 2, 0.0)
    dh_dB = np.where(up, -s / (r_ * B), 0.0)  # r(beta; B) = B r(beta; 1): dr/dB = r / B

    A_alpha = _tokens_alpha_derivative(scenario.alpha, L)
    n = batch_size(scenario, L)
    users = {
        "user": np.arange(scenario.n_users),
        "L": L,
        "beta": beta,
        "nu": nu,
        "dG_dalpha": A_alpha / D,
        "dG_dt": -nu * L,
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
    return SensitivityTable(solution.name, "eta" if scenario.rate_model == "linear" else "rho", users, system, tuple(notes))


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
        direct = 1.0 / np.expm1(zs) - 1.0 / zs
        zz = np.where(small, z, 0.0)
        # Bernoulli series -1/2 + z/12 - z^3/720 + z^5/30240 - z^7/1209600 + z^9/47900160 (error < 1e-16 at z < 1/2)
        series = -0.5 + zz * (1 / 12 + zz ** 2 * (-1 / 720 + zz ** 2 * (1 / 30240 + zz ** 2 * (-1 / 1209600 + zz ** 2 / 47900160))))
        return np.where(small, series, direct)

    return np.where(zero, g, g * (1.0 + psi(y) - L * psi(L * y)))


def sensitivity_autodiff(scenario: Scenario, solution: Solution, lengths: str = "auto") -> SensitivityTable:
    """The same table by ``jax.grad`` through the JAX closed forms (an independent computation).

    'fixed': d/dp of sum_k A(alpha_k, L_k) / (T*(p) + T_v + T_o), T* the equal-finish makespan
    (H2/D7) differentiated implicitly. 'optimal' (continuous heterogeneous optimum, linear
    rate, v1 = 0): d/dp of the D3/D5 optimum, lambda* and tau* differentiated implicitly.
    Imports JAX (float64) on first use.

    Raises
    ------
    ValueError
        As :func:`sensitivity`; for 'optimal', a Shannon rate or v1 > 0.
    """
    L, beta = _check_inputs(scenario, solution, lengths)
    if lengths == "auto":
        lengths = "fixed" if np.all(L == np.round(L)) else "optimal"
    from . import differentiable as jd

    p = jd.params_from_scenario(scenario)
    if lengths == "optimal":
        if scenario.rate_model != "linear" or scenario.v1 != 0:
            raise ValueError(f"lengths='optimal' autodiff needs the linear rate and v1 = 0, got "
                             f"rate_model={scenario.rate_model!r}, v1={scenario.v1!r}")
        G, d = jd.heterogeneous_value_and_grad(p)
    else:
        G, d = jd.fixed_length_value_and_grad(p, L)
    r, r_, up, *_ = _point(scenario, L, beta)
    dG_dt = np.asarray(d.t)
    nu = np.where(L > 0, -dG_dt / np.where(L > 0, L, 1.0), 0.0)  # dG/dt_k = -nu_k L_k
    band_value = 0.0
    if up.any():  # lambda = nu_k L_k (-h_k'(beta_k)) on an uploading user
        k = int(np.flatnonzero(up)[0])
        g = scenario.bits_per_token[k] * float(rate_derivative(
            scenario.rate_model, beta[k], scenario.bandwidth_hz, scenario.channel[k])) / r_[k] ** 2
        band_value = float(nu[k] * L[k] * g)
    users = {
        "user": np.arange(scenario.n_users),
        "L": L,
        "beta": beta,
        "nu": nu,
        "dG_dalpha": np.asarray(d.alpha),
        "dG_dt": dG_dt,
        "dG_dchannel": np.asarray(d.channel),
    }
    system = {
        "goodput": float(G),
        "band_value": band_value,
        "dG_dB": float(d.bandwidth),
        "dG_dv0": float(d.v0),
        "dG_dv1": float(d.v1),
        "dG_doverhead": float(d.overhead),
    }
    return SensitivityTable(solution.name, "eta" if scenario.rate_model == "linear" else "rho", users, system)

