"""Sampling (rnnlab.tasks.sampling): the fast single step equals CharLM.forward; temperature, top-k,
top-p, greedy and seeds do what docs/sampling.md says; bad options and prompts get clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.tiny_charlm import random_model, trained_cycle_model

from rnnlab.data.vocab import VocabError
from rnnlab.engine import softmax
from rnnlab.tasks.sampling import SampleStep, Stepper, distribution, draw, entropy_bits, stream

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


# ---- the fast step ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_fast_step_gives_charlm_forward_probabilities_at_every_step(cell, nonlinearity, layers):
    model = random_model(cell, hidden=7, layers=layers, nonlinearity=nonlinearity, seed=layers)
    x = np.random.default_rng(5).integers(0, len(model.vocab), size=25)  # (T,)
    logits, final, _ = model.forward(x[:, None])  # (T, 1, V)
    want = softmax(logits[:, 0])  # (T, V)
    stepper = Stepper(model)
    for t, index in enumerate(x):
        got = softmax(stepper.step(int(index)).copy())
        np.testing.assert_allclose(got, want[t], rtol=0, atol=1e-12)
    np.testing.assert_allclose(stepper.h, final.h[:, 0], rtol=0, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(stepper.c, final.c[:, 0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_fast_step_in_float32_matches_forward_to_float32_precision(cell):
    model = random_model(cell, hidden=16, layers=2, dtype=np.float32)
    x = np.random.default_rng(0).integers(0, len(model.vocab), size=30)
    logits, _, _ = model.forward(x[:, None])  # (T, 1, V)
    stepper = Stepper(model)
    got = np.stack([stepper.step(int(i)).copy() for i in x])  # (T, V)
    np.testing.assert_allclose(got, logits[:, 0], rtol=0, atol=1e-4)


def test_fast_step_continues_from_a_given_state():
    model = random_model("lstm", layers=2)
    x = np.random.default_rng(1).integers(0, len(model.vocab), size=12)
    logits, _, _ = model.forward(x[:, None])  # (T, 1, V)
    _, state, _ = model.forward(x[:6, None])
    stepper = Stepper(model, state)
    np.testing.assert_allclose(stepper.read(x[6:]), logits[-1, 0], atol=1e-12)
    np.testing.assert_allclose(stepper.state.h, model.forward(x[:, None])[1].h, atol=1e-12)


# ---- the stream ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stream_probs_and_hidden_equal_charlm_forward(cell):
    model = random_model(cell, layers=2)
    prompt = "abc ha"
    steps = list(stream(model, prompt, length=15, seed=3))
    text = prompt + "".join(s.char for s in steps)
    x = model.vocab.encode(text[:-1])  # (T,) every read character
    logits, _, (cache, _) = model.forward(x[:, None], record=True)  # (T, 1, V)
    probs = softmax(logits[:, 0])  # (T, V)
    hidden = np.stack([layer.h[:, 0] for layer in cache.trace.layers], axis=1)  # (T, L, H)
    for s in steps:
        t = len(prompt) - 1 + s.position
        assert isinstance(s, SampleStep) and s.char == model.vocab.chars[s.char_index]
        assert s.probs.dtype == np.float64 and s.probs.shape == (len(model.vocab),)
        np.testing.assert_allclose(s.probs, probs[t], atol=1e-12)
        np.testing.assert_allclose(s.hidden, hidden[t], atol=1e-12)
        assert s.surprisal == pytest.approx(-math.log2(probs[t, s.char_index]), abs=1e-9)
        assert s.entropy == pytest.approx(-(probs[t] * np.log2(probs[t])).sum(), abs=1e-9)


def test_empty_prompt_starts_by_reading_a_newline():
    model = random_model()
    first = next(stream(model, "", length=1, seed=0))
    logits, _, _ = model.forward(model.vocab.encode("\n")[:, None])
    np.testing.assert_allclose(first.probs, softmax(logits[0, 0]), atol=1e-12)


def test_empty_prompt_without_newline_in_vocabulary_reads_the_first_character():
    model = random_model(text="xyz")
    first = next(stream(model, "", length=1, seed=0))
    logits, _, _ = model.forward(np.array([[0]]))
    np.testing.assert_allclose(first.probs, softmax(logits[0, 0]), atol=1e-12)


def test_stream_yields_exactly_length_steps_numbered_from_zero():
    model = random_model()
    assert [s.position for s in stream(model, "ab", length=7, seed=0)] == list(range(7))
    assert list(stream(model, "ab", length=0)) == []
    assert len(model.generate("ab", 33, seed=1)) == 33


# ---- temperature, greedy, top-k, top-p -----------------------------------------------------------
def test_higher_temperature_gives_higher_entropy():
    logits = np.random.default_rng(0).standard_normal(30) * 3  # (V,)
    temps = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0, 10.0]
    entropies = [entropy_bits(distribution(logits, t)) for t in temps]
    assert all(a < b for a, b in zip(entropies, entropies[1:])), entropies
    assert entropies[-1] < math.log2(30) and entropies[0] > 0


def test_higher_temperature_gives_higher_entropy_in_the_stream():
    model = random_model()
    entropies = [next(stream(model, "ab", 1, temperature=t, seed=0)).entropy for t in (0.3, 0.7, 1.0, 2.0, 5.0)]
    assert all(a < b for a, b in zip(entropies, entropies[1:])), entropies


def test_temperature_must_be_positive():
    model = random_model()
    for bad in (0, 0.0, -1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="temperature must be"):
            stream(model, "ab", 5, temperature=bad)  # raised at the call, before iterating
        with pytest.raises(ValueError, match="temperature must be"):
            model.generate("ab", 5, temperature=bad)
        with pytest.raises(ValueError, match="temperature must be"):
            model.next_char_distribution("ab", temperature=bad)


def test_greedy_is_deterministic_and_takes_the_argmax():
    model = random_model()
    a = list(stream(model, "ab", 20, greedy=True, seed=1))
    b = list(stream(model, "ab", 20, greedy=True, seed=2))
    assert [s.char for s in a] == [s.char for s in b]
    text = "ab" + "".join(s.char for s in a)
    logits, _, _ = model.forward(model.vocab.encode(text[:-1])[:, None])  # (T, 1, V)
    argmax = logits[1:, 0].argmax(axis=-1)  # the predictions after "ab" and after every generated char
    assert [s.char_index for s in a] == list(argmax)


def test_greedy_continues_the_pattern_a_trained_model_learned():
    model = trained_cycle_model()
    assert model.generate("ab", 13, greedy=True) == "cd\nabcd\nabcd\n"
    assert model.generate("", 5, greedy=True) == "abcd\n"


def test_sampling_at_low_temperature_follows_the_learned_pattern():
    model = trained_cycle_model()
    assert model.generate("abcd\nab", 20, temperature=0.5, seed=7) == "cd\nabcd\nabcd\nabcd\nab"


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_top_k_keeps_exactly_the_k_most_probable_characters(k):
    logits = np.random.default_rng(k).standard_normal(10) * 2  # (V,)
    p = distribution(logits, 1.0, top_k=k)
    full = softmax(logits)
    kept = np.flatnonzero(p)
    assert len(kept) == k
    assert set(kept) == set(np.argsort(-full)[:k])
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p[kept], full[kept] / full[kept].sum())


def test_top_k_larger_than_the_vocabulary_keeps_everything():
    logits = np.arange(5.0)
    np.testing.assert_allclose(distribution(logits, 1.0, top_k=50), softmax(logits))


def test_sampled_characters_come_from_the_top_k_only():
    model = random_model()
    steps = list(stream(model, "ab", 200, top_k=3, seed=0))
    for s in steps:
        assert np.count_nonzero(s.probs) == 3 and s.probs[s.char_index] > 0


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.8, 0.95, 0.999])
def test_top_p_keeps_the_smallest_most_probable_set_reaching_p(top_p):
    logits = np.random.default_rng(3).standard_normal(20) * 1.5  # (V,)
    full = softmax(logits)
    p = distribution(logits, 1.0, top_p=top_p)
    kept = np.flatnonzero(p)
    order = np.argsort(-full)
    assert set(kept) == set(order[: len(kept)])  # the most probable ones
    assert full[kept].sum() >= top_p  # reaches p ...
    assert full[order[: len(kept) - 1]].sum() < top_p  # ... and one fewer would not
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p[kept], full[kept] / full[kept].sum())


def test_top_p_of_one_keeps_everything_and_tiny_top_p_keeps_the_argmax():
    logits = np.random.default_rng(4).standard_normal(12)
    np.testing.assert_allclose(distribution(logits, 1.0, top_p=1.0), softmax(logits))
    assert np.flatnonzero(distribution(logits, 1.0, top_p=1e-9)).tolist() == [int(np.argmax(logits))]


def test_temperature_applies_before_top_k_and_top_p():
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0])
    p = distribution(logits, 0.5, top_k=3)
    q = softmax(logits[:3] / 0.5)
    np.testing.assert_allclose(p, np.r_[q, 0, 0])


@pytest.mark.parametrize("kwargs,match", [
    ({"top_k": 0}, "top_k"), ({"top_k": -2}, "top_k"), ({"top_k": 2.5}, "top_k"),
    ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"), ({"top_p": -0.1}, "top_p"),
    ({"length": -1}, "length"), ({"length": 2.0}, "length"),
])
def test_bad_options_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stream(random_model(), "ab", **({"length": 5} | kwargs))


# ---- seeds and the draw ----------------------------------------------------------------------------
def test_same_seed_gives_the_same_text_and_different_seeds_differ():
    model = random_model()
    a = model.generate("ab", 80, seed=123, temperature=1.2)
    assert a == model.generate("ab", 80, seed=123, temperature=1.2)
    assert a != model.generate("ab", 80, seed=124, temperature=1.2)
    assert a == model.generate("ab", 80, seed=np.random.default_rng(123), temperature=1.2)


def test_draw_follows_the_distribution():
    probs = np.array([0.5, 0.0, 0.2, 0.25, 0.05])
    rng = np.random.default_rng(0)
    n = 20000
    counts = np.bincount([draw(probs, rng) for _ in range(n)], minlength=5)
    assert counts[1] == 0
    # 5 standard deviations of a binomial count
    assert np.all(np.abs(counts / n - probs) <= 5 * np.sqrt(probs * (1 - probs) / n) + 1e-12), counts / n


def test_draw_never_returns_a_zero_probability_character_even_at_the_edge():
    class Edge:
        def __init__(self, u):
            self.u = u

        def random(self):
            return self.u

    probs = np.array([0.0, 0.3, 0.0, 0.7, 0.0])
    for u in (0.0, 0.3, 0.29999999999, np.nextafter(1.0, 0.0)):
        assert probs[draw(probs, Edge(u))] > 0


# ---- prompts -----------------------------------------------------------------------------------------
def test_unknown_prompt_characters_are_named():
    model = random_model(text="abc \n")
    with pytest.raises(VocabError) as info:
        stream(model, "abZ cQZ", 5)
    assert info.value.unknown == ["Z", "Q"]
    assert "'Z'" in str(info.value) and "'Q'" in str(info.value)
    with pytest.raises(VocabError, match="'é'"):
        model.generate("café", 3)
    with pytest.raises(VocabError, match="'x'"):
        model.next_char_distribution("x")


def test_an_unknown_prompt_error_says_what_the_model_can_read():
    small = random_model(text="0123456789\n")
    with pytest.raises(VocabError, match=r"'T', 'h' \(it has 11: '\\n' '0' '1' .* '9'\)$"):
        small.generate("Th", 3)
    big = random_model(text="".join(chr(c) for c in range(32, 100)))
    with pytest.raises(VocabError, match=r"'é' \(it has 68 characters\)$"):
        big.generate("é", 3)


def test_unicode_vocabulary_generates_unicode():
    model = random_model(text="héllo wörld ✓ 日本\n")
    text = model.generate("日", 50, seed=0)
    assert len(text) == 50 and set(text) <= set(model.vocab.chars)


def numpy_blas_threads() -> list[int]:
    """NumPy's own BLAS only: torch, imported by other tests in this process, brings its own."""
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]


@pytest.fixture
def two_blas_threads():
    """NumPy's BLAS on two threads during the test (skipped where it cannot run two); yields its counts."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        before = numpy_blas_threads()
        if not before or before == [1]:
            pytest.skip("this BLAS cannot run two threads here")
        yield before


def test_a_step_runs_blas_on_one_thread_and_restores_the_thread_count_after(two_blas_threads):
    from rnnlab.tasks.sampling import one_blas_thread

    before = two_blas_threads
    with one_blas_thread():
        assert numpy_blas_threads() == [1] * len(before)
    assert numpy_blas_threads() == before
    list(stream(random_model(), "ab", 5, seed=0))
    assert numpy_blas_threads() == before


def test_one_blas_thread_and_the_engines_chunk_threads_interleaved_restore_the_thread_count(two_blas_threads):
    """A server request's step and a training chunk in another thread, entering and leaving in any order."""
    import threading

    from rnnlab.engine import blas
    from rnnlab.tasks.sampling import one_blas_thread

    before = two_blas_threads
    step, chunks = one_blas_thread(), blas.single_threaded()
    step.__enter__()
    chunks.__enter__()
    step.__exit__(None, None, None)
    assert numpy_blas_threads() == [1] * len(before)  # the chunks still run
    chunks.__exit__(None, None, None)
    assert numpy_blas_threads() == before

    entered, leave = threading.Barrier(8), threading.Event()

    def user():
        with one_blas_thread():
            entered.wait()
            leave.wait()

    users = [threading.Thread(target=user) for _ in range(7)]
    for u in users:
        u.start()
    entered.wait()
    assert numpy_blas_threads() == [1] * len(before)
    leave.set()
    for u in users:
        u.join()
    assert numpy_blas_threads() == before


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_making_a_stepper_leaves_the_model_weights_untouched(cell):
    model = random_model(cell, hidden=1, layers=2)  # H=1: transposes that are already contiguous
    before = {k: v.copy() for k, v in model.params.items()}
    Stepper(model).read([0, 1, 2])
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
