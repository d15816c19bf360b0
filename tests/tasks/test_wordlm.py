"""The word-level LM: exact gradients through the embedding, top-10 and completion, learning, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlab.data.words import WordVocab
from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.tasks.wordlm import WordData, WordLM, WordLMConfig, completion_text, evaluate, ngram_baselines, train_wordlm

TEXT = "\n".join(["the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog ."] * 60)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_match_finite_differences(cell):
    vocab = WordVocab(["<pad>", "<unk>", "a", "b", "c", "d"])
    model = WordLM(WordLMConfig(cell=cell, embed_size=3, hidden_size=4, num_layers=2), vocab,
                   rng=np.random.default_rng(0), dtype=np.float64)
    model.params["embed.weight"] *= 10
    rng = np.random.default_rng(1)
    x, y = rng.integers(1, 6, size=(4, 2)), rng.integers(1, 6, size=(4, 2))
    _, grads, _ = model.loss_and_grads(x, y)
    for name, value in model.params.items():
        err = relative_error(grads[name], numerical_gradient(lambda: model.loss_and_grads(x, y)[0], value))
        assert err < 1e-6, f"{name}: {err:.2e}"


def test_rare_words_become_unknown_and_the_split_is_the_last_tenth():
    data = WordData.from_text(TEXT + "\nzebra", WordLMConfig(min_count=2))
    assert "zebra" not in data.vocab and "cat" in data.vocab and "\n" in data.vocab
    assert data.val[-1] == data.vocab.unk_id and data.unknown_rate > 0
    assert len(data.val) < len(data.train) / 5


def test_ngram_baselines_give_perplexity_at_most_the_vocabulary_size():
    data = WordData.from_text(TEXT, WordLMConfig(min_count=1))
    base = ngram_baselines(data)
    uni, big = base["unigram (add-one)"], next(v for k, v in base.items() if k.startswith("bigram"))
    assert big < uni < math.log(len(data.vocab))


def test_the_model_learns_the_text_better_than_a_bigram_model():
    config = WordLMConfig(cell="gru", embed_size=16, hidden_size=32, min_count=1)
    data = WordData.from_text(TEXT, config)
    result = train_wordlm(data, config, batch_size=8, seq_len=16, lr=1e-2, max_steps=150, eval_every=50)
    bigram = min(v for k, v in ngram_baselines(data).items() if k.startswith("bigram"))
    assert result.best_val < bigram and result.best_val == pytest.approx(evaluate(result.model, data.val), rel=1e-5)
    words = [w for w, _ in result.model.next_words("the cat sat on the", 3)]
    assert words[0] == "mat"


def test_training_reports_the_step_it_kept_and_the_last_validation_loss():
    config = WordLMConfig(level="char", cell="lstm", embed_size=8, hidden_size=32, min_count=1)
    data = WordData.from_text(TEXT[:600], config)  # little text, many steps: it overfits
    result = train_wordlm(data, config, batch_size=4, seq_len=16, lr=2e-2, max_steps=300, eval_every=10, seconds=60)
    vals = [r["val"] for r in result.history]
    assert result.best_val == min(vals)
    assert result.best_step == result.history[vals.index(min(vals))]["step"]
    assert result.last_val == vals[-1]
    assert result.best_val == pytest.approx(evaluate(result.model, data.val), rel=1e-5)  # the kept parameters
    assert result.best_step < result.steps and result.last_val > result.best_val  # it overfitted after the kept step


def test_top10_is_sorted_and_completion_is_reproducible_and_known_words_only():
    config = WordLMConfig(embed_size=4, hidden_size=8, min_count=1)
    data = WordData.from_text(TEXT, config)
    model = WordLM(config, data.vocab)
    top = model.next_words("the cat", 10)
    probs = [p for _, p in top]
    assert len(top) == 10 and probs == sorted(probs, reverse=True) and "<pad>" not in [w for w, _ in top]
    a = model.complete("the cat", 12, temperature=1.0, seed=3)
    assert a == model.complete("the cat", 12, temperature=1.0, seed=3) and "<unk>" not in a
    assert model.complete("the", 5, greedy=True) == model.complete("the", 5, greedy=True, seed=9)
    assert completion_text("the cat", ["sat", "."]) == "the cat sat."
    with pytest.raises(ValueError, match="temperature"):
        model.next_words("the", temperature=0)


def test_saved_model_loads_and_predicts_the_same(tmp_path):
    config = WordLMConfig(embed_size=4, hidden_size=8, min_count=1)
    model = WordLM(config, WordData.from_text(TEXT, config).vocab)
    model.save(tmp_path / "w.safetensors")
    again = WordLM.load(tmp_path / "w.safetensors")
    assert again.next_words("a dog", 5) == model.next_words("a dog", 5)
