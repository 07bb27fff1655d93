"""The ingredient facts of MODEL.md section 2: token law, rate models, latency.

Every claim has a numeric check on seeded random instances plus adversarial ones (alpha at 0,
1e-300, within 1e-12 of 1; draft lengths 0 and 10^4; shares near 0; c near 1), and a symbolic
check where SymPy decides. References are independent of the code under test: mpmath at 50
digits by direct summation, brute-force enumeration, finite differences, SymPy expressions
lambdified.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import sympy as sp

import numerics
from numerics import channel as nch
from theory import channel as tch, latency as tlat, tokens as ttok
from theory.symbols import B, L, T_o, a, alpha, c, r, rho, user_symbols, v0, v1

from .registry import claim

#: adversarial acceptance probabilities (MODEL.md sec. 2: accurate within 1e-12 of 0 and 1)
EDGE_ALPHAS = (0.0, 1e-300, 1e-12, 0.5, 1 - 1e-9, 1 - 1e-12)
EDGE_LENGTHS = (0, 1, 2, 7, 100, 10_000)
DPS = 50


def _alphas_lengths(seed: int, n: int = 40) -> list[tuple[float, int]]:
    """Random (alpha, L) pairs (alpha uniform and log-close to 0 and 1) plus the edge grid."""
    rng = np.random.default_rng(seed)
    al = np.concatenate([rng.uniform(0, 1, n // 2), 10.0 ** -rng.uniform(1, 15, n // 4),
                         1 - 10.0 ** -rng.uniform(1, 15, n // 4)])
    Ls = rng.integers(0, 200, al.size)
    return [(float(x), int(y)) for x, y in zip(al, Ls)] + list(itertools.product(EDGE_ALPHAS, EDGE_LENGTHS))


def _mp_pmf(alpha_: float, L_: int) -> list:
    """The truncated geometric pmf at mpmath precision (direct powers)."""
    am = mp.mpf(alpha_)
    return [am**m * (1 - am) for m in range(L_)] + [am**L_]


def _rel(x, ref) -> float:
    ref = mp.mpf(ref)
    return float(abs(mp.mpf(float(x)) - ref) / abs(ref)) if ref != 0 else abs(float(x))


# ------------------------------------------------------------------------- token law
def _sym_pmf() -> str:
    total = ttok.pmf_total()
    assert total == 1, f"sum of the pmf is {total}"
    return "sum_n P(N=n) = 1 by SymPy summation"


@claim("tokens-pmf", "P(N=n) = alpha^n (1-alpha) (n<L), alpha^L (n=L) is a probability law", symbolic=_sym_pmf)
def _num_pmf() -> str:
    worst = 0.0
    for al, Ln in _alphas_lengths(1):
        p = numerics.accepted_pmf(al, Ln)
        assert p.shape == (Ln + 1,) and np.all(p >= 0) and np.all(np.isfinite(p)), (al, Ln)
        worst = max(worst, abs(float(np.sum(p)) - 1.0) / (Ln + 1))
    assert worst <= 2.3e-16, f"|sum - 1| / (L + 1) = {worst:.2e}"  # one rounding per term
    return f"max |sum - 1|/(L+1) = {worst:.1e}"


def _sym_mean() -> str:
    # the derived A at integer L against the direct sum of the pmf, exactly (rational alpha)
    for Ln in range(6):
        al = sp.Rational(3, 7)
        direct = 1 + sum(m * al**m * (1 - al) for m in range(Ln)) + Ln * al**Ln
        assert sp.nsimplify(ttok.expected_tokens().subs({alpha: al, L: Ln})) == direct, Ln
        assert sp.nsimplify(ttok.expected_accepted().subs({alpha: al, L: Ln})) == direct - 1, Ln
    EN = ttok.expected_accepted()
    assert sp.simplify(EN - alpha * (1 - alpha**L) / (1 - alpha)) == 0, EN
    A = ttok.expected_tokens()
    assert sp.simplify(A - (1 - alpha ** (L + 1)) / (1 - alpha)) == 0, A
    return "E[N] and A derived by summation equal the MODEL.md closed forms"


@claim("tokens-mean", "E[N] = alpha (1-alpha^L)/(1-alpha), A = E[N] + 1 = (1-alpha^(L+1))/(1-alpha)", symbolic=_sym_mean)
def _num_mean() -> str:
    mp.mp.dps = DPS
    worst = 0.0
    for al, Ln in _alphas_lengths(2):
        p = _mp_pmf(al, Ln)
        mean = mp.fsum(m * pm for m, pm in enumerate(p))  # reference: direct summation, 50 digits
        worst = max(worst, _rel(numerics.expected_accepted(al, Ln), mean),
                    _rel(numerics.expected_tokens(al, Ln), 1 + mean))
    assert worst <= 1e-13, f"relative error {worst:.2e} against mpmath"
    # Monte Carlo (per-token Bernoulli draws) within 5 standard errors, seeded
    rng = np.random.default_rng(3)
    for al, Ln in [(0.3, 5), (0.8, 16), (0.95, 40), (1 - 1e-12, 30)]:
        n = numerics.sample_accepted(al, Ln, 20_000, rng)
        se = max(float(n.std(ddof=1)), 1e-12) / np.sqrt(n.size)
        assert abs(n.mean() - numerics.expected_accepted(al, Ln)) <= 5 * se + 1e-9, (al, Ln)
    return f"max rel. error vs mpmath {worst:.1e}; Monte Carlo within 5 SE"


def _sym_limits() -> str:
    assert ttok.tokens_limit(0) == 1, ttok.tokens_limit(0)
    assert sp.simplify(ttok.tokens_limit(1) - (L + 1)) == 0, ttok.tokens_limit(1)
    assert ttok.expected_accepted_at_one() == L, ttok.expected_accepted_at_one()
    V = ttok.accepted_variance()
    assert sp.limit(V, alpha, 0, "+") == 0 and sp.limit(V, alpha, 1, "-") == 0
    return "lim A = 1 (alpha->0), L+1 (alpha->1) = the alpha=1 summation branch; Var N -> 0 at both"


@claim("tokens-limits", "A -> 1 as alpha -> 0 and A -> L + 1 as alpha -> 1", symbolic=_sym_limits)
def _num_limits() -> str:
    Ls = np.array([0, 1, 7, 100, 10_000], dtype=float)
    assert np.all(numerics.expected_tokens(0.0, Ls) == 1.0)
    assert np.all(numerics.expected_tokens(1.0, Ls) == Ls + 1)
    # near the ends: 0 <= A - 1 <= alpha L... and L + 1 - A <= (1-alpha) L (L+1)/2 (Taylor, A convex in alpha)
    for eps in (1e-300, 1e-12, 1e-9):
        A0 = numerics.expected_tokens(eps, Ls)
        # E[N] = alpha + ... + alpha^L <= L alpha; 2.3e-16: rounding of A next to 1 (ulp 2.2e-16)
        assert np.all((A0 >= 1) & (A0 - 1 <= 1.0000001 * eps * Ls + 2.3e-16)), A0
        A1 = numerics.expected_tokens(1 - eps, Ls)
        # L + 1 - A = sum_m (1 - alpha^m) <= eps L (L+1)/2, plus the rounding of A (ulp of L + 1)
        assert np.all((A1 <= Ls + 1) & (Ls + 1 - A1 <= 1.0000001 * eps * Ls * (Ls + 1) / 2 + 2.3e-16 * (Ls + 1))), A1
    return "exact at alpha in {0, 1}; bounded gaps at 1e-300, 1e-12, 1e-9 from the ends"


def _sym_variance() -> str:
    V = ttok.accepted_variance()
    for Ln in range(7):  # exact rational identity against E[(N - E N)^2] of the concrete pmf
        p = [alpha**m * (1 - alpha) for m in range(Ln)] + [alpha**Ln]
        mean = sum(m * pm for m, pm in enumerate(p))
        direct = sum(pm * (m - mean) ** 2 for m, pm in enumerate(p))
        assert sp.simplify(sp.expand(direct) - V.subs(L, Ln)) == 0, Ln
    return "closed form = E[(N-EN)^2] of the pmf, exactly, for L = 0..6"


@claim("tokens-variance", "Var N = alpha (1 - (2L+1) alpha^L + (2L+1) alpha^(L+1) - alpha^(2L+1)) / (1-alpha)^2", symbolic=_sym_variance)
def _num_variance() -> str:
    mp.mp.dps = DPS
    worst = 0.0
    for al, Ln in _alphas_lengths(4, n=20):
        p = _mp_pmf(al, Ln)
        mean = mp.fsum(m * pm for m, pm in enumerate(p))
        var = mp.fsum(pm * (m - mean) ** 2 for m, pm in enumerate(p))  # centred sum, 50 digits
        worst = max(worst, _rel(numerics.accepted_variance(al, Ln), var))
    assert worst <= 1e-13, f"relative error {worst:.2e}"
    return f"max rel. error vs mpmath {worst:.1e}"


def _sym_positional() -> str:
    for Ln in range(7):
        derived = ttok.expected_tokens_positional(Ln)
        assert sp.expand(derived - ttok.expected_tokens_tail_sum(Ln)) == 0, Ln
        iid = derived.subs({a[m]: alpha for m in range(1, Ln + 2)})
        assert sp.simplify(iid - ttok.expected_tokens().subs(L, Ln)) == 0, Ln
    return "from the pmf: A = 1 + sum_i prod_{j<=i} alpha_j, = i.i.d. A for equal alpha_j (L = 0..6)"


@claim("tokens-positional", "position-dependent acceptance: A = 1 + sum_i prod_{j<=i} alpha_j", symbolic=_sym_positional)
def _num_positional() -> str:
    rng = np.random.default_rng(5)
    for Ln in range(0, 11):
        prof = rng.uniform(0, 1, Ln + 2)
        # brute force: enumerate all 2^L accept/reject patterns, N = leading accepts
        ref = 0.0
        for bits in itertools.product((0, 1), repeat=Ln):
            pr = np.prod([prof[m] if b else 1 - prof[m] for m, b in enumerate(bits)])
            lead = next((m for m, b in enumerate(bits) if not b), Ln)
            ref += pr * (lead + 1)
        got = numerics.expected_tokens_positional(prof, Ln)
        assert abs(got - ref) <= 1e-13 * ref, (Ln, got, ref)
    for al in (0.0, 1e-300, 0.37, 1 - 1e-12):
        Ls = np.arange(0, 60)
        pos = numerics.expected_tokens_positional(np.full(60, al), Ls)
        assert np.allclose(pos, numerics.expected_tokens(al, Ls), rtol=1e-13, atol=0), al
    return "= brute-force enumeration (L <= 10) and = i.i.d. A for constant profiles"


def _sym_monotone_L() -> str:
    assert ttok.increasing_in_L() is True
    return "dA/dL = -alpha^(L+1) ln(alpha)/(1-alpha) > 0 decided on alpha = 1/(1+q)"


@claim("tokens-monotone-L", "A is increasing in L (alpha in (0, 1))", symbolic=_sym_monotone_L)
def _num_monotone_L() -> str:
    rng = np.random.default_rng(6)
    al = np.concatenate([rng.uniform(1e-6, 1 - 1e-6, 50), [1e-12, 1e-3, 1 - 1e-12]])[:, None]
    Ls = np.linspace(0, 300, 601)[None, :]
    A = numerics.expected_tokens(al, Ls)
    assert np.all(np.diff(A, axis=1) >= 0), "A decreases somewhere in L"
    assert np.all(numerics.marginal_tokens(al, Ls) >= 0)
    return "nondecreasing on 53 alphas x 601 real L (strict until A saturates in float64)"


def _sym_concave_L() -> str:
    assert ttok.concave_in_L() is True
    return "d2A/dL2 = alpha^(L+1) ln(alpha)^2/(alpha-1) < 0 decided on alpha = 1/(1+q)"


@claim("tokens-concave-L", "A is concave in L (alpha in (0, 1))", symbolic=_sym_concave_L)
def _num_concave_L() -> str:
    rng = np.random.default_rng(7)
    al = rng.uniform(1e-3, 1 - 1e-3, 60)[:, None]
    Ls = np.linspace(0, 60, 241)[None, :]
    d2 = np.diff(numerics.expected_tokens(al, Ls), 2, axis=1)
    # rounding of A (<= 2 ulp of A <= 1/(1-alpha)) bounds the noise of a second difference
    tol = 8 * np.finfo(float).eps / (1 - al)
    assert np.all(d2 <= tol), float(np.max(d2 - tol))
    return "second differences <= rounding on 60 alphas x 241 real L"


def _sym_increasing_alpha() -> str:
    assert ttok.increasing_in_alpha() is True
    return "(1-alpha)^2 dA/dalpha vanishes at 1 with slope -L(L+1) alpha^(L-1) (1-alpha) < 0"


@claim("tokens-increasing-alpha", "A is increasing in alpha for every L > 0", symbolic=_sym_increasing_alpha)
def _num_increasing_alpha() -> str:
    al = np.concatenate([[0.0, 1e-300, 1e-12], np.linspace(1e-4, 1 - 1e-4, 2000), [1 - 1e-9, 1 - 1e-12, 1.0]])
    for Ln in (0.25, 1, 2, 7.5, 100, 10_000):
        A = numerics.expected_tokens(al, Ln)
        assert np.all(np.diff(A) >= 0), Ln
    return "nondecreasing on 2006 alphas (including 0, 1e-300, 1 - 1e-12, 1) for 6 lengths"


def _sym_convex_alpha() -> str:
    for Ln in range(0, 31):
        assert ttok.convex_in_alpha(Ln) is True, Ln
    return "A = sum_{m<=L} alpha^m has non-negative coefficients (L = 0..30): convex in alpha"


@claim("tokens-convex-alpha",
       "A is convex (not concave) in alpha for L >= 1; for real L in (0, 1) it is concave instead",
       symbolic=_sym_convex_alpha)
def _num_convex_alpha() -> str:
    al = np.linspace(1e-3, 1 - 1e-3, 4001)
    rng = np.random.default_rng(8)
    for Ln in np.concatenate([[1.0, 2.0], rng.uniform(1, 40, 20)]):
        d2 = np.diff(numerics.expected_tokens(al, Ln), 2)
        assert np.all(d2 >= -1e-12), (Ln, float(d2.min()))
    for Ln in rng.uniform(0.02, 0.98, 10):
        d2 = np.diff(numerics.expected_tokens(al, Ln), 2)
        assert np.all(d2 <= 1e-12), (Ln, float(d2.max()))
    d2 = np.diff(numerics.expected_tokens(al, 5.0), 2)
    assert d2.max() > 1e-9, "A is not concave in alpha: expected positive curvature at L = 5"
    return "second differences >= 0 for 22 real L >= 1, <= 0 for 10 real L in (0, 1)"


def _sym_marginal() -> str:
    Ap = ttok.marginal_tokens()
    assert sp.simplify(Ap - (-alpha ** (L + 1) * sp.log(alpha) / (1 - alpha))) == 0, Ap
    return "dA/dL = -alpha^(L+1) ln(alpha)/(1-alpha) (differentiated from the derived A)"


@claim("tokens-marginal", "A'(L) = -alpha^(L+1) ln(alpha) / (1-alpha)", symbolic=_sym_marginal)
def _num_marginal() -> str:
    mp.mp.dps = DPS
    ref_fn = sp.lambdify((alpha, L), ttok.expected_tokens(), "mpmath")
    worst = 0.0
    for al, Ln in _alphas_lengths(9, n=16):
        if al in (0.0, 1e-300) or al > 1 - 1e-300:
            continue
        ref = mp.diff(lambda x: ref_fn(mp.mpf(al), x), Ln)  # mpmath numerical derivative, 50 digits
        worst = max(worst, _rel(numerics.marginal_tokens(al, Ln), ref))
    assert worst <= 1e-12, f"relative error {worst:.2e}"
    assert numerics.marginal_tokens(0.0, 3.0) == 0.0 and numerics.marginal_tokens(1.0, 3.0) == 1.0
    return f"max rel. error vs mpmath.diff of the theory A {worst:.1e}; limits 0 and 1 exact"


# ------------------------------------------------------------------------- rate models
def _sym_rate_shape() -> str:
    for m in tch.RATE_MODELS:
        assert tch.rate_increasing(m) is True, m
        assert tch.rate_concave(m) is True, m
    return "dr/dbeta > 0 and d2r/dbeta2 <= 0 decided for linear and Shannon"


@claim("rate-shape", "both rate models are increasing and concave in the band share", symbolic=_sym_rate_shape)
def _num_rate_shape() -> str:
    rng = np.random.default_rng(10)
    b = np.concatenate([[0.0, 1e-12], np.geomspace(1e-9, 1, 500)])
    for m in ("linear", "shannon"):
        for ch in np.concatenate([10 ** rng.uniform(-1, 4, 8), [0.1, 1e4]]):
            R = nch.rate(m, b, 1e6, ch)
            assert np.all(np.diff(R) > 0), (m, ch)
            slope = np.diff(R) / np.diff(b)
            assert np.all(np.diff(slope) <= 1e-9 * np.abs(slope[1:])), (m, ch)  # concave: chord slopes fall
            d = nch.rate_derivative(m, b[1:-1], 1e6, ch)
            fd = (nch.rate(m, b[1:-1] * (1 + 1e-6), 1e6, ch) - nch.rate(m, b[1:-1] * (1 - 1e-6), 1e6, ch)) / (2e-6 * b[1:-1])
            assert np.allclose(d, fd, rtol=1e-6), (m, ch)  # central difference, O(h^2) = 1e-12 plus rounding 1e-10
    return "increasing, falling chord slopes, derivative = central differences (20 channels x 502 shares)"


def _sym_supremum() -> str:
    assert sp.simplify(tch.shannon_rate_supremum() - B * rho / sp.log(2)) == 0
    return "lim_{beta->inf} beta B log2(1 + rho/beta) = B rho / ln 2: reachable iff c < 1"


@claim("rate-shannon-reach", "the Shannon rate stays below B rho / ln 2; c = r ln2/(B rho) >= 1 is unreachable", symbolic=_sym_supremum)
def _num_supremum() -> str:
    for rho_ in (0.1, 1.0, 1e4):
        sup = 1e6 * rho_ / np.log(2)
        g = np.geomspace(1e-6, 1e12, 300)  # "shares" beyond 1 through the exact scaling r(g; rho) = g r(1; rho/g)
        R = g * nch.rate("shannon", 1.0, 1e6, rho_ / g)  # (numerics.rate takes shares in [0, 1] only)
        assert np.all(R < sup) and R[-1] > sup * (1 - 1e-6), rho_
        for cc in (1.0, 1.5):
            try:
                nch.rate_inverse("shannon", cc * sup, 1e6, rho_)
            except ValueError as exc:
                assert "unreachable" in str(exc)
            else:
                raise AssertionError(f"c = {cc} accepted")
    return "rates below the supremum, approaching it; c in {1, 1.5} raise ValueError"


def _sym_shannon_inverse() -> str:
    principal = tch.shannon_share_for_rate_principal()
    assert principal.has(sp.LambertW)
    norm = tch.shannon_share_normalised()
    target = c * rho / (-sp.LambertW(-c * sp.exp(-c), -1) - c)
    assert sp.simplify(norm - target) == 0, norm
    # principal branch: W_0(-c e^{-c}) = -c, and the solve root degenerates (denominator 0)
    w0 = principal.subs(r, c * B * rho / sp.log(2))
    w0 = sp.powsimp(sp.expand_power_exp(w0), force=True).replace(sp.LambertW, lambda z, *k: -c)
    assert sp.simplify(1 / w0) == 0, w0
    # the finite root satisfies the rate equation exactly: with p = -W_{-1}(-c e^{-c}) > 1 > c,
    # p e^{-p} = c e^{-c}, i.e. log p = log c - c + p, and 1 + rho/beta = p/c
    p = sp.Symbol("p", positive=True)
    beta_p = c * rho / (p - c)
    resid = sp.expand_log(beta_p * sp.log(sp.simplify(1 + rho / beta_p)) - c * rho, force=True)
    resid = resid.subs(sp.log(p), sp.log(c) - c + p)
    assert sp.simplify(resid) == 0, resid
    return "solve() -> LambertW form; W_0 gives the trivial root; W_{-1} form satisfies r(beta) = r"


@claim("rate-shannon-inverse",
       "beta = rho/(y-1), y = -W_{-1}(-c e^{-c})/c inverts the Shannon rate for c = r ln2/(B rho) < 1",
       symbolic=_sym_shannon_inverse)
def _num_shannon_inverse() -> str:
    rng = np.random.default_rng(11)
    snr = 10 ** (rng.uniform(-10, 40, 400) / 10)
    share = 10 ** rng.uniform(-6, 0, 400)
    snr = np.concatenate([snr, [0.1, 0.1, 1e4, 1e4]])
    share = np.concatenate([share, [1e-6, 1.0, 1e-6, 1.0]])
    Bw = 2e7
    rr = nch.rate("shannon", share, Bw, snr)
    back = nch.rate("shannon", nch.rate_inverse("shannon", rr, Bw, snr), Bw, snr)
    err = float(np.max(np.abs(back / rr - 1)))
    assert err <= 1e-12, err
    # against the theory expression with mpmath's W_{-1} at 50 digits, from the same float c
    mp.mp.dps = DPS
    f = sp.lambdify((c, rho), tch.shannon_share_normalised(), "mpmath")
    worst = 0.0
    for cc in np.concatenate([rng.uniform(0, 1, 30), [1e-300, 1e-12, 0.5, 0.9, 1 - 1e-6]]):
        got = nch.rate_inverse("shannon", cc * Bw / np.log(2), Bw, 1.0)
        cf = mp.mpf(float(cc * Bw / np.log(2))) * mp.log(2) / Bw  # the c the code sees, exactly
        ref = f(cf, mp.mpf(1))
        # beta's condition number in c is about 1/(1-c) (MODEL.md sec. 2): 1e-15 per unit of it
        worst = max(worst, _rel(got, ref) * (1 - float(cc)))
    assert worst <= 1e-14, worst
    return f"rate(inverse(r)) = r to {err:.1e} (SNR -10..40 dB, shares 1e-6..1); vs mpmath W_-1 ok"


# ------------------------------------------------------------------------- latency
def _satisfies(expr: sp.Expr, assumptions: dict) -> bool:
    """True when SymPy decides that ``expr`` has every assumption (``{'nonpositive': True}`` -> expr.is_nonpositive)."""
    return all(getattr(expr, f"is_{name}") is value for name, value in assumptions.items())


def _sym_latency_shape() -> str:
    """The lemma under theory.latency.RATE_ASSUMPTIONS, and those assumptions cover every rate model it is used for."""
    assert tlat.latency_decreasing() is True and tlat.latency_convex() is True
    # coverage: r, r', r'' of each model (theory.channel) satisfy the assumptions on R, R', R'' for all beta > 0
    for model in tch.RATE_MODELS:
        exprs = {"R": tch.rate(model), "dR": tch.rate_derivative(model, 1), "d2R": tch.rate_derivative(model, 2)}
        for name, assume in tlat.RATE_ASSUMPTIONS.items():
            e = exprs[name]
            if model == "shannon" and name == "dR":  # r' = B f(rho/beta)/ln 2 with f > 0 (claim rate-shape)
                ok = tch.rate_increasing(model) is True and _satisfies(sp.Symbol("x", positive=True), assume)
            else:
                ok = _satisfies(e, assume)
            assert ok, f"the latency lemma assumes {name} {assume}, which the {model} rate ({name} = {e}) violates"
    shown = ", ".join(f"{k} {'/'.join(v)}" for k, v in tlat.RATE_ASSUMPTIONS.items())
    return ("dh/dbeta = -s R'/R^2 <= 0, d2h/dbeta2 = s(2R'^2 - R R'')/R^3 >= 0 assuming " + shown
            + "; both rate models satisfy the assumptions (linear: R'' = 0)")


@claim("latency-shape", "per-token latency h = t + s/r(beta) is decreasing and convex in beta", symbolic=_sym_latency_shape)
def _num_latency_shape() -> str:
    rng = np.random.default_rng(12)
    b = np.geomspace(1e-6, 1, 400)
    for m in ("linear", "shannon"):
        for _ in range(10):
            kw = dict(spectral_efficiency=rng.uniform(0.2, 8)) if m == "linear" else dict(snr=10 ** rng.uniform(-1, 4))
            sc = numerics.Scenario(alpha=0.7, t_draft=rng.uniform(0, 0.05), bits_per_token=rng.uniform(1, 1e4),
                                   bandwidth_hz=1e6, v0=0.05, rate_model=m, **kw)
            h = np.array([numerics.per_token_latency(sc, x)[0] for x in b])
            assert np.all(np.diff(h) < 0), m
            slope = np.diff(h) / np.diff(b)
            assert np.all(np.diff(slope) >= -1e-9 * np.abs(slope[:-1])), m
    return "decreasing with rising chord slopes on 20 random users x 400 shares"


def _sym_round_time() -> str:
    G = tlat.goodput(1, "linear", "ragged")
    u = user_symbols(1)
    one = {alpha: u["alpha"][0], L: u["L"][0]}
    h = u["t"][0] + u["s"][0] / (u["beta"][0] * B * u["eta"][0])
    expect = ttok.expected_tokens().subs(one) / (u["L"][0] * h + v0 + v1 * (u["L"][0] + 1) + T_o)
    assert sp.simplify(G - expect) == 0, G
    # K = 3, both batchings and rates, at random points: the typed MODEL.md round time
    import random

    rnd = random.Random(3)
    for model, bat in itertools.product(tch.RATE_MODELS, tlat.BATCHING_MODES):
        uu = user_symbols(3)
        ch = uu["eta" if model == "linear" else "rho"]
        args = [*uu["L"], *uu["t"], *uu["s"], *uu["beta"], *ch, B, v0, v1, T_o]
        f = sp.lambdify(args, tlat.round_time(3, model, bat), "mpmath")
        with mp.workdps(30):
            vals = [mp.mpf(rnd.uniform(0.01, 5)) for _ in args]
            Ls, ts, ss, bs, cs = (vals[3 * i:3 * i + 3] for i in range(5))
            Bv, v0v, v1v, Tov = vals[15:]
            r_ = [b * Bv * (c_ if model == "linear" else mp.log(1 + c_ / b) / mp.log(2)) for b, c_ in zip(bs, cs)]
            n_ = sum(Lk + 1 for Lk in Ls) if bat == "ragged" else 3 * (max(Ls) + 1)
            typed = max(Lk * (tk + sk / rk) for Lk, tk, sk, rk in zip(Ls, ts, ss, r_)) + v0v + v1v * n_ + Tov
            got = f(*vals)
            assert abs(got - typed) <= mp.mpf(10) ** -25 * typed, (model, bat, got, typed)
    return "K-user round time and goodput = MODEL.md's T and G (K = 1 exactly; K = 3, both rates and batchings, mpmath)"


@claim("latency-goodput", "T = max_k L_k h_k + T_v(n) + T_o and G = sum_k A_k / T (numerics = theory)", symbolic=_sym_round_time)
def _num_round_time() -> str:
    rng = np.random.default_rng(13)
    worst = 0.0
    for trial in range(24):
        K = int(rng.integers(1, 5))
        m = ("linear", "shannon")[trial % 2]
        bat = ("ragged", "padded")[(trial // 2) % 2]
        ch = rng.uniform(0.3, 6, K) if m == "linear" else 10 ** rng.uniform(-1, 4, K)
        sc = numerics.Scenario(alpha=rng.uniform(0, 0.99, K), t_draft=rng.uniform(0, 0.03, K),
                               bits_per_token=rng.choice([0.0, 64.0, 2000.0], K), bandwidth_hz=1e5,
                               v0=rng.uniform(0, 0.1), v1=rng.uniform(0, 1e-3), overhead=rng.uniform(0, 0.01),
                               rate_model=m, batching=bat, max_draft=12,
                               **({"spectral_efficiency": ch} if m == "linear" else {"snr": ch}))
        Ls = rng.integers(0, 13, K)
        bt = rng.dirichlet(np.ones(K))
        u = user_symbols(K)
        args = [u["alpha"], u["L"], u["t"], u["s"], u["beta"], u["eta" if m == "linear" else "rho"]]
        sym = [B, v0, v1, T_o]
        vals = [list(sc.alpha), list(Ls), list(sc.t_draft), list(sc.bits_per_token), list(bt), list(sc.channel)]
        sv = (sc.bandwidth_hz, sc.v0, sc.v1, sc.overhead)
        mp.mp.dps = DPS
        T_ref = sp.lambdify(args + sym, tlat.round_time(K, m, bat), "mpmath")(*vals, *sv)
        worst = max(worst, _rel(numerics.round_time(sc, Ls, bt), T_ref))
        if T_ref > 0:
            G_ref = sp.lambdify(args + sym, tlat.goodput(K, m, bat), "mpmath")(*vals, *sv)
            worst = max(worst, _rel(numerics.goodput(sc, Ls, bt), G_ref))
    assert worst <= 1e-13, worst
    return f"24 random scenarios (K <= 4, both models and batchings): max rel. error {worst:.1e}"
