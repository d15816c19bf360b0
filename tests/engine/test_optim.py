"""Optimizers and clipping follow torch.optim step for step; non-finite values are named."""

from __future__ import annotations

import numpy as np
import pytest
from torch_or_skip import require_torch

from rnnlab.engine import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    NonFiniteError,
    check_finite,
    clip_grad_norm,
    clip_grad_value,
    global_norm,
    make_optimizer,
)

CASES = [
    ("sgd", SGD, {"lr": 0.1}, {}),
    ("sgd", SGD, {"lr": 0.1, "momentum": 0.9}, {"momentum": 0.9}),
    ("adagrad", Adagrad, {"lr": 0.1}, {}),
    ("adam", Adam, {"lr": 0.01}, {}),
    ("adam", Adam, {"lr": 0.01, "weight_decay": 0.1}, {"weight_decay": 0.1}),
    ("adamw", AdamW, {"lr": 0.01, "weight_decay": 0.1}, {"weight_decay": 0.1}),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,cls,kwargs,torch_kwargs", CASES)
def test_optimizer_steps_match_torch(name, cls, kwargs, torch_kwargs):
    torch = require_torch()
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    topt = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW}[name](list(tparams.values()), lr=kwargs["lr"], **torch_kwargs)
    opt = cls(**kwargs)
    for _ in range(6):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.step(params, grads)
        for k, p in tparams.items():
            p.grad = torch.tensor(grads[k])
        topt.step()
    for k in params:
        np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_optimizer_state_round_trips_so_training_resumes_exactly():
    rng = np.random.default_rng(1)
    p1 = {"w": rng.standard_normal(5)}
    p2 = {"w": p1["w"].copy()}
    grads = [{"w": rng.standard_normal(5)} for _ in range(6)]
    a = Adam(lr=0.1)
    for g in grads:
        a.step(p1, g)
    b = Adam(lr=0.1)
    for g in grads[:3]:
        b.step(p2, g)
    c = Adam(lr=0.1)
    c.load_state_dict(b.state_dict())
    for g in grads[3:]:
        c.step(p2, g)
    np.testing.assert_array_equal(p1["w"], p2["w"])


def test_clip_grad_norm_returns_the_norm_before_and_bounds_the_norm_after():
    grads = {"a": np.full(4, 3.0), "b": np.full(2, 4.0)}
    before = global_norm(grads)
    assert clip_grad_norm(grads, 1.0) == pytest.approx(before)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-5)
    small = {"a": np.full(3, 0.1)}
    clip_grad_norm(small, 1.0)
    np.testing.assert_array_equal(small["a"], 0.1)


def test_clip_grad_value_clamps_each_element():
    grads = {"a": np.array([-5.0, 0.5, 7.0])}
    clip_grad_value(grads, 1.0)
    np.testing.assert_array_equal(grads["a"], [-1.0, 0.5, 1.0])


def test_non_finite_loss_or_gradient_names_the_step_and_parameter():
    with pytest.raises(NonFiniteError, match="step 12 in loss"):
        check_finite(12, float("nan"), {})
    with pytest.raises(NonFiniteError, match="step 3 in gradient of rnn.weight_hh_l0"):
        check_finite(3, 1.0, {"rnn.weight_ih_l0": np.zeros(2), "rnn.weight_hh_l0": np.array([0.0, np.inf])})


def test_unknown_optimizer_and_bad_learning_rate_are_rejected():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(ValueError, match="learning rate"):
        Adam(lr=0.0)
