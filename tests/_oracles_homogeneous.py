"""Independent oracles and scenario strategies for the homogeneous-regime tests.

None of these functions calls the code under test (numerics.allocation,
numerics.homogeneous, numerics.lambertw, numerics.channel, numerics.tokens):

- :func:`brentq_theta`: theta* as the root of sum_k beta_k(theta) = 1 by ``scipy.optimize.brentq``,
  with each Shannon share found by its own ``brentq`` on the rate equation (no Lambert W).
- :func:`cvxpy_theta`: theta* from CVXPY/CLARABEL on the epigraph problem (inv_pos for the
  linear rate; relative entropy, i.e. the exponential cone, for the Shannon rate).
- :func:`enumerate_common_length`: the best common L by evaluating every L in [1, max_draft]
  with A(alpha, L) = sum_{i=0}^{L} alpha^i summed term by term.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import brentq

from numerics import Scenario

LN2 = math.log(2.0)


def shannon_rate(beta: float, B: float, rho: float) -> float:
    """beta B log2(1 + rho/beta), written out."""
    return beta * B * math.log1p(rho / beta) / LN2


def user_share(sc: Scenario, k: int, theta: float, L: float = 1.0) -> float:
    """beta_k with L (t_k + s_k / r_k(beta_k)) = theta; 0 if s_k = 0."""
    s, t = float(sc.bits_per_token[k]), float(sc.t_draft[k])
    if s == 0:
        return 0.0
    req = s * L / (theta - L * t)
    B = sc.bandwidth_hz
    if sc.rate_model == "linear":
        return req / (B * float(sc.spectral_efficiency[k]))
    rho = float(sc.snr[k])
    f = lambda b: shannon_rate(b, B, rho) - req  # noqa: E731  increasing in b
    hi = 1.0  # theta >= t_k + s_k / r_k(1) in brentq_theta's bracket, so beta_k <= 1
    while f(hi) < 0:  # (up to round-off at the left end of that bracket)
        hi *= 1.0 + 1e-9
    lo = 0.5
    while f(lo) > 0:
        lo /= 2.0
    return brentq(f, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def brentq_theta(sc: Scenario, L=None) -> float:
    """theta* = min over shares of max_k L_k h_k (H2; D7 with per-user L), by nested brentq.

    L defaults to 1 for every user. Bracket: at max_k L_k (t_k + s_k / r_k(1)) some user
    needs the whole band; at max_k L_k t_k + sum_k L_k s_k / r_k(1) the shares sum to at most
    1 (r concave, r(0) = 0).
    """
    K = sc.n_users
    Ls = [1.0] * K if L is None else [float(x) for x in L]
    up = [k for k in range(K) if sc.bits_per_token[k] > 0 and Ls[k] > 0]
    t_free = max([Ls[k] * float(sc.t_draft[k]) for k in range(K) if k not in up], default=0.0)
    if not up:
        return t_free
    B = sc.bandwidth_hz

    def full(k):  # L_k s_k / r_k(1)
        ch = float(sc.channel[k])
        r1 = B * ch if sc.rate_model == "linear" else shannon_rate(1.0, B, ch)
        return Ls[k] * float(sc.bits_per_token[k]) / r1

    lo = max(Ls[k] * float(sc.t_draft[k]) + full(k) for k in up)
    hi = max(Ls[k] * float(sc.t_draft[k]) for k in up) + sum(full(k) for k in up)
    excess = lambda th: sum(user_share(sc, k, th, Ls[k]) for k in up) - 1.0  # noqa: E731
    if hi <= lo or excess(lo) <= 0:
        th = lo
    elif excess(hi) >= 0:  # S(hi) <= 1 exactly; >= only by round-off when the root is hi
        th = hi
    else:
        th = brentq(excess, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=1000)
    return max(th, t_free)


def plain_tokens(alpha: float, L: int) -> float:
    """A(alpha, L) = sum_{i=0}^{L} alpha^i, summed term by term."""
    total, term = 0.0, 1.0
    for _ in range(L + 1):
        total += term
        term *= alpha
    return total


def plain_tokens_positional(profile: np.ndarray, L: int) -> float:
    """1 + sum_{i<=L} prod_{j<=i} alpha_j, term by term."""
    total, prod = 1.0, 1.0
    for i in range(L):
        prod *= float(profile[i])
        total += prod
    return total


def enumerate_common_length(sc: Scenario, theta: float) -> tuple[int, float, np.ndarray]:
    """Best common L at per-token makespan theta by evaluating every L: (L, G(L), all G)."""
    K = sc.n_users
    Gs = []
    for L in range(1, sc.max_draft + 1):
        if sc.positional:
            N = sum(plain_tokens_positional(sc.alpha[k], L) for k in range(K))
        else:
            N = sum(plain_tokens(float(sc.alpha[k]), L) for k in range(K))
        T = L * theta + sc.v0 + sc.v1 * K * (L + 1) + sc.overhead
        Gs.append(N / T)
    Gs = np.array(Gs)
    i = int(np.argmax(Gs))
    return i + 1, float(Gs[i]), Gs


def cvxpy_theta(sc: Scenario, accept_inaccurate: bool = False) -> float:
    """theta* from CVXPY/CLARABEL on min theta s.t. h_k(beta_k) <= theta, sum beta <= 1.

    Times are divided by a data scale (the drafting-plus-full-band upload time) so that theta
    is O(1) for the solver, then multiplied back.
    """
    import cvxpy as cp

    s, t = np.asarray(sc.bits_per_token), np.asarray(sc.t_draft)
    up = s > 0
    if not up.any():
        return float(np.max(t))
    B = sc.bandwidth_hz
    ch = np.asarray(sc.channel)[up]
    full = B * ch if sc.rate_model == "linear" else B * np.log2(1 + ch)
    scale = float(np.max(t) + np.sum(s[up] / full))
    th = cp.Variable()
    n = int(up.sum())
    tt, a = t[up] / scale, s[up] / full / scale  # drafting time, full-band upload time
    # shares of very different sizes: solve for x_k = beta_k / sigma_k, sigma_k a rough share
    # (the linear-rate share at the earliest time some user could finish: a_k / (lo - t_k))
    lo = float(np.max(tt + a))
    sigma = a / (lo - tt)
    sigma = sigma / np.sum(sigma)
    x = cp.Variable(n)
    beta = cp.multiply(sigma, x)
    if sc.rate_model == "linear":
        cons = [tt + cp.multiply(a / sigma, cp.inv_pos(x)) <= th]
    else:
        # normalised rate: r(beta)/r(1) = rho (-rel_entr(w, w + 1)) / log(1 + rho), w = beta/rho
        # (concave: relative entropy, i.e. the exponential cone); upload time a_k / u_k.
        # (Writing s inv_pos(theta - t) <= r(beta) directly made CLARABEL stop 1e-4 off;
        # rel_entr(beta, beta + rho) without the 1/rho scaling stopped up to 3e-6 off.)
        u = cp.Variable(n)
        w = cp.multiply(sigma / ch, x)
        cons = [cp.multiply(sigma, u) <= cp.multiply(ch / np.log1p(ch), -cp.rel_entr(w, w + 1)),
                tt + cp.multiply(a / sigma, cp.inv_pos(u)) <= th]
    cons += [cp.sum(beta) <= 1, x >= 0]
    # CLARABEL's default tolerances are 1e-8; ask for 1e-10 so that theta* is resolved to
    # ~1e-8 relative, and step back to 1e-9 / 1e-8 when it reports 'optimal_inaccurate'
    prob = cp.Problem(cp.Minimize(th), cons)
    for tol in (1e-10, 1e-9, 1e-8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the status is checked instead
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
        if prob.status == "optimal":
            break
    else:
        if prob.status != "optimal_inaccurate" or not accept_inaccurate:
            raise RuntimeError(f"CVXPY status {prob.status}")
    # users without upload: theta* = max(theta over the uploaders, their t_k) (t_k is free of beta)
    t_free = float(np.max(t[~up])) if (~up).any() else 0.0
    return max(float(th.value) * scale, t_free)


@st.composite
def scenarios(draw, max_users: int = 6, rate_models=("linear", "shannon"), positional: bool = False,
              max_draft: int | None = None) -> Scenario:
    """Random valid scenarios with some zero t_k / s_k, every cost positive somewhere (v0 > 0)."""
    K = draw(st.integers(1, max_users))
    model = draw(st.sampled_from(rate_models))
    Lmax = max_draft if max_draft is not None else draw(st.integers(1, 24))
    fl = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
    t = draw(st.lists(st.one_of(st.just(0.0), fl(1e-4, 0.05)), min_size=K, max_size=K))
    s = draw(st.lists(st.one_of(st.just(0.0), fl(10.0, 5000.0)), min_size=K, max_size=K))
    if positional:
        alpha = draw(st.lists(st.lists(fl(0.0, 0.99), min_size=Lmax, max_size=Lmax), min_size=K, max_size=K))
    else:
        alpha = draw(st.lists(st.one_of(fl(0.0, 0.99), st.just(0.8)), min_size=K, max_size=K))
    ch = draw(st.lists(fl(-1.0, 3.0), min_size=K, max_size=K))  # log10 of eta or rho
    kw = {"spectral_efficiency": [10 ** (c / 3) for c in ch]} if model == "linear" else {"snr": [10 ** c for c in ch]}
    return Scenario(
        alpha=alpha, t_draft=t, bits_per_token=s, bandwidth_hz=draw(fl(1e5, 1e7)),
        rate_model=model, v0=draw(fl(1e-3, 0.2)), v1=draw(st.one_of(st.just(0.0), fl(1e-6, 1e-3))),
        batching=draw(st.sampled_from(("ragged", "padded"))), overhead=draw(st.one_of(st.just(0.0), fl(1e-4, 0.05))),
        max_draft=Lmax, **kw,
    )


def random_scenario(rng: np.random.Generator, K: int, model: str, zeros: bool = True, **over) -> Scenario:
    """A seeded random scenario with realistic scales (log-uniform draws).

    t_k in [1, 30] ms, s_k in [100, 5000] bit, B in [1e5, 1e7] Hz, eta in [0.5, 8], rho in
    [0.1, 1e3], alpha in [0.3, 0.95], v0 in [20, 200] ms; with ``zeros`` about one user in
    six has t_k = 0 and one in six s_k = 0.
    """
    lu = lambda lo, hi, n=K: np.exp(rng.uniform(np.log(lo), np.log(hi), n))  # noqa: E731
    t, s = lu(1e-3, 3e-2), lu(100.0, 5000.0)
    if zeros:
        t[rng.random(K) < 1 / 6] = 0.0
        s[rng.random(K) < 1 / 6] = 0.0
    kw = {"spectral_efficiency": lu(0.5, 8.0)} if model == "linear" else {"snr": lu(0.1, 1e3)}
    d = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=t, bits_per_token=s, bandwidth_hz=float(lu(1e5, 1e7, 1)[0]),
             rate_model=model, v0=float(lu(0.02, 0.2, 1)[0]), max_draft=16, **kw)
    d.update(over)
    return Scenario(**d)
