"""Every theory expression of the core, lambdified, against the numerics (grids including the edges).

The SymPy expressions are evaluated with mpmath (``lambdify(..., 'mpmath')``) at 50 digits or
more, so that the closed forms, which cancel in float64 near alpha = 1 and alpha = 0, are exact
references; at the edges alpha in {0, 1} the theory limits are used.
"""

import itertools

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import numerics
from numerics import channel as nch
from numerics import latency as nlat
from theory import channel as tch
from theory import latency as tlat
from theory import tokens as ttok
from theory.symbols import B, L, L_int, T_o, a, alpha, beta, eta, n, n_batch, r, rho, s, t, user_symbols, v0, v1

ALPHAS = (1e-300, 1e-12, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-9, 1 - 1e-12)
LENGTHS = (0.0, 0.5, 1.0, 2.0, 7.0, 100.0, 1e4)


TINY = np.finfo(float).tiny


def rel(x, ref):
    """Relative error against an mpmath reference; below the normal range: 0 if within TINY, else inf."""
    ref = mp.mpf(ref)
    if abs(ref) < TINY:  # float64 holds no relative precision there (underflow to 0 or subnormal)
        return 0.0 if abs(mp.mpf(float(x)) - ref) <= TINY else float("inf")
    return float(abs(mp.mpf(float(x)) - ref) / abs(ref))


def mp_fn(expr, args):
    return sp.lambdify(args, expr, "mpmath")


# ---------------------------------------------------------------- tokens
@pytest.mark.parametrize("name", ["expected_tokens", "expected_accepted", "marginal_tokens"])
def test_token_expressions_on_grid(name):
    f = mp_fn(getattr(ttok, name)(), (alpha, L))
    num = getattr(numerics, name)
    worst = 0.0
    with mp.workdps(50):
        for al, Ln in itertools.product(ALPHAS, LENGTHS):
            worst = max(worst, rel(num(al, Ln), f(mp.mpf(al), mp.mpf(Ln))))
    assert worst <= 1e-13, worst


def test_token_limits_at_the_edges():
    Ls = np.array(LENGTHS)
    A0 = np.full_like(Ls, float(ttok.tokens_limit(0)))
    A1 = sp.lambdify(L, ttok.tokens_limit(1), "numpy")(Ls)
    N1 = sp.lambdify(L, ttok.expected_accepted_at_one(), "numpy")(Ls)
    assert np.array_equal(numerics.expected_tokens(0.0, Ls), A0)
    assert np.array_equal(numerics.expected_tokens(1.0, Ls), A1)
    assert np.array_equal(numerics.expected_accepted(1.0, Ls), N1)
    # A'(L) at the edges: lim_{alpha->0} = 0, lim_{alpha->1} = 1
    assert float(sp.limit(ttok.marginal_tokens(), alpha, 0, "+")) == numerics.marginal_tokens(0.0, 3.0) == 0.0
    assert float(sp.limit(ttok.marginal_tokens(), alpha, 1, "-")) == numerics.marginal_tokens(1.0, 3.0) == 1.0


def test_numpy_lambdified_form_where_well_conditioned():
    """Away from alpha = 0, 1 the lambdified float64 closed form itself agrees with the numerics."""
    f = sp.lambdify((alpha, L), ttok.expected_tokens(), "numpy")
    al = np.linspace(0.05, 0.95, 19)[:, None]
    Ls = np.linspace(0, 100, 41)[None, :]
    assert np.allclose(f(al, Ls), numerics.expected_tokens(al, Ls), rtol=1e-13, atol=0)


def test_variance_expression_on_grid():
    f = mp_fn(ttok.accepted_variance(), (alpha, L))
    worst = 0.0
    with mp.workdps(80):  # the closed form cancels ~30 digits at alpha = 1 - 1e-12, L = 1e4
        for al, Ln in itertools.product(ALPHAS, (0, 1, 2, 7, 100, 10_000)):
            worst = max(worst, rel(numerics.accepted_variance(al, Ln), f(mp.mpf(al), mp.mpf(Ln))))
    assert worst <= 1e-13, worst
    lim = [sp.limit(ttok.accepted_variance(), alpha, e, d) for e, d in ((0, "+"), (1, "-"))]
    assert lim == [0, 0] and numerics.accepted_variance(0.0, 5) == numerics.accepted_variance(1.0, 5) == 0


def test_pmf_expression():
    f = mp_fn(ttok.accepted_pmf(), (alpha, n, L_int))
    with mp.workdps(50):
        for al, Ln in itertools.product((1e-300, 0.3, 1 - 1e-12), (0, 1, 7, 60)):
            ref = [f(mp.mpf(al), m, Ln) for m in range(Ln + 1)]
            got = numerics.accepted_pmf(al, Ln)
            assert max(rel(g, x) for g, x in zip(got, ref, strict=True)) <= 1e-13
    assert np.array_equal(numerics.accepted_pmf(0.0, 3), [1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("length", range(7))
def test_positional_expression(length):
    prof = np.random.default_rng(length).uniform(0, 1, max(length, 1))
    expr = ttok.expected_tokens_positional(length)
    ref = float(expr.subs({a[m + 1]: sp.Float(prof[m], 30) for m in range(length)}))
    assert numerics.expected_tokens_positional(prof, length) == pytest.approx(ref, rel=1e-15)
    # and with the edges of the profile: zeros and ones
    edge = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])[:max(length, 1)]
    ref = float(expr.subs({a[m + 1]: int(edge[m]) for m in range(length)}))
    assert numerics.expected_tokens_positional(edge, length) == ref


# ---------------------------------------------------------------- channel
SHARES = np.concatenate([[0.0, 1e-300, 1e-12], np.geomspace(1e-6, 1, 13)])
CHANNELS = (0.1, 1.0, 10.0, 1e4)


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_rate_and_derivative(model):
    ch = eta if model == "linear" else rho
    f = mp_fn(tch.rate(model), (beta, B, ch))
    d = mp_fn(tch.rate_derivative(model), (beta, B, ch))
    with mp.workdps(50):
        for b, c_ in itertools.product(SHARES[1:], CHANNELS):
            assert rel(nch.rate(model, b, 2e6, c_), f(mp.mpf(b), 2e6, mp.mpf(c_))) <= 1e-14
            assert rel(nch.rate_derivative(model, b, 2e6, c_), d(mp.mpf(b), 2e6, mp.mpf(c_))) <= 1e-13
    assert sp.limit(tch.rate(model), beta, 0, "+") == 0 and nch.rate(model, 0.0, 2e6, 3.0) == 0.0


def test_linear_inverse_expression():
    f = sp.lambdify((r, B, eta), tch.linear_share_for_rate(), "numpy")
    rr = np.geomspace(1e-3, 1e9, 25)
    assert np.allclose(nch.rate_inverse("linear", rr, 2e6, 3.0), f(rr, 2e6, 3.0), rtol=1e-15, atol=0)


def test_shannon_inverse_expression():
    """numerics.rate_inverse against theory.shannon_share_for_rate (solve-derived, W_{-1}) at 50 digits."""
    f = mp_fn(tch.shannon_share_for_rate(), (r, B, rho))
    worst = 0.0
    with mp.workdps(50):
        for rho_ in (0.1, 1.0, 1e4):
            sup = 2e6 * rho_ / np.log(2)
            for frac in np.concatenate([[1e-300, 1e-12], np.linspace(0.01, 0.99, 25), [1 - 1e-6, 1 - 1e-10]]):
                rr = float(frac * sup)
                got = nch.rate_inverse("shannon", rr, 2e6, rho_)
                ref = f(mp.mpf(rr), mp.mpf(2e6), mp.mpf(rho_))
                c_exact = mp.mpf(rr) * mp.log(2) / (2e6 * mp.mpf(rho_))
                # c is rounded to float64 in the code (a few ulp); beta's condition number in c is
                # about 1/(1 - c), so the error allowed is 1e-15 / (1 - c)
                worst = max(worst, rel(got, ref) * float(1 - c_exact))
    assert worst <= 1e-15, worst


# ---------------------------------------------------------------- latency
@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_per_token_latency_expression(model):
    ch = eta if model == "linear" else rho
    f = mp_fn(tlat.per_token_latency(model), (t, s, beta, B, ch))
    kw = {"spectral_efficiency": list(CHANNELS)} if model == "linear" else {"snr": list(CHANNELS)}
    sc = numerics.Scenario(alpha=0.5, t_draft=[0.0, 0.01, 0.02, 0.5], bits_per_token=[0.0, 1.0, 64.0, 1e4],
                           bandwidth_hz=2e6, v0=0.1, rate_model=model, **kw)
    with mp.workdps(50):
        for b in SHARES[1:]:
            got = nlat.per_token_latency(sc, np.full(4, b))
            for k in range(4):
                ref = f(sc.t_draft[k], sc.bits_per_token[k], mp.mpf(b), 2e6, CHANNELS[k])
                assert rel(got[k], ref) <= 1e-14


def test_verification_latency_expression():
    f = sp.lambdify((v0, v1, n_batch), tlat.verification_latency(), "numpy")
    sc = numerics.Scenario(alpha=[0.5] * 3, t_draft=0.01, bits_per_token=1.0, bandwidth_hz=1.0,
                           spectral_efficiency=1.0, v0=0.07, v1=0.003, max_draft=10)
    for bat in ("ragged", "padded"):
        u = user_symbols(3)
        nb = sp.lambdify([u["L"]], tlat.batch_size(3, bat), "numpy")
        for Ls in ([0, 0, 0], [1, 5, 10], [10, 10, 10]):
            sc_b = sc.replace(batching=bat)
            assert nlat.batch_size(sc_b, Ls) == nb(Ls)
            assert nlat.verification_latency(sc_b, Ls) == pytest.approx(f(0.07, 0.003, nb(Ls)), rel=1e-15)


_MODELS_BATCHINGS = list(itertools.product(["linear", "shannon"], ["ragged", "padded"]))


@pytest.mark.parametrize("seed, model, bat", [(i, m, b) for i, (m, b) in enumerate(_MODELS_BATCHINGS)])
def test_round_time_and_goodput_expressions(seed, model, bat):
    rng = np.random.default_rng(seed)
    K = 3
    u = user_symbols(K)
    args = [u["alpha"], u["L"], u["t"], u["s"], u["beta"], u["eta" if model == "linear" else "rho"], B, v0, v1, T_o]
    fT = mp_fn(tlat.round_time(K, model, bat), args)
    fG = mp_fn(tlat.goodput(K, model, bat), args)
    cases = [  # edges: L = 0 with no band, s = 0, t = 0, alpha near 0 and 1, a tiny share
        dict(alpha=[1e-300, 0.5, 1 - 1e-12], L=[0, 3, 12], t=[0.0, 0.01, 0.02], s=[64.0, 0.0, 32.0],
             beta=[0.0, 0.0, 1.0]),
        dict(alpha=[0.9, 0.2, 0.6], L=[12, 12, 1], t=[0.01, 0.0, 0.03], s=[8.0, 1e4, 1.0],
             beta=[1e-6, 0.7, 0.3 - 1e-6]),
    ] + [dict(alpha=rng.uniform(0, 0.99, K), L=rng.integers(0, 13, K), t=rng.uniform(0, 0.05, K),
              s=rng.uniform(1, 1e3, K), beta=rng.dirichlet(np.ones(K))) for _ in range(6)]
    for cs in cases:
        ch = [0.5, 2.0, 6.0] if model == "linear" else [0.1, 10.0, 1e4]
        sc = numerics.Scenario(alpha=cs["alpha"], t_draft=cs["t"], bits_per_token=cs["s"], bandwidth_hz=1e5,
                               v0=0.05, v1=2e-4, overhead=0.003, rate_model=model, batching=bat, max_draft=12,
                               **({"spectral_efficiency": ch} if model == "linear" else {"snr": ch}))
        # a user without band contributes 0 to the theory max through L = 0 only if its share is
        # positive in the expression: give it a dummy share (its term is L_k h_k = 0 anyway)
        beta_sym = [b if b > 0 else 1.0 for b in cs["beta"]]
        vals = [list(cs["alpha"]), list(cs["L"]), list(cs["t"]), list(cs["s"]), beta_sym, ch, 1e5, 0.05, 2e-4, 0.003]
        with mp.workdps(50):
            vals[0] = [mp.mpf(x) for x in vals[0]]
            assert rel(nlat.round_time(sc, cs["L"], cs["beta"]), fT(*vals)) <= 1e-14
            assert rel(nlat.goodput(sc, cs["L"], cs["beta"]), fG(*vals)) <= 1e-14


# ---------------------------------------------------------------- bad input to the theory functions
def test_theory_raises():
    from theory.symbols import in_unit_interval, q

    with pytest.raises(ValueError, match=r"via must be a positive symbol, got x with is_positive=None"):
        in_unit_interval(alpha, via=sp.Symbol("x"))
    assert in_unit_interval(alpha, via=q) == 1 / (1 + q)
    with pytest.raises(ValueError, match=r"n_users must be an integer >= 1, got 0"):
        user_symbols(0)
    with pytest.raises(ValueError, match=r"at must be 0 or 1, got 2"):
        ttok.tokens_limit(2)
    for fn in (ttok.expected_tokens_polynomial, ttok.expected_tokens_positional, ttok.expected_tokens_tail_sum):
        with pytest.raises(ValueError, match=r"length must be an integer >= 0, got -1"):
            fn(-1)
    with pytest.raises(ValueError, match=r"rate_model must be one of \('linear', 'shannon'\), got 'cubic'"):
        tch.rate("cubic")
    with pytest.raises(ValueError, match=r"n_users must be an integer >= 1, got 1.5"):
        tlat.batch_size(1.5, "ragged")
    with pytest.raises(ValueError, match=r"batching must be one of \('ragged', 'padded'\), got 'dense'"):
        tlat.round_time(2, "linear", "dense")


def test_shannon_solve_unexpected_solutions(monkeypatch):
    """The derivation stops if solve() ever returns other than the one root it is known to return."""
    tch.shannon_share_for_rate_principal.cache_clear()
    monkeypatch.setattr(tch.sp, "solve", lambda *args, **kw: [sp.Integer(1), sp.Integer(2)])
    try:
        with pytest.raises(ValueError, match=r"expected one solution from solve, got \[1, 2\]"):
            tch.shannon_share_for_rate_principal()
    finally:
        tch.shannon_share_for_rate_principal.cache_clear()
