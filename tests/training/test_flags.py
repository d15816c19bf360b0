"""training/flags.py: the configuration flags ``rnnlab train`` and the DDP entry point share."""

from __future__ import annotations

import argparse

import pytest

from rnnlab.training import ConfigError, preset
from rnnlab.training.flags import CONFIG_FLAGS, add_config_flags, config_overrides


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_config_flags(p)
    return p.parse_args(list(argv))


def test_flags_become_config_fields_and_a_budget_flag_clears_the_other_budget():
    args = parse("--cell", "gru", "--hidden", "32", "--seq-len", "16", "--minutes", "2")
    assert config_overrides(args) == {"cell": "gru", "hidden_size": 32, "seq_len": 16, "minutes": 2.0, "steps": None}
    assert config_overrides(parse("--steps", "10")) == {"steps": 10, "minutes": None}
    assert config_overrides(parse()) == {}


def test_set_reads_json_values_and_keeps_other_text():
    args = parse("--set", "warmup_steps=100", "--set", "schedule = cosine", "--set", "min-lr-ratio=0.1")
    assert config_overrides(args) == {"warmup_steps": 100, "schedule": "cosine", "min_lr_ratio": 0.1}
    assert preset("tiny").replace(**config_overrides(args)).warmup_steps == 100


def test_set_without_an_equals_sign_is_a_config_error():
    with pytest.raises(ConfigError, match="--set needs KEY=VALUE"):
        config_overrides(parse("--set", "warmup_steps"))


def test_the_two_budgets_cannot_be_given_together():
    with pytest.raises(SystemExit):
        parse("--minutes", "1", "--steps", "5")


def test_rnnlab_train_and_the_ddp_entry_point_take_the_same_configuration_flags():
    from rnnlab.backends.ddp import build_parser
    from rnnlab.cli.train import add_arguments

    train = argparse.ArgumentParser()
    add_arguments(train)
    dests = {parser: {a.dest for a in parser._actions} for parser in (train, build_parser())}
    for names in dests.values():
        assert set(CONFIG_FLAGS) | {"set"} <= names
