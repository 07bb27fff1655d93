"""The homogeneous-draft-length results H1 to H4 (docs/model.md section 3) and Leviathan et al.'s Table 1.

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
from theory.symbols import B, L, alpha, beta, rho, s, t, theta

from . import _mp
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
    lo = max(t[k] + f for k, f in zip(up, full, strict=True))
    hi = max(t[up]) + sum(full)
    ex = lambda x: sum(share(k, x) for k in up) - 1.0  # noqa: E731
    if hi <= lo or ex(lo) <= 0:
        root = lo
    elif ex(hi) >= 0:
        root = hi
    else:
        root = brentq(ex, lo, hi, xtol=1e-300, rtol=4 * _EPS)
    return max(root, t_free)


def _partial_diff(f, args: tuple, i: int):
    """d f / d args[i] at ``args`` (mpmath central differences in that argument alone)."""
    return mp.diff(lambda x: f(*args[:i], x, *args[i + 1:]), args[i])


def _enumerate(sc: Scenario, theta: float) -> np.ndarray:
    """G(L) for L = 1..max_draft, tokens summed term by term."""
    K = sc.n_users
    G = []
    for Lv in range(1, sc.max_draft + 1):
        N = sum(sum(float(a) ** i for i in range(Lv + 1)) for a in sc.alpha)
        G.append(N / (Lv * theta + sc.v0 + sc.v1 * K * (Lv + 1) + sc.overhead))
    return np.array(G)


# ------------------------------------------------------------------------------------- H1
def _sym_h1() -> str:
    """Read the round time of theory.latency at a common L: beta enters only through max_k L h_k, each
    L h_k is L times an L-free h_k (so the max is L theta(beta)); checked at mpmath points too."""
    from theory.symbols import T_o, v0, v1

    out = []
    for model, batching in (("linear", "ragged"), ("shannon", "padded")):
        d = th.decomposition(3, model, batching)
        Lp, betas = d["L"], d["beta"]
        rest = d["round_time"] - d["drafting"]
        assert not rest.has(*betas), f"{model}: beta outside the drafting term: {rest}"
        assert isinstance(d["drafting"], sp.Max), d["drafting"]
        for arg in d["drafting"].args:
            hk = sp.simplify(arg / Lp)
            assert not hk.has(Lp), f"{model}: drafting term {arg} is not L times an L-free latency"
        # at random points: T(L, b1) - T(L, b2) = L (theta(b1) - theta(b2)) (the makespan as theory states it)
        syms = sorted(d["round_time"].free_symbols - {Lp}, key=lambda x: x.name)
        fT = _mp.fn(d["round_time"], [Lp, *syms])
        fth = _mp.fn(d["makespan"], syms)
        rng = np.random.default_rng(1)
        with mp.workdps(_mp.DPS):
            for _ in range(4):
                base = {x: mp.mpf(float(rng.uniform(0.01, 3))) for x in syms}
                other = dict(base)
                for b in betas:
                    other[b] = mp.mpf(float(rng.uniform(0.01, 1)))
                for Lv in (1, 3, 17):
                    lhs = fT(Lv, *[base[x] for x in syms]) - fT(Lv, *[other[x] for x in syms])
                    rhs = Lv * (fth(*[base[x] for x in syms]) - fth(*[other[x] for x in syms]))
                    _mp.close(lhs, rhs, 1e-25, f"H1 {model}")
        out.append(f"{model}/{batching}")
    _ = (T_o, v0, v1)
    return ("round time of theory.latency at a common L = max_k L h_k + (beta-free rest), L h_k = L x (L-free h_k): "
            "T(L, b1) - T(L, b2) = L (theta(b1) - theta(b2)) at mpmath points (" + ", ".join(out) + ")")


@claim("H1", "the best band shares do not depend on L: they minimise theta(beta) = max_k h_k(beta_k)", symbolic=_sym_h1)
def _num_h1() -> str:
    worst = 0.0
    for sc in _random_scenarios(101):
        b1, T1 = equal_finish_allocation(sc, np.ones(sc.n_users))
        for Lv in (2, 7, 500):
            bL, TL = equal_finish_allocation(sc, np.full(sc.n_users, Lv))
            worst = max(worst, float(np.max(np.abs(bL - b1))))
            assert TL == 0 or abs(TL / (Lv * T1) - 1) < 1e-12, (TL, Lv * T1)
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
    """KKT multipliers re-substituted into the stationarity; shares re-substituted into the rate equation."""
    out = []
    for model in ("linear", "shannon"):
        sol = th.kkt_solution(3, model)
        lam_, mu_, g_ = sol["lambda"], sol["mu"], sol["g"]
        # the stationarity of the epigraph Lagrangian with h_k' = -g_k: 1 - sum mu = 0, lambda - mu_k g_k = 0
        assert sp.simplify(1 - sum(mu_)) == 0, f"{model}: sum mu = {sp.simplify(sum(mu_))}"
        for m_, gk in zip(mu_, g_, strict=True):
            assert sp.simplify(lam_ - m_ * gk) == 0, f"{model}: lambda - mu_k g_k = {sp.simplify(lam_ - m_ * gk)}"
        assert lam_.is_positive is True and all(m_.is_positive for m_ in mu_), model
        # the slopes g_k = -h_k'(beta_k), recomputed from theory.latency's h
        P = sol["problem"]
        for hk, b, gk_expr in zip(P["h"], P["symbols"]["beta"], sol["slopes"], strict=True):
            assert sp.simplify(gk_expr + sp.diff(hk, b)) == 0, model
        assert th.rate_increasing(model)["dr_positive"] is True, model
        assert th.latency_convexity(model)["generic_positive"] is True, model
        out.append(model)
    # the closed forms of beta(theta) solve the rate equation r(beta) = s / (theta - t)
    lin = th.share_for_theta("linear")
    assert sp.simplify(th.rate("linear", lin) - s / (theta - t)) == 0, lin
    shan = th.share_for_theta("shannon")
    f = _mp.fn(shan, (t, s, B, rho, theta))
    f0 = _mp.fn(shan.replace(sp.LambertW, lambda z, *k: sp.LambertW(z)), (t, s, B, rho, theta))
    r = _mp.fn(th.rate("shannon"), (beta, B, rho))
    with mp.workdps(_mp.DPS):
        for cval in ("1e-6", "0.3", "0.9", "0.999"):
            cv = mp.mpf(cval)
            tv, sv, Bv, rv = mp.mpf("0.01"), mp.mpf(500), mp.mpf(10) ** 6, mp.mpf(2)
            thv = tv + sv * mp.log(2) / (Bv * rv * cv)  # theta at which c = s ln2 / (B rho (theta - t)) = cval
            b = f(tv, sv, Bv, rv, thv)
            _mp.close(r(b, Bv, rv), sv / (thv - tv), 1e-25, f"Shannon share at c = {cval}")
            # the principal branch: W_0(-c e^{-c}) = -c, so y = 1 and the share is infinite (or 1/0)
            assert abs(mp.lambertw(-cv * mp.exp(-cv), 0) + cv) < mp.mpf(10) ** -25, cval
            try:
                b0 = f0(tv, sv, Bv, rv, thv)
            except ZeroDivisionError:
                b0 = mp.inf
            assert not (abs(b0) < 1e12 * b), f"principal branch gives a finite share {b0} at c = {cval}"
    return ("KKT multipliers satisfy 1 - sum mu = 0 and lambda = mu_k g_k, all positive (linear, Shannon): "
            "complementary slackness forces h_k = theta and sum beta = 1; beta(theta) solves r(beta) = s/(theta - t) "
            "(linear exactly, Shannon W_{-1} at mpmath points; W_0 gives beta = inf)")


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
    """d beta/dp at fixed theta against central differences of the closed-form share (mpmath); the
    compensation formulas re-derived from sum_j beta_j = 1."""
    from theory.symbols import eta

    for model in ("linear", "shannon"):
        d = th.share_derivatives(model)
        signs = {k: v[1] for k, v in d.items()}
        assert signs == {"t": 1, "s": 1, "channel": -1, "theta": -1}, (model, signs)
        ch = eta if model == "linear" else rho
        share = th.share_for_theta(model)
        fb = _mp.fn(share, (t, s, B, ch, theta))
        with mp.workdps(_mp.DPS):
            for pt in _mp.points(31, 3, t=(1e-3, 1e-2), s=(50, 500), ch=(0.5, 5.0)):
                tv, sv, chv, Bv = pt["t"], pt["s"], pt["ch"], mp.mpf(10) ** 5
                thv = tv + sv * mp.log(2) / (Bv * chv * mp.mpf("0.6"))  # c = 0.6 for Shannon
                bv = fb(tv, sv, Bv, chv, thv)
                vals = {t: tv, s: sv, ch: chv, theta: thv, B: Bv, beta: bv}
                args = (tv, sv, Bv, chv, thv)
                fd = {name: _partial_diff(fb, args, i)
                      for name, i in (("t", 0), ("s", 1), ("channel", 3), ("theta", 4))}
                for name, (expr, _) in d.items():
                    subs = {x: vals[x] for x in vals if x in expr.free_symbols}
                    subs.update({x: vals[s] for x in expr.free_symbols if x.name == "s" and x not in subs})
                    got = sp.N(expr.subs(subs), _mp.DPS)
                    _mp.close(got, fd[name], 1e-15, f"H3 {model} d beta/d {name}")
    comp = th.compensation(3)
    for case in ("raise", "lower"):
        own = comp[case]["own"][0]
        others = [o[0] for o in comp[case]["others"]]
        assert sp.simplify(own + sum(others)) == 0, "band not conserved"
        dth = comp[case]["theta"][0]
        dsyms = sorted(dth.free_symbols - {x for x in dth.free_symbols if x.name == "g"}, key=lambda x: x.name)
        gsym = next(x for x in dth.free_symbols if x.name == "g")
        # sum_j beta_j(theta*(p); p) = 1 differentiated: g + (sum_j d_j) dtheta/dp = 0
        assert sp.simplify(gsym + sum(dsyms) * dth) == 0, dth
        assert sp.simplify(own - gsym * sum(dsyms[1:]) / sum(dsyms)) == 0, own
    assert comp["raise"]["own"][1] == 1 and all(o[1] == -1 for o in comp["raise"]["others"])
    assert comp["lower"]["own"][1] == -1 and all(o[1] == 1 for o in comp["lower"]["others"])
    return ("d beta/dt, d beta/ds > 0, d beta/d(eta|rho), d beta/d theta < 0 at fixed theta, "
            "each = central differences of the closed form (mpmath); "
            "implicit function on sum beta = 1: own share up, others down")


@claim("H3", "compensation: beta_k* rises with t_k and s_k and falls with eta_k (rho_k); "
       "every other share moves the other way", symbolic=_sym_h3)
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
    """phi = D^2 dG/dL by mpmath.diff; L° from the returned W_{-1} form is a root (and maximum) of a phi typed
    here; the affine round time re-expanded; the boundary L° = -1 at c0 = c1."""
    from theory.symbols import K as K_sym
    from theory.symbols import T_o, v0, v1

    qc = th.quasi_concavity(2)
    assert qc["Npp_negative"] is True
    als = sorted([x for x in qc["phi"].free_symbols if x.name.startswith("alpha_")], key=lambda x: x.name)
    fphi = _mp.fn(qc["phi"], (*als, L, th.c0, th.c1))
    fN = _mp.fn(qc["N"], (*als, L))
    se = th.stationarity_equation()
    flhs = _mp.fn(se["equation_lhs"], (alpha, L, th.c0, th.c1))
    oc = th.optimal_common_length()
    fLo = _mp.fn(oc["L_opt"], (alpha, th.c0, th.c1))

    def phi_typed(a, x, c0, c1):  # A'(L)(c0 + c1 L) - c1 A(L), A = (1 - a^(L+1))/(1 - a)
        return -a ** (x + 1) * mp.log(a) / (1 - a) * (c0 + c1 * x) - c1 * (1 - a ** (x + 1)) / (1 - a)

    with mp.workdps(_mp.DPS):
        for pt in _mp.points(41, 4, a1=(0.05, 0.95), a2=(0.05, 0.95), c0=(0.5, 50.0), c1=(0.01, 0.5), x=(0.5, 30.0)):
            a1, a2, c0v, c1v, x = pt["a1"], pt["a2"], pt["c0"], pt["c1"], pt["x"]

            def G(z, a1=a1, a2=a2, c0v=c0v, c1v=c1v):  # the default arguments bind this point's values
                return fN(a1, a2, z) / (c0v + c1v * z)

            _mp.close(fphi(a1, a2, x, c0v, c1v), mp.diff(G, x) * (c0v + c1v * x) ** 2, 1e-20, "phi = D^2 dG/dL")
            _mp.close(fphi(a1, a1, x, c0v, c1v), 2 * phi_typed(a1, x, c0v, c1v), 1e-20, "phi for equal alphas")
            _mp.close(flhs(a1, x, c0v, c1v) - 1, phi_typed(a1, x, c0v, c1v) * (1 - a1) / c1v, 1e-20,
                      "stationarity equation = phi (1 - alpha)/c1")
            Lo = fLo(a1, c0v, c1v)
            _mp.close(phi_typed(a1, Lo, c0v, c1v), 0, 1e-20, "phi(L°)")
            assert phi_typed(a1, Lo - mp.mpf("1e-3"), c0v, c1v) > 0 > phi_typed(a1, Lo + mp.mpf("1e-3"), c0v, c1v)
            _mp.close(fLo(a1, c1v, c1v), -1, 1e-12, "L° at c0 = c1")  # W_{-1} at its branch point: sqrt-conditioned
    dom = th.stationary_point_domain()
    assert dom["negative_if_c0_lt_c1"] is True and dom["L_at_boundary"] == -1
    aff = th.affine_round_time()
    T = L * theta + v0 + v1 * K_sym * (L + 1) + T_o  # the round time at a common L (both batchings: n = K (L+1))
    assert sp.expand(aff["c0"] + aff["c1"] * L - T) == 0, (aff["c0"], aff["c1"])
    return ("phi = D^2 dG/dL (mpmath.diff) and phi' = N'' D < 0 (quasi-concave); L° = (1 - z)/ln(alpha) - c0/c1 with "
            "W_{-1} is a sign-changing root of phi (mpmath); L° = -1 at c0 = c1; c0 + c1 L re-expanded")


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

            def phi(x, am=am, c0m=c0m, c1m=c1m):  # the default arguments bind this draw's values
                return -am ** (x + 1) * mp.log(am) * (c0m + c1m * x) - c1m * (1 - am ** (x + 1))

            lo, hi = mp.mpf(-1), mp.mpf(1)
            while phi(hi) > 0:
                hi *= 2
            for _ in range(200):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if phi(mid) > 0 else (lo, mid)
            ref = float((lo + hi) / 2)
        worst = max(worst, abs(ref - Lo) / max(1.0, abs(Lo), c0 / c1))
        # integer optimum on [1, 60] is floor or ceil of clip(L°, 1, 60); G(L) = (1 - a^(L+1)) / (c0 + c1 L)
        Gi = np.array([-math.expm1((x + 1) * math.log(a)) / (c0 + c1 * x) for x in range(1, 61)])
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
    return (f"L° vs mpmath bisection of phi = 0: max rel diff {worst:.1e} (60 draws); "
            "solver = enumeration on 12 scenarios")


# ------------------------------------------------------------------------------------- Leviathan
#: Leviathan, Kalman, Matias (2023), "Fast inference from transformers via speculative
#: decoding", arXiv 2211.17192, Table 1 (c = 0): (alpha, gamma) -> walltime improvement
LEVIATHAN_TABLE1 = ((0.6, 2, 1.96), (0.7, 3, 2.53), (0.8, 2, 2.44), (0.8, 5, 3.69), (0.9, 2, 2.71), (0.9, 10, 6.86))


def _sym_leviathan() -> str:
    d = th.leviathan_improvement()
    cc = next(x for x in d["leviathan"].free_symbols if x.name == "c")
    v0p = next(x for x in d["ratio"].free_symbols if x.name == "v_0")
    typed = (1 - alpha ** (L + 1)) / ((1 - alpha) * (L * cc + 1))  # Leviathan et al. (2023), Thm 3.8
    assert sp.simplify(d["leviathan"] - typed) == 0, d["leviathan"]
    assert sp.simplify(d["ratio"].subs(t, cc * v0p) - typed) == 0, d["ratio"]
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
