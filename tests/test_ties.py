"""The tie table (proofs_check.ties) is complete, and its ties that live here hold.

Completeness: every entry of ``theory`` (each public function, each key of a returned dict)
has a tie (numeric callable + test) or a reason; every numeric path resolves; every named test
exists. Ties: each SymPy expression is evaluated with mpmath (``lambdify(..., 'mpmath')``, 30 to
50 digits: an exact reference, independent of the float64 code) and compared with the numeric
code on grids that include the domain edges. Internal numeric functions are reached only
through the adapters of :mod:`proofs_check.ties`.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import theory.channel as tch
import theory.fading as tfd
import theory.heterogeneous as TH
import theory.homogeneous as thom
import theory.latency as tlat
import theory.tokens as ttok
from numerics import Scenario, solve_heterogeneous, solve_homogeneous
from numerics.allocation import equal_finish_allocation, share_for_deadline
from numerics.channel import rate_inverse
from numerics.latency import drafting_time, per_token_latency, round_time
from numerics.simulate import faded_rate, sample_prefix, simulate
from proofs_check import ties
from theory.symbols import B, L, L_int, alpha, beta, eta, lam, rho, s, t, tau, theta, v1

ROOT = Path(__file__).resolve().parents[1]


def mpf_fn(expr, args):
    """The SymPy expression as an mpmath function; float arguments are made mpf first (a NumPy scalar
    times an mpf would round the product to float64)."""
    f = sp.lambdify(args, expr, "mpmath")

    def call(*xs):
        return f(*[mp.mpf(float(x)) if isinstance(x, (float, np.floating)) else x for x in xs])

    return call


def rel(x, ref) -> float:
    """Relative error of a float64 result x against an mpmath reference."""
    ref = mp.mpf(ref)
    return float(abs(mp.mpf(float(x)) - ref) / abs(ref)) if ref != 0 else abs(float(x))


def mrel(x, ref) -> float:
    """Relative difference of two mpmath values (both at the working precision)."""
    x, ref = mp.mpf(x), mp.mpf(ref)
    return float(abs(x - ref) / abs(ref)) if ref != 0 else float(abs(x))


# ------------------------------------------------------------------------- the table itself
def test_every_theory_entry_is_tied_or_has_a_reason():
    entries = ties.theory_entries()
    missing = [e for e in entries if not ties.covered(e)]
    assert not missing, "theory entries without a tie or a reason: " + ", ".join(missing)
    known = set(entries) | {e[: e.index("[")] + "[*]" for e in entries if e.endswith("]")}
    stale = sorted({r.entry for r in ties.TIES} - known)
    assert not stale, f"rows for entries theory no longer has: {stale}"
    # every tie required by issue 11 is a tie, not a reason
    required = ["theory.heterogeneous.deadline_fill[draft_length]", "theory.heterogeneous.draft_capacity",
                "theory.homogeneous.quasi_concavity[phi]", "theory.homogeneous.share_derivatives[theta]",
                "theory.heterogeneous.equal_finish_shares[d_share_dT]", "theory.heterogeneous.kkt_share_slope[slope]",
                "theory.heterogeneous.capacity_derivatives[d2_capacity]", "theory.channel.rate_derivative",
                "theory.heterogeneous.tangent_bound[supremum]", "theory.fading.prefix_tail"]
    required += [f"theory.heterogeneous.kkt_closed_form[{k}]" for k in ("v", "kappa", "M", "beta", "draft_length")]
    required += [f"theory.heterogeneous.kkt_time_slack[{k}]" for k in ("w", "zeta", "log_M", "draft_length")]
    for e in required:
        assert any(r.numeric for r in ties.covered(e)), e


def test_numeric_paths_resolve_and_tests_exist():
    from proofs_check.registry import load_all

    claims = load_all()
    for row in ties.TIES:
        if row.numeric is None:
            assert len(row.reason) > 20, row
            continue
        assert callable(ties.resolve(row.numeric)), row.numeric
        path, _, name = row.test.partition("::")
        src = (ROOT / path).read_text()
        m = re.fullmatch(r"(\w+)(?:\[(.+)\])?", name)
        assert m and re.search(rf"^def {m.group(1)}\(", src, re.M), row.test
        if m.group(1) == "test_claim":
            assert m.group(2) in claims, row.test


def test_table_text_lists_every_row():
    text = ties.table_text()
    assert text.count("\n") >= len(ties.TIES) and "(no tie)" in text


def test_rows_are_well_formed():
    with pytest.raises(ValueError, match="either"):
        ties.Tie("theory.x.f", numeric="numerics:f")
    with pytest.raises(KeyError, match=r"no tie for 'theory\.nothing'"):
        ties.numeric_path("theory.nothing")


# ------------------------------------------------------------------------- tokens, channel, latency
ALPHAS = (1e-12, 1e-3, 0.3, 0.7, 0.9, 0.999, 1 - 1e-9)
LENGTHS = (0.0, 0.5, 1.0, 7.0, 100.0)


def test_tokens_alpha_derivative():
    f = mpf_fn(ttok.tokens_alpha_derivative(), (alpha, L))
    num = ties.resolve(ties.numeric_path("theory.tokens.tokens_alpha_derivative"))
    worst = 0.0
    with mp.workdps(50), np.errstate(over="ignore"):
        # (errstate: numerics.sensitivity evaluates 1/expm1(L y) with L y ~ 2800 at alpha = 1e-12,
        # L = 100; the overflow to inf gives the right 0, but warns: reported to i15-jax)
        for a_, L_ in itertools.product(ALPHAS, LENGTHS):
            worst = max(worst, rel(num(a_, L_), f(mp.mpf(a_), mp.mpf(L_))))
    # exp(L log alpha) carries |L log alpha| ulp: 100 * 28 * 2.2e-16 ~ 6e-13 at alpha = 1e-12, L = 100
    assert worst <= 1e-12, worst


SHARES = (1e-12, 1e-6, 1e-3, 0.1, 0.5, 1.0)


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_rate_terms_and_shannon_second_derivative(model):
    """(r, r', r'') as the heterogeneous solver evaluates them = theory.channel.rate_derivative(model, 0..2)."""
    ch = (0.1, 2.0, 1e3)
    sc = Scenario(alpha=[0.5] * 3, t_draft=0.01, bits_per_token=100.0, bandwidth_hz=3e5, v0=0.1, rate_model=model,
                  **({"spectral_efficiency": list(ch)} if model == "linear" else {"snr": list(ch)}))
    sym = eta if model == "linear" else rho
    fs = [mpf_fn(tch.rate(model) if k == 0 else tch.rate_derivative(model, k), (beta, B, sym)) for k in range(3)]
    with mp.workdps(40):
        for b in SHARES:
            got = ties.rate_terms(sc, np.full(3, b))
            for k in range(3):
                for u in range(3):
                    ref = fs[k](mp.mpf(b), mp.mpf(3e5), mp.mpf(ch[u]))
                    if ref == 0:
                        assert got[k][u] == 0
                    else:
                        assert rel(got[k][u], ref) <= 1e-13, (model, k, b, ch[u])


def test_shannon_reach_limit():
    """Rates below theory's supremum B rho / ln 2 are invertible, the supremum itself is not."""
    sup = mpf_fn(tch.shannon_rate_supremum(), (B, rho))
    for rho_ in (0.01, 1.0, 1e4):
        top = float(sup(mp.mpf(1e6), mp.mpf(rho_)))
        assert np.isfinite(rate_inverse("shannon", top * (1 - 1e-12), 1e6, rho_))
        with pytest.raises(ValueError, match="unreachable"):
            rate_inverse("shannon", top * (1 + 1e-15), 1e6, rho_)


def test_shannon_inverse_dense_grid_near_c_one():
    """rate_inverse near c = 1, dense grid, against theory's W_{-1} form at 50 digits.

    The code computes beta = c rho / u with u = -W_{-1}(-c e^{-c}) - c (the denominator of
    :func:`theory.channel.shannon_share_normalised`), u -> 0 as c -> 1 (u ~ 2 (1 - c)). Tolerance:
    ABSOLUTE on u, 4e-16. Reason: the code sees c rounded to float64 (the same float as below,
    same operations, so the reference uses that exact c); near c = 1 the map c -> u has slope
    du/dc -> -2, and the code evaluates u from 1 - c (exact for c in [0.5, 1], Sterbenz), so
    the only error is the round-off of its series/Newton evaluation of u, a few ulp of numbers
    of size <= 2 (1 - c) + u^2 ~ 1e-16 at most; 4e-16 (2 ulp of 1) bounds it on the whole grid
    while a relative bound would be meaningless where u ~ 1e-15.
    """
    norm = tch.shannon_share_normalised()
    cs = sp.Symbol("c", positive=True)
    u_expr = cs * rho / norm  # = -W_{-1}(-c e^{-c}) - c
    f = mpf_fn(u_expr, (cs, rho))
    Bw, rho_ = 1e6, 3.0
    one_minus = np.concatenate([np.geomspace(0.5, 1e-15, 1500), np.linspace(1e-3, 2e-3, 100)])
    r = (1 - one_minus) * Bw * rho_ / np.log(2)
    c_code = r * np.log(2) / (Bw * rho_)  # the float c the code sees
    ok = c_code < 1
    beta_ = rate_inverse("shannon", r[ok], Bw, rho_)
    u_code = c_code[ok] * rho_ / beta_
    worst = 0.0
    with mp.workdps(50):
        for cc, uu in zip(c_code[ok], u_code, strict=True):
            worst = max(worst, abs(float(mp.mpf(uu) - f(mp.mpf(cc), mp.mpf(rho_)))))
    assert worst <= 4e-16, worst


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_drafting_time(model):
    f = mpf_fn(tlat.drafting_time(model), (L, t, s, beta, B, eta if model == "linear" else rho))
    ch = [0.5, 3.0, 40.0]
    sc = Scenario(alpha=[0.5] * 3, t_draft=[0.0, 0.004, 0.03], bits_per_token=[0.0, 64.0, 3000.0], bandwidth_hz=2e5,
                  v0=0.1, rate_model=model, max_draft=50,
                  **({"spectral_efficiency": ch} if model == "linear" else {"snr": ch}))
    with mp.workdps(40):
        for Ls, b in itertools.product(([1, 7, 50], [0, 3, 12]), SHARES[1:]):
            got = drafting_time(sc, Ls, np.full(3, b))
            for k in range(3):
                ref = f(Ls[k], sc.t_draft[k], sc.bits_per_token[k], mp.mpf(b), 2e5, ch[k])
                assert (got[k] == 0 and ref == 0) or rel(got[k], ref) <= 1e-14


# ------------------------------------------------------------------------- homogeneous
def _scenario(seed, K, model="linear", **kw):
    rng = np.random.default_rng(seed)
    d = dict(alpha=rng.uniform(0.3, 0.95, K), t_draft=rng.uniform(5e-4, 8e-3, K),
             bits_per_token=rng.uniform(50, 1500, K), bandwidth_hz=5e5, v0=rng.uniform(0.01, 0.05),
             max_draft=40, rate_model=model)
    d["spectral_efficiency" if model == "linear" else "snr"] = rng.uniform(0.5, 20.0, K)
    d.update(kw)
    return Scenario(**d)


@pytest.mark.parametrize("model, batching", list(itertools.product(["linear", "shannon"], ["ragged", "padded"])))
def test_h1_decomposition(model, batching):
    """numerics' round time at a common L = L theta(beta) + rest, both from theory (H1), at any shares."""
    K = 3
    dec = thom.decomposition(K, model, batching)
    from theory.symbols import T_o, user_symbols, v0

    u = user_symbols(K)
    ch = u["eta" if model == "linear" else "rho"]
    args = [dec["L"], *u["t"], *u["s"], *dec["beta"], *ch, B, v0, v1, T_o]
    fT, frest, fth = (mpf_fn(dec[k], args) for k in ("round_time", "rest", "makespan"))
    rng = np.random.default_rng(7)
    for trial in range(6):
        sc = _scenario(trial, K, model, v1=float(rng.uniform(0, 1e-3)), overhead=0.002, batching=batching)
        beta_ = rng.dirichlet(np.ones(K))
        with mp.workdps(40):
            for L_ in (1, 4, 40):
                vals = [L_, *sc.t_draft, *sc.bits_per_token, *beta_, *sc.channel, sc.bandwidth_hz, sc.v0, sc.v1,
                        sc.overhead]
                assert rel(round_time(sc, np.full(K, L_), beta_), fT(*vals)) <= 1e-14
                th_ = fth(*vals)
                assert rel(np.max(per_token_latency(sc, beta_)), th_) <= 1e-14
                assert rel(round_time(sc, np.full(K, L_), beta_) - L_ * float(th_), frest(*vals)) <= 1e-12
        # the best shares do not depend on L: the equal-finish makespan scales with L
        b1, T1 = equal_finish_allocation(sc, np.ones(K))
        b7, T7 = equal_finish_allocation(sc, np.full(K, 7))
        assert np.allclose(b1, b7, rtol=1e-13, atol=0) and T7 == pytest.approx(7 * T1, rel=1e-13)


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_share_slope_in_the_deadline(model):
    """d beta/dT of the equal-finish Newton step = theory's (H3's d beta/d theta with t -> L t, s -> L s; D7)."""
    d_theta = thom.share_derivatives(model)["theta"][0]
    sp_s = next(x for x in d_theta.free_symbols if x.name == "s")
    sym = eta if model == "linear" else rho
    share = thom.share_for_theta(model)
    f_share = mpf_fn(share, (t, s, B, sym, theta))
    f_slope = mpf_fn(d_theta, (beta, t, sp_s, B, sym, theta))
    f_d7 = None
    if model == "linear":
        d7 = TH.equal_finish_shares()
        Lp = next(x for x in d7["d_share_dT"].free_symbols if x.name == "L")
        f_d7 = mpf_fn(d7["d_share_dT"], (Lp, TH.t_pos, TH.s_pos, eta, B, TH.T))
    rng = np.random.default_rng(3)
    Lk = np.array([1.0, 3.0, 8.0, 1.0])
    tk = np.array([0.0, 0.002, 0.001, 0.004])
    sk = np.array([50.0, 400.0, 1000.0, 10.0])
    ch = np.array([0.3, 2.0, 30.0, 1e3])
    Bw = 1e5
    c, d = Lk * tk, Lk * sk
    with mp.workdps(40):
        for _ in range(5):
            T = float(np.max(c) + rng.uniform(0.01, 0.5))
            b, slope = ties.deadline_slope(model, T, c, d, Bw, ch)
            for k in range(4):
                b_ref = f_share(c[k], d[k], Bw, ch[k], T)
                assert rel(b[k], b_ref) <= 1e-12
                ref = f_slope(b_ref, c[k], d[k], Bw, ch[k], T)
                assert rel(slope[k], ref) <= 1e-11, (model, k, slope[k], ref)
                if f_d7 is not None and tk[k] > 0:
                    assert rel(slope[k], f_d7(Lk[k], tk[k], sk[k], ch[k], Bw, T)) <= 1e-12


def test_h4_per_user_alpha_stationarity():
    """solve_homogeneous's continuous L for per-user alphas is the root of theory's phi = N' D - N c1 (H4)."""
    K = 3
    qc = thom.quasi_concavity(K)
    als = sorted([x for x in qc["phi"].free_symbols if x.name.startswith("alpha_")], key=lambda x: x.name)
    fphi = mpf_fn(qc["phi"], (*als, L, thom.c0, thom.c1))
    fN = mpf_fn(qc["N"], (*als, L))
    seen = 0
    for seed in range(12):
        sc = _scenario(100 + seed, K, ("linear", "shannon")[seed % 2], max_draft=200,
                       v1=(0.0, 2e-4)[seed % 3 == 0])
        sol = solve_homogeneous(sc)
        m = sol.multipliers
        Lc = m["L_continuous"]
        if m["L_method"] != "root" or not 1 < Lc < sc.max_draft:
            continue
        seen += 1
        with mp.workdps(40):
            a_ = [mp.mpf(x) for x in sc.alpha]
            c0, c1 = mp.mpf(m["c0"]), mp.mpf(m["c1"])
            scale = abs(fN(*a_, mp.mpf(Lc))) * c1
            # phi vanishes at Lc to round-off, changes sign across it (a maximum of N / D)
            assert abs(fphi(*a_, mp.mpf(Lc), c0, c1)) <= 1e-12 * scale
            assert fphi(*a_, mp.mpf(Lc) * (1 - 1e-6), c0, c1) > 0 > fphi(*a_, mp.mpf(Lc) * (1 + 1e-6), c0, c1)
            # N of theory = the sum the solver maximises (numerics.tokens.expected_tokens)
            from numerics import expected_tokens

            assert rel(np.sum(expected_tokens(sc.alpha, Lc)), fN(*a_, mp.mpf(Lc))) <= 1e-13
    assert seen >= 6, seen


@pytest.mark.parametrize("a_", [1e-6, 0.3, 0.8, 0.99, 1 - 1e-9])
@pytest.mark.parametrize("ratio", [1 + 1e-9, 1.5, 30.0, 1e4])
def test_h4_common_alpha_equation(a_, ratio):
    """stationary_length solves theory's alpha^(L+1) (1 - (L + c0/c1) ln alpha) = 1, and equals (1 - z)/ln a - c0/c1."""
    se = thom.stationarity_equation()
    oc = thom.optimal_common_length()
    c1v = 0.25
    Lo = float(ties.resolve(ties.numeric_path("theory.homogeneous.optimal_common_length[z]"))(a_, ratio * c1v, c1v))
    with mp.workdps(60):
        am, c0m, c1m = mp.mpf(a_), mp.mpf(ratio * c1v), mp.mpf(c1v)
        lhs = mpf_fn(se["equation_lhs"], (alpha, L, thom.c0, thom.c1))
        phi = mpf_fn(se["phi"], (alpha, L, thom.c0, thom.c1))
        arg = mpf_fn(oc["argument"], (alpha, thom.c0, thom.c1))(am, c0m, c1m)
        z = -mp.lambertw(arg, -1).real
        assert mrel(mpf_fn(oc["z"], (alpha, thom.c0, thom.c1))(am, c0m, c1m).real, z) <= 1e-40
        L_parts = (1 - z) / mp.log(am) - c0m / c1m
        # the float L° is a few ulp of max(|L°|, c0/c1) from the exact one (cancellation of the two terms)
        assert abs(Lo - L_parts) <= 1e-13 * max(abs(L_parts), c0m / c1m)
        assert abs(lhs(am, L_parts, c0m, c1m) - 1) <= mp.mpf(10) ** -40
        assert abs(phi(am, L_parts, c0m, c1m)) <= mp.mpf(10) ** -40 * c1m * max(1, abs(L_parts))


# ------------------------------------------------------------------------- heterogeneous
@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_capacity_derivatives(model):
    cd = TH.capacity_derivatives(model)
    sym = eta if model == "linear" else rho
    args = (beta, TH.t_pos, TH.s_pos, B, sym, tau)
    fs = [mpf_fn(cd[k], args) for k in ("capacity", "d_capacity", "d2_capacity", "generic_d2")]
    sc = _scenario(5, 4, model)
    with mp.workdps(40):
        for tau_, b in itertools.product((0.003, 0.05, 2.0), SHARES):
            got = ties.capacity_terms(sc, tau_, np.full(4, b))
            for k in range(4):
                vals = (mp.mpf(b), sc.t_draft[k], sc.bits_per_token[k], sc.bandwidth_hz, sc.channel[k], mp.mpf(tau_))
                refs = [f(*vals) for f in fs]
                assert mrel(refs[3], refs[2]) <= 1e-30  # the chain-rule form the numerics use = d2L/dbeta2
                for j in range(3):
                    assert rel(got[j][k], refs[j]) <= 1e-12, (model, j, tau_, b, k)


def _continuous(sc):
    sol = solve_heterogeneous(sc, integer=False)
    return sol, sol.multipliers["tau"], sol.multipliers["lambda"]


@pytest.mark.parametrize("seed, model", [(s_, m) for s_ in range(4) for m in ("linear", "shannon")])
def test_d1_and_d3_at_the_continuous_optimum(seed, model):
    """At solve_heterogeneous(integer=False) (v1 = 0): D1's fill, the capacity, and (linear) every D3 form."""
    K = 5
    sc = _scenario(30 + seed, K, model, max_draft=(8, 40)[seed % 2], t_draft=np.r_[0.004, 0.002, 0.0, 0.006, 0.001],
                   bits_per_token=np.r_[300.0, 0.0, 500.0, 900.0, 80.0])
    sol, tau_, lam_ = _continuous(sc)
    sym = eta if model == "linear" else rho
    d1 = TH.deadline_fill(model)
    f_fill = mpf_fn(d1["draft_length"], (TH.L_max, tau, t, s, beta, B, sym))
    f_h = mpf_fn(d1["per_token_latency"], (t, s, beta, B, sym))
    f_cap = mpf_fn(TH.draft_capacity(model), (beta, TH.t_pos, TH.s_pos, B, sym, tau))
    h_num = per_token_latency(sc, sol.bandwidth)
    checked = 0
    with mp.workdps(40):
        for k in range(K):
            bk, Lk = sol.bandwidth[k], sol.draft_lengths[k]
            if sc.bits_per_token[k] > 0 and bk == 0:
                continue  # a user left without band drafts nothing (L = 0)
            b_eval = mp.mpf(bk) if bk > 0 else mp.mpf(1)  # s = 0: the share does not enter h
            vals = (sc.t_draft[k], sc.bits_per_token[k], b_eval, sc.bandwidth_hz, sc.channel[k])
            assert rel(h_num[k], f_h(*vals)) <= 1e-14
            fill = f_fill(sc.max_draft, mp.mpf(tau_), *vals)
            assert abs(Lk - fill) <= 1e-9 * max(1.0, float(fill)), (k, Lk, fill)
            if sc.bits_per_token[k] > 0 and sc.t_draft[k] > 0 and Lk < sc.max_draft:
                cap = f_cap(mp.mpf(bk), sc.t_draft[k], sc.bits_per_token[k], sc.bandwidth_hz, sc.channel[k], tau_)
                assert rel(Lk, cap) <= 1e-9
            checked += 1
    assert checked >= 3
    if model != "linear":
        return
    cf = TH.kkt_closed_form()
    sl = TH.kkt_time_slack()
    md = TH.model_md_closed_form()
    base = (alpha, TH.t_pos, TH.s_pos, eta, B, tau, lam)
    v_of = mpf_fn(cf["v"].subs({TH.kappa: cf["kappa"], TH.M: cf["M"]}), base)
    f_kappa, f_M = mpf_fn(cf["kappa"], base), mpf_fn(cf["M"], base)
    f_vraw = mpf_fn(cf["v"], (TH.kappa, TH.M))
    f_beta = mpf_fn(cf["beta"], (TH.v, TH.t_pos, TH.s_pos, eta, B))
    f_L = mpf_fn(cf["draft_length"], (TH.v, TH.t_pos, TH.s_pos, tau))
    f_st = mpf_fn(cf["stationarity_v"], (TH.v, alpha, TH.t_pos, TH.s_pos, eta, B, tau))
    f_md = mpf_fn(md["v"], base)
    f_logM, f_zeta, f_w = (mpf_fn(sl[k], base) for k in ("log_M", "zeta", "w"))
    f_Lw = mpf_fn(sl["draft_length"], (TH.w, TH.t_pos, tau))
    f_slack = mpf_fn(sl["slack_of_v"], (TH.v, TH.s_pos, tau))
    n_d3 = 0
    with mp.workdps(50):
        for k in range(K):
            bk, Lk, tk, sk = sol.bandwidth[k], sol.draft_lengths[k], sc.t_draft[k], sc.bits_per_token[k]
            if not (bk > 0 and tk > 0 and sk > 0 and 0 < Lk < sc.max_draft):
                continue
            n_d3 += 1
            vals = (mp.mpf(sc.alpha[k]), tk, sk, sc.channel[k], sc.bandwidth_hz, mp.mpf(tau_), mp.mpf(lam_))
            v_ = v_of(*vals)
            assert mrel(f_vraw(f_kappa(*vals), f_M(*vals)), v_) <= 1e-40 and mrel(f_md(*vals), v_) <= 1e-40
            # at the solver's (tau, lambda), theory's v gives the solver's share and length
            assert rel(bk, f_beta(v_, tk, sk, sc.channel[k], sc.bandwidth_hz)) <= 1e-9
            assert rel(Lk, f_L(v_, tk, sk, tau_)) <= 1e-9
            assert mrel(lam_, f_st(v_, sc.alpha[k], tk, sk, sc.channel[k], sc.bandwidth_hz, tau_)) <= 1e-30
            # the slack form the numerics evaluate: log M, zeta, w = tau - t L = tau s v
            assert mrel(f_logM(*vals), mp.log(f_M(*vals))) <= 1e-40
            assert mrel(f_zeta(*vals), mp.log(f_kappa(*vals) * mp.sqrt(f_M(*vals)) / 2)) <= 1e-40
            w_ = f_w(*vals)
            assert mrel(w_, f_slack(v_, sk, tau_)) <= 1e-40
            assert rel(tau_ - tk * Lk, w_) <= 1e-8 and rel(Lk, f_Lw(w_, tk, tau_)) <= 1e-9
    assert n_d3 >= 1


def test_d3_free_drafting_at_the_continuous_optimum():
    """t = 0 users (linear rate): L = ln(lambda s (1-alpha)/(tau B eta (-ln alpha)))/ln(alpha) - 1 (D3, t = 0)."""
    fd = TH.kkt_closed_form_free_drafting()
    args = (alpha, TH.s_pos, eta, B, tau, lam)
    f_L, f_disp = mpf_fn(fd["draft_length"], args), mpf_fn(fd["displayed"], args)
    f_beta = mpf_fn(fd["beta"], (L, TH.s_pos, eta, B, tau))
    n = 0
    for seed in range(3):
        sc = _scenario(60 + seed, 4, t_draft=np.r_[0.0, 0.0, 0.003, 0.002], max_draft=60)
        sol, tau_, lam_ = _continuous(sc)
        with mp.workdps(40):
            for k in (0, 1):
                Lk = sol.draft_lengths[k]
                if not 0 < Lk < sc.max_draft:
                    continue
                vals = (mp.mpf(sc.alpha[k]), sc.bits_per_token[k], sc.channel[k], sc.bandwidth_hz, mp.mpf(tau_),
                        mp.mpf(lam_))
                assert abs(Lk - f_L(*vals)) <= 1e-9 * max(1, Lk) and abs(Lk - f_disp(*vals)) <= 1e-9 * max(1, Lk)
                assert rel(sol.bandwidth[k], f_beta(mp.mpf(Lk), sc.bits_per_token[k], sc.channel[k],
                                                    sc.bandwidth_hz, tau_)) <= 1e-12
                n += 1
    assert n >= 2


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_share_slope_in_the_multiplier(model):
    """d beta/d lambda of the D3 best response = 1 / S'(beta) of theory (S: the stationarity)."""
    ks = TH.kkt_share_slope(model)
    sym = eta if model == "linear" else rho
    args = (beta, alpha, TH.t_pos, TH.s_pos, B, sym, tau)
    f_S, f_slope = mpf_fn(ks["stationarity"], args), mpf_fn(ks["slope"], args)
    sc = _scenario(9, 6, model, max_draft=10_000)
    n = 0
    for tau_, lam_ in ((0.01, 0.5), (0.05, 3.0), (0.2, 40.0)):
        b, Lr, db = ties.inner_response(sc, tau_, lam_)
        with mp.workdps(40):
            for k in range(6):
                if not (b[k] > 0 and Lr[k] < sc.max_draft):
                    continue
                vals = (mp.mpf(b[k]), sc.alpha[k], sc.t_draft[k], sc.bits_per_token[k], sc.bandwidth_hz,
                        sc.channel[k], tau_)
                assert rel(lam_, f_S(*vals)) <= 1e-10, (model, k)
                assert rel(db[k], f_slope(*vals)) <= 1e-8, (model, k, db[k], f_slope(*vals))
                n += 1
    assert n >= 6


def test_envelope_derivative():
    """D5: F'(tau) from the solver's dual = sum_k of theory's A'(L_k) L_k / tau (every user uncapped, uploading)."""
    env = TH.envelope_derivative()
    args = (alpha, beta, TH.t_pos, TH.s_pos, eta, B, tau)
    f_env, f_part = mpf_fn(env["envelope_form"], args), mpf_fn(env["partial_tau"], args)
    for seed in range(3):
        sc = _scenario(70 + seed, 5, max_draft=10_000)
        for tau_ in (0.005, 0.03):
            Dt, sol = ties.envelope_slope(sc, tau_)
            assert abs(np.sum(sol.beta) - 1) <= 1e-13 and not sol.capped.any()
            with mp.workdps(40):
                vals = [(sc.alpha[k], mp.mpf(sol.beta[k]), sc.t_draft[k], sc.bits_per_token[k], sc.channel[k],
                         sc.bandwidth_hz, tau_) for k in range(5)]
                ref = mp.fsum(f_env(*v) for v in vals)
                assert mrel(mp.fsum(f_part(*v) for v in vals), ref) <= 1e-30
            assert rel(Dt, ref) <= 1e-9


def test_certificate_corner_formula():
    """The certificate's sup over tau >= 0, 0 <= n <= n_max of the tangent ratio = theory's corner Max; a dense
    grid of the ratio never exceeds it and reaches it (up to the grid's spacing)."""
    tb = TH.tangent_bound()
    p_, d_, m_ = tb["symbols"]
    args = (p_, d_, m_, v1, TH.c, tb["n_max"])
    f_sup = mpf_fn(tb["supremum"], args)
    f_ratio = mpf_fn(tb["ratio"], (p_, d_, m_, v1, TH.c, tau, tb["n"]))
    rng = np.random.default_rng(11)
    cases = [(3.0, 10.0, 0.0, 0.0, 0.05, 40.0), (3.0, 1.0, 0.0, 0.0, 0.05, 40.0), (1.0, 2.0, 0.5, 1e-3, 0.1, 80.0),
             (5.0, -1.0, 0.2, 2e-3, 0.2, 100.0), (0.5, 30.0, 3.0, 1e-4, 0.02, 500.0)]
    cases += [tuple(float(x) for x in (rng.uniform(0.1, 10), rng.uniform(-5, 50), rng.uniform(0, 5),
                                       rng.uniform(0, 5e-3), rng.uniform(0.01, 0.3), rng.integers(1, 1000)))
              for _ in range(20)]
    taus = np.concatenate([[0.0], np.geomspace(1e-6, 1e8, 400)])
    for p, d, m, w, c, nmax in cases:
        with mp.workdps(30):
            ref = f_sup(p, d, m, w, c, nmax)
            grid = max(f_ratio(p, d, m, w, c, x, n) for x in taus for n in (0.0, nmax / 2, nmax))
        got = ties.corner_supremum(p, d, m, w, c, nmax)
        assert rel(got, ref) <= 1e-14, (p, d, m, w, c, nmax)
        assert grid <= ref * (1 + 1e-14) and grid >= ref * (1 - 1e-6)


def test_d6_stop_short_at_the_continuous_optimum():
    """Free-drafting users (t = s = 0) stop where A'(L) = g v1: theory's solve root and MODEL.md's form (D6)."""
    dk = TH.dinkelbach_stop_short()
    f_L, f_md = mpf_fn(dk["draft_length"], (alpha, TH.g, v1)), mpf_fn(dk["model_md"], (alpha, TH.g, v1))
    n = 0
    for seed, v1_ in enumerate((5e-4, 2e-3, 1e-2)):
        sc = _scenario(80 + seed, 4, v1=v1_, t_draft=[0.0, 0.0, 0.002, 0.003], bits_per_token=[0.0, 0.0, 100.0, 100.0],
                       alpha=[0.6, 0.9, 0.7, 0.8], max_draft=60)
        sol = solve_heterogeneous(sc, integer=False)
        g_ = sol.multipliers["dinkelbach_ratio"]
        with mp.workdps(40):
            for k in (0, 1):
                ref = min(max(float(f_L(sc.alpha[k], g_, v1_)), 0.0), sc.max_draft)
                assert abs(sol.draft_lengths[k] - ref) <= 1e-9 * max(1, ref)
                assert mrel(f_md(sc.alpha[k], g_, v1_), f_L(sc.alpha[k], g_, v1_)) <= 1e-30
                n += 0 < ref < sc.max_draft
    assert n >= 3


def test_d7_equal_finish_share():
    d7 = TH.equal_finish_shares()
    Lp = next(x for x in d7["share"].free_symbols if x.name == "L")
    f = mpf_fn(d7["share"], (Lp, TH.t_pos, TH.s_pos, eta, B, TH.T))
    sc = Scenario(alpha=[0.8, 0.7, 0.6], t_draft=[0.002, 0.003, 0.001], bits_per_token=[300.0, 600.0, 100.0],
                  bandwidth_hz=1e5, spectral_efficiency=[1.0, 2.0, 3.0], v0=0.02, max_draft=1000)
    with mp.workdps(40):
        for Lv, T_ in (([3.0, 2.0, 5.0], 0.5), ([1.0, 1.0, 1.0], 0.0031), ([1000.0, 1.0, 40.0], 3.0000001)):
            got = share_for_deadline(sc, Lv, T_)
            for k in range(3):
                assert rel(got[k], f(Lv[k], sc.t_draft[k], sc.bits_per_token[k], sc.channel[k], 1e5, T_)) <= 1e-12


# ------------------------------------------------------------------------- fading (the simulator)
@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_faded_rate(model):
    sym = eta if model == "linear" else rho
    f = mpf_fn(tfd.faded_rate(model), (beta, B, sym, tfd.g))
    with mp.workdps(40):
        for b, ch, gain in itertools.product((1e-6, 0.3, 1.0), (0.05, 2.0, 30.0), (1e-12, 0.1, 1.0, 7.0, 60.0)):
            got = faded_rate(model, b, 1e6, ch, gain)
            assert rel(got, f(mp.mpf(b), 1e6, ch, mp.mpf(gain))) <= 1e-13, (model, b, ch, gain)


def _fading_case(model):
    ch = [1.5, 0.7, 3.0] if model == "linear" else [20.0, 3.0, 300.0]
    sc = Scenario(alpha=[0.8, 0.6, 0.9], t_draft=[0.002, 0.004, 0.0], bits_per_token=[400.0, 200.0, 800.0],
                  bandwidth_hz=2e5, v0=0.02, v1=1e-4, overhead=0.001, rate_model=model, max_draft=8,
                  **({"spectral_efficiency": ch} if model == "linear" else {"snr": ch}))
    L_ = np.array([6, 3, 8])
    b_, _ = equal_finish_allocation(sc, L_)
    return sc, L_, b_


def _law(model, sc, L_, b_, D_):
    """Per user: (E[tokens], E[m], tail P(m >= j) for j = 1..L) from theory.fading, at 40 digits."""
    sym = eta if model == "linear" else rho
    args = (alpha, L_int, t, s, beta, B, sym, tfd.D)
    f_tok = mpf_fn(tfd.expected_tokens_faded(model).doit(), args)
    f_m = mpf_fn(tfd.expected_delivered(model).doit(), args)
    out = []
    for k in range(sc.n_users):
        vals = (sc.alpha[k], int(L_[k]), sc.t_draft[k], sc.bits_per_token[k], mp.mpf(b_[k]), sc.bandwidth_hz,
                sc.channel[k], mp.mpf(D_))
        out.append((f_tok(*vals), f_m(*vals)))
    return out


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_fading_prefix_law(model):
    """theory.fading's law of the delivered prefix against (a) quadrature over g ~ Exp(1) of the simulator's
    own m(g) = min(L, floor((D - L t) r(g)/s)), (b) the simulator's per-user token means (Monte Carlo)."""
    sc, L_, b_ = _fading_case(model)
    factor = 1.25
    D_ = factor * float(np.max(drafting_time(sc, L_, b_)))
    with mp.workdps(40):
        law = _law(model, sc, L_, b_, D_)
    # (a) E over g ~ Exp(1) by the midpoint rule in u = e^{-g} on 2e6 cells: the integrand is a step
    # function of g with at most L jumps, each cell containing a jump errs by at most (L+1)/n
    n = 2_000_000
    u = (np.arange(n) + 0.5) / n
    gain = -np.log(u)
    from numerics import expected_tokens

    for k in range(sc.n_users):
        r = faded_rate(sc.rate_model, b_[k], sc.bandwidth_hz, sc.channel[k], gain)
        m = np.minimum(L_[k], np.floor((D_ - L_[k] * sc.t_draft[k]) * r / sc.bits_per_token[k]))
        quad_tok = float(np.mean(expected_tokens(sc.alpha[k], m)))
        quad_m = float(np.mean(m))
        tol = 2 * (L_[k] + 1) * (L_[k] + 1) / n  # jumps x jump size / n, doubled
        assert abs(quad_tok - float(law[k][0])) <= tol, (k, quad_tok, law[k][0])
        assert abs(quad_m - float(law[k][1])) <= tol
    # (b) Monte Carlo: the simulator's mean tokens per user within 5 standard errors of the law
    res = simulate(sc, (L_, b_), rounds=40_000, seed=5, fading=True, deadline_factor=factor)
    for k in range(sc.n_users):
        se = (L_[k] + 1) / 2 / np.sqrt(40_000)  # tokens in [1, L + 1]: sd <= (L + 1)/2
        assert abs(res.tokens_per_user[k] - float(law[k][0])) <= 5 * se, (k, res.tokens_per_user[k], law[k][0])
    # the tail alpha^j of the accepted prefix, on a deterministic grid of uniforms
    Ug = 1.0 - (np.arange(100_000) + 0.5) / 100_000
    tail = tfd.accepted_tail()
    for a_ in (0.3, 0.9):
        Nj = sample_prefix(np.array([a_]), np.array([8]), Ug[:, None])[:, 0]
        for jj in range(1, 9):
            ref = float(tail.subs({alpha: a_, tfd.j: jj}))
            assert abs(np.mean(Nj >= jj) - ref) <= 2e-5


@pytest.mark.parametrize("model, batching", [("linear", "ragged"), ("shannon", "padded")])
def test_fading_goodput_against_quadrature(model, batching):
    """The simulator's fading goodput against E[tokens] / E[round time] computed from theory.fading:
    E[min(max_k finish_k, D)] = int_0^D (1 - prod_k P(finish_k <= x)) dx by SciPy quadrature (to 1e-10,
    far below the Monte Carlo interval), the batch from E[m_k] (ragged) or
    E[max_k m_k] = sum_j (1 - prod_k P(m_k < j)) (padded)."""
    from scipy.integrate import quad

    sc, L_, b_ = _fading_case(model)
    sc = sc.replace(batching=batching)
    factor = 1.25
    D_ = factor * float(np.max(drafting_time(sc, L_, b_)))
    sym = eta if model == "linear" else rho
    f_cdf = sp.lambdify((L_int, t, s, beta, B, sym, tfd.x), tfd.finish_time_cdf(model), "numpy")
    f_tail = sp.lambdify((tfd.j, L_int, t, s, beta, B, sym, tfd.D), tfd.prefix_tail(model), "numpy")
    K = sc.n_users
    with mp.workdps(30):
        law = _law(model, sc, L_, b_, D_)
    lt = L_ * sc.t_draft

    def surv(x):  # 2^(L s / (B beta (x - L t))) overflows to inf as x -> L t: the cdf is then 0, rightly
        with np.errstate(over="ignore"):
            F = [f_cdf(int(L_[k]), sc.t_draft[k], sc.bits_per_token[k], b_[k], sc.bandwidth_hz, sc.channel[k], x)
                 if x > lt[k] else 0.0 for k in range(K)]
        return 1.0 - float(np.prod(F))

    knots = sorted({float(v) for v in lt if 0 < v < D_})
    E_draft, err = quad(surv, 0.0, D_, points=knots or None, epsabs=0, epsrel=1e-11, limit=200)
    assert err <= 1e-9 * E_draft
    E_tok = float(sum(x[0] for x in law))
    if batching == "ragged":
        E_n = float(sum(x[1] + 1 for x in law))
    else:
        def tail(k, jj):
            return f_tail(jj, int(L_[k]), sc.t_draft[k], sc.bits_per_token[k], b_[k], sc.bandwidth_hz, sc.channel[k],
                          D_) if jj <= L_[k] else 0.0
        E_max = sum(1 - np.prod([1 - tail(k, jj) for k in range(K)]) for jj in range(1, int(L_.max()) + 1))
        E_n = K * (E_max + 1)
    G_ref = E_tok / (E_draft + sc.v0 + sc.v1 * E_n + sc.overhead)
    res = simulate(sc, (L_, b_), rounds=60_000, seed=11, fading=True, deadline_factor=factor, confidence=0.999)
    assert res.truncated_fraction > 0.05  # the deadline binds: the truncated-prefix path is exercised
    assert res.contains(G_ref), (res.goodput, G_ref, res.half_width)
    # the interval is narrow enough to see a 1% error in the law
    assert res.half_width < 0.01 * G_ref


def test_multispin_check_ties(capsys):
    from numerics.cli import main

    assert main(["check", "--ties"]) == 0
    out = capsys.readouterr().out
    assert "theory.heterogeneous.kkt_closed_form[beta]" in out and "with a reason instead" in out
