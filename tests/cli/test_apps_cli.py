"""The application commands end to end on small data: tables, plots, clear errors, the missing-extra message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli.main import main
from rnnlab.data import optional


def seasonal_csv(tmp_path, n=120):
    rng = np.random.default_rng(0)
    lines = ["date,load"] + [f"{np.datetime64('2021-01-01') + i},{np.sin(2 * np.pi * i / 7) + 0.1 * rng.standard_normal():.4f}"
                             for i in range(n)]
    path = tmp_path / "load.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_forecast_prints_the_table_and_writes_plot_and_json(tmp_path, capsys):
    csv = seasonal_csv(tmp_path)
    plot, numbers = tmp_path / "f.png", tmp_path / "f.json"
    code = main(["forecast", str(csv), "--season", "7", "--steps", "30", "--arima", "none", "--hidden", "8",
                 "--plot", str(plot), "--json", str(numbers)])
    out = capsys.readouterr().out
    assert code == 0
    assert "GRU" in out and "last value" in out and "seasonal naive (m=7)" in out and "MASE" in out
    assert plot.stat().st_size > 10_000
    names = [m["name"] for m in json.loads(numbers.read_text())["methods"]]
    assert names == ["GRU", "last value", "seasonal naive (m=7)"]


@pytest.mark.parametrize("argv,message", [
    (["forecast", "sunspot"], "neither a dataset"),
    (["forecast", "nile", "--cell", "transformer"], "--cell must be"),
    (["forecast", "nile", "--hidden", "0"], "--hidden must be"),
])
def test_forecast_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_apps_extra_tells_the_user_what_to_install(monkeypatch, capsys):
    def missing(module, purpose=""):
        raise optional.MissingDependencyError(module.split(".")[0], purpose)

    monkeypatch.setattr("rnnlab.data.timeseries.optional_import", missing)
    assert main(["forecast", "nile"]) == 2
    assert "pip install 'rnnlab[apps]'" in capsys.readouterr().err


def sentiment_csv(tmp_path, n=400):
    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "moving", "fun"], ["dull", "awful", "flat"], ["the", "film", "is", "a", "plot"]
    rows = ["text,label"]
    for i in range(n):
        label = "fresh" if i % 2 else "rotten"
        words = list(rng.choice(filler, size=4)) + [rng.choice(good if label == "fresh" else bad)]
        rows.append(f"{' '.join(rng.permutation(words))},{label}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_classify_compares_with_logistic_regression_and_saves(tmp_path, capsys):
    csv = sentiment_csv(tmp_path)
    out, numbers = tmp_path / "c.safetensors", tmp_path / "c.json"
    code = main(["classify", str(csv), "--epochs", "15", "--lr", "0.01", "--hidden", "8", "--embed", "8", "--dropout", "0",
                 "--explain", "a great film", "--out", str(out), "--json", str(numbers)])
    text = capsys.readouterr().out
    assert code == 0
    assert "bag-of-words" in text and "confusion matrix" in text and "P(fresh)" in text
    results = json.loads(numbers.read_text())["results"]
    assert [r["name"].split(" ")[0] for r in results] == ["GRU", "bag-of-words"]
    assert results[0]["accuracy"] >= 0.75 and len(results[0]["confusion"]) == 2
    rnn, bow = results[0]["accuracy"], results[1]["accuracy"]  # the verdict line agrees with the numbers
    verdict = "matches" if abs(rnn - bow) < 0.0005 else "beats by" if rnn > bow else "is below by"
    assert f"the RNN ({rnn:.3f}) {verdict}" in " ".join(text.split())
    from rnnlab.tasks.classify import SequenceClassifier

    assert SequenceClassifier.load(out).classes == ["fresh", "rotten"]


def test_classify_names_the_missing_columns(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("review,stars\nok,1\n", encoding="utf-8")
    assert main(["classify", str(path)]) == 2
    assert "needs columns 'text' and 'label'" in capsys.readouterr().err


def test_label_compares_the_tagger_with_lookup_tables(tmp_path, capsys):
    rng = np.random.default_rng(0)
    words = ["state", "hidden", "gradient", "time", "network"]
    path = tmp_path / "text.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, size=10)) for _ in range(60)), encoding="utf-8")
    numbers = tmp_path / "l.json"
    saved = tmp_path / "seg.safetensors"
    assert main(["label", str(path), "--steps", "60", "--hidden", "16", "--json", str(numbers), "--out", str(saved),
                 "--half"]) == 0
    out = capsys.readouterr().out
    assert "trigram lookup" in out and "re-segmented" in out
    assert set(json.loads(numbers.read_text())["rows"]) == {"GRU tagger", "majority tag", "bigram lookup", "trigram lookup"}
    from rnnlab.tasks.labelling import load_tagger

    tagger = load_tagger(saved)
    assert tagger.model.config.hidden_size == 16 and tagger.meta["steps"] == 60
    assert tagger.model.params["head.weight"].dtype == np.float32  # stored as float16, read back as float32


def test_wordlm_trains_shows_top10_and_completes(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(["the cat sat on the mat .", "a dog saw the cat ."] * 80), encoding="utf-8")
    model = tmp_path / "w.safetensors"
    args = ["wordlm", str(corpus), "--prompt", "the cat", "--steps", "30", "--hidden", "16", "--embed", "8",
            "--min-count", "1", "--words", "5", "--out", str(model)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "top-10 next words" in out and "bigram" in out and "completion" in out
    assert main(["wordlm", str(model), "--prompt", "a dog", "--words", "3"]) == 0
    assert main(["wordlm", str(corpus), "--temperature", "0"]) == 2
