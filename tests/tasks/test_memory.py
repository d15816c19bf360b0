"""The memory-task model: its gradients, its training loop, and what clipping does.

- Every parameter gradient of the whole model (body + skip + attention + head + loss) against
  finite differences (float64, relative error < 1e-6), classification and regression.
- Training learns an easy memory task; the held-out metric is recorded; the target stops it early.
- Clipping by norm bounds the update: with SGD the parameter step is at most lr * threshold, even
  for an exploding ReLU RNN whose raw gradient norm is far larger.  Clipping by value bounds every
  element.  The raw and clipped norms and the fraction of clipped steps are reported.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.memory_tasks import make_task
from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.tasks.memory import (
    ClipConfig,
    MemoryModel,
    MemoryModelConfig,
    TrainConfig,
    clip_gradients,
    train,
)

TOL = 1e-6
MODELS = [
    ("first", MemoryModelConfig("rnn", 4)),
    ("first", MemoryModelConfig("lstm", 4, time_skip=2, attention="dot")),
    ("copy", MemoryModelConfig("gru", 4, num_layers=2, residual=True, attention="additive", attention_size=3)),
    ("adding", MemoryModelConfig("lstm", 3, time_skip=3)),
    ("adding", MemoryModelConfig("rnn", 4, nonlinearity="relu", attention="dot")),
    ("parity", MemoryModelConfig("gru", 3)),
]


@pytest.mark.parametrize("task_name,config", MODELS, ids=lambda v: v if isinstance(v, str) else
                         f"{v.cell}-L{v.num_layers}-skip{v.time_skip}-res{v.residual}-{v.attention}")
def test_model_gradients_match_finite_differences(task_name, config):
    task = make_task(task_name, 4, num_symbols=3, length=2 if task_name == "copy" else 0)
    rng = np.random.default_rng(0)
    model = MemoryModel(task, config, rng=rng, dtype=np.float64)
    for v in model.params.values():
        v += 0.3 * rng.standard_normal(v.shape)
    batch = task.sample(3, rng)

    def f():
        outputs, _ = model.forward(batch.x, batch.query_steps)
        return model.loss(outputs, batch.targets).loss

    _, grads, _ = model.loss_and_grads(batch)
    assert set(grads) == set(model.params)
    for name, value in model.params.items():
        err = relative_error(grads[name], numerical_gradient(f, value))
        assert err < TOL, f"{name}: relative error {err:.2e}"


def test_parameter_names_follow_the_parts():
    task = make_task("first", 5)
    model = MemoryModel(task, MemoryModelConfig("lstm", 8, time_skip=2, attention="additive"))
    assert {"rnn.weight_hh_l0", "rnn.weight_skip_l0", "attn.key.weight", "attn.score.weight"} <= set(model.params)
    assert model.params["head.weight"].shape == (task.output_size, 16)  # [h; context]
    with pytest.raises(ValueError, match="missing \\['head.bias'\\]"):
        MemoryModel(task, MemoryModelConfig("lstm", 8, time_skip=2, attention="additive"),
                    {k: v for k, v in model.params.items() if k != "head.bias"})


def test_hidden_gradient_norms_do_not_depend_on_the_batch_size():
    task = make_task("first", 6)
    model = MemoryModel(task, MemoryModelConfig("gru", 8), dtype=np.float64)
    batch = task.sample(4, np.random.default_rng(0))
    norms = model.hidden_gradient_norms(batch)
    assert norms.shape == (1, task.seq_len)
    twice = type(batch)(np.concatenate([batch.x, batch.x], 1), np.concatenate([batch.targets] * 2, 1), batch.query_steps)
    np.testing.assert_allclose(model.hidden_gradient_norms(twice), norms)


def test_training_learns_to_remember_the_first_symbol_over_a_short_lag():
    task = make_task("first", 5)
    model = MemoryModel(task, MemoryModelConfig("lstm", 16), rng=np.random.default_rng(0))
    result = train(model, TrainConfig(steps=400, lr=0.01, eval_every=50, eval_batch=256, target=0.99),
                   np.random.default_rng(1))
    assert result.evals[0]["accuracy"] < 0.5  # chance is 0.25
    assert result.final["accuracy"] >= 0.99
    assert result.reached_target_at is not None and result.steps == result.reached_target_at < 400
    assert len(result.losses) == len(result.raw_norms) == result.steps
    assert np.mean(result.losses[-20:]) < np.mean(result.losses[:20])


def test_the_adding_problem_is_learned_at_a_short_length():
    task = make_task("adding", 10)
    model = MemoryModel(task, MemoryModelConfig("gru", 16), rng=np.random.default_rng(0))
    result = train(model, TrainConfig(steps=600, lr=0.01, eval_every=100), np.random.default_rng(0))
    assert result.evals[0]["mse"] > 0.1
    assert result.final["mse"] < 0.05  # predicting the mean scores ~0.167


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_a_time_budget_stops_training_on_the_chosen_clock(clock):
    task = make_task("first", 5)
    model = MemoryModel(task, MemoryModelConfig("rnn", 8))
    result = train(model, TrainConfig(steps=None, seconds=0.3, clock=clock, eval_batch=16), np.random.default_rng(0))
    used = result.cpu_seconds if clock == "cpu" else result.seconds
    assert result.steps > 0 and 0.3 <= used < 10.0  # generous: the machine may be busy
    with pytest.raises(ValueError, match="clock must be one of"):
        TrainConfig(seconds=1.0, clock="gpu")


def exploding_model():
    """A ReLU RNN with W_hh = 1.5 I on 40 steps: its gradient norm is in the hundreds or more."""
    task = make_task("adding", 40)
    model = MemoryModel(task, MemoryModelConfig("rnn", 16, nonlinearity="relu"), rng=np.random.default_rng(0),
                        dtype=np.float64, init="identity", spectral_radius=1.5)
    return task, model


def test_clipping_by_norm_bounds_the_update_norm_of_an_exploding_rnn():
    task, model = exploding_model()
    lr, threshold = 0.01, 1.0
    before = {k: v.copy() for k, v in model.params.items()}
    result = train(model, TrainConfig(steps=1, lr=lr, optimizer="sgd", clip=ClipConfig("norm", threshold),
                                      eval_batch=8), np.random.default_rng(0))
    update = np.sqrt(sum(float(((model.params[k] - before[k]) ** 2).sum()) for k in before))
    assert result.raw_norms[0] > 100 * threshold  # it did explode
    assert result.clipped == [True]
    assert result.clipped_norms[0] == pytest.approx(threshold, rel=1e-5)
    assert update <= lr * threshold * (1 + 1e-6)


def test_without_clipping_the_same_update_is_as_large_as_the_raw_gradient():
    task, model = exploding_model()
    before = {k: v.copy() for k, v in model.params.items()}
    result = train(model, TrainConfig(steps=1, lr=0.01, optimizer="sgd", eval_batch=8), np.random.default_rng(0))
    update = np.sqrt(sum(float(((model.params[k] - before[k]) ** 2).sum()) for k in before))
    assert result.clipped == [False] and result.fraction_clipped == 0.0
    assert update == pytest.approx(0.01 * result.raw_norms[0], rel=1e-6)
    assert update > 1.0  # one step moves the weights by more than 100 clipped steps could


def test_clipping_by_value_bounds_every_element_and_reports_both_norms():
    grads = {"a": np.array([3.0, -0.5]), "b": np.array([[-4.0]])}
    raw, clipped_norm, clipped = clip_gradients(grads, ClipConfig("value", 1.0))
    assert raw == pytest.approx(np.sqrt(9 + 0.25 + 16)) and clipped
    np.testing.assert_array_equal(grads["a"], [1.0, -0.5])
    np.testing.assert_array_equal(grads["b"], [[-1.0]])
    assert clipped_norm == pytest.approx(np.sqrt(1 + 0.25 + 1))
    small = {"a": np.array([0.1])}
    assert clip_gradients(small, ClipConfig("value", 1.0)) == (pytest.approx(0.1), pytest.approx(0.1), False)


def test_fraction_clipped_counts_the_clipped_steps():
    task, model = exploding_model()
    result = train(model, TrainConfig(steps=6, lr=1e-3, clip=ClipConfig("norm", 5.0), eval_batch=8),
                   np.random.default_rng(0))
    assert result.fraction_clipped == pytest.approx(sum(result.clipped) / 6)
    assert all(c <= 5.0 * (1 + 1e-6) for c in result.clipped_norms)
    assert all(r >= c - 1e-9 for r, c in zip(result.raw_norms, result.clipped_norms))


def test_a_non_finite_gradient_stops_training_and_is_reported():
    task = make_task("adding", 30)
    model = MemoryModel(task, MemoryModelConfig("rnn", 8, nonlinearity="relu"), rng=np.random.default_rng(0),
                        init="identity", spectral_radius=30.0)  # 30^29 overflows float32
    result = train(model, TrainConfig(steps=5, eval_batch=8), np.random.default_rng(0))
    assert result.diverged is not None and "non-finite" in result.diverged
    assert result.steps == 0


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: ClipConfig("max", 1.0), "clip must be one of"),
        (lambda: ClipConfig("norm", 0.0), "clip threshold must be a positive number"),
        (lambda: TrainConfig(steps=None, seconds=None), "step budget, a time budget"),
        (lambda: TrainConfig(batch_size=0), "batch_size must be >= 1"),
        (lambda: MemoryModelConfig("lstm", 8, attention="cosine"), "attention must be None or one of"),
        (lambda: MemoryModelConfig("elman", 8), "cell must be one of"),
        (lambda: MemoryModelConfig("rnn", 8, time_skip=-2), "time_skip must be a non-negative integer"),
    ],
)
def test_bad_settings_are_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
