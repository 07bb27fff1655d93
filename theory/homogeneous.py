r"""Homogeneous draft length: results H1 to H4 of docs/model.md, derived in SymPy.

Problem (one draft length L for every user, band shares beta on the simplex):

.. math::

    \max_{L, \beta}\; G = \frac{\sum_k A(\alpha_k, L)}{L \max_k h_k(\beta_k) + T_v(K(L+1)) + T_o},
    \qquad h_k(\beta) = t_k + s_k / r_k(\beta).

H1 (:func:`decomposition`). For L > 0, L max_k h_k = max_k L h_k, and the round time is
L theta(beta) + (terms free of beta); so the best beta minimises the per-token makespan
theta(beta) = max_k h_k(beta_k) for every L at once.

H2 (:func:`epigraph_problem`, :func:`lagrangian`, :func:`kkt_system`, :func:`kkt_solution`).
In epigraph form, min theta s.t. h_k(beta_k) <= theta, sum_k beta_k <= 1, beta_k >= 0. The
problem is convex (h_k is convex: :func:`latency_convexity`). Every uploading user has
beta_k > 0 (h_k -> inf as beta_k -> 0), so nu_k = 0, and the stationarity conditions give
mu_k = lambda / (-h_k'(beta_k)) and lambda = 1 / sum_k 1/(-h_k'(beta_k)) > 0; hence every
mu_k > 0. Complementary slackness then forces h_k(beta_k) = theta for every user (equal
finishing times) and sum_k beta_k = 1 (full band). The shares are
beta_k(theta) = r_k^{-1}(s_k / (theta - t_k)) (:func:`share_for_theta`): rational for the
linear rate, W_{-1} for the Shannon rate.

Users with s_k = 0 have h_k = t_k whatever the band; they drop out of the KKT system and
theta* = max(theta_up, max_{s_k = 0} t_k), theta_up being the equal-finish root of the
uploading users. If the maximum is a non-uploading user, the band constraint is slack
(lambda = 0) and the full band is still an optimal choice.

H3 (:func:`share_derivatives`, :func:`compensation`). At fixed theta, beta_k(theta) rises
with t_k and s_k, falls with eta_k (rho_k) and with theta. At the optimum theta* is defined
implicitly by sum_j beta_j(theta*) = 1; the implicit function theorem gives the signs of
d theta*/dp_k, d beta_j*/dp_k (j != k) and d beta_k*/dp_k: the weaker user gets more band,
every other user less.

H4 (:func:`affine_round_time`, :func:`quasi_concavity`, :func:`stationarity_equation`,
:func:`optimal_common_length`, :func:`optimal_length_residual`). With theta* fixed the round
time is c0 + c1 L, c1 = theta* + v1 K, c0 = v0 + v1 K + T_o (ragged and padded batching
agree when all lengths are equal). G(L) = N(L) / (c0 + c1 L) with N concave increasing, so
dG/dL has the sign of phi(L) = N' D - N c1, and phi' = N'' D < 0: G is quasi-concave (its
superlevel sets are intervals) and unimodal in L. For a common alpha, phi = 0 is solved in
closed form with the lower branch of Lambert W:

    z = -W_{-1}(-alpha^{c0/c1 - 1} / e),     L° = (1 - z) / ln(alpha) - c0/c1.

This is MODEL.md's formula, confirmed. MODEL.md omits its domain, added here
(:func:`stationary_point_domain`): the argument lies in [-1/e, 0) iff c0 >= c1; then
x = L° + c0/c1 > 0 gives u = 1 - x ln(alpha) >= 1, so the branch is W_{-1}, never W_0. If
c0 < c1 there is no stationary point with L > -1: phi(-1) = (c0 - c1) ln(alpha) / (alpha - 1) < 0
and phi decreases, so G decreases on [-1, inf) and the best integer length is L = 1. At c0 = c1,
L° = -1.

K = 1, s = 0, v1 = 0, T_o = 0 (:func:`leviathan_improvement`): G / G_AR equals Leviathan et
al. (2023)'s walltime improvement factor (1 - alpha^(g+1)) / ((1 - alpha)(g c + 1)),
c = t / v0, g = L.

Symbols come from :mod:`theory.symbols`; per-user copies (t_k, s_k, ...) are made here by
:func:`user_symbols`. Nothing numeric is hard-coded; :mod:`numerics.homogeneous` and
:mod:`numerics.allocation` implement these forms and are tied to them by
``tests/test_homogeneous.py``.
"""

from __future__ import annotations

import functools

import sympy as sp

from . import channel as _channel
from . import tokens as _tokens
from .symbols import B, K, L, T_o, alpha, beta, eta, in_unit_interval, rho, s, t, theta, v0, v1

__all__ = [
    "RATE_MODELS",
    "affine_round_time",
    "c0",
    "c1",
    "compensation",
    "decomposition",
    "epigraph_problem",
    "kkt_solution",
    "kkt_system",
    "lagrangian",
    "latency_convexity",
    "leviathan_improvement",
    "optimal_common_length",
    "optimal_length_residual",
    "per_token_latency",
    "quasi_concavity",
    "rate",
    "rate_increasing",
    "share_derivatives",
    "share_for_theta",
    "stationarity_equation",
    "stationary_point_domain",
    "tokens_common",
    "user_symbols",
]

RATE_MODELS = ("linear", "shannon")

#: the affine round time c0 + c1 L of H4 (constant part and slope), positive
c0 = sp.Symbol("c_0", positive=True)
c1 = sp.Symbol("c_1", positive=True)
#: an uploading user's payload is positive in the KKT system (s_k = 0 users drop out)
_s_pos = sp.Symbol("s", positive=True)


def _check_model(model: str) -> None:
    if model not in RATE_MODELS:
        raise ValueError(f"model must be one of {RATE_MODELS}, got {model!r}")


def rate(model: str, beta_: sp.Expr = beta, channel: sp.Expr | None = None) -> sp.Expr:
    """Uplink rate r(beta) of :func:`theory.channel.rate`, at share ``beta_`` and channel ``channel``.

    beta B eta (linear) or beta B log2(1 + rho/beta) (Shannon).

    Raises
    ------
    ValueError
        Unknown ``model``.

    Examples
    --------
    >>> rate('linear')
    B*beta*eta
    """
    _check_model(model)
    subs = {beta: beta_}
    if channel is not None:
        subs[eta if model == "linear" else rho] = channel
    return _channel.rate(model).subs(subs, simultaneous=True)


def per_token_latency(model: str, beta_: sp.Expr = beta, t_: sp.Expr = t, s_: sp.Expr = _s_pos,
                      channel: sp.Expr | None = None) -> sp.Expr:
    """h(beta) = t + s / r(beta) (docs/model.md section 2)."""
    return t_ + s_ / rate(model, beta_, channel)


def user_symbols(n: int, model: str) -> dict[str, tuple[sp.Symbol, ...]]:
    """Per-user symbols t_k >= 0, s_k > 0 (uploading users), channel_k > 0, beta_k > 0, mu_k >= 0.

    Raises
    ------
    ValueError
        ``n`` not a positive integer, or unknown ``model``.
    """
    _check_model(model)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = f"1:{n + 1}"
    ch = "eta" if model == "linear" else "rho"
    return {
        "t": sp.symbols(f"t_{rng}", nonnegative=True),
        "s": sp.symbols(f"s_{rng}", positive=True),
        "channel": sp.symbols(f"{ch}_{rng}", positive=True),
        "beta": sp.symbols(f"beta_{rng}", positive=True),
        "mu": sp.symbols(f"mu_{rng}", nonnegative=True),
        "nu": sp.symbols(f"nu_{rng}", nonnegative=True),
    }


# ------------------------------------------------------------------------------------- H1
def decomposition(n: int = 2, model: str = "linear", batching: str = "ragged") -> dict:
    """H1: at a common L the round time of :func:`theory.latency.round_time` is L theta(beta) + C(L).

    The K-user round time (per-user symbols of :func:`theory.symbols.user_symbols`) is taken
    with every L_k = L > 0 and split into its drafting term max_k L h_k(beta_k) and the rest
    v0 + v1 n + T_o. The rest is free of beta, and each argument of the max is L times a
    per-token latency h_k free of L; since max is positively homogeneous,
    max_k L h_k = L theta(beta) with theta(beta) = max_k h_k(beta_k). So for every L > 0 the
    round times of two allocations differ by L (theta_1 - theta_2): their order, and the best
    allocation, do not depend on L.

    Returns
    -------
    dict
        ``round_time``: T at the common L; ``drafting``: its Max term; ``rest``: T minus that
        term; ``h``: the per-token latencies h_k(beta_k); ``makespan``: Max(h_k) = theta;
        ``L``: the common length symbol; ``beta``: the share symbols.

    Raises
    ------
    ValueError
        Bad ``n`` (an integer >= 2), rate model or batching mode.
    """
    from . import latency as _latency
    from .symbols import user_symbols as _user_symbols

    _check_model(model)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (the drafting term is a max), got {n!r}")
    Lp = sp.Symbol("L", positive=True)
    u = _user_symbols(n)
    T = _latency.round_time(n, model, batching).subs({Lk: Lp for Lk in u["L"]})
    maxes = [m for m in T.atoms(sp.Max) if m.has(*u["beta"])]
    if len(maxes) != 1:
        raise ArithmeticError(f"expected one drafting term max_k L h_k in the round time, got {T}")
    drafting = maxes[0]
    ch = u["eta" if model == "linear" else "rho"]
    h0 = _latency.per_token_latency(model)
    hs = [h0.subs({t: u["t"][k], s: u["s"][k], beta: u["beta"][k], (eta if model == "linear" else rho): ch[k]},
                  simultaneous=True) for k in range(n)]
    return {
        "round_time": T,
        "drafting": drafting,
        "rest": sp.expand(T - drafting),
        "h": hs,
        "makespan": sp.Max(*hs),
        "L": Lp,
        "beta": u["beta"],
    }


# ------------------------------------------------------------------------------------- H2
def epigraph_problem(n: int, model: str) -> dict:
    """H2: min theta s.t. h_k(beta_k) - theta <= 0, sum_k beta_k - 1 <= 0, -beta_k <= 0.

    Returns ``{'variables', 'objective', 'latency', 'band', 'sign', 'symbols'}``: the
    constraint functions g <= 0 by family.
    """
    u = user_symbols(n, model)
    h = [per_token_latency(model, b, tk, sk, ch)
         for b, tk, sk, ch in zip(u["beta"], u["t"], u["s"], u["channel"], strict=True)]
    return {
        "variables": (theta,) + u["beta"],
        "objective": theta,
        "latency": [hk - theta for hk in h],
        "band": sum(u["beta"]) - 1,
        "sign": [-b for b in u["beta"]],
        "symbols": u,
        "h": h,
    }


def lagrangian(n: int, model: str) -> tuple[sp.Expr, dict]:
    """Lagrangian theta + sum mu_k (h_k - theta) + lambda (sum beta - 1) - sum nu_k beta_k.

    Returns the expression and the problem dict of :func:`epigraph_problem` (with the
    multiplier symbols under ``'symbols'``).
    """
    P = epigraph_problem(n, model)
    u = P["symbols"]
    lam0 = sp.Symbol("lambda", nonnegative=True)
    Lag = (P["objective"] + sum(m * g for m, g in zip(u["mu"], P["latency"], strict=True))
           + lam0 * P["band"] + sum(nu * g for nu, g in zip(u["nu"], P["sign"], strict=True)))
    P["lambda"] = lam0
    return Lag, P


def kkt_system(n: int, model: str) -> dict:
    """The KKT system of the epigraph problem, derived by differentiating the Lagrangian.

    Returns ``'stationarity'`` [dLag/dtheta, dLag/dbeta_1, ...], ``'primal'`` (g <= 0),
    ``'complementary'`` [mu_k g_k, lambda (sum beta - 1), nu_k beta_k] and the problem dict.
    """
    Lag, P = lagrangian(n, model)
    u = P["symbols"]
    stat = [sp.diff(Lag, v) for v in P["variables"]]
    comp = [m * g for m, g in zip(u["mu"], P["latency"], strict=True)] + [P["lambda"] * P["band"]]
    comp += [nu * b for nu, b in zip(u["nu"], u["beta"], strict=True)]
    return {"stationarity": stat, "primal": P["latency"] + [P["band"]] + P["sign"],
            "complementary": comp, "problem": P, "lagrangian": Lag}


@functools.cache
def kkt_solution(n: int = 3, model: str = "linear") -> dict:
    """Solve the stationarity conditions (with nu_k = 0, since beta_k > 0) for mu and lambda.

    The slopes -h_k'(beta_k) = s_k r_k'(beta_k) / r_k(beta_k)^2 are replaced by positive
    symbols g_k (positive because r is increasing: :func:`rate_increasing`) so that SymPy
    decides the signs. Returns ``'mu'``, ``'lambda'`` (the solution), ``'slopes'`` (the
    explicit -h_k'), ``'lambda_positive'`` and ``'mu_positive'`` (SymPy's verdicts), and
    ``'equal_finish'`` / ``'full_band'``: the equations complementary slackness then forces.
    """
    sysd = kkt_system(n, model)
    P = sysd["problem"]
    u = P["symbols"]
    lam0 = P["lambda"]
    g = sp.symbols(f"g_1:{n + 1}", positive=True)  # g_k = -h_k'(beta_k) > 0
    slopes = [sp.simplify(-sp.diff(hk, b)) for hk, b in zip(P["h"], u["beta"], strict=True)]
    stat = [e.subs({nu: 0 for nu in u["nu"]}) for e in sysd["stationarity"]]
    eqs = [stat[0]]  # dLag/dtheta = 1 - sum mu_k
    for e, hk, b, m, gk in zip(stat[1:], P["h"], u["beta"], u["mu"], g, strict=True):
        # dLag/dbeta_k = mu_k h_k'(beta_k) + lambda: check the structure, then h_k' -> -g_k
        coef, rest = sp.diff(e, m), sp.simplify(e - m * sp.diff(e, m))
        if sp.simplify(coef - sp.diff(hk, b)) != 0 or rest != lam0:
            raise ArithmeticError(f"unexpected stationarity condition {e}")
        eqs.append(-m * gk + rest)
    stat = eqs
    sol = sp.solve(stat, [*u["mu"], lam0], dict=True)
    if len(sol) != 1:
        raise ArithmeticError(f"expected a unique KKT multiplier solution, got {sol}")
    sol = sol[0]
    lam_sol = sp.simplify(sol[lam0])
    mu_sol = [sp.simplify(sol[m]) for m in u["mu"]]
    return {
        "lambda": lam_sol,
        "mu": mu_sol,
        "g": g,
        "slopes": slopes,
        "lambda_positive": lam_sol.is_positive,
        "mu_positive": all(m.is_positive for m in mu_sol),
        "mu_sum": sp.simplify(sum(mu_sol)),
        "equal_finish": [sp.Eq(hk, theta) for hk in P["h"]],
        "full_band": sp.Eq(sum(u["beta"]), 1),
        "problem": P,
    }


def rate_increasing(model: str) -> dict:
    """dr/dbeta > 0 and d^2r/dbeta^2 <= 0 (both rate models), with SymPy's sign verdicts.

    Shannon: r'(beta) = (B / ln 2) f(rho/beta), f(x) = log(1 + x) - x/(1 + x); f(0) = 0 and
    f'(x) = x / (1 + x)^2 > 0, so f > 0 on x > 0 (returned as ``'lemma_f0'``,
    ``'lemma_fprime'``).
    """
    r = rate(model)
    d1 = sp.simplify(sp.diff(r, beta))
    d2 = sp.simplify(sp.diff(r, beta, 2))
    out = {"r": r, "dr": d1, "d2r": d2, "d2r_nonpositive": d2.is_nonpositive}
    if model == "linear":
        out["dr_positive"] = d1.is_positive
    else:
        x = sp.Symbol("x", positive=True)
        f = sp.log(1 + x) - x / (1 + x)
        fp = sp.simplify(sp.diff(f, x))
        out.update(lemma_f=f, lemma_f0=f.subs(x, 0), lemma_fprime=fp,
                   dr_positive=bool(f.subs(x, 0) == 0 and fp.is_positive)
                   and sp.simplify(d1 - B * f.subs(x, rho / beta) / sp.log(2)) == 0)
        out["d_rate_d_channel"] = sp.simplify(sp.diff(r, rho))
    return out


def latency_convexity(model: str) -> dict:
    """h(beta) = t + s / r(beta) is convex: h'' = s (2 r'^2 - r r'') / r^3 > 0 (s > 0).

    Returns h'' and its sign, decided with r, r', r'' replaced by symbols carrying
    :data:`theory.latency.RATE_ASSUMPTIONS` (r > 0, r' > 0, r'' <= 0: both rate models, the
    linear one with r'' = 0); for the concrete model SymPy decides h'' directly.
    """
    from . import latency as _latency

    h = per_token_latency(model)
    d2 = sp.simplify(sp.diff(h, beta, 2))
    sym = _latency.rate_symbols()
    rf = sp.Function("r")(beta)
    generic = sp.simplify(sp.diff(_s_pos / rf, beta, 2))
    generic_sub = (generic.subs(sp.Derivative(rf, (beta, 2)), sym["d2R"]).subs(sp.Derivative(rf, beta), sym["dR"])
                   .subs(rf, sym["R"]))
    return {"h2": d2, "generic": generic, "generic_positive": sp.simplify(generic_sub).is_positive,
            "positive": d2.is_positive}


def share_for_theta(model: str) -> sp.Expr:
    """H2 closed form: beta(theta) = r^{-1}(s / (theta - t)), by ``sympy.solve``.

    Linear: beta = s / (B eta (theta - t)). Shannon: with y = 1 + rho/beta the rate equation
    is log(y) = c (y - 1), c = s ln2 / (B rho (theta - t)); SymPy solves it as
    y = -W(-c e^{-c}) / c. The principal branch gives W_0(-c e^{-c}) = -c, y = 1 (beta
    infinite: spurious); the real share is on the lower branch,
    beta = rho / (y - 1), y = -W_{-1}(-c e^{-c}) / c (valid for 0 < c < 1).

    Examples
    --------
    >>> share_for_theta('linear')
    -s/(B*eta*(t - theta))
    """
    _check_model(model)
    req = _s_pos / (theta - t)  # required rate
    if model == "linear":
        sols = sp.solve(sp.Eq(rate(model), req), beta)
        if len(sols) != 1:
            raise ArithmeticError(f"expected one solution, got {sols}")
        return sols[0].subs(_s_pos, s)
    y, cc = sp.Symbol("y", positive=True), sp.Symbol("c", positive=True)
    # rate(beta) = req  <=>  (rho / (y-1)) log(y) B / ln2 = req  <=>  log(y) = c (y - 1)
    sols = sp.solve(sp.Eq(sp.log(y), cc * (y - 1)), y)
    lw = [e for e in sols if e.has(sp.LambertW)]
    if len(lw) != 1:
        raise ArithmeticError(f"expected one Lambert-W solution, got {sols}")
    y_low = lw[0].replace(sp.LambertW, lambda x_: sp.LambertW(x_, -1))
    c_val = req * sp.log(2) / (B * rho)
    return (rho / (y_low - 1)).subs(cc, c_val).subs(_s_pos, s)


def share_derivatives(model: str) -> dict:
    """H3 at fixed theta: d beta / d t, d beta / d s, d beta / d channel, d beta / d theta, and signs.

    Linear: differentiate the closed form. Shannon: implicit differentiation of
    F(beta; p) = r(beta; rho) - s / (theta - t) = 0, d beta/dp = -F_p / F_beta, with F_beta = r'
    replaced by a positive symbol for the sign (:func:`rate_increasing`).

    Returns ``{'t': (expr, sign), 's': ..., 'channel': ..., 'theta': ...}`` with
    sign in {+1, -1} as decided by SymPy (None if undecided).
    """
    _check_model(model)
    sp_s = _s_pos
    if model == "linear":
        b = share_for_theta(model).subs(s, sp_s)
        out = {}
        for name, var in (("t", t), ("s", sp_s), ("channel", eta), ("theta", theta)):
            d = sp.simplify(sp.diff(b, var))
            # theta > t is the domain of beta(theta): substitute theta = t + w, w > 0
            w = sp.Symbol("w", positive=True)
            dd = sp.simplify(d.subs(theta, t + w))
            out[name] = (d, 1 if dd.is_positive else (-1 if dd.is_negative else None))
        return out
    F = rate(model) - sp_s / (theta - t)
    Rp = sp.Symbol("R_p", positive=True)  # r'(beta) > 0
    Fb = sp.diff(F, beta)
    out = {}
    w = sp.Symbol("w", positive=True)
    for name, var in (("t", t), ("s", sp_s), ("channel", rho), ("theta", theta)):
        d = sp.simplify(-sp.diff(F, var) / Fb)
        dsign = sp.simplify((-sp.diff(F, var) / Rp).subs(theta, t + w))
        out[name] = (d, 1 if dsign.is_positive else (-1 if dsign.is_negative else None))
    return out


def compensation(n: int = 3) -> dict:
    """H3 at the optimum: implicit differentiation of sum_j beta_j(theta*; p) = 1.

    With d_j = d beta_j / d theta < 0 and g = d beta_k / d p_k (user k's own parameter p_k):
    d theta*/dp = -g / sum_j d_j, d beta_j*/dp = d_j d theta*/dp (j != k), and
    d beta_k*/dp = g + d_k d theta*/dp = g sum_{j != k} d_j / sum_j d_j.
    SymPy decides: for g > 0 (p = t_k or s_k) theta* and beta_k* rise and every other share
    falls; for g < 0 (p = eta_k or rho_k) the reverse (user k = user 1 here).

    Returns, for ``'raise'`` (g > 0) and ``'lower'`` (g < 0): the three derivatives and their
    signs.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    d = sp.symbols(f"d_1:{n + 1}", negative=True)
    out = {}
    for case, g in (("raise", sp.Symbol("g", positive=True)), ("lower", sp.Symbol("g", negative=True))):
        dth = -g / sum(d)
        own = sp.simplify(g + d[0] * dth)
        others = [sp.simplify(dj * dth) for dj in d[1:]]
        sgn = lambda e: 1 if e.is_positive else (-1 if e.is_negative else None)  # noqa: E731
        out[case] = {"theta": (dth, sgn(dth)), "own": (own, sgn(own)),
                     "others": [(o, sgn(o)) for o in others],
                     "band_conserved": sp.simplify(own + sum(others))}
    return out


# ------------------------------------------------------------------------------------- H4
def affine_round_time() -> dict:
    """Round time at a common L: L theta + T_v(K(L+1)) + T_o = c0 + c1 L (H4).

    c1 = theta + v1 K and c0 = v0 + v1 K + T_o (both batching modes give n = K (L+1)).
    """
    T = L * theta + v0 + v1 * K * (L + 1) + T_o
    poly = sp.Poly(sp.expand(T), L)
    slope, const = poly.coeff_monomial(L), poly.coeff_monomial(1)
    return {"round_time": T, "c1": sp.simplify(slope), "c0": sp.simplify(const)}


def tokens_common(alpha_: sp.Expr = alpha, L_: sp.Expr = L) -> sp.Expr:
    """A(alpha, L) = (1 - alpha^(L+1)) / (1 - alpha) of :func:`theory.tokens.expected_tokens`."""
    return _tokens.expected_tokens().subs({alpha: alpha_, L: L_}, simultaneous=True)


def quasi_concavity(n_alphas: int = 2) -> dict:
    """H4: dG/dL = phi / D^2 with phi = N' D - N c1, and phi' = N'' D < 0.

    N(L) = sum_k A(alpha_k, L) for ``n_alphas`` distinct acceptance rates (a common alpha is
    the special case), D = c0 + c1 L. N'' < 0 is decided by SymPy after alpha_k = 1/(1+q_k)
    (:func:`theory.symbols.in_unit_interval`). Returns phi, phi' - N'' D (simplifies to 0)
    and the sign of N''.
    """
    als = sp.symbols(f"alpha_1:{n_alphas + 1}", positive=True)
    qs = sp.symbols(f"q_1:{n_alphas + 1}", positive=True)
    N = sum(tokens_common(a_) for a_ in als)
    D = c0 + c1 * L
    phi = sp.diff(N, L) * D - N * sp.diff(D, L)
    Npp = sp.diff(N, L, 2)
    Npp_q = sp.simplify(sum(in_unit_interval(sp.diff(tokens_common(a_), L, 2), a_, q_)
                            for a_, q_ in zip(als, qs, strict=True)))
    G = N / D
    return {
        "N": N,
        "phi": phi,
        "dG_minus_phi_over_D2": sp.simplify(sp.diff(G, L) - phi / D ** 2),
        "phi_prime_minus_Npp_D": sp.simplify(sp.diff(phi, L) - Npp * D),
        "Npp_negative": Npp_q.is_negative,
        "Npp_q": Npp_q,
    }


def stationarity_equation() -> dict:
    """phi(L) = 0 for a common alpha is alpha^(L+1) (1 - (L + c0/c1) ln alpha) = 1.

    Returns ``'phi'`` and ``'normalised'``: phi (1 - alpha) / c1 minus the left side of the
    equation above plus 1 (simplifies to 0), and the value of phi at L = -1 (used by
    :func:`stationary_point_domain`).
    """
    N = tokens_common()
    D = c0 + c1 * L
    phi = sp.diff(N, L) * D - N * c1
    lhs = alpha ** (L + 1) * (1 - (L + c0 / c1) * sp.log(alpha))
    return {"phi": phi, "equation_lhs": lhs,
            "normalised": sp.simplify(sp.expand(phi * (1 - alpha) / c1 - (lhs - 1))),
            "phi_at_minus_one": sp.simplify(phi.subs(L, -1))}


@functools.cache
def optimal_common_length() -> dict:
    """H4 closed form: L° = (1 - z)/ln(alpha) - c0/c1, z = -W_{-1}(-alpha^(c0/c1 - 1)/e).

    Derivation: with x = L + c0/c1 and u = 1 - x ln(alpha), the stationarity equation
    (:func:`stationarity_equation`) becomes u e^{1-u} alpha^{1 - c0/c1} = 1, which
    ``sympy.solve`` turns into u = -W(-alpha^{c0/c1 - 1} / e); u > 1 selects W_{-1}.
    Returns ``'L_opt'`` (MODEL.md form), ``'u_solve'`` (SymPy's solve output, principal
    branch as SymPy writes it) and ``'same_as_model'`` (``True`` when SymPy proves the
    branch-(-1) solve output equal to MODEL.md's expression).
    """
    u = sp.Symbol("u", positive=True)
    sols = sp.solve(sp.Eq(u * sp.exp(1 - u) * alpha ** (1 - c0 / c1), 1), u)
    lw = [e for e in sols if e.has(sp.LambertW)]
    if len(lw) != 1:
        raise ArithmeticError(f"expected one Lambert-W solution, got {sols}")
    u_low = lw[0].replace(sp.LambertW, lambda x_: sp.LambertW(x_, -1))
    arg = -alpha ** (c0 / c1 - 1) / sp.E
    z = -sp.LambertW(arg, -1)
    L_opt = (1 - z) / sp.log(alpha) - c0 / c1
    # SymPy's argument is -exp((c0 log(alpha) - c1)/c1)/alpha: show it equals arg
    (solve_arg,) = [a_.args[0] for a_ in u_low.atoms(sp.LambertW)]
    same = sp.simplify(sp.powsimp(sp.expand_power_exp(sp.expand(solve_arg.rewrite(sp.exp) - arg.rewrite(sp.exp))),
                                  force=True)) == 0
    return {"L_opt": L_opt, "z": z, "argument": arg, "u_solve": lw[0], "u_lower": u_low,
            "same_as_model": bool(same and sp.simplify(u_low - z.subs(arg, solve_arg)) == 0)}


def optimal_length_residual() -> sp.Expr:
    """phi(L°) after using the defining identity W e^W = x of any branch (simplifies to 0).

    L° is written with w = W_{-1}(arg) (a negative symbol), phi(L°) is expanded, and e^w is
    replaced by arg / w. A zero result proves that the W_{-1} form solves phi = 0 on its
    whole domain (the identity holds on every branch; the branch only selects u >= 1).
    """
    w = sp.Symbol("w", negative=True)
    arg = optimal_common_length()["argument"]
    phi = stationarity_equation()["phi"]
    e = phi.subs(L, (1 + w) / sp.log(alpha) - c0 / c1).rewrite(sp.exp)
    e = sp.expand_power_exp(sp.expand(sp.expand_log(sp.powsimp(sp.expand_power_exp(sp.expand(e))), force=True)))
    return sp.simplify(e.subs(sp.exp(w), arg / w))


def stationary_point_domain() -> dict:
    """Where L° exists: arg = -alpha^(c0/c1 - 1)/e >= -1/e iff alpha^(c0/c1 - 1) <= 1 iff c0 >= c1.

    Returns ``'phi_at_minus_one'`` = (c0 - c1) ln(alpha) / (alpha - 1), its form and sign for
    c0 < c1 (negative: since phi decreases, G decreases on [-1, inf) and has no interior
    optimum; decided by SymPy with alpha = 1/(1+q) and c0 = c1 / (1 + p), p > 0), and
    ``'L_at_boundary'``: L° at c0 = c1 (equals -1).
    """
    p = sp.Symbol("p", positive=True)
    ph = stationarity_equation()["phi_at_minus_one"]
    below = sp.simplify(in_unit_interval(ph.subs(c0, c1 / (1 + p))))
    Lb = optimal_common_length()["L_opt"].subs(c0, c1)
    return {"phi_at_minus_one": ph, "phi_at_minus_one_if_c0_lt_c1": below,
            "negative_if_c0_lt_c1": below.is_negative, "L_at_boundary": sp.simplify(Lb)}


def leviathan_improvement() -> dict:
    """K = 1, s = 0, v1 = 0, T_o = 0: G(L) / G_AR = (1 - alpha^(L+1)) / ((1 - alpha)(L c + 1)).

    theta* = t (nothing to upload), G(L) = A(alpha, L) / (L t + v0), G_AR = 1 / v0, and
    c = t / v0 (Leviathan et al. 2023, Theorem 3.8, with gamma = L). Returns both sides and
    their simplified difference (0).
    """
    cc = sp.Symbol("c", nonnegative=True)
    v0p = sp.Symbol("v_0", positive=True)
    ratio = (tokens_common() / (L * t + v0p)) / (1 / v0p)
    lev = (1 - alpha ** (L + 1)) / ((1 - alpha) * (L * cc + 1))
    return {"ratio": ratio, "leviathan": lev,
            "difference": sp.simplify(ratio.subs(t, cc * v0p) - lev)}
