"""Gradient checks of the closed forms (issue 5): the JAX model, H2, D3 and the envelope theorem.

The numeric checks use :mod:`numerics.differentiable` (imported on first use: JAX, float64)
on seeded random scenarios with K = 5 (one compilation per check). References are independent
of the code under test: mpmath at 50 digits, the SymPy expressions of ``theory`` lambdified,
the NumPy solvers of ``numerics`` and central finite differences of them.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from theory import homogeneous as thom
from theory import latency as tlat
from theory import tokens as ttok
from theory.symbols import B, L, alpha, beta, eta, s, t, theta

from .registry import claim

K = 5
DPS = 50


def _at_dps(fn):
    """Run ``fn`` at mpmath precision DPS and restore the caller's precision afterwards."""
    import functools

    import mpmath

    @functools.wraps(fn)
    def run():
        with mpmath.workdps(DPS):
            return fn()

    return run


def _x64(fn):
    """Run ``fn`` with JAX in float64 (the scoped ``jax.enable_x64(True)``: numerics.differentiable
    requires it and no longer sets the global flag on import; issue 12 item 7)."""
    import functools

    @functools.wraps(fn)
    def run():
        import jax

        with jax.enable_x64(True):
            return fn()

    return run


def _scenario(seed: int, rate_model: str = "linear", **kw):
    from numerics import Scenario

    rng = np.random.default_rng(seed)
    d = dict(alpha=rng.uniform(0.5, 0.95, K), t_draft=rng.uniform(0.002, 0.03, K),
             bits_per_token=rng.uniform(30, 600, K), bandwidth_hz=1e5,
             spectral_efficiency=rng.uniform(0.5, 5, K), snr=10 ** rng.uniform(-1, 3, K),
             rate_model=rate_model, v0=0.05, max_draft=16)
    d.update(kw)
    return Scenario(**d)


# ------------------------------------------------------------------------- Lambert-W
def _sym_lambertw() -> str:
    x = sp.Symbol("x", positive=True)
    W = sp.LambertW(x)
    assert sp.simplify(sp.diff(W, x) - W / (x * (1 + W))) == 0
    assert sp.limit(W / (x * (1 + W)), x, 0) == 1
    return "d/dx W = W / (x (1 + W)) and its limit 1 at x = 0 (SymPy)"


@claim("grad-lambertw", "JAX Lambert-W, both real branches, and its custom JVP W' = W/(x(1+W)) match mpmath; "
       "exact at 0 and -1/e; gradient 1 at 0 and infinite, never NaN, at the branch point", symbolic=_sym_lambertw)
@_at_dps
@_x64
def _num_lambertw() -> str:
    import jax
    import mpmath as mp

    from numerics import differentiable as jd

    rng = np.random.default_rng(21)
    grids = {0: np.concatenate([jd.BRANCH_POINT + 10.0 ** -rng.uniform(0, 15, 30), 10.0 ** rng.uniform(-300, 300, 30),
                                -10.0 ** -rng.uniform(0.44, 300, 30)]),
             -1: np.concatenate([jd.BRANCH_POINT + 10.0 ** -rng.uniform(0.44, 15, 30),
                                 -10.0 ** -rng.uniform(0.44, 307, 30)])}
    worst_v = worst_d = 0.0
    for b, xs in grids.items():
        xs = xs[xs > jd.BRANCH_POINT]
        w = np.asarray(jd.lambertw(xs, b))
        d = np.asarray(jax.vmap(jax.grad(lambda x, b=b: jd.lambertw(x, b)))(xs))
        for x, wv, dv in zip(xs, w, d, strict=True):
            ref = mp.lambertw(mp.mpf(float(x)), b).real
            dref = ref / (mp.mpf(float(x)) * (1 + ref))
            worst_v = max(worst_v, float(abs(wv - ref) / abs(ref)))
            worst_d = max(worst_d, float(abs(dv - dref) / abs(dref)))
    assert worst_v <= 1e-15 and worst_d <= 4e-15, (worst_v, worst_d)  # tolerances: tests/test_differentiable.py
    g0 = jax.grad(lambda x: jd.lambertw(x, 0))
    gm = jax.grad(lambda x: jd.lambertw(x, -1))
    assert float(jd.lambertw(0.0)) == 0.0 and float(g0(0.0)) == 1.0
    assert float(jd.lambertw(jd.BRANCH_POINT, 0)) == float(jd.lambertw(jd.BRANCH_POINT, -1)) == -1.0
    assert float(g0(jd.BRANCH_POINT)) == np.inf and float(gm(jd.BRANCH_POINT)) == -np.inf
    return f"max rel. error: W {worst_v:.1e}, W' {worst_d:.1e} (mpmath, {DPS} digits)"


# ------------------------------------------------------------------------- tokens
def _sym_tokens() -> str:
    """The derivatives of theory.tokens by routes other than diff of the closed form: the fundamental theorem
    (int_L^{L+1} A'(x) dx = A(L+1) - A(L) = alpha^(L+1), read off the pmf) and, at integer L, term-by-term
    differentiation of the polynomial sum_{m<=L} alpha^m."""
    x = sp.Symbol("x", positive=True)
    Ap = ttok.marginal_tokens()

    def generic(e):  # the branch of a Piecewise that holds for alpha in (0, 1)
        if isinstance(e, sp.Piecewise):
            (e,) = [pc.expr for pc in e.args if pc.cond.subs(alpha, sp.Rational(1, 2)) is sp.true][:1]
        return e

    # at integer L the increment of A is the probability alpha^(L+1) of one more accepted token
    for Ln in range(3):
        inc = generic(sp.integrate(Ap.subs(L, x), (x, Ln, Ln + 1)))
        assert sp.simplify(inc - alpha ** (Ln + 1)) == 0, (Ln, sp.simplify(inc))
    dA = ttok.tokens_alpha_derivative()
    for Ln in range(6):
        poly = sum(alpha**m for m in range(Ln + 1))
        assert sp.simplify(dA.subs(L, Ln) - sp.diff(poly, alpha)) == 0, Ln
    return ("int_L^{L+1} A'(x) dx = alpha^(L+1) (fundamental theorem); dA/dalpha = d/dalpha sum_{m<=L} alpha^m "
            "term by term at L = 0..5")


@claim("grad-tokens", "jax.grad of A(alpha, L) equals dA/dL and dA/dalpha of theory.tokens (mpmath, 50 digits), "
       "on random and adversarial points (alpha 0, 1e-300, within 1e-12 of 1; L 0 to 10^4)", symbolic=_sym_tokens)
@_at_dps
@_x64
def _num_tokens() -> str:
    import jax
    import jax.numpy as jnp
    import mpmath as mp

    from numerics import differentiable as jd

    fL = sp.lambdify((alpha, L), ttok.marginal_tokens(), "mpmath")
    fa = sp.lambdify((alpha, L), ttok.tokens_alpha_derivative(), "mpmath")
    rng = np.random.default_rng(22)
    al = np.concatenate([rng.uniform(0, 1, 20), [1e-300, 1e-12, 1 - 1e-9, 1 - 1e-12] * 3])
    Ls = np.concatenate([rng.uniform(0, 50, 20), np.repeat([0.5, 7.0, 1e4], 4)])
    da, dL = jax.vmap(jax.grad(jd.expected_tokens, (0, 1)))(jnp.asarray(al), jnp.asarray(Ls))
    worst = 0.0
    for x, y, ga, gl in zip(al, Ls, np.asarray(da), np.asarray(dL), strict=True):
        xm, ym = mp.mpf(float(x)), mp.mpf(float(y))
        tol = 8 * np.finfo(float).eps * (1 + y * abs(np.log(x)))  # exp(L log alpha) carries |L log alpha| eps
        for got, ref in ((ga, fa(xm, ym)), (gl, fL(xm, ym))):
            # below the smallest normal float64 (2.2e-308; XLA flushes subnormals) 0 is the answer
            err = float(abs(got - ref) / (tol * abs(ref) + 2.3e-308))
            assert err <= 1, (x, y, got, ref)
            worst = max(worst, err)
    return f"max error / tolerance = {worst:.2f} over {al.size} points"


# ------------------------------------------------------------------------- H2
def _sym_h2() -> str:
    """Two linear users sharing the band: the minimiser of max(h_1(b), h_2(1 - b)) found independently (solve the
    crossing h_1(b) = h_2(1 - b), a quadratic, and check it is the minimum of the max), and theory's closed form
    beta_k(theta) at that theta sums to 1 and returns the same shares."""
    b = sp.Symbol("b", positive=True)
    rng = np.random.default_rng(33)
    h = tlat.per_token_latency("linear")
    share = thom.share_for_theta("linear")
    for _ in range(3):
        tv = [sp.Rational(int(rng.integers(1, 30)), 1000) for _ in range(2)]
        sv = [sp.Integer(int(rng.integers(50, 900))) for _ in range(2)]
        ev = [sp.Rational(int(rng.integers(5, 50)), 10) for _ in range(2)]
        Bv = sp.Integer(10_000)
        h1 = h.subs({t: tv[0], s: sv[0], eta: ev[0], B: Bv, beta: b})
        h2 = h.subs({t: tv[1], s: sv[1], eta: ev[1], B: Bv, beta: 1 - b})
        roots = [r for r in sp.solve(sp.Eq(h1, h2), b) if r.is_real and 0 < r < 1]
        assert len(roots) == 1, roots
        b1 = roots[0]
        assert sp.diff(h1, b).subs(b, b1) < 0 < sp.diff(h2, b).subs(b, b1)  # h1 falls, h2 rises: min of the max
        th_star = h1.subs(b, b1)
        shares = [share.subs({t: tv[k], s: sv[k], eta: ev[k], B: Bv, theta: th_star}) for k in range(2)]
        assert sp.simplify(shares[0] + shares[1] - 1) == 0 and sp.simplify(shares[0] - b1) == 0, shares
    return "3 random 2-user instances: solve(h_1(b) = h_2(1-b)) = theory's beta_k(theta*) (sum 1), a minimum of the max"


@claim("grad-H2", "Smoothed projected gradient on max_k h_k(beta_k) from seeded random starts reaches the H2 "
       "closed form (theta*, beta*) within 1e-6 relative (linear and Shannon rates), never beating it",
       symbolic=_sym_h2)
@_x64
def _num_h2() -> str:
    import jax
    import jax.numpy as jnp

    from numerics import differentiable as jd

    worst = 0.0
    for model in ("linear", "shannon"):
        p = jd.params_from_scenario(_scenario(31, model))
        th, b = jd.h2_allocation(p)
        starts = jnp.asarray(np.random.default_rng(32).dirichlet(np.ones(K), 3))
        found = jax.jit(jax.vmap(jd.minimax_latency_descent, (None, 0)))(p, starts)
        ths = np.asarray(jax.vmap(lambda x, p=p: jnp.max(jd.per_token_latency(p, x)))(found))
        assert np.all(ths >= float(th) * (1 - 1e-14)), "the gradient method beat H2"
        err = max(float(np.max(ths / float(th) - 1)),
                  float(np.max(np.abs(np.asarray(found) - np.asarray(b)) / np.asarray(b))))
        assert err <= 1e-6, (model, err)
        worst = max(worst, err)
    return f"max relative gap to (theta*, beta*): {worst:.1e} (3 starts x 2 rate models)"


# ------------------------------------------------------------------------- D3
def _sym_d3() -> str:
    from .claims_heterogeneous import d3_closed_form_check

    detail = d3_closed_form_check(3)
    return ("theory's W_0 closed form of D3 meets its stationarity A'(L) dL/dbeta = lambda by mpmath.diff (" + detail
            + "), so the gradient method's target is the KKT point")


@claim("grad-D3", "Projected gradient ascent on F(beta) at fixed tau (linear rate, v1 = 0) from seeded random "
       "starts reaches the D3 W_0 closed form within 1e-6 relative; at that point jax.grad of "
       "A(L_k(beta_k)) equals lambda on every served uncapped user", symbolic=_sym_d3)
@_x64
def _num_d3() -> str:
    import jax
    import jax.numpy as jnp

    from numerics import differentiable as jd

    p = jd.params_from_scenario(_scenario(41))
    starts = jnp.asarray(np.random.default_rng(42).dirichlet(np.ones(K), 3))
    run = jax.jit(jax.vmap(jd.inner_ascent, (None, None, 0)))
    worst = kkt = 0.0
    for tau in (0.02, 0.05):
        lam, b, Lk = jd.d3_allocation(p, tau)
        grad = np.asarray(jax.grad(lambda x, tau=tau: jd.inner_objective(p, tau, x))(b))
        served = np.asarray((b > 0) & (Lk < p.max_draft))
        assert served.sum() >= 2
        kkt = max(kkt, float(np.max(np.abs(grad[served] / float(lam) - 1))))
        assert kkt <= 1e-10, kkt
        if np.any(np.asarray(Lk) >= p.max_draft):
            continue  # the ascent check wants a smooth optimum (no user at its cap)
        found = run(p, tau, starts)
        F = float(jd.inner_value(p, tau))
        Fs = np.asarray(jax.vmap(lambda x, tau=tau: jd.inner_objective(p, tau, x))(found))
        assert np.all(Fs <= F * (1 + 1e-14)), "the gradient method beat D3"
        err = float(np.max(np.abs(np.asarray(found) - np.asarray(b)) / np.asarray(b)))
        assert err <= 1e-6, (tau, err)
        worst = max(worst, err)
    return f"ascent vs D3: {worst:.1e}; KKT by autodiff: {kkt:.1e}"


# ------------------------------------------------------------------------- envelope
def _sym_envelope() -> str:
    """K = 2, linear rate: implicit d theta*/dp = sum_k mu_k dh_k/dp with mu from the KKT conditions."""
    h = tlat.per_token_latency("linear")
    b = thom.share_for_theta("linear")
    users = [{v: sp.Symbol(f"{v.name}_{k}", positive=True) for v in (t, s, eta)} for k in range(2)]
    shares = [b.subs(u) for u in users]
    F = sum(shares) - 1  # sum_k beta_k(theta) = 1 defines theta*(p)
    hs = [h.subs(u) for u in users]
    w = [1 / (-sp.diff(hk, beta).subs(beta, bk)) for hk, bk in zip(hs, shares, strict=True)]  # mu_k = w_k / sum w
    checked = 0
    for prm in (users[0][t], users[0][s], users[0][eta], B):
        implicit = -sp.diff(F, prm) / sp.diff(F, theta)
        envelope = sum(wk * sp.diff(hk, prm).subs(beta, bk) for wk, hk, bk in zip(w, hs, shares, strict=True)) / sum(w)
        assert sp.simplify(implicit - envelope) == 0, prm
        checked += 1
    return f"implicit derivative = envelope formula for {checked} parameters (SymPy, K = 2, linear)"


@claim("envelope", "dG*/dp from the KKT multipliers (envelope theorem) equals jax.grad through the implicitly "
       "differentiated closed forms and central differences of solve_homogeneous, for B, v0 and each "
       "user's t_k, eta_k / rho_k, alpha_k", symbolic=_sym_envelope)
def _num_envelope() -> str:
    from numerics import solve_homogeneous
    from numerics.sensitivity import sensitivity, sensitivity_autodiff

    worst_ad = worst_fd = 0.0
    for seed, model in ((51, "linear"), (52, "shannon")):
        sc = _scenario(seed, model, v1=1e-4, overhead=0.01)
        sol = solve_homogeneous(sc)
        env, ad = sensitivity(sc, sol), sensitivity_autodiff(sc, sol)
        ch = "spectral_efficiency" if model == "linear" else "snr"
        pairs = [(env.system["dG_dB"], ad.system["dG_dB"], "bandwidth_hz", None),
                 (env.system["dG_dv0"], ad.system["dG_dv0"], "v0", None)]
        for k in range(K):
            pairs += [(env.users["dG_dt"][k], ad.users["dG_dt"][k], "t_draft", k),
                      (env.users["dG_dchannel"][k], ad.users["dG_dchannel"][k], ch, k),
                      (env.users["dG_dalpha"][k], ad.users["dG_dalpha"][k], "alpha", k)]
        for e, a, field, k in pairs:
            worst_ad = max(worst_ad, abs(e - a) / abs(e))
            base = getattr(sc, field)
            val = float(base if k is None else base[k])
            hstep = 1e-6 * val  # central difference: rounding ~1e-9, truncation ~1e-12 relative

            def G(x, sc=sc, field=field, base=base, k=k):
                if k is None:
                    return solve_homogeneous(sc.replace(**{field: x})).goodput
                arr = base.copy()
                arr[k] = x
                return solve_homogeneous(sc.replace(**{field: arr})).goodput

            fd = (G(val + hstep) - G(val - hstep)) / (2 * hstep)
            # allowed: 1e-6 relative, plus the rounding of a central difference of a goodput
            # exact to a few ulp (45 eps G / step, as in tests/test_sensitivity.py)
            worst_fd = max(worst_fd, abs(e - fd) / (1e-6 * abs(e) + 1e-14 * sol.goodput / hstep))
    assert worst_ad <= 1e-9 and worst_fd <= 1, (worst_ad, worst_fd)
    return (f"envelope vs implicit autodiff {worst_ad:.1e} relative; "
            f"vs finite differences {worst_fd:.2f} of the tolerance")
