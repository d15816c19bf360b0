"""Sequence labelling (word segmentation): tags are exact, gradients too, and the tagger beats lookup tables."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.io.checkpoint import CheckpointError, save_checkpoint
from rnnlab.tasks.labelling import (
    NgramTagger,
    SequenceTagger,
    TaggerConfig,
    TaggingData,
    boundary_tags,
    compare_taggers,
    insert_boundaries,
    load_tagger,
    save_tagger,
    segment,
    tagging_metrics,
    train_tagger,
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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small GRU tagger trained on a few words, saved (float16) and loaded back."""
    rng = np.random.default_rng(1)
    words = ["recurrent", "network", "state", "gradient", "hidden", "sequence", "time", "step"]
    data = TaggingData.from_texts([" ".join(rng.choice(words, size=12)) for _ in range(150)])
    result = train_tagger(data, TaggerConfig(embed_size=8, hidden_size=24, seq_len=32, lr=1e-2), max_steps=300,
                          eval_every=100, seed=0)
    path = tmp_path_factory.mktemp("tagger") / "seg.safetensors"
    save_tagger(path, result.model, data.vocab, half=True, note="test")
    return result.model, data.vocab, path


def test_saved_tagger_loads_back_with_its_vocabulary_and_the_same_predictions(trained):
    model, vocab, path = trained
    tagger = load_tagger(path)
    assert tagger.vocab.words == vocab.words and tagger.meta["note"] == "test"
    assert tagger.model.config == model.config
    ids = vocab.encode(list("hiddenstatetimestep"))
    np.testing.assert_allclose(tagger.model.predict_stream(ids), model.predict_stream(ids), atol=2e-2)  # float16 weights


def test_segment_puts_the_spaces_back_and_scores_against_the_ones_that_were_there(trained):
    tagger = load_tagger(trained[2])
    r = segment(tagger, "  hidden state\tgradient time  ")
    assert "".join(r["chars"]) == "hiddenstategradienttime"
    assert r["truth"] == boundary_tags("hidden state gradient time")[1].tolist()
    assert r["segmented"] == "hidden state gradient time"  # the words it was trained on
    assert r["metrics"]["accuracy"] == 1.0 and r["metrics"]["boundary_f1"] == 1.0
    assert len(r["p_boundary"]) == len(r["chars"]) and all(0 <= p <= 1 for p in r["p_boundary"])
    assert r["predicted"][0] == 0 and r["unknown"] == []
    assert segment(tagger, "state Q!")["unknown"] == ["!", "Q"]  # read as <unk>, reported


@pytest.mark.parametrize("text,error,message", [("", ValueError, "no characters besides whitespace"),
                                                (" \n\t ", ValueError, "no characters"),
                                                ("x" * 2001, ValueError, "at most 2000"),
                                                (b"bytes", TypeError, "must be a string")])
def test_segment_refuses_bad_text_clearly(trained, text, error, message):
    with pytest.raises(error, match=message):
        segment(load_tagger(trained[2]), text)


def test_loading_a_foreign_or_mismatched_checkpoint_is_a_clear_error(trained, tmp_path):
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, {"w": np.zeros(2, np.float32)}, {"format": "rnnlab.classifier/1"})
    with pytest.raises(CheckpointError, match="not a tagger checkpoint"):
        load_tagger(other)
    tagger = load_tagger(trained[2])
    bad = dict(tagger.model.params, **{"head.bias": np.zeros(3, np.float32)})
    broken = tmp_path / "broken.safetensors"
    save_checkpoint(broken, bad, tagger.meta)
    with pytest.raises(CheckpointError, match="do not match"):
        load_tagger(broken)
