"""Sequence labelling (word segmentation): tags are exact, gradients too, and the tagger beats lookup tables."""

from __future__ import annotations

import numpy as np

from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.tasks.labelling import (
    NgramTagger,
    SequenceTagger,
    TaggerConfig,
    TaggingData,
    boundary_tags,
    compare_taggers,
    insert_boundaries,
    tagging_metrics,
)


def test_tags_mark_the_characters_that_follow_whitespace():
    chars, tags = boundary_tags("  A slow\n start ")
    assert chars == "Aslowstart"
    np.testing.assert_array_equal(tags, [0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    assert insert_boundaries(chars, tags) == "A slow start"


def test_tagger_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    model = SequenceTagger(TaggerConfig(cell="lstm", embed_size=3, hidden_size=4), 5, rng=rng, dtype=np.float64)
    model.params["embed.weight"] *= 10
    x, tags = rng.integers(0, 5, size=(4, 2)), rng.integers(0, 2, size=(4, 2))
    _, grads, _ = model.loss_and_grads(x, tags)
    for name, value in model.params.items():
        err = relative_error(grads[name], numerical_gradient(lambda: model.loss_and_grads(x, tags)[0], value))
        assert err < 1e-6, f"{name}: {err:.2e}"


def test_streamed_prediction_equals_one_long_pass():
    rng = np.random.default_rng(1)
    model = SequenceTagger(TaggerConfig(embed_size=3, hidden_size=4), 6, rng=rng, dtype=np.float64)
    ids = rng.integers(0, 6, size=50)
    whole, _, _ = model.forward(ids[:, None])
    np.testing.assert_allclose(model.predict_stream(ids, streams=1, chunk=7), np.exp(whole[:, 0]) / np.exp(whole[:, 0]).sum(1, keepdims=True))
    assert model.predict_stream(ids, streams=4, chunk=5).shape == (50, 2)


def test_ngram_tables_back_off_and_metrics_count_boundaries():
    tagger = NgramTagger(2).fit(np.array([0, 1, 0, 1, 2]), np.array([0, 1, 0, 1, 0]))
    np.testing.assert_array_equal(tagger.predict(np.array([0, 1, 2, 1])), [0, 1, 0, 1])
    m = tagging_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 1]))
    assert m["accuracy"] == 0.5 and m["boundary_f1"] == 0.5


def test_the_tagger_beats_the_lookup_tables_on_text_with_long_words():
    rng = np.random.default_rng(0)
    words = ["recurrent", "network", "state", "gradient", "hidden", "sequence", "time", "step"]
    texts = [" ".join(rng.choice(words, size=12)) for _ in range(150)]
    data = TaggingData.from_texts(texts)
    result = compare_taggers(data, TaggerConfig(embed_size=8, hidden_size=24, seq_len=32, lr=1e-2), max_steps=300,
                             eval_every=100, seed=0)
    rows = result["rows"]
    assert rows["GRU tagger"]["accuracy"] > 0.97
    assert rows["GRU tagger"]["boundary_f1"] > rows["trigram lookup"]["boundary_f1"]
