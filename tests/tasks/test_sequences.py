"""tasks.sequences: the visualizer's sequences mean what they say, and bad choices get clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.tasks import sequences as sq


def seq(type_, example=None, length=20, text=""):
    return sq.make_sequence(sq.SequenceSpec(type_, example, length, text))


def test_regression_targets_are_the_next_input():
    s = seq("sine", "period6", 30)
    assert s.kind == "regression" and s.inputs.shape == (30, 1)
    np.testing.assert_allclose(s.targets[:-1], s.inputs[1:, 0])
    np.testing.assert_allclose(s.inputs[:7, 0], np.sin(2 * np.pi * np.arange(7) / 6), atol=1e-12)


def test_square_wave_has_the_chosen_duty_cycle():
    s = seq("square", "duty25", 16)
    assert s.input_labels[:8] == ["1", "1", "-1", "-1", "-1", "-1", "-1", "-1"]


def test_counting_is_an_arithmetic_progression_modulo_n():
    s = seq("counting", "plus3", 8)
    assert s.input_labels == ["0", "3", "6", "9", "2", "5", "8", "1"]
    assert s.target_labels[0] == "3" and s.classes == [str(d) for d in range(10)]


def test_text_targets_are_the_next_character_and_the_vocabulary_is_the_texts():
    s = seq("text", "abc", 7)
    assert "".join(s.input_labels) == "abcabca" and "".join(s.target_labels) == "bcabcab"
    assert s.classes == ["a", "b", "c"] and s.inputs.dtype == np.int64


@pytest.mark.parametrize("k", [1, 3, 5])
def test_memory_bits_targets_are_the_bit_k_steps_back_and_earlier_steps_have_none(k):
    s = seq("bits", f"delay{k}", 40)
    bits = np.array([int(c) for c in s.input_labels])
    assert not s.mask[:k].any() and s.mask[k:].all()
    np.testing.assert_array_equal(s.targets[k:], bits[:-k])


def test_xor_bits():
    s = seq("bits", "xor", 30)
    bits = np.array([int(c) for c in s.input_labels])
    np.testing.assert_array_equal(s.targets[1:], bits[1:] ^ bits[:-1])


def test_free_input_numbers_are_scaled_for_the_network_and_shown_as_typed():
    s = seq("free", None, 50, "10, 20, -40")
    assert s.kind == "regression" and s.scale == 40
    assert s.input_labels == ["10", "20"] and s.target_labels == ["20", "-40"]
    np.testing.assert_allclose(s.inputs[:, 0], [0.25, 0.5])


@pytest.mark.parametrize("spec,words", [
    (sq.SequenceSpec("nope"), "sequence type must be one of"),
    (sq.SequenceSpec("sine", "nope"), "sequence example must be one of"),
    (sq.SequenceSpec("sine", None, 1), "between 2 and 200"),
    (sq.SequenceSpec("free", None, 10, "x"), "at least two characters"),
    (sq.SequenceSpec("free", None, 10, "3"), "at least two numbers"),
    (sq.SequenceSpec("free", None, 10, "1" * 401), "at most 400"),
])
def test_bad_sequences_raise_clear_errors(spec, words):
    with pytest.raises(ValueError, match=words):
        sq.make_sequence(spec)


def test_training_variants_differ_but_keep_the_shape():
    x, y, m = sq.training_batch(sq.SequenceSpec("sine", None, 12), np.random.default_rng(0), 4)
    assert x.shape == (12, 4, 1) and y.shape == m.shape == (12, 4)
    assert not np.allclose(x[:, 0], x[:, 1])


def test_a_sequence_type_name_can_be_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        sq.register_sequence_type(sq.SEQUENCE_TYPES["sine"])
