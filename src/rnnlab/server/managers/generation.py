"""Generation: a session per request that hands out the sampled characters in chunks.

The router runs ``open`` and ``take`` in a worker thread (they compute), and sends each chunk as one
WebSocket message: a chunk holds the characters made in about 20 ms, so the page gets every
character with its distribution and hidden state at hundreds of characters per second without one
message per character.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ... import viz
from ...data.vocab import VocabError
from ...tasks import sampling
from ...tasks import visualizer as vis
from ..errors import InvalidInput
from ..schemas.generation import GenerateRequest
from ..schemas.models import DistributionRequest
from .models import ModelRegistry

TEMPERATURE_GRID = [round(0.1 * k, 1) for k in range(1, 21)]  # 0.1 .. 2.0


class GenerationSession:
    def __init__(self, model_id: str, model, req: GenerateRequest, time_limit: float, on_close=None):
        self.model_id, self.model, self.req = model_id, model, req
        self._on_close = on_close
        self.chars = model.vocab.chars
        try:
            self.steps = sampling.stream(model, req.prompt, req.length, req.temperature, req.top_k, req.top_p,
                                         req.seed, req.greedy)
        except VocabError as e:
            raise InvalidInput(str(e), "prompt") from None
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        self.started = time.perf_counter()
        self.deadline = self.started + time_limit
        self.count = 0
        self.finished = False
        self.timed_out = False

    def start_message(self) -> dict:
        cfg = self.model.config
        prompt = self.req.prompt
        first_input = prompt[-1] if prompt else ("\n" if "\n" in self.model.vocab else self.chars[0])
        return {"type": "start", "model": self.model_id, "prompt": prompt, "length": self.req.length,
                "temperature": self.req.temperature, "vocab": self.chars, "cell": cfg.cell,
                "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers, "first_input": first_input,
                "max_entropy": float(np.log2(len(self.chars))),
                "figure": viz.distribution_spec([], [])}

    def take(self, budget: float = 0.02, max_steps: int = 256) -> list[dict]:
        """The next characters made within `budget` seconds (at least one); [] when finished."""
        out: list[dict] = []
        if self.finished:
            return out
        until = time.perf_counter() + budget
        for step in self.steps:
            out.append(vis.sample_step_json(step, self.chars))
            self.count += 1
            now = time.perf_counter()
            if now >= self.deadline:
                self.timed_out = True
                self.finished = True
                break
            if now >= until or len(out) >= max_steps:
                break
        else:
            self.finished = True
        return out

    def close(self) -> None:
        """Stop for good (the client went away or the stream ended); idempotent."""
        self.finished = True
        try:
            self.steps.close()
        except ValueError:  # a worker thread is inside take(): it sees `finished` and stops there
            pass
        if self._on_close is not None:
            self._on_close, on_close = None, self._on_close
            on_close()

    def done_message(self, stopped: bool = False) -> dict:
        elapsed = time.perf_counter() - self.started
        return {"type": "done", "count": self.count, "elapsed": round(elapsed, 4),
                "chars_per_second": round(self.count / elapsed, 1) if elapsed > 0 else None,
                "stopped": stopped, "timed_out": self.timed_out}


class GenerationManager:
    def __init__(self, registry: ModelRegistry, time_limit: float = 60.0):
        self.registry = registry
        self.time_limit = time_limit
        self.active = 0  # streamed generations open now (closed when the client goes away)
        self._lock = threading.Lock()

    def open(self, req: GenerateRequest) -> GenerationSession:
        model_id, model = self.registry.get(req.model)
        session = GenerationSession(model_id, model, req, self.time_limit, on_close=self._closed)
        with self._lock:
            self.active += 1
        return session

    def _closed(self) -> None:
        with self._lock:
            self.active -= 1

    def generate(self, req: GenerateRequest) -> dict:
        """The whole text at once (no hidden states)."""
        session = self.open(req)
        chars = []
        try:
            while chunk := session.take(budget=1.0, max_steps=10_000):
                chars += [{"char": s["c"], "prob": s["p"], "surprisal": s["S"], "entropy": s["H"]} for s in chunk]
        finally:
            session.close()
        return {"model": session.model_id, "prompt": req.prompt, "text": "".join(c["char"] for c in chars),
                "chars": chars, "elapsed": round(time.perf_counter() - session.started, 4)}

    def distribution(self, model_id: str, req: DistributionRequest) -> dict:
        _, model = self.registry.get(model_id)
        try:
            d = vis.prompt_distribution(model, req.prompt, req.temperature, TEMPERATURE_GRID)
        except VocabError as e:
            raise InvalidInput(str(e), "prompt") from None
        max_entropy = float(np.log2(len(model.vocab)))
        chars = [c for c, _ in d["top"]]
        probs = [p for _, p in d["top"]]
        return {"top": d["top"], "entropy": d["entropy"], "max_entropy": max_entropy,
                "temperatures": TEMPERATURE_GRID, "entropy_curve": d["entropy_curve"],
                "figures": {"distribution": viz.distribution_spec(chars, probs),
                            "entropy": viz.entropy_curve_spec(TEMPERATURE_GRID, d["entropy_curve"],
                                                              current=req.temperature, max_bits=max_entropy)}}
