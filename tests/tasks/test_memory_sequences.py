"""The memory tasks as the visualizer's "Long-range memory" sequence type: targets where the tasks put them."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.tasks import memory_sequences
from rnnlab.tasks import visualizer as vis


@pytest.fixture(scope="module", autouse=True)
def registered():
    memory_sequences.register()
    memory_sequences.register()  # a second call does nothing


def make(example, length, rng=None):
    return vis.make_sequence(vis.SequenceSpec("memory", example, length), rng)


def test_the_type_is_listed_with_every_task_as_an_example():
    described = next(t for t in vis.describe_sequence_types() if t["name"] == "memory")
    assert [e["name"] for e in described["examples"]] == ["first", "copy", "parity", "brackets", "adding"]


def test_first_symbol_target_is_the_first_input_at_the_last_step_only():
    seq = make("first", 12)
    assert seq.length == 12 and seq.mask.tolist() == [False] * 11 + [True]
    assert seq.targets[-1] == seq.inputs[0] and seq.target_labels[-1] == seq.input_labels[0] in "ABCD"


def test_copy_targets_the_pattern_after_the_go_symbol():
    seq = make("copy", 14)
    assert seq.mask.sum() == 3 and seq.mask[-3:].all()
    np.testing.assert_array_equal(seq.targets[-3:], seq.inputs[:3])
    assert seq.input_labels[-3] == ">"


def test_parity_and_brackets_answer_at_the_end():
    parity = make("parity", 9)
    assert parity.targets[-1] == parity.inputs[:3].sum() % 2 and parity.target_labels[-1] in ("0", "1")
    brackets = make("brackets", 9)
    assert brackets.target_labels[-1] in ("balanced", "unbalanced")
    assert brackets.classes[-2:] == ["unbalanced", "balanced"]


def test_adding_is_a_regression_with_the_sum_at_the_last_step():
    seq = make("adding", 20)
    assert seq.kind == "regression" and seq.inputs.shape == (20, 2)
    assert seq.targets[-1] == pytest.approx((seq.inputs[:, 0] * seq.inputs[:, 1]).sum())
    assert sum("◆" in label for label in seq.input_labels) == 2


@pytest.mark.parametrize("example", ["first", "copy", "parity", "brackets", "adding"])
def test_every_example_traces_and_trains_in_the_visualizer(example):
    seq = make(example, 10)
    model = vis.SequenceModel.for_sequence(vis.NetworkSpec("gru", 6), seq)
    data = vis.trace_json(model, seq)
    assert len(data["hidden"]) == 10 and data["loss"] is not None
    history = model.train(vis.SequenceSpec("memory", example, 10), seconds=5, max_steps=3)
    assert len(history) == 3


def test_too_short_a_sequence_is_a_clear_error():
    with pytest.raises(ValueError, match="needs at least 6 steps"):
        make("copy", 5)
