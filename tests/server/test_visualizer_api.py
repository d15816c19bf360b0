"""/api/visualizer: options, traces of every sequence type, bad input as 422, in-page training."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from support.websocket import stream_messages

from rnnlab.server.app import create_app
from rnnlab.server.settings import Settings
from rnnlab.tasks.visualizer import SEQUENCE_TYPES


def trace(client, **body):
    return client.post("/api/visualizer/trace", json=body)


def test_options_list_cells_sequence_types_examples_and_limits(client):
    r = client.get("/api/visualizer/options")
    assert r.status_code == 200
    data = r.json()
    assert data["cells"] == ["rnn", "lstm", "gru"]
    names = [t["name"] for t in data["sequence_types"]]
    assert {"sine", "square", "counting", "text", "bits", "free"} <= set(names)
    assert all(len(t["examples"]) >= 3 for t in data["sequence_types"])
    assert data["limits"]["hidden_size"] == [2, 64]
    assert data["defaults"]["network"]["cell"] in data["cells"]


@pytest.mark.parametrize("cell,gates", [("rnn", []), ("lstm", ["i", "f", "g", "o"]), ("gru", ["r", "z", "n"])])
def test_trace_has_one_row_per_step_and_one_column_per_unit(client, cell, gates):
    r = trace(client, network={"cell": cell, "hidden_size": 5}, sequence={"type": "sine", "length": 17})
    assert r.status_code == 200, r.text
    d = r.json()
    T, H = 17, 5
    assert len(d["hidden"]) == T and all(len(row) == H for row in d["hidden"])
    assert list(d["gates"]) == gates
    assert all(len(g) == T and len(g[0]) == H for g in d["gates"].values())
    assert (d["cell_state"] is not None) == (cell == "lstm")
    assert list(d["preact"]) == (gates or ["h"]) and len(d["preact"][(gates or ["h"])[0]][0]) == H  # H <= 8 units
    assert len(d["grad_h"]) == T and len(d["grad_h_norm"]) == T
    assert d["params"]["math_units"] == H and len(d["params"]["weight_hh"]) == max(1, len(gates)) * H
    assert d["figures"]["hidden"]["data"][0]["type"] == "heatmap"
    assert d["figures"]["hidden"]["data"][0]["z"] is None  # the page fills it from "hidden"
    assert d["model_id"] is None and d["network"]["steps_trained"] == 0


@pytest.mark.parametrize("seq_type,example", [(t.name, e.name) for t in SEQUENCE_TYPES.values() for e in t.examples])
def test_every_sequence_example_traces(client, seq_type, example):
    r = trace(client, network={"cell": "gru", "hidden_size": 4}, sequence={"type": seq_type, "example": example, "length": 12})
    assert r.status_code == 200, r.text
    seq = r.json()["sequence"]
    assert seq["type"] == seq_type and seq["example"] == example
    assert len(seq["input_labels"]) == len(seq["target_labels"]) == seq["length"]


def test_same_configuration_gives_the_same_trace_and_another_seed_does_not(client):
    a = trace(client, network={"seed": 3}).json()
    b = trace(client, network={"seed": 3}).json()
    c = trace(client, network={"seed": 4}).json()
    assert a["hidden"] == b["hidden"]
    assert a["hidden"] != c["hidden"]


def test_free_numbers_are_a_regression_and_free_text_a_classification(client):
    nums = trace(client, sequence={"type": "free", "text": "1, 2, 3, 5, 8"}).json()["sequence"]
    assert nums["kind"] == "regression" and nums["input_labels"] == ["1", "2", "3", "5"]
    text = trace(client, sequence={"type": "free", "text": "abab", "length": 6}).json()["sequence"]
    assert text["kind"] == "classification" and text["classes"] == ["a", "b"]


@pytest.mark.parametrize("body,field,words", [
    ({"network": {"hidden_size": 1}}, "network.hidden_size", "between 2 and 64"),
    ({"network": {"hidden_size": 65}}, "network.hidden_size", "between 2 and 64"),
    ({"network": {"hidden_size": 10**12}}, "network.hidden_size", "between 2 and 64"),
    ({"network": {"recurrent_scale": -1}}, "network.recurrent_scale", "between 0.0 and 4.0"),
    ({"network": {"seed": -5}}, "network.seed", "between 0"),
    ({"network": {"cell": "transformer"}}, "network.cell", "'rnn', 'lstm' or 'gru'"),
    ({"network": {"activation": "sigmoid"}}, "network.activation", "tanh"),
    ({"network": {"init": "zeros"}}, "network.init", "orthogonal"),
    ({"sequence": {"length": 0}}, "sequence.length", "between 2 and 200"),
    ({"sequence": {"length": 10**9}}, "sequence.length", "between 2 and 200"),
    ({"sequence": {"type": "stocks"}}, "sequence", "type must be one of"),
    ({"sequence": {"type": "sine", "example": "nope"}}, "sequence", "example must be one of"),
    ({"sequence": {"type": "free", "text": "x" * 401}}, "sequence.text", "at most 400 characters"),
    ({"sequence": {"type": "free", "text": "z"}}, "sequence.text", "at least two"),
    ({"sequence": {"type": "free", "text": "7"}}, "sequence.text", "at least two"),
    ({"network": {"hidden_size": "many"}}, "network.hidden_size", "integer"),
    ({"network": {"cell": "rnn", "layers": 3}}, "network.layers", "Extra inputs"),
    ({"model_id": "../../etc/passwd"}, "model_id", "pattern"),
])
def test_bad_input_is_a_422_naming_the_field(client, body, field, words):
    r = trace(client, **body)
    assert r.status_code == 422, r.text
    message = r.json()["message"]
    assert message.startswith(field) and words in message, message


@pytest.mark.parametrize("body", [b"{not json", b'{"network": "\xff\xfe"}', b"[" * 100_000])
def test_a_body_that_is_not_json_text_is_a_422(client, body):
    r = client.post("/api/visualizer/trace", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["message"]


def test_an_exploding_network_is_shown_with_finite_numbers_and_flagged(client):
    body = {"network": {"cell": "rnn", "activation": "relu", "recurrent_scale": 4.0, "hidden_size": 64, "init": "identity"},
            "sequence": {"type": "square", "length": 200}}
    r = trace(client, **body)
    assert r.status_code == 200
    d = r.json()
    assert d["overflow"] is True
    json.dumps(d, allow_nan=False)  # no NaN or Infinity in the reply


def test_unknown_trained_model_is_404(client):
    r = trace(client, model_id="0" * 32)
    assert r.status_code == 404
    assert "train again" in r.json()["message"]


def train(client, body):
    return stream_messages(client, "/api/visualizer/train", body)


def test_training_streams_the_loss_and_returns_a_trained_network(client):
    body = {"network": {"cell": "lstm", "hidden_size": 8}, "sequence": {"type": "sine", "length": 16}, "seconds": 0.6}
    messages = train(client, body)
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "start" and kinds[-1] == "done" and "progress" in kinds
    assert messages[0]["figure"]["data"][0]["type"] == "scatter"
    losses = [m["loss"] for m in messages if m["type"] == "progress"]
    done = messages[-1]["trace"]
    assert done["network"]["steps_trained"] > 10
    assert losses[-1] < losses[0]
    model_id = done["model_id"]
    assert len(model_id) == 32
    # the trained weights trace another example of the same type
    again = trace(client, network=body["network"], sequence={"type": "sine", "example": "period6", "length": 16}, model_id=model_id)
    assert again.status_code == 200 and again.json()["network"]["steps_trained"] == done["network"]["steps_trained"]
    # ... but not another configuration or a sequence with other inputs
    assert trace(client, network={"cell": "gru", "hidden_size": 8}, model_id=model_id).status_code == 409
    assert trace(client, network=body["network"], sequence={"type": "text"}, model_id=model_id).status_code == 409


def test_training_request_with_bad_input_gets_an_error_message_and_close_code_4422(client):
    with client.websocket_connect("/api/visualizer/train") as ws:
        ws.send_json({"seconds": 3600})
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["status"] == 422
        assert "seconds must be between 0.5 and 20.0" in msg["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4422


def test_training_refuses_when_too_many_jobs_run():
    app = create_app(Settings(default_model=None, max_training_jobs=0))
    with TestClient(app) as c:
        messages = train(c, {"seconds": 0.5})
    assert messages[-1]["type"] == "error" and messages[-1]["status"] == 503


def test_a_stop_message_ends_training_early(client):
    with client.websocket_connect("/api/visualizer/train") as ws:
        ws.send_json({"seconds": 20, "sequence": {"type": "text"}})
        assert ws.receive_json()["type"] == "start"
        ws.send_json({"type": "stop"})
        while (msg := ws.receive_json())["type"] != "done":
            pass
    assert msg["stopped"] is True
    assert msg["trace"]["training"]["seconds"] < 5


def test_closing_the_socket_stops_training_within_a_second(client):
    manager = client.app.state.visualizer
    with client.websocket_connect("/api/visualizer/train") as ws:
        ws.send_json({"seconds": 20})
        assert ws.receive_json()["type"] == "start"
        assert ws.receive_json()["type"] == "progress"
        assert manager.active_trainings == 1
    deadline = time.monotonic() + 1.0
    while manager.active_trainings and time.monotonic() < deadline:
        time.sleep(0.01)
    assert manager.active_trainings == 0
