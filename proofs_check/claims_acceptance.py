"""Acceptance from measurements (docs/model.md, "Acceptance from measurements"; issue 13).

Symbolic checks call :mod:`theory.acceptance` (SymPy derives and decides). Numeric checks run
:mod:`numerics.acceptance` on seeded synthetic logs (per-token Bernoulli acceptance,
:func:`numerics.sampling.sample_accepted`) and compare with independent references: generic
maximisation of the per-draft log-likelihood (scipy.optimize), exact expectations over the pmf
at mpmath precision, lambdified SymPy expressions, and Monte Carlo over seeds.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import optimize, special

from numerics.acceptance import fit_acceptance, record_counts
from numerics.sampling import sample_accepted
from theory import acceptance as TA
from theory.symbols import L, alpha

from .registry import claim


def _records(seed: int, n_drafts: int = 300, max_len: int = 8):
    """Seeded records with varying lengths and a random falling-or-flat profile."""
    rng = np.random.default_rng(seed)
    prof = np.sort(rng.uniform(0.3, 0.95, max_len))[::-1] if seed % 2 else np.full(max_len, rng.uniform(0.2, 0.95))
    lengths = rng.integers(0, max_len + 1, n_drafts)
    N = np.array([sample_accepted(prof, int(Ld), 1, rng)[0] for Ld in lengths])
    return lengths, N


# ------------------------------------------------------------------------- i.i.d. MLE
def _sym_iid_mle() -> str:
    assert sp.simplify(TA.iid_mle() - TA.S / (TA.S + TA.R)) == 0, TA.iid_mle()
    assert TA.iid_concave() is True, "SymPy did not decide d2l/dalpha2 < 0"
    # the log-likelihood is the sum of the per-draft logs of the pmf (one rejected, one censored draft)
    two = TA.draft_loglik(2, 5) + TA.draft_loglik(3, 3)
    assert sp.simplify(two - TA.iid_loglik().subs({TA.S: 5, TA.R: 1})) == 0
    return "score root S/(S+R), strictly concave; l = sum of per-draft log pmf"


@claim("acceptance-iid-mle",
       "censored truncated-geometric likelihood S log(alpha) + R log(1-alpha) has MLE S/(S+R)", symbolic=_sym_iid_mle)
def _num_iid_mle() -> str:
    worst = 0.0
    for seed in range(8):
        Ld, N = _records(seed)
        fit = fit_acceptance(record_counts(Ld, N))
        S, R = float(N.sum()), float(np.count_nonzero(N < Ld))

        def nll(a, S=S, R=R):
            return -(S * np.log(a) + R * np.log1p(-a))

        ref = optimize.minimize_scalar(nll, bounds=(1e-12, 1 - 1e-12), method="bounded", options={"xatol": 1e-13}).x
        sym = float(TA.iid_mle().subs({TA.S: S, TA.R: R}))
        assert abs(fit.iid[0] - sym) <= 2e-16, (fit.iid[0], sym)  # the closed form, one rounding
        worst = max(worst, abs(fit.iid[0] - ref))
    # bounded Brent locates a smooth maximum only to ~sqrt(machine eps) in alpha (flat top)
    assert worst < 1e-7, worst
    return f"8 seeded logs: = SymPy's S/(S+R); |numerics - generic maximiser| <= {worst:.1e}"


# ------------------------------------------------------------------------- Fisher information
def _sym_fisher() -> str:
    info = TA.iid_fisher()
    assert sp.simplify(info - (1 - alpha**L) / (alpha * (1 - alpha) ** 2)) == 0, info
    return "E[-l''] = (1 - alpha^L) / (alpha (1 - alpha)^2) from E[N] and P(N < L)"


@claim("acceptance-fisher", "expected information of a draft of length L is (1 - alpha^L)/(alpha (1 - alpha)^2)",
       symbolic=_sym_fisher)
def _num_fisher() -> str:
    # reference: E[-d2/dalpha2 log p(N)] summed over the pmf at 40 digits (mpmath)
    mp.mp.dps = 40
    info = sp.lambdify((alpha, L), TA.iid_fisher(), "mpmath")
    worst = mp.mpf(0)
    for a_, L_ in [(0.3, 1), (0.7, 5), (0.95, 12), (0.5, 40)]:
        am = mp.mpf(a_)
        ref = sum(am**n * (1 - am) * (n / am**2 + 1 / (1 - am) ** 2) for n in range(L_)) + am**L_ * L_ / am**2
        worst = max(worst, abs(info(am, L_) - ref) / ref)
    assert worst < mp.mpf("1e-30"), worst
    return f"relative error vs pmf expectation {float(worst):.1e}"


# ------------------------------------------------------------------------- positional model
def _sym_positional() -> str:
    al, acc, risk = TA.positional_symbols(4)
    mle = TA.positional_mle(4)
    assert all(sp.simplify(m - x / r) == 0 for m, x, r in zip(mle, acc, risk, strict=True)), mle
    F = TA.positional_fisher(4)
    assert all(sp.simplify(F[i, i] - risk[i] / (al[i] * (1 - al[i]))) == 0 for i in range(4))
    assert all(F[i, j] == 0 for i in range(4) for j in range(4) if i != j)
    assert TA.nesting_identity(8), "positional loglik at equal alpha_i differs from the i.i.d. one"
    return "alpha_i^ = a_i/n_i; diagonal information n_i/(alpha_i(1-alpha_i)); i.i.d. nested (L <= 8)"


@claim("acceptance-positional-mle",
       "chain of binomials: alpha_i^ = a_i / n_i; the i.i.d. model is its equal-alpha submodel",
       symbolic=_sym_positional)
def _num_positional() -> str:
    worst = 0.0
    for seed in range(8):
        Ld, N = _records(seed)
        fit = fit_acceptance(record_counts(Ld, N))
        for i in range(fit.positions[0]):
            n_i, a_i = int(fit.at_risk[0, i]), int(fit.accepted[0, i])
            if 0 < a_i < n_i:
                def nll(p, a_i=a_i, n_i=n_i):
                    return -(a_i * np.log(p) + (n_i - a_i) * np.log1p(-p))

                ref = optimize.minimize_scalar(nll,
                                               bounds=(1e-12, 1 - 1e-12), method="bounded",
                                               options={"xatol": 1e-13}).x
                worst = max(worst, abs(fit.profile[0, i] - ref))
        # nesting: pooled counts are (S, S + R)
        assert int(fit.at_risk.sum()) == int(N.sum()) + int(np.count_nonzero(N < Ld))
    # bounded Brent locates a smooth maximum only to ~sqrt(machine eps) in alpha (flat top)
    assert worst < 1e-7, worst
    return f"|a_i/n_i - generic maximiser| <= {worst:.1e}; sum n_i = S + R on 8 logs"


# ------------------------------------------------------------------------- LR test
def _sym_lr() -> str:
    d = sp.expand_log(TA.lr_statistic(3) - TA.lr_statistic_as_divergence(3), force=True)
    assert sp.simplify(d) == 0, d
    return "2 (l_pos - l_iid) = 2 sum_i n_i KL(alpha_i^ || alpha^) (P = 3)"


@claim("acceptance-lr-test",
       "LR statistic of i.i.d. vs position-dependent is 2 sum n_i KL(alpha_i^||alpha^), ~ chi2(P-1) under i.i.d.",
       symbolic=_sym_lr)
def _num_lr() -> str:
    # the numerics' statistic equals the lambdified SymPy expression; under i.i.d. the 5% test
    # rejects about 5% of 200 seeded logs (Binomial(200, 0.05) 99.9% band: 2..23)
    _al, acc, risk = TA.positional_symbols(5)
    lr = sp.lambdify(acc + risk, TA.lr_statistic(5), "numpy")
    rng = np.random.default_rng(20261129)
    reject = 0
    worst = 0.0
    for _ in range(200):
        N = sample_accepted(0.7, 5, 400, rng)
        fit = fit_acceptance(record_counts(np.full(400, 5), N))
        n, a = fit.at_risk[0].astype(float), fit.accepted[0].astype(float)
        if np.all((a > 0) & (a < n)):
            worst = max(worst, abs(fit.lr_statistic[0] - lr(*a, *n)) / max(1.0, fit.lr_statistic[0]))
        reject += fit.lr_pvalue[0] < 0.05
    assert worst < 1e-9, worst
    assert 2 <= reject <= 23, reject
    assert float(special.rel_entr(0.0, 0.5)) == 0.0  # 0 log 0 = 0 in the KL form
    return f"matches SymPy (rel {worst:.1e}); i.i.d. rejected in {reject}/200 at 5%"
