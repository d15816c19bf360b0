"""The training configuration: one frozen dataclass, named presets, type-checked overrides.

    config = preset("small").replace(lr=3e-3, minutes=2)    # unknown keys and wrong types are errors
    config = TrainConfig.from_dict(json.load(f))             # the same checks for recipe files

The whole configuration is saved with every checkpoint (``asdict``), so a model says how it was made.
The learning rate follows ``schedule.py``: linear warm-up over ``warmup_steps``, then ``constant`` or
``cosine`` decay to ``lr * min_lr_ratio`` at the end of the budget (``steps`` or ``minutes``).
Proved by ``tests/training/test_config.py``.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import asdict, dataclass, fields, replace

CELLS = ("lstm", "gru", "rnn")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad")
INITS = ("pytorch", "xavier", "orthogonal", "identity")


class ConfigError(ValueError):
    """A configuration key is unknown or a value has the wrong type or range."""


@dataclass(frozen=True)
class TrainConfig:
    # model
    cell: str = "lstm"  # lstm | gru | rnn
    hidden_size: int = 256  # H
    num_layers: int = 2  # L
    nonlinearity: str = "tanh"  # vanilla RNN only
    init: str = "pytorch"  # pytorch | xavier | orthogonal | identity (engine/init.py)
    forget_bias: float | None = None  # LSTM: the forget-gate part of bias_ih (bias_hh's part is 0)
    dropout: float = 0.0  # on the output of every recurrent layer, training only (inverted dropout)
    weight_drop: float = 0.0  # DropConnect on W_hh, one mask per window and layer (AWD-LSTM), training only
    # data
    seq_len: int = 100  # T: characters per window of truncated BPTT
    batch_size: int = 64  # B: contiguous streams
    val_fraction: float = 0.1  # the last fraction of the text is validation
    # optimization
    optimizer: str = "adam"
    lr: float = 2e-3
    schedule: str = "cosine"  # constant | cosine
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # cosine ends at lr * min_lr_ratio
    beta2: float = 0.999  # Adam's second-moment decay
    weight_decay: float = 0.0  # AdamW only
    clip: float = 5.0  # global gradient-norm clipping (0 = off)
    ema: float = 0.0  # > 0: validate and save an exponential moving average of the weights with this decay
    # budget: the run stops at whichever comes first; at least one must be set
    steps: int | None = None
    minutes: float | None = 5.0  # training time, evaluation excluded
    # bookkeeping
    seed: int = 0
    eval_every: int = 250  # steps between validations (and resumable checkpoints)
    eval_streams: int = 32  # validation as this many contiguous streams, state carried
    eval_max_chars: int | None = None  # validate on at most this many characters (None: all)
    sample_length: int = 200  # characters sampled at each validation (0 = none)

    def __post_init__(self) -> None:
        check_types(self)
        checks = [
            (self.cell in CELLS, f"cell must be one of {CELLS}"),
            (self.nonlinearity in ("tanh", "relu"), "nonlinearity must be tanh or relu"),
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.hidden_size >= 1 and self.num_layers >= 1, "hidden_size and num_layers must be >= 1"),
            (self.seq_len >= 1 and self.batch_size >= 1, "seq_len and batch_size must be >= 1"),
            (0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)"),
            (0.0 <= self.weight_drop < 1.0, "weight_drop must be in [0, 1)"),
            (0.0 <= self.ema < 1.0, "ema must be in [0, 1)"),
            (0.0 < self.val_fraction < 1.0, "val_fraction must be in (0, 1)"),
            (self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number"),
            (0.0 <= self.min_lr_ratio <= 1.0, "min_lr_ratio must be in [0, 1]"),
            (0.0 < self.beta2 < 1.0, "beta2 must be in (0, 1)"),
            (self.warmup_steps >= 0 and self.weight_decay >= 0 and self.clip >= 0,
             "warmup_steps, weight_decay and clip must be >= 0"),
            (self.steps is not None or self.minutes is not None, "set steps or minutes (or both)"),
            (self.steps is None or self.steps >= 1, "steps must be >= 1"),
            (self.minutes is None or self.minutes > 0, "minutes must be > 0"),
            (self.eval_every >= 1 and self.eval_streams >= 1, "eval_every and eval_streams must be >= 1"),
            (self.eval_max_chars is None or self.eval_max_chars >= 2, "eval_max_chars must be >= 2"),
            (self.sample_length >= 0, "sample_length must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    # ---- building and changing -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Unknown keys are errors (a typo must not silently fall back to a default)."""
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown configuration keys: {unknown}; known: {sorted(f.name for f in fields(cls))}")
        return cls(**values)

    def replace(self, **overrides) -> TrainConfig:
        unknown = sorted(set(overrides) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"unknown configuration keys: {unknown}")
        return replace(self, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


def _allowed(annotation) -> tuple[type, ...]:
    """The runtime types an annotation string like 'int | None' allows (ints are fine for floats)."""
    hint = eval(annotation, {"__builtins__": {}}, {"int": int, "float": float, "str": str, "bool": bool})
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    allowed = tuple(type(None) if o is None else o for o in options)
    return allowed + ((int,) if float in allowed else ())


def check_types(config) -> None:
    for f in fields(config):
        value = getattr(config, f.name)
        allowed = _allowed(f.type)
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            names = " or ".join("None" if t is type(None) else t.__name__ for t in dict.fromkeys(allowed))
            raise ConfigError(f"{f.name} must be {names}, got {value!r}")


# ---- presets: most users set one knob -------------------------------------------------------------
PRESETS: dict[str, TrainConfig] = {
    # seconds on a laptop: for trying the pipeline, tests and demos
    "tiny": TrainConfig(cell="lstm", hidden_size=64, num_layers=1, seq_len=32, batch_size=16, lr=5e-3,
                        warmup_steps=10, minutes=1.0, eval_every=100, eval_max_chars=20_000, sample_length=100),
    # a few minutes: reaches <= 1.50 nats/char on tiny-shakespeare in 5 minutes on 2 cores
    "small": TrainConfig(cell="lstm", hidden_size=256, num_layers=2, seq_len=64, batch_size=32, lr=4e-3,
                         warmup_steps=50, min_lr_ratio=0.0, minutes=5.0, eval_every=250),
    # the bundled default model's recipe, exactly as configs/default.toml (a test keeps them equal)
    "default": TrainConfig(cell="lstm", hidden_size=300, num_layers=2, forget_bias=1.0, dropout=0.2, weight_drop=0.2,
                           seq_len=100, batch_size=32, lr=3e-3, warmup_steps=200, min_lr_ratio=0.02, ema=0.999,
                           minutes=120.0, eval_every=500, sample_length=300),
}


def preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
