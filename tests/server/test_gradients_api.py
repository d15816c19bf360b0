"""/api/gradients: the vanishing-gradient section's curves and gradient check; bad input is 422, never 500."""

from __future__ import annotations

import pytest


def test_options_list_cells_limits_and_defaults(bare_client):
    data = bare_client.get("/api/gradients/options").json()
    assert data["cells"] == ["rnn", "lstm", "gru"]
    assert data["limits"]["seq_len"] == [2, 200] and data["limits"]["time_skip"] == [0, 50]
    assert data["limits"]["forget_bias"] == [0, 5] and data["defaults"]["forget_bias"] == 0
    assert data["check_limits"] == {"seq_len": 30, "hidden_size": 16}
    assert data["defaults"]["seq_len"] == 50


def test_norms_give_one_curve_per_cell_with_the_explanation_numbers(bare_client):
    r = bare_client.post("/api/gradients/norms", json={"seq_len": 40, "hidden_size": 8})
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data["cells"]) == {"rnn", "lstm", "gru"}
    rnn = data["cells"]["rnn"]
    assert len(rnn["norms"]) == 40 and rnn["ratio"] < 1e-6  # vanishing over 40 steps
    assert set(rnn["factors"]) == {"act_derivative"} and "act_derivative" in data["factor_doc"]
    assert data["spec"]["seq_len"] == 40


def test_exploding_network_is_shown_with_clipping_not_refused(bare_client):
    body = {"seq_len": 200, "recurrent_scale": 4.0, "activation": "relu", "init": "identity", "clip": "norm",
            "clip_threshold": 1.0}
    r = bare_client.post("/api/gradients/norms", json=body)
    assert r.status_code == 200, r.text
    rnn = r.json()["cells"]["rnn"]
    assert rnn["clipped"] and rnn["param_norm_clipped"] == pytest.approx(1.0, rel=1e-4)
    assert rnn["ratio"] is None or rnn["ratio"] > 1e10


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_check_shows_both_gradients_and_passes(bare_client, cell):
    body = {"cell": cell, "controls": {"seq_len": 10, "hidden_size": 4, "attention": "dot", "time_skip": 3}}
    r = bare_client.post("/api/gradients/check", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["ok"] and data["max_relative_error"] < 1e-6
    p = data["parameters"][0]
    assert len(p["analytic"]) == len(p["numeric"]) > 0


@pytest.mark.parametrize(
    "path,body,message",
    [
        ("/api/gradients/norms", {"seq_len": 5000}, "seq_len must be between 2 and 200"),
        ("/api/gradients/norms", {"hidden_size": 1}, "hidden_size must be between 2 and 64"),
        ("/api/gradients/norms", {"recurrent_scale": 9}, "recurrent_scale must be between 0.0 and 4.0"),
        ("/api/gradients/norms", {"clip_threshold": 0}, "clip_threshold must be between 0.01 and 100.0"),
        ("/api/gradients/norms", {"forget_bias": 7}, "forget_bias must be between 0.0 and 5.0"),
        ("/api/gradients/norms", {"seq_len": 8, "time_skip": 8}, "time_skip must be smaller than seq_len"),
        ("/api/gradients/norms", {"attention": "cosine"}, "attention"),
        ("/api/gradients/norms", {"cell": "rnn"}, "cell"),
        ("/api/gradients/check", {"cell": "elman"}, "cell"),
        ("/api/gradients/check", {"controls": {"seq_len": 100}}, "small model"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(bare_client, path, body, message):
    r = bare_client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert message in r.json()["message"]
