"""The applications API: in-page training streams (language model, forecast), generation, sentiment, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.websocket import stream_messages

from rnnlab.data.words import WordVocab
from rnnlab.server.app import create_app
from rnnlab.server.managers.applications import ApplicationsManager
from rnnlab.server.settings import Settings
from rnnlab.tasks.classify import ClassifierConfig, SequenceClassifier, TextEncoder

TEXT = "\n".join(["the cat sat on the mat and the dog sat on the log", "a cat saw a dog and a dog saw a cat"] * 40)


@pytest.fixture(scope="module")
def app_client():
    app = create_app(Settings(default_model=None))
    with TestClient(app) as c:
        yield c


run_stream = stream_messages


def test_options_list_the_datasets_limits_and_sentiment_status(app_client):
    body = app_client.get("/api/applications/options").json()
    assert [d["name"] for d in body["forecast"]["datasets"]] == ["sunspots", "co2", "nile", "elnino", "stocks"]
    assert body["lm"]["limits"]["units"] == [4, 128] and "available" in body["classify"]


@pytest.mark.parametrize("level", ["char", "word"])
def test_a_language_model_trains_in_the_page_then_generates(app_client, level):
    messages = run_stream(app_client, "/api/applications/lm/train",
                          {"corpus_text": TEXT, "level": level, "units": 16, "train_seconds": 1.5})
    assert messages[0]["type"] == "start" and messages[-1]["type"] == "done"
    progress = [m for m in messages if m["type"] == "progress"]
    assert progress and all(np.isfinite(m["loss"]) and "sample" in m for m in progress)
    result = messages[-1]["result"]
    assert result["best_step"] in [m["step"] for m in progress]
    assert result["val_loss"] == pytest.approx(min(m["val"] for m in progress), abs=1e-6)  # progress is rounded
    assert result["last_val_loss"] == pytest.approx(progress[-1]["val"], abs=1e-6)
    gen = app_client.post("/api/applications/lm/generate",
                          json={"model_id": result["model_id"], "prompt": "the cat", "tokens": 10, "seed": 1}).json()
    assert len(gen["top10"]) == 10 and gen["text"]
    assert sum(t["probability"] for t in gen["top10"]) <= 1.0 + 1e-9


def test_training_stops_when_asked(app_client):
    messages = run_stream(app_client, "/api/applications/lm/train",
                          {"corpus_text": TEXT, "units": 8, "train_seconds": 60}, stop_after=1)
    assert messages[-1]["type"] == "done" and messages[-1]["stopped"] is True
    assert messages[-1]["result"]["seconds"] < 30


@pytest.mark.parametrize("request_body,message", [
    ({"corpus_text": TEXT, "units": 1000}, "units must be between 4 and 128"),
    ({"corpus_text": "too short"}, "at least 200 characters"),
    ({"corpus_text": TEXT, "level": "byte"}, "level"),
])
def test_bad_training_requests_get_an_error_message(app_client, request_body, message):
    messages = run_stream(app_client, "/api/applications/lm/train", request_body)
    assert messages[-1]["type"] == "error" and messages[-1]["status"] == 422
    assert message in messages[-1]["message"]


def test_generating_with_an_unknown_model_is_404(app_client):
    res = app_client.post("/api/applications/lm/generate", json={"model_id": "nope", "prompt": "a"})
    assert res.status_code == 404 and "train again" in res.json()["message"]


def test_a_forecast_trains_and_compares_with_the_baselines(app_client):
    messages = run_stream(app_client, "/api/applications/forecast/train",
                          {"dataset": "nile", "units": 8, "max_steps": 25, "train_seconds": 10})
    result = messages[-1]["result"]
    names = [m["name"] for m in result["methods"]]
    assert names[0] == "GRU" and "last value" in names and any(n.startswith("ARIMA") for n in names)
    assert len(result["test"]["value"]) == result["n_test"] == len(result["forecasts"]["GRU"])
    assert all(np.isfinite(m["one_step"]["mase"]) for m in result["methods"])


def test_an_unknown_dataset_is_rejected(app_client):
    messages = run_stream(app_client, "/api/applications/forecast/train", {"dataset": "weather"})
    assert messages[-1]["status"] == 422 and "dataset" in messages[-1]["message"]


@pytest.mark.parametrize("panel,path_arg,route,body,how", [
    ("classify", "sentiment_path", "classify", {"sentence": "a fine film"}, "rnnlab classify"),
    ("segment", "segmenter_path", "segment", {"text": "a fine film"}, "rnnlab label"),
])
def test_the_bundled_model_panels_say_how_to_make_a_missing_model(tmp_path, panel, path_arg, route, body, how):
    app = create_app(Settings(default_model=None))
    app.state.applications = ApplicationsManager(**{path_arg: tmp_path / "missing.safetensors"})
    with TestClient(app) as client:
        assert client.get("/api/applications/options").json()[panel]["available"] is False
        res = client.post(f"/api/applications/{route}", json=body)
        assert res.status_code == 404 and how in res.json()["message"]


def test_sentiment_gives_the_probabilities_after_each_word(tmp_path):
    vocab = WordVocab(["<pad>", "<unk>", "a", "fine", "film"])
    model = SequenceClassifier(ClassifierConfig(embed_size=4, hidden_size=4), TextEncoder("word", vocab), ["fresh", "rotten"])
    model.save(tmp_path / "s.safetensors", half=True)
    app = create_app(Settings(default_model=None))
    app.state.applications = ApplicationsManager(sentiment_path=tmp_path / "s.safetensors")
    with TestClient(app) as client:
        body = client.post("/api/applications/classify", json={"sentence": "A fine film!"}).json()
        assert body["tokens"] == ["a", "fine", "film", "!"] and len(body["probabilities"]) == 4
        assert body["label"] in ("fresh", "rotten") and 0.5 <= body["confidence"] <= 1
        res = client.post("/api/applications/classify", json={"sentence": "x" * 5000})
        assert res.status_code == 422 and "sentence must be at most 1000 characters" in res.json()["message"]


def test_a_sample_text_is_offered_that_exists_wherever_python_does(app_client):
    body = app_client.get("/api/applications/lm/sample").json()
    assert 10_000 < len(body["text"]) <= 50_000 and "pydoc" in body["name"]


def test_word_boundaries_come_back_for_every_character_with_the_score_on_the_typed_text(tmp_path):
    from rnnlab.tasks.labelling import SequenceTagger, TaggerConfig, save_tagger

    vocab = WordVocab(["<pad>", "<unk>", *"afinelm"])
    model = SequenceTagger(TaggerConfig(embed_size=4, hidden_size=4), len(vocab), rng=np.random.default_rng(0))
    save_tagger(tmp_path / "seg.safetensors", model, vocab, half=True,
                test={"GRU tagger": {"accuracy": 0.95, "boundary_f1": 0.88, "precision": 0.9, "recall": 0.86}})
    app = create_app(Settings(default_model=None))
    app.state.applications = ApplicationsManager(segmenter_path=tmp_path / "seg.safetensors")
    with TestClient(app) as client:
        options = client.get("/api/applications/options").json()["segment"]
        assert options["available"] is True and options["max_chars"] == 2000
        body = client.post("/api/applications/segment", json={"text": "A fine film"}).json()
        assert "".join(body["chars"]) == "Afinefilm" and body["truth"] == [0, 1, 0, 0, 0, 1, 0, 0, 0]
        assert len(body["p_boundary"]) == len(body["predicted"]) == 9 and body["unknown"] == ["A"]
        assert body["segmented"].replace(" ", "") == "Afinefilm" and 0 <= body["metrics"]["accuracy"] <= 1
        assert body["test"] == {"GRU tagger": {"accuracy": 0.95, "boundary_f1": 0.88}} and body["cell"] == "GRU"
        for text, message in (("   ", "no characters besides whitespace"), ("x" * 2001, "at most 2000 characters")):
            res = client.post("/api/applications/segment", json={"text": text})
            assert res.status_code == 422 and message in res.json()["message"], res.json()
