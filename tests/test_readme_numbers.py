"""Every number of README.md's solver examples, recomputed by an independent computation.

README scenario: alpha = (0.8, 0.6), t = 0.01 s, s = 100 bit, B = 10^4 Hz, eta = (2, 1) bit/s/Hz,
v0 = 0.2 s, v1 = T_o = 0, max_draft = 16, linear rate. References: exact rational arithmetic
(``fractions``) for the homogeneous regime and the equal split (the equal-finish shares of H2
are rational there), and brute-force enumeration of every (L_1, L_2) with the equal-finish
deadline found by mpmath's ``findroot`` at 30 digits for the heterogeneous regime. README.md
names this file beside each number.
"""

from __future__ import annotations

from fractions import Fraction as F

import mpmath as mp
import pytest

from numerics import Scenario, baseline, solve_heterogeneous, solve_homogeneous

ALPHA = (F(4, 5), F(3, 5))
T_DRAFT, S, B, ETA, V0, LMAX = F(1, 100), F(100), F(10_000), (F(2), F(1)), F(1, 5), 16


def _A(a, L):
    return sum(a**m for m in range(L + 1))  # tokens per round, sum_{m <= L} alpha^m, exact


def _best_common(theta):
    """max over L = 1..16 of sum_k A(alpha_k, L) / (L theta + v0), exact."""
    return max((sum(_A(a, L) for a in ALPHA) / (L * theta + V0), L) for L in range(1, LMAX + 1))


def _hom():
    # H2 by hand: with equal t_k the equal-finish shares are proportional to s_k / eta_k: (1/3, 2/3)
    w = [S / e for e in ETA]
    beta = [x / sum(w) for x in w]
    theta = T_DRAFT + S / (beta[0] * B * ETA[0])
    assert theta == T_DRAFT + S / (beta[1] * B * ETA[1])
    return beta, _best_common(theta)


def test_homogeneous_numbers():
    beta, (G, L) = _hom()
    assert (L, [round(float(b), 4) for b in beta], round(float(G), 3)) == (4, [0.3333, 0.6667], 18.891)
    s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=[2.0, 1.0],
                 v0=0.2)
    sol = solve_homogeneous(s)
    assert sol.draft_lengths.tolist() == [L, L] and sol.goodput == pytest.approx(float(G), rel=1e-13)


def test_gain_over_equal_split():
    _, (G, _) = _hom()
    theta_eq = max(T_DRAFT + S / (F(1, 2) * B * e) for e in ETA)  # equal split: the slower user sets theta
    G_eq, _ = _best_common(theta_eq)
    assert round(float(G / G_eq - 1), 4) == 0.0667
    s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=[2.0, 1.0],
                 v0=0.2)
    assert baseline(s, "equal-best").goodput == pytest.approx(float(G_eq), rel=1e-13)


def test_heterogeneous_numbers():
    """Enumerate (L_1, L_2) in [0, 16]^2: equal-finish deadline T from sum_k L_k s/(B eta_k (T - L_k t)) = 1."""
    best = None
    with mp.workdps(30):
        for L1 in range(LMAX + 1):
            for L2 in range(LMAX + 1):
                Ls = (L1, L2)
                up = [k for k in range(2) if Ls[k] > 0]
                if up:
                    def excess(T, Ls=Ls, up=up):
                        return sum(Ls[k] * 100 / (mp.mpf(10_000) * float(ETA[k]) * (T - Ls[k] * mp.mpf("0.01")))
                                   for k in up) - 1
                    lo = max(Ls[k] * mp.mpf("0.01") for k in up)
                    T = mp.findroot(excess, (lo + mp.mpf("1e-12"), lo + 10), solver="bisect")
                    beta = [Ls[k] * 100 / (10_000 * float(ETA[k]) * (T - Ls[k] * mp.mpf("0.01"))) if Ls[k] else 0
                            for k in range(2)]
                else:
                    T, beta = mp.mpf(0), [0, 0]
                G = sum(mp.mpf(float(_A(a, L))) for a, L in zip(ALPHA, Ls, strict=True)) / (T + mp.mpf("0.2"))
                if best is None or G > best[0]:
                    best = (G, Ls, beta)
    G, Ls, beta = best
    _, (G_hom, _) = _hom()
    assert list(Ls) == [6, 3] and [round(float(b), 3) for b in beta] == [0.618, 0.382]
    assert round(float(G), 3) == 19.859 and round(float(G) / float(G_hom) - 1, 4) == 0.0513
    s = Scenario(alpha=[0.8, 0.6], t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4, spectral_efficiency=[2.0, 1.0],
                 v0=0.2)
    assert solve_heterogeneous(s).goodput == pytest.approx(float(G), rel=1e-12)
