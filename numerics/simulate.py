"""Monte Carlo simulation of Multi-SPIN rounds (MODEL.md sections 1, 2 and 6).

Each simulated round follows the architecture of MODEL.md section 1 literally:

1. every user drafts L_k tokens; each draft token is accepted by the verifier with its
   probability (alpha_k, or alpha_{k,i} at position i for a position-dependent profile),
   independently, until the first rejection (per-token Bernoulli acceptance);
2. the drafts are uploaded over the FDMA shares beta_k;
3. the server verifies the batch (ragged or padded, as the scenario says);
4. user k receives its accepted prefix plus one token from the large model.

Acceptance sampling. Position-dependent profiles draw one Bernoulli variable per draft
token and count the accepted prefix. For a constant alpha the prefix length has the law
P(N >= n) = alpha^n truncated at L, which is sampled exactly by inversion,
N = min(L, floor(ln U / ln alpha)) with U uniform on (0, 1]: P(floor(ln U / ln alpha) >= n)
= P(U <= alpha^n) = alpha^n. Both paths are O(1) vectorised NumPy per round and user; the
tests check them against :func:`numerics.tokens.accepted_pmf`.

Fading (``fading=True``). Rayleigh block fading: in every round each user's channel power
gain g ~ Exp(1) is drawn independently of other users and rounds and is constant during the
round. The rate follows the instantaneous channel (adaptive modulation and coding):

- ``shannon``: rho_k -> rho_k g, i.e. r = beta B log2(1 + rho_k g / beta);
- ``linear``: eta_k is read as the Shannon spectral efficiency at the mean SNR
  rho_k = 2^eta_k - 1, and becomes eta_k(g) = log2(1 + (2^eta_k - 1) g). Scaling eta by g
  itself would treat a log-rate as a power; this mapping keeps the nominal rate at g = 1
  (eta_k(1) = eta_k) and the logarithmic dependence on the gain.

With a fixed allocation, E[1/g] is infinite under Rayleigh fading, so a round's upload time
has an infinite mean and the long-run goodput would collapse to zero. A real server does not
wait forever: it closes the upload window at a deadline D = ``deadline_factor`` x the
fading-free drafting makespan max_k L_k h_k(beta_k). A user whose draft has not fully arrived
by D is verified on the prefix that did arrive: m_k = floor((D - L_k t_k) r_k(g) / s_k)
tokens, clipped to [0, L_k] (drafting takes L_k t_k, then the upload runs at r_k(g)). Every
round then lasts at most D + T_v + T_o, so every moment is finite and the confidence
interval below is valid. Without fading every user finishes by the makespan <= D and the
deadline never binds.

Estimator. Rounds are independent and identically distributed (acceptance and fading are
drawn afresh every round), so the goodput is the ratio estimator
G = sum_r X_r / sum_r Y_r (X_r tokens and Y_r seconds of round r: total tokens over total
time, the long-run rate of the renewal-reward theorem). Batch means are not needed: i.i.d.
rounds have no autocorrelation.

Interval. The empirical-likelihood interval of E[X - G Y] = 0 over every distribution on the
known support of (X, Y) (:func:`numerics.intervals.ratio_interval`): X lies in [K, sum_k (c_k + 1)]
with c_k = L_k capped before the first position whose acceptance is 0, and Y between the
shortest and longest possible round (one value without fading). Where the delta method
(Var(G) ~ Var(X - G Y) / (n mean(Y)^2), kept as ``std_error``) sees no variation, e.g. alpha within
1e-6 of 1 where most runs see no rejection, it collapses to a zero-width interval that excludes
the truth; the likelihood-ratio interval then reaches towards the unobserved support bound
instead, and it agrees with the delta interval when rounds vary. It has zero width only when the
support is one point (every alpha 0, no fading: the goodput is then known exactly).

Coverage (``tests/test_simulate_coverage.py``; docs/model.md sec. 6). With many rejected rounds
it is about the level: 0.942 to 0.955 was measured at 95% for an expected number of rejected
rounds lambda = n (1 - alpha^L) >= 5. Near alpha = 1 it is at least the level, and about 95% is
out of reach for any interval that treats the samples with one rejection alike (the positions of
one rejection carry no information about alpha there; covering some of them and not others would
be randomisation by noise): the sample is essentially the number R of rejected rounds (nearly
Poisson(lambda)), an interval must contain the truth for the sample without rejection, and at
lambda = 0.16 (alpha = 1 - 1e-6, L = 16, 10^4 rounds) P(R = 0) + P(R >= 2) = 0.863 and
P(R <= 1) = 0.988 bracket 0.95. The exact coverage (enumeration of R and of the rejections' positions) is
0.9902 at alpha = 1 - 1e-6 and 0.9984 at 1 - 1e-8; 0.981 was measured for lambda in [0.5, 3.2].
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .channel import rate
from .intervals import ratio_interval
from .latency import check_point, per_token_latency
from .scenario import Scenario
from .solution import Solution
from .validation import MAX_ROUNDS, as_bool, as_float, as_int, check_simulation_size

__all__ = ["SimulationResult", "faded_rate", "sample_prefix", "simulate"]

#: largest number of random variates drawn at once (memory bound of one chunk of rounds)
_CHUNK_ELEMENTS = 1 << 21


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """Monte Carlo goodput with its confidence interval.

    Attributes
    ----------
    goodput : float
        Ratio estimate sum(tokens) / sum(round time) [tokens/s].
    ci_low, ci_high : float
        Confidence interval (empirical likelihood on the known support, level ``confidence``;
        module docstring).
    std_error : float
        Delta-method standard error of ``goodput`` (0 when the sample has no variation).
    confidence : float
        Level of the interval.
    rounds, seed : int
        Number of simulated rounds and the seed.
    fading : bool
        Whether Rayleigh block fading was simulated.
    mean_tokens : float
        Mean tokens produced per round, summed over users.
    mean_round_time : float
        Mean round time [s].
    tokens_per_user : ndarray (K,)
        Mean tokens per round of each user.
    truncated_fraction : float
        Fraction of (round, user) pairs cut short by the upload deadline (0 without fading).
    method : str
        'empirical-likelihood' (the interval's method, module docstring).
    """

    goodput: float
    ci_low: float
    ci_high: float
    std_error: float
    confidence: float
    rounds: int
    seed: int
    fading: bool
    mean_tokens: float
    mean_round_time: float
    tokens_per_user: np.ndarray
    truncated_fraction: float
    method: str = "empirical-likelihood"

    @property
    def half_width(self) -> float:
        """Half the width of the confidence interval."""
        return 0.5 * (self.ci_high - self.ci_low)

    def contains(self, value: float) -> bool:
        """True when ``value`` lies in the closed interval [ci_low, ci_high].

        The interval is widened by 1e-12 relative to cover the floating-point round-off of the
        sums over rounds (it matters only for deterministic runs, whose interval has width 0:
        every alpha 0 without fading).
        """
        slack = 1e-12 * abs(self.goodput)
        return bool(self.ci_low - slack <= value <= self.ci_high + slack)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["tokens_per_user"] = self.tokens_per_user.tolist()
        out["half_width"] = self.half_width
        return out


def faded_rate(rate_model: str, beta, bandwidth_hz: float, channel, gain):
    """Instantaneous uplink rate under a channel power gain g (module docstring).

    ``shannon``: beta B log2(1 + rho g / beta); ``linear``: beta B log2(1 + (2^eta - 1) g).
    At g = 1 both equal :func:`numerics.channel.rate`.

    Examples
    --------
    >>> float(faded_rate('linear', 0.5, 1e6, 2.0, 1.0))   # = rate('linear', 0.5, 1e6, 2.0)
    1000000.0
    >>> float(faded_rate('linear', 1.0, 1.0, 1.0, 3.0))   # log2(1 + 1 * 3)
    2.0
    """
    g = np.asarray(gain, dtype=np.float64)
    ch = np.asarray(channel, dtype=np.float64)
    if rate_model == "linear":
        # eta(g) = log2(1 + (2^eta - 1) g), evaluated with expm1/log1p for small eta or g
        eta_g = np.log1p(np.expm1(ch * np.log(2.0)) * g) / np.log(2.0)
        return rate("linear", beta, bandwidth_hz, eta_g)
    return rate("shannon", beta, bandwidth_hz, ch * g)


def sample_prefix(alpha: np.ndarray, L: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Accepted-prefix lengths from uniforms (module docstring).

    Parameters
    ----------
    alpha : ndarray (K,) or (K, M)
        Constant acceptance per user, or a position-dependent profile.
    L : ndarray of int (K,)
        Draft lengths (<= M for profiles).
    uniforms : ndarray (R, K) for constant alpha, (R, K, max(L)) for profiles
        Uniform variates in (0, 1].

    Returns
    -------
    ndarray of int64 (R, K): accepted draft tokens N_k of each round.
    """
    L = np.asarray(L, dtype=np.int64)
    if alpha.ndim == 1:
        zero = alpha == 0
        log_a = np.log(np.where(zero, 0.5, alpha))
        n = np.floor(np.log(uniforms) / log_a)  # >= 0 since U <= 1 and log alpha < 0
        n = np.where(zero, 0.0, n)
        return np.minimum(n, L).astype(np.int64)
    width = uniforms.shape[-1]
    accept = uniforms < alpha[:, :width]  # U in (0, 1]: P(U < a) = a, also for a = 0
    accept &= np.arange(width) < L[:, None]  # positions beyond L_k are not drafted
    return np.cumprod(accept, axis=-1, dtype=np.int8).sum(axis=-1, dtype=np.int64)


def _point(scenario: Scenario, point: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(point, Solution):
        L, beta = point.draft_lengths, point.bandwidth
    elif isinstance(point, (tuple, list)) and len(point) == 2:
        L, beta = point
    else:
        raise ValueError(
            f"solution must be a Solution or a pair (L, beta), got {type(point).__name__}"
        )
    return check_point(scenario, L, beta)


def simulate(
    scenario: Scenario,
    solution: Any,
    rounds: int = 10_000,
    seed: int = 0,
    fading: bool = False,
    confidence: float = 0.95,
    deadline_factor: float = 2.0,
    progress: bool = False,
) -> SimulationResult:
    r"""Monte Carlo goodput of an operating point, with a confidence interval.

    Simulates ``rounds`` independent rounds (module docstring: per-token Bernoulli
    acceptance, optional Rayleigh block fading with an upload deadline, ragged or padded
    batching from the scenario) and returns the ratio estimator
    :math:`\hat G = \sum_r X_r / \sum_r Y_r` with an empirical-likelihood interval on the
    known support of the rounds (module docstring), which keeps its coverage when rejections
    are rare. Without fading
    :math:`E[\hat G] \to G = \sum_k A(\alpha_k, L_k) / T`, the analytic goodput of
    :func:`numerics.latency.goodput` (MODEL.md section 2).

    Parameters
    ----------
    scenario : Scenario
    solution : Solution or (L, beta)
        The operating point: any solver output or baseline, or draft lengths and band shares
        (validated as by :func:`numerics.latency.check_point`).
    rounds : int
        Number of rounds, in [2, :data:`~numerics.validation.MAX_ROUNDS`]; rounds x K x
        (longest draft, for a position-dependent profile) is at most
        :data:`~numerics.validation.MAX_SIMULATION_DRAWS`.
    seed : int
        Seed (>= 0) of ``np.random.default_rng``; acceptance and fading use independent
        child streams, so the acceptance draws are the same with and without fading.
    fading : bool
        Simulate Rayleigh block fading per round (module docstring).
    confidence : float
        Level of the interval, in (0, 1).
    deadline_factor : float
        Upload deadline as a multiple (>= 1) of the fading-free drafting makespan.
    progress : bool
        Show a tqdm progress bar over chunks of rounds.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        For a bad point (see ``check_point``), ``rounds`` < 2, above its limit or not an
        integer, a simulation above the limit on random draws, a negative
        or non-integer ``seed``, ``confidence`` outside (0, 1), ``deadline_factor`` < 1,
        ``fading`` not a bool, or a round time of zero.

    Examples
    --------
    >>> s = Scenario(alpha=0.8, t_draft=0.01, bits_per_token=100, bandwidth_hz=1e4,
    ...              spectral_efficiency=1.0, v0=0.1)
    >>> res = simulate(s, (4, 1.0), rounds=20_000, seed=1)
    >>> from numerics.latency import goodput
    >>> res.contains(goodput(s, 4, 1.0))      # analytic value inside the 95% interval
    True
    """
    L, beta = _point(scenario, solution)
    rounds = as_int("rounds", rounds, low=2, high=MAX_ROUNDS, limit="numerics.validation.MAX_ROUNDS")
    seed = as_int("seed", seed, low=0)
    fading = as_bool("fading", fading)
    confidence = as_float("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    deadline_factor = as_float("deadline_factor", deadline_factor, low=1.0)
    progress = as_bool("progress", progress)
    check_simulation_size(scenario, rounds, int(np.max(L)) if scenario.positional else 1)

    K = scenario.n_users
    Li = L.astype(np.int64)
    t, s = scenario.t_draft, scenario.bits_per_token
    uploads = (s > 0) & (Li > 0)
    # fading-free drafting-plus-upload time L_k h_k(beta_k) and its makespan (MODEL.md section 2)
    h = per_token_latency(scenario, beta)
    finish0 = np.where(Li > 0, L * np.where(np.isfinite(h), h, 0.0), 0.0)
    makespan0 = float(finish0.max())
    deadline = deadline_factor * makespan0

    def batch(n_tok: np.ndarray) -> np.ndarray:  # verification batch size per round
        if scenario.batching == "ragged":
            return np.sum(n_tok + 1, axis=-1)
        return K * (np.max(n_tok, axis=-1) + 1)

    acc_rng, fade_rng = (np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(2))
    width = int(Li.max()) if scenario.positional else 1
    per_round = K * max(width, 1) * (2 if fading else 1)
    chunk = max(1, _CHUNK_ELEMENTS // per_round)
    starts = range(0, rounds, chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="rounds", unit="chunk", total=math.ceil(rounds / chunk))

    X = np.empty(rounds)  # tokens of each round
    Y = np.empty(rounds)  # seconds of each round
    user_tokens = np.zeros(K)
    truncated = 0
    for start in starts:
        n = min(chunk, rounds - start)
        if scenario.positional:
            U = 1.0 - acc_rng.random((n, K, width))
            alpha = scenario.alpha
        else:
            U = 1.0 - acc_rng.random((n, K))
            alpha = scenario.alpha
        N = sample_prefix(alpha, Li, U)  # accepted draft tokens if the whole draft arrives
        if fading:
            g = fade_rng.exponential(1.0, (n, K))
            r = faded_rate(scenario.rate_model, beta, scenario.bandwidth_hz, scenario.channel, g)
            with np.errstate(divide="ignore"):
                up_time = np.where(uploads, L * s / np.where(r > 0, r, 1.0), 0.0)
            up_time = np.where(uploads & (r <= 0), np.inf, up_time)
            finish = np.where(Li > 0, L * t + up_time, 0.0)
            late = finish > deadline
            # delivered prefix m = floor((D - L t) r / s), clipped to [0, L] (module docstring)
            with np.errstate(invalid="ignore"):
                m_late = np.floor(np.maximum(deadline - L * t, 0.0) * r / np.where(uploads, s, 1.0))
            m = np.where(late, np.clip(np.nan_to_num(m_late), 0, Li), Li).astype(np.int64)
            drafting = np.minimum(finish.max(axis=1), deadline)
            truncated += int(np.count_nonzero(late))
        else:
            m = np.broadcast_to(Li, (n, K))
            drafting = np.full(n, makespan0)
        accepted = np.minimum(N, m)  # the prefix process: acceptance among the first m tokens
        tokens = accepted + 1  # plus the large model's correction or bonus token
        n_batch = batch(m)
        Y[start:start + n] = drafting + scenario.v0 + scenario.v1 * n_batch + scenario.overhead
        X[start:start + n] = tokens.sum(axis=1)
        user_tokens += tokens.sum(axis=0)

    ybar = float(Y.mean())
    if not ybar > 0:
        raise ValueError(f"round time is {ybar!r}: v0, overhead and the drafting times are all zero")
    # delta method for the ratio of means of i.i.d. pairs (X_r, Y_r): the standard error reported
    G = float(X.sum() / Y.sum())
    resid = X - G * Y
    se = float(np.std(resid, ddof=1) / (math.sqrt(rounds) * ybar))
    # the interval: empirical likelihood on the support of (X, Y) (module docstring)
    if scenario.positional:
        zero = scenario.alpha == 0.0  # (K, max_draft): a draft stops before its first zero
        first_zero = np.where(zero.any(axis=1), zero.argmax(axis=1), scenario.max_draft)
        cap = np.minimum(Li, first_zero)
    else:
        cap = np.where(scenario.alpha == 0.0, 0, Li)
    x_bounds = (float(K), float(np.sum(cap + 1)))
    fixed = scenario.v0 + scenario.overhead
    if fading:
        y_lo = float(np.max(np.where(Li > 0, L * t, 0.0))) + fixed + scenario.v1 * K
        y_hi = deadline + fixed + scenario.v1 * float(batch(Li[None, :])[0])
    else:
        y_lo = y_hi = makespan0 + fixed + scenario.v1 * float(batch(Li[None, :])[0])
    # widened by 1e-12 relative: the rounds' Y are sums in another order (round-off only)
    y_bounds = (y_lo * (1.0 - 1e-12), y_hi * (1.0 + 1e-12))
    _, ci_low, ci_high = ratio_interval(X, Y, x_bounds, y_bounds, confidence)
    ci_low, ci_high = min(ci_low, G), max(ci_high, G)  # ratio_interval may move G^ by an ulp into the support
    return SimulationResult(
        goodput=G,
        ci_low=ci_low,
        ci_high=ci_high,
        std_error=se,
        confidence=float(confidence),
        rounds=rounds,
        seed=seed,
        fading=bool(fading),
        mean_tokens=float(X.mean()),
        mean_round_time=ybar,
        tokens_per_user=user_tokens / rounds,
        truncated_fraction=truncated / (rounds * K),
    )

