"""Sequence classification: exact gradients, padding changes nothing, word order is learned, metrics are right."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.text_classification import LabelledTexts
from rnnlab.data.words import WordVocab
from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.tasks.classify import (
    ClassifierConfig,
    SequenceClassifier,
    TextEncoder,
    accuracy,
    bag_of_words_baseline,
    classification_metrics,
    train_classifier,
)

WORDS = ["<pad>", "<unk>", "a", "b", "c", "d", "e"]


def tiny_model(pooling="last", cell="gru", dropout=0.0, dtype=np.float64, level="word"):
    config = ClassifierConfig(level=level, cell=cell, embed_size=3, hidden_size=4, pooling=pooling, dropout=dropout,
                              embed_scale=1.0)
    return SequenceClassifier(config, TextEncoder(level, WordVocab(WORDS)), ["neg", "pos", "mixed"],
                              rng=np.random.default_rng(0), dtype=dtype)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_gradients_match_finite_differences_with_padding_and_dropout(cell, pooling):
    model = tiny_model(pooling, cell, dropout=0.3)
    x, lengths = model.batch(["a b c d", "e a", "b"])
    y = np.array([0, 2, 1])

    def loss():
        return model.loss_and_grads(x, lengths, y, np.random.default_rng(7))[0]  # the same dropout masks

    _, grads = model.loss_and_grads(x, lengths, y, np.random.default_rng(7))
    for name, value in model.params.items():
        err = relative_error(grads[name], numerical_gradient(loss, value))
        assert err < 1e-6, f"{name}: {err:.2e}"
    assert not grads["embed.weight"][0].any(), "the padding row gets no gradient"


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_a_text_gets_the_same_logits_alone_and_in_a_padded_batch(pooling):
    model = tiny_model(pooling)
    alone, _ = model.forward(*model.batch(["b c"]))
    padded, _ = model.forward(*model.batch(["b c", "a b c d e a"]))
    np.testing.assert_allclose(padded[0], alone[0], rtol=1e-12)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_the_last_step_confidence_is_the_prediction(pooling):
    model = tiny_model(pooling)
    tokens, probs = model.step_probabilities("a zebra c")
    assert tokens == ["a", "zebra", "c"] and probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(probs[-1], model.predict_proba(["a zebra c"])[0], rtol=1e-10)


def order_task(n, seed):
    """Label 1 when 'x' comes before 'y' in the text: the same bag of words either way."""
    rng = np.random.default_rng(seed)
    fillers = ["p", "q", "r", "s"]
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(fillers, size=rng.integers(2, 6)))
        i, j = sorted(rng.choice(len(words) + 1, size=2, replace=False))
        first, second = ("x", "y") if rng.random() < 0.5 else ("y", "x")
        words.insert(j, second)
        words.insert(i, first)
        texts.append(" ".join(words))
        labels.append(int(first == "x"))
    return LabelledTexts(texts, np.array(labels), ["y first", "x first"], "toy")


def test_the_rnn_learns_word_order_that_bag_of_words_cannot():
    train, val, test = order_task(600, 0), order_task(100, 1), order_task(200, 2)
    config = ClassifierConfig(embed_size=8, hidden_size=16, dropout=0.0, lr=1e-2, min_count=1)
    result = train_classifier(train, val, config, max_epochs=6, seed=0)
    assert accuracy(result.model, test) > 0.9
    bow = bag_of_words_baseline(train, val, test)
    assert (bow["predictions"] == test.labels).mean() < 0.7


def test_char_level_reads_every_character():
    model = tiny_model(level="char")
    assert model.encoder.tokens("ab c") == ["a", "b", " ", "c"]
    x, lengths = model.batch(["ab c", ""])
    assert x.shape == (4, 2) and list(lengths) == [4, 1]


def test_metrics_from_a_known_confusion_matrix():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(y_true, y_pred, 3)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"][0] == pytest.approx(0.8)  # precision 1, recall 2/3
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_saved_classifier_loads_and_predicts_the_same(tmp_path):
    model = tiny_model(dtype=np.float32)
    model.save(tmp_path / "c.safetensors")
    again = SequenceClassifier.load(tmp_path / "c.safetensors")
    assert again.classes == model.classes and again.config == model.config
    np.testing.assert_array_equal(again.predict_proba(["a b", "e"]), model.predict_proba(["a b", "e"]))
