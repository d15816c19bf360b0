"""Memory-task generators: the answer is where the docstring says, the lag sets the distance, seeds repeat."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.memory_tasks import TASKS, MemoryTask, is_balanced, make_task


@pytest.mark.parametrize("name", TASKS)
def test_same_seed_gives_the_same_batch_and_another_seed_another(name):
    task = make_task(name, 12)
    a = task.sample(16, np.random.default_rng(3))
    b = task.sample(16, np.random.default_rng(3))
    c = task.sample(16, np.random.default_rng(4))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("lag", [3, 10, 40])
def test_shapes_follow_the_lag(name, lag):
    task = make_task(name, lag)
    batch = task.sample(5, np.random.default_rng(0))
    T = task.seq_len
    assert batch.x.shape[:2] == (T, 5)
    assert batch.query_steps[-1] == T - 1
    if task.regression:
        assert batch.x.shape == (T, 5, 2) and batch.targets.shape == (1, 5, 1)
    else:
        assert batch.x.dtype.kind == "i" and batch.x.min() >= 0 and batch.x.max() < task.input_size
        assert batch.targets.shape == (len(batch.query_steps), 5)
        assert batch.targets.min() >= 0 and batch.targets.max() < task.output_size


def test_first_symbol_is_the_target_and_sits_lag_steps_before_the_answer():
    task = make_task("first", 20, num_symbols=3)
    batch = task.sample(64, np.random.default_rng(1))
    assert task.seq_len == 21 and list(batch.query_steps) == [20]
    np.testing.assert_array_equal(batch.targets[0], batch.x[0])
    assert batch.x[0].max() < 3 and batch.x[1:].min() >= 3  # distractors never look like a remembered symbol
    assert set(np.unique(batch.targets)) == {0, 1, 2}


def test_copy_outputs_the_pattern_after_the_gap_and_the_go_symbol():
    task = make_task("copy", 7, num_symbols=5, length=3)
    batch = task.sample(8, np.random.default_rng(2))
    blank, go = 5, 6
    assert task.seq_len == 13
    np.testing.assert_array_equal(batch.targets, batch.x[:3])
    assert np.all(batch.x[3:10] == blank) and np.all(batch.x[10] == go) and np.all(batch.x[11:] == blank)
    assert list(batch.query_steps) == [10, 11, 12]


def test_adding_problem_target_is_the_sum_of_the_two_marked_values_one_per_half():
    task = make_task("adding", 50)
    batch = task.sample(200, np.random.default_rng(0))
    markers = batch.x[:, :, 1]
    assert np.all(markers.sum(axis=0) == 2)
    assert np.all(markers[:25].sum(axis=0) == 1) and np.all(markers[25:].sum(axis=0) == 1)
    np.testing.assert_allclose(batch.targets[0, :, 0], (batch.x[:, :, 0] * markers).sum(axis=0))
    # predicting the mean (1.0) scores about 2/12
    assert np.mean((batch.targets - 1.0) ** 2) == pytest.approx(task.baseline, abs=0.04)


def test_parity_is_the_xor_of_the_bits_before_the_blanks():
    task = make_task("parity", 6, length=5)
    batch = task.sample(32, np.random.default_rng(0))
    np.testing.assert_array_equal(batch.targets[0], batch.x[:5].sum(axis=0) % 2)
    assert np.all(batch.x[5:] == 2)


def test_brackets_labels_say_balanced_and_half_are():
    task = make_task("brackets", 4, length=8)
    batch = task.sample(400, np.random.default_rng(0))
    for b in range(400):
        assert batch.targets[0, b] == is_balanced(batch.x[:8, b])
    assert 0.4 < batch.targets.mean() < 0.6
    assert is_balanced([0, 0, 1, 1]) and not is_balanced([1, 0]) and not is_balanced([0, 0, 1])


def test_task_metadata_is_json_friendly():
    d = make_task("copy", 10).to_dict()
    assert d["seq_len"] == 20 and d["symbols"][-2:] == ["_", ">"] and "gap of 10" in d["description"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"name": "sort", "lag": 5}, "task must be one of"),
        ({"name": "first", "lag": 0}, "lag must be an integer in \\[1"),
        ({"name": "adding", "lag": 1}, "lag must be an integer in \\[2"),
        ({"name": "first", "lag": 2.5}, "lag must be an integer"),
        ({"name": "copy", "lag": 5, "num_symbols": 1}, "num_symbols must be in"),
        ({"name": "brackets", "lag": 5, "length": 7}, "even length"),
    ],
)
def test_bad_task_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MemoryTask(**kwargs)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        make_task("first", 3).sample(0, np.random.default_rng(0))
