"""Gradient checks for every scenario kind (issue 15): jax.grad vs the NumPy solver vs the envelope theorem.

For each case that the JAX optimum and ``sensitivity`` newly cover (Shannon rate; v1 > 0 with
ragged batching, Dinkelbach; padded batching with its common cap; a position-dependent
profile; users without upload, with free drafting or with alpha = 0), three independent
computations of dG*/dp at the continuous heterogeneous optimum (docs/model.md D1-D6) agree:

- ``jax.grad`` through :func:`numerics.differentiable.heterogeneous_optimum` (implicit
  differentiation at the JAX solver's own optimum), via ``sensitivity_autodiff``;
- the envelope theorem with the multipliers recovered from the NumPy solution
  (:func:`numerics.sensitivity.sensitivity`);
- central finite differences of ``numerics.solve_heterogeneous(s, integer=False)`` (the
  NumPy solver, an independent implementation of D1-D6).

And projected-gradient ascent on the whole continuous problem (``full_ascent``: jax.grad of
the model, no closed form) from seeded starts reaches the optimum of the Shannon-rate and
v1 > 0 problems that the closed-form structure gives (the NumPy solver: D3 shares at the
Lambert-W/KKT responses, D5 deadline, D6 Dinkelbach ratio).
"""

from __future__ import annotations

import functools

import numpy as np

from .registry import claim

K = 5

# Central differences of the NumPy solver. Its optimum is exact to a few ulp (it agrees with
# the JAX solver to 1e-12 relative on these scenarios), so with a relative step h = 1e-6 the
# rounding error of a central difference is ~ 10 eps G / (h p) and the truncation ~ h^2 G'''/G':
# 1e-6 relative plus an absolute floor of 1e-14 G / step (45 eps G / step) is safe and still
# fails for a missing or wrong term, which changes a derivative by an O(1) factor.
H = 1e-6
FD_REL = 1e-6
# Envelope (NumPy multipliers at the NumPy optimum) vs jax.grad (at the JAX optimum): the two
# solvers place the deadline to ~1e-9 and ~1e-11 relative; the derivatives are first order in
# it (measured: up to 3e-8 relative, tests/test_sensitivity.py), so 1e-7.
AGREE = 1e-7


def _x64(fn):
    """Run ``fn`` inside ``jax.enable_x64(True)`` (numerics.differentiable requires float64 and
    never sets the global flag itself)."""

    @functools.wraps(fn)
    def run():
        import jax

        with jax.enable_x64(True):
            return fn()

    return run


def _kind(seed: int, model: str, v1: float = 0.0, batching: str = "ragged", profile: bool = False,
          edge: bool = False, max_draft: int = 16):
    """A seeded K = 5 scenario of the given kind (fields drawn log-uniform over decades)."""
    from numerics import Scenario

    rng = np.random.default_rng([seed, int(model == "shannon"), int(batching == "padded"), int(profile), int(edge)])

    def lu(lo, hi, n=K):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))

    s, t = lu(50, 5000), lu(1e-4, 2e-2)
    alpha = rng.uniform(0.4, 0.95, K)
    if edge:
        s[0] = 0.0          # no upload
        t[1] = 0.0          # free drafting, uploads
        alpha[2] = 0.0      # drafting is useless
        s[3], t[3] = 0.0, 0.0
    if profile:
        alpha = np.clip(alpha[:, None] + rng.normal(0.0, 0.08, (K, max_draft)), 0.0, 0.99)
    ch = {"spectral_efficiency": lu(0.5, 8.0)} if model == "linear" else {"snr": lu(0.1, 1e3)}
    return Scenario(alpha=alpha, t_draft=t, bits_per_token=s, bandwidth_hz=float(lu(1e4, 1e7, 1)[0]),
                    rate_model=model, v0=float(lu(5e-3, 0.2, 1)[0]), v1=v1, overhead=float(rng.uniform(0.0, 0.01)),
                    batching=batching, max_draft=max_draft, **ch)


def _np_goodput(sc) -> float:
    from numerics import solve_heterogeneous

    return solve_heterogeneous(sc, integer=False).goodput


def _three_way(sc, users=(0, 4)) -> str:
    """jax.grad vs envelope (every entry) vs central differences of the NumPy solver (the system
    parameters, and every per-user field of ``users``; for a profile, positions 0 and 2)."""
    from numerics import solve_heterogeneous
    from numerics.sensitivity import sensitivity, sensitivity_autodiff

    sol = solve_heterogeneous(sc, integer=False)
    env, ad = sensitivity(sc, sol), sensitivity_autodiff(sc, sol)
    assert env.mode == ad.mode == "optimal", (env.mode, ad.mode)
    G0 = sol.goodput
    assert abs(ad.system["goodput"] / G0 - 1) <= 1e-9, (ad.system["goodput"], G0)  # same optimum
    # Relative to each derivative, with a floor at an elasticity (p dG/dp / G) of 1e-6: below it (a
    # user drafting ~1e-7 tokens) the two solvers' placements of the optimum (1e-9 vs 1e-11 in
    # tau) move a derivative by more than AGREE relative of itself but not of anything measurable.
    worst_ad = 0.0

    def agree(x, y, p):
        floor = 1e-6 * G0 / np.where(np.abs(p) > 0, np.abs(p), np.inf)
        return float(np.max(np.abs(x - y) / np.maximum(np.maximum(np.abs(x), floor), 1e-300)))

    ch = "spectral_efficiency" if sc.rate_model == "linear" else "snr"
    alpha_k = sc.alpha.mean(axis=1) if sc.positional else sc.alpha
    for col, p in (("dG_dalpha", alpha_k), ("dG_dt", sc.t_draft), ("dG_ds", sc.bits_per_token),
                   ("dG_dchannel", getattr(sc, ch))):
        worst_ad = max(worst_ad, agree(env.users[col], ad.users[col], p))
    for key, f in (("dG_dB", "bandwidth_hz"), ("dG_dv0", "v0"), ("dG_dv1", "v1"), ("dG_doverhead", "overhead")):
        p = getattr(sc, f) if getattr(sc, f) > 0 else sc.v0  # v1 = 0, T_o = 0: the scale of v0
        worst_ad = max(worst_ad, agree(env.system[key], ad.system[key], p))
    if sc.positional:
        worst_ad = max(worst_ad, agree(env.profile, ad.profile, sc.alpha))

    # (derivative from the envelope, from jax.grad, the scenario field, index or None)
    checks = [("dG_dB", "bandwidth_hz"), ("dG_dv0", "v0")] + ([("dG_dv1", "v1")] if sc.v1 > 0 else [])
    if sc.overhead > 0:
        checks.append(("dG_doverhead", "overhead"))
    pairs = [(env.system[k], ad.system[k], f, None) for k, f in checks]
    fields = [("dG_dt", "t_draft"), ("dG_ds", "bits_per_token"), ("dG_dchannel", ch)]
    if not sc.positional:
        fields.append(("dG_dalpha", "alpha"))
    for col, f in fields:
        pairs += [(env.users[col][k], ad.users[col][k], f, k) for k in users if getattr(sc, f)[k] > 0]
    if sc.positional:
        pairs += [(env.profile[k, j], ad.profile[k, j], "alpha", (k, j)) for k in users for j in (0, 2)
                  if sc.alpha[k, j] > 0]
    worst_fd = 0.0
    for e, a, field, idx in pairs:
        base = getattr(sc, field)
        val = float(base if idx is None else base[idx])
        step = H * val

        def G(x, field=field, base=base, idx=idx):
            if idx is None:
                return _np_goodput(sc.replace(**{field: x}))
            arr = base.copy()
            arr[idx] = x
            return _np_goodput(sc.replace(**{field: arr}))

        fd = (G(val + step) - G(val - step)) / (2 * step)
        tol = FD_REL * abs(fd) + 1e-14 * G0 / step
        worst_fd = max(worst_fd, abs(e - fd) / tol, abs(a - fd) / tol)
    assert worst_ad <= AGREE and worst_fd <= 1.0, (worst_ad, worst_fd)
    return (f"G* = {G0:.6g}: jax.grad vs envelope {worst_ad:.1e} relative (every entry); {len(pairs)} "
            f"derivatives vs central differences of solve_heterogeneous at {worst_fd:.2f} of the tolerance")


@claim("grad-shannon-profile", "Shannon rate and a position-dependent acceptance profile (A piecewise linear "
       "between integers), v1 = 0: jax.grad of the JAX continuous heterogeneous optimum (implicit in lambda and the "
       "shares, Lambert-W responses; each position's alpha) equals the envelope formula and central differences of "
       "solve_heterogeneous(integer=False)")
@_x64
def _num_shannon_profile() -> str:
    # padded batching with v1 = 0 is ragged batching (T_v = v0): the static kind the test suite
    # compiles too (one compilation per process); seed 31: users at kinks (4, 8) and at the cap
    # (16) next to interior ones
    return _three_way(_kind(31, "shannon", batching="padded", profile=True))


@claim("grad-dinkelbach", "v1 > 0, ragged batching (D6, Dinkelbach): jax.grad differentiating the ratio at its fixed "
       "point equals the envelope formula (draft tokens priced at g v1) and central differences of the NumPy solver")
@_x64
def _num_dinkelbach() -> str:
    return _three_way(_kind(22, "linear", v1=1e-4))


@claim("grad-padded", "Padded batching with v1 > 0 (the common cap held at its optimum, Danskin): jax.grad equals "
       "the envelope formula and central differences of the NumPy solver, Shannon rate")
@_x64
def _num_padded() -> str:
    return _three_way(_kind(23, "shannon", v1=1e-4, batching="padded"), users=(0,))


@claim("grad-edge-users", "Users without upload (s = 0), with free drafting (t = 0) and with alpha = 0: jax.grad "
       "equals the envelope formula and central differences of the NumPy solver, linear rate")
@_x64
def _num_edge() -> str:
    # seed 28: the user without upload (0) and the free-drafting one (1) at interior lengths
    return _three_way(_kind(28, "linear", edge=True), users=(0, 1))


_ASCENT = None


@claim("ascent-continuous", "Projected-gradient ascent (jax.grad of the model, backtracking) on the whole continuous "
       "problem from seeded starts reaches the optimum of the Shannon-rate and v1 > 0 problems (NumPy solver, "
       "D3-D6 structure) within 1e-6 relative and never beats it")
@_x64
def _num_ascent() -> str:
    import jax
    import jax.numpy as jnp

    from numerics import differentiable as jd

    global _ASCENT
    if _ASCENT is None:  # one compilation per rate model (v1 is a leaf)
        _ASCENT = jax.jit(jax.vmap(lambda p, b, x: jd.full_ascent(p, b, x, jnp.ones(K), 6000), (None, 0, 0)))
    worst, n = 0.0, 0
    for model, v1, seed in (("shannon", 0.0, 31), ("shannon", 1e-4, 32), ("linear", 1e-4, 33)):
        sc = _kind(seed, model, v1=v1)
        G_ref = _np_goodput(sc)
        p = jd.params_from_scenario(sc)
        rng = np.random.default_rng(seed)
        starts = jnp.asarray(rng.dirichlet(np.ones(K), 4))
        # ln(tau) from a random point within a factor e of the NumPy solver's deadline
        from numerics import solve_heterogeneous

        tau_ref = solve_heterogeneous(sc, integer=False).multipliers["tau"]
        x0 = jnp.asarray(np.log(tau_ref) + rng.uniform(-1.0, 1.0, 4))
        G = np.asarray(_ASCENT(p, starts, x0)[3])
        assert np.all(G <= G_ref * (1 + 1e-12)), (model, v1, G / G_ref - 1)  # the optimum is never beaten
        worst = max(worst, float(np.max(1 - G / G_ref)))
        n += len(G)
    assert worst <= 1e-6, worst
    return f"{n} ascents (Shannon v1 = 0, Shannon and linear v1 > 0): shortfall at most {worst:.1e} relative"
