"""The homogeneous-draft-length results H1 to H4 (MODEL.md section 3) and Leviathan et al.'s Table 1.

Symbolic checks read :mod:`theory.homogeneous`; numeric checks run
:mod:`numerics.homogeneous` / :mod:`numerics.allocation` on seeded random and adversarial
instances against references that do not use the code under test: a SciPy brentq root of
sum_k beta_k(theta) = 1 with each Shannon share from its own brentq, enumeration of every
draft length, mpmath at 40 digits, random feasible points, and the published table.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import sympy as sp
from scipy.optimize import brentq

from numerics import Scenario, baseline, goodput, solve_homogeneous
from numerics.allocation import equal_finish_allocation
from numerics.channel import rate
from numerics.homogeneous import stationary_length
from theory import homogeneous as th
from theory.symbols import B, rho, s, t, theta

from .registry import claim

_EPS = np.finfo(float).eps


def _random_scenarios(seed: int, n: int = 12) -> list[Scenario]:
    """Seeded scenarios over both rate models, with zero t_k / s_k users, v1 > 0, overhead, padding."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        K = int(rng.integers(1, 9))
        model = ("linear", "shannon")[i % 2]
        t = np.exp(rng.uniform(np.log(1e-3), np.log(3e-2), K)) * (rng.random(K) > 0.2)
        s = np.exp(rng.uniform(np.log(50.0), np.log(5e3), K)) * (rng.random(K) > 0.2)
        ch = np.exp(rng.uniform(np.log(0.1), np.log(1e3), K))
        kw = {"spectral_efficiency": ch / 100} if model == "linear" else {"snr": ch}
        out.append(Scenario(alpha=rng.uniform(0.0, 0.97, K), t_draft=t, bits_per_token=s,
                            bandwidth_hz=float(np.exp(rng.uniform(np.log(1e5), np.log(1e7)))), rate_model=model,
                            v0=float(rng.uniform(0.02, 0.2)), v1=float(rng.choice([0.0, 1e-4])),
                            overhead=float(rng.choice([0.0, 0.01])), batching=("ragged", "padded")[i % 3 == 0],
                            max_draft=int(rng.integers(1, 25)), **kw))
    return out


def _oracle_theta(sc: Scenario) -> float:
    """theta* by brentq on sum_k beta_k(theta) = 1, Shannon shares by brentq on the rate equation."""
    s, t, B = sc.bits_per_token, sc.t_draft, sc.bandwidth_hz
    up = np.flatnonzero(s > 0)
    t_free = float(np.max(np.where(s > 0, 0.0, t)))
    if up.size == 0:
        return t_free

    def r(k, b):
        ch = float(sc.channel[k])
        return b * B * ch if sc.rate_model == "linear" else b * B * math.log1p(ch / b) / math.log(2)

    def share(k, theta):
        req = s[k] / (theta - t[k])
        return brentq(lambda b: r(k, b) - req, 1e-300, 1.0 + 1e-9, xtol=1e-300, rtol=4 * _EPS)

    full = [s[k] / r(k, 1.0) for k in up]
    lo = max(t[k] + f for k, f in zip(up, full))
    hi = max(t[up]) + sum(full)
    ex = lambda x: sum(share(k, x) for k in up) - 1.0  # noqa: E731
    if hi <= lo or ex(lo) <= 0:
        root = lo
    elif ex(hi) >= 0:
        root = hi
    else:
        root = brentq(ex, lo, hi, xtol=1e-300, rtol=4 * _EPS)
    return max(root, t_free)


def _enumerate(sc: Scenario, theta: float) -> np.ndarray:
    """G(L) for L = 1..max_draft, tokens summed term by term."""
    K = sc.n_users
    G = []
    for L in range(1, sc.max_draft + 1):
        N = sum(sum(float(a) ** i for i in range(L + 1)) for a in sc.alpha)
        G.append(N / (L * theta + sc.v0 + sc.v1 * K * (L + 1) + sc.overhead))
    return np.array(G)


# ------------------------------------------------------------------------------------- H1
def _sym_h1() -> str:
    d = th.decomposition()
    assert d["order"] == d["order_reduced"], d["order"]
    assert d["comparison"] == d["comparison_reduced"], d["comparison"]
    return "sign(L h1 - L h2) = sign(h1 - h2) and sign(T(beta1) - T(beta2)) = sign(theta1 - theta2) for L > 0"


@claim("H1", "the best band shares do not depend on L: they minimise theta(beta) = max_k h_k(beta_k)", symbolic=_sym_h1)
def _num_h1() -> str:
    worst = 0.0
    for sc in _random_scenarios(101):
        b1, T1 = equal_finish_allocation(sc, np.ones(sc.n_users))
        for L in (2, 7, 500):
            bL, TL = equal_finish_allocation(sc, np.full(sc.n_users, L))
            worst = max(worst, float(np.max(np.abs(bL - b1))))
            assert TL == 0 or abs(TL / (L * T1) - 1) < 1e-12, (TL, L * T1)
        # no random allocation has a smaller per-token makespan (hence round time, at any L)
        rng = np.random.default_rng(sc.n_users)
        for _ in range(50):
            beta = rng.dirichlet(np.ones(sc.n_users))
            r = rate(sc.rate_model, beta, sc.bandwidth_hz, sc.channel)
            h = sc.t_draft + np.where(sc.bits_per_token > 0, sc.bits_per_token / r, 0.0)
            assert np.max(h) >= T1 * (1 - 1e-12)
    assert worst < 1e-12, worst
    return f"12 scenarios x L in {{2, 7, 500}}: max |beta(L) - beta(1)| = {worst:.1e}; 600 random shares never faster"


# ------------------------------------------------------------------------------------- H2
def _sym_h2() -> str:
    out = []
    for model in ("linear", "shannon"):
        sol = th.kkt_solution(3, model)
        assert sol["lambda_positive"] is True and sol["mu_positive"] is True, model
        assert sol["mu_sum"] == 1, sol["mu_sum"]
        assert th.rate_increasing(model)["dr_positive"] is True, model
        assert th.latency_convexity(model)["generic_positive"] is True, model
        out.append(model)
    # the Shannon closed form: SymPy's principal branch gives y = 1 (beta infinite): W_0(-c e^{-c}) = -c
    # because w = -c solves w e^w = -c e^{-c} and w >= -1 (the range of W_0) for c <= 1
    cc = sp.Symbol("c", positive=True)
    assert sp.simplify((-cc) * sp.exp(-cc) - (-cc * sp.exp(-cc))) == 0
    assert th.share_for_theta("shannon").has(sp.LambertW)
    return ("lambda = 1/sum(1/g_k) > 0 and mu_k > 0 decided by SymPy (linear, Shannon): complementary slackness "
            "forces h_k = theta and sum beta = 1; h convex, r increasing")


@claim("H2", "at the optimum every uploading user finishes together (h_k = theta*) and the whole band is used",
       symbolic=_sym_h2)
def _num_h2() -> str:
    worst_theta, worst_h = 0.0, 0.0
    scs = _random_scenarios(202)
    # adversarial: a user a hair from its pole, channels 6 decades apart
    scs.append(Scenario(alpha=0.8, t_draft=[0.03, 0.0, 0.029999], bits_per_token=[1e-3, 1e4, 10.0],
                        bandwidth_hz=1e6, rate_model="shannon", snr=[1e-3, 1e3, 1.0], v0=0.05))
    for sc in scs:
        beta, T = equal_finish_allocation(sc, np.ones(sc.n_users))
        ref = _oracle_theta(sc)
        worst_theta = max(worst_theta, abs(T - ref) / max(ref, 1e-300))
        up = sc.bits_per_token > 0
        if up.any():
            assert beta.sum() <= 1 and abs(beta.sum() - 1) <= 8 * _EPS, beta.sum()
            h = sc.t_draft[up] + sc.bits_per_token[up] / rate(sc.rate_model, beta, sc.bandwidth_hz, sc.channel)[up]
            worst_h = max(worst_h, float(np.ptp(h) / h.max()))
    # the W_{-1} share solves the rate equation; W_0 gives y = 1 (mpmath, 40 digits)
    f = sp.lambdify((t, s, B, rho, theta), th.share_for_theta("shannon"), "mpmath")
    with mp.workdps(40):
        for cval in (mp.mpf("1e-6"), mp.mpf("0.3"), mp.mpf("0.99")):
            q = 500 * mp.log(2) / (mp.mpf(10) ** 6 * 2 * cval)
            b = f(mp.mpf("0.01"), mp.mpf(500), mp.mpf(10) ** 6, mp.mpf(2), mp.mpf("0.01") + q)
            assert abs(b * mp.mpf(10) ** 6 * mp.log(1 + 2 / b) / mp.log(2) * q / 500 - 1) < 1e-30
            assert abs(mp.lambertw(-cval * mp.exp(-cval), 0) + cval) < 1e-30
    assert worst_theta < 1e-12 and worst_h < 1e-13, (worst_theta, worst_h)
    return f"13 scenarios: |theta - brentq| <= {worst_theta:.1e} rel, finishing-time spread <= {worst_h:.1e} rel"


# ------------------------------------------------------------------------------------- H3
def _sym_h3() -> str:
    for model in ("linear", "shannon"):
        d = th.share_derivatives(model)
        signs = {k: v[1] for k, v in d.items()}
        assert signs == {"t": 1, "s": 1, "channel": -1, "theta": -1}, (model, signs)
    comp = th.compensation(3)
    assert comp["raise"]["theta"][1] == 1 and comp["raise"]["own"][1] == 1
    assert all(o[1] == -1 for o in comp["raise"]["others"])
    assert comp["lower"]["own"][1] == -1 and all(o[1] == 1 for o in comp["lower"]["others"])
    assert comp["raise"]["band_conserved"] == 0
    return "dbeta/dt, dbeta/ds > 0, dbeta/d(eta|rho) < 0 at fixed theta; implicit function: own share up, others down"


@claim("H3", "compensation: beta_k* rises with t_k and s_k and falls with eta_k (rho_k); every other share moves the other way",
       symbolic=_sym_h3)
def _num_h3() -> str:
    n = 0
    rng = np.random.default_rng(303)
    for sc in _random_scenarios(303):
        base = solve_homogeneous(sc).bandwidth
        for _ in range(4):
            k = int(rng.integers(sc.n_users))
            f = float(rng.uniform(1.05, 5.0))
            which = rng.integers(3)
            if which == 0:
                t = sc.t_draft.copy()
                t[k] = t[k] * f + 1e-3
                new = sc.replace(t_draft=t)
            elif which == 1:
                s = sc.bits_per_token.copy()
                s[k] *= f
                new = sc.replace(bits_per_token=s)
            else:
                name = "spectral_efficiency" if sc.rate_model == "linear" else "snr"
                ch = getattr(sc, name).copy()
                ch[k] /= f
                new = sc.replace(**{name: ch})
            b = solve_homogeneous(new).bandwidth
            tol = 1e-12 * base + 4 * _EPS
            others = np.arange(sc.n_users) != k
            assert b[k] >= base[k] - tol[k] and np.all(b[others] <= base[others] + tol[others]), (k, which)
            n += 1
    return f"{n} random perturbations of t_k, s_k, eta_k / rho_k: signs as claimed"


# ------------------------------------------------------------------------------------- H4
def _sym_h4() -> str:
    qc = th.quasi_concavity(2)
    assert qc["dG_minus_phi_over_D2"] == 0 and qc["phi_prime_minus_Npp_D"] == 0 and qc["Npp_negative"] is True
    assert th.stationarity_equation()["normalised"] == 0
    oc = th.optimal_common_length()
    assert oc["same_as_model"] is True
    assert th.optimal_length_residual() == 0
    dom = th.stationary_point_domain()
    assert dom["negative_if_c0_lt_c1"] is True and dom["L_at_boundary"] == -1
    return ("phi' = N'' D < 0 (quasi-concave); phi(L°) = 0 with W e^W = x; SymPy's solve equals MODEL.md's W_{-1} "
            "form; domain c0 >= c1 (else G decreasing on [-1, inf))")


@claim("H4", "G_H(L) is quasi-concave; common alpha: L° = (1 - z)/ln(alpha) - c0/c1, z = -W_{-1}(-alpha^(c0/c1-1)/e); "
       "the integer optimum is floor or ceil of L°", symbolic=_sym_h4)
def _num_h4() -> str:
    rng = np.random.default_rng(404)
    worst = 0.0
    for _ in range(60):
        a = float(rng.choice([rng.uniform(0.05, 0.99), 1 - 10 ** -rng.uniform(3, 12)]))
        c1 = float(2.0 ** rng.integers(-10, 1))  # a power of 2, so that c0 / c1 is exact in floats
        c0 = c1 * float(1 + 10 ** rng.uniform(-6, 3))  # (L° is ill-conditioned in c0/c1 - 1 near 0)
        Lo = float(stationary_length(a, c0, c1))
        # reference: the root of the stationarity condition phi(L) = 0 (phi decreasing, phi(-1) > 0)
        # by bisection in mpmath at 40 digits -- no Lambert W
        with mp.workdps(40):
            am, c0m, c1m = mp.mpf(a), mp.mpf(c0), mp.mpf(c1)
            phi = lambda x: -am ** (x + 1) * mp.log(am) * (c0m + c1m * x) - c1m * (1 - am ** (x + 1))  # noqa: E731
            lo, hi = mp.mpf(-1), mp.mpf(1)
            while phi(hi) > 0:
                hi *= 2
            for _ in range(200):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if phi(mid) > 0 else (lo, mid)
            ref = float((lo + hi) / 2)
        worst = max(worst, abs(ref - Lo) / max(1.0, abs(Lo), c0 / c1))
        g = lambda x: -(-math.expm1((x + 1) * math.log(a))) / (c0 + c1 * x)  # noqa: E731
        # integer optimum on [1, 60] is floor or ceil of clip(L°, 1, 60)
        Gi = np.array([-g(float(x)) for x in range(1, 61)])
        Lc = min(max(Lo, 1.0), 60.0)
        cands = [Gi[math.floor(Lc) - 1], Gi[math.ceil(Lc) - 1]]
        assert max(cands) >= Gi.max() * (1 - 1e-15), (a, c0, c1, Lo, int(np.argmax(Gi)) + 1)
    assert worst < 1e-12, worst
    # solver vs enumeration, and unimodality of the integer sequence
    for sc in _random_scenarios(405):
        sol = solve_homogeneous(sc)
        G = _enumerate(sc, _oracle_theta(sc))
        assert abs(sol.goodput / G.max() - 1) < 1e-10, (sol.goodput, G.max())
        i = int(np.argmax(G))
        d = np.diff(G)
        assert np.all(d[:i] > 0) and np.all(d[i:] <= 1e-14 * G.max())
    return f"L° vs mpmath bisection of phi = 0: max rel diff {worst:.1e} (60 draws); solver = enumeration on 12 scenarios"


# ------------------------------------------------------------------------------------- Leviathan
#: Leviathan, Kalman, Matias (2023), "Fast inference from transformers via speculative
#: decoding", arXiv 2211.17192, Table 1 (c = 0): (alpha, gamma) -> walltime improvement
LEVIATHAN_TABLE1 = ((0.6, 2, 1.96), (0.7, 3, 2.53), (0.8, 2, 2.44), (0.8, 5, 3.69), (0.9, 2, 2.71), (0.9, 10, 6.86))


def _sym_leviathan() -> str:
    d = th.leviathan_improvement()
    assert d["difference"] == 0, d["difference"]
    return "G(L)/G_AR - (1 - alpha^(L+1)) / ((1 - alpha)(L c + 1)) simplifies to 0 (K = 1, s = 0, v1 = T_o = 0)"


@claim("leviathan-table1", "K = 1, s = 0, v1 = 0, c = 0: goodput over the autoregressive baseline reproduces "
       "Leviathan et al. (2023) Table 1", symbolic=_sym_leviathan)
def _num_leviathan() -> str:
    got = []
    for a, gamma, ref in LEVIATHAN_TABLE1:
        sc = Scenario(alpha=a, t_draft=0.0, bits_per_token=0.0, bandwidth_hz=1.0, spectral_efficiency=1.0,
                      v0=0.05, max_draft=gamma)
        ratio = baseline(sc, "equal-fixed", L=gamma).goodput / baseline(sc, "autoregressive").goodput
        sol = solve_homogeneous(sc)  # c = 0: drafting is free, so the solver takes L = gamma
        assert sol.draft_lengths[0] == gamma and abs(sol.goodput / goodput(sc, gamma, 1.0) - 1) < 1e-15
        assert round(ratio, 2) == ref, (a, gamma, ratio, ref)
        got.append(f"{ratio:.2f}")
    return "ratios " + ", ".join(got)
