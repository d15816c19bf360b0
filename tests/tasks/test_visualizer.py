"""tasks.visualizer: the model's gradients are right, the trace is faithful to the engine, and the
generation helpers agree with sampling (the sequences: test_sequences.py)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from support.tiny_charlm import trained_cycle_model

from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.tasks import visualizer as vis
from rnnlab.tasks.sampling import stream


def seq(type_, example=None, length=20, text=""):
    return vis.make_sequence(vis.SequenceSpec(type_, example, length, text))


# ---- the model -------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,type_,example", [("rnn", "sine", None), ("lstm", "bits", "delay3"), ("gru", "text", "abc")])
def test_masked_loss_gradients_match_finite_differences(cell, type_, example):
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec(cell, 3, seed=1), seq(type_, example, 6))
    x, y, m = vis.training_batch(vis.SequenceSpec(type_, example, 6), np.random.default_rng(2), 2)
    _, grads, _ = model.loss_and_grads(x, y, m)
    for name in ("weight_hh_l0", "weight_ih_l0", "bias_hh_l0", "head.weight", "head.bias"):
        numeric = numerical_gradient(lambda: model.loss_and_grads(x, y, m)[0], model.params[name])
        assert relative_error(grads[name], numeric) < 1e-6, name


def test_dl_dh_matches_finite_differences_of_the_hidden_state():
    spec = vis.SequenceSpec("sine", None, 5)
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec("rnn", 3, seed=0), seq("sine", None, 5))
    x, y, m = vis.training_batch(spec, np.random.default_rng(0), 1)
    _, _, dh = model.loss_and_grads(x, y, m)  # (T, B, H)
    # perturb the output of the last step: dL/dh_{T-1} only flows through the head
    out, pred, _ = model._forward(x)
    w, b = model.params["head.weight"], model.params["head.bias"]

    def loss_with(h_last):
        p = h_last @ w.T + b  # (B, 1)
        rest = pred[:-1, :, 0]
        full = np.concatenate([rest, p[None, :, 0]])
        return float(((full - y) ** 2).mean())

    h_last = out[-1].copy()
    numeric = numerical_gradient(lambda: loss_with(h_last), h_last)
    assert relative_error(dh[-1], numeric) < 1e-6


def test_training_lowers_the_loss_of_a_sine_wave():
    spec = vis.SequenceSpec("sine", None, 16)
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec("lstm", 8), seq("sine", None, 16))
    history = model.train(spec, seconds=60, max_steps=150)
    assert len(history) == 150 and model.steps_trained == 150
    assert history[-1].loss < 0.2 * history[0].loss


def test_training_calls_back_and_can_be_stopped():
    calls = []
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec("gru", 4), seq("text"))
    history = model.train(vis.SequenceSpec("text"), seconds=60, on_progress=calls.append,
                          should_stop=lambda: len(calls) >= 1, report_every=0.0)
    assert len(history) == 1 and calls[-1].step == 1


# ---- the trace ---------------------------------------------------------------------------------
def test_trace_is_the_engines_forward_pass():
    s = seq("text", "hello", 9)
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec("lstm", 4, seed=5), s)
    d = vis.trace_json(model, s)
    out, _, cache = model.rnn.forward(s.inputs[:, None], record=True)
    np.testing.assert_allclose(d["hidden"], out[:, 0], atol=5e-5)  # rounded to 4 decimals
    np.testing.assert_allclose(d["gates"]["f"], cache.trace.layers[0].gates["f"][:, 0], atol=5e-5)
    probs = np.array(d["outputs"]["probs"])
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert d["predicted_labels"][0] == s.classes[int(probs[0].argmax())]
    assert len(d["params"]["weight_ih"][0]) == len(s.classes)
    assert d["params"]["math_units"] == 4 and len(d["params"]["weight_ih"]) == 4 * 4  # (G*K, V)
    np.testing.assert_allclose(d["params"]["weight_hh"][4], model.params["weight_hh_l0"][4, :4], atol=1e-4)  # gate f
    np.testing.assert_allclose(d["preact"]["o"], cache.trace.layers[0].preact[:, 0, 12:16], atol=1e-4)


def test_trace_of_an_exploding_network_is_finite_json_and_flagged():
    s = seq("square", None, 200)
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec("rnn", 16, activation="relu", recurrent_scale=4.0), s)
    d = vis.trace_json(model, s)
    assert d["overflow"]
    json.dumps(d, allow_nan=False)


def test_a_network_for_other_inputs_is_refused():
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec(), seq("sine"))
    with pytest.raises(ValueError, match="does not fit"):
        vis.trace_json(model, seq("text"))


@pytest.mark.parametrize("kwargs,words", [
    ({"cell": "tcn"}, "cell"), ({"hidden_size": 65}, "hidden_size"), ({"activation": "gelu"}, "activation"),
    ({"init": "zeros"}, "init"), ({"recurrent_scale": float("nan")}, "recurrent_scale"),
])
def test_network_spec_checks_its_fields(kwargs, words):
    with pytest.raises(ValueError, match=words):
        vis.NetworkSpec(**kwargs)


# ---- text generation helpers ---------------------------------------------------------------------
def test_prompt_distribution_agrees_with_sampling_and_entropy_grows_with_temperature():
    model = trained_cycle_model()
    d = vis.prompt_distribution(model, "ab", 0.7, [0.2, 1.0, 1.8])
    step = next(stream(model, "ab", 1, temperature=0.7, seed=0))
    np.testing.assert_allclose(d["probs"], step.probs)
    assert d["entropy"] == pytest.approx(step.entropy)
    assert d["entropy_curve"][0] < d["entropy_curve"][1] < d["entropy_curve"][2]
    assert d["top"][0][0] == "c"


def test_sample_step_json_is_short_and_complete():
    model = trained_cycle_model()
    step = next(stream(model, "a", 1, seed=0))
    j = vis.sample_step_json(step, model.vocab.chars, top=3)
    assert set(j) == {"i", "c", "p", "top", "rest", "H", "S", "hs", "hq"}
    assert len(j["top"]) == 3 and j["rest"] == pytest.approx(1 - sum(p for _, p in j["top"]), abs=1e-4)


@pytest.mark.parametrize("scale", [0.5, 1.0, 7.0])
def test_hidden_states_survive_the_int8_encoding_to_within_a_step_of_the_scale(scale):
    h = np.random.default_rng(0).uniform(-scale, scale, size=(2, 30))
    s, b64 = vis.encode_hidden(h)
    q = np.frombuffer(base64.b64decode(b64), dtype=np.int8).reshape(2, 30)
    assert s == max(1.0, np.abs(h).max())
    np.testing.assert_allclose(q * s / 127, h, atol=s / 254 + 1e-12)
