"""Issue 10 item 3: the homogeneous regime at the edges of scale.

- ``stationary_length`` (the H4 closed form) against mpmath for c0/c1 from 1 to 1e12 and beyond:
  the relative precision of L° + 1 that its docstring states;
- the H2 allocation and the whole homogeneous solve for bandwidths from 1 Hz to 1e22 Hz (and
  1e300 Hz) with drafting times from 0 to seconds in one scenario, against an mpmath reference;
- the issue's handed case at bandwidth_hz = 1e22.

References are independent of the solver: the equal-finish condition sum_k beta_k(T) = 1 is
solved by bisection in mpmath at 60 digits (``_mp_allocation``; the Shannon inverse per user
by mpmath's ``findroot`` on r(beta) = required rate), and the integer draft length by
enumerating every L with mpmath (``_mp_best_length``).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from numerics import Scenario, equal_finish_allocation, solve_homogeneous
from numerics.homogeneous import stationary_length
from theory import homogeneous as th
from theory.symbols import alpha

EPS = np.finfo(float).eps


# ---------------------------------------------------------------- stationary_length
def _mp_stationary(a: float, ratio: float) -> mp.mpf:
    """L° = (1 - z)/ln(alpha) - c0/c1, z = -W_{-1}(-alpha^(c0/c1 - 1)/e): the SymPy expression
    of theory.homogeneous.optimal_common_length lambdified to mpmath, with enough digits to
    resolve L° after subtracting a number of size c0/c1 (call inside ``mp.workdps``)."""
    f = sp.lambdify((alpha, th.c0, th.c1), th.optimal_common_length()["L_opt"], "mpmath")
    return mp.re(f(mp.mpf(a), mp.mpf(ratio), mp.mpf(1)))


@pytest.mark.parametrize("ratio", [1.0, 1 + 2 * EPS, 1 + 1e-9, 2.0, 1e3, 1e6, 1e9, 1e12])
def test_stationary_length_relative_precision(ratio):
    """|L° - mpmath| <= 1e-14 (1 + |L°|) (the docstring's statement) at c0/c1 up to 1e12.

    Before issue 10 L° was formed as p / (-ln alpha) - c0/c1: an absolute error of eps c0/c1
    (about 1e-4 at 1e12), which this tolerance rejects.
    """
    alphas = (1e-300, 1e-12, 1e-3, 0.1, 0.5, 0.8, 0.99, 1 - 1e-6, 1 - 1e-12)
    # 100 digits: near the branch point (c0/c1 -> 1) mpmath's W_{-1} keeps only half of them, and
    # 1/ln(alpha) = -1e12 at alpha = 1 - 1e-12 amplifies what is left
    with mp.workdps(100 + int(np.log10(ratio))):
        for a in alphas:
            ref = _mp_stationary(a, ratio)
            got = float(stationary_length(a, ratio, 1.0))
            assert abs(got - float(ref)) <= 1e-14 * (1 + abs(float(ref))), (a, ratio, got, ref)


def test_stationary_length_beyond_1e12():
    """Huge c0/c1 (1e100 and 1e300, where -ln(alpha)(c0/c1 - 1) may overflow): L° + 1 still to 1e-14."""
    for ratio, a in ((1e100, 0.5), (1e300, 0.9), (1e300, 1e-300), (1.7e308, 1e-300)):
        with mp.workdps(40):
            # L° + 1 = ln(1 + p)/(-ln alpha), p the root of p - ln(1 + p) = -ln(alpha)(c0/c1 - 1)
            delta = -mp.log(mp.mpf(a)) * (mp.mpf(ratio) - 1)
            p = mp.findroot(lambda x, d=delta: x - mp.log1p(x) - d, delta + mp.log(delta))
            ref = mp.log1p(p) / (-mp.log(mp.mpf(a))) - 1
        got = float(stationary_length(a, ratio, 1.0))
        assert np.isfinite(got) and abs(got - float(ref)) <= 1e-14 * (1 + abs(float(ref))), (ratio, a, got, ref)


def test_stationary_length_scale_invariance():
    """L° depends on c0 and c1 only through c0/c1 (the same L° at c1 = 1e-300 and c1 = 1e300)."""
    for c1 in (1e-300, 1e-20, 1.0, 1e20, 1e300):
        assert stationary_length(0.8, 7.0 * c1, c1) == pytest.approx(float(stationary_length(0.8, 7.0, 1.0)),
                                                                        rel=4 * EPS)


# ---------------------------------------------------------------- allocation and solve at scale
def _mp_share(model: str, rate: mp.mpf, B: mp.mpf, ch: mp.mpf) -> mp.mpf:
    """beta with r(beta) = rate: linear rate / (B eta); Shannon: u = log1p(rho/beta) is the positive
    root of F(u) = c (e^u - 1) - u, c = rate ln2 / (B rho) < 1, and beta = c rho / u. F is convex
    with F(0) = 0, F'(0) < 0, and F > 0 at u0 = min(x + 2 log1p(x) + 1, 4 (1 - c) / c), x = ln(1/c)
    (c e^{u0} = e (1 + x)^2 > u0 + c; c u^2 / 2 > (1 - c) u), so Newton from u0 decreases
    monotonically to the root, in a few steps also for a tiny c (huge SNR) and for c near 1 (a
    power-limited user). A rate at or above the supremum B rho / ln 2 (c >= 1) needs +inf."""
    if model == "linear":
        return rate / (B * ch)
    c = rate * mp.log(2) / (B * ch)
    if c >= 1:
        return mp.inf
    x = -mp.log(c)
    u = min(x + 2 * mp.log1p(x) + 1, 4 * (1 - c) / c)
    for _ in range(500):
        step = (c * mp.expm1(u) - u) / (c * mp.exp(u) - 1)
        u -= step
        if abs(step) <= u * mp.mpf(10) ** (-mp.mp.dps + 5):
            break
    return c * ch / u


def _mp_allocation(sc: Scenario) -> tuple[mp.mpf, list]:
    """theta* and beta* of H2 by bisection on T in mpmath (sum_k beta_k(T) decreasing in T)."""
    B = mp.mpf(sc.bandwidth_hz)
    t = [mp.mpf(float(v)) for v in sc.t_draft]
    s = [mp.mpf(float(v)) for v in sc.bits_per_token]
    ch = [mp.mpf(float(v)) for v in sc.channel]

    def shares(T):
        return [_mp_share(sc.rate_model, s[k] / (T - t[k]), B, ch[k]) for k in range(len(t))]

    full = [s[k] / (_mp_share_inverse_full(sc.rate_model, B, ch[k])) for k in range(len(t))]
    lo = max(t[k] + full[k] for k in range(len(t)))  # someone needs the whole band: sum >= 1
    hi = max(t) + sum(full)  # sum <= 1 (docs/model.md H2; numerics.allocation bracket)
    for _ in range(210):  # 2^-210 (hi - lo): below the 60 digits carried
        if hi - lo <= hi * mp.mpf(10) ** (20 - mp.mp.dps):
            break  # the width that the digits carried resolve
        mid = (lo + hi) / 2
        if sum(shares(mid)) > 1:
            lo = mid
        else:
            hi = mid
    T = (lo + hi) / 2
    return T, shares(T)


def _mp_share_inverse_full(model: str, B: mp.mpf, ch: mp.mpf) -> mp.mpf:
    """The full-band rate r(1): B eta or B log2(1 + rho)."""
    return B * ch if model == "linear" else B * mp.log(1 + ch) / mp.log(2)


def _mp_best_length(sc: Scenario, theta: mp.mpf) -> tuple[int, mp.mpf]:
    """Enumerate L = 1..max_draft: G(L) = sum_k (1 - alpha_k^(L+1))/(1 - alpha_k) / (L theta + v0 + v1 K(L+1) + T_o)."""
    K = sc.n_users
    best = (0, mp.mpf(-1))
    for L in range(1, sc.max_draft + 1):
        N = sum((1 - mp.mpf(float(a)) ** (L + 1)) / (1 - mp.mpf(float(a))) for a in sc.alpha)
        G = N / (L * theta + mp.mpf(sc.v0) + mp.mpf(sc.v1) * K * (L + 1) + mp.mpf(sc.overhead))
        if G > best[1]:
            best = (L, G)
    return best


@pytest.mark.parametrize("model", ["linear", "shannon"])
@pytest.mark.parametrize("bandwidth", [1.0, 1e3, 1e9, 1e15, 1e22])
def test_homogeneous_from_1_hz_to_1e22_hz(model, bandwidth):
    """Shares, theta*, L and G against mpmath, with drafting times 0, 1 ms and 2 s in one scenario.

    At 1e22 Hz every upload time is below eps times the drafting time of the slowest user; the
    solver raised "beta must be finite" there before issue 10 (the slack T - t_k cancelled).
    Tolerances: shares 1e-11 relative (the Newton root is stopped at 1e-8 relative step plus
    one first-order correction, docs/model.md H2 module docstring), theta* and G 1e-12.
    """
    ch = [1.0, 3.0, 0.5] if model == "linear" else [10.0, 1000.0, 0.3]
    key = "spectral_efficiency" if model == "linear" else "snr"
    sc = Scenario(alpha=[0.8, 0.6, 0.9], t_draft=[0.0, 1e-3, 2.0], bits_per_token=[1000.0, 32.0, 5.0],
                  bandwidth_hz=bandwidth, rate_model=model, v0=0.05, v1=1e-4, overhead=0.01, max_draft=24,
                  **{key: ch})
    sol = solve_homogeneous(sc)
    with mp.workdps(60):
        T, beta = _mp_allocation(sc)
        L, G = _mp_best_length(sc, T)
    beta = np.array([float(b) for b in beta])
    assert np.all(np.isfinite(sol.bandwidth)) and sol.bandwidth.sum() <= 1.0
    # tiny shares (1e-20 at 1e22 Hz) are compared relative to themselves, as the others
    assert np.allclose(sol.bandwidth, beta, rtol=1e-11, atol=0.0)
    assert sol.multipliers["theta"] == pytest.approx(float(T), rel=1e-12)
    assert int(sol.draft_lengths[0]) == L
    assert sol.goodput == pytest.approx(float(G), rel=1e-12)
    assert all(np.all(np.isfinite(np.asarray(v, dtype=float))) for k, v in sol.multipliers.items() if k != "L_method")


def test_handed_case_bandwidth_1e22():
    """Issue 10 handed case: alpha 0.8, t 1 ms, s 1000 bit, B 1e22 Hz, eta 1, v0 0.1, max_draft 16:
    L = 14, G = 42.316475 tokens/s. Reference: K = 1 takes the whole band (beta = 1, theta =
    t + s/(B eta)); G(L) = (1 - 0.8^(L+1))/0.2 / (L theta + 0.1) enumerated over L = 1..16 in mpmath."""
    sc = Scenario(alpha=0.8, t_draft=0.001, bits_per_token=1000, bandwidth_hz=1e22, spectral_efficiency=1,
                  v0=0.1, max_draft=16)
    with mp.workdps(40):
        theta = mp.mpf("0.001") + mp.mpf(1000) / mp.mpf(10) ** 22
        Gs = [(1 - mp.mpf("0.8") ** (L + 1)) / mp.mpf("0.2") / (L * theta + mp.mpf("0.1")) for L in range(1, 17)]
        L_ref = 1 + max(range(16), key=lambda i: Gs[i])
        G_ref = float(Gs[L_ref - 1])
    assert (L_ref, round(G_ref, 6)) == (14, 42.316475)
    sol = solve_homogeneous(sc)
    assert sol.draft_lengths.tolist() == [14] and sol.bandwidth.tolist() == [1.0]
    assert sol.goodput == pytest.approx(G_ref, rel=1e-13)


@pytest.mark.parametrize("t", [0.0, 1e-3, 3.0])
def test_multipliers_finite_at_1e300_hz(t):
    """At 1e300 Hz the band multiplier is about 1e-297 and mu is finite (before issue 10:
    r^2 overflowed and mu was NaN, which the CLI printed as a NaN token). Reference: for the
    linear rate g_k = s_k / (B eta_k beta_k^2), lambda = 1 / sum_k 1/g_k, mu_k = lambda / g_k
    (docs/model.md H2), evaluated in mpmath at the solver's shares."""
    sc = Scenario(alpha=[0.8, 0.5], t_draft=[t, 0.0], bits_per_token=[1000.0, 1.0], bandwidth_hz=1e300,
                  spectral_efficiency=[1.0, 3.0], v0=0.1)
    sol = solve_homogeneous(sc)
    with mp.workdps(40):
        inv_g = [mp.mpf(1e300) * mp.mpf(float(e)) * mp.mpf(float(b)) ** 2 / mp.mpf(float(s))
                 for e, b, s in zip(sc.spectral_efficiency, sol.bandwidth, sc.bits_per_token, strict=True)]
        lam = 1 / sum(inv_g)
        mu = [float(lam * w) for w in inv_g]
    assert sol.multipliers["lambda"] == pytest.approx(float(lam), rel=1e-13)
    assert np.allclose(sol.multipliers["mu"], mu, rtol=1e-13, atol=1e-300)


# ---------------------------------------------------------------- power-limited Shannon users
def _power_limited(snr, t=(0.01, 0.01), s=(100.0, 100.0), bandwidth=1e4, alpha=(0.8, 0.6)):
    return Scenario(alpha=list(alpha), t_draft=list(t), bits_per_token=list(s), bandwidth_hz=bandwidth,
                    rate_model="shannon", snr=list(snr), v0=0.05)


_POWER_LIMITED = [
    pytest.param(_power_limited([1e-20, 10.0]), id="snr-1e-20"),  # raised "rate r is unreachable"
    pytest.param(_power_limited([1e-17, 10.0]), id="snr-1e-17"),
    pytest.param(_power_limited([1e-300, 10.0]), id="snr-1e-300"),  # shares summed to 4.5e-285
    pytest.param(_power_limited([1e300, 1e-10]), id="snr-1e300-1e-10"),  # shares summed to 0.99855
    pytest.param(_power_limited([1e-300, 1e300]), id="snr-1e-300-1e300"),
    pytest.param(_power_limited([1e-20, 1e-20], t=(0.01, 0.0), s=(100.0, 300.0)), id="two-power-limited"),
    pytest.param(_power_limited([1e-18, 1e3, 0.3], t=(0.0, 2.0, 1e-3), s=(100.0, 5.0, 32.0), bandwidth=1e9,
                                alpha=(0.8, 0.6, 0.9)), id="three-users-1e9-hz"),
]


@pytest.mark.parametrize("sc", _POWER_LIMITED)
def test_power_limited_shannon_users(sc):
    """New-user finding 8: a Shannon user whose SNR is so low that its full-band rate equals its supremum
    B rho / ln 2 in binary64 (rho below ~1e-15) made the allocation raise "rate r is unreachable" at the
    left end of its bracket (snr 1e-20, 1e-17), return shares summing to ~0 (snr 1e-300) or to 0.99855
    (snr [1e300, 1e-10]). Its share then climbs from ~0 to ~1 within one double of T
    (numerics.allocation module docstring, "Power-limited users").

    Reference: ``_mp_allocation`` (bisection on T in mpmath, the Shannon inverse by Newton in mpmath)
    with 40 digits more than the decades of 1/rho (1 - c ~ rho/2 must be resolved) and of T / (hi - lo);
    the best L and G by enumeration in mpmath. Tolerances: theta* 1e-14 and G 1e-14 relative (observed
    <= 4e-16); shares 1e-12 relative (observed <= 3e-16; every non-dominant user here has an elasticity
    r / (beta r') below 10, so its share is determined by T to ~1e-15).
    """
    sol = solve_homogeneous(sc)
    dps = 40 + max(0, int(-np.log10(float(np.min(sc.snr)))))
    with mp.workdps(dps):
        T, beta = _mp_allocation(sc)
        L, G = _mp_best_length(sc, T)
    beta = np.array([float(b) for b in beta])
    assert np.all(np.isfinite(sol.bandwidth)) and 1.0 - 4 * EPS <= sol.bandwidth.sum() <= 1.0
    assert np.allclose(sol.bandwidth, beta, rtol=1e-12, atol=0.0)
    assert sol.multipliers["theta"] == pytest.approx(float(T), rel=1e-14)
    assert int(sol.draft_lengths[0]) == L
    assert sol.goodput == pytest.approx(float(G), rel=1e-14)
    assert all(np.all(np.isfinite(np.asarray(v, dtype=float))) for k, v in sol.multipliers.items() if k != "L_method")


def test_power_limited_users_with_equal_earliest_finish():
    """Two power-limited users (rho = 1e-20) whose earliest finishes t + s ln2 / (B rho) are equal (here
    exactly: same t, s, rho) share the band in proportion to s: 1/2 each, which the mpmath bisection
    confirms. When the earliest finishes differ by an ulp the exact split is beyond binary64 (module
    docstring); the makespan is still right: checked with rho_2 one ulp above rho_1, by evaluating the
    makespan of the returned shares in mpmath (60 digits) against the mpmath root, to 1e-14 relative."""
    sc = _power_limited([1e-20, 1e-20])
    beta, T = equal_finish_allocation(sc, np.ones(2))
    with mp.workdps(70):
        T_ref, beta_ref = _mp_allocation(sc)
    assert np.allclose(beta, [float(b) for b in beta_ref], rtol=1e-14, atol=0.0)
    assert beta.tolist() == [0.5, 0.5] and T == pytest.approx(float(T_ref), rel=1e-14)

    sc = _power_limited([1e-20, float(np.nextafter(1e-20, 1.0))])
    beta, T = equal_finish_allocation(sc, np.ones(2))
    assert 1.0 - 4 * EPS <= beta.sum() <= 1.0 and np.all(beta > 0)
    with mp.workdps(70):
        T_ref, _ = _mp_allocation(sc)
        B = mp.mpf(sc.bandwidth_hz)
        finish = [mp.mpf(0.01) + mp.mpf(100) / (mp.mpf(b) * B * mp.log1p(mp.mpf(float(rho)) / mp.mpf(b)) / mp.log(2))
                  for b, rho in zip(beta, sc.snr, strict=True)]
        makespan = max(finish)
    assert float(makespan) == pytest.approx(float(T_ref), rel=1e-14)
    assert T == pytest.approx(float(T_ref), rel=1e-14)
