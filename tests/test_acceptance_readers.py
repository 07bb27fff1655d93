"""Log readers (numerics.acceptance_readers), the example logs of scenarios/, and ``multispin fit``:
the round trip from a vLLM Prometheus text through ``fit`` to a scenario to ``solve``.

References: vLLM's counter names and labels as written in its source
(vllm/v1/spec_decode/metrics.py, SpecDecodingProm; vllm/v1/metrics/loggers.py, labelnames
["model_name", "engine"]); expositions rendered by prometheus_client itself (so the reader is
tested on what a vLLM server emits, not on hand-written text); per-draft counts by the definition
of vLLM's SpecDecodingStats.observe_draft.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from numerics import Scenario
from numerics.acceptance import fit_acceptance, position_counts
from numerics.acceptance_readers import (
    VLLM_COUNTERS,
    counters_to_counts,
    parse_prometheus,
    read_counters_json,
    read_counts,
    read_records_csv,
)
from numerics.cli import main
from numerics.presets import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"
PROM = SCEN / "vllm_metrics_example.prom"
JSON = SCEN / "vllm_counters_example.json"
CSV = SCEN / "rounds_example.csv"


def _exposition(series: dict[tuple[str, str], tuple[int, list[int]]], created: bool = True) -> str:
    """A /metrics text rendered by prometheus_client with vLLM's names and labels."""
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    reg = CollectorRegistry()
    names = ["model_name", "engine"]
    d = Counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", names, registry=reg)
    t = Counter("vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", names, registry=reg)
    a = Counter("vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", names, registry=reg)
    p = Counter("vllm:spec_decode_num_accepted_tokens_per_pos", "Accepted tokens per draft position.",
                [*names, "position"], registry=reg)
    Counter("vllm:prompt_tokens", "Number of prefill tokens processed.", names, registry=reg).labels("m", "0").inc(7)
    for (model, engine), (drafts, per_pos) in series.items():
        d.labels(model, engine).inc(drafts)
        t.labels(model, engine).inc(drafts * len(per_pos))
        a.labels(model, engine).inc(sum(per_pos))
        for i, v in enumerate(per_pos):
            p.labels(model, engine, str(i)).inc(v)
    return generate_latest(reg).decode()


def test_names_are_vllms():
    assert VLLM_COUNTERS == {
        "num_drafts": "vllm:spec_decode_num_drafts",
        "num_draft_tokens": "vllm:spec_decode_num_draft_tokens",
        "num_accepted_tokens": "vllm:spec_decode_num_accepted_tokens",
        "num_accepted_tokens_per_pos": "vllm:spec_decode_num_accepted_tokens_per_pos",
    }


def test_parse_openmetrics_exposition():
    # prometheus_client's OpenMetrics writer escapes the colon (vllm_spec_decode_...) and ends with # EOF
    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client.openmetrics.exposition import generate_latest

    reg = CollectorRegistry()
    d = Counter("vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", ["model_name", "engine"],
                registry=reg)
    p = Counter("vllm:spec_decode_num_accepted_tokens_per_pos", "Accepted tokens per draft position.",
                ["model_name", "engine", "position"], registry=reg)
    d.labels("m", "0").inc(10)
    p.labels("m", "0", "0").inc(4)
    p.labels("m", "0", "1").inc(1)
    (s,) = parse_prometheus(generate_latest(reg).decode())
    assert s.num_drafts == 10 and s.num_accepted_tokens_per_pos == (4, 1)


def test_parse_prometheus_exposition():
    text = _exposition({("m", "0"): (100, [80, 60, 45]), ("m", "1"): (50, [40, 20, 10])})
    series = parse_prometheus(text)
    assert len(series) == 2
    by_engine = {s.labels["engine"]: s for s in series}
    assert by_engine["0"].num_drafts == 100 and by_engine["0"].num_accepted_tokens_per_pos == (80, 60, 45)
    assert by_engine["1"].num_draft_tokens == 150 and by_engine["1"].num_accepted_tokens == 70
    # engines of one model are summed into one user; per engine, two users
    pooled = counters_to_counts(series)
    assert list(pooled) == ["all"] and pooled["all"].accepted.tolist() == [120, 80, 55]
    per = counters_to_counts(series, per_user="engine")
    assert per["1"].at_risk.tolist() == [50, 40, 20]


@pytest.mark.parametrize("text, match", [
    ("foo bar baz\n", r"not a Prometheus text exposition"),
    ("# nothing\n", r"no vllm:spec_decode_num_drafts series"),
    ('vllm:spec_decode_num_drafts_total{engine="0"} 10\n', r"has no vllm:spec_decode_num_accepted_tokens_per_pos"),
    ('vllm:spec_decode_num_drafts_total{engine="0"} 10\n'
     'vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="0",position="1"} 3\n',
     r"positions must be 0\.\.0, got \[1\]"),
    ('vllm:spec_decode_num_drafts_total{engine="0"} 10.5\n', r"must be a non-negative integer count, got 10\.5"),
    ('vllm:spec_decode_num_drafts_total{engine="0"} 10\n'
     'vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="0",position="x"} 3\n',
     r"label 'position' must be a draft position"),
    ('vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="1",position="0"} 3\n'
     'vllm:spec_decode_num_drafts_total{engine="0"} 10\n',
     r"has per-position counts but no vllm:spec_decode_num_drafts"),
])
def test_parse_prometheus_rejects(text, match):
    with pytest.raises(ValueError, match=match):
        parse_prometheus(text)


def test_counts_are_checked_per_user():
    text = _exposition({("m", "0"): (10, [5, 7])})
    with pytest.raises(ValueError, match=r"user 'all': accepted_per_position rises with position"):
        counters_to_counts(parse_prometheus(text))
    with pytest.raises(ValueError, match=r"has no label 'user' \(--per-user\)"):
        counters_to_counts(parse_prometheus(_exposition({("m", "0"): (10, [5])})), per_user="user")


def test_example_files_agree_and_are_reproducible():
    spec = importlib.util.spec_from_file_location("make_examples", SCEN / "make_acceptance_examples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rendered = mod.render()
    for name, text in rendered.items():
        assert (SCEN / name).read_text() == text, f"{name} differs from its generator's output"
        head = "\n".join(text.splitlines()[:2])  # a comment line, or the JSON's "source" field
        assert "synthetic" in head and "make_acceptance_examples.py" in head
    prom = read_counts(PROM, per_user="model_name")
    js = read_counts(JSON, per_user="model_name")
    assert list(prom) == list(js)
    for u in prom:
        assert prom[u].accepted.tolist() == js[u].accepted.tolist()
        assert prom[u].at_risk.tolist() == js[u].at_risk.tolist()
    csv_counts = read_counts(CSV, per_user="user")
    assert set(csv_counts) == {"llama2-7b-eagle-phone", "vicuna-7b-spider"}
    assert int(csv_counts["vicuna-7b-spider"].drafts_by_length[1:].min()) > 0  # lengths 1..5 all present


def test_json_and_csv_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"series": [{"num_drafts": 3}]}')
    with pytest.raises(ValueError, match=r"series\[0\]: field 'num_accepted_tokens_per_pos' is required"):
        read_counters_json(bad)
    bad.write_text('{"series": [{"num_drafts": 3, "num_accepted_tokens_per_pos": [1], "drafts": 1}]}')
    with pytest.raises(ValueError, match=r"unknown field 'drafts'"):
        read_counters_json(bad)
    bad.write_text("{nope")
    with pytest.raises(ValueError, match=r"JSON syntax error"):
        read_counters_json(bad)
    c = tmp_path / "r.csv"
    c.write_text("# comment\nuser,draft_length,accepted\na,3,1\na,2,x\n")
    with pytest.raises(ValueError, match=r"line 4: accepted must be an integer >= 0, got 'x'"):
        read_records_csv(c, "user")
    c.write_text("user,length,accepted\na,3,1\n")
    with pytest.raises(ValueError, match=r"column 'draft_length' is required"):
        read_records_csv(c)
    c.write_text("user,draft_length,accepted\na,3,4\n")
    with pytest.raises(ValueError, match=r"user 'all': accepted = 4 exceeds draft_length = 3"):
        read_records_csv(c)
    with pytest.raises(ValueError, match=r"log file .*missing\.prom' does not exist"):
        read_counts(tmp_path / "missing.prom")
    with pytest.raises(ValueError, match=r"format must be one of"):
        read_counts(c, fmt="xml")


# ---------------------------------------------------------------------------- multispin fit
def test_round_trip_prometheus_fit_scenario_solve(tmp_path, capsys):
    out = tmp_path / "fitted.toml"
    assert main(["fit", str(PROM), "--per-user", "model_name", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "LR test i.i.d. vs positional" in printed and "combined LR test" in printed
    assert "model written: positional" in printed  # two users follow the falling EAGLE profile
    text = out.read_text()
    assert text.startswith("# Scenario fitted by `multispin fit` from ") and "sha256" in text
    assert "LR test i.i.d. vs position-dependent" in text and "[0." in text  # intervals as comments
    s = load_scenario(out)
    fit = fit_acceptance(read_counts(PROM, per_user="model_name"))
    assert s.n_users == 4 and s.positional and s.max_draft == 5
    np.testing.assert_array_equal(s.alpha, fit.profile)
    # the file solves
    assert main(["solve", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert set(rep["solutions"]) == {"homogeneous", "heterogeneous"}


def test_fit_iid_merges_into_a_scenario_file(tmp_path, capsys):
    out = tmp_path / "merged.toml"
    base = SCEN / "example.toml"
    assert main(["fit", str(JSON), "--per-user", "model_name", "--iid", "--scenario", str(base),
                 "--out", str(out)]) == 0
    capsys.readouterr()
    merged = tomllib.loads(out.read_text())
    orig = tomllib.loads(base.read_text())
    assert {k: v for k, v in merged.items() if k != "alpha"} == {k: v for k, v in orig.items() if k != "alpha"}
    fit = fit_acceptance(read_counts(JSON, per_user="model_name"))
    assert merged["alpha"] == fit.iid.tolist()
    assert Scenario.from_toml(out).n_users == 4


def test_fit_auto_picks_iid_when_the_test_does_not_reject(tmp_path, capsys):
    log = tmp_path / "iid.prom"
    log.write_text(_exposition({("m", "0"): (1000, [800, 640, 512])}))
    out = tmp_path / "s.toml"
    assert main(["fit", str(log), "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["model"] == "iid" and rep["fit"]["combined_lr_pvalue"] == 1.0
    s = load_scenario(out)
    assert s.alpha.tolist() == [0.8] and s.n_users == 1


def test_fit_csv_records(tmp_path, capsys):
    out = tmp_path / "c.toml"
    assert main(["fit", str(CSV), "--per-user", "user", "--positional", "--out", str(out)]) == 0
    assert "max_draft lowered from 16 to 5" in capsys.readouterr().out
    assert load_scenario(out).alpha.shape == (2, 5)


@pytest.mark.parametrize("args, match", [
    (["fit", "nope.prom"], r"log file 'nope\.prom' does not exist"),
    (["fit", str(CSV), "--per-user", "device"], r"column 'device' is required"),
    (["fit", str(PROM), "--per-user", "model_name", "--confidence", "2", "--iid"], r"confidence must lie in \(0, 1\)"),
    (["fit", str(PROM), "--per-user", "model_name", "--scenario", str(SCEN / "example.toml"), "--out", "x.toml",
      "--format", "json"], r"not .*JSON|JSON syntax error"),
])
def test_fit_bad_input_is_one_line_and_exit_2(args, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("multispin fit: error: ")
    import re

    assert re.search(match, err), err


def test_fit_user_count_mismatch(tmp_path, capsys):
    # example.toml has 4 users; the CSV log has 2
    out = tmp_path / "x.toml"
    args = ["fit", str(CSV), "--per-user", "user", "--scenario", str(SCEN / "example.toml"), "--out", str(out)]
    assert main(args) == 2
    assert "has 4 users, the log" in capsys.readouterr().err and not out.exists()


def test_fit_alpha_one_needs_jeffreys(tmp_path, capsys):
    log = tmp_path / "all.prom"
    log.write_text(_exposition({("m", "0"): (3, [3, 3])}))
    assert main(["fit", str(log), "--iid", "--out", str(tmp_path / "a.toml")]) == 2
    assert "use point='jeffreys'" in capsys.readouterr().err
    assert main(["fit", str(log), "--iid", "--point", "jeffreys", "--out", str(tmp_path / "a.toml")]) == 0
    assert load_scenario(tmp_path / "a.toml").alpha[0] == pytest.approx(6.5 / 7)
    assert position_counts(3, [3, 3]).accepted_tokens == 6


def test_fit_decisions(capsys):
    assert main(["fit", str(CSV), "--per-user", "user", "--iid", "--decisions", "3", "--seed", "2", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    d = rep["decisions"]
    assert d["draws"] == 3 and d["seed"] == 2 and d["model"] == "iid"
    for r in d["regimes"].values():
        assert r["solved"] + len(r["failures"]) == 3 and r["goodput_low"] <= r["goodput_high"]
    ranges = d["num_speculative_tokens_per_batch_size"]
    assert ranges[0][0] == 1 and all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    assert main(["fit", str(CSV), "--decisions", "-1"]) == 2
    assert "--decisions must be an integer >= 0, got -1" in capsys.readouterr().err
