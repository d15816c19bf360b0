"""/api/models: the models listed by id, a broken checkpoint listed with its error, distributions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from rnnlab.server.app import create_app
from rnnlab.server.settings import Settings


def test_models_are_listed_by_id_with_their_shape(client):
    data = client.get("/api/models").json()
    assert data["default"] == "tiny"
    (model,) = data["models"]
    assert model["available"] and model["cell"] == "lstm" and model["hidden_size"] == 48
    assert model["vocab_size"] == len(model["vocab"])
    assert model["meta"]["note"] == "test fixture"
    assert "path" not in model  # a client never sees or sends paths
    assert client.get("/api/models/tiny").json()["id"] == "tiny"


def test_without_any_model_the_list_says_none_is_bundled(bare_client):
    data = bare_client.get("/api/models").json()
    assert data["models"] == [] and data["default"] is None
    assert "No model is bundled" in data["message"]


def test_a_broken_checkpoint_is_listed_with_its_error_and_never_breaks_the_server(tmp_path, tiny_model_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 40)
    app = create_app(Settings(default_model=None, models=(broken, tiny_model_path)))
    with TestClient(app) as c:
        data = c.get("/api/models").json()
        by_id = {m["id"]: m for m in data["models"]}
        assert by_id["broken"]["available"] is False and "broken.safetensors" in by_id["broken"]["error"]
        assert data["default"] == "tiny"
        r = c.post("/api/models/broken/distribution", json={})
        assert r.status_code == 404


def test_models_in_a_folder_get_unique_ids(tmp_path, tiny_model_path):
    for name in ("a b.safetensors", "a_b.safetensors"):
        (tmp_path / name).write_bytes(tiny_model_path.read_bytes())
    app = create_app(Settings(default_model=None, models_dir=tmp_path))
    with TestClient(app) as c:
        ids = sorted(m["id"] for m in c.get("/api/models").json()["models"])
    assert ids == ["a-b", "a_b"]


def test_unknown_model_is_404_naming_the_known_ones(client):
    r = client.get("/api/models/nope")
    assert r.status_code == 404 and "tiny" in r.json()["message"]


def test_distribution_is_the_top_10_in_order_with_entropy(client):
    d = client.post("/api/models/tiny/distribution", json={"prompt": "The ", "temperature": 1.0}).json()
    probs = [p for _, p in d["top"]]
    assert len(d["top"]) == 10 and probs == sorted(probs, reverse=True)
    assert 0.0 < sum(probs) <= 1.0 + 1e-6
    assert 0 <= d["entropy"] <= d["max_entropy"]
    assert d["temperatures"][0] == 0.1 and d["temperatures"][-1] == 2.0
    assert d["figures"]["distribution"]["data"][0]["type"] == "bar"


def test_higher_temperature_gives_higher_entropy(client):
    low = client.post("/api/models/tiny/distribution", json={"prompt": "The", "temperature": 0.2}).json()
    high = client.post("/api/models/tiny/distribution", json={"prompt": "The", "temperature": 1.8}).json()
    assert high["entropy"] > low["entropy"]
    curve = low["entropy_curve"]
    assert all(b >= a - 1e-9 for a, b in zip(curve, curve[1:]))  # entropy grows with temperature


@pytest.mark.parametrize("body,words", [
    ({"temperature": 0}, "temperature must be between 0.1 and 2.0"),
    ({"temperature": 2.5}, "temperature must be between 0.1 and 2.0"),
    ({"prompt": "x" * 2001}, "prompt must be at most 2000 characters"),
    ({"prompt": "Zebra ☃"}, "'Z'"),
])
def test_bad_distribution_requests_are_422(client, body, words):
    r = client.post("/api/models/tiny/distribution", json=body)
    assert r.status_code == 422 and words in r.json()["message"], r.text


def test_model_ids_with_odd_characters_are_422_not_a_path(client):
    assert client.get("/api/models/..%2F..%2Fetc").status_code in (404, 422)
    assert client.post("/api/models/a%20b/distribution", json={}).status_code == 422


def test_run_folders_of_rnnlab_train_are_listed_by_folder_name(tmp_path, tiny_model_path):
    run = tmp_path / "shakespeare-2026"
    run.mkdir()
    (run / "model.safetensors").write_bytes(tiny_model_path.read_bytes())
    (run / "last.resume.safetensors").write_bytes(b"not a model")
    (tmp_path / "x.resume.safetensors").write_bytes(b"not a model")
    app = create_app(Settings(default_model=None, models_dir=tmp_path))
    with TestClient(app) as c:
        data = c.get("/api/models").json()
    assert [m["id"] for m in data["models"]] == ["shakespeare-2026"] and data["default"] == "shakespeare-2026"


def test_metadata_that_utf8_cannot_carry_is_dropped_not_a_500(tmp_path, tiny_model_path):
    from rnnlab.tasks.charlm import CharLM

    model = CharLM.load(tiny_model_path)
    odd = tmp_path / "odd.safetensors"
    model.save(odd, note="lone surrogate \ud800", ok="fine", bad_number=float("nan"))
    app = create_app(Settings(default_model=None, models=(odd,)))
    with TestClient(app) as c:
        r = c.get("/api/models")
        assert r.status_code == 200
        meta = r.json()["models"][0]["meta"]
    assert meta["ok"] == "fine" and "note" not in meta and "bad_number" not in meta


def test_a_run_folder_given_on_the_command_line_is_named_after_the_run(tmp_path, tiny_model_path):
    from rnnlab.cli.serve import resolve_models

    run = tmp_path / "pydoc-2026"
    run.mkdir()
    (run / "model.safetensors").write_bytes(tiny_model_path.read_bytes())
    models, _ = resolve_models(SimpleNamespace(model=[str(run)], models_dir=None, port=0))
    app = create_app(Settings(default_model=None, models=models))
    with TestClient(app) as c:
        assert [m["id"] for m in c.get("/api/models").json()["models"]] == ["pydoc-2026"]
