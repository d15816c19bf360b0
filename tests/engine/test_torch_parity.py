"""PyTorch parity: the same weights give the same outputs, final states and all gradients.

float64 to a relative 1e-10 and float32 to 1e-5, for RNN (tanh, ReLU), LSTM and GRU with 1-3
layers, float input and one-hot input, with a given initial state.  Under CI=true torch must be
installed (``require_torch`` fails instead of skipping).
"""

from __future__ import annotations

import numpy as np
import pytest
from torch_or_skip import require_torch

from rnnlab.engine import Recurrent, RecurrentConfig, State, relative_error
from rnnlab.engine.loop import one_hot

pytestmark = pytest.mark.torch

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def torch_module(torch, config):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config.cell]
    kwargs = {"nonlinearity": config.nonlinearity} if config.cell == "rnn" else {}
    return cls(config.input_size, config.hidden_size, config.num_layers, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@pytest.mark.parametrize("int_input", [False, True])
def test_forward_and_backward_match_torch(cell, nonlinearity, layers, dtype, int_input):
    torch = require_torch()
    torch.set_num_threads(1)
    rng = np.random.default_rng(layers * 7 + int_input)
    T, B, I, H = 7, 3, 5, 6
    config = RecurrentConfig(cell, I, H, layers, nonlinearity)
    net = Recurrent(config, rng=rng, dtype=dtype)
    x = rng.integers(0, I, (T, B)) if int_input else rng.standard_normal((T, B, I)).astype(dtype)
    h0 = rng.standard_normal((layers, B, H)).astype(dtype)
    c0 = rng.standard_normal((layers, B, H)).astype(dtype) if cell == "lstm" else None
    r_out = rng.standard_normal((T, B, H)).astype(dtype)
    r_h = rng.standard_normal((layers, B, H)).astype(dtype)

    out, final, cache = net.forward(x, State(h0, c0))
    grads = net.backward(cache, r_out, State(r_h, np.zeros_like(r_h) if c0 is not None else None))

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    module = torch_module(torch, config).to(tdtype)
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.params.items()}, strict=True)
    x_dense = one_hot(x, I, dtype) if int_input else x
    xt = torch.from_numpy(x_dense.copy()).requires_grad_(True)
    h0t = torch.from_numpy(h0.copy()).requires_grad_(True)
    if cell == "lstm":
        c0t = torch.from_numpy(c0.copy()).requires_grad_(True)
        yt, (hnt, cnt) = module(xt, (h0t, c0t))
    else:
        yt, hnt = module(xt, h0t)
    loss = (yt * torch.from_numpy(r_out)).sum() + (hnt * torch.from_numpy(r_h)).sum()
    loss.backward()

    tol = TOLERANCE[dtype]
    assert relative_error(out, yt.detach().numpy()) < tol
    assert relative_error(final.h, hnt.detach().numpy()) < tol
    if cell == "lstm":
        assert relative_error(final.c, cnt.detach().numpy()) < tol
        assert relative_error(grads.dc0, c0t.grad.numpy()) < tol
    for name, p in module.named_parameters():
        err = relative_error(grads.params[name], p.grad.numpy())
        assert err < tol, f"{name}: relative error {err:.2e}"
    assert relative_error(grads.dh0, h0t.grad.numpy()) < tol
    if not int_input:
        assert relative_error(grads.dx, xt.grad.numpy()) < tol
