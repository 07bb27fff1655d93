"""The tie table: every expression a ``theory`` function returns, and the numeric code that implements it.

A *tie* says: the SymPy expression ``entry`` (``theory.<module>.<function>`` or
``...<function>[<key>]`` for one entry of a returned dict) is implemented by the numeric
callable ``numeric`` (``module:qualified.name``), and the pytest node ``test`` compares the two
on a grid that includes the domain edges (lambdified, or evaluated with mpmath). An entry that
no numeric formula implements (a sign decision, a residual, a derivation step, symbols) has a
*reason* instead, naming the claim or test that checks it.

This module is the ONE place where theory entries meet numeric code paths. Tests obtain the
internal numeric functions they need through the adapters below (:func:`inner_response`,
:func:`capacity_terms`, ...), which resolve the paths of the table; after a refactoring of
``numerics`` (for example the heterogeneous solver becoming a package), re-pointing a tie is a
change of its ``numeric`` string, and of the adapter right below it if the signature changed.

``multispin check --ties`` and ``python -m proofs_check --ties`` print the table;
``tests/test_ties.py`` fails if an entry of ``theory`` has neither a tie nor a reason, if a
numeric path does not resolve, or if a named test does not exist.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from typing import Any

__all__ = [
    "SAMPLE_ARGS",
    "THEORY_MODULES",
    "TIES",
    "Tie",
    "capacity_terms",
    "corner_supremum",
    "deadline_slope",
    "envelope_slope",
    "inner_response",
    "numeric_path",
    "rate_terms",
    "resolve",
    "table_text",
    "theory_entries",
]

def _theory_modules() -> tuple[str, ...]:
    import pkgutil

    import theory

    return tuple(f"theory.{m.name}" for m in sorted(pkgutil.iter_modules(theory.__path__), key=lambda m: m.name))


#: every module of ``theory`` (discovered: a new module's entries need rows before the completeness test passes)
THEORY_MODULES = _theory_modules()

#: arguments with which :func:`theory_entries` calls a function that needs some (to list its dict keys)
SAMPLE_ARGS: dict[str, tuple | None] = {
    "theory.symbols.in_unit_interval": None,  # a transformation of a given expression: not called
    "theory.symbols.user_symbols": (2,),
    "theory.tokens.tokens_limit": (1,),
    "theory.tokens.expected_tokens_polynomial": (3,),
    "theory.tokens.expected_tokens_positional": (3,),
    "theory.tokens.expected_tokens_tail_sum": (3,),
    "theory.tokens.convex_in_alpha": (3,),
    "theory.latency.batch_size": (2, "ragged"),
    "theory.latency.round_time": (2, "linear", "ragged"),
    "theory.latency.goodput": (2, "linear", "ragged"),
    "theory.homogeneous.user_symbols": (2, "linear"),
    "theory.homogeneous.epigraph_problem": (2, "linear"),
    "theory.homogeneous.lagrangian": (2, "linear"),
    "theory.homogeneous.kkt_system": (2, "linear"),
    "theory.acceptance.draft_loglik": (1, 3),
    "theory.acceptance.lr_statistic": (2,),
    "theory.acceptance.lr_statistic_as_divergence": (2,),
    "theory.acceptance.positional_fisher": (2,),
    "theory.acceptance.positional_loglik": (2,),
    "theory.acceptance.positional_mle": (2,),
    "theory.acceptance.positional_symbols": (2,),
}


@dataclasses.dataclass(frozen=True)
class Tie:
    """One row: ``entry`` tied to ``numeric`` by ``test``, or given a ``reason`` to have no tie."""

    entry: str
    numeric: str | None = None
    test: str | None = None
    reason: str | None = None

    def __post_init__(self):
        if (self.numeric is None) != (self.test is None) or (self.numeric is None) == (self.reason is None):
            raise ValueError(f"{self.entry}: a row has either (numeric, test) or a reason, got {self}")


def _t(entry: str, numeric: str, test: str) -> Tie:
    return Tie(entry, numeric=numeric, test=test)


def _r(entry: str, reason: str) -> Tie:
    return Tie(entry, reason=reason)


_CORE = "tests/test_theory_core.py::"
_TIES = "tests/test_ties.py::"
_HOM = "tests/test_homogeneous.py::"
_CLAIM = "tests/test_proofs_check.py::test_claim"
_SIGN = "a sign decision (bool), not a formula: checked by claim "
_RESID = "a derivation residual (zero), not a formula: recomputed from the returned expressions by claim "
_STEP = "a step of the derivation with no numeric counterpart: checked by claim "
_SYM = "symbols of the derivation, not a formula"

TIES: tuple[Tie, ...] = (
    # ------------------------------------------------------------------ symbols
    _r("theory.symbols.in_unit_interval", "a substitution helper (alpha = 1/(1+q)) of the sign arguments"),
    _r("theory.symbols.user_symbols[*]", _SYM),
    # ------------------------------------------------------------------ tokens (docs/model.md sec. 2)
    _t("theory.tokens.accepted_pmf", "numerics.tokens:accepted_pmf", _CORE + "test_pmf_expression"),
    _r("theory.tokens.pmf_total", _RESID + "tokens-pmf"),
    _t("theory.tokens.expected_accepted", "numerics.tokens:expected_accepted",
       _CORE + "test_token_expressions_on_grid"),
    _t("theory.tokens.expected_accepted_at_one", "numerics.tokens:expected_accepted",
       _CORE + "test_token_limits_at_the_edges"),
    _t("theory.tokens.expected_tokens", "numerics.tokens:expected_tokens", _CORE + "test_token_expressions_on_grid"),
    _r("theory.tokens.accepted_second_moment", "an intermediate of accepted_variance (the numerics use a centred "
       "sum, tied to accepted_variance)"),
    _t("theory.tokens.accepted_variance", "numerics.tokens:accepted_variance",
       _CORE + "test_variance_expression_on_grid"),
    _t("theory.tokens.tokens_limit", "numerics.tokens:expected_tokens", _CORE + "test_token_limits_at_the_edges"),
    _t("theory.tokens.marginal_tokens", "numerics.tokens:marginal_tokens", _CORE + "test_token_expressions_on_grid"),
    _t("theory.tokens.tokens_curvature_in_L", "numerics.homogeneous:_Tokens.dN",
       _HOM + "test_token_curvature_tied_to_theory"),
    _t("theory.tokens.tokens_alpha_derivative", "numerics.sensitivity:_tokens_alpha_derivative",
       _TIES + "test_tokens_alpha_derivative"),
    _r("theory.tokens.alpha_derivative_numerator", _STEP + "tokens-increasing-alpha"),
    _r("theory.tokens.expected_tokens_polynomial", _STEP + "tokens-convex-alpha (A at one integer L, expanded)"),
    _t("theory.tokens.expected_tokens_positional", "numerics.tokens:expected_tokens_positional",
       _CORE + "test_positional_expression"),
    _r("theory.tokens.expected_tokens_tail_sum", "MODEL.md's form of expected_tokens_positional, proved equal to it "
       "by claim tokens-positional (the tie goes through that entry)"),
    _r("theory.tokens.increasing_in_L", _SIGN + "tokens-monotone-L"),
    _r("theory.tokens.concave_in_L", _SIGN + "tokens-concave-L"),
    _r("theory.tokens.increasing_in_alpha", _SIGN + "tokens-increasing-alpha"),
    _r("theory.tokens.convex_in_alpha", _SIGN + "tokens-convex-alpha"),
    # ------------------------------------------------------------------ channel
    _t("theory.channel.rate", "numerics.channel:rate", _CORE + "test_rate_and_derivative"),
    _t("theory.channel.rate_linear", "numerics.channel:rate", _CORE + "test_rate_and_derivative"),
    _t("theory.channel.rate_shannon", "numerics.channel:rate", _CORE + "test_rate_and_derivative"),
    _t("theory.channel.rate_derivative", "numerics.channel:rate_derivative", _CORE + "test_rate_and_derivative"),
    _t("theory.channel.rate_derivative", "numerics.heterogeneous.users:Users.length_terms",
       _TIES + "test_rate_terms_and_shannon_second_derivative"),
    _r("theory.channel.rate_increasing", _SIGN + "rate-shape"),
    _r("theory.channel.rate_concave", _SIGN + "rate-shape"),
    _t("theory.channel.shannon_rate_supremum", "numerics.channel:rate_inverse", _TIES + "test_shannon_reach_limit"),
    _r("theory.channel.shannon_share_for_rate_principal", "the spurious principal-branch root (beta = inf): "
       "checked by claim rate-shannon-inverse"),
    _t("theory.channel.shannon_share_for_rate", "numerics.channel:rate_inverse",
       _CORE + "test_shannon_inverse_expression"),
    _t("theory.channel.shannon_share_normalised", "numerics.channel:rate_inverse",
       _TIES + "test_shannon_inverse_dense_grid_near_c_one"),
    _t("theory.channel.linear_share_for_rate", "numerics.channel:rate_inverse",
       _CORE + "test_linear_inverse_expression"),
    # ------------------------------------------------------------------ latency
    _t("theory.latency.per_token_latency", "numerics.latency:per_token_latency",
       _CORE + "test_per_token_latency_expression"),
    _t("theory.latency.drafting_time", "numerics.latency:drafting_time", _TIES + "test_drafting_time"),
    _t("theory.latency.verification_latency", "numerics.latency:verification_latency",
       _CORE + "test_verification_latency_expression"),
    _t("theory.latency.batch_size", "numerics.latency:batch_size", _CORE + "test_verification_latency_expression"),
    _t("theory.latency.round_time", "numerics.latency:round_time", _CORE + "test_round_time_and_goodput_expressions"),
    _t("theory.latency.goodput", "numerics.latency:goodput", _CORE + "test_round_time_and_goodput_expressions"),
    _r("theory.latency.latency_decreasing", _SIGN + "latency-shape (under RATE_ASSUMPTIONS, which the claim checks "
       "every rate model satisfies)"),
    _r("theory.latency.latency_convex", _SIGN + "latency-shape (under RATE_ASSUMPTIONS, which the claim checks every "
       "rate model satisfies)"),
    _r("theory.latency.rate_symbols[*]", _SYM),
    # ------------------------------------------------------------------ homogeneous (H1-H4)
    _r("theory.homogeneous.rate", "a wrapper of theory.channel.rate (tied there)"),
    _r("theory.homogeneous.per_token_latency", "a wrapper of theory.latency.per_token_latency (tied there)"),
    _r("theory.homogeneous.user_symbols[*]", _SYM),
    _t("theory.homogeneous.decomposition[round_time]", "numerics.latency:round_time", _TIES + "test_h1_decomposition"),
    _t("theory.homogeneous.decomposition[drafting]", "numerics.latency:round_time", _TIES + "test_h1_decomposition"),
    _t("theory.homogeneous.decomposition[rest]", "numerics.latency:round_time", _TIES + "test_h1_decomposition"),
    _t("theory.homogeneous.decomposition[makespan]", "numerics.allocation:equal_finish_allocation",
       _TIES + "test_h1_decomposition"),
    _t("theory.homogeneous.decomposition[h]", "numerics.latency:per_token_latency", _TIES + "test_h1_decomposition"),
    _r("theory.homogeneous.decomposition[L]", _SYM),
    _r("theory.homogeneous.decomposition[beta]", _SYM),
    _r("theory.homogeneous.epigraph_problem[*]", "the statement of the H2 epigraph problem: " + _STEP + "H2"),
    _r("theory.homogeneous.lagrangian", "the Lagrangian of H2: " + _STEP + "H2"),
    _r("theory.homogeneous.kkt_system[*]", "the KKT system of H2: " + _STEP + "H2"),
    _t("theory.homogeneous.kkt_solution[lambda]", "numerics.homogeneous:band_multiplier",
       _HOM + "test_band_multiplier_tied_to_kkt"),
    _t("theory.homogeneous.kkt_solution[mu]", "numerics.homogeneous:band_multiplier",
       _HOM + "test_band_multiplier_tied_to_kkt"),
    _t("theory.homogeneous.kkt_solution[slopes]", "numerics.homogeneous:band_multiplier",
       _HOM + "test_band_multiplier_tied_to_kkt"),
    _r("theory.homogeneous.kkt_solution[g]", _SYM),
    _r("theory.homogeneous.kkt_solution[lambda_positive]", _SIGN + "H2"),
    _r("theory.homogeneous.kkt_solution[mu_positive]", _SIGN + "H2"),
    _r("theory.homogeneous.kkt_solution[mu_sum]", _RESID + "H2 (= 1)"),
    _r("theory.homogeneous.kkt_solution[equal_finish]", "the equations complementary slackness forces; the numerics "
       "solve them (numerics.allocation, tied through share_for_theta)"),
    _r("theory.homogeneous.kkt_solution[full_band]",
       "the band equation complementary slackness forces (as equal_finish)"),
    _r("theory.homogeneous.kkt_solution[problem]", _SYM),
    _r("theory.homogeneous.latency_convexity[*]", _SIGN + "H2"),
    _r("theory.homogeneous.rate_increasing[*]", "r, r', r'' of theory.channel (tied there) and sign decisions: "
       "claims H2 and rate-shape"),
    _t("theory.homogeneous.share_for_theta", "numerics.allocation:share_for_deadline",
       "tests/test_allocation.py::test_shares_tied_to_theory_linear"),
    _t("theory.homogeneous.share_for_theta", "numerics.allocation:share_for_deadline",
       "tests/test_allocation.py::test_shares_tied_to_theory_shannon"),
    _t("theory.homogeneous.share_derivatives[theta]", "numerics.allocation:_shares_and_slope",
       _TIES + "test_share_slope_in_the_deadline"),
    _r("theory.homogeneous.share_derivatives[t]", "H3 at fixed theta, a sign argument: " + _STEP + "H3"),
    _r("theory.homogeneous.share_derivatives[s]", "H3 at fixed theta, a sign argument: " + _STEP + "H3"),
    _r("theory.homogeneous.share_derivatives[channel]", "H3 at fixed theta, a sign argument: " + _STEP + "H3"),
    _r("theory.homogeneous.compensation[*]", "H3 at the optimum, a sign argument on abstract slopes: "
       + _STEP + "H3 (its numeric check perturbs the solver)"),
    _t("theory.homogeneous.affine_round_time[round_time]", "numerics.homogeneous:affine_round_time",
       _HOM + "test_affine_round_time_tied"),
    _t("theory.homogeneous.affine_round_time[c0]", "numerics.homogeneous:affine_round_time",
       _HOM + "test_affine_round_time_tied"),
    _t("theory.homogeneous.affine_round_time[c1]", "numerics.homogeneous:affine_round_time",
       _HOM + "test_affine_round_time_tied"),
    _t("theory.homogeneous.tokens_common", "numerics.tokens:expected_tokens",
       _HOM + "test_token_sums_tied_to_numerics_tokens"),
    _t("theory.homogeneous.quasi_concavity[phi]", "numerics.homogeneous:solve_homogeneous",
       _TIES + "test_h4_per_user_alpha_stationarity"),
    _t("theory.homogeneous.quasi_concavity[N]", "numerics.homogeneous:solve_homogeneous",
       _TIES + "test_h4_per_user_alpha_stationarity"),
    _r("theory.homogeneous.quasi_concavity[dG_minus_phi_over_D2]", _RESID + "H4"),
    _r("theory.homogeneous.quasi_concavity[phi_prime_minus_Npp_D]", _RESID + "H4"),
    _r("theory.homogeneous.quasi_concavity[Npp_negative]", _SIGN + "H4"),
    _r("theory.homogeneous.quasi_concavity[Npp_q]", _STEP + "H4 (N'' in q, for the sign decision)"),
    _t("theory.homogeneous.stationarity_equation[phi]", "numerics.homogeneous:stationary_length",
       _TIES + "test_h4_common_alpha_equation"),
    _t("theory.homogeneous.stationarity_equation[equation_lhs]", "numerics.homogeneous:stationary_length",
       _TIES + "test_h4_common_alpha_equation"),
    _r("theory.homogeneous.stationarity_equation[normalised]", _RESID + "H4"),
    _r("theory.homogeneous.stationarity_equation[phi_at_minus_one]", _STEP + "H4 (the domain argument)"),
    _t("theory.homogeneous.optimal_common_length[L_opt]", "numerics.homogeneous:stationary_length",
       _HOM + "test_stationary_length_tied_to_theory"),
    _t("theory.homogeneous.optimal_common_length[z]", "numerics.homogeneous:stationary_length",
       _TIES + "test_h4_common_alpha_equation"),
    _t("theory.homogeneous.optimal_common_length[argument]", "numerics.homogeneous:stationary_length",
       _TIES + "test_h4_common_alpha_equation"),
    _r("theory.homogeneous.optimal_common_length[u_solve]", _STEP + "H4 (SymPy's solve output)"),
    _r("theory.homogeneous.optimal_common_length[u_lower]", _STEP + "H4 (the W_{-1} branch of solve's output)"),
    _r("theory.homogeneous.optimal_common_length[same_as_model]", _SIGN + "H4 (solve's root = MODEL.md's form)"),
    _r("theory.homogeneous.optimal_length_residual", _RESID + "H4"),
    _t("theory.homogeneous.stationary_point_domain[phi_at_minus_one]", "numerics.homogeneous:stationary_length",
       _HOM + "test_stationary_length_raises"),
    _r("theory.homogeneous.stationary_point_domain[phi_at_minus_one_if_c0_lt_c1]", _STEP + "H4"),
    _r("theory.homogeneous.stationary_point_domain[negative_if_c0_lt_c1]", _SIGN + "H4"),
    _r("theory.homogeneous.stationary_point_domain[L_at_boundary]", _STEP + "H4 (L° = -1 at c0 = c1)"),
    _t("theory.homogeneous.leviathan_improvement[ratio]", "numerics.baselines:baseline",
       _HOM + "test_leviathan_special_case"),
    _t("theory.homogeneous.leviathan_improvement[leviathan]", "numerics.baselines:baseline",
       _HOM + "test_leviathan_special_case"),
    _r("theory.homogeneous.leviathan_improvement[difference]", _RESID + "leviathan-table1"),
    # ------------------------------------------------------------------ heterogeneous (D1-D7)
    _r("theory.heterogeneous.tokens", "a wrapper of theory.tokens.expected_tokens (tied there)"),
    _r("theory.heterogeneous.marginal", "a wrapper of theory.tokens.marginal_tokens (tied there)"),
    _r("theory.heterogeneous.rate", "a wrapper of theory.channel.rate (tied there)"),
    _t("theory.heterogeneous.draft_capacity", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.capacity_derivatives[capacity]", "numerics.heterogeneous.users:Users.length_terms",
       _TIES + "test_capacity_derivatives"),
    _t("theory.heterogeneous.capacity_derivatives[d_capacity]", "numerics.heterogeneous.users:Users.length_terms",
       _TIES + "test_capacity_derivatives"),
    _t("theory.heterogeneous.capacity_derivatives[d2_capacity]", "numerics.heterogeneous.users:Users.length_terms",
       _TIES + "test_capacity_derivatives"),
    _t("theory.heterogeneous.capacity_derivatives[generic_d2]", "numerics.heterogeneous.users:Users.length_terms",
       _TIES + "test_capacity_derivatives"),
    _t("theory.heterogeneous.deadline_fill[draft_length]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.deadline_fill[per_token_latency]", "numerics.latency:per_token_latency",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _r("theory.heterogeneous.deadline_fill[objective_increasing]", _SIGN + "D1"),
    _r("theory.heterogeneous.inner_concavity_linear[*]", "the D2 concavity argument (capacity and its derivatives "
       "are tied through capacity_derivatives): " + _STEP + "D2"),
    _r("theory.heterogeneous.inner_concavity_composition[*]", "the D2 composition argument: " + _STEP + "D2"),
    _r("theory.heterogeneous.kkt_system[*]", "the D3 Lagrangian and stationarity for symbolic users: " + _STEP + "D3"),
    _t("theory.heterogeneous.kkt_closed_form[stationarity_v]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form[v]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form[kappa]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form[M]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form[beta]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form[draft_length]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _r("theory.heterogeneous.kkt_closed_form[roots]", "both roots of v^2 e^(kappa v) = M; the positive one is "
       "kkt_closed_form[v] (tied)"),
    _r("theory.heterogeneous.kkt_closed_form[reduction_residual]", _RESID + "D3"),
    _t("theory.heterogeneous.model_md_closed_form[v]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _r("theory.heterogeneous.model_md_closed_form[identity]", _RESID + "D3"),
    _r("theory.heterogeneous.model_md_closed_form[matches_solve]", _SIGN + "D3"),
    _r("theory.heterogeneous.model_md_closed_form[reduction_residual]", _RESID + "D3"),
    _t("theory.heterogeneous.kkt_time_slack[w]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_time_slack[zeta]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_time_slack[log_M]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_time_slack[draft_length]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_time_slack[slack_of_v]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d1_and_d3_at_the_continuous_optimum"),
    _r("theory.heterogeneous.kkt_time_slack[argument_residual]", _RESID + "D3"),
    _r("theory.heterogeneous.kkt_time_slack[residual]", _RESID + "D3"),
    _r("theory.heterogeneous.kkt_time_slack[log_M_residual]", _RESID + "D3"),
    _t("theory.heterogeneous.kkt_closed_form_free_drafting[draft_length]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d3_free_drafting_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form_free_drafting[displayed]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d3_free_drafting_at_the_continuous_optimum"),
    _t("theory.heterogeneous.kkt_closed_form_free_drafting[beta]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d3_free_drafting_at_the_continuous_optimum"),
    _r("theory.heterogeneous.kkt_closed_form_free_drafting[residual]", _RESID + "D3"),
    _r("theory.heterogeneous.kkt_closed_form_free_drafting[residual_displayed]", _RESID + "D3"),
    _t("theory.heterogeneous.kkt_share_slope[slope]", "numerics.heterogeneous.inner:Inner.respond",
       _TIES + "test_share_slope_in_the_multiplier"),
    _t("theory.heterogeneous.kkt_share_slope[stationarity]", "numerics.heterogeneous.inner:Inner.respond",
       _TIES + "test_share_slope_in_the_multiplier"),
    _r("theory.heterogeneous.reward[*]", "the D4 sign argument (the numerics do not evaluate dA'/dalpha): "
       + _STEP + "D4"),
    _t("theory.heterogeneous.envelope_derivative[envelope_form]", "numerics.heterogeneous.inner:Inner.solve",
       _TIES + "test_envelope_derivative"),
    _t("theory.heterogeneous.envelope_derivative[partial_tau]", "numerics.heterogeneous.inner:Inner.solve",
       _TIES + "test_envelope_derivative"),
    _r("theory.heterogeneous.envelope_derivative[residual]", _RESID + "D5"),
    _r("theory.heterogeneous.envelope_derivative[homogeneity_residual]", _RESID + "D5"),
    _r("theory.heterogeneous.joint_concavity[*]", "the D5 joint-concavity argument: " + _STEP + "D5"),
    _r("theory.heterogeneous.outer_stationarity[*]", "the D5 one-maximum argument: " + _STEP + "D5"),
    _t("theory.heterogeneous.tangent_bound[supremum]", "numerics.heterogeneous.certificate:ratio_sup",
       _TIES + "test_certificate_corner_formula"),
    _t("theory.heterogeneous.tangent_bound[corners]", "numerics.heterogeneous.certificate:ratio_sup",
       _TIES + "test_certificate_corner_formula"),
    _t("theory.heterogeneous.tangent_bound[ratio]", "numerics.heterogeneous.certificate:ratio_sup",
       _TIES + "test_certificate_corner_formula"),
    _r("theory.heterogeneous.tangent_bound[d_tau_numerator]", _STEP + "D5 (monotonicity of the ratio)"),
    _r("theory.heterogeneous.tangent_bound[d_n_numerator]", _STEP + "D5 (monotonicity of the ratio)"),
    _r("theory.heterogeneous.tangent_bound[monotone_in_each]", _SIGN + "D5"),
    _r("theory.heterogeneous.tangent_bound[n]", _SYM),
    _r("theory.heterogeneous.tangent_bound[n_max]", _SYM),
    _r("theory.heterogeneous.tangent_bound[symbols]", _SYM),
    _t("theory.heterogeneous.dinkelbach_stop_short[draft_length]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d6_stop_short_at_the_continuous_optimum"),
    _t("theory.heterogeneous.dinkelbach_stop_short[model_md]", "numerics.heterogeneous:solve_heterogeneous",
       _TIES + "test_d6_stop_short_at_the_continuous_optimum"),
    _r("theory.heterogeneous.dinkelbach_stop_short[per_user_objective]", _STEP + "D6"),
    _r("theory.heterogeneous.dinkelbach_stop_short[stationarity]", _STEP + "D6"),
    _r("theory.heterogeneous.dinkelbach_stop_short[residual_solve]", _RESID + "D6"),
    _r("theory.heterogeneous.dinkelbach_stop_short[residual_model_md]", _RESID + "D6"),
    _r("theory.heterogeneous.dinkelbach_stop_short[matches_model_md]", _SIGN + "D6"),
    _r("theory.heterogeneous.dinkelbach_stop_short[concave]", _SIGN + "D6"),
    _t("theory.heterogeneous.equal_finish_shares[share]", "numerics.allocation:share_for_deadline",
       _TIES + "test_d7_equal_finish_share"),
    _t("theory.heterogeneous.equal_finish_shares[d_share_dT]", "numerics.allocation:_shares_and_slope",
       _TIES + "test_share_slope_in_the_deadline"),
    _r("theory.heterogeneous.equal_finish_shares[d2_share_dL2]", _STEP + "D7 (convexity in L)"),
    _r("theory.heterogeneous.equal_finish_shares[convex_in_L]", _SIGN + "D7"),
    _r("theory.heterogeneous.equal_finish_shares[decreasing_in_T]", _SIGN + "D7"),
    # ------------------------------------------------------------------ acceptance from measurements (issue 13)
    _r("theory.acceptance.draft_loglik", _STEP + "acceptance-iid-mle (the likelihood of one draft)"),
    _r("theory.acceptance.iid_concave", _SIGN + "acceptance-iid-mle"),
    _r("theory.acceptance.iid_loglik", _STEP + "acceptance-iid-mle"),
    _r("theory.acceptance.iid_score", _STEP + "acceptance-iid-mle"),
    _t("theory.acceptance.iid_mle", "numerics.acceptance:fit_acceptance",
       "tests/test_acceptance_theory.py::test_iid_mle_and_fisher_standard_error_follow_theory"),
    _t("theory.acceptance.iid_fisher", "numerics.acceptance:fit_acceptance",
       "tests/test_acceptance_theory.py::test_iid_mle_and_fisher_standard_error_follow_theory"),
    _r("theory.acceptance.positional_loglik", _STEP + "acceptance-positional-mle"),
    _r("theory.acceptance.positional_symbols", _SYM),
    _t("theory.acceptance.positional_mle", "numerics.acceptance:fit_acceptance",
       "tests/test_acceptance_theory.py::test_positional_mle_fisher_and_lr_follow_theory"),
    _t("theory.acceptance.positional_fisher", "numerics.acceptance:fit_acceptance",
       "tests/test_acceptance_theory.py::test_positional_mle_fisher_and_lr_follow_theory"),
    _t("theory.acceptance.lr_statistic", "numerics.acceptance:fit_acceptance",
       "tests/test_acceptance_theory.py::test_positional_mle_fisher_and_lr_follow_theory"),
    _r("theory.acceptance.lr_statistic_as_divergence", "the LR statistic as a KL divergence, an identity: "
       + _STEP + "acceptance-lr-test"),
    _r("theory.acceptance.nesting_identity", _SIGN + "acceptance-positional-mle (i.i.d. nested in positional)"),
    # ------------------------------------------------------------------ fading (the simulator)
    _t("theory.fading.faded_rate", "numerics.simulate:faded_rate", _TIES + "test_faded_rate"),
    _t("theory.fading.gain_threshold", "numerics.simulate:simulate", _TIES + "test_fading_prefix_law"),
    _t("theory.fading.accepted_tail", "numerics.simulate:sample_prefix", _TIES + "test_fading_prefix_law"),
    _t("theory.fading.prefix_tail", "numerics.simulate:simulate", _TIES + "test_fading_prefix_law"),
    _t("theory.fading.expected_tokens_faded", "numerics.simulate:simulate", _TIES + "test_fading_prefix_law"),
    _t("theory.fading.expected_delivered", "numerics.simulate:simulate",
       _TIES + "test_fading_goodput_against_quadrature"),
    _t("theory.fading.finish_time_cdf", "numerics.simulate:simulate", _TIES + "test_fading_goodput_against_quadrature"),
)


# ---------------------------------------------------------------------------------- resolution
def resolve(path: str) -> Any:
    """The object at ``module:qualified.name`` (raises ImportError / AttributeError if it moved)."""
    mod, _, qual = path.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def numeric_path(entry: str, contains: str = "") -> str:
    """The numeric path of the (first) tie of ``entry`` whose path contains ``contains``."""
    for row in TIES:
        if row.entry == entry and row.numeric and contains in row.numeric:
            return row.numeric
    raise KeyError(f"no tie for {entry!r} (containing {contains!r}) in proofs_check.ties.TIES")


def _public_functions(modname: str) -> list[tuple[str, Callable]]:
    mod = importlib.import_module(modname)
    out = []
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if callable(obj) and getattr(obj, "__module__", None) == modname and not inspect.isclass(obj):
            out.append((name, obj))
    return out


def theory_entries() -> list[str]:
    """Every entry of ``theory``: ``module.function``, or ``module.function[key]`` per key of a returned dict.

    Functions needing arguments are called with :data:`SAMPLE_ARGS` (``None``: not called, one
    entry). The keys of a dict do not depend on the arguments (rate model, number of users).
    """
    entries: list[str] = []
    for modname in THEORY_MODULES:
        for name, fn in _public_functions(modname):
            full = f"{modname}.{name}"
            args = SAMPLE_ARGS.get(full, ())
            if args is None:
                entries.append(full)
                continue
            params = [p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty]
            if len(params) > len(args):
                args = tuple(args) + ("linear",) * (len(params) - len(args))
            value = fn(*args)
            if isinstance(value, dict):
                entries.extend(f"{full}[{k}]" for k in value)
            else:
                entries.append(full)
    return entries


def covered(entry: str) -> list[Tie]:
    """The rows covering ``entry`` (its own rows, or a ``[*]`` reason row of its function)."""
    rows = [r for r in TIES if r.entry == entry]
    if not rows and entry.endswith("]"):
        star = entry[: entry.index("[")] + "[*]"
        rows = [r for r in TIES if r.entry == star]
    return rows


def table_text() -> str:
    """The tie table as text: one line per row (entry, numeric callable, test or reason)."""
    w = max(len(r.entry) for r in TIES)
    lines = [f"{'theory entry':<{w}}  tied to / reason", "-" * (w + 60)]
    for r in TIES:
        if r.numeric:
            lines.append(f"{r.entry:<{w}}  {r.numeric}  [{r.test}]")
        else:
            lines.append(f"{r.entry:<{w}}  (no tie) {r.reason}")
    n_tied = len({r.entry for r in TIES if r.numeric})
    n_reason = len({r.entry for r in TIES if r.reason})
    lines.append(f"\n{len(TIES)} rows: {n_tied} entries tied to numerics, {n_reason} with a reason instead")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- adapters
# Tests reach the internal numeric functions of the ties only through these adapters, which
# resolve the paths of the table above. Re-point the path (and the adapter) after a refactoring.
def _users_and_inner(scenario, tau: float):
    """(users, inner problem at deadline tau) of the heterogeneous solver's inner problem (D3)."""
    Inner = resolve(numeric_path("theory.heterogeneous.kkt_share_slope[slope]")[: -len(".respond")])
    Users = resolve("numerics.heterogeneous.users:Users")
    users = Users(scenario, "smooth")
    return users, Inner(users, tau)


def inner_response(scenario, tau: float, lam: float):
    """Per user at deadline tau and band price lam: (beta, L, d beta / d lambda) of the D3 best response."""
    _, inner = _users_and_inner(scenario, tau)
    r = inner.respond(lam)
    return r.beta, r.L, r.dbeta_dlnlam / lam


def capacity_terms(scenario, tau: float, beta):
    """(L, L', L'') of every user at shares ``beta`` (> 0) and deadline tau (uploading users).

    The solver works with the inverse, the share b(L, tau): L' = 1 / b_L and L'' = -b_LL / b_L^3.
    """
    import numpy as np

    users, _ = _users_and_inner(scenario, tau)
    st = users.length_terms(np.asarray(beta, dtype=float), tau, np.arange(scenario.n_users), order=2)
    return st["L"], 1.0 / st["bL"], -st["bLL"] / st["bL"] ** 3


def rate_terms(scenario, beta):
    """(r, r', r'') of every user at shares ``beta`` (> 0), as the heterogeneous solver evaluates them."""
    import numpy as np

    Users = resolve(numeric_path("theory.channel.rate_derivative", "length_terms")[: -len(".length_terms")])
    users = Users(scenario, "smooth")
    return users._rate_terms(np.asarray(beta, dtype=float), np.asarray(scenario.channel, dtype=float))


def envelope_slope(scenario, tau: float):
    """(F'(tau) by the dual's tau-derivative at the inner optimum, the inner solution) at deadline tau (D5).

    The solution carries ``beta``, ``capped`` (users held at their cap) and ``tokens`` (A_k(L_k)).
    """
    import types

    users, inner = _users_and_inner(scenario, tau)
    r = inner.solve()
    sol = types.SimpleNamespace(beta=r.beta, L=r.L, capped=r.status == 2, tokens=users.tokens(r.L), lam=r.lam)
    return r.dF, sol


def deadline_slope(rate_model: str, T: float, c, d, bandwidth_hz: float, channel):
    """(beta_k(T), d beta_k / dT) of the equal-finish root's Newton step (H2, D7): c = L t, d = L s."""
    import numpy as np

    fn = resolve(numeric_path("theory.heterogeneous.equal_finish_shares[d_share_dT]"))
    beta, slope, _ = fn(rate_model, float(T), np.asarray(c, float), np.asarray(d, float), float(bandwidth_hz),
                        np.asarray(channel, float))
    return beta, slope


def corner_supremum(p: float, d: float, m: float, w: float, c: float, n_max: float) -> float:
    """The certificate's bound sup over tau >= 0, 0 <= n <= n_max of (p + d tau + m n)/(c + tau + w n), one tangent."""
    fn = resolve(numeric_path("theory.heterogeneous.tangent_bound[supremum]"))
    return float(fn([(p, d)], c, m, w, n_max))


def multiplier_search_evaluations(scenario, tau: float) -> tuple[int, float]:
    """(best responses evaluated, lambda found) by the D3 multiplier search sum_k beta_k(lambda) = 1 at deadline tau.

    The search (``Inner.solve``) is a safeguarded Newton method on ln(lambda) whose slope is
    d beta/d lambda (:func:`theory.heterogeneous.kkt_share_slope`): a wrong slope still
    converges through the bisection safeguard, but slowly, which only a count can see.
    """
    _, inner = _users_and_inner(scenario, tau)
    count = [0]
    respond = inner.respond

    def counted(lam, *args, **kwargs):
        count[0] += 1
        return respond(lam, *args, **kwargs)

    inner.respond = counted
    r = inner.solve()
    return count[0], float(r.lam)
