"""The simulator's fading model: the law of the delivered prefix under Rayleigh block fading (theory.fading).

Symbolic: the gain threshold solves the rate equation, the tail e^{-g_j} is the Exp(1) integral
above it, the acceptance tail is summed from the pmf, and E[min(N, m)] from the two laws
equals the returned sum (exactly, for small L). Numeric: the Monte Carlo simulator
(:func:`numerics.simulate.simulate`, ``fading=True``) against the law, per user.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

import theory.fading as tf
from numerics import Scenario
from numerics.allocation import equal_finish_allocation
from numerics.latency import drafting_time
from numerics.simulate import simulate
from theory.symbols import B, L_int, alpha, beta, eta, rho, s, t

from . import _mp
from .registry import claim


def _sym_fading() -> str:
    y = sp.Symbol("y", positive=True)
    for model in ("linear", "shannon"):
        gj = tf.gain_threshold(model)
        Lp = sp.Symbol("Lp", positive=True)
        need = tf.j * s / (tf.D - L_int * t)
        assert sp.simplify(sp.expand_log(tf.faded_rate(model).subs(tf.g, gj), force=True) - need) == 0, (model, gj)
        # P(g >= g_j) for g ~ Exp(1), by integration of the density
        tail = sp.integrate(sp.exp(-y), (y, gj.subs(L_int, Lp), sp.oo)).subs(Lp, L_int)
        assert sp.simplify(tail - tf.prefix_tail(model)) == 0, (model, tail)
        # the finish-time cdf at x = D is the probability that all L tokens arrive, P(m >= L)
        cdf_D = tf.finish_time_cdf(model).subs(tf.x, tf.D)
        assert sp.simplify(cdf_D - tf.prefix_tail(model).subs(tf.j, L_int)) == 0, model
    # the acceptance tail from the pmf, and E[min(N, m)] + 1 from the two laws, exactly for L = 1..4
    pm = [sp.Symbol(f"p{i}", positive=True) for i in range(1, 5)]  # P(m >= j), any non-increasing tail
    for Ln in range(1, 5):
        pmf_N = [alpha**n * (1 - alpha) for n in range(Ln)] + [alpha**Ln]
        for jj in range(1, Ln + 1):
            assert sp.simplify(tf.accepted_tail().subs({tf.j: jj, L_int: Ln}) - sum(pmf_N[jj:])) == 0, (Ln, jj)
        tails = [sp.Integer(1), *pm[:Ln], sp.Integer(0)]
        pmf_m = [tails[i] - tails[i + 1] for i in range(Ln + 1)]
        direct = sum(pn * pmf_m[mm] * (min(nn, mm) + 1) for nn, pn in enumerate(pmf_N) for mm in range(Ln + 1))
        law = tf.expected_tokens_faded("shannon").subs(L_int, Ln).doit()
        ex = [sp.exp(-tf.gain_threshold("shannon").subs({tf.j: jj, L_int: Ln})) for jj in range(1, Ln + 1)]
        law = law.subs({e: p for e, p in zip(ex, pm[:Ln], strict=True)})
        assert sp.expand(law - direct) == 0, (Ln, sp.expand(law - direct))
    return ("g_j solves r(g) = j s/(D - L t); P(m >= j) = int_{g_j}^inf e^{-y} dy; P(N >= j) = alpha^j from the pmf; "
            "E[min(N, m)] + 1 = 1 + sum_j P(N >= j) P(m >= j) exactly for L = 1..4 (both rate models)")


@claim("fading-prefix", "Rayleigh block fading with an upload deadline: P(m >= j) = exp(-g_j), "
       "E[tokens] = 1 + sum_j alpha^j exp(-g_j) (the simulator's truncated-prefix law)", symbolic=_sym_fading)
def _num_fading() -> str:
    worst = 0.0
    for model, ch in (("linear", [1.5, 0.7, 3.0]), ("shannon", [20.0, 3.0, 300.0])):
        sc = Scenario(alpha=[0.8, 0.6, 0.9], t_draft=[0.002, 0.004, 0.0], bits_per_token=[400.0, 200.0, 800.0],
                      bandwidth_hz=2e5, v0=0.02, rate_model=model, max_draft=8,
                      **({"spectral_efficiency": ch} if model == "linear" else {"snr": ch}))
        Ls = np.array([6, 3, 8])
        b, _ = equal_finish_allocation(sc, Ls)
        D = 1.25 * float(np.max(drafting_time(sc, Ls, b)))
        sym = eta if model == "linear" else rho
        f = _mp.fn(tf.expected_tokens_faded(model).doit(), (alpha, L_int, t, s, beta, B, sym, tf.D))
        res = simulate(sc, (Ls, b), rounds=20_000, seed=1, fading=True, deadline_factor=1.25)
        with mp.workdps(_mp.DPS):
            for k in range(3):
                ref = float(f(sc.alpha[k], int(Ls[k]), sc.t_draft[k], sc.bits_per_token[k], b[k], sc.bandwidth_hz,
                              sc.channel[k], D))
                se = (Ls[k] + 1) / 2 / np.sqrt(20_000)  # tokens in [1, L + 1]: sd <= (L + 1)/2
                err = abs(res.tokens_per_user[k] - ref) / se
                assert err <= 5, (model, k, res.tokens_per_user[k], ref)
                worst = max(worst, err)
    return f"Monte Carlo tokens per user within {worst:.1f} (<= 5) standard-error bounds of the law (2 models, 3 users)"
