"""``rnnlab experiment memory``: a tiny run end to end (tables, plot, JSON), and clear errors for bad input."""

from __future__ import annotations

import json
import re

import pytest

from rnnlab.cli.experiment import parse_lags, parse_variants
from rnnlab.cli.main import main


def test_tiny_memory_experiment_prints_both_tables_and_writes_plot_and_numbers(tmp_path, capsys):
    out = tmp_path / "mem.png"
    code = main(["experiment", "memory", "--task", "first", "--cells", "rnn,lstm+skip,irnn+clip",
                 "--lags", "3,6", "--steps", "4", "--hidden", "8", "--batch", "4", "--eval-every", "2",
                 "--skip-k", "2", "--out", str(out)])
    assert code == 0
    text = " ".join(capsys.readouterr().out.split())  # rich wraps long titles
    assert "accuracy (held-out) against lag" in text and "||dL/dh_1|| at initialization" in text
    for label in ("rnn", "lstm+skip", "irnn+clip"):
        assert label in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["command"].startswith("rnnlab experiment memory --task first --cells rnn,lstm+skip,irnn+clip")
    rows = data["results"]
    assert len(rows) == 6 and {r["lag"] for r in rows} == {3, 6}
    irnn = next(r for r in rows if r["variant"] == "irnn+clip" and r["lag"] == 6)
    assert irnn["model"]["nonlinearity"] == "relu" and irnn["init"] == "identity"
    assert irnn["steps"] == 4 and len(irnn["grad_norms_init"]) == 7 and 0 <= irnn["fraction_clipped"] <= 1
    skip = next(r for r in rows if r["variant"] == "lstm+skip")
    assert skip["model"]["time_skip"] == 2


def test_adding_experiment_reports_mse_and_stops_at_the_target(tmp_path, capsys):
    out = tmp_path / "add.png"
    code = main(["experiment", "memory", "--task", "adding", "--cells", "gru", "--lags", "4", "--steps", "50",
                 "--hidden", "8", "--eval-every", "5", "--target", "10", "--out", str(out)])
    assert code == 0
    assert "MSE (held-out, lower is better)" in " ".join(capsys.readouterr().out.split())
    row = json.loads(out.with_suffix(".json").read_text())["results"][0]
    assert row["metric"] == "mse" and row["reached_target_at"] == 0 and row["steps"] == 0


def test_an_experiment_where_every_run_overflows_still_reports_and_plots(tmp_path, capsys, recwarn):
    out = tmp_path / "boom.png"  # 30^29 overflows float32: no finite gradient or loss anywhere
    code = main(["experiment", "memory", "--task", "adding", "--cells", "irnn", "--lags", "30", "--steps", "2",
                 "--hidden", "8", "--batch", "32", "--spectral-radius", "30", "--out", str(out)])
    assert code == 0
    assert "diverged" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (row,) = json.loads(out.with_suffix(".json").read_text())["results"]
    assert row["diverged"] and row["grad_h1_init"] is None
    assert [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


def test_variants_and_lags_are_parsed_with_remedies_added_to_every_cell():
    variants = parse_variants("rnn, lstm+attention ,irnn", "clip")
    assert [v.label for v in variants] == ["rnn+clip", "lstm+attention+clip", "irnn+clip"]
    assert variants[2].cell == "rnn" and variants[2].nonlinearity == "relu" and variants[2].init == "identity"
    assert parse_variants("rnn+orthogonal", "")[0].init == "orthogonal"
    assert parse_variants("lstm+forget-bias", "")[0].remedies == ("forget-bias",)
    assert parse_lags("20,5,5,100") == [5, 20, 100]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--cells", "rnn,transformer"], "unknown cell 'transformer'"),
        (["--remedies", "dropout"], "unknown remedy 'dropout'"),
        (["--cells", "rnn+identity+orthogonal"], "choose one initialization"),
        (["--lags", "5,x"], "--lags must be comma-separated integers"),
        (["--lags", "0"], "--lags must be integers in \\[1, 1000\\]"),
        (["--task", "adding", "--lags", "1"], "lag must be an integer in \\[2"),
        (["--hidden", "0"], "--hidden must be between 1 and 512"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--minutes", "-1"], "--minutes must be in"),
        (["--out", "plot.svg"], "--out must end in .png"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(argv, message, capsys):
    assert main(["experiment", "memory", "--steps", "1", *argv]) == 2  # a later --steps wins
    err = capsys.readouterr().err
    assert err.startswith("rnnlab experiment: error:") and err.count("\n") == 1
    assert re.search(message, err), err
