r"""The continuous relaxation of the heterogeneous problem as ONE conic program (CVXPY + Clarabel).

The generic-solver peer of ``numerics.solve_heterogeneous(..., integer=False)`` in the
benchmark, and a test oracle for it (``tests/test_heterogeneous_conic.py``). Nothing here
calls the library's solvers; ``numerics.Scenario`` is read as a container of the parameters.

Problem (docs/model.md sections 2-3, D1-D7 relaxed to real draft lengths)
-------------------------------------------------------------------------
.. math::

    G^* = \max_{L, \beta, \tau}\ \frac{\sum_k A_k(L_k)}{\tau + c_0 + v_1 \nu(L)}
    \quad\text{s.t.}\quad L_k\,(t_k + s_k / r_k(\beta_k)) \le \tau,\ \
    0 \le L_k \le L_{max},\ \ \beta \ge 0,\ \sum_k \beta_k \le 1,

with c_0 = v_0 + T_o + v_1 K, nu(L) = sum_k L_k (ragged: n = sum_k (L_k + 1)) or K M with
M >= L_k for all k (padded: n = K (max_k L_k + 1); at the optimum M = max_k L_k, since a larger
M only lengthens the round). A_k is the smooth A(alpha, L) = (1 - alpha^(L+1)) / (1 - alpha)
of an i.i.d. alpha, or the piecewise-linear interpolation of the integer values (a
position-dependent profile, or ``tokens="piecewise"``: the tighter relaxation of the integer
problem). For L_k = 0 the capacity constraint is void (0 <= tau) whatever beta_k.

Derivation of the conic form
----------------------------
1. Capacity as a harmonic mean. For L_k > 0 the constraint reads
   L_k <= C_k := 1 / (t_k/tau + s_k/(tau r_k)) = H(tau/t_k, tau r_k / s_k), with
   H(a, b) = ab / (a + b) (half the harmonic mean): concave, nondecreasing in each argument
   and positively homogeneous of degree 1.
2. Charnes-Cooper. The denominator D = tau + c_0 + v_1 nu(L) is affine and >= c_0 > 0. Put
   y = 1/D, T = y tau, l_k = y L_k (m = y M for padded) and X_k = y tau beta_k = T beta_k.
   Then D y = 1 is the linear constraint T + c_0 y + v_1 nu(l) = 1; the cap is l_k <= L_max y
   (padded: l_k <= m <= L_max y); the band is sum_k X_k <= T.
3. Objective: sum_k A_k(L_k) y = sum_k y A_k(l_k / y), the perspective of the concave A_k,
   jointly concave in (l_k, y).
   - i.i.d. alpha in (0, 1), a_k = -ln alpha_k: y A(l/y) = (y - alpha z) / (1 - alpha) with
     z >= y exp(-a l / y), i.e. (-a l, y, z) in the exponential cone (``cvxpy.constraints.ExpCone``);
     at the optimum z is at its least value. alpha_k = 0: A = 1, the term is y and l_k = 0.
   - piecewise linear: A_k(L) = min_i [A_k(i) + d_{k,i+1} (L - i)] over i = 0..L_max-1, the
     increments d_{k,i} = prod_{j<=i} alpha_{k,j} being non-increasing (concave interpolant);
     its perspective min_i [y A_k(i) + d_{k,i+1} (l - i y)] is linear in (l, y): a hypograph
     variable w_k below K x L_max linear functions.
4. Capacity after the transform: multiplying C_k by y (degree-1 homogeneity),
   l_k <= H(T / t_k, R_k), with R_k = y tau r_k(beta_k) / s_k the tokens user k can upload by
   the deadline (per unit y). Linear rate: R_k = B eta_k X_k / s_k (linear). Shannon:
   y tau B beta log2(1 + rho/beta) = (B / ln 2) X log(1 + rho T / X)
   = -(B / ln 2) rel_entr(X, X + rho T), a relative entropy (jointly concave in (X, T):
   ``cvxpy.rel_entr``, the exponential cone), so R_k is a hypograph variable below it
   (H is nondecreasing in b, so the relaxation to <= is exact).
5. The harmonic mean as a rotated second-order cone without dividing by t_k (t_k may be 0 or
   1e-18): l <= H(T/t, R) <=> l <= R - R^2 / (T/t + R) <=> t R^2 <= (R - l)(T + t R), i.e.
   (sqrt(t) R)^2 <= (R - l)(T + t R) with R - l >= 0, T + t R >= 0: the rotated cone
   || (2 sqrt(t) R, (R - l) - (T + t R)) ||_2 <= (R - l) + (T + t R). Check: expanding,
   t R^2 <= R T + t R^2 - l T - l t R  <=>  l (T + t R) <= R T  <=>  l <= 1/(t/T + 1/R).
   Users with s_k = 0 have no upload: l_k t_k <= T (none if t_k = 0 too).
6. Recovery: L = l / y, tau = T / y, beta = X / T. The whole program is one convex conic
   problem (exponential, second-order and linear cones); its optimum is G^* (in the time unit
   below). Clarabel solves it by an interior-point method (tolerances 1e-8 by default).

Scaling. Times are in the unit tau_0 = c_0, the autoregressive round time. Since L = 0 for
all is feasible, G^* >= K / c_0, so D^* <= c_0 sum_k A_k / K <= c_0 (L_max + 1): in this unit
y = c_0 / D^* lies in [1 / (L_max + 1), 1] and T <= 1, whatever the scenario's own scale
(v0 from 1e-12 s, draft times of seconds). The upload budget R_k is in tokens.
``refine=True`` solves a second time in the unit of the first answer's round time.

Limits. The exponential-cone objective of an i.i.d. alpha carries 1/(1 - alpha): for alpha
within ~1e-6 of 1 the solver's absolute tolerance no longer resolves the optimum (use
``tokens="piecewise"`` there). Every answer is returned with its status; the recovered point
is clipped into the feasible set (shares >= 0 summing to <= 1, lengths in [0, L_max], no
drafting without band), so that an exact evaluation of it is a feasible goodput, a lower
bound on G^* whatever the solver's accuracy.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings

import numpy as np

from numerics import Scenario

__all__ = ["ConicResult", "conic_relaxation"]

LN2 = math.log(2.0)
#: Clarabel settings tried in turn when a solve fails (``retry=True``): defaults, then a smaller
#: static regularisation, then no equilibration (each rescued some benchmark scenario at K = 100-1000)
RETRIES = ({}, {"static_regularization_constant": 1e-9}, {"equilibrate_enable": False})


@dataclasses.dataclass(frozen=True)
class ConicResult:
    """The conic program's answer.

    status : str
        CVXPY's status ('optimal', 'optimal_inaccurate', ...) or 'failed: <exception>'.
    goodput : float
        The program's optimal value in tokens/s (nan unless solved).
    draft_lengths, bandwidth : ndarray (K,)
        The recovered point, clipped into the feasible set (see the module docstring).
    deadline : float
        The recovered drafting deadline tau [s].
    seconds : float
        Wall time of ``Problem.solve`` (canonicalisation included; summed over ``refine``).
    solver_seconds : float
        Clarabel's own solve time.
    """

    status: str
    goodput: float
    draft_lengths: np.ndarray
    bandwidth: np.ndarray
    deadline: float
    seconds: float
    solver_seconds: float

    @property
    def ok(self) -> bool:
        return self.status.split(" (")[0] in ("optimal", "optimal_inaccurate")


def _full_rate(sc: Scenario) -> np.ndarray:
    """r_k(1) in bit/s."""
    B = sc.bandwidth_hz
    if sc.rate_model == "linear":
        return B * sc.spectral_efficiency
    return B * np.log2(1.0 + sc.snr)


def _time_unit(sc: Scenario) -> float:
    """tau_0 = c_0 = v0 + T_o + v1 K, the autoregressive round time (module docstring, Scaling)."""
    return float(sc.v0 + sc.overhead + sc.v1 * sc.n_users)


def _token_pieces(sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """A_k(i) for i = 0..L_max-1 and the increments d_{k,i+1} = A_k(i+1) - A_k(i), shape (K, L_max)."""
    al = sc.alpha if sc.alpha.ndim == 2 else np.repeat(sc.alpha[:, None], sc.max_draft, axis=1)
    d = np.cumprod(al, axis=1)  # d_{k,i} = prod_{j<=i} alpha_{k,j}, i = 1..L_max
    A = 1.0 + np.concatenate([np.zeros((sc.n_users, 1)), np.cumsum(d, axis=1)[:, :-1]], axis=1)
    return A, d


def _solve_once(sc: Scenario, unit: float, tokens: str, solver_opts: dict):
    import cvxpy as cp

    K, Lmax = sc.n_users, sc.max_draft
    s, t = sc.bits_per_token, sc.t_draft / unit
    c0 = (sc.v0 + sc.overhead + sc.v1 * K) / unit
    v1 = sc.v1 / unit
    up = np.flatnonzero(s > 0)
    free = np.flatnonzero((s == 0) & (sc.t_draft > 0))

    y = cp.Variable(nonneg=True)
    T = cp.Variable(nonneg=True)
    ell = cp.Variable(K, nonneg=True)
    cons = []
    # D y = 1 and the cap (padded: a common cap variable m >= every l_k)
    if sc.batching == "ragged":
        cons += [T + c0 * y + v1 * cp.sum(ell) == 1, ell <= Lmax * y]
    else:
        m = cp.Variable(nonneg=True)
        cons += [T + c0 * y + v1 * K * m == 1, ell <= m, m <= Lmax * y]
    # objective: the perspective of A
    if tokens == "smooth":
        al = sc.alpha
        pos = np.flatnonzero(al > 0)
        zero = np.flatnonzero(al == 0)
        obj = y * len(zero)
        if zero.size:
            cons.append(ell[zero] == 0)
        if pos.size:
            a = -np.log(al[pos])
            z = cp.Variable(pos.size, nonneg=True)
            cons.append(cp.constraints.ExpCone(-cp.multiply(a, ell[pos]), y * np.ones(pos.size), z))
            obj = obj + cp.sum((y - cp.multiply(al[pos], z)) / (1.0 - al[pos]))
    else:
        A, d = _token_pieces(sc)
        w = cp.Variable(K)
        steps = np.arange(Lmax, dtype=float)
        lin = y * (A - d * steps) + cp.multiply(d, cp.reshape(ell, (K, 1), order="F") @ np.ones((1, Lmax)))
        cons.append(cp.reshape(w, (K, 1), order="F") @ np.ones((1, Lmax)) <= lin)
        obj = cp.sum(w)
    # capacity: uploading users through the rotated cone, the others linearly
    X = None
    if up.size:
        # tokens per time unit per unit share at a share of 1/K: the shares are solved as
        # X_k = sigma_k x_k with sigma_k proportional to 1/coef_k (summing to 1), so that
        # every x_k and every R_k-coefficient is O(1) (shares of very different sizes otherwise
        # leave Clarabel's equilibration stalled: 'InsufficientProgress' at K = 100)
        scale = sc.bandwidth_hz * unit / s[up]  # bit/s -> tokens per time unit
        ch = sc.channel[up]
        coef = scale * (ch if sc.rate_model == "linear" else np.log2(1.0 + ch * K))
        sigma = (1.0 / coef) / np.sum(1.0 / coef)
        x = cp.Variable(up.size, nonneg=True)
        X = cp.multiply(sigma, x)
        cons.append(cp.sum(X) <= T)
        if sc.rate_model == "linear":
            R = cp.multiply(scale * ch * sigma, x)
        else:
            # R <= (B tau_0 / (s ln 2)) X log(1 + rho T / X) = (B tau_0 / (s ln 2)) (-rel_entr(X, X + rho T));
            # rel_entr is positively homogeneous, so with X = sigma x this is
            # (B tau_0 sigma / (s ln 2)) (-rel_entr(x, x + (rho / sigma) T)): O(1) first arguments
            R = cp.Variable(up.size, nonneg=True)
            cons.append(R <= cp.multiply(scale * sigma / LN2, -cp.rel_entr(x, x + (ch / sigma) * T)))
        tu = t[up]
        lu = ell[up]
        lhs = cp.vstack([2.0 * cp.multiply(np.sqrt(tu), R), (R - lu) - (T + cp.multiply(tu, R))])
        cons.append(cp.SOC((R - lu) + (T + cp.multiply(tu, R)), lhs, axis=0))
    if free.size:
        cons.append(cp.multiply(t[free], ell[free]) <= T)
    prob = cp.Problem(cp.Maximize(obj), cons)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an inaccurate solve shows in the status, kept in the result
        prob.solve(solver=cp.CLARABEL, **solver_opts)
    wall = time.perf_counter() - t0
    stats = prob.solver_stats
    return prob, wall, float(stats.solve_time or 0.0) if stats else 0.0, y, T, ell, X, up


def conic_relaxation(sc: Scenario, tokens: str | None = None, refine: bool = False,
                     tol: float | None = None, solver_options: dict | None = None, retry: bool = True) -> ConicResult:
    """Solve the continuous relaxation of ``sc`` as one conic program (module docstring).

    Parameters
    ----------
    sc : Scenario
        Any rate model and batching, v1 >= 0, users with s_k = 0 or t_k = 0.
    tokens : {'smooth', 'piecewise'}, optional
        The relaxation of A: smooth (i.i.d. alpha only) or piecewise linear between integers.
        Default: what ``solve_heterogeneous(sc, integer=False)`` solves (smooth for an i.i.d.
        alpha, piecewise for a position-dependent profile).
    refine : bool
        Solve a second time with the first answer's round time as the time unit.
    tol : float, optional
        Clarabel's gap and feasibility tolerances (default: Clarabel's, 1e-8).
    solver_options : dict, optional
        Further keyword arguments of ``Problem.solve`` for Clarabel (e.g. ``max_iter``).
    retry : bool
        When Clarabel fails (a SolverError, e.g. 'InsufficientProgress', or a status without a
        solution), solve again with the settings of :data:`RETRIES` in turn, as a user of a
        generic solver would; the times of every attempt are summed, and the status names the
        settings that succeeded.

    Returns
    -------
    ConicResult
        A failed solve (an exception or a status other than optimal / optimal_inaccurate) is
        returned with its status, nan goodput, and no point (zeros).
    """
    import cvxpy as cp

    if tokens is None:
        tokens = "piecewise" if sc.positional else "smooth"
    if tokens not in ("smooth", "piecewise"):
        raise ValueError(f"tokens must be 'smooth' or 'piecewise', got {tokens!r}")
    if tokens == "smooth" and sc.positional:
        raise ValueError("tokens='smooth' needs an i.i.d. alpha, got a position-dependent profile")
    K = sc.n_users
    opts = {} if tol is None else dict(tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    opts.update(solver_options or {})
    unit = _time_unit(sc)
    seconds = solver_seconds = 0.0
    retries = ""
    for _ in range(2 if refine else 1):
        for fallback in (RETRIES if retry else RETRIES[:1]):
            try:
                prob, wall, st, y, T, ell, X, up = _solve_once(sc, unit, tokens, {**opts, **fallback})
            except cp.error.SolverError as exc:
                status = f"failed: SolverError {exc}".strip()
                continue
            seconds += wall
            solver_seconds += st
            status = prob.status
            if status in ("optimal", "optimal_inaccurate") and y.value is not None and y.value > 0:
                if fallback:
                    retries = " (after retry with " + ", ".join(f"{k}={v}" for k, v in fallback.items()) + ")"
                break
            status = f"failed: {status}"
        else:
            return ConicResult(status, math.nan, np.zeros(K), np.zeros(K), math.nan, seconds, solver_seconds)
        solved_unit = unit
        unit = unit / float(y.value)  # the round time of this answer [s]: the next unit
    yv, Tv = float(y.value), max(float(T.value), 0.0)
    L = np.clip(np.asarray(ell.value, dtype=float) / yv, 0.0, sc.max_draft)
    beta = np.zeros(K)
    if up.size and Tv > 0:
        beta[up] = np.maximum(np.asarray(X.value, dtype=float), 0.0) / Tv
        beta /= max(1.0, float(beta.sum()))
    L[(sc.bits_per_token > 0) & (beta <= 0)] = 0.0  # no drafting without band
    # the objective is tokens per time unit of the last solve; tau = T / y in that unit
    goodput = float(prob.value) / solved_unit
    return ConicResult(prob.status + retries, goodput, L, beta, Tv / yv * solved_unit, seconds, solver_seconds)
