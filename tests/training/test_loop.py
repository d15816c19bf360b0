"""The training loop: it learns, resumes bit for bit, and handles NaN, Ctrl-C, stop requests and failed saves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnnlab.io import checkpoint
from rnnlab.tasks.charlm import CharLM
from rnnlab.training import TrainConfig, TrainingError, read_resume, train_charlm
from rnnlab.training.charlm_task import CharLMTask

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 12
TINY = TrainConfig(cell="lstm", hidden_size=8, num_layers=1, seq_len=8, batch_size=4, lr=1e-2, warmup_steps=2,
                   steps=12, minutes=None, eval_every=4, eval_streams=2, sample_length=10)


def losses(events):
    return [e["loss"] for e in events if e["kind"] == "step"]


def run(tmp_path, name, config=TINY, **kw):
    events = []
    result = train_charlm(config, TEXT, tmp_path / name, on_event=events.append, **kw)
    return result, events


def test_a_tiny_model_learns_and_writes_the_run_folder(tmp_path):
    result, events = run(tmp_path, "a", TINY.replace(steps=60, eval_every=30, lr=2e-2))
    assert result.reason == "steps" and result.step == 60 and result.ok
    steps = losses(events)
    assert np.mean(steps[-10:]) < np.mean(steps[:5]) - 0.5
    kinds = {e["kind"] for e in events}
    assert {"start", "step", "eval", "sample", "done"} <= kinds
    for name in ("model.safetensors", "last.resume.safetensors", "metrics.jsonl", "loss.png"):
        assert (tmp_path / "a" / name).exists(), name
    assert (tmp_path / "a" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = CharLM.load(tmp_path / "a" / "model.safetensors")
    meta = model.meta
    assert meta["train_config"] == TINY.replace(steps=60, eval_every=30, lr=2e-2).to_dict()
    assert meta["corpus_sha256"] == meta["corpus"]["sha256"] and len(meta["corpus_sha256"]) == 64
    assert meta["val_loss"] == pytest.approx(result.best_val_loss) and meta["steps"] == result.best_step
    lines = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in lines if r["kind"] == "step"] == steps


def test_step_events_carry_the_numbers_a_live_view_needs(tmp_path):
    _, events = run(tmp_path, "a")
    step = next(e for e in events if e["kind"] == "step")
    assert {"step", "loss", "bpc", "lr", "grad_norm", "items_per_sec", "seconds", "progress"} <= set(step)
    assert step["bpc"] == pytest.approx(step["loss"] / math.log(2))
    ev = next(e for e in events if e["kind"] == "eval")
    assert {"val_loss", "val_bpc", "best", "loss", "bpc"} <= set(ev)


@pytest.mark.parametrize("options", [{}, {"dropout": 0.3}, {"weight_drop": 0.3, "ema": 0.9}])
def test_an_interrupted_and_resumed_run_computes_the_same_losses_bit_for_bit(tmp_path, options):
    config = TINY.replace(num_layers=2, **options)
    _, whole = run(tmp_path, "whole", config)

    def interrupt_at_step_6(event):
        first.append(event)
        if event["kind"] == "step" and event["step"] == 6:
            raise KeyboardInterrupt

    first = []
    result = train_charlm(config, TEXT, tmp_path / "cut", on_event=interrupt_at_step_6)
    assert result.reason == "interrupted" and result.step == 6
    second = []
    resumed = train_charlm(config, TEXT, tmp_path / "other", on_event=second.append, resume=tmp_path / "cut")
    assert resumed.step == 12
    assert losses(first) + losses(second) == losses(whole)  # exact float equality
    assert [e["val_loss"] for e in second if e["kind"] == "eval"] == \
           [e["val_loss"] for e in whole if e["kind"] == "eval" and e["step"] > 6]


def test_resuming_in_the_same_folder_drops_log_lines_after_the_checkpoint(tmp_path):
    def stop_late(event):
        if event["kind"] == "step" and event["step"] == 9:
            raise KeyboardInterrupt

    train_charlm(TINY, TEXT, tmp_path / "r", on_event=stop_late)  # resumable checkpoint at step 9
    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert max(json.loads(x)["step"] for x in lines) == 9
    train_charlm(TINY, TEXT, tmp_path / "r", resume=tmp_path / "r")
    records = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == list(range(1, 13))


def test_ctrl_c_leaves_a_resumable_checkpoint_of_the_last_finished_step(tmp_path):
    def ctrl_c(event):
        if event["kind"] == "step" and event["step"] == 3:
            raise KeyboardInterrupt

    result = train_charlm(TINY, TEXT, tmp_path / "c", on_event=ctrl_c)
    assert result.reason == "interrupted" and "resumable checkpoint" in result.message
    tensors, meta = read_resume(tmp_path / "c")
    assert meta["counters"]["step"] == 3 and meta["task_state"]["window"] == 3
    assert meta["config"] == TINY.to_dict()
    assert any(k.startswith("optim.") for k in tensors) and "task.h" in tensors


def test_should_stop_is_checked_before_every_step(tmp_path):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 5

    result = train_charlm(TINY, TEXT, tmp_path / "s", should_stop=should_stop)
    assert result.reason == "stopped" and result.step == 5
    assert read_resume(tmp_path / "s")[1]["counters"]["step"] == 5


class NaNAtStep5(CharLMTask):
    calls = 0

    def compute(self):
        loss, grads, pending = super().compute()
        NaNAtStep5.calls += 1
        return (float("nan") if NaNAtStep5.calls == 5 else loss), grads, pending


def test_a_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from rnnlab.training import charlm as charlm_training

    NaNAtStep5.calls = 0
    monkeypatch.setattr(charlm_training, "CharLMTask", NaNAtStep5)
    result, events = run(tmp_path, "n", TINY.replace(eval_every=2))
    assert result.reason == "nan" and result.step == 4
    assert "step 5" in result.message and "last good checkpoint" in result.message
    model = CharLM.load(tmp_path / "n" / "model.safetensors")
    assert model.meta["steps"] == 4 and all(np.isfinite(p).all() for p in model.params.values())
    assert events[-1]["kind"] == "done" and events[-1]["reason"] == "nan"


def test_a_huge_learning_rate_that_blows_up_is_caught_by_name(tmp_path):
    result, _ = run(tmp_path, "h", TINY.replace(lr=1e38, clip=0.0, warmup_steps=0, steps=40, eval_every=100))
    assert result.reason == "nan" and "NaN or infinite at step" in result.message


def test_a_failed_save_raises_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run(tmp_path, "f", TINY.replace(steps=4, eval_every=4))
    model_file = tmp_path / "f" / "model.safetensors"
    before = model_file.read_bytes()

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "replace", disk_full)
    with pytest.raises(TrainingError, match="could not save .*No space left.*previous file"):
        train_charlm(TINY.replace(steps=4, eval_every=4, seed=1), TEXT, tmp_path / "f")
    assert model_file.read_bytes() == before
    assert CharLM.load(model_file).meta["steps"] == 4
    assert not [p for p in (tmp_path / "f").iterdir() if p.name.endswith(".tmp")]


def test_a_time_budget_stops_the_run(tmp_path):
    result, _ = run(tmp_path, "t", TINY.replace(steps=None, minutes=0.002, eval_every=1000))
    assert result.reason == "time" and result.step >= 1 and result.seconds >= 0.12


def test_a_text_too_short_for_one_window_is_a_clear_error(tmp_path):
    with pytest.raises(TrainingError, match=r"too short: its training part has 27 characters.*needs at least 40"):
        train_charlm(TINY, "abcdefghijklmnopqrstuvwxyz0123", tmp_path / "x")


def test_resuming_on_another_text_is_refused(tmp_path):
    run(tmp_path, "a", TINY.replace(steps=2))
    with pytest.raises(TrainingError, match="another text"):
        train_charlm(TINY, TEXT.upper(), tmp_path / "b", resume=tmp_path / "a")


def test_a_model_file_is_not_a_resumable_checkpoint(tmp_path):
    run(tmp_path, "a", TINY.replace(steps=2))
    with pytest.raises(TrainingError, match="not a resumable checkpoint"):
        read_resume(tmp_path / "a" / "model.safetensors")


def test_with_ema_the_saved_model_is_the_average_and_training_continues_from_the_raw_weights(tmp_path):
    from rnnlab.training.charlm_task import CharLMTask as Task

    tasks = []

    class Spy(Task):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            tasks.append(self)

    import rnnlab.training.charlm as charlm_training

    original = charlm_training.CharLMTask
    charlm_training.CharLMTask = Spy
    try:
        result, events = run(tmp_path, "e", TINY.replace(ema=0.9, steps=8, eval_every=8))
    finally:
        charlm_training.CharLMTask = original
    saved = CharLM.load(tmp_path / "e" / "model.safetensors")
    raw = tasks[0].params
    assert saved.meta["train_config"]["ema"] == 0.9
    assert any(not np.array_equal(saved.params[k], raw[k]) for k in raw)  # the average, not the raw weights
    tensors, _ = read_resume(tmp_path / "e")
    for k in raw:
        np.testing.assert_array_equal(tensors[f"param.{k}"], raw[k])
        np.testing.assert_array_equal(tensors[f"ema.{k}"], saved.params[k])
