"""theory.acceptance tied to numerics.acceptance: the SymPy MLEs, Fisher information and LR
statistic, lambdified, against the numerical fit on seeded synthetic logs (the claims of
proofs_check/claims_acceptance.py run in tests/test_proofs_check.py as well)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from numerics.acceptance import fit_acceptance, record_counts
from numerics.sampling import sample_accepted
from theory import acceptance as TA
from theory.symbols import L, alpha


def _fit(seed: int, lengths):
    rng = np.random.default_rng(seed)
    prof = np.array([0.8, 0.7, 0.65, 0.6, 0.6, 0.55])
    N = np.array([sample_accepted(prof, int(Ld), 1, rng)[0] for Ld in lengths])
    return fit_acceptance(record_counts(lengths, N)), N


def test_iid_mle_and_fisher_standard_error_follow_theory():
    lengths = np.random.default_rng(0).integers(1, 7, 500)
    fit, N = _fit(1, lengths)
    S, R = int(N.sum()), int(np.count_nonzero(N < lengths))
    mle = sp.lambdify((TA.S, TA.R), TA.iid_mle())(S, R)
    assert fit.iid[0] == pytest.approx(mle, rel=1e-15)
    # expected information summed over the drafts' lengths, at the MLE
    info = sp.lambdify((alpha, L), TA.iid_fisher())
    total = sum(info(mle, int(Ld)) for Ld in lengths)
    assert fit.iid_std_error[0] == pytest.approx(total**-0.5, rel=1e-12)


def test_positional_mle_fisher_and_lr_follow_theory():
    fit, _ = _fit(2, np.full(800, 6))
    P = 6
    al, acc, risk = TA.positional_symbols(P)
    a, n = fit.accepted[0].astype(float), fit.at_risk[0].astype(float)
    mle = [sp.lambdify((x, r), m)(ai, ni)
           for m, x, r, ai, ni in zip(TA.positional_mle(P), acc, risk, a, n, strict=True)]
    np.testing.assert_allclose(fit.profile[0], mle, rtol=1e-15)
    F = TA.positional_fisher(P)
    for i in range(P):
        fi = sp.lambdify((al[i], risk[i]), F[i, i])(mle[i], n[i])
        assert fit.profile_std_error[0, i] == pytest.approx(fi**-0.5, rel=1e-12)
    lr = sp.lambdify(acc + risk, TA.lr_statistic(P))(*a, *n)
    assert fit.lr_statistic[0] == pytest.approx(lr, rel=1e-10)
    assert fit.lr_df[0] == P - 1


def test_theory_validates_its_arguments():
    with pytest.raises(ValueError, match=r"accepted must be <= length=2, got 3"):
        TA.draft_loglik(3, 2)
    with pytest.raises(ValueError, match=r"positions must be an integer >= 1, got 0"):
        TA.positional_symbols(0)
    with pytest.raises(ValueError, match=r"max_length must be an integer >= 1, got -1"):
        TA.nesting_identity(-1)
