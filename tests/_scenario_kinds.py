"""Seeded scenarios of every kind the solvers accept, for the JAX-vs-NumPy agreement tests.

A kind is (rate model, v1 > 0 or not, batching, i.i.d. alpha or a position-dependent profile);
``edge=True`` adds users without upload (s = 0), with free drafting (t = 0) and with alpha = 0.
Draws span several decades per field (log-uniform): t 0.1 to 20 ms, s 50 to 5000 bit, B 10 kHz
to 10 MHz, v0 5 to 200 ms.
"""

from __future__ import annotations

import numpy as np

from numerics import Scenario

RATES = ("linear", "shannon")
BATCHING = ("ragged", "padded")
#: every static combination (rate model, batching, profile)
STATIC_KINDS = [(m, b, pr) for m in RATES for b in BATCHING for pr in (False, True)]


def kind_scenario(seed: int, K: int = 5, model: str = "linear", v1: float = 0.0, batching: str = "ragged",
                  profile: bool = False, edge: bool = False, max_draft: int = 16) -> Scenario:
    """One seeded scenario of the given kind (module docstring)."""
    rng = np.random.default_rng([seed, K, RATES.index(model), BATCHING.index(batching), int(profile), int(edge)])

    def lu(lo, hi, n=K):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))

    s = lu(50, 5000)
    t = lu(1e-4, 2e-2)
    alpha = rng.uniform(0.4, 0.95, K)
    if edge:
        s[0] = 0.0          # no upload
        t[1] = 0.0          # free drafting, uploads
        alpha[2] = 0.0      # drafting is useless
        if K > 3:
            s[3], t[3] = 0.0, 0.0  # free drafting without upload
    if profile:
        alpha = np.clip(alpha[:, None] + rng.normal(0.0, 0.08, (K, max_draft)), 0.0, 0.99)
        if edge:
            alpha[2, 0] = 0.0
    ch = {"spectral_efficiency": lu(0.5, 8.0)} if model == "linear" else {"snr": lu(0.1, 1e3)}
    return Scenario(alpha=alpha, t_draft=t, bits_per_token=s, bandwidth_hz=float(lu(1e4, 1e7, 1)[0]),
                    rate_model=model, v0=float(lu(5e-3, 0.2, 1)[0]), v1=v1, overhead=float(rng.uniform(0.0, 0.01)),
                    batching=batching, max_draft=max_draft, **ch)
