"""Request and response schemas of the gradients resource (``/api/gradients``): the vanishing-gradient section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...tasks.gradient_lab import CHECK_HIDDEN_MAX, CHECK_SEQ_LEN_MAX, FORGET_BIAS_MAX, SEQ_LEN_RANGE
from .limits import HIDDEN_MAX, HIDDEN_MIN, RECURRENT_SCALE_MAX, SEED_MAX, bounded

Strict = ConfigDict(extra="forbid", allow_inf_nan=False)
GRAD_SEQ_LEN_MIN, GRAD_SEQ_LEN_MAX = SEQ_LEN_RANGE
CLIP_THRESHOLD_MIN, CLIP_THRESHOLD_MAX = 0.01, 100.0
TIME_SKIP_MAX = 50


class GradientControls(BaseModel):
    """The section's controls: one setting shared by the three cells."""

    model_config = Strict
    seq_len: int = bounded("seq_len", GRAD_SEQ_LEN_MIN, GRAD_SEQ_LEN_MAX, 50, "time steps T")
    hidden_size: int = bounded("hidden_size", HIDDEN_MIN, HIDDEN_MAX, 16, "hidden units H")
    recurrent_scale: float = bounded("recurrent_scale", 0.0, RECURRENT_SCALE_MAX, 1.0,
                                     "W_hh is multiplied by this after initialization")
    forget_bias: float = bounded("forget_bias", 0.0, FORGET_BIAS_MAX, 0.0,
                                 "LSTM: added to the forget gate's bias after initialization")
    activation: Literal["tanh", "relu"] = Field("tanh", description="nonlinearity of the vanilla RNN")
    init: Literal["pytorch", "xavier", "orthogonal", "identity"] = "pytorch"
    clip: Literal["none", "norm", "value"] = Field("none", description="gradient clipping by global norm or value")
    clip_threshold: float = bounded("clip_threshold", CLIP_THRESHOLD_MIN, CLIP_THRESHOLD_MAX, 1.0,
                                    "clipping threshold")
    time_skip: int = bounded("time_skip", 0, TIME_SKIP_MAX, 0, "K > 0: h_t is also fed by h_{t-K} (0 = off)")
    attention: Literal["none", "dot", "additive"] = Field("none", description="attention read-out over h_0..h_T")
    seed: int = bounded("seed", 0, SEED_MAX, 0, "random seed of the initialization and the input")

    @model_validator(mode="after")
    def _skip_shorter_than_the_sequence(self):
        if self.time_skip >= self.seq_len:
            raise ValueError(f"time_skip must be smaller than seq_len ({self.seq_len}), got {self.time_skip}")
        return self


class CheckRequest(BaseModel):
    """A numerical gradient check of one cell on a small model (the section's current controls)."""

    model_config = Strict
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    controls: GradientControls = Field(default_factory=lambda: GradientControls(seq_len=12, hidden_size=6))

    @model_validator(mode="after")
    def _small_model(self):
        c = self.controls
        if c.seq_len > CHECK_SEQ_LEN_MAX or c.hidden_size > CHECK_HIDDEN_MAX:
            raise ValueError(f"the gradient check runs on a small model: controls.seq_len <= {CHECK_SEQ_LEN_MAX} "
                             f"and controls.hidden_size <= {CHECK_HIDDEN_MAX} (got {c.seq_len} and {c.hidden_size})")
        return self


Num = float | None  # null where a value overflowed (inf or NaN)


class CellCurves(BaseModel):
    norms: list[Num] = Field(description="||d loss / d h_t|| for t = 1..T (batch mean, per-sequence loss)")
    clipped_norms: list[Num] = Field(description="the same after clipping (one factor for the whole gradient)")
    ratio: Num = Field(description="||dL/dh_1|| / ||dL/dh_T||")
    loss: Num
    param_norm: Num = Field(description="global norm of the parameter gradient")
    param_norm_clipped: Num
    clipped: bool
    spectral_radius: list[Num] = Field(description="largest |eigenvalue| of each gate block of W_hh")
    weight_hh_norm: list[Num] = Field(description="spectral norm ||W_hh||_2 of each gate block")
    gates: list[str]
    factors: dict[str, list[Num]] = Field(description="mean per-step factor (see factor_doc), (T,)")
    factor_means: dict[str, Num]
    jacobian_norms: list[Num] = Field(description="||dh_t / dh_{t-1}||_2 (LSTM: of the state [h; c])")
    product_to_end: list[Num] = Field(description="||dh_T / dh_t||_2, the running product of the Jacobians")
    exact_paths: bool = Field(description="false with skip or attention: the Jacobians omit those paths")


class NormsResponse(BaseModel):
    spec: GradientControls
    cells: dict[str, CellCurves] = Field(description="rnn, lstm, gru")
    factor_doc: dict[str, str]


class ParameterCheck(BaseModel):
    name: str
    shape: list[int]
    entries: list[int] = Field(description="flat indices of the checked entries")
    relative_error: Num
    analytic: list[Num] = Field(description="hand-written BPTT gradient of those entries")
    numeric: list[Num] = Field(description="finite-difference gradient of those entries")
    finite_difference_spread: Num = Field(description="relative change of the finite differences when their step is "
                                                       "halved")
    resolvable: bool = Field(description="finite differences can judge this parameter: they do not move with the "
                                         "step size, and the loss's float64 rounding stays below the tolerance")


class CheckResponse(BaseModel):
    cell: str
    spec: GradientControls
    parameters: list[ParameterCheck]
    max_relative_error: Num
    tolerance: float
    ok: bool = Field(description="every parameter finite differences can judge agrees within the tolerance")
    unresolved: list[str] = Field(description="parameters finite differences cannot judge here, whose values differ")
    loss: Num = Field(description="the loss at the checked point (float64)")
    method: str
    num_params: int
    global_norm: Num


class GradientOptions(BaseModel):
    cells: list[str]
    limits: dict[str, list[float]] = Field(description="field -> [min, max]")
    check_limits: dict[str, int]
    defaults: GradientControls
