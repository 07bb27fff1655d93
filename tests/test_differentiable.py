"""The JAX model (numerics.differentiable): values and gradients against independent sources.

References: mpmath at 50 digits (Lambert-W, tokens), the SymPy expressions of ``theory``
lambdified (with mpmath at 50 digits where the float64 evaluation of the closed form would
cancel), SymPy exact series reversion (branch-point coefficients), the NumPy model and
solvers of ``numerics`` (an independent float64 implementation), and central finite
differences. Shapes are fixed (K = 5) so that each jitted function compiles once.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import sympy as sp
from _scenario_kinds import STATIC_KINDS, kind_scenario

import theory.channel as thc
import theory.heterogeneous as thh
import theory.homogeneous as thhom
import theory.tokens as tht
from numerics import Scenario, equal_finish_allocation
from numerics import differentiable as jd
from numerics import goodput as np_goodput
from numerics.differentiable._lambertw import _MU, _branch_series_coefficients
from theory.symbols import B, eta, lam, rho, tau, theta
from theory.symbols import L as L_sym
from theory.symbols import alpha as a_sym
from theory.symbols import beta as b_sym
from theory.symbols import r as r_sym
from theory.symbols import s as s_sym
from theory.symbols import t as t_sym

EPS = np.finfo(float).eps
K = 5


@pytest.fixture(autouse=True)
def _restore_mpmath_precision():
    """Tests here raise mpmath's working precision; give the next test the one it had."""
    dps = mpmath.mp.dps
    yield
    mpmath.mp.dps = dps


def _scenario(rate_model="linear", seed=1, **kw):
    rng = np.random.default_rng(seed)
    d = dict(alpha=rng.uniform(0.5, 0.9, K), t_draft=rng.uniform(0.005, 0.02, K),
             bits_per_token=rng.uniform(50, 500, K), bandwidth_hz=1e5,
             spectral_efficiency=rng.uniform(1, 4, K), snr=10 ** rng.uniform(-1, 3, K),
             rate_model=rate_model, v0=0.05, max_draft=16)
    d.update(kw)
    return Scenario(**d)


def _mp_lambertw(x, branch):
    return mpmath.lambertw(mpmath.mpf(float(x)), branch).real


# ============================================================== Lambert-W
W0_GRID = np.concatenate([jd.BRANCH_POINT + np.logspace(-16, 0, 60), -np.logspace(-300, -0.44, 60),
                          np.logspace(-300, 300, 120), [1e-3 * (1 - 1e-15), 1e-3, -1e-3, 0.2, -0.2, 3.0]])
WM1_GRID = np.concatenate([jd.BRANCH_POINT + np.logspace(-16, np.log10(0.3678), 80),
                           -np.logspace(np.log10(2.3e-308), -0.44, 80), [-0.2, -0.25, -0.36]])


@pytest.mark.parametrize("branch,grid", [(0, W0_GRID), (-1, WM1_GRID)])
def test_lambertw_values_match_mpmath(branch, grid):
    grid = grid[grid > jd.BRANCH_POINT]
    mpmath.mp.dps = 50
    got = np.asarray(jd.lambertw(jnp.asarray(grid), branch))
    ref = np.array([float(_mp_lambertw(x, branch)) for x in grid])
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    # measured <= 4.6e-16 (W_0 at p = 0.3, where the series hands over to the iteration);
    # 1e-15 (4.5 ulp) leaves room for libm differences across platforms
    assert rel.max() <= 1e-15, (rel.max(), grid[rel.argmax()])


@pytest.mark.parametrize("branch,grid", [(0, W0_GRID), (-1, WM1_GRID)])
def test_lambertw_derivative_matches_mpmath(branch, grid):
    grid = grid[(grid > jd.BRANCH_POINT) & (grid != 0)]
    mpmath.mp.dps = 50
    got = np.asarray(jax.vmap(jax.grad(lambda x: jd.lambertw(x, branch)))(jnp.asarray(grid)))
    ref = []
    for x in grid:
        w = _mp_lambertw(x, branch)
        ref.append(float(w / (mpmath.mpf(float(x)) * (1 + w))))
    ref = np.array(ref)
    rel = np.abs(got - ref) / np.abs(ref)
    # W' = W/(x(1+W)) amplifies the value error by 1/|1+W| <= 3.7 outside the series region
    # (p >= 0.3), where 1 + W is formed by an addition; measured <= 1.8e-15
    assert rel.max() <= 4e-15, (rel.max(), grid[rel.argmax()])


def test_lambertw_exact_points_and_nan_free_gradients():
    assert float(jd.lambertw(0.0)) == 0.0
    assert float(jd.lambertw(jd.BRANCH_POINT, 0)) == -1.0
    assert float(jd.lambertw(jd.BRANCH_POINT, -1)) == -1.0
    assert float(jd.lambertw(math.e)) == 1.0
    g0 = jax.jit(jax.grad(lambda x: jd.lambertw(x, 0)))
    gm = jax.jit(jax.grad(lambda x: jd.lambertw(x, -1)))
    assert float(g0(0.0)) == 1.0  # W_0'(0) = 1 exactly, not 0/0
    assert float(g0(jd.BRANCH_POINT)) == np.inf and float(gm(jd.BRANCH_POINT)) == -np.inf
    for x in [1e-300, 1e300, jd.BRANCH_POINT * (1 - 1e-15)]:
        assert np.isfinite(float(g0(x)))
    assert np.isfinite(float(gm(-1e-300)))
    # second derivative through the JVP rule is finite away from the branch point
    assert np.isfinite(float(jax.jit(jax.grad(g0))(0.5)))


def test_lambertw_bad_input_raises():
    with pytest.raises(ValueError, match="branch must be 0 or -1, got 1"):
        jd.lambertw(0.5, 1)
    with pytest.raises(ValueError, match=r"x must lie in \[-1/e, inf\] for branch 0, got -0.5"):
        jd.lambertw(-0.5, 0)
    with pytest.raises(ValueError, match=r"x must lie in \[-1/e, 0\) for branch -1, got 0.1"):
        jd.lambertw(jnp.array([-0.1, 0.1]), -1)
    # traced: no exception possible, NaN outside the domain
    assert np.isnan(float(jax.jit(lambda x: jd.lambertw(x, -1))(0.5)))


def _series_exp(u: list, n: int) -> list:
    """Truncated power series exp(u(p)) to order n - 1 in exact rationals (u[0] = 0): E' = u' E."""
    E = [Fraction(1)] + [Fraction(0)] * (n - 1)
    for m in range(1, n):
        E[m] = sum(j * u[j] * E[m - j] for j in range(1, m + 1)) / m
    return E


def test_branch_series_coefficients_by_exact_series_reversion():
    """mu_k of the Corless recurrence = exact reversion of p^2 = 2 (1 + (u - 1) e^u), u = 1 + W.

    Independent of the recurrence: the coefficient of p^(m+1) in 2 (1 + (u-1) e^u) - p^2 is
    affine in the unknown u_m once u_1..u_{m-1} are known; evaluating it at u_m = 0 and 1 in
    exact rational arithmetic solves for u_m (u_1 = 1 selects W_0).
    """
    N = 12
    u = [Fraction(0), Fraction(1)] + [Fraction(0)] * (N - 1)

    def residual(u):
        n = N + 2
        uu = (u + [Fraction(0)] * n)[:n]
        E = _series_exp(uu, n)
        um1 = [uu[0] - 1, *uu[1:]]
        prod = [sum(um1[i] * E[m - i] for i in range(m + 1)) for m in range(n)]
        res = [2 * (int(m == 0) + prod[m]) for m in range(n)]
        res[2] -= 1
        return res

    for m in range(2, N):
        u[m] = Fraction(0)
        r0 = residual(u)[m + 1]
        u[m] = Fraction(1)
        r1 = residual(u)[m + 1]
        u[m] = -r0 / (r1 - r0)
    assert all(x == 0 for x in residual(u)[: N + 1])
    exact = [Fraction(-1), *u[1:N]]
    assert exact[:4] == [Fraction(-1), Fraction(1), Fraction(-1, 3), Fraction(11, 72)]  # Corless et al. eq. 4.22
    assert _branch_series_coefficients(N) == [float(x) for x in exact]
    assert np.array_equal(_MU[:N], np.array([float(x) for x in exact]))


def test_lambertw_exp_matches_mpmath():
    mpmath.mp.dps = 50
    ells = np.array([-700.0, -50.0, -1.0, 0.0, 1.0, 19.999, 20.0, 20.001, 100.0, 1e4, 1e8, 1e300])
    got = np.asarray(jd.lambertw_exp(jnp.asarray(ells)))
    ref = np.array([float(mpmath.lambertw(mpmath.exp(mpmath.mpf(e)))) for e in ells])
    assert np.max(np.abs(got - ref) / ref) <= 1e-15  # measured 2e-16
    d = np.asarray(jax.vmap(jax.grad(jd.lambertw_exp))(jnp.asarray(ells)))
    assert np.max(np.abs(d - ref / (1 + ref)) / (ref / (1 + ref))) <= 1e-15


# ============================================================== tokens
ALPHAS = [0.0, 1e-300, 1e-12, 0.3, 0.5, 0.7, 1 - 1e-9, 1 - 1e-12, 1.0]
LENGTHS = [0.0, 1e-9, 0.5, 1.0, 2.0, 7.0, 100.0, 1e4]


def _theory_tokens_mp():
    """A, dA/dL, dA/dalpha from theory.tokens, lambdified for mpmath (50 digits)."""
    exprs = [tht.expected_tokens(), tht.marginal_tokens(), tht.tokens_alpha_derivative()]
    return [sp.lambdify((a_sym, L_sym), e, modules="mpmath") for e in exprs]


def test_tokens_and_derivatives_match_theory_at_50_digits():
    mpmath.mp.dps = 50
    fA, fL, fa = _theory_tokens_mp()
    a = jnp.asarray([x for x in ALPHAS for _ in LENGTHS])
    Ls = jnp.asarray([y for _ in ALPHAS for y in LENGTHS])
    A = np.asarray(jd.expected_tokens(a, Ls))
    dA_da, dA_dL = (np.asarray(g) for g in jax.vmap(jax.grad(jd.expected_tokens, (0, 1)))(a, Ls))
    for i, (x, y) in enumerate(zip(np.asarray(a), np.asarray(Ls), strict=True)):
        xm, ym = mpmath.mpf(float(x)), mpmath.mpf(float(y))
        if x == 0:  # limits (theory.tokens.tokens_limit): A = 1, A' = 0, dA/dalpha = 1 (L > 0)
            ref = (1, 0, 1 if y > 0 else 0)
        elif x == 1:  # A = L + 1, A' = 1, dA/dalpha = L (L+1)/2 (limits of the theory expressions)
            ref = (ym + 1, 1, ym * (ym + 1) / 2)
        else:
            ref = (fA(xm, ym), fL(xm, ym), fa(xm, ym))
        # relative error allowed: a few ulp times the condition number of alpha^L computed as
        # exp(L log alpha), whose exponent carries a rounding of |L log alpha| eps
        tol = 8 * EPS * (1 + y * abs(math.log(x)) if 0 < x < 1 else 1)
        for got, want in zip((A[i], dA_dL[i], dA_da[i]), ref, strict=True):
            want = float(want)
            assert abs(got - want) <= tol * abs(want) + 1e-300, (x, y, got, want)


def test_tokens_agree_with_numpy_model():
    from numerics import expected_tokens as np_tokens
    from numerics import marginal_tokens as np_marginal

    a = np.array([x for x in ALPHAS for _ in LENGTHS])
    Ls = np.array([y for _ in ALPHAS for y in LENGTHS])
    assert np.allclose(np.asarray(jd.expected_tokens(a, Ls)), np_tokens(a, Ls), rtol=4 * EPS, atol=0)
    # the two marginals differ in how alpha^(L+1) is formed: 2 ulp x (1 + (L+1)|log alpha|)
    tol = 2 * EPS * (1 + (Ls + 1) * np.abs(np.log(np.where((a > 0) & (a < 1), a, 0.5))))
    got = np.asarray(jd.marginal_tokens(a, Ls))
    ref = np_marginal(a, Ls)
    assert np.all(np.abs(got - ref) <= tol * np.abs(ref) + 1e-300)


def test_tokens_jvp_is_the_derivative_of_the_primal():
    """Central differences of A (h = 1e-6 relative): truncation ~h^2 A''' / A' ~ 1e-12, rounding ~eps/h ~ 2e-10."""
    a = jnp.asarray([0.3, 0.6, 0.9, 0.99])
    Ls = jnp.asarray([0.7, 3.0, 12.5, 40.0])
    da, dL = jax.vmap(jax.grad(jd.expected_tokens, (0, 1)))(a, Ls)
    h = 1e-6
    fd_a = (jd.expected_tokens(a * (1 + h), Ls) - jd.expected_tokens(a * (1 - h), Ls)) / (2 * h * a)
    fd_L = (jd.expected_tokens(a, Ls * (1 + h)) - jd.expected_tokens(a, Ls * (1 - h))) / (2 * h * Ls)
    assert np.allclose(da, fd_a, rtol=1e-8) and np.allclose(dL, fd_L, rtol=1e-8)


# ============================================================== rates, latency, goodput
@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_rate_gradients_match_theory_channel(model):
    """jax.grad of r in (beta, B, channel) = sympy.diff of theory.channel.rate, lambdified."""
    sc = _scenario(model)
    p = jd.params_from_scenario(sc)
    expr = thc.rate(model)
    ch = eta if model == "linear" else rho
    beta = jnp.asarray(np.random.default_rng(5).uniform(1e-4, 1.0, K))

    def r_sum(beta, bw, chan):
        q = jd.Params(p.alpha, p.t, p.s, chan, bw, p.v0, p.v1, p.overhead, model, p.batching, p.max_draft)
        return jnp.sum(jd.rate(q, beta))

    g_beta, g_B, g_ch = jax.grad(r_sum, (0, 1, 2))(beta, p.bandwidth, p.channel)
    args = (b_sym, B, ch)
    f = {v: sp.lambdify(args, sp.diff(expr, v), "numpy") for v in args}
    bn, chn = np.asarray(beta), np.asarray(p.channel)
    assert np.allclose(g_beta, f[b_sym](bn, sc.bandwidth_hz, chn), rtol=1e-13)
    assert np.isclose(float(g_B), np.sum(f[B](bn, sc.bandwidth_hz, chn)), rtol=1e-13)
    assert np.allclose(g_ch, f[ch](bn, sc.bandwidth_hz, chn), rtol=1e-13)
    r = sp.lambdify(args, expr, "numpy")(bn, sc.bandwidth_hz, chn)
    assert np.allclose(np.asarray(jd.rate(p, beta)), r, rtol=1e-14)


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_goodput_value_and_gradient_vs_numpy_model(model):
    sc = _scenario(model, v1=1e-4, overhead=0.01)
    p = jd.params_from_scenario(sc)
    rng = np.random.default_rng(7)
    L = rng.uniform(1, 10, K)
    beta = 0.99 * rng.dirichlet(np.ones(K))  # room for the finite differences under sum(beta) <= 1
    G = float(jd.goodput(p, jnp.asarray(L), jnp.asarray(beta)))
    assert G == pytest.approx(np_goodput(sc, L, beta, continuous=True), rel=1e-14)
    gL, gb = jax.grad(jd.goodput, (1, 2))(p, jnp.asarray(L), jnp.asarray(beta))
    # central differences of the NumPy goodput, h = 1e-6 relative (the argmax of the round
    # time is unique at this random point): truncation ~1e-12, rounding ~1e-10 -> rtol 1e-7
    h = 1e-6
    for k in range(K):
        e = np.zeros(K)
        e[k] = h * L[k]
        fd = (np_goodput(sc, L + e, beta, continuous=True) - np_goodput(sc, L - e, beta, continuous=True)) / (2 * e[k])
        assert float(gL[k]) == pytest.approx(fd, rel=1e-7, abs=1e-9 * G)
        e = np.zeros(K)
        e[k] = h * beta[k]
        fd = (np_goodput(sc, L, beta + e, continuous=True) - np_goodput(sc, L, beta - e, continuous=True)) / (2 * e[k])
        assert float(gb[k]) == pytest.approx(fd, rel=1e-7, abs=1e-9 * G)


def test_vmap_over_a_batch_of_scenarios_and_jit():
    scs = [_scenario("linear", seed=s) for s in range(4)]
    batch = jd.stack_scenarios(scs)
    # one array per field, stacked along a leading scenario axis; the same as stacking Params
    ref = jd.stack_params([jd.params_from_scenario(s) for s in scs])
    leaves = zip(jax.tree_util.tree_leaves(batch), jax.tree_util.tree_leaves(ref), strict=True)
    assert all(np.array_equal(a, b) for a, b in leaves)
    L, beta = jnp.full(K, 3.0), jnp.full(K, 1.0 / K)
    G = jax.jit(jax.vmap(jd.goodput, in_axes=(0, None, None)))(batch, L, beta)
    ref = [np_goodput(s, np.full(K, 3), np.full(K, 1.0 / K)) for s in scs]
    assert np.allclose(G, ref, rtol=1e-14)
    theta, b = jax.vmap(jd.h2_allocation)(batch)
    for i, s in enumerate(scs):
        bn, Tn = equal_finish_allocation(s, np.ones(K))
        assert float(theta[i]) == pytest.approx(Tn, rel=1e-13)
        assert np.allclose(b[i], bn, rtol=1e-12)


def test_params_accept_profiles_and_stacking_checks_static_fields():
    with pytest.raises(ValueError, match="scenario must be a Scenario, got dict"):
        jd.params_from_scenario({})
    pos = Scenario(alpha=np.full((2, 3), 0.7), t_draft=0.01, bits_per_token=10, bandwidth_hz=1e4,
                   spectral_efficiency=1.0, v0=0.1, max_draft=3)
    p = jd.params_from_scenario(pos)
    assert p.positional and p.alpha.shape == (2, 3) and p.n_users == 2
    assert jd.static_key(pos) == (2, "linear", "ragged", 3, True)
    with pytest.raises(ValueError, match="params must be a non-empty list of Params, got"):
        jd.stack_params([])
    a = jd.params_from_scenario(_scenario("linear"))
    b = jd.params_from_scenario(_scenario("shannon"))
    with pytest.raises(ValueError, match=r"params\[1\] differs from params\[0\] in K, rate_model"):
        jd.stack_params([a, b])
    with pytest.raises(ValueError, match="scenarios must be a non-empty sequence of Scenario, got an empty one"):
        jd.stack_scenarios([])
    with pytest.raises(ValueError, match=r"scenarios\[1\] differs from scenarios\[0\] in \(K, rate_model, batching"):
        jd.stack_scenarios([_scenario("linear"), _scenario("linear", batching="padded")])


def test_import_does_not_enable_x64_and_calls_require_it(tmp_path):
    """Issue 12 item 7: importing the package leaves jax_enable_x64 alone; a call with it off raises
    a RuntimeError naming the flag; the scoped jax.enable_x64(True) context works and ends."""
    import os
    import subprocess
    import sys

    code = (
        "import jax\n"
        "import numerics.differentiable as jd\n"
        "assert jax.config.jax_enable_x64 is False, 'import flipped jax_enable_x64'\n"
        "from numerics import Scenario\n"
        "s = Scenario(alpha=0.8, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=1.0, v0=0.1)\n"
        "try:\n"
        "    jd.params_from_scenario(s)\n"
        "except RuntimeError as e:\n"
        "    assert 'jax_enable_x64' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no error with jax_enable_x64 off')\n"
        "with jax.enable_x64(True):\n"
        "    th, b = jd.h2_allocation(jd.params_from_scenario(s))\n"
        "    assert th.dtype == 'float64'\n"
        "assert jax.config.jax_enable_x64 is False\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def test_profile_tokens_match_numpy_and_take_the_left_slope():
    """A of a profile = numerics.expected_tokens_positional (linear between integers); dA/dL is the slope
    of the segment ending at an integer L (the left one), the right one at L = 0; dA/dalpha agrees with
    the NumPy recursion of numerics.sensitivity.profile_alpha_derivative (two independent codes) and
    with a central difference."""
    from numerics import expected_tokens_positional
    from numerics.sensitivity import profile_alpha_derivative

    rng = np.random.default_rng(3)
    al = rng.uniform(0.3, 0.95, (4, 6))
    al[1, 2] = 0.0  # a zero inside the profile
    Ls = np.array([0.0, 2.0, 3.4, 6.0])
    A = np.asarray(jd.expected_tokens_profile(jnp.asarray(al), jnp.asarray(Ls)))
    assert np.allclose(A, expected_tokens_positional(al, Ls), rtol=1e-15)
    dL = np.asarray(jax.vmap(jax.grad(jd.expected_tokens_profile, 1))(jnp.asarray(al), jnp.asarray(Ls)))
    c = np.cumprod(al, axis=1)
    assert np.allclose(dL, [c[0, 0], c[1, 1], c[2, 3], c[3, 5]], rtol=1e-15)
    da = np.asarray(jax.vmap(jax.grad(jd.expected_tokens_profile, 0))(jnp.asarray(al), jnp.asarray(Ls)))
    assert np.allclose(da, profile_alpha_derivative(al, Ls), rtol=1e-13, atol=1e-15)
    # A is a polynomial in alpha: a central difference (h = 1e-6 relative) is exact to ~1e-10
    h = 1e-6
    e = np.zeros_like(al)
    e[2, 1] = h * al[2, 1]
    fd = (expected_tokens_positional(al + e, Ls) - expected_tokens_positional(al - e, Ls))[2] / (2 * e[2, 1])
    assert da[2, 1] == pytest.approx(fd, rel=1e-8)


# ============================================================== H2 (equal finish)
@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_h2_matches_numpy_solver_and_theory_closed_form(model):
    sc = _scenario(model, bits_per_token=[100.0, 0.0, 300.0, 50.0, 400.0])  # one user uploads nothing
    sc = sc.replace(t_draft=np.where(sc.bits_per_token > 0, sc.t_draft, 1e-3))  # ... and does not set theta*
    p = jd.params_from_scenario(sc)
    theta_star, beta = jd.h2_allocation(p)
    bn, Tn = equal_finish_allocation(sc, np.ones(K))
    assert float(theta_star) == pytest.approx(Tn, rel=1e-13)
    assert np.allclose(beta, bn, rtol=1e-12, atol=1e-300) and float(beta[1]) == 0.0
    assert float(jnp.sum(beta)) == pytest.approx(1.0, abs=1e-14)
    # theory.homogeneous.share_for_theta at theta*, user by user (mpmath, 30 digits)
    mpmath.mp.dps = 30
    ch = eta if model == "linear" else rho
    f = sp.lambdify((s_sym, t_sym, B, ch, theta), thhom.share_for_theta(model), "mpmath")
    for k in (0, 2, 3, 4):
        args = (sc.bits_per_token[k], sc.t_draft[k], sc.bandwidth_hz, sc.channel[k], theta_star)
        want = f(*(mpmath.mpf(float(v)) for v in args))
        assert float(beta[k]) == pytest.approx(float(want), rel=1e-12)


def test_shannon_inverse_jvp_matches_theory_derivatives():
    """d beta / d(r, B, rho) of the W_{-1} inverse = sympy.diff of theory.channel.shannon_share_for_rate."""
    mpmath.mp.dps = 40
    expr = thc.shannon_share_for_rate()
    p = jd.params_from_scenario(_scenario("shannon"))
    Rs = np.array([1e3, 5e4, 2e5, 4e5, 7e5])
    Bs, rhos = 1e5, np.asarray(p.channel)
    Rs = np.minimum(Rs, 0.9 * Bs * rhos / math.log(2))  # reachable: c < 1

    def share(R, bw, ch):
        q = jd.Params(p.alpha, p.t, p.s, ch, bw, p.v0, p.v1, p.overhead, "shannon", p.batching, p.max_draft)
        return jd.share_for_rate(q, R)

    jR, jB, jrho = jax.jacfwd(share, (0, 1, 2))(jnp.asarray(Rs), p.bandwidth, p.channel)
    jac = [np.diagonal(np.asarray(jR)), np.asarray(jB), np.diagonal(np.asarray(jrho))]
    for var, got in zip((r_sym, B, rho), jac, strict=True):
        f = sp.lambdify((r_sym, B, rho), sp.diff(expr, var), "mpmath")
        want = np.array([float(f(mpmath.mpf(R), mpmath.mpf(Bs), mpmath.mpf(float(c))))
                         for R, c in zip(Rs, rhos, strict=True)])
        assert np.allclose(got, want, rtol=1e-11)  # measured ~1e-14; W_{-1} near -1/e at the largest c


@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_h2_implicit_gradient_vs_finite_differences_of_numpy_solver(model):
    """d theta*/dp by custom_root (implicit) vs central differences of equal_finish_allocation.

    The NumPy root is exact to ~4 eps (brentq rtol), h = 1e-6 relative: rounding ~1e-9,
    truncation ~1e-12 -> rtol 1e-6. Plus the rounding of theta itself through the central
    difference, |error| <= 2 * 4 eps theta / (2 e_k): it dominates where d theta / dp is tiny
    (a user with a high SNR: d theta / d rho ~ -1e-9 s, where two theta values accurate to 2e-16
    relative, mpmath-checked, give an FD error of ~3e-6 relative).
    """
    sc = _scenario(model)
    p = jd.params_from_scenario(sc)
    g = jax.grad(lambda q: jd.h2_allocation(q)[0])(p)
    field = "spectral_efficiency" if model == "linear" else "snr"

    def theta_np(**ch):
        return equal_finish_allocation(sc.replace(**ch), np.ones(K))[1]

    h = 1e-6
    for name, jname in [("t_draft", "t"), ("bits_per_token", "s"), (field, "channel")]:
        base = getattr(sc, name)
        for k in range(K):
            e = np.zeros(K)
            e[k] = h * base[k]
            fd = (theta_np(**{name: base + e}) - theta_np(**{name: base - e})) / (2 * e[k])
            rounding = 4 * np.finfo(float).eps * theta_np() / e[k]  # docstring: FD of a rounded theta
            assert float(getattr(g, jname)[k]) == pytest.approx(fd, rel=1e-6, abs=rounding)
    dB = h * sc.bandwidth_hz
    fd = (theta_np(bandwidth_hz=sc.bandwidth_hz + dB) - theta_np(bandwidth_hz=sc.bandwidth_hz - dB)) / (2 * dB)
    assert float(g.bandwidth) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("model", ["linear", "shannon"])
@pytest.mark.parametrize("kw", [dict(alpha=0.7), dict(v1=1e-4, overhead=0.01)])
def test_h4_continuous_length_is_a_stationary_point_of_the_jax_goodput(model, kw):
    """grad-H4: d G_H / dL (jax.grad, theta* implicit) vanishes at the continuous optimum of
    numerics.homogeneous (the W_{-1} closed form for one common alpha, a 1-D root otherwise)."""
    from numerics import solve_homogeneous

    sc = _scenario(model, **kw)
    sol = solve_homogeneous(sc)
    Lc = sol.multipliers["L_continuous"]
    assert 1 < Lc < sc.max_draft
    p = jd.params_from_scenario(sc)
    dG = float(jax.grad(jd.homogeneous_goodput, 1)(p, Lc))
    G = float(jd.homogeneous_goodput(p, Lc))
    assert abs(dG) * Lc / G <= 1e-12  # measured <= 3e-16; a wrong L_c by 1e-6 gives ~1e-7
    # and the JAX goodput at the solver's integer point is the solver's goodput
    assert float(jd.homogeneous_goodput(p, float(sol.draft_lengths[0]))) == pytest.approx(sol.goodput, rel=1e-13)


# ============================================================== D3 (heterogeneous inner problem)
def test_d3_shares_match_model_md_closed_form_from_theory():
    """The overflow-free D3 form = MODEL.md's v = 2 W_0(kappa sqrt(M)/2)/kappa (theory.heterogeneous).

    Against mpmath at 50 digits.
    """
    mpmath.mp.dps = 50
    v_expr = thh.model_md_closed_form()["v"]
    syms = (a_sym, thh.t_pos, thh.s_pos, tau, lam, B, eta)
    fv = sp.lambdify(syms, v_expr, "mpmath")
    sc = _scenario("linear", max_draft=10**6)  # no cap: the closed form itself
    p = jd.params_from_scenario(sc)
    checked = 0
    for tau_v in (0.01, 0.03, 0.1):
        lam_hi = float(jnp.max(jd.marginal_tokens(p.alpha, 0.0) * tau_v * p.bandwidth * p.channel / p.s))
        for lam_v in lam_hi * np.array([1e-3, 0.1, 0.5, 0.9]):
            beta, L = jd.d3_shares(p, tau_v, lam_v)
            for k in range(K):
                args = [mpmath.mpf(float(x)) for x in (sc.alpha[k], sc.t_draft[k], sc.bits_per_token[k], tau_v, lam_v,
                                                        sc.bandwidth_hz, sc.spectral_efficiency[k])]
                v = fv(*args)
                want = (1 / v - args[2]) / (args[1] * args[5] * args[6])
                if want <= 0:  # the max(0, .) of docs/model.md
                    assert float(beta[k]) == 0.0 and float(L[k]) == 0.0
                    continue
                checked += 1
                # relative conditioning of beta = (1/v - s)/(t B eta): 1/(1 - s v) <= 1e3 here
                assert float(beta[k]) == pytest.approx(float(want), rel=2e-12)
                assert float(L[k]) == pytest.approx(float(tau_v * (1 - args[2] * v) / args[1]), rel=2e-12)
    assert checked >= 30


def test_d3_free_drafting_branch_matches_theory():
    """t = 0: L = ln(lambda s (1-alpha) / (tau B eta (-ln alpha))) / ln alpha - 1 (theory.heterogeneous)."""
    d = thh.kkt_closed_form_free_drafting()
    fL = sp.lambdify((a_sym, thh.s_pos, tau, lam, B, eta), d["displayed"], "numpy")
    sc = _scenario("linear", t_draft=0.0, max_draft=10**6)
    p = jd.params_from_scenario(sc)
    tau_v, lam_v = 0.02, 0.05
    beta, L = jd.d3_shares(p, tau_v, lam_v)
    want = fL(sc.alpha, sc.bits_per_token, tau_v, lam_v, sc.bandwidth_hz, sc.spectral_efficiency)
    want = np.maximum(want, 0.0)
    assert np.allclose(L, want, rtol=1e-13)
    assert np.allclose(beta, sc.bits_per_token * want / (tau_v * sc.bandwidth_hz * sc.spectral_efficiency), rtol=1e-13)


def test_d3_kkt_by_autodiff_and_band_use():
    """grad-D3: jax.grad of A(alpha_k, L_k(beta)) at the D3 shares equals lambda for every served, uncapped user."""
    sc = _scenario("linear", max_draft=12)
    p = jd.params_from_scenario(sc)
    for tau_v in (0.01, 0.04, 0.1):
        lam_v, beta, L = jd.d3_allocation(p, tau_v)
        assert float(jnp.sum(beta)) == pytest.approx(1.0, abs=1e-13)
        grad = jax.grad(lambda b, tau_v=tau_v: jd.inner_objective(p, tau_v, b))(beta)
        served = np.asarray((beta > 0) & (L < p.max_draft))
        assert served.sum() >= 2
        assert np.allclose(np.asarray(grad)[served], float(lam_v), rtol=1e-11)
        capped = np.asarray(L >= p.max_draft)
        # capped users sit at the kink: the left derivative is >= lambda, the right one 0
        for k in np.flatnonzero(capped):
            e = jnp.zeros(K).at[k].set(1e-9 * float(beta[k]))
            left = (jd.inner_objective(p, tau_v, beta) - jd.inner_objective(p, tau_v, beta - e)) / e[k]
            assert float(left) >= float(lam_v) * (1 - 1e-6)


def test_d3_edge_users_are_nan_free():
    sc = _scenario("linear", alpha=[0.0, 0.6, 0.9, 1 - 1e-12, 0.7], t_draft=[0.01, 0.0, 0.02, 0.01, 1e-9],
                   bits_per_token=[100.0, 200.0, 0.0, 100.0, 100.0], max_draft=16)
    p = jd.params_from_scenario(sc)
    lam_v, beta, L = jd.d3_allocation(p, 0.05)
    assert np.all(np.isfinite(beta)) and np.all(np.isfinite(L)) and np.isfinite(float(lam_v))
    assert float(beta[0]) == 0.0 and float(L[0]) == 0.0  # alpha = 0: drafting is useless
    assert float(beta[2]) == 0.0 and float(L[2]) == 2.5  # no upload: draft to the deadline, 0.05 / 0.02
    G, g = jd.heterogeneous_value_and_grad(p)
    assert np.isfinite(float(G))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(g))


def test_d3_bad_input_raises():
    msg = r"rate_model: the D3 closed form is for the linear rate and i\.i\.d\. alpha, got 'shannon'"
    with pytest.raises(ValueError, match=msg):
        jd.d3_shares(jd.params_from_scenario(_scenario("shannon")), 0.05, 1.0)
    pos = Scenario(alpha=np.full((K, 4), 0.7), t_draft=0.01, bits_per_token=100, bandwidth_hz=1e5,
                   spectral_efficiency=2.0, v0=0.05, max_draft=4)
    with pytest.raises(ValueError, match="got 'linear' with a profile"):
        jd.d3_shares(jd.params_from_scenario(pos), 0.05, 1.0)


def test_heterogeneous_optimum_is_the_best_deadline():
    """G_D(tau*) >= G_D on a dense grid, and the D5 condition phi(tau*) = 0 holds."""
    sc = _scenario("linear", max_draft=16, overhead=0.01)
    p = jd.params_from_scenario(sc)
    opt = jd.heterogeneous_optimum(p)
    c = sc.v0 + sc.overhead
    grid = np.linspace(0.2, 3.0, 15) * float(opt.tau)
    G = [float(jd.inner_value(p, x)) / (x + c) for x in grid]
    assert float(opt.goodput) >= max(G) * (1 - 1e-14)
    # goodput of the returned point by the NumPy model
    want = np_goodput(sc, np.asarray(opt.L), np.asarray(opt.beta), continuous=True)
    assert float(opt.goodput) == pytest.approx(want, rel=1e-13)
    assert not bool(opt.corner)
    # implicit derivative (lambda*, the shares by custom_root; Danskin in tau*) vs central differences
    # of the optimum itself (h = 1e-6 relative; the solve is float-exact: rounding ~1e-9) -> rtol 1e-6
    G, g = jd.heterogeneous_value_and_grad(p)
    assert float(G) == float(opt.goodput)
    h = 1e-6
    for field in ("alpha", "t", "channel"):
        base = getattr(p, field)
        for k in (0, 3):
            e = jnp.zeros(K).at[k].set(h * base[k])
            up = jd.heterogeneous_optimum(dataclasses.replace(p, **{field: base + e})).goodput
            dn = jd.heterogeneous_optimum(dataclasses.replace(p, **{field: base - e})).goodput
            assert float(getattr(g, field)[k]) == pytest.approx(float(up - dn) / float(2 * e[k]), rel=1e-6)


def _heterogeneous_solver():
    from numerics import solve_heterogeneous

    return solve_heterogeneous


def _check_against_numpy(sc: Scenario, opt) -> float:
    """The JAX optimum vs solve_heterogeneous(sc, integer=False); returns the relative difference.

    Where the NumPy certificate is tight (gap <= 1e-10) the two must agree within 1e-9 relative
    (both are float64 solvers of the same relaxation; NumPy places the deadline to 1e-9, so
    L and beta agree to ~1e-8 only, G to far better since it is stationary there). Where it is
    not (padded batching with v1 > 0 and a profile, where NumPy's cap search can stop short:
    reported to i9-solver), the JAX optimum must be at least as good and below NumPy's
    certified bound. Always: the NumPy goodput of the JAX point equals the JAX goodput (the
    point is feasible and its value right, evaluated by independent code).
    """
    sol = _heterogeneous_solver()(sc, integer=False)
    G = float(opt.goodput)
    L, beta = np.asarray(opt.L), np.asarray(opt.beta)
    assert np_goodput(sc, L, beta, continuous=True) == pytest.approx(G, rel=1e-12)
    rel = (G - sol.goodput) / sol.goodput
    if sol.gap <= 1e-10:
        assert abs(rel) <= 1e-9, (rel, sol.gap)
    else:
        assert rel >= -1e-12 and G <= sol.upper_bound * (1 + 1e-12), (rel, sol.gap)
    return rel


#: kinds run by default: one static combination per line shares one compilation
DEFAULT_KINDS = [("linear", "ragged", False), ("shannon", "padded", True)]


@pytest.mark.parametrize("static", DEFAULT_KINDS)
def test_jax_optimum_matches_numpy_heterogeneous_solver(static):
    """Every scenario the NumPy continuous solver accepts goes through the JAX optimum: v1 = 0 and
    v1 > 0 (Dinkelbach or the padded cap), users with s = 0, t = 0, alpha = 0 (tests/_scenario_kinds.py)."""
    model, batching, profile = static
    v1s = (0.0, 1e-4) if not (batching == "padded" and profile) else (0.0,)
    worst = 0.0
    for v1 in v1s:
        for seed, edge in ((1, False), (2, True), (3, True)):
            sc = kind_scenario(seed, K, model, v1, batching, profile, edge)
            worst = max(worst, abs(_check_against_numpy(sc, jd.heterogeneous_optimum(jd.params_from_scenario(sc)))))
    assert worst <= 1e-9


@pytest.mark.parametrize("kw", [dict(overhead=0.01), dict(bits_per_token=[120.0, 300.0, 0.0, 80.0, 450.0]),
                                dict(t_draft=[0.0, 0.01, 0.02, 0.0, 0.005]),
                                dict(alpha=[0.99, 0.995, 0.98, 0.99, 0.985], v0=2.0)])
def test_jax_optimum_matches_numpy_on_handpicked_cases(kw):
    """Two independent implementations of D1-D5 (NumPy solve_heterogeneous(integer=False) and the
    JAX solver) agree; the last scenario is the corner where every user is capped."""
    sc = _scenario("linear", **kw)
    from numerics import solve_heterogeneous

    sol = solve_heterogeneous(sc, integer=False)
    opt = jd.heterogeneous_optimum(jd.params_from_scenario(sc))
    assert float(opt.goodput) == pytest.approx(sol.goodput, rel=1e-10)
    assert float(opt.tau) == pytest.approx(sol.multipliers["tau"], rel=1e-8)
    assert np.allclose(opt.beta, sol.bandwidth, rtol=0, atol=1e-8)
    assert np.allclose(opt.L, sol.draft_lengths, rtol=0, atol=1e-7)
    if not bool(opt.corner):  # at the corner lambda is not unique
        assert float(opt.lam) == pytest.approx(sol.multipliers["lambda"], rel=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("static", STATIC_KINDS)
def test_jax_optimum_matches_numpy_every_kind(static):
    """Slow: every static combination, v1 = 0 and v1 > 0, with and without edge users, 12 seeds each."""
    model, batching, profile = static
    rels = []
    for v1 in (0.0, 1e-4):
        for seed in range(12):
            sc = kind_scenario(100 + seed, K, model, v1, batching, profile, edge=bool(seed % 2))
            try:
                _heterogeneous_solver()(sc, integer=False)
            except RuntimeError:  # the NumPy solver's known failures (issue 9): nothing to compare with
                continue
            rels.append(_check_against_numpy(sc, jd.heterogeneous_optimum(jd.params_from_scenario(sc))))
    assert len(rels) >= 18


_BATCHED_VALUE_AND_GRAD = jax.jit(jax.vmap(jd.heterogeneous_value_and_grad))


def test_vmapped_optimum_and_gradient_equal_the_single_calls():
    """jax.vmap over a stack (stack_scenarios) gives the optimum and gradient of each scenario; v1 is a
    leaf, so v1 = 0 and v1 > 0 (Dinkelbach) share one batch and one compilation."""
    scs = [kind_scenario(s, K, "linear", v1, "ragged", False, edge=bool(s % 2))
           for s, v1 in ((0, 0.0), (1, 1e-4), (2, 0.0))]
    Gb, gb = _BATCHED_VALUE_AND_GRAD(jd.stack_scenarios(scs))
    for i, sc in enumerate(scs):
        G, g = jd.heterogeneous_value_and_grad(jd.params_from_scenario(sc))
        assert float(Gb[i]) == pytest.approx(float(G), rel=1e-13)
        for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(gb), strict=True):
            assert np.allclose(np.asarray(b)[i], np.asarray(a), rtol=1e-9, atol=1e-12 * float(G))


# ============================================================== gradient ascent vs closed forms
@pytest.mark.parametrize("model", ["linear", "shannon"])
def test_projected_gradient_reaches_h2(model):
    """grad-H2: smoothed projected gradient on max_k h_k from 4 seeded starts reaches theta*, beta* (1e-6 rel)."""
    sc = _scenario(model)
    p = jd.params_from_scenario(sc)
    theta, beta = jd.h2_allocation(p)
    starts = jnp.asarray(np.random.default_rng(11).dirichlet(np.ones(K), 4))
    found = jax.jit(jax.vmap(jd.minimax_latency_descent, (None, 0)))(p, starts)
    th = jax.vmap(lambda b: jnp.max(jd.per_token_latency(p, b)))(found)
    assert np.all(np.asarray(th) >= float(theta) * (1 - 1e-14))  # H2 is never beaten
    assert np.all(np.asarray(th) <= float(theta) * (1 + 1e-6))
    assert np.max(np.abs(np.asarray(found) - np.asarray(beta)) / np.asarray(beta)) <= 1e-6


def test_projected_gradient_reaches_d3():
    """grad-D3: projected gradient ascent on F(beta) at fixed tau from 4 seeded starts reaches the D3 optimum."""
    sc = _scenario("linear")  # max_draft = 64: no user capped at these deadlines
    p = jd.params_from_scenario(sc)
    run = jax.jit(jax.vmap(jd.inner_ascent, (None, None, 0)))
    starts = jnp.asarray(np.random.default_rng(12).dirichlet(np.ones(K), 4))
    for tau_v in (0.02, 0.06):
        _lam_v, beta, L = jd.d3_allocation(p, tau_v)
        assert float(jnp.max(L)) < p.max_draft
        found = run(p, tau_v, starts)
        F = float(jd.inner_value(p, tau_v))
        Fs = np.asarray(jax.vmap(lambda b, tau_v=tau_v: jd.inner_objective(p, tau_v, b))(found))
        assert np.all(Fs <= F * (1 + 1e-14))  # D3 is never beaten
        assert np.all(Fs >= F * (1 - 1e-9))
        assert np.max(np.abs(np.asarray(found) - np.asarray(beta)) / np.asarray(beta)) <= 1e-6


def test_project_simplex_matches_bisection_on_the_threshold():
    """Duchi et al.'s sort-based projection = max(v - c, 0) with sum 1, c found by NumPy bisection."""
    rng = np.random.default_rng(13)
    proj = jax.jit(jd.project_simplex)
    for v in [rng.normal(0, 1, K), rng.normal(0, 1e-3, K) + 0.2, np.array([5.0, -3, 0.1, 0.2, 0.2]), np.full(K, 0.2)]:
        lo, hi = float(v.min()) - 1.0, float(v.max())
        for _ in range(200):  # sum(max(v - c, 0)) is decreasing in c
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if np.maximum(v - mid, 0).sum() > 1 else (lo, mid)
        ref = np.maximum(v - hi, 0)
        got = np.asarray(proj(jnp.asarray(v)))
        assert np.all(got >= 0) and got.sum() == pytest.approx(1.0, abs=1e-15)
        assert np.allclose(got, ref, atol=1e-15)


@pytest.mark.parametrize("tau_s", [1e-15, 1e-9, 1e-3])
def test_d3_shares_precise_at_tiny_deadlines(tau_s):
    """D3 closed form at deadlines down to 1e-15 s: the share that makes the marginal value of band
    equal lambda is returned to 1e-12 relative. Reference: mpmath at 50 digits, lambda = A'(L(b)) L'(b)
    at the chosen shares b (linear rate L(b) = tau B eta b / (s + t B eta b), A'(L) = -ln(alpha)
    alpha^(L+1) / (1 - alpha)). The form -mu + ln x cancelled there (delta ~ tau next to mu ~ ln tau:
    shares 1e-2 off at 1e-15 s, which made the lambda search crawl)."""
    mpmath.mp.dps = 50
    alpha, t, s, Bw, eta_ = [0.8, 0.6], [5e-3, 2e-4], [1000.0, 80.0], 1e6, [2.0, 0.7]
    b_ref = [0.5, 0.3]
    with jax.enable_x64(True):
        sc = Scenario(alpha=alpha, t_draft=t, bits_per_token=s, bandwidth_hz=Bw, spectral_efficiency=eta_,
                      v0=0.01, v1=0.0, overhead=0.0, max_draft=16)
        p = jd.params_from_scenario(sc)
        for k in range(2):
            a, T = mpmath.mpf(alpha[k]), mpmath.mpf(tau_s)
            Be, b = mpmath.mpf(Bw) * mpmath.mpf(eta_[k]), mpmath.mpf(b_ref[k])
            den = mpmath.mpf(s[k]) + mpmath.mpf(t[k]) * Be * b
            L = T * Be * b / den
            L1 = T * Be * mpmath.mpf(s[k]) / den ** 2
            lam_k = -mpmath.log(a) * a ** (L + 1) / (1 - a) * L1
            beta, _ = jd.d3_shares(p, tau_s, float(lam_k))
            assert abs(float(beta[k]) / b_ref[k] - 1.0) <= 1e-12, (k, float(beta[k]))
