"""Request and response schemas of the visualizer resource (``/api/visualizer``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...tasks.visualizer import SEQUENCE_TYPES
from .limits import (
    FREE_TEXT_MAX_CHARS,
    HIDDEN_MAX,
    HIDDEN_MIN,
    LR_MAX,
    LR_MIN,
    RECURRENT_SCALE_MAX,
    SEED_MAX,
    SEQ_LEN_MAX,
    SEQ_LEN_MIN,
    TRAIN_SECONDS_MAX,
    TRAIN_SECONDS_MIN,
    bounded,
    limited_text,
)

Strict = ConfigDict(extra="forbid", allow_inf_nan=False)


class NetworkConfig(BaseModel):
    """The Network Configuration panel."""

    model_config = Strict
    cell: Literal["rnn", "lstm", "gru"] = "rnn"
    hidden_size: int = bounded("network.hidden_size", HIDDEN_MIN, HIDDEN_MAX, 8, "hidden units H")
    activation: Literal["tanh", "relu"] = Field("tanh", description="nonlinearity of the vanilla RNN")
    init: Literal["pytorch", "xavier", "orthogonal", "identity"] = "pytorch"
    recurrent_scale: float = bounded("network.recurrent_scale", 0.0, RECURRENT_SCALE_MAX, 1.0,
                                     "W_hh is multiplied by this after initialization")
    seed: int = bounded("network.seed", 0, SEED_MAX, 0, "random seed of the initialization")


class SequenceConfig(BaseModel):
    """The Sequence Type panel: a type, one of its examples, a length, and free text."""

    model_config = Strict
    type: str = Field("sine", max_length=32, description="a sequence type from GET /api/visualizer/options")
    example: str | None = Field(None, max_length=64, description="one of the type's examples; null = the first")
    length: int = bounded("sequence.length", SEQ_LEN_MIN, SEQ_LEN_MAX, 24, "time steps T")
    text: str = limited_text("sequence.text", FREE_TEXT_MAX_CHARS, "", "free input: numbers separated by commas, or text")

    @model_validator(mode="after")
    def _known_type_and_example(self):
        if self.type not in SEQUENCE_TYPES:
            raise ValueError(f"type must be one of {sorted(SEQUENCE_TYPES)}, got {self.type!r}")
        names = [e.name for e in SEQUENCE_TYPES[self.type].examples]
        if self.example is not None and self.example not in names:
            raise ValueError(f"example must be one of {names} for type {self.type!r}, got {self.example!r}")
        return self


class TraceRequest(BaseModel):
    model_config = Strict
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    sequence: SequenceConfig = Field(default_factory=SequenceConfig)
    model_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$",
                                 description="use the weights of a network trained in the page (from train)")


class TrainRequest(BaseModel):
    """Sent as the first WebSocket message of ``/api/visualizer/train``."""

    model_config = Strict
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    sequence: SequenceConfig = Field(default_factory=SequenceConfig)
    seconds: float = bounded("seconds", TRAIN_SECONDS_MIN, TRAIN_SECONDS_MAX, 3.0, "training time")
    lr: float = bounded("lr", LR_MIN, LR_MAX, 0.01, "Adam learning rate")


class SequenceOut(BaseModel):
    type: str
    example: str
    kind: Literal["regression", "classification"]
    length: int
    description: str
    input_labels: list[str]
    target_labels: list[str]
    classes: list[str] | None
    mask: list[bool]
    scale: float
    inputs: list[float]


class NetworkOut(NetworkConfig):
    model_config = ConfigDict(extra="forbid")
    gates: list[str]
    input_size: int
    output_size: int
    steps_trained: int


class ParamsOut(BaseModel):
    """The parameters of the first K = math_units units of every gate block (for the math section)."""

    math_units: int
    weight_ih: list[list[float]]  # (G*K, I)
    weight_hh: list[list[float]]  # (G*K, K)
    bias_ih: list[float]  # (G*K,)
    bias_hh: list[float]  # (G*K,)
    head_weight: list[list[float]]  # (O, K)
    head_bias: list[float]  # (O,)


class TraceResponse(BaseModel):
    """Everything the page shows for one sequence (T steps, H hidden units, G gates)."""

    sequence: SequenceOut
    network: NetworkOut
    model_id: str | None = Field(description="set when the weights were trained in the page")
    hidden: list[list[float]] = Field(description="h_t, (T, H)")
    cell_state: list[list[float]] | None = Field(description="LSTM c_t, (T, H)")
    gates: dict[str, list[list[float]]] = Field(description="gate name -> (T, H)")
    preact: dict[str, list[list[float]]] = Field(
        description="gate name (\"h\" for the vanilla RNN) -> pre-activations of its first math_units units, (T, K)")
    outputs: dict[str, list[float] | list[list[float]]]
    predicted_labels: list[str]
    loss: float | None = Field(description="mean loss over the steps with a target; null if it overflowed")
    step_loss: list[float]
    grad_h: list[list[float]] = Field(description="dL/dh_t, (T, H)")
    grad_h_norm: list[float]
    overflow: bool = Field(description="some values were not finite (exploding activations) and were clipped")
    params: ParamsOut
    figures: dict[str, Any] = Field(description="Plotly figure specs (hidden, prediction, gates) the page renders; "
                                    "the heatmaps' z is null: the page fills it from hidden / gates / cell_state")


class ExampleOut(BaseModel):
    name: str
    label: str
    description: str


class SequenceTypeOut(BaseModel):
    name: str
    label: str
    kind: str
    description: str
    examples: list[ExampleOut]


class OptionsResponse(BaseModel):
    cells: list[str]
    activations: list[str]
    inits: list[str]
    sequence_types: list[SequenceTypeOut]
    limits: dict[str, list[float]] = Field(description="field -> [min, max]")
    defaults: TraceRequest
