"""The acceptance_fit figure: its table is what the fit and the solver say, and it renders
deterministically. References: numerics.acceptance on the same seeded log (the figure must draw
what the library computes), numerics.homogeneous.solve_homogeneous for L*(K), the published EAGLE
profile (Li et al. 2024, arXiv 2401.15077, Table 2)."""

from __future__ import annotations

import numpy as np
import pytest

import figures.acceptance_fit as fig
from figures._pipeline import check_table, figure_modules, render
from numerics import Scenario
from numerics.acceptance import cycle_users, fit_acceptance, position_counts
from numerics.homogeneous import solve_homogeneous
from numerics.sampling import sample_accepted


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    a = render(fig, tmp_path_factory.mktemp("a"))
    b = render(fig, tmp_path_factory.mktemp("b"))
    return a, b


def test_registered_and_deterministic(rendered):
    assert figure_modules()[fig.NAME] is fig and len(fig.TITLE) < 140
    for pa, pb in zip(*rendered, strict=True):
        assert pa.stat().st_size > 0 and pa.read_bytes() == pb.read_bytes(), pa.name


def test_table_is_the_fit_and_the_solver():
    t = fig.data()
    check_table(t)
    panel, series = np.asarray(t["panel"]), np.asarray(t["series"])
    y, lo, hi, x = (np.asarray(t[c]) for c in ("y", "low", "high", "x"))
    assert np.all(lo <= y) and np.all(y <= hi)
    # the same seeded log, fitted again
    rng = np.random.default_rng(fig.SEED)
    truth = np.array([0.76, 0.69, 0.67, 0.68, 0.68])
    N = sample_accepted(truth, 5, fig.DRAFTS, rng)
    f = fit_acceptance(position_counts(fig.DRAFTS, [int(np.count_nonzero(N > i)) for i in range(5)]))
    m = (panel == "profile") & (series == "positional")
    np.testing.assert_array_equal(y[m], f.profile[0])
    np.testing.assert_array_equal(y[(panel == "profile") & (series == "published")], truth)
    assert np.all((lo[m] <= truth) & (truth <= hi[m]))  # this seed's intervals cover the truth
    assert float(np.asarray(t["lr_pvalue"])[0]) < 0.05  # the falling profile is detected
    # L*(K) at the point estimate is the homogeneous solver's answer
    base = Scenario.preset(fig.SYSTEM, n_users=1)
    base = base.replace(alpha=f.profile, max_draft=5)
    b = (panel == "batch") & (series == "positional")
    for K, L in zip(x[b][:4], y[b][:4], strict=True):
        assert L == solve_homogeneous(cycle_users(base, int(K))).draft_lengths[0]
