"""The character-level language model in PyTorch: the same module as ``tasks.charlm.CharLM``, key for key.

    module = to_torch(model, device="cpu")        # CharLM (NumPy) -> CharLMModule, the same numbers
    model  = to_charlm(module, vocab)             # and back; model.save(path) writes the rnnlab file

The module is a ``ModuleDict`` whose ``state_dict`` keys are rnnlab's (``docs/checkpoints.md``)::

    rnn  = nn.LSTM(V, H, L)   | nn.GRU(V, H, L) | nn.RNN(V, H, L, nonlinearity=...)
    head = nn.Linear(H, V)
    logits = head(rnn(one_hot(x), state)[0])                        # (T, B, V)

Dropout (``TrainConfig.dropout`` = p > 0) is placed as in ``training/charlm_task.py``: every layer's
output is multiplied by a given mask m_k (T, B, H) of 0 or 1/(1-p), the input of the next layer or
of the head.  Then the layers run one at a time: layer k is a one-layer module of the same class
(a weightless template on the ``meta`` device) called through ``torch.func.functional_call`` with
the big module's ``rnn.weight_ih_l{k}`` ... renamed ``weight_ih_l0`` ..., so gradients reach the
module's own parameters and the keys stay rnnlab's.  The masks come from the NumPy task's
generator, so both backends drop the same units.

``batch_loss`` is the loss of one window as a *sum* over positions (distributed training divides by
the global count, ``torch_train.py``); ``evaluate`` is ``charlm_task.evaluate_ids`` over a slice of
the validation streams.  Proved by ``tests/backends/test_torch_equivalence.py``.

torch is imported inside functions only: ``import rnnlab.backends.torch_charlm`` works without it.
"""

from __future__ import annotations

import functools

import numpy as np

from ..data.batches import stream_windows
from ..data.vocab import CharVocab
from ..tasks.charlm import CharLM, CharLMConfig

RNN_CLASSES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
DTYPES = {"float32": np.float32, "float64": np.float64}
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def import_torch():
    """torch, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError("the torch backend needs PyTorch: pip install 'rnnlab[torch]'") from None
    return torch


def torch_dtype(dtype):
    """np.float32 / np.float64 / "float32" / "float64" -> the torch dtype."""
    torch = import_torch()
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {name}")
    return getattr(torch, name)


@functools.cache
def module_class():
    """The ``CharLMModule`` class (made on first use so that torch is imported only then)."""
    torch = import_torch()
    nn = torch.nn
    func = torch.func

    class CharLMModule(nn.ModuleDict):
        """``{"rnn": nn.LSTM/GRU/RNN(V, H, L), "head": nn.Linear(H, V)}`` with a forward over indices."""

        def __init__(self, config: CharLMConfig, vocab_size: int):
            cls = getattr(nn, RNN_CLASSES[config.cell])
            kwargs = {"nonlinearity": config.nonlinearity} if config.cell == "rnn" else {}
            H, L, V = config.hidden_size, config.num_layers, vocab_size
            super().__init__({"rnn": cls(V, H, L, **kwargs), "head": nn.Linear(H, V)})
            self.config, self.vocab_size = config, vocab_size
            with torch.device("meta"):  # weightless one-layer templates for the dropout path (not registered)
                self.layer_templates = [cls(V if k == 0 else H, H, 1, **kwargs) for k in range(L)]

        def forward(self, x, h0=None, c0=None, masks=None):
            """x (T, B) int64, h0/c0 (L, B, H) or None, masks None or L of (T, B, H) -> (logits, h_n, c_n)."""
            weight = self["head"].weight
            inputs = nn.functional.one_hot(x, self.vocab_size).to(weight.dtype)  # (T, B, V)
            lstm = self.config.cell == "lstm"
            if masks is None:
                hx = None if h0 is None else ((h0, c0) if lstm else h0)
                out, final = self["rnn"](inputs, hx)  # out (T, B, H)
                h_n, c_n = final if lstm else (final, None)  # (L, B, H)
            else:
                out, h_list, c_list = inputs, [], []
                for k, template in enumerate(self.layer_templates):
                    weights = {f"{name}_l0": getattr(self["rnn"], f"{name}_l{k}") for name in WEIGHT_NAMES}
                    hx = None if h0 is None else ((h0[k : k + 1], c0[k : k + 1]) if lstm else h0[k : k + 1])
                    out, final = func.functional_call(template, weights, (out, hx))  # out (T, B, H)
                    h_list.append(final[0] if lstm else final)
                    if lstm:
                        c_list.append(final[1])
                    out = out * masks[k]  # (T, B, H)
                h_n = torch.cat(h_list)  # (L, B, H)
                c_n = torch.cat(c_list) if lstm else None  # (L, B, H)
            logits = self["head"](out)  # (T, B, V)
            return logits, h_n, c_n

    return CharLMModule


# ---- conversion both ways ------------------------------------------------------------------------------
def to_torch(model: CharLM, device="cpu", dtype=None):
    """A ``CharLMModule`` holding a copy of ``model``'s parameters (its dtype unless ``dtype`` is given)."""
    module = module_class()(model.config, len(model.vocab))
    tdtype = torch_dtype(model.dtype if dtype is None else dtype)
    module.to(device=device, dtype=tdtype)
    load_arrays(module, model.params)
    return module


def load_arrays(module, arrays: dict[str, np.ndarray]) -> None:
    """Copy NumPy arrays keyed like the state_dict into the module's parameters (strict: same keys)."""
    torch = import_torch()
    state = module.state_dict()
    if set(arrays) != set(state):
        raise ValueError(f"parameter names differ: missing {sorted(set(state) - set(arrays))}, "
                         f"unexpected {sorted(set(arrays) - set(state))}")
    with torch.no_grad():
        for name, value in arrays.items():
            if tuple(value.shape) != tuple(state[name].shape):
                raise ValueError(f"{name} must have shape {tuple(state[name].shape)}, got {value.shape}")
            state[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))


def numpy_arrays(module) -> dict[str, np.ndarray]:
    """The module's parameters as NumPy arrays on the CPU (copies), keyed like rnnlab."""
    return {name: value.detach().cpu().numpy().copy() for name, value in module.state_dict().items()}


def to_charlm(module, vocab: CharVocab) -> CharLM:
    """The NumPy ``CharLM`` with the module's parameters (same dtype): ``.save`` writes an rnnlab checkpoint."""
    return CharLM(module.config, vocab, numpy_arrays(module))


# ---- one window -----------------------------------------------------------------------------------------
def batch_loss(net, x, y, h0=None, c0=None, masks=None):
    """(sum of the cross-entropies of the window, h_n, c_n); ``net`` is the module or its DDP wrapper."""
    torch = import_torch()
    logits, h_n, c_n = net(x, h0, c0, masks)  # (T, B, V)
    V = logits.shape[-1]
    loss_sum = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum")
    return loss_sum, h_n, c_n


def evaluate(module, ids: np.ndarray, streams: int, seq_len: int, rows: slice = slice(None)) -> tuple[float, int]:
    """(summed nats, count) of ``charlm_task.evaluate_ids``'s streams, over the stream indices ``rows``.

    The same streams and windows as the NumPy task, state carried from window to window; the
    log-probabilities are taken in float64.  Summing the parts of all ranks gives the whole."""
    torch = import_torch()
    device = module["head"].weight.device
    streams = max(1, min(streams, (len(ids) - 1) // 2))
    total, count, h, c = 0.0, 0, None, None
    with torch.no_grad():
        for x, y in stream_windows(ids, streams, seq_len):
            x, y = x[:, rows], y[:, rows]  # (T, b) this rank's streams
            if x.shape[1] == 0:
                continue
            xt = torch.from_numpy(np.ascontiguousarray(x)).to(device)  # (T, b)
            yt = torch.from_numpy(np.ascontiguousarray(y)).to(device)  # (T, b)
            logits, h, c = module(xt, h, c)  # (T, b, V)
            logp = torch.log_softmax(logits.double(), dim=-1)  # (T, b, V)
            total -= float(logp.gather(-1, yt[..., None]).sum())
            count += y.size
    return total, count
