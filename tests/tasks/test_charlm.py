"""CharLM's application API: evaluate (one continuous stream, window-invariant), generate,
next_char_distribution, and ``rnnlab.load`` (a path, or the bundled default model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.tiny_charlm import CYCLE, random_model, trained_cycle_model

import rnnlab
from rnnlab.data.vocab import VocabError
from rnnlab.engine import log_softmax, softmax
from rnnlab.io import CheckpointError
from rnnlab.tasks import charlm
from rnnlab.tasks.charlm import EvalResult

TEXT = "a bad cab had a bead; he fed a deaf bee.\n" * 3


# ---- evaluate --------------------------------------------------------------------------------------
def direct_cross_entropy(model, text: str) -> float:
    """Predict each character after the first from all before it, one character at a time, by hand."""
    ids = model.vocab.encode(text)
    state, total = None, 0.0
    for t in range(len(ids) - 1):
        logits, state, _ = model.forward(ids[t : t + 1, None], state)  # (1, 1, V)
        total -= log_softmax(logits[0, 0])[ids[t + 1]]
    return total / (len(ids) - 1)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_evaluate_equals_a_direct_step_by_step_computation(cell):
    model = random_model(cell, text=TEXT)
    result = model.evaluate(TEXT, window=16)
    assert isinstance(result, EvalResult)
    assert result.num_chars == len(TEXT) - 1 and result.skipped == 0
    assert result.nats_per_char == pytest.approx(direct_cross_entropy(model, TEXT), rel=1e-12)
    assert result.bits_per_char == pytest.approx(result.nats_per_char / math.log(2), rel=1e-12)
    assert result.perplexity == pytest.approx(math.exp(result.nats_per_char))


def test_evaluate_equals_the_mean_of_full_sequence_cross_entropy():
    model = random_model("lstm", text=TEXT)
    ids = model.vocab.encode(TEXT)
    logits, _, _ = model.forward(ids[:-1, None])  # (T, 1, V)
    want = -log_softmax(logits[:, 0])[np.arange(len(ids) - 1), ids[1:]].mean()
    assert model.evaluate(TEXT).nats_per_char == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_evaluate_does_not_depend_on_the_window_size(cell):
    model = random_model(cell, text=TEXT, layers=2)
    # window 1 reads one character per forward call: equal only if the state is carried, never reset
    results = [model.evaluate(TEXT, window=w).nats_per_char for w in (1, 7, 50, len(TEXT) - 1, 10_000)]
    for r in results[1:]:
        assert abs(r - results[0]) <= 1e-9


def test_evaluate_unknown_characters_are_named_or_skipped():
    model = random_model(text=TEXT)
    dirty = TEXT[:20] + "XYZ" + TEXT[20:] + "Q"
    with pytest.raises(VocabError) as info:
        model.evaluate(dirty)
    assert info.value.unknown == ["X", "Y", "Z", "Q"]
    skipped = model.evaluate(dirty, skip_unknown=True)
    clean = model.evaluate(TEXT)
    assert skipped.skipped == 4 and skipped.num_chars == clean.num_chars
    assert skipped.nats_per_char == pytest.approx(clean.nats_per_char, rel=1e-12)  # removed from the stream


@pytest.mark.parametrize("text", ["", "a", "XYZ"])
def test_evaluate_needs_two_known_characters(text):
    model = random_model(text=TEXT)
    with pytest.raises(ValueError, match="at least 2 characters"):
        model.evaluate(text, skip_unknown=True)


@pytest.mark.parametrize("window", [0, -5, 2.5, True])
def test_evaluate_rejects_a_bad_window(window):
    with pytest.raises(ValueError, match="window"):
        random_model(text=TEXT).evaluate(TEXT, window=window)


def test_evaluate_reports_progress_up_to_the_total():
    calls = []
    random_model(text=TEXT).evaluate(TEXT, window=40, progress=lambda done, total: calls.append((done, total)))
    n = len(TEXT) - 1
    assert calls[-1] == (n, n) and len(calls) == math.ceil(n / 40)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_evaluate_of_a_float32_model_is_close_to_its_float64_twin():
    m64 = random_model("lstm", text=TEXT)
    m32 = charlm.CharLM(m64.config, m64.vocab, {k: v.astype(np.float32) for k, v in m64.params.items()})
    assert m32.evaluate(TEXT).nats_per_char == pytest.approx(m64.evaluate(TEXT).nats_per_char, rel=1e-5)


# ---- generate and next_char_distribution ---------------------------------------------------------
def test_generate_returns_length_characters_without_the_prompt():
    model = trained_cycle_model()
    out = model.generate("abc", 10, greedy=True)
    assert out == "d\nabcd\nabc"
    assert model.generate("abc", 0) == ""


def test_next_char_distribution_lists_every_character_by_probability():
    model = random_model(text=TEXT)
    dist = model.next_char_distribution("a bad", temperature=0.7)
    assert sorted(c for c, _ in dist) == sorted(model.vocab.chars)
    probs = [p for _, p in dist]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0)
    logits, _, _ = model.forward(model.vocab.encode("a bad")[:, None])
    want = softmax(logits[-1, 0] / 0.7)
    for c, p in dist:
        assert p == pytest.approx(want[model.vocab.index[c]], abs=1e-12)


def test_next_char_distribution_of_a_trained_model_is_confident():
    top_char, top_p = trained_cycle_model().next_char_distribution("abcd\nab")[0]
    assert top_char == "c" and top_p > 0.95


# ---- rnnlab.load -----------------------------------------------------------------------------------
def test_rnnlab_load_gives_a_model_with_the_whole_api(tmp_path):
    path = tmp_path / "cycle.safetensors"
    trained_cycle_model().save(path)
    model = rnnlab.load(path)
    assert model.generate("ab", 8, greedy=True) == "cd\nabcd\n"
    assert model.next_char_distribution("abcd\nab")[0][0] == "c"
    assert model.evaluate(CYCLE * 10).bits_per_char < 0.05


def test_rnnlab_load_takes_a_run_folder_and_the_model_says_what_it_is(tmp_path):
    trained_cycle_model().save(tmp_path / "model.safetensors")  # a run folder of `rnnlab train`
    model = rnnlab.load(tmp_path)
    assert model.generate("ab", 3, greedy=True) == "cd\n"
    assert repr(model) == f"CharLM(lstm, 1 layer x 24 units, 5 characters, {model.dtype.name})"
    assert repr(random_model("rnn", hidden=3, layers=2)).startswith("CharLM(rnn (tanh), 2 layers x 3 units, ")


def test_rnnlab_load_without_a_path_loads_the_default_model(tmp_path, monkeypatch):
    path = tmp_path / "default.safetensors"
    trained_cycle_model().save(path)
    monkeypatch.setattr(charlm, "DEFAULT_MODEL_PATH", path)
    assert rnnlab.load().generate("ab", 3, greedy=True) == "cd\n"


def test_a_missing_default_model_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(charlm, "DEFAULT_MODEL_PATH", tmp_path / "nowhere.safetensors")
    with pytest.raises(CheckpointError, match="bundled default model"):
        rnnlab.load()
