"""The char-LM checkpoint is exactly a PyTorch state_dict: it loads into nn.LSTM/GRU/RNN + nn.Linear
with strict=True, gives the same logits and loss, and a PyTorch-trained state_dict comes back."""

from __future__ import annotations

import numpy as np
import pytest
from torch_or_skip import require_torch

from rnnlab.data import CharVocab
from rnnlab.io import CheckpointError, load_checkpoint, save_checkpoint
from rnnlab.tasks.charlm import CharLM, CharLMConfig

TEXT = "To be, or not to be: that is the question.\n"


class TorchCharLM:
    """The module the checkpoint format names: rnn = nn.LSTM|GRU|RNN(V, H, L); head = nn.Linear(H, V)."""

    def __init__(self, torch, cell, V, H, L, nonlinearity="tanh"):
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.module = torch.nn.ModuleDict({"rnn": cls(V, H, L, **kwargs), "head": torch.nn.Linear(H, V)})
        self.torch, self.V = torch, V

    def logits(self, x):
        onehot = self.torch.nn.functional.one_hot(self.torch.from_numpy(x), self.V).to(self.module["head"].weight.dtype)
        out, _ = self.module["rnn"](onehot)
        return self.module["head"](out)


@pytest.mark.torch
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_checkpoint_loads_into_torch_strictly_and_gives_the_same_loss(tmp_path, cell):
    torch = require_torch()
    vocab = CharVocab.from_text(TEXT)
    model = CharLM(CharLMConfig(cell, 8, 2), vocab, rng=np.random.default_rng(0), dtype=np.float64)
    path = tmp_path / "m.safetensors"
    model.save(path, note="test")
    tensors, meta = load_checkpoint(path)
    assert meta["vocab"] == vocab.chars and meta["config"]["cell"] == cell

    ref = TorchCharLM(torch, cell, len(vocab), 8, 2)
    ref.module.double()
    ref.module.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    ids = vocab.encode(TEXT)
    x, y = ids[:-1, None], ids[1:, None]
    result, grads, _, _ = model.loss_and_grads(x, y)
    logits = ref.logits(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), torch.from_numpy(y.reshape(-1)))
    loss.backward()
    assert result.loss == pytest.approx(loss.item(), rel=1e-12)
    for name, p in ref.module.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.torch
def test_a_torch_state_dict_saved_as_safetensors_imports_into_rnnlab(tmp_path):
    torch = require_torch()
    from safetensors.torch import save_file

    vocab = CharVocab.from_text(TEXT)
    ref = TorchCharLM(torch, "gru", len(vocab), 6, 1)
    path = tmp_path / "torch.safetensors"
    save_file({k: v.contiguous() for k, v in ref.module.state_dict().items()}, str(path))
    tensors, meta = load_checkpoint(path)
    assert meta is None
    with pytest.raises(CheckpointError, match="no rnnlab metadata"):
        CharLM.from_tensors(tensors, meta)
    model = CharLM.from_torch_state_dict(tensors, vocab, "gru")
    ids = vocab.encode(TEXT)[:, None]
    logits, _, _ = model.forward(ids)
    np.testing.assert_allclose(logits, ref.logits(ids).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_shapes_that_do_not_match_the_metadata_raise_checkpoint_error(tmp_path):
    vocab = CharVocab.from_text(TEXT)
    model = CharLM(CharLMConfig("lstm", 8, 1), vocab)
    tensors = dict(model.params)
    tensors["rnn.weight_hh_l0"] = np.zeros((32, 7), np.float32)
    path = tmp_path / "bad.safetensors"
    save_checkpoint(path, tensors, model.metadata())
    with pytest.raises(CheckpointError, match="do not match the metadata"):
        CharLM.load(path)
    meta = model.metadata()
    meta["vocab"] = meta["vocab"][:-1]  # one character short: head shapes disagree
    save_checkpoint(path, model.params, meta)
    with pytest.raises(CheckpointError, match=r"weight_ih_l0 has shape \(32, 18\), expected \(32, 17\)"):
        CharLM.load(path)
