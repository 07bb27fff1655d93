"""The figure pipeline and the first figure (tokens per round vs draft length)."""

import csv

import numpy as np
import pytest

from figures import tokens_per_round as fig
from figures.__main__ import main as figures_main
from figures._pipeline import MissingInput, check_table, figure_modules, render, render_all
from numerics import expected_tokens


@pytest.fixture(scope="module")
def table():
    return fig.data()


def test_table_shape(table):
    n = check_table(table)
    assert n == len(fig.ALPHAS) * (fig.MAX_DRAFT + 1)
    assert set(table) == {"alpha", "L", "analytic", "mc_mean", "mc_ci_low", "mc_ci_high", "rounds", "saturation"}
    assert np.issubdtype(table["L"].dtype, np.integer)


def test_analytic_column_is_expected_tokens(table):
    assert np.array_equal(table["analytic"], expected_tokens(table["alpha"], table["L"]))
    assert np.array_equal(table["saturation"], 1 / (1 - table["alpha"]))


def test_monte_carlo_agrees_with_analysis(table):
    lo, hi, mean = table["mc_ci_low"], table["mc_ci_high"], table["mc_mean"]
    assert np.all(lo <= mean) and np.all(mean <= hi)
    L0 = table["L"] == 0
    assert np.all(mean[L0] == 1) and np.all(lo[L0] == 1) and np.all(hi[L0] == 1)  # N = 0 surely
    inside = (lo <= table["analytic"]) & (table["analytic"] <= hi)
    # 68 intervals at 95%: with correct draws P(coverage < 85%) = P(Bin(68, 0.05) > 10) < 1e-3,
    # while a biased sampler (or a wrong formula) drops coverage far below
    assert inside.mean() >= 0.85, inside.mean()
    # and no point is off by more than 5 standard errors (half-width = 1.96 SE)
    se = (hi - lo) / (2 * fig.Z95)
    assert np.all(np.abs(mean - table["analytic"]) <= 5 * se + 1e-12)


def test_data_is_seeded(table):
    again = fig.data()
    assert all(np.array_equal(table[k], again[k]) for k in table)


def test_render_writes_files_byte_identical(tmp_path, table):
    first = render(fig, tmp_path / "a")
    second = render(fig, tmp_path / "b")
    assert [p.name for p in first] == ["tokens_per_round.png", "tokens_per_round.pdf", "tokens_per_round.csv"]
    for p, q in zip(first, second, strict=True):
        assert p.stat().st_size > 0 and p.read_bytes() == q.read_bytes(), p.name
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and first[1].read_bytes()[:5] == b"%PDF-"
    with open(first[2], newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(table)
    assert len(rows) == 1 + len(table["L"])
    col = rows[0].index("analytic")
    assert [float(r[col]) for r in rows[1:]] == table["analytic"].tolist()  # repr precision: exact


def test_figure_is_discovered():
    mods = figure_modules()
    assert mods["tokens_per_round"] is fig and fig.TITLE


def test_render_all_unknown_name(tmp_path):
    with pytest.raises(ValueError, match=r"unknown figure 'no_such_figure'; known: .*tokens_per_round"):
        render_all(tmp_path, ["no_such_figure"])


def test_command_line(tmp_path, capsys):
    assert figures_main(["--only", "tokens_per_round", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tokens_per_round.pdf").exists()
    assert figures_main(["--only", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown figure 'nope'" in capsys.readouterr().err


def test_check_table_errors():
    with pytest.raises(ValueError, match=r"a figure table must be a non-empty dict of columns, got list"):
        check_table([1, 2])
    with pytest.raises(ValueError, match=r"a figure table must be a non-empty dict of columns, got dict"):
        check_table({})
    with pytest.raises(ValueError, match=r"figure table columns have different lengths: \{'a': 2, 'b': 3\}"):
        check_table({"a": [1, 2], "b": [1, 2, 3]})


def _fake_figure(name, data):
    """A minimal figure module: NAME, TITLE, data(), plot() (a one-line figure)."""
    import types

    def plot(table):
        import matplotlib.pyplot as plt

        f, ax = plt.subplots()
        ax.plot(table["x"], table["y"])
        return f

    return types.SimpleNamespace(NAME=name, TITLE=name, data=data, plot=plot)


def _missing():
    raise MissingInput("benchmark results 'figures/data/homogeneous.csv' not found: run `make bench`")


def test_missing_input_is_skipped_and_the_others_render(tmp_path, monkeypatch, capsys):
    import figures._pipeline as pipeline

    mods = {"a_missing": _fake_figure("a_missing", _missing),
            "b_absent_file": _fake_figure("b_absent_file", lambda: open(tmp_path / "nope.csv")),
            "c_fine": _fake_figure("c_fine", lambda: {"x": np.arange(3), "y": np.arange(3.0)})}
    monkeypatch.setattr(pipeline, "figure_modules", lambda: mods)
    paths = pipeline.render_all(tmp_path / "out")
    assert [p.name for p in paths] == ["c_fine.png", "c_fine.pdf", "c_fine.csv"]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("figures: skipped a_missing: benchmark results 'figures/data/homogeneous.csv' not found: "
                      "run `make bench`")
    assert err[1].startswith("figures: skipped b_absent_file: [Errno 2] No such file or directory")
    assert len(err) == 2  # one line each, nothing else
    seen = []
    pipeline.render_all(tmp_path / "out2", on_missing=lambda name, e: seen.append((name, type(e).__name__)))
    assert seen == [("a_missing", "MissingInput"), ("b_absent_file", "FileNotFoundError")]
    # the command line also goes on and says how many figures it wrote
    monkeypatch.setattr("figures.__main__.figure_modules", lambda: mods)
    assert figures_main(["--out", str(tmp_path / "out3")]) == 0
    cap = capsys.readouterr()
    assert "skipped a_missing" in cap.err and "(1 figures of 3)" in cap.out


def test_other_data_errors_are_not_skipped(tmp_path, monkeypatch):
    import figures._pipeline as pipeline

    def bad():
        raise ValueError("benchmark results 'x.csv' lack column 'K'")

    monkeypatch.setattr(pipeline, "figure_modules", lambda: {"bad": _fake_figure("bad", bad)})
    with pytest.raises(ValueError, match="lack column 'K'"):
        pipeline.render_all(tmp_path)
