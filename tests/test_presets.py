"""Presets: every preset loads and validates; every roofline and payload number is recomputed
here from the formula written out and the data-sheet values cited beside them."""

from __future__ import annotations

import itertools
import math
import re
from importlib import resources

import mpmath
import numpy as np
import pytest

from numerics import Scenario
from numerics import presets as P

TOML_DIR = resources.files("numerics") / "presets"


# ---------------------------------------------------------------- every preset
@pytest.mark.parametrize("name", P.preset_names())
def test_every_preset_loads_and_validates(name):
    s = P.preset(name)
    assert isinstance(s, Scenario)
    assert Scenario.from_dict(s.to_dict()) == s  # validated again on the way back
    assert np.all(s.t_draft > 0) and np.all(s.bits_per_token > 0) and s.v0 > 0 and s.v1 > 0
    assert Scenario.preset(name) == s


def test_preset_names_and_default():
    names = Scenario.preset_names()
    assert names == P.preset_names() and "default" in names and len(set(names)) == len(names)
    assert any(P.preset(n).positional for n in names)  # a position-dependent profile is shipped


def test_n_users_cycles_users_and_overrides_apply():
    s8 = P.preset("default")
    s20 = P.preset("default", n_users=20, bandwidth_hz=5e6, batching="padded")
    assert s20.n_users == 20 and s20.bandwidth_hz == 5e6 and s20.batching == "padded"
    idx = np.arange(20) % 8
    np.testing.assert_array_equal(s20.t_draft, s8.t_draft[idx])
    np.testing.assert_array_equal(s20.alpha, s8.alpha[idx])
    sh = P.preset("default", rate_model="shannon")
    np.testing.assert_allclose(sh.snr, np.expm1(s8.spectral_efficiency * np.log(2)), rtol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="nope"), "unknown preset 'nope'"),
    (dict(name="default", foo=1), "unknown scenario key 'foo'"),
    (dict(name="default", alpha=1.5), "alpha must lie in"),
    (dict(name="default", n_users=0), "n_users must be an integer >= 1"),
    (dict(name="default", bandwidth_hz=-1.0), "bandwidth_hz must be a finite number > 0"),
])
def test_preset_errors(kwargs, match):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=match):
        P.preset(kwargs.pop("name"), **kwargs)


@pytest.mark.parametrize("call", [P.preset, Scenario.preset])
def test_preset_name_as_an_override_is_a_value_error(call):
    """New-user finding 11: Scenario.preset("default", name="x") raised TypeError ("got multiple values
    for argument 'name'"); the preset name is positional-only, so `name` is an unknown override key."""
    with pytest.raises(ValueError, match=r"unknown scenario key 'name'"):
        call("default", name="x")


def test_build_errors():
    spec = P.preset_spec("default")
    with pytest.raises(ValueError, match="unknown preset key 'colour'"):
        P.build({**spec, "colour": 1})
    with pytest.raises(ValueError, match="device must be one of"):
        P.build({**spec, "users": [{**spec["users"][0], "device": "toaster"}]})
    with pytest.raises(ValueError, match=r"users\[0\].acceptance"):
        P.build({**spec, "users": [{**spec["users"][0], "acceptance": 0.7}]})
    with pytest.raises(ValueError, match="acceptance must be one of"):
        P.build({**spec, "users": [{**spec["users"][0], "acceptance": "a/b/c"}]})


# ---------------------------------------------------------------- rooflines
def test_memory_bandwidth_roofline():
    # Snapdragon 8 Gen 3: LPDDR5X at 4800 MHz, double data rate, 64-bit bus -> bytes/s
    assert P.memory_bandwidth("phone") == 4800e6 * 2 * 64 / 8 == 76.8e9
    assert P.memory_bandwidth("laptop") == 100e9  # Apple M2 newsroom figure


@pytest.mark.parametrize("model, params", [("tinyllama-1.1b", 1_100_048_384), ("qwen3.5-0.8b", 0.8e9)])
@pytest.mark.parametrize("device, bw", [("phone", 76.8e9), ("laptop", 100e9)])
@pytest.mark.parametrize("precision, nbytes", [("fp16", 2.0), ("int4", 0.5)])
def test_draft_latency_is_weight_bytes_over_bandwidth(model, params, device, bw, precision, nbytes):
    assert P.draft_latency(model, device, precision) == pytest.approx(params * nbytes / bw, rel=1e-15)


@pytest.mark.parametrize("model, params", [("llama-2-7b", 6_738_415_616), ("qwen3.5-27b", 27e9)])
def test_verification_roofline_a100(model, params):
    # A100 80GB SXM datasheet: HBM2e 2.039 TB/s, bf16 dense 312 TFLOP/s; weights in bf16 (2 bytes)
    v0, v1 = P.verification_roofline(model)
    assert v0 == pytest.approx(params * 2 / 2.039e12, rel=1e-15)
    assert v1 == pytest.approx(2 * params / 312e12, rel=1e-15)


def test_roofline_numbers_in_ms():
    # the values quoted in the presets' docs, recomputed: 13.48 GB / 2.039 TB/s = 6.61 ms etc.
    v0, v1 = P.verification_roofline("qwen3.5-27b")
    assert round(v0 * 1e3, 2) == 26.48 and round(v1 * 1e6, 1) == 173.1
    assert round(P.draft_latency("qwen3.5-0.8b", "laptop", "int4") * 1e3, 3) == 4.0


def test_roofline_rejects_model_larger_than_server():
    with pytest.raises(ValueError, match="needs 274 GB of weights"):
        P.verification_roofline("lamda-137b")
    with pytest.raises(ValueError, match="target model must be one of"):
        P.verification_roofline("gpt-5")


def _count_llama(layers, d, f, V, heads=None, kv_heads=None):
    """Brute force: the shape of every weight tensor of a Llama decoder, summed."""
    kv = d if heads is None else d * kv_heads // heads
    shapes = [(V, d)]  # token embedding
    for _ in range(layers):
        shapes += [(d, d), (kv, d), (kv, d), (d, d)]  # q, k, v, o projections
        shapes += [(f, d), (f, d), (d, f)]  # gate, up, down
        shapes += [(d,), (d,)]  # input and post-attention RMSNorm
    shapes += [(d,), (V, d)]  # final norm, LM head (untied)
    return sum(math.prod(s) for s in shapes)


@pytest.mark.parametrize("model", ["llama-2-7b", "tinyllama-1.1b", "vicuna-7b"])
def test_parameter_counts_match_the_architecture(model):
    m = P.tables()["models"][model]
    args = (m["layers"], m["hidden"], m["intermediate"], m["vocab"], m.get("heads"), m.get("kv_heads"))
    assert P.llama_params(*args) == _count_llama(*args) == m["params"]


# ---------------------------------------------------------------- payloads
@pytest.mark.parametrize("V", [2, 3, 1000, 32000, 32128, 32768, 151936, 248320])
def test_token_id_bits(V):
    # smallest b with 2^b >= V, by search (independent of bit_length)
    b = next(b for b in itertools.count() if 2 ** b >= V)
    assert P.token_id_bits(V) == b


@pytest.mark.parametrize("V, l", [(2, 1), (3, 2), (4, 3), (5, 4), (6, 2)])
def test_lattice_bits_brute_force(V, l):
    # enumerate the lattice: vectors of V non-negative integers summing to l
    n = sum(1 for c in itertools.product(range(l + 1), repeat=V) if sum(c) == l)
    assert n == math.comb(l + V - 1, V - 1)
    assert P.lattice_bits(V, l) == math.ceil(math.log2(n)) + 16


@pytest.mark.parametrize("V, l", [(32000, 16), (248320, 16), (151936, 64), (32000, 100)])
def test_lattice_bits_mpmath(V, l):
    mpmath.mp.dps = 60  # 60-digit log2 of the binomial: far from an integer, so ceil is exact
    lg = mpmath.log(mpmath.binomial(l + V - 1, V - 1), 2)
    assert abs(lg - mpmath.nint(lg)) > 1e-20
    assert P.lattice_bits(V, l) == int(mpmath.ceil(lg)) + 16


def test_topk_and_payload_dispatch():
    assert P.topk_bits(248320, 32, 16) == 32 * (18 + 16) == 1088
    assert P.payload_bits({"kind": "token-id"}, 32000) == 15
    assert P.payload_bits({"kind": "lattice", "l": 2}, 4) == 20
    assert P.payload_bits({"kind": "top-k", "k": 8, "q": 16}, 32000) == 248
    assert P.preset("default").bits_per_token[0] == 1088  # top-32 over 248,320 tokens


@pytest.mark.parametrize("payload, match", [
    ({"kind": "zip"}, "payload.kind must be one of"),
    ({"kind": "top-k", "k": 8}, "needs 'q'"),
    ({"kind": "lattice", "l": 2, "x": 1}, "unknown payload key 'x'"),
    ("lattice", "payload must be a table"),
])
def test_payload_errors(payload, match):
    with pytest.raises(ValueError, match=match):
        P.payload_bits(payload, 32000)


@pytest.mark.parametrize("call, match", [
    (lambda: P.token_id_bits(0), "vocab must be an integer >= 1"),
    (lambda: P.lattice_bits(100, 0), "resolution l must be an integer >= 1"),
    (lambda: P.topk_bits(100, 2.5, 16), "k must be an integer >= 1"),
    (lambda: P.cqi_efficiency(16), r"cqi must be an integer in \[1, 15\]"),
    (lambda: P.acceptance("x/y/z"), "acceptance must be one of"),
    (lambda: P.profile("nope", 4), "profile must be one of"),
])
def test_small_function_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- channel and acceptance tables
def test_cqi_table_is_consistent():
    # TS 36.213 Table 7.2.3-1: efficiency = modulation bits x code rate / 1024, to 4 decimals
    cqi = P.tables()["channel"]["cqi"]
    for mod, rate, eff in zip(cqi["modulation_bits"], cqi["code_rate_x1024"], cqi["efficiency"], strict=True):
        assert round(mod * rate / 1024, 4) == pytest.approx(eff, abs=1e-4)
    assert all(a < b for a, b in itertools.pairwise(cqi["efficiency"]))
    assert P.cqi_snr(1) == pytest.approx(2 ** 0.1523 - 1, rel=1e-14)
    assert 10 * math.log10(P.cqi_snr(1)) == pytest.approx(-9.5, abs=0.05)


def test_acceptance_entries():
    tab = P.tables()["acceptance"]
    ids = P.acceptance_ids()
    assert len(ids) == len(set(ids)) == len(tab["rates"]) == 19  # 12 T5 + 3 LaMDA + 4 Vicuna (MODEL.md sec. 4)
    for r in tab["rates"]:
        assert 0.0 < r["alpha"] < 1.0 and r["source"] in tab["sources"]
    assert P.acceptance("vicuna-7b/llama-160m/spider") == 0.76
    prof = P.profile("eagle-llama2-chat-7b-mtbench", 3)
    assert prof.tolist() == [0.76, 0.69, 0.67]


_NUMBER_LINE = re.compile(r"^\s*[\w.\-\"]+\s*=\s*[\[\d.\-]")


@pytest.mark.parametrize("stem", ["hardware", "models", "acceptance", "channel"])
def test_every_number_cites_its_source(stem):
    # every line that assigns a number (or an array of numbers) carries a comment
    text = (TOML_DIR / f"{stem}.toml").read_text()
    bare = [ln for ln in text.splitlines() if _NUMBER_LINE.match(ln) and "#" not in ln]
    assert not bare, f"{stem}.toml: numbers without a source comment: {bare}"


@pytest.mark.parametrize("path", ["scenarios/example.toml", "scenarios/preset_override.toml"])
def test_shipped_scenario_files_load(path):
    from pathlib import Path

    s = P.load_scenario(Path(__file__).resolve().parent.parent / path)
    assert s.n_users >= 1
