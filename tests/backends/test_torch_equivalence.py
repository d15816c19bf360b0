"""The torch backend computes what the NumPy engine computes, and its files are rnnlab's.

Same initial weights and batches -> the same per-step losses (float64, 1e-9 over 20 steps) for the
LSTM, GRU and RNN, with and without dropout; conversion both ways keeps the logits; the checkpoint it
writes loads with ``rnnlab.load`` (and into a plain torch ``ModuleDict``); runs resume across backends
and after Ctrl-C; a NaN stops the run; ``rnnlab train --backend torch`` works end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch_or_skip import require_torch

import rnnlab
from rnnlab.data.vocab import CharVocab
from rnnlab.tasks.charlm import CharLM, CharLMConfig
from rnnlab.training import TrainConfig, fit, train_charlm
from rnnlab.training.charlm import check_text
from rnnlab.training.charlm_task import CharLMTask

pytestmark = pytest.mark.torch

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 12
CONFIG = TrainConfig(cell="lstm", hidden_size=8, num_layers=2, seq_len=8, batch_size=4, lr=1e-2, warmup_steps=2,
                     steps=20, minutes=None, eval_every=10, eval_streams=2, sample_length=0)
TOLERANCE = 1e-9


def step_losses(events):
    return np.array([e["loss"] for e in events if e["kind"] == "step"])


def val_losses(events):
    return np.array([e["val_loss"] for e in events if e["kind"] == "eval"])


def initial_model(config: TrainConfig, seed: int = 0) -> CharLM:
    return CharLM(CharLMConfig(config.cell, config.hidden_size, config.num_layers, config.nonlinearity),
                  CharVocab.from_text(TEXT), rng=np.random.default_rng(seed), dtype=np.float64)


def copy_of(model: CharLM) -> CharLM:
    return CharLM(model.config, model.vocab, {k: v.copy() for k, v in model.params.items()})


def run_both(tmp_path, config: TrainConfig):
    """(numpy events, torch events) from the same float64 initial weights and the same text."""
    torch = require_torch()
    torch.set_num_threads(1)
    from rnnlab.backends.torch_train import fit_torch

    model = initial_model(config)
    train, val = check_text(TEXT, config)
    ids = model.vocab.encode(train), model.vocab.encode(val)
    numpy_events, torch_events = [], []
    fit(CharLMTask(copy_of(model), *ids, config), config, tmp_path / "numpy", on_event=numpy_events.append)
    fit_torch(copy_of(model), *ids, config, tmp_path / "torch", on_event=torch_events.append)
    return numpy_events, torch_events


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_same_weights_and_batches_give_the_same_losses_for_20_steps(tmp_path, cell):
    numpy_events, torch_events = run_both(tmp_path, CONFIG.replace(cell=cell))
    a, b = step_losses(numpy_events), step_losses(torch_events)
    assert len(a) == len(b) == 20
    assert np.max(np.abs(a - b)) < TOLERANCE, np.abs(a - b)
    assert np.max(np.abs(val_losses(numpy_events) - val_losses(torch_events))) < TOLERANCE
    norms = [np.array([e["grad_norm"] for e in ev if e["kind"] == "step"]) for ev in (numpy_events, torch_events)]
    assert np.allclose(norms[0], norms[1], rtol=1e-9, atol=0)
    assert a[-1] < a[0] - 0.05  # it learns, so the comparison is over moving weights


def test_dropout_drops_the_same_units_on_both_backends(tmp_path):
    numpy_events, torch_events = run_both(tmp_path, CONFIG.replace(dropout=0.3))
    a, b = step_losses(numpy_events), step_losses(torch_events)
    assert np.max(np.abs(a - b)) < TOLERANCE
    model, (train, val) = initial_model(CONFIG), check_text(TEXT, CONFIG)
    no_dropout = []
    fit(CharLMTask(model, model.vocab.encode(train), model.vocab.encode(val), CONFIG), CONFIG, tmp_path / "p0",
        on_event=no_dropout.append)
    assert not np.allclose(a, step_losses(no_dropout))  # the masks were on


def test_adamw_with_clipping_and_a_cosine_schedule_match(tmp_path):
    config = CONFIG.replace(optimizer="adamw", weight_decay=0.1, clip=0.05, schedule="cosine", min_lr_ratio=0.1)
    numpy_events, torch_events = run_both(tmp_path, config)
    assert np.max(np.abs(step_losses(numpy_events) - step_losses(torch_events))) < TOLERANCE
    assert all(e["grad_norm"] > 0.05 for e in numpy_events if e["kind"] == "step")  # clipping was active


@pytest.mark.parametrize("cell,nonlinearity", [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "relu")])
def test_conversion_both_ways_keeps_parameters_and_logits(cell, nonlinearity):
    torch = require_torch()
    from rnnlab.backends.torch_charlm import to_charlm, to_torch

    model = CharLM(CharLMConfig(cell, 6, 3, nonlinearity), CharVocab.from_text(TEXT), rng=np.random.default_rng(1),
                   dtype=np.float64)
    module = to_torch(model)
    assert list(module.state_dict()) == list(model.params)
    x = np.random.default_rng(2).integers(0, len(model.vocab), (9, 3))  # (T, B)
    logits, state, _ = model.forward(x[:5])
    logits2, _, _ = model.forward(x[5:], state)
    with torch.no_grad():
        t_logits, h, c = module(torch.from_numpy(x[:5]))
        t_logits2, _, _ = module(torch.from_numpy(x[5:]), h, c)
    assert np.allclose(t_logits.numpy(), logits, rtol=0, atol=1e-12)
    assert np.allclose(t_logits2.numpy(), logits2, rtol=0, atol=1e-12)
    back = to_charlm(module, model.vocab)
    assert all(np.array_equal(back.params[k], model.params[k]) for k in model.params)


def test_the_torch_checkpoint_loads_with_rnnlab_and_gives_the_same_logits(tmp_path):
    torch = require_torch()
    from safetensors.torch import load_file

    from rnnlab.backends.torch_charlm import module_class
    from rnnlab.backends.torch_train import train_charlm_torch

    config = CONFIG.replace(cell="gru", steps=5, eval_every=5)
    result = train_charlm_torch(config, TEXT, tmp_path / "run", dtype="float64")
    assert result.reason == "steps" and result.best_step == 5
    loaded = rnnlab.load(result.model_path)
    assert loaded.meta["backend"]["name"] == "torch" and loaded.meta["steps"] == 5
    assert CharLM.load(result.model_path).config == loaded.config
    module = module_class()(loaded.config, len(loaded.vocab)).double()
    module.load_state_dict(load_file(str(result.model_path)), strict=True)  # a plain torch state_dict
    x = loaded.vocab.encode("it was the age of wisdom")[:, None]  # (T, 1)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0].numpy()  # (T, 1, V)
    assert np.allclose(loaded.forward(x)[0], expected, rtol=0, atol=1e-12)
    first = initial_model(config)  # training moved the weights away from the initial ones
    assert not np.allclose(loaded.params["head.weight"], first.params["head.weight"])


def stop_after(n: int, events: list):
    return lambda: sum(e["kind"] == "step" for e in events) >= n


def test_a_numpy_run_resumes_on_torch_and_a_torch_run_on_numpy(tmp_path):
    require_torch()
    from rnnlab.backends.torch_train import train_charlm_torch

    config = CONFIG.replace(steps=12, eval_every=6)
    straight = []
    train_charlm(config, TEXT, tmp_path / "straight", on_event=straight.append)
    # NumPy for 6 steps, then torch to 12
    first = []
    train_charlm(config, TEXT, tmp_path / "a", on_event=first.append, should_stop=stop_after(6, first))
    second = []
    train_charlm_torch(None, TEXT, tmp_path / "a", on_event=second.append, resume=tmp_path / "a")
    # torch for 6 steps, then NumPy to 12
    third = []
    train_charlm_torch(config, TEXT, tmp_path / "b", on_event=third.append, should_stop=stop_after(6, third))
    fourth = []
    train_charlm(None, TEXT, tmp_path / "b", on_event=fourth.append, resume=tmp_path / "b")
    expected = step_losses(straight)
    assert np.allclose(np.concatenate([step_losses(first), step_losses(second)]), expected, rtol=0, atol=1e-5)
    assert np.allclose(np.concatenate([step_losses(third), step_losses(fourth)]), expected, rtol=0, atol=1e-5)
    assert len(step_losses(second)) == len(step_losses(fourth)) == 6


def test_ctrl_c_saves_a_resumable_checkpoint_and_the_run_continues_exactly(tmp_path):
    require_torch()
    from rnnlab.backends.torch_train import train_charlm_torch

    config = CONFIG.replace(steps=10, eval_every=5)
    straight = []
    train_charlm_torch(config, TEXT, tmp_path / "straight", on_event=straight.append, dtype="float64")
    seen = []

    def interrupt_at_step_3(event):
        seen.append(event)
        if event["kind"] == "step" and event["step"] == 3:
            raise KeyboardInterrupt

    result = train_charlm_torch(config, TEXT, tmp_path / "run", on_event=interrupt_at_step_3, dtype="float64")
    assert result.reason == "interrupted" and result.step == 3 and result.resume_path.exists()
    rest = []
    resumed = train_charlm_torch(None, TEXT, tmp_path / "run", on_event=rest.append, resume=tmp_path / "run")
    assert resumed.reason == "steps" and resumed.step == 10
    assert np.array_equal(np.concatenate([step_losses(seen), step_losses(rest)]), step_losses(straight))


def test_a_nan_loss_stops_the_run_and_names_it(tmp_path):
    require_torch()
    from rnnlab.backends.torch_train import fit_torch

    model = initial_model(CONFIG)
    model.params["head.bias"][0] = np.nan
    train, val = check_text(TEXT, CONFIG)
    result = fit_torch(model, model.vocab.encode(train), model.vocab.encode(val), CONFIG, tmp_path / "nan")
    assert result.reason == "nan" and result.step == 0
    assert "loss became NaN" in result.message and "no checkpoint" in result.message


def test_rnnlab_train_backend_torch_writes_a_model_that_rnnlab_eval_reads(tmp_path, capsys):
    require_torch()
    from rnnlab.cli.main import main

    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    code = main(["train", str(text), "--backend", "torch", "--preset", "tiny", "--hidden", "8", "--batch", "4",
                 "--seq-len", "8", "--steps", "4", "--eval-every", "4", "--out", str(out), "--quiet"])
    assert code == 0
    assert rnnlab.load(out / "model.safetensors").meta["backend"]["device"] == "cpu"
    assert main(["eval", str(out / "model.safetensors"), str(text)]) == 0


def test_device_cuda_needs_the_torch_backend(tmp_path, capsys):
    from rnnlab.cli.main import main

    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    assert main(["train", str(text), "--device", "cuda", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    assert "--device cuda needs --backend torch" in capsys.readouterr().err
