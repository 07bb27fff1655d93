"""Write the synthetic speculative-decoding logs of ``scenarios/`` (seeded; run from the repo root):

    python scenarios/make_acceptance_examples.py

Files written (each says in its header that it is synthetic and made by this script):

- ``vllm_metrics_example.prom``: a vLLM ``/metrics`` excerpt, the four speculative-decoding
  counters with vLLM's names and labels (vllm/v1/spec_decode/metrics.py, SpecDecodingProm;
  labelnames ["model_name", "engine"] from vllm/v1/metrics/loggers.py), rendered by
  ``prometheus_client`` itself. Four users, one served model name each, 5 speculative tokens;
- ``vllm_counters_example.json``: the same counters as JSON (numerics.acceptance_readers);
- ``rounds_example.csv``: per-round records (user, draft_length, accepted) with draft lengths
  varying from 1 to 5.

Acceptance used to draw the logs (per-token Bernoulli acceptance until the first rejection,
numerics.sampling.sample_accepted), from the cited presets (numerics/presets/acceptance.toml):
EAGLE on LLaMA2-Chat 7B, MT-bench, greedy, by position 0.76, 0.69, 0.67, 0.68, 0.68 (Li et al.
2024, arXiv 2401.15077, Table 2), and the i.i.d. rates of Liu et al. (2024, arXiv 2310.07177):
Spider 0.76 and code-search-Python 0.65. Counters are accumulated as vLLM's
SpecDecodingStats.observe_draft does: per draft, drafts += 1, draft tokens += L, accepted += N,
and accepted_per_pos[i] += 1 for every position i < N.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from numerics.presets import acceptance, profile
from numerics.sampling import sample_accepted

HERE = Path(__file__).resolve().parent
SEED = 20261129
SPEC_TOKENS = 5

#: (served model name, acceptance per position (5), drafts): the users of the counter examples
USERS = (
    ("llama2-7b-eagle-phone", profile("eagle-llama2-chat-7b-mtbench", SPEC_TOKENS), 2400),
    ("llama2-7b-eagle-laptop", profile("eagle-llama2-chat-7b-mtbench", SPEC_TOKENS), 1800),
    ("vicuna-7b-spider", np.full(SPEC_TOKENS, acceptance("vicuna-7b/llama-160m/spider")), 2000),
    ("vicuna-7b-code", np.full(SPEC_TOKENS, acceptance("vicuna-7b/llama-160m/code-python")), 1500),
)

HEADER = ("synthetic speculative-decoding log, NOT a measurement: written by "
          "scenarios/make_acceptance_examples.py (seed {seed}) from cited acceptance presets")


def _counters(rng: np.random.Generator) -> list[dict]:
    out = []
    for name, prof, drafts in USERS:
        N = sample_accepted(prof, SPEC_TOKENS, drafts, rng)
        out.append({
            "labels": {"model_name": name, "engine": "0"},
            "num_drafts": int(drafts),
            "num_draft_tokens": int(drafts * SPEC_TOKENS),
            "num_accepted_tokens": int(N.sum()),
            "num_accepted_tokens_per_pos": [int(np.count_nonzero(N > i)) for i in range(SPEC_TOKENS)],
        })
    return out


def prometheus_text(series: list[dict]) -> str:
    """The counters rendered by prometheus_client with vLLM's names, help strings and labels."""
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    prometheus_client.disable_created_metrics()  # no _created timestamps: a deterministic file
    reg = CollectorRegistry()
    labelnames = ["model_name", "engine"]
    drafts = Counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", labelnames, registry=reg)
    tokens = Counter("vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", labelnames, registry=reg)
    acc = Counter("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", labelnames, registry=reg)
    per_pos = Counter("vllm:spec_decode_num_accepted_tokens_per_pos", "Accepted tokens per draft position.",
                      [*labelnames, "position"], registry=reg)
    for s in series:
        lv = [s["labels"][k] for k in labelnames]
        drafts.labels(*lv).inc(s["num_drafts"])
        tokens.labels(*lv).inc(s["num_draft_tokens"])
        acc.labels(*lv).inc(s["num_accepted_tokens"])
        for pos, v in enumerate(s["num_accepted_tokens_per_pos"]):
            per_pos.labels(*lv, str(pos)).inc(v)
    return f"# {HEADER.format(seed=SEED)}\n" + generate_latest(reg).decode()


def records_csv(rng: np.random.Generator) -> str:
    """Per-round records of two users, draft lengths uniform on 1..5."""
    lines = [f"# {HEADER.format(seed=SEED)}", "user,draft_length,accepted"]
    for name, prof, drafts in (USERS[0], USERS[2]):
        lengths = rng.integers(1, SPEC_TOKENS + 1, drafts // 2)
        for L in lengths.tolist():
            N = int(sample_accepted(prof, L, 1, rng)[0])
            lines.append(f"{name},{L},{N}")
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    """File name -> content, from one seeded generator (the tests compare with the files)."""
    rng = np.random.default_rng(SEED)
    series = _counters(rng)
    doc = {"source": HEADER.format(seed=SEED), "series": series}
    return {
        "vllm_metrics_example.prom": prometheus_text(series),
        "vllm_counters_example.json": json.dumps(doc, indent=2) + "\n",
        "rounds_example.csv": records_csv(rng),
    }


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
