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
    err = capsys.readouterr().err
    assert "scenario " + str(SCEN / "example.toml") + " has 4 users (t_draft has 4 entries), the log" in err
    assert "scenario scenario" not in err and not out.exists()


def test_fit_alpha_one_needs_jeffreys(tmp_path, capsys):
    log = tmp_path / "all.prom"
    log.write_text(_exposition({("m", "0"): (3, [3, 3])}))
    assert main(["fit", str(log), "--iid", "--out", str(tmp_path / "a.toml")]) == 2
    assert "multispin fit --point jeffreys" in capsys.readouterr().err  # the CLI's spelling (finding 17)
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


# ---------------------------------------------------------------------------- the new-user report on issue 13
def _ngram_exposition(seed: int = 2024, drafts: int = 5000) -> str:
    """Finding 1's log: i.i.d. alpha = 0.8 drafts of length U{1..5} (an n-gram proposer), counted as vLLM's
    SpecDecodingStats.observe_draft does (per position: drafts with N > i) and rendered by prometheus_client."""
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    rng = np.random.default_rng(seed)
    L = rng.integers(1, 6, drafts)
    N = np.minimum(L, np.floor(np.log(1.0 - rng.random(drafts)) / np.log(0.8))).astype(int)
    reg = CollectorRegistry()
    names = ["model_name", "engine"]
    Counter("vllm:spec_decode_num_drafts", "d", names, registry=reg).labels("m", "0").inc(drafts)
    Counter("vllm:spec_decode_num_draft_tokens", "t", names, registry=reg).labels("m", "0").inc(int(L.sum()))
    Counter("vllm:spec_decode_num_accepted_tokens", "a", names, registry=reg).labels("m", "0").inc(int(N.sum()))
    p = Counter("vllm:spec_decode_num_accepted_tokens_per_pos", "p", [*names, "position"], registry=reg)
    for i in range(5):
        p.labels("m", "0", str(i)).inc(int(np.count_nonzero(N > i)))
    return generate_latest(reg).decode()


def test_fit_of_varying_draft_lengths_falls_back_to_iid_with_a_note(tmp_path, capsys):
    # finding 1: --auto no longer writes a made-up falling profile; --positional refuses; the LR test is not run
    log = tmp_path / "ngram.prom"
    log.write_text(_ngram_exposition())
    out = tmp_path / "x.toml"
    assert main(["fit", str(log), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "model written: iid" in printed and "LR test i.i.d. vs positional: not run" in printed
    assert "not identified: MLE in [" in printed and "note: no user could be tested: --auto writes i.i.d." in printed
    alpha = load_scenario(out).alpha
    assert alpha.shape == (1,) and abs(alpha[0] - 0.8) < 0.02  # the moment estimate (truth 0.8)
    assert main(["fit", str(log), "--positional", "--out", str(tmp_path / "p.toml")]) == 2
    assert "no position-dependent profile is identified" in capsys.readouterr().err
    assert not (tmp_path / "p.toml").exists()
    # with --min-draft-length 1 (no empty drafts) position 1 is identified: a one-position profile
    assert main(["fit", str(log), "--min-draft-length", "1", "--positional", "--out", str(out)]) == 0
    assert load_scenario(out).alpha.shape == (1, 1)


def test_fit_writes_utf8_whatever_the_locale_and_nothing_on_failure(tmp_path):
    # finding 8: labels outside ASCII under LC_ALL=C; a failure leaves no file and keeps an existing one
    import os
    import subprocess
    import sys

    log = tmp_path / "uni.prom"
    log.write_text(_exposition({("modèle-中文", "0"): (1000, [800, 640, 512])}), encoding="utf-8")
    out = tmp_path / "u.toml"
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONIOENCODING": "utf-8"}
    cmd = [sys.executable, "-m", "numerics", "fit", str(log), "--per-user", "model_name", "--out", str(out)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    assert "modèle-中文" in out.read_bytes().decode("utf-8")
    out.write_text("keep me\n")
    bad = [*cmd[:-2], "--scenario", str(SCEN / "example.toml"), "--out", str(out)]  # 4 users against 1: exit 2
    r = subprocess.run(bad, env=env, capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 2 and out.read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_fit_out_has_the_permissions_of_an_ordinary_file(tmp_path, capsys):
    # the atomic write goes through a temporary file (mode 0o600): a new scenario gets 0o666 less the
    # umask, as open() would give it, and a replaced one keeps its mode
    import os
    import stat

    log = tmp_path / "m.prom"
    log.write_text(_exposition({("m", "0"): (1000, [800, 640, 512])}))
    out = tmp_path / "new.toml"
    umask = os.umask(0o022)
    try:
        assert main(["fit", str(log), "--out", str(out)]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        out.chmod(0o640)
        assert main(["fit", str(log), "--out", str(out)]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(umask)
    capsys.readouterr()


def test_header_comment_of_a_path_with_a_newline_is_escaped(tmp_path, capsys):
    # finding 14: the scenario must stay valid TOML (a newline is not allowed in a TOML comment)
    log = tmp_path / "new\nline.prom"
    log.write_text(_exposition({("m", "0"): (1000, [800, 640, 512])}))
    out = tmp_path / "nl.toml"
    assert main(["fit", str(log), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "new\\x0aline.prom" in text
    tomllib.loads(text)
    capsys.readouterr()
    assert main(["solve", str(out)]) == 0


def test_scalar_only_base_scenario_broadcasts_to_the_logs_users(tmp_path, capsys):
    # finding 15: every per-user field a scalar, two users in the log
    base = tmp_path / "base.toml"
    base.write_text("alpha = 0.7\nt_draft = 0.004\nbits_per_token = 1088\nbandwidth_hz = 1.4e6\n"
                    "spectral_efficiency = 2.4\nv0 = 0.026\nmax_draft = 3\n")
    log = tmp_path / "two.prom"
    log.write_text(_exposition({("a", "0"): (1000, [800, 640, 512]), ("b", "0"): (800, [560, 392, 274])}))
    out = tmp_path / "s.toml"
    assert main(["fit", str(log), "--per-user", "model_name", "--iid", "--scenario", str(base), "--out", str(out)]) == 0
    s = load_scenario(out)
    assert s.n_users == 2 and s.t_draft.tolist() == [0.004, 0.004]


@pytest.mark.parametrize("make, match", [
    # finding 13: a series twice (two scrapes appended)
    (lambda: _exposition({("m", "0"): (1000, [800, 640])}) + _exposition({("m", "0"): (2000, [1600, 1280])}),
     r"vllm:spec_decode_num_drafts_total\{(engine='0', model_name='m'|model_name='m', engine='0')\} appears twice"),
    # finding 7: 2^53 and above, with the reason
    (lambda: json.dumps({"series": [{"num_drafts": 1e18, "num_accepted_tokens_per_pos": [1]}]}),
     r"series\[0\]\.num_drafts must be <= 9007199254740991 \(2\^53 - 1: .*MAX_COUNT\), got 1e\+18"),
    # finding 13 (JSON): the same label set twice
    (lambda: json.dumps({"series": [{"labels": {"m": "x"}, "num_drafts": 10, "num_accepted_tokens_per_pos": [5]},
                                    {"labels": {"m": "x"}, "num_drafts": 20, "num_accepted_tokens_per_pos": [9]}]}),
     r"series \{'m': 'x'\} appears twice"),
    # finding 16: nested deeper than the JSON parser's recursion
    (lambda: "[" * 100_000 + "]" * 100_000, r"JSON nested too deeply"),
    # finding 5: a CSV draft length beyond the limit, and a JSON profile of more positions than MAX_DRAFT
    (lambda: "user,draft_length,accepted\nu,1e15,5\n",
     r"line 2: draft_length must be <= 1000000 \(limit numerics.validation.MAX_DRAFT\), got 1000000000000000"),
    (lambda: json.dumps({"series": [{"num_drafts": 1, "num_accepted_tokens_per_pos": [0] * 1_000_001}]}),
     r"num_accepted_tokens_per_pos must have at most 1000000 positions"),
])
def test_fit_refuses_bad_logs_with_exit_2(make, match, tmp_path, capsys):
    import re

    text = make()
    suffix = ".prom" if text.startswith("#") else (".csv" if text.startswith("user") else ".json")
    log = tmp_path / f"log{suffix}"
    log.write_text(text)
    assert main(["fit", str(log)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(match, err), err


def test_fit_decisions_is_limited(capsys):
    # finding 6: exit 2 with the limit, before any work
    assert main(["fit", str(PROM), "--decisions", "100000000000"]) == 2
    assert "--decisions must be <= 100000 (limit numerics.acceptance.MAX_DRAWS)" in capsys.readouterr().err


def test_report_cosmetics(tmp_path, capsys):
    # finding 17: "model chosen" without --out; one line for a run of unreached positions; p below the float
    # range printed from chi^2's survival function (never "p = 0")
    from numerics.cli_fit import _fmt_p

    log = tmp_path / "long.csv"
    log.write_text("draft_length,accepted\n200000,5\n3,1\n")
    assert main(["fit", str(log)]) == 0
    printed = capsys.readouterr().out
    assert "model chosen:" in printed and "model written" not in printed
    assert "7..200000  not reached by any draft" in printed and printed.count("not reached") == 1
    # chi^2 with 4 df: Q(2, z) = e^-z (1 + z), z = x / 2 (closed form of the regularised upper gamma)
    x = 1557.469
    ref = (-x / 2 + np.log1p(x / 2)) / np.log(10)
    text = _fmt_p(0.0, x, 4)
    mant, exp = text.split("e")
    assert float(mant) * 10.0 ** (float(exp) - np.floor(ref)) == pytest.approx(10 ** (ref - np.floor(ref)), rel=1e-3)
    assert _fmt_p(float("nan"), float("nan"), 0) == "not tested"


def test_positional_note_names_the_users(tmp_path, capsys):
    # finding 17: --positional cuts every user to the shortest identified prefix; the note says whose
    log = tmp_path / "two.json"
    log.write_text(json.dumps({"series": [
        {"labels": {"model_name": "a"}, "num_drafts": 1000, "num_accepted_tokens_per_pos": [800, 640, 512, 410, 328]},
        {"labels": {"model_name": "b"}, "num_drafts": 1000, "num_accepted_tokens_per_pos": [800, 640]}]}))
    assert main(["fit", str(log), "--per-user", "model_name", "--positional", "--out", str(tmp_path / "t.toml")]) == 0
    printed = capsys.readouterr().out
    assert "max_draft lowered from 16 to 2: the log determines the profile of user(s) 'b' up to position 2 " \
           "('a' up to 5; one max_draft serves all)" in printed


def test_positional_keeps_the_positions_after_a_zero_estimate(tmp_path, capsys):
    # finding 17 (new-user file two.json): user 'b' accepted nothing at position 2, so no draft of 'b'
    # reached position 3; its later alphas multiply 0 and do not matter, so they must not cut user 'a'
    # to max_draft 2. Reference: the MLE a_i / n_i with n_1 = D, n_i = a_{i-1} (one draft length,
    # docs/model.md sec. 2), in exact rational arithmetic (fractions).
    from fractions import Fraction

    from numerics import expected_tokens_positional

    series = [("a", [1600, 1200, 800, 500, 300]), ("b", [50, 0, 0, 0, 0])]
    log = tmp_path / "two.json"
    log.write_text(json.dumps({"series": [
        {"labels": {"model_name": u}, "num_drafts": 2000, "num_draft_tokens": 10000,
         "num_accepted_tokens": sum(a), "num_accepted_tokens_per_pos": a} for u, a in series]}))
    out = tmp_path / "t.toml"
    assert main(["fit", str(log), "--per-user", "model_name", "--positional", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "user 'b': no draft passed position 2 (estimate 0): positions 3..5 are written as 0" in printed
    table = tomllib.loads(out.read_text(encoding="utf-8"))
    # (n_i = 0, not reached: written as 0)
    expected = [[float(Fraction(a, n)) if n else 0.0 for a, n in zip(acc, [2000, *acc[:-1]], strict=True)]
                for _, acc in series]
    assert table["max_draft"] == 5 and table["alpha"] == expected
    # the zeros change nothing: b's expected tokens at draft length 5 equal those of its 2-position profile
    b = np.array(expected[1])
    assert expected_tokens_positional(b, 5) == expected_tokens_positional(b[:2], 2)
    # Jeffreys's (a + 1/2)/(n + 1) is never 0: positions 3..5 of 'b' (n = 0) are not determined, the cut stays
    fit = fit_acceptance(read_counts(log, per_user="model_name"))
    assert fit.profile_positions("mle") == 5 and fit.profile_positions("jeffreys") == 2
    assert fit.profile_lengths("mle").tolist() == [5, 5] and fit.profile_lengths("jeffreys").tolist() == [5, 2]
    with pytest.raises(ValueError, match=r"positions must be an integer in \[1, 2\]"):
        fit.alpha("positional", "jeffreys", positions=3)


def test_interval_help_does_not_call_jeffreys_exact(capsys):
    # finding 10
    try:
        main(["fit", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "clopper-pearson (exact, conservative; default) or jeffreys" in text and "not exact" in text
