r"""Heterogeneous draft lengths: results D1 to D7 of docs/model.md, derived in SymPy.

Problem (one draft length L_k per user, band shares beta on the simplex, deadline tau):

.. math::

    \max_{\tau, L, \beta}\; G = \frac{\sum_k A(\alpha_k, L_k)}{\tau + T_v(n) + T_o}
    \quad\text{s.t.}\quad L_k h_k(\beta_k) \le \tau,\ 0 \le L_k \le L_{max},\
    \sum_k \beta_k \le 1,

with h_k(beta) = t_k + s_k / r_k(beta), so that L_k <= tau Y_k(beta_k),
Y_k = r_k / (s_k + t_k r_k) (the draft capacity per second of deadline, :func:`draft_capacity`).

D1 (:func:`deadline_fill`). With v1 = 0 and tau, beta fixed the objective is increasing in
every L_k (dA/dL > 0), so every user drafts up to its bound: L_k = min(L_max, tau / h_k).

D2 (:func:`inner_concavity_linear`, :func:`inner_concavity_composition`). F(tau) =
max_beta sum_k A(L_k(beta_k)) is a concave program: L(beta) = tau phi(r(beta)) with
phi(r) = r / (s + t r) concave increasing, so L is concave increasing for any concave
increasing rate r, and A concave increasing composed with it is concave. For the linear
rate the second derivative is computed and its sign decided.

D3 (:func:`kkt_system`, :func:`kkt_closed_form`, :func:`kkt_closed_form_free_drafting`).
Stationarity A'(L_k) dL_k/dbeta_k = lambda. For the linear rate SymPy's ``solve`` returns
v = 2 W(kappa sqrt(M) / 2) / kappa with u = t beta B eta + s, v = 1/u,
kappa = -tau s ln(alpha) / t, M = lambda (1 - alpha) / ((-ln alpha) alpha^(1 + tau/t) tau B eta s);
the root with v > 0 is the principal branch W_0 (argument > 0). This is MODEL.md's form,
confirmed (:func:`model_md_closed_form`, residual identically zero). The numerics use the
equivalent time-slack form w = tau - t L = tau s v = (2 t / a) omega(zeta),
a = -ln alpha, zeta = ln(a sqrt(M) tau s / (2 t)) (omega: the Wright omega function,
omega(zeta) = W_0(e^zeta)), in which alpha^(-tau/t) enters through its logarithm and cannot
overflow (:func:`kkt_time_slack`). MODEL.md omits t = 0 (free drafting): then L is linear in
beta and the stationarity gives L = ln(lambda s (1 - alpha) / (tau B eta a)) / ln(alpha) - 1
(:func:`kkt_closed_form_free_drafting`).

D4 (:func:`reward`). d A'(L) / d alpha > 0 on alpha in (0, 1), L >= 0: with
alpha = 1/(1+q), (1 - alpha) alpha (-ln alpha) d ln A'(L) / d alpha =
ln(1+q) (1 + L q/(1+q)) - q/(1+q) > 0, because ln(1+q) > q/(1+q) (zero at q = 0, derivative
q/(1+q)^2 > 0). Hence at a common lambda (and tau, and Dinkelbach price) the marginal curve
of the higher-alpha user lies above, and its share and draft length are at least as large.

D5 (:func:`envelope_derivative`, :func:`joint_concavity`, :func:`outer_stationarity`).
F'(tau) = sum_k A'(L_k) L_k / tau over the users bound by the deadline (envelope theorem; L
is homogeneous of degree 1 in tau). Extension beyond MODEL.md: with x_k = tau beta_k (band
time) the constraint reads L_k <= H_k(x_k, tau) = 1 / (s_k / P_k + t_k / tau),
P_k = tau r_k(x_k / tau) (the perspective of r_k, jointly concave), and H_k is the weighted
harmonic mean of two concave functions, jointly concave; sum_k x_k <= tau is linear. So the
whole problem is a concave-fractional program in (tau, x, L): F is concave in tau, G is
quasi-concave in tau, the outer search has one maximum (dG/dtau has the sign of
F'(tau)(tau + c) - F(tau), non-increasing), and Lagrangian duality gives certified upper
bounds (:func:`tangent_bound`).

D6 (:func:`dinkelbach_stop_short`). For v1 > 0 (ragged batching) G is a ratio whose
denominator grows with sum_k L_k. Dinkelbach: maximise sum_k (A(L_k) - g v1 L_k) - g tau for
the current ratio g. A user stops short of its deadline where A'(L) = g v1:
L_k = ln(g v1 (1 - alpha) / (-ln alpha)) / ln(alpha) - 1 (MODEL.md's formula, confirmed).

D7 (:func:`equal_finish_shares`). For a fixed (integer) vector L the best beta equalises the
finishing times: beta_k(T) = s_k L_k / (B eta_k (T - t_k L_k)) (linear rate) solves
L_k h_k(beta_k) = T, and it is convex increasing in L_k (the per-user cost of a longer draft
grows), which is what makes rounding plus greedy repair effective.

Symbols come from :mod:`theory.symbols`; A(alpha, L) and its derivatives from
:mod:`theory.tokens` (derived there by summation). Nothing numeric is hard-coded;
:mod:`numerics.heterogeneous` implements these forms and is tied to them by
``tests/test_heterogeneous_theory.py``.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from . import tokens as _tokens
from .symbols import B, L, alpha, beta, eta, in_unit_interval, lam, q, rho, s, t, tau, v1

__all__ = [
    "capacity_derivatives",
    "deadline_fill",
    "dinkelbach_stop_short",
    "draft_capacity",
    "envelope_derivative",
    "equal_finish_shares",
    "inner_concavity_composition",
    "inner_concavity_linear",
    "joint_concavity",
    "kkt_closed_form",
    "kkt_closed_form_free_drafting",
    "kkt_share_slope",
    "kkt_system",
    "kkt_time_slack",
    "marginal",
    "model_md_closed_form",
    "outer_stationarity",
    "rate",
    "reward",
    "tangent_bound",
    "tokens",
]

#: positive copies of t and s (the closed forms divide by them; t = 0 and s = 0 are treated apart)
t_pos = sp.Symbol("t", positive=True)
s_pos = sp.Symbol("s", positive=True)
#: docs/model.md D3 auxiliaries: v = 1/u, u = t beta B eta + s; kappa, M; Dinkelbach ratio g;
#: band time x = tau beta; per-token price mu = g v1; the deadline-slack w = tau - t L
v = sp.Symbol("v", positive=True)
kappa = sp.Symbol("kappa", positive=True)
M = sp.Symbol("M", positive=True)
g = sp.Symbol("g", positive=True)
x = sp.Symbol("x", positive=True)
mu = sp.Symbol("mu", nonnegative=True)
w = sp.Symbol("w", positive=True)
L_max = sp.Symbol("L_max", positive=True)
T = sp.Symbol("T", positive=True)
c = sp.Symbol("c", positive=True)


def _check_model(model: str) -> None:
    if model not in ("linear", "shannon"):
        raise ValueError(f"rate_model must be 'linear' or 'shannon', got {model!r}")


@cache
def tokens() -> sp.Expr:
    """A(alpha, L) = (1 - alpha^(L+1)) / (1 - alpha) (:func:`theory.tokens.expected_tokens`)."""
    return _tokens.expected_tokens()


@cache
def marginal() -> sp.Expr:
    """A'(L) = -alpha^(L+1) ln(alpha) / (1 - alpha) (:func:`theory.tokens.marginal_tokens`)."""
    return _tokens.marginal_tokens()


def rate(model: str, beta_: sp.Expr = beta) -> sp.Expr:
    """r(beta): beta B eta (linear) or beta B log2(1 + rho/beta) (Shannon).

    Raises
    ------
    ValueError
        Unknown rate model.
    """
    _check_model(model)
    if model == "linear":
        return beta_ * B * eta
    return beta_ * B * sp.log(1 + rho / beta_) / sp.log(2)


def draft_capacity(model: str, t_: sp.Expr = t_pos, s_: sp.Expr = s_pos) -> sp.Expr:
    """L(beta) = tau / h(beta) = tau r / (s + t r): the longest draft that meets the deadline tau."""
    r_ = rate(model)
    return tau * r_ / (s_ + t_ * r_)


def capacity_derivatives(model: str) -> dict:
    """L(beta) = tau r / (s + t r) and its first two derivatives in beta (D2, D3 Newton steps).

    Returns
    -------
    dict
        ``capacity``, ``d_capacity``, ``d2_capacity``: L, dL/dbeta, d2L/dbeta2 for the rate
        ``model`` (differentiated from :func:`draft_capacity`); ``generic_d2``: the chain-rule
        form tau s (r'' D - 2 t r'^2) / D^3, D = s + t r, written with the model's r, r', r''
        (:func:`theory.channel.rate_derivative`), which is what the numerics evaluate.

    Raises
    ------
    ValueError
        Unknown rate model.
    """
    _check_model(model)
    from . import channel as _channel

    Lb = draft_capacity(model)
    r0 = rate(model)
    r1 = _channel.rate_derivative(model, 1)
    r2 = _channel.rate_derivative(model, 2)
    D = s_pos + t_pos * r0
    return {
        "capacity": Lb,
        "d_capacity": sp.diff(Lb, beta),
        "d2_capacity": sp.diff(Lb, beta, 2),
        "generic_d2": tau * s_pos * (r2 * D - 2 * t_pos * r1**2) / D**3,
    }


# ---------------------------------------------------------------------------------- D1
def deadline_fill(model: str = "linear") -> dict:
    """D1: with v1 = 0, fixed tau and beta, every user drafts up to min(L_max, tau / h).

    Parameters
    ----------
    model : {'linear', 'shannon'}
        Rate model of h = t + s / r(beta).

    Returns
    -------
    dict
        ``draft_length``: Min(L_max, tau / h) with h = t + s / r(beta);
        ``per_token_latency``: h;
        ``objective_increasing``: SymPy's decision that dA/dL > 0 on alpha in (0, 1)
        (the objective sum_k A(L_k) is then maximised at the upper bound of each L_k).

    Raises
    ------
    ValueError
        Unknown rate model.
    """
    _check_model(model)
    h = t + s / rate(model)
    fill = sp.Min(L_max, tau / h)
    inc = sp.simplify(in_unit_interval(marginal())).is_positive
    return {"draft_length": fill, "objective_increasing": bool(inc), "per_token_latency": h}


# ---------------------------------------------------------------------------------- D2
def inner_concavity_linear() -> dict:
    """D2, linear rate: d^2 A(L(beta)) / d beta^2 and SymPy's decision that it is negative.

    Returns
    -------
    dict
        ``capacity``: L(beta); ``dL``, ``d2L``: its derivatives; ``second_derivative``;
        ``capacity_concave``: -d2L > 0 decided; ``negative``: -second derivative > 0 decided
        (alpha = 1/(1+q), every other symbol positive).
    """
    Lb = draft_capacity("linear")
    A = tokens()
    d1 = sp.diff(Lb, beta)
    d2 = sp.simplify(sp.diff(Lb, beta, 2))
    second = sp.diff(A.subs(L, Lb), beta, 2)
    # A(L(beta))'' = A''(L) L'^2 + A'(L) L''  (chain rule), each term decided separately
    Ap = marginal().subs(L, Lb)
    App = _tokens.tokens_curvature_in_L().subs(L, Lb)
    chain = sp.simplify(second - (App * d1**2 + Ap * d2))
    neg_App = sp.simplify(in_unit_interval(-App)).is_positive
    pos_Ap = sp.simplify(in_unit_interval(Ap)).is_positive
    return {
        "capacity": Lb,
        "dL": sp.simplify(d1),
        "d2L": d2,
        "second_derivative": second,
        "chain_rule_residual": chain,
        "capacity_increasing": bool(sp.simplify(d1).is_positive),
        "capacity_concave": bool(sp.simplify(-d2).is_positive),
        "negative": bool(neg_App and pos_Ap and sp.simplify(-d2).is_positive and chain == 0),
    }


def inner_concavity_composition() -> dict:
    """D2, any concave increasing rate: L = tau phi(r(beta)) is concave increasing.

    phi(r) = r / (s + t r): phi' = s / (s + t r)^2 > 0, phi'' = -2 s t / (s + t r)^3 <= 0;
    L'' = tau (phi''(r) r'^2 + phi'(r) r''), both terms <= 0 when r' >= 0 >= r''.

    Returns
    -------
    dict
        ``phi``, ``phi_prime``, ``phi_second``; ``phi_increasing`` and ``phi_concave``
        (decided); ``L_second``: the chain-rule L'' for an abstract r(beta), and
        ``L_second_residual`` (zero: SymPy's chain rule agrees with the displayed form).
    """
    rr = sp.Symbol("r", positive=True)
    phi = rr / (s_pos + t * rr)
    p1 = sp.simplify(sp.diff(phi, rr))
    p2 = sp.simplify(sp.diff(phi, rr, 2))
    rf = sp.Function("r")
    Lb = tau * phi.subs(rr, rf(beta))
    L2 = sp.diff(Lb, beta, 2)
    shown = tau * (p2.subs(rr, rf(beta)) * sp.diff(rf(beta), beta) ** 2
                   + p1.subs(rr, rf(beta)) * sp.diff(rf(beta), beta, 2))
    return {
        "phi": phi,
        "phi_prime": p1,
        "phi_second": p2,
        "phi_increasing": bool(p1.is_positive),
        "phi_concave": bool((-p2).is_nonnegative),
        "L_second": shown,
        "L_second_residual": sp.simplify(L2 - shown),
    }


# ---------------------------------------------------------------------------------- D3
def kkt_system(n: int = 2, model: str = "linear") -> dict:
    """D3: Lagrangian and stationarity of F(tau) = max sum_k A(L_k(beta_k)), sum beta <= 1.

    Parameters
    ----------
    n : int
        Number of users written out (per-user symbols alpha_k, beta_k, t_k, s_k, eta_k/rho_k).
    model : {'linear', 'shannon'}

    Returns
    -------
    dict
        ``lagrangian``; ``stationarity``: the list dL/dbeta_k = A'(L_k) dL_k/dbeta_k - lambda;
        ``symbols``: the per-user symbols.

    Raises
    ------
    ValueError
        n not an integer >= 1, or an unknown rate model.
    """
    _check_model(model)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    al = sp.symbols(f"alpha_0:{n}", positive=True)
    be = sp.symbols(f"beta_0:{n}", positive=True)
    tt = sp.symbols(f"t_0:{n}", positive=True)
    ss = sp.symbols(f"s_0:{n}", positive=True)
    ch = sp.symbols(f"{'eta' if model == 'linear' else 'rho'}_0:{n}", positive=True)
    A = tokens()
    total = 0
    caps = []
    for k in range(n):
        r_k = rate(model, be[k]).subs(eta if model == "linear" else rho, ch[k])
        Lk = tau * r_k / (ss[k] + tt[k] * r_k)
        caps.append(Lk)
        total += A.subs({alpha: al[k], L: Lk})
    lagr = total - lam * (sum(be) - 1)
    stat = [sp.diff(lagr, be[k]) for k in range(n)]
    return {"lagrangian": lagr, "stationarity": stat, "capacities": caps,
            "symbols": {"alpha": al, "beta": be, "t": tt, "s": ss, "channel": ch}}


def _stationarity_in_v() -> sp.Expr:
    """A'(L(beta)) L'(beta) with beta = (1/v - s) / (t B eta) (linear rate, one user)."""
    Lb = draft_capacity("linear")
    foc = marginal().subs(L, Lb) * sp.diff(Lb, beta)
    return sp.simplify(foc.subs(beta, (1 / v - s_pos) / (t_pos * B * eta)))


@cache
def kkt_closed_form() -> dict:
    """D3, linear rate: the closed form of v = 1/u from A'(L) dL/dbeta = lambda, by ``solve``.

    Derivation: with beta = (1/v - s)/(t B eta) the stationarity reads
    C alpha^(-tau s v / t) v^2 = lambda, C = (-ln alpha) alpha^(1 + tau/t) tau B eta s / (1 - alpha),
    i.e. v^2 e^(kappa v) = M. ``solve`` returns the two roots 2 W(+-kappa sqrt(M)/2)/kappa;
    v > 0 selects +, and the argument is positive, so the branch is W_0.

    Returns
    -------
    dict
        ``stationarity_v``: A'(L) dL/dbeta in v; ``roots``: ``solve``'s roots of
        v^2 e^(kappa v) = M; ``v``: the positive root (W_0); ``kappa``, ``M`` in the model
        symbols; ``reduction_residual``: stationarity / lambda divided by v^2 e^(kappa v)/M,
        minus 1 (zero); ``beta``: beta = (1/v - s)/(t B eta); ``draft_length``:
        L = tau (1 - s v) / t.
    """
    foc_v = _stationarity_in_v()
    kap = -tau * s_pos * sp.log(alpha) / t_pos
    MM = lam * (1 - alpha) / ((-sp.log(alpha)) * alpha ** (1 + tau / t_pos) * tau * B * eta * s_pos)
    resid = sp.simplify(sp.powsimp((foc_v / lam / (v**2 * sp.exp(kap * v) / MM)).rewrite(sp.exp), force=True) - 1)
    roots = sp.solve(sp.Eq(v**2 * sp.exp(kappa * v), M), v)
    pos = [r_ for r_ in roots if r_.args and sp.simplify(r_.subs({kappa: 1, M: 1})).is_positive]
    v_sol = pos[0]
    return {
        "stationarity_v": foc_v,
        "roots": roots,
        "v": v_sol,
        "kappa": kap,
        "M": MM,
        "reduction_residual": resid,
        "beta": (1 / v - s_pos) / (t_pos * B * eta),
        "draft_length": sp.simplify(draft_capacity("linear").subs(beta, (1 / v - s_pos) / (t_pos * B * eta))),
    }


def model_md_closed_form() -> dict:
    """docs/model.md D3 as printed, and its agreement with :func:`kkt_closed_form`.

    Returns
    -------
    dict
        ``v``: 2 W_0(kappa sqrt(M)/2)/kappa with MODEL.md's kappa and M (model symbols);
        ``residual``: [stationarity at that v] / lambda - 1, simplified (zero: MODEL.md is right);
        ``matches_solve``: the ``solve`` root with MODEL.md's kappa, M substituted equals it.
    """
    cf = kkt_closed_form()
    v_md = 2 * sp.LambertW(cf["kappa"] * sp.sqrt(cf["M"]) / 2) / cf["kappa"]
    v_solve = cf["v"].subs({kappa: cf["kappa"], M: cf["M"]})
    # v^2 e^(kappa v) = M holds for v = 2 W(y)/kappa, y = kappa sqrt(M)/2, since W(y) e^W(y) = y
    y = sp.Symbol("y", positive=True)
    Wy = sp.LambertW(y)
    vv = 2 * Wy / kappa
    lhs = sp.simplify((vv**2 * sp.exp(kappa * vv)).subs(sp.exp(2 * Wy), (y / Wy) ** 2))
    return {
        "v": v_md,
        "identity": sp.simplify(lhs - 4 * y**2 / kappa**2),  # = M when y = kappa sqrt(M)/2
        "matches_solve": sp.simplify(v_md - v_solve) == 0,
        "reduction_residual": cf["reduction_residual"],
    }


def kkt_time_slack() -> dict:
    """D3 in the slack form used by the numerics: w = tau - t L = tau s v.

    With a = -ln(alpha) and w = (2 t / a) omega, the stationarity v^2 e^(kappa v) = M becomes
    omega e^omega = e^zeta with zeta = ln(a tau s sqrt(M) / (2 t)), i.e. omega = W_0(e^zeta),
    and ln M = ln(lambda (1 - alpha) / (a tau B eta s)) + a (1 + tau / t) carries
    alpha^(-(1 + tau/t)) as a sum (no overflow).

    Returns
    -------
    dict
        ``w``: (2 t / a) W_0(e^zeta); ``zeta``; ``log_M``; ``draft_length``: (tau - w)/t;
        ``slack_of_v``: tau s v; ``residual``: w(v from :func:`kkt_closed_form`) - w,
        simplified (zero); ``log_M_residual``: log(M) - log_M (zero).
    """
    a_ = -sp.log(alpha)
    cf = kkt_closed_form()
    logM = sp.log(lam * (1 - alpha) / (a_ * tau * B * eta * s_pos)) + a_ * (1 + tau / t_pos)
    zeta = sp.log(a_ * tau * s_pos / (2 * t_pos)) + logM / 2
    w_form = (2 * t_pos / a_) * sp.LambertW(sp.exp(zeta))
    v_md = 2 * sp.LambertW(cf["kappa"] * sp.sqrt(cf["M"]) / 2) / cf["kappa"]
    # the arguments of W agree: kappa sqrt(M)/2 = e^zeta (compare logarithms)
    arg_res = sp.simplify(sp.expand_log(sp.log(cf["kappa"] * sp.sqrt(cf["M"]) / 2) - zeta, force=True))
    return {
        "w": w_form,
        "zeta": zeta,
        "log_M": logM,
        "draft_length": (tau - w) / t_pos,
        "slack_of_v": tau * s_pos * v,
        "argument_residual": arg_res,
        "residual": sp.simplify(tau * s_pos * v_md - w_form.subs(sp.exp(zeta), cf["kappa"] * sp.sqrt(cf["M"]) / 2)),
        "log_M_residual": sp.simplify(sp.expand_log(sp.log(cf["M"]) - logM, force=True)),
    }


def kkt_closed_form_free_drafting() -> dict:
    """D3 with t = 0 (not in MODEL.md): L = tau beta B eta / s, so A'(L) tau B eta / s = lambda.

    Returns
    -------
    dict
        ``draft_length``: ``solve``'s root; ``displayed``: the form
        L = ln(lambda s (1-alpha) / (tau B eta (-ln alpha))) / ln(alpha) - 1;
        ``beta``: s L / (tau B eta); ``residual``, ``residual_displayed``: the stationarity at
        each minus lambda (zero; the stationarity is strictly decreasing in L).
    """
    Lb = tau * beta * B * eta / s_pos
    foc = marginal() * sp.diff(Lb, beta)
    sols = sp.solve(sp.Eq(foc, lam), L)
    Lsol = sols[0]
    shown = sp.log(lam * s_pos * (1 - alpha) / (tau * B * eta * (-sp.log(alpha)))) / sp.log(alpha) - 1
    return {
        "draft_length": Lsol,
        "displayed": shown,
        "beta": s_pos * L / (tau * B * eta),
        "residual": sp.simplify(foc.subs(L, Lsol) - lam),
        "residual_displayed": sp.simplify(foc.subs(L, shown) - lam),
    }


def kkt_share_slope(model: str = "linear") -> dict:
    """D3: d beta / d lambda of one uncapped user, by implicit differentiation of the stationarity.

    The stationarity S(beta) = A'(L(beta)) L'(beta) = lambda (L = :func:`draft_capacity`)
    defines beta(lambda); S is decreasing (D2), so d beta / d lambda = 1 / S'(beta) < 0. This is
    the slope with which the numerics take Newton steps on sum_k beta_k(lambda) = 1.

    Returns
    -------
    dict
        ``stationarity``: S(beta); ``slope``: 1 / S'(beta), in the model symbols and beta.

    Raises
    ------
    ValueError
        Unknown rate model.
    """
    _check_model(model)
    Lb = draft_capacity(model)
    S = marginal().subs(L, Lb) * sp.diff(Lb, beta)
    return {"stationarity": S, "slope": 1 / sp.diff(S, beta)}


# ---------------------------------------------------------------------------------- D4
def reward() -> dict:
    """D4: the marginal A'(L) increases with alpha at fixed L >= 0, for alpha in (0, 1).

    Returns
    -------
    dict
        ``dmarginal_dalpha``: d A'(L) / d alpha; ``log_derivative_scaled``: with
        alpha = 1/(1+q), (1 - alpha) alpha (-ln alpha) d ln A'(L)/d alpha, simplified to
        ln(1+q)(1 + L q/(1+q)) - q/(1+q); ``base``: its value at L = 0, ln(1+q) - q/(1+q),
        with ``base_at_zero`` (0) and ``base_derivative`` (q/(1+q)^2, decided positive);
        ``L_coefficient_positive``: the coefficient of L decided positive; ``increasing``:
        all decisions hold, so d A'(L)/d alpha > 0.
    """
    Ap = marginal()
    dAp = sp.simplify(sp.diff(Ap, alpha))
    dlog = sp.diff(sp.log(-alpha ** (L + 1) * sp.log(alpha) / (1 - alpha)), alpha)
    scaled = in_unit_interval(sp.simplify(dlog * (1 - alpha) * alpha * (-sp.log(alpha))))
    scaled = sp.simplify(sp.expand_log(scaled, force=True))
    expected = sp.log(1 + q) * (1 + L * q / (1 + q)) - q / (1 + q)
    same = sp.simplify(scaled - expected) == 0
    base = sp.log(1 + q) - q / (1 + q)
    base0 = sp.limit(base, q, 0)
    dbase = sp.simplify(sp.diff(base, q))
    coefL = sp.simplify(sp.log(1 + q) * q / (1 + q))
    return {
        "dmarginal_dalpha": dAp,
        "log_derivative_scaled": scaled,
        "matches_displayed": same,
        "base": base,
        "base_at_zero": base0,
        "base_derivative": dbase,
        "L_coefficient_positive": bool(coefL.is_positive),
        "increasing": bool(same and base0 == 0 and dbase.is_positive and coefL.is_positive),
    }


# ---------------------------------------------------------------------------------- D5
def envelope_derivative() -> dict:
    """D5: dF/dtau = sum_k A'(L_k) L_k / tau for users bound by the deadline (envelope theorem).

    L(beta, tau) = tau Y(beta) is homogeneous of degree 1 in tau, so at fixed beta
    d A(L)/d tau = A'(L) Y = A'(L) L / tau; the envelope theorem drops d beta / d tau.

    Returns
    -------
    dict
        ``partial_tau``: d A(L(beta, tau))/d tau (linear rate); ``envelope_form``:
        A'(L) L / tau; ``residual`` (zero); ``homogeneity_residual``: tau dL/dtau - L (zero).
    """
    Lb = draft_capacity("linear")
    A = tokens()
    part = sp.diff(A.subs(L, Lb), tau)
    env = (marginal() * L / tau).subs(L, Lb)
    return {
        "partial_tau": part,
        "envelope_form": env,
        "residual": sp.simplify(part - env),
        "homogeneity_residual": sp.simplify(tau * sp.diff(Lb, tau) - Lb),
    }


def joint_concavity(model: str = "linear") -> dict:
    """D5 (extension): L <= H(x, tau) = 1/(s/P + t/tau), P = tau r(x/tau), is a convex constraint.

    Parts: (i) the harmonic combination h(p, u) = 1 / (s/p + t/u) is concave on p, u > 0
    (its Hessian has a non-positive diagonal and a zero determinant: degree-1 homogeneous),
    and non-decreasing in each argument; (ii) the perspective P(x, tau) = tau r(x/tau) of a
    concave r is jointly concave (Hessian (r''(x/tau)/tau) [[1, -x/tau], [-x/tau, x^2/tau^2]]);
    (iii) the composition h(P, tau) of a concave non-decreasing h with concave arguments is
    concave. With sum_k x_k <= tau linear, (tau, x, L) ranges over a convex set, F(tau) is
    concave and G = F/(tau + c) quasi-concave.

    Returns
    -------
    dict
        ``harmonic_hessian_diag_nonpositive``, ``harmonic_hessian_det`` (zero),
        ``harmonic_increasing``; ``perspective_hessian`` for the given model and
        ``perspective_concave`` (decided: diagonal <= 0 and determinant zero);
        ``capacity_matches``: H(tau beta, tau) = tau r(beta)/(s + t r(beta)).

    Raises
    ------
    ValueError
        Unknown rate model.
    """
    _check_model(model)
    p, u = sp.symbols("p u", positive=True)
    h = 1 / (s_pos / p + t_pos / u)
    Hh = sp.hessian(h, (p, u))
    diag_np = all(sp.simplify(-Hh[i, i]).is_nonnegative for i in range(2))
    det = sp.simplify(Hh.det())
    inc = all(sp.simplify(sp.diff(h, z)).is_positive for z in (p, u))
    P = tau * rate(model, x / tau)
    HP = sp.simplify(sp.hessian(P, (x, tau)))
    P_diag = [sp.simplify(-HP[i, i]) for i in range(2)]
    P_conc = all(d == 0 or d.is_nonnegative for d in P_diag) and sp.simplify(HP.det()) == 0
    Hcap = h.subs({p: P, u: tau}).subs(x, tau * beta)
    match = sp.simplify(Hcap - draft_capacity(model)) == 0
    return {
        "harmonic_hessian_diag_nonpositive": bool(diag_np),
        "harmonic_hessian_det": det,
        "harmonic_increasing": bool(inc),
        "perspective_hessian": HP,
        "perspective_concave": bool(P_conc),
        "capacity_matches": bool(match),
    }


def outer_stationarity() -> dict:
    """D5: dG/dtau for G = F(tau)/(tau + c): its sign is that of phi = F'(tau)(tau + c) - F(tau),
    and phi' = F''(tau)(tau + c) <= 0 when F is concave (one sign change: one maximum).

    Returns
    -------
    dict
        ``dG``; ``phi``; ``sign_factor``: dG / phi (= 1/(tau+c)^2 > 0); ``phi_prime``.
    """
    F = sp.Function("F")
    G = F(tau) / (tau + c)
    dG = sp.diff(G, tau)
    phi = sp.diff(F(tau), tau) * (tau + c) - F(tau)
    return {
        "dG": dG,
        "phi": phi,
        "sign_factor": sp.simplify(dG / phi),
        "phi_prime": sp.simplify(sp.diff(phi, tau)),
    }


def tangent_bound() -> dict:
    """The certificate: sup over tau >= 0, n >= 0 of (p + d tau + m n) / (c + tau + v1 n).

    A ratio of affine functions with a positive denominator is monotone along each
    coordinate (the numerator of its partial derivative in tau does not depend on tau, the
    one in n not on n), so its supremum over tau >= 0, 0 <= n <= n_max is the largest of its
    values at the corners: max(p/c, (p + m n_max)/(c + v1 n_max), d) (d: the limit tau -> inf).
    Used with D(tau0) + D'(tau0)(tau - tau0) >= D(tau) (the dual function is concave in tau, D5)
    to bound G from above.

    Returns
    -------
    dict
        ``ratio``; ``d_tau_numerator``, ``d_n_numerator``: the numerators of the partial
        derivatives times the squared denominator; ``monotone_in_each``: True when the first
        is free of tau and the second free of n (so the ratio is monotone along each
        coordinate and its supremum over the box is at a corner or the limit tau -> inf);
        ``corners``: the ratio at (0, 0), (0, n_max) and its limit tau -> inf; ``supremum``:
        their Max (numerics: the certificate's corner formula); ``n``, ``n_max``, ``symbols``
        (p, d, m).
    """
    p_, d_, m_ = sp.symbols("p d m", real=True)
    n_ = sp.Symbol("n", nonnegative=True)
    R = (p_ + d_ * tau + m_ * n_) / (c + tau + v1 * n_)
    num_tau = sp.simplify(sp.diff(R, tau) * (c + tau + v1 * n_) ** 2)
    num_n = sp.simplify(sp.diff(R, n_) * (c + tau + v1 * n_) ** 2)
    num_tau, num_n = sp.expand(num_tau), sp.expand(num_n)
    # corners of the box tau in [0, inf), n in [0, n_max]: tau = 0 at both ends of n, and the
    # limit tau -> inf (the same, d, for every n)
    n_max = sp.Symbol("n_max", positive=True)
    corners = [R.subs({tau: 0, n_: 0}), R.subs({tau: 0, n_: n_max}), sp.limit(R.subs(n_, 0), tau, sp.oo)]
    return {"ratio": R, "d_tau_numerator": num_tau, "d_n_numerator": num_n,
            "monotone_in_each": not num_tau.has(tau) and not num_n.has(n_),
            "corners": corners, "supremum": sp.Max(*corners), "n": n_, "n_max": n_max,
            "symbols": (p_, d_, m_)}


# ---------------------------------------------------------------------------------- D6
def dinkelbach_stop_short() -> dict:
    """D6: Dinkelbach on G = N/D (ragged, v1 > 0): maximise A(L) - g v1 L per user.

    Returns
    -------
    dict
        ``per_user_objective``: A(L) - g v1 L; ``stationarity``; ``draft_length``: ``solve``'s
        root ln(g v1 (1 - alpha)/(-ln alpha))/ln(alpha) - 1; ``model_md``: MODEL.md's form;
        ``matches_model_md`` (True); ``concave``: the second derivative decided negative.
    """
    obj = tokens() - g * v1 * L
    st = sp.diff(obj, L)
    sol = sp.solve(sp.Eq(st, 0), L)[0]
    md = sp.log(g * v1 * (1 - alpha) / (-sp.log(alpha))) / sp.log(alpha) - 1
    # the stationarity is strictly decreasing in L (concave objective): one root, so MODEL.md's
    # form is that root iff it satisfies the equation
    res_md = sp.simplify(st.subs(L, md))
    res_sol = sp.simplify(st.subs(L, sol))
    conc = sp.simplify(in_unit_interval(-sp.diff(obj, L, 2))).is_positive
    return {"per_user_objective": obj, "stationarity": st, "draft_length": sol, "model_md": md,
            "residual_solve": res_sol, "residual_model_md": res_md,
            "matches_model_md": bool(res_md == 0 and res_sol == 0), "concave": bool(conc)}


# ---------------------------------------------------------------------------------- D7
def equal_finish_shares() -> dict:
    """D7, linear rate: the share with which user k finishes L_k tokens at T, and its shape in L.

    Returns
    -------
    dict
        ``share``: ``solve``'s root of L (t + s/(beta B eta)) = T; ``d_share_dT``: its slope
        in the deadline T (the Newton slope of the equal-finish root);
        ``d2_share_dL2``: its second derivative in L; ``convex_in_L`` (decided, T > t L);
        ``decreasing_in_T`` (decided).
    """
    Lp = sp.Symbol("L", positive=True)
    share = sp.solve(sp.Eq(Lp * (t_pos + s_pos / (beta * B * eta)), T), beta)[0]
    slack = sp.Symbol("sigma", positive=True)  # T - t L > 0
    d2 = sp.simplify(sp.diff(share, Lp, 2))
    d2_slack = sp.simplify(d2.subs(T, slack + t_pos * Lp))
    dT = sp.simplify(sp.diff(share, T).subs(T, slack + t_pos * Lp))
    return {
        "share": share,
        "d_share_dT": sp.diff(share, T),
        "d2_share_dL2": d2,
        "convex_in_L": bool(d2_slack.is_positive),
        "decreasing_in_T": bool((-dT).is_positive),
    }
