"""The visualizer's work: build the sequence and network, trace them, train in the page.

Networks trained in the page are kept (least recently used first out) under a random id, so the
page can trace other examples with the trained weights (``model_id``).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable

from ... import viz
from ...tasks import visualizer as vis
from ..errors import Busy, Conflict, InvalidInput, NotFound
from ..schemas.limits import RANGES
from ..schemas.visualizer import NetworkConfig, SequenceConfig, TraceRequest, TrainRequest


class VisualizerManager:
    def __init__(self, max_training_jobs: int = 2, kept: int = 32):
        self._trained: OrderedDict[str, vis.SequenceModel] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()
        self._jobs = threading.BoundedSemaphore(max_training_jobs)
        self.active_trainings = 0  # trainings running now (each stops within a step once its client goes)

    # ---- options ------------------------------------------------------------------------------
    def options(self) -> dict:
        names = {"network.hidden_size": "hidden_size", "sequence.length": "length", "network.recurrent_scale":
                 "recurrent_scale", "network.seed": "seed", "seconds": "seconds", "lr": "lr", "sequence.text": "text"}
        limits = {short: [float(lo), float(hi)] for key, short in names.items() for lo, hi in [RANGES[key]]}
        return {"cells": list(vis.CELLS), "activations": list(vis.ACTIVATIONS), "inits": list(vis.INITS),
                "sequence_types": vis.describe_sequence_types(), "limits": limits,
                "defaults": TraceRequest().model_dump()}

    # ---- building -----------------------------------------------------------------------------
    @staticmethod
    def sequence(cfg: SequenceConfig) -> vis.SequenceData:
        try:
            return vis.make_sequence(vis.SequenceSpec(cfg.type, cfg.example, cfg.length, cfg.text))
        except ValueError as e:
            raise InvalidInput(str(e), "sequence.text" if cfg.type == "free" else "sequence") from None

    @staticmethod
    def network(cfg: NetworkConfig) -> vis.NetworkSpec:
        return vis.NetworkSpec(**cfg.model_dump())

    def _trained_model(self, model_id: str) -> vis.SequenceModel:
        with self._lock:
            model = self._trained.get(model_id)
            if model is None:
                raise NotFound(f"no trained network with id {model_id} (it may have expired): train again",
                               "model_id")
            self._trained.move_to_end(model_id)
            return model

    # ---- tracing ------------------------------------------------------------------------------
    def trace(self, req: TraceRequest) -> dict:
        seq = self.sequence(req.sequence)
        if req.model_id is None:
            model = vis.SequenceModel.for_sequence(self.network(req.network), seq)
        else:
            model = self._trained_model(req.model_id)
            if model.network != self.network(req.network):
                raise Conflict("the trained network has a different configuration: trace it untrained or retrain",
                               "model_id")
            if not model.fits(seq):
                raise Conflict("the trained network does not fit this sequence (other inputs or outputs): "
                               "trace it untrained or retrain", "model_id")
        return self._respond(model, seq, req.model_id)

    def _respond(self, model: vis.SequenceModel, seq: vis.SequenceData, model_id: str | None) -> dict:
        data = vis.trace_json(model, seq)
        data["model_id"] = model_id
        data["figures"] = self.figures(data)
        return data

    @staticmethod
    def figures(data: dict) -> dict:
        seq = data["sequence"]
        labels = [viz.display_char(c) for c in seq["input_labels"]] if seq["kind"] == "classification" else None
        figs = {"hidden": viz.hidden_heatmap_spec(data["hidden"], step_labels=labels),
                "prediction": viz.prediction_spec(data), "gates": {}}
        for name, values in data["gates"].items():
            figs["gates"][name] = viz.heatmap_spec(values, name, step_labels=labels)
        if data["cell_state"] is not None:
            figs["gates"]["c"] = viz.heatmap_spec(data["cell_state"], "c", step_labels=labels)
        for spec in (figs["hidden"], *figs["gates"].values()):
            spec["data"][0]["z"] = None  # the same numbers are in hidden / gates / cell_state: sent once
        return figs

    # ---- training -----------------------------------------------------------------------------
    def train(self, req: TrainRequest, on_progress: Callable[[vis.TrainProgress], None],
              should_stop: Callable[[], bool]) -> dict:
        """Blocking (run it in a worker thread). Raises Busy when too many trainings run."""
        seq = self.sequence(req.sequence)
        if not self._jobs.acquire(blocking=False):
            raise Busy("too many networks are training at once: try again in a few seconds")
        with self._lock:
            self.active_trainings += 1
        try:
            model = vis.SequenceModel.for_sequence(self.network(req.network), seq)
            spec = vis.SequenceSpec(req.sequence.type, req.sequence.example, req.sequence.length, req.sequence.text)
            history = model.train(spec, seconds=req.seconds, lr=req.lr, on_progress=on_progress,
                                  should_stop=should_stop)
        finally:
            with self._lock:
                self.active_trainings -= 1
            self._jobs.release()
        model_id = uuid.uuid4().hex
        with self._lock:
            self._trained[model_id] = model
            while len(self._trained) > self._kept:
                self._trained.popitem(last=False)
        result = self._respond(model, seq, model_id)
        result["training"] = {"steps": len(history), "final_loss": model.final_loss,
                              "seconds": history[-1].elapsed if history else 0.0}
        return result

    @staticmethod
    def loss_figure() -> dict:
        return viz.loss_curve_spec(title="Training loss (live)")
