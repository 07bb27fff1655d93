"""Planted faults: the checks of ``proofs_check`` are themselves checked (``python -m proofs_check --planted``).

Each :class:`Fault` replaces, in memory, one expression a ``theory`` function returns (or one
assumption it makes) with a plausible wrong one: a sign, a branch of Lambert W, an exponent off
by one, a factor of 2, a missing term, an assumption typo. :func:`run_planted` plants the faults
one at a time, runs the symbolic checks of the claims, restores ``theory`` and reports which
claims failed. A fault that no claim catches means a derivation check that cannot see that
kind of error: CI (``tests/test_planted.py``) requires every fault to be caught.

Planting: the module attribute of the function is replaced by a wrapper that calls the original
and mutates its result; the ``lru_cache`` of every ``theory`` function that (transitively) calls
it is cleared when the fault is planted and again when it is removed (the call graph is read
from the source with :mod:`ast`), so no stale value hides the fault and none survives it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import time
from collections.abc import Callable
from typing import Any

import sympy as sp

from .registry import _run, load_all
from .ties import THEORY_MODULES

__all__ = ["FAULTS", "Fault", "PlantedResult", "call_graph", "callers", "planted", "report_text", "run_planted"]


@dataclasses.dataclass(frozen=True)
class Fault:
    """A wrong expression substituted for ``key`` of what ``target`` returns (or for the value ``target``)."""

    id: str
    result: str  # 'ingredient', 'H1'..'H4', 'D1'..'D7'
    target: str  # theory.<module>.<name>
    key: str | None
    mutate: Callable[..., Any]  # (value, whole result dict or None, call args) -> faulty value
    claims: tuple[str, ...]  # the claims expected to catch it (tried first)
    description: str


# ---------------------------------------------------------------------------------- mutations
def _sym(expr: sp.Expr, name: str) -> sp.Symbol:
    (x,) = [y for y in expr.free_symbols if y.name == name][:1]
    return x


def _lambert_to_principal(v, d, args):
    return v.replace(sp.LambertW, lambda z, *k: sp.LambertW(z))


def _assumption_typo(v, d, args):
    out = {k: dict(x) for k, x in v.items()}
    out["d2R"] = {"negative": True}  # R'' < 0 instead of R'' <= 0: no longer covers the linear rate
    return out


def _d1_product(v, d, args):
    (tau_h,) = [a for a in v.args if not a.is_Symbol]
    h = d["per_token_latency"]
    return sp.Min(_sym(v, "L_max"), tau_h * h * h)  # tau / h  ->  tau * h


def _h4_phi_sign(v, d, args):
    c1 = _sym(v, "c_1")
    return v + 2 * d["N"] * c1  # N' D - c1 N  ->  N' D + c1 N


def _h1_sum(v, d, args):
    return sp.Add(*d["h"])  # max_k h_k  ->  sum_k h_k


def _d5_missing_L(v, d, args):
    import theory.heterogeneous as TH
    from theory.symbols import L, tau

    return (TH.marginal() / tau).subs(L, TH.draft_capacity("linear"))  # A'(L) L / tau  ->  A'(L) / tau


def _d5_drop_limit(v, d, args):
    return sp.Max(*d["corners"][:2])  # forgets the corner tau -> inf


def _d7_pole(v, d, args):
    L_ = _sym(v, "L")
    t_ = _sym(v, "t")
    T_ = _sym(v, "T")
    return v * (T_ - t_ * L_) / (T_ - t_)  # T - t L  ->  T - t


def _d4_wrong_variable(v, d, args):
    import theory.heterogeneous as TH
    from theory.symbols import L

    return sp.diff(TH.marginal(), L)  # d/dalpha  ->  d/dL


def _positional_drop_last(v, d, args):
    from theory.symbols import a

    (length,) = args
    return v.subs(a[length], 0) if length > 0 else v + 1


def _batch_no_plus_one(v, d, args):
    return v - args[0]  # sum_k (L_k + 1)  ->  sum_k L_k  (K (max L + 1)  ->  K max L)


def _fading_remaining_time(v, d, args):
    return v.subs(_sym(v, "t"), 0)  # remaining upload time D - L t  ->  D


def _h2_pole(v, d, args):
    return v.subs(_sym(v, "t"), 0)  # theta - t  ->  theta


def _tokens_exponent(v, d, args):
    from theory.symbols import L, alpha

    return v.xreplace({alpha ** (L + 1): alpha**L})


def _d2_half(v, d, args):
    return v / 2


def _capacity_no_t(v, d, args):
    import theory.heterogeneous as TH

    return v.subs(TH.t_pos, 1) if v.has(TH.t_pos) else v


FAULTS: tuple[Fault, ...] = (
    # results H1-H4
    Fault("H1-makespan-sum", "H1", "theory.homogeneous.decomposition", "makespan", _h1_sum, ("H1",),
          "the per-token makespan theta(beta) written as sum_k h_k instead of max_k h_k"),
    Fault("H2-share-pole", "H2", "theory.homogeneous.share_for_theta", None, _h2_pole, ("H2", "grad-H2"),
          "beta(theta) = r^{-1}(s / theta) instead of r^{-1}(s / (theta - t))"),
    Fault("H2-lambda-factor", "H2", "theory.homogeneous.kkt_solution", "lambda", lambda v, d, a: 2 * v, ("H2",),
          "the band multiplier lambda = 2 / sum_k 1/g_k"),
    Fault("H3-dbeta-dt-sign", "H3", "theory.homogeneous.share_derivatives", "t", lambda v, d, a: (-v[0], v[1]),
          ("H3",), "d beta/dt at fixed theta with the wrong sign (its sign verdict left as it was)"),
    Fault("H3-dbeta-dtheta-factor", "H3", "theory.homogeneous.share_derivatives", "theta",
          lambda v, d, a: (2 * v[0], v[1]), ("H3",), "d beta/d theta (the Newton slope of H2/D7) twice too large"),
    Fault("H4-branch", "H4", "theory.homogeneous.optimal_common_length", "L_opt", _lambert_to_principal, ("H4",),
          "L° with the principal branch W_0 instead of W_{-1}"),
    Fault("H4-phi-sign", "H4", "theory.homogeneous.quasi_concavity", "phi", _h4_phi_sign, ("H4",),
          "the stationarity phi = N' D + c1 N (sign of the quotient rule)"),
    Fault("H4-c0-drops-batch", "H4", "theory.homogeneous.affine_round_time", "c0",
          lambda v, d, a: v.subs(_sym(v, "v_1"), 0) if v.has(_sym(v, "v_1")) else v, ("H4",),
          "c0 = v0 + T_o, forgetting the batch term v1 K"),
    # results D1-D7
    Fault("D1-fill-product", "D1", "theory.heterogeneous.deadline_fill", "draft_length", _d1_product, ("D1",),
          "D1's draft length Min(L_max, tau * h) instead of Min(L_max, tau / h) (issue 11)"),
    Fault("D1-capacity-t", "D1", "theory.heterogeneous.draft_capacity", None, _capacity_no_t, ("D1", "D2"),
          "the draft capacity tau r / (s + r) (t dropped)"),
    Fault("D2-second-derivative", "D2", "theory.heterogeneous.capacity_derivatives", "d2_capacity", _d2_half,
          ("D2",), "L''(beta) half as large (the Newton curvature of the Shannon inner solve)"),
    Fault("D3-beta-sign-of-s", "D3", "theory.heterogeneous.kkt_closed_form", "beta",
          lambda v, d, a: v.subs(_sym(v, "s"), -_sym(v, "s")), ("D3", "grad-D3"),
          "beta = (1/v + s)/(t B eta) instead of (1/v - s)/(t B eta) (issue 11)"),
    Fault("D3-branch", "D3", "theory.heterogeneous.kkt_closed_form", "v",
          lambda v, d, a: v.replace(sp.LambertW, lambda z, *k: sp.LambertW(z, -1)), ("D3", "grad-D3"),
          "v on the lower branch W_{-1}"),
    Fault("D3-slack-factor", "D3", "theory.heterogeneous.kkt_time_slack", "w", lambda v, d, a: v / 2,
          ("D3", "grad-D3"), "the time slack w = (t / a) omega instead of (2 t / a) omega"),
    Fault("D3-free-drafting", "D3", "theory.heterogeneous.kkt_closed_form_free_drafting", "draft_length",
          lambda v, d, a: v + 2, ("D3",), "t = 0: L = ln(...)/ln(alpha) + 1 instead of - 1"),
    Fault("D3-share-slope", "D3", "theory.heterogeneous.kkt_share_slope", "slope", lambda v, d, a: 1 / v,
          ("D3",), "d beta / d lambda = S'(beta) instead of 1 / S'(beta)"),
    Fault("D4-wrong-variable", "D4", "theory.heterogeneous.reward", "dmarginal_dalpha", _d4_wrong_variable, ("D4",),
          "dA'(L)/dalpha computed as dA'(L)/dL"),
    Fault("D5-envelope-missing-L", "D5", "theory.heterogeneous.envelope_derivative", "envelope_form", _d5_missing_L,
          ("D5",), "F'(tau) = sum A'(L)/tau instead of sum A'(L) L/tau"),
    Fault("D5-corner-dropped", "D5", "theory.heterogeneous.tangent_bound", "supremum", _d5_drop_limit, ("D5",),
          "the certificate's supremum without the tau -> inf corner d (a bound that can be beaten)"),
    Fault("D6-stop-short", "D6", "theory.heterogeneous.dinkelbach_stop_short", "draft_length",
          lambda v, d, a: v + 2, ("D6",), "the stop-short length ln(...)/ln(alpha) + 1 instead of - 1"),
    Fault("D7-share-pole", "D7", "theory.heterogeneous.equal_finish_shares", "share", _d7_pole, ("D7",),
          "beta_k(T) = s L/(B eta (T - t)) instead of s L/(B eta (T - t L))"),
    Fault("D7-slope-factor", "D7", "theory.heterogeneous.equal_finish_shares", "d_share_dT",
          lambda v, d, a: v / 2, ("D7",), "d beta/dT half as large"),
    # ingredients (docs/model.md sec. 2) and the simulator's fading law
    Fault("latency-assumption-typo", "ingredient", "theory.latency.RATE_ASSUMPTIONS", None, _assumption_typo,
          ("latency-shape",), "the latency lemma assumes R'' < 0 (negative) instead of R'' <= 0 (issue 11)"),
    Fault("latency-batch", "ingredient", "theory.latency.batch_size", None, _batch_no_plus_one,
          ("latency-goodput",), "the verification batch counts sum_k L_k, forgetting the +1 token per user"),
    Fault("latency-drafting-L2", "ingredient", "theory.latency.drafting_time", None,
          lambda v, d, a: v * _sym(v, "L"), ("latency-goodput", "H1"), "drafting time L^2 h instead of L h"),
    Fault("tokens-variance", "ingredient", "theory.tokens.accepted_variance", None,
          lambda v, d, a: v + _sym(v, "alpha") ** (_sym(v, "L") + 1), ("tokens-variance",),
          "Var N with a spurious alpha^(L+1) term"),
    Fault("tokens-positional", "ingredient", "theory.tokens.expected_tokens_positional", None, _positional_drop_last,
          ("tokens-positional",), "A of a position-dependent profile without its last position"),
    Fault("fading-off-by-one", "ingredient", "theory.fading.gain_threshold", None,
          lambda v, d, a: v.subs(_sym(v, "j"), _sym(v, "j") + 1), ("fading-prefix",),
          "P(m >= j) read at the threshold of j + 1 tokens"),
    Fault("fading-remaining-time", "ingredient", "theory.fading.gain_threshold", None, _fading_remaining_time,
          ("fading-prefix",), "the delivered prefix from the deadline D instead of the time left D - L t (issue 11)"),
    Fault("channel-inverse-branch", "ingredient", "theory.channel.shannon_share_for_rate", None,
          _lambert_to_principal, ("rate-shannon-inverse",), "the Shannon inverse on W_0 (the spurious root)"),
    # upstream of everything: planted last (their removal re-derives the cached forms once)
    Fault("channel-log2", "ingredient", "theory.channel.rate_shannon", None, lambda v, d, a: v * sp.log(2),
          ("rate-shannon-reach", "rate-shape"), "the Shannon rate with ln instead of log2"),
    Fault("tokens-marginal-sign", "ingredient", "theory.tokens.marginal_tokens", None, lambda v, d, a: -v,
          ("tokens-marginal", "tokens-monotone-L"), "A'(L) with the wrong sign"),
    Fault("tokens-exponent", "ingredient", "theory.tokens.expected_tokens", None, _tokens_exponent,
          ("tokens-mean",), "A = (1 - alpha^L)/(1 - alpha): the exponent off by one"),
)


# ---------------------------------------------------------------------------------- call graph
def call_graph() -> dict[str, set[str]]:
    """``theory.<module>.<function>`` -> the theory functions it calls (read from the source)."""
    graph: dict[str, set[str]] = {}
    for modname in THEORY_MODULES:
        mod = importlib.import_module(modname)
        tree = ast.parse(inspect.getsource(mod))
        aliases: dict[str, str] = {}
        names: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for a in node.names:
                    if node.module is None:
                        aliases[a.asname or a.name] = f"theory.{a.name}"
                    else:
                        names[a.asname or a.name] = f"theory.{node.module}.{a.name}"
        for fn in tree.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            calls = set()
            for node in ast.walk(fn):
                if isinstance(node, ast.Call):
                    f = node.func
                    if isinstance(f, ast.Name):
                        calls.add(names.get(f.id, f"{modname}.{f.id}"))
                    elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in aliases:
                        calls.add(f"{aliases[f.value.id]}.{f.attr}")
            graph[f"{modname}.{fn.name}"] = calls
    return graph


def callers(target: str, graph: dict[str, set[str]] | None = None) -> set[str]:
    """Every theory function that calls ``target`` directly or through others."""
    graph = call_graph() if graph is None else graph
    out: set[str] = set()
    todo = [target]
    while todo:
        x = todo.pop()
        for f, calls in graph.items():
            if x in calls and f not in out:
                out.add(f)
                todo.append(f)
    return out


def _clear(names: set[str]) -> None:
    for full in names:
        modname, _, name = full.rpartition(".")
        cache_clear = getattr(getattr(importlib.import_module(modname), name, None), "cache_clear", None)
        if cache_clear is not None:
            cache_clear()


class planted:
    """Context manager: ``with planted(fault): ...`` runs with the fault in ``theory``, then restores it."""

    def __init__(self, fault: Fault, graph: dict[str, set[str]] | None = None):
        self.fault = fault
        modname, _, self.name = fault.target.rpartition(".")
        self.module = importlib.import_module(modname)
        self.downstream = callers(fault.target, graph) if callable(getattr(self.module, self.name)) else set()

    def __enter__(self) -> Fault:
        f = self.fault
        self.original = orig = getattr(self.module, self.name)
        if callable(orig):
            @functools.wraps(orig)
            def wrapper(*args, **kw):
                value = orig(*args, **kw)
                if f.key is None:
                    return f.mutate(value, None, args)
                out = dict(value)
                out[f.key] = f.mutate(value[f.key], value, args)
                return out

            setattr(self.module, self.name, wrapper)
        else:
            setattr(self.module, self.name, f.mutate(orig, None, ()))
        _clear(self.downstream)
        return f

    def __exit__(self, *exc) -> None:
        setattr(self.module, self.name, self.original)
        _clear(self.downstream)


def _value(target: str) -> Any:
    """What ``target`` returns now (called with :data:`proofs_check.ties.SAMPLE_ARGS` or 'linear' arguments)."""
    from .ties import SAMPLE_ARGS

    modname, _, name = target.rpartition(".")
    obj = getattr(importlib.import_module(modname), name)
    if not callable(obj):
        return obj
    args = SAMPLE_ARGS.get(target) or ()
    params = [p for p in inspect.signature(obj).parameters.values() if p.default is inspect.Parameter.empty]
    args = tuple(args) + ("linear",) * (len(params) - len(args))
    if target == "theory.tokens.expected_tokens_positional":
        args = (3,)
    return obj(*args)


def probe(fault: Fault, graph: dict[str, set[str]] | None = None) -> str | None:
    """None if planting ``fault`` changes what its target returns (without error); else why it does not."""
    try:
        before = _value(fault.target)
        with planted(fault, graph):
            after = _value(fault.target)
    except Exception as exc:  # a mutation that crashes would be 'caught' by every claim for a wrong reason
        return f"the mutation raises {type(exc).__name__}: {exc}"
    if fault.key is not None:
        before, after = before[fault.key], after[fault.key]
    if before == after:
        return "the planted value equals the original"
    return None


@dataclasses.dataclass(frozen=True)
class PlantedResult:
    fault: Fault
    caught_by: tuple[str, ...]  # claim ids whose symbolic check failed
    tried: tuple[str, ...]
    details: tuple[str, ...]
    seconds: float


def run_planted(faults: tuple[Fault, ...] = FAULTS, every_claim: bool = False) -> list[PlantedResult]:
    """Plant each fault, run symbolic checks, restore. Default: the fault's own claims first, stopping at the
    first that fails, then (only if none did) every other claim until one does. ``every_claim``: run the
    symbolic check of every claim for every fault (the full matrix; slow)."""
    claims = load_all()
    order = sorted(claims)
    graph = call_graph()
    results = []
    for f in faults:
        t0 = time.perf_counter()
        caught, tried, details = [], [], []
        bad = probe(f, graph)
        if bad is not None:  # an invalid fault is reported as not caught
            results.append(PlantedResult(f, (), (), (f"invalid fault: {bad}",), time.perf_counter() - t0))
            continue
        with planted(f, graph):
            first = [c for c in f.claims if c in claims]
            rest = [c for c in order if c not in first]
            for cid in first + rest:
                c = claims[cid]
                if c.symbolic is None:
                    continue
                ok, _, det = _run(c.symbolic)
                tried.append(cid)
                if not ok:
                    caught.append(cid)
                    details.append(f"{cid}: {det[:160]}")
                    if not every_claim:
                        break
        results.append(PlantedResult(f, tuple(caught), tuple(tried), tuple(details), time.perf_counter() - t0))
    return results


def report_text(results: list[PlantedResult]) -> str:
    w = max(len(r.fault.id) for r in results)
    lines = [f"{'planted fault':<{w}}  {'result':<10}  {'caught by':<28}  what was planted", "-" * (w + 100)]
    for r in results:
        by = ", ".join(r.caught_by) if r.caught_by else ("INVALID" if r.details else "NOT CAUGHT")
        lines.append(f"{r.fault.id:<{w}}  {r.fault.result:<10}  {by:<28}  {r.fault.target}"
                     f"{'[' + r.fault.key + ']' if r.fault.key else ''}: {r.fault.description}")
    missed = [r for r in results if not r.caught_by]
    lines.append(f"\n{len(results)} planted faults, {len(results) - len(missed)} caught, {len(missed)} missed")
    return "\n".join(lines)

