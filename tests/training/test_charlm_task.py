"""The char-LM training task: dropout's hand-written gradients, and equality with CharLM without dropout."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.vocab import CharVocab
from rnnlab.engine import State, numerical_gradient, relative_error
from rnnlab.tasks.charlm import CharLM, CharLMConfig
from rnnlab.training.charlm_task import (
    _layer_nets,
    dropout_loss_and_grads,
    dropout_masks,
    evaluate_ids,
    weight_drop_masks,
)

TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 3


def _model(cell, layers=2, hidden=5, dtype=np.float64):
    vocab = CharVocab.from_text(TEXT)
    return CharLM(CharLMConfig(cell, hidden, layers), vocab, rng=np.random.default_rng(3), dtype=dtype), vocab


def _batch(vocab, T=6, B=3):
    ids = vocab.encode(TEXT)
    x = np.stack([ids[b * 20 : b * 20 + T] for b in range(B)], axis=1)  # (T, B)
    y = np.stack([ids[b * 20 + 1 : b * 20 + T + 1] for b in range(B)], axis=1)  # (T, B)
    return x, y


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_dropout_gradients_match_finite_differences(cell):
    model, vocab = _model(cell)
    x, y = _batch(vocab)
    rng = np.random.default_rng(0)
    state = State(rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 3, 5)) if cell == "lstm" else None)
    masks = dropout_masks(np.random.default_rng(1), 0.3, x.shape, model)
    layers = _layer_nets(model)
    _, grads, _ = dropout_loss_and_grads(model, layers, x, y, state, masks)
    for name, p in model.params.items():
        numeric = numerical_gradient(lambda: dropout_loss_and_grads(model, layers, x, y, state, masks)[0], p)
        assert relative_error(grads[name], numeric) < 1e-6, name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropout_path_with_all_ones_masks_equals_the_models_own_loss_and_grads(cell):
    model, vocab = _model(cell, layers=3)
    x, y = _batch(vocab)
    masks = [np.ones((x.shape[0], x.shape[1], 5)) for _ in range(3)]
    loss, grads, final = dropout_loss_and_grads(model, _layer_nets(model), x, y, None, masks)
    result, want, want_final, _ = model.loss_and_grads(x, y, None)
    assert loss == pytest.approx(result.loss, rel=1e-12)
    for name in want:
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(final.h, want_final.h, rtol=1e-12)


def test_dropout_masks_keep_the_expected_fraction_and_scale():
    model, _ = _model("lstm", hidden=50, dtype=np.float32)
    masks = dropout_masks(np.random.default_rng(0), 0.25, (40, 20), model)
    values = np.unique(masks[0])
    np.testing.assert_allclose(values, [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((masks[0] == 0).mean() - 0.25) < 0.01
    assert masks[0].dtype == np.float32


def test_evaluate_ids_equals_the_mean_cross_entropy_of_one_pass_with_a_single_stream():
    model, vocab = _model("gru", layers=1)
    ids = vocab.encode(TEXT[:50])
    logits, _, _ = model.forward(ids[:-1, None])  # (T, 1, V)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -np.take_along_axis(logp[:, 0], ids[1:, None], axis=-1).mean()
    got = evaluate_ids(model, ids, streams=1, seq_len=7)  # windows of 7, state carried
    assert got["loss"] == pytest.approx(want, rel=1e-10)
    assert got["chars"] == len(ids) - 1
    assert got["bpc"] == pytest.approx(want / np.log(2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_weight_drop_gradients_match_finite_differences(cell):
    model, vocab = _model(cell)
    x, y = _batch(vocab)
    masks = dropout_masks(np.random.default_rng(1), 0.2, x.shape, model)
    weight_masks = weight_drop_masks(np.random.default_rng(2), 0.4, model)
    assert 0.3 < (weight_masks[0] == 0).mean() < 0.5

    def loss_and_grads():
        # the masked W_hh is rebuilt from the current parameters on every call, as each training step does
        return dropout_loss_and_grads(model, _layer_nets(model, weight_masks), x, y, None, masks, weight_masks)

    _, grads, _ = loss_and_grads()
    for name, p in model.params.items():
        numeric = numerical_gradient(lambda: loss_and_grads()[0], p)
        assert relative_error(grads[name], numeric) < 1e-6, name
    assert np.all(grads["rnn.weight_hh_l0"][weight_masks[0] == 0] == 0)  # dropped weights get no gradient
