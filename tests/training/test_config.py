"""Training configuration: frozen, type-checked, unknown keys rejected, presets valid, schedule shape."""

from __future__ import annotations

import dataclasses
import math

import pytest

from rnnlab.training import PRESETS, ConfigError, TrainConfig, preset
from rnnlab.training.schedule import budget_progress, learning_rate


def test_every_preset_is_a_valid_frozen_config():
    assert set(PRESETS) == {"tiny", "small", "default"}
    for config in PRESETS.values():
        assert TrainConfig.from_dict(config.to_dict()) == config
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.lr = 1.0


def test_unknown_keys_are_errors_not_silently_ignored():
    with pytest.raises(ConfigError, match=r"unknown configuration keys: \['hiden_size'\]"):
        TrainConfig.from_dict({"hiden_size": 10})
    with pytest.raises(ConfigError, match="unknown configuration keys"):
        preset("tiny").replace(learning_rate=0.1)


@pytest.mark.parametrize("key, value, message", [
    ("hidden_size", 2.5, "hidden_size must be int"),
    ("hidden_size", "64", "hidden_size must be int"),
    ("lr", "fast", "lr must be float"),
    ("steps", True, "steps must be int or None"),
    ("cell", "transformer", "cell must be one of"),
    ("dropout", 1.0, "dropout must be in"),
    ("lr", -1.0, "lr must be a positive number"),
    ("val_fraction", 0.0, "val_fraction"),
])
def test_wrong_types_and_ranges_are_named(key, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().replace(**{key: value})


def test_integers_are_accepted_for_float_fields_and_a_budget_is_required():
    assert TrainConfig(lr=1, minutes=2).lr == 1
    with pytest.raises(ConfigError, match="set steps or minutes"):
        TrainConfig(steps=None, minutes=None)


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ConfigError, match=r"unknown preset 'huge'.*default.*small.*tiny"):
        preset("huge")


def test_warmup_rises_linearly_then_cosine_decays_to_the_floor():
    config = TrainConfig(lr=1.0, warmup_steps=10, steps=110, minutes=None, min_lr_ratio=0.1)
    assert learning_rate(config, 1, 0.0) == pytest.approx(0.1)
    assert learning_rate(config, 10, 0.0) == pytest.approx(1.0)
    assert learning_rate(config, 60, budget_progress(config, 60, 0)) == pytest.approx(0.55)  # half way
    assert learning_rate(config, 110, 1.0) == pytest.approx(0.1)
    lrs = [learning_rate(config, s, budget_progress(config, s, 0)) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_a_time_budget_drives_the_cosine_by_training_seconds():
    config = TrainConfig(lr=2.0, steps=None, minutes=1.0, min_lr_ratio=0.0)
    assert budget_progress(config, 10, 30.0) == pytest.approx(0.5)
    assert learning_rate(config, 10, 0.5) == pytest.approx(1.0)
    assert learning_rate(config, 10, 1.0) == pytest.approx(0.0, abs=1e-12)


def test_constant_schedule_keeps_the_rate_after_warmup():
    config = TrainConfig(lr=0.5, schedule="constant", warmup_steps=4, steps=10, minutes=None)
    assert [learning_rate(config, s, s / 10) for s in (2, 4, 9)] == [0.25, 0.5, 0.5]
    assert not math.isnan(learning_rate(config, 10, 1.0))


def test_the_default_preset_is_the_recipe_in_configs_default_toml():
    import tomllib
    from pathlib import Path

    recipe = tomllib.loads((Path(__file__).parents[2] / "configs" / "default.toml").read_text())
    assert recipe["corpus"] == "tinyshakespeare" and recipe["preset"] == "default"
    assert TrainConfig.from_dict({**PRESETS["default"].to_dict(), **recipe["train"]}) == PRESETS["default"]
    assert set(recipe["train"]) | {"steps", "eval_max_chars"} == set(TrainConfig().to_dict())
