"""The applications section's work: a language model trained on the user's text, forecasts of a
bundled series against baselines, the sentiment of a sentence word by word, and word boundaries put
back into a text whose spaces were taken out (sequence labelling).

All numbers come from ``rnnlab.tasks`` (``wordlm``, ``forecast``, ``classify``, ``labelling``); this maps requests
to them and their errors to HTTP errors, and remembers what the page trained (least recently used
first out). Trainings run one at a time (a 2-core machine) and stop within a step when asked.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...data.corpora import load_corpus
from ...data.timeseries import DATASETS, SeriesError, load_series
from ...tasks import forecast as fc
from ...tasks import labelling
from ...tasks.classify import SequenceClassifier
from ...tasks.sampling import one_blas_thread
from ...tasks.wordlm import WordData, WordLM, WordLMConfig, train_wordlm
from ..errors import Busy, InvalidInput, NotFound
from ..schemas import applications as schema

SENTIMENT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "sentiment.safetensors"
SEGMENTER_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "segmenter.safetensors"
DATASET_DESCRIPTIONS = {
    "sunspots": "yearly sunspot numbers, 1700-2008",
    "co2": "weekly CO2 at Mauna Loa, 1958-2001",
    "nile": "yearly flow of the Nile, 1871-1970",
    "elnino": "monthly Pacific sea-surface temperature, 1950-2010",
    "stocks": "weekly prices of six tech stocks, 2018-2019",
}


class ApplicationsManager:
    def __init__(self, kept: int = 8, max_jobs: int = 1, sentiment_path: Path | None = SENTIMENT_MODEL_PATH,
                 segmenter_path: Path | None = SEGMENTER_MODEL_PATH):
        self._models: OrderedDict[str, WordLM] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()
        self._jobs = threading.BoundedSemaphore(max_jobs)
        self._baselines: dict = {}  # forecast baselines per series (they do not depend on the network)
        self._sentiment_path = sentiment_path
        self._segmenter_path = segmenter_path
        self._bundled: dict[str, object] = {}  # "sentiment", "segmenter": loaded on first use

    # ---- options ------------------------------------------------------------------------------
    def options(self) -> dict:
        s = schema
        return {
            "lm": {"levels": ["char", "word"], "cells": ["rnn", "lstm", "gru"],
                   "limits": {"corpus_text": [s.LM_TEXT_MIN_CHARS, s.LM_TEXT_MAX_CHARS], "units": [s.UNITS_MIN, s.UNITS_MAX],
                              "train_seconds": [s.TRAIN_SECONDS_MIN, s.TRAIN_SECONDS_MAX],
                              "tokens": [1, s.GENERATE_TOKENS_MAX]},
                   "defaults": schema.LMTrainRequest().model_dump(exclude={"corpus_text"})},
            "forecast": {"datasets": [{"name": n, "description": DATASET_DESCRIPTIONS.get(n, n)} for n in DATASETS],
                         "cells": ["rnn", "lstm", "gru"],
                         "limits": {"units": [s.UNITS_MIN, s.UNITS_MAX], "max_steps": [s.FORECAST_STEPS_MIN, s.FORECAST_STEPS_MAX],
                                    "train_seconds": [s.TRAIN_SECONDS_MIN, s.TRAIN_SECONDS_MAX]},
                         "defaults": schema.ForecastTrainRequest().model_dump()},
            "classify": self.sentiment_status(),
            "segment": self.segmenter_status() | {"max_chars": labelling.SEGMENT_MAX_CHARS},
        }

    def _job(self):
        if not self._jobs.acquire(blocking=False):
            raise Busy("another application is training: wait for it or stop it")
        return self._jobs

    # ---- language model -------------------------------------------------------------------------
    @staticmethod
    def sample_text() -> dict:
        """A text to learn that exists wherever Python does: the start of its documentation topics."""
        text = load_corpus("pydoc").text[: schema.LM_TEXT_MAX_CHARS]
        return {"name": "Python documentation topics (pydoc_data.topics)", "text": text}

    def train_lm(self, req: schema.LMTrainRequest, on_progress: Callable[[dict], None],
                 should_stop: Callable[[], bool]) -> dict:
        """Blocking (run it in a worker thread)."""
        text = req.corpus_text
        if len(text) < schema.LM_TEXT_MIN_CHARS:
            raise InvalidInput(f"needs at least {schema.LM_TEXT_MIN_CHARS} characters of text, got {len(text)}",
                               "corpus_text")
        char = req.level == "char"
        config = WordLMConfig(level=req.level, cell=req.cell, embed_size=32 if char else 64, hidden_size=req.units,
                              min_count=1 if char else 2, max_vocab=5000)
        try:
            data = WordData.from_text(text, config)
        except ValueError as e:
            raise InvalidInput(f"{e}: paste more text", "corpus_text") from None
        seq_len = max(4, min(64 if char else 24, len(data.train) // 8))
        batch = max(1, min(16, (len(data.train) - seq_len) // (seq_len + 1)))
        prompt = config.join(config.tokens(text)[: 12 if char else 3])
        job = self._job()
        try:
            with one_blas_thread():
                result = train_wordlm(data, config, batch_size=batch, seq_len=seq_len, lr=5e-3,
                                      seconds=req.train_seconds, max_steps=100_000, eval_every=20, seed=req.seed,
                                      on_eval=on_progress, should_stop=should_stop, sample_prompt=prompt,
                                      sample_length=120 if char else 25)
        finally:
            job.release()
        model_id = uuid.uuid4().hex
        with self._lock:
            self._models[model_id] = result.model
            while len(self._models) > self._kept:
                self._models.popitem(last=False)
        return {"model_id": model_id, "steps": result.steps, "seconds": round(result.seconds, 3),
                "val_loss": result.best_val, "perplexity": float(np.exp(min(result.best_val, 50.0))),
                "best_step": result.best_step,
                "last_val_loss": float(result.last_val) if np.isfinite(result.last_val) else None,
                "vocab_size": len(data.vocab), "level": req.level, "prompt": prompt}

    def generate(self, req: schema.LMGenerateRequest) -> dict:
        with self._lock:
            model = self._models.get(req.model_id)
            if model is None:
                raise NotFound(f"no trained language model with id {req.model_id} (it may have expired): train again",
                               "model_id")
            self._models.move_to_end(req.model_id)
        with one_blas_thread():
            tokens = model.complete(req.prompt, req.tokens, req.temperature, seed=req.seed)
            top = model.next_words(req.prompt, 10, req.temperature)
        return {"prompt": req.prompt, "text": model.config.join(tokens), "level": model.config.level,
                "top10": [{"token": t, "probability": p} for t, p in top]}

    # ---- forecasting ----------------------------------------------------------------------------
    def train_forecast(self, req: schema.ForecastTrainRequest, on_progress: Callable[[dict], None],
                       should_stop: Callable[[], bool]) -> dict:
        try:
            series = load_series(req.dataset)
        except (SeriesError, ImportError) as e:
            raise InvalidInput(str(e), "dataset") from None
        config = fc.ForecastConfig(cell=req.cell, hidden_size=req.units, window=series.window)
        job = self._job()
        try:
            with one_blas_thread():
                report = fc.compare(series, [config], seconds=req.train_seconds, max_steps=req.max_steps,
                                    seed=req.seed, arima="small", on_eval=lambda _cell, r: on_progress(r),
                                    should_stop=should_stop, baseline_cache=self._baselines)
        finally:
            job.release()
        return forecast_json(report)

    # ---- sentiment --------------------------------------------------------------------------------
    def sentiment_status(self) -> dict:
        path = self._sentiment_path
        if path is None or not path.is_file():
            return {"available": False, "classes": [],
                    "message": "no sentiment model is installed (train one: rnnlab classify rotten_tomatoes "
                               "--out src/rnnlab/models/sentiment.safetensors --half)"}
        return {"available": True, "classes": ["fresh", "rotten"], "message": "a GRU trained on Rotten Tomatoes snippets"}

    def _load_bundled(self, name: str, status: Callable[[], dict], load: Callable[[], object]):
        """A bundled model, loaded on first use; NotFound (how to make one) when it is not installed."""
        with self._lock:
            if name not in self._bundled:
                if not (found := status())["available"]:
                    raise NotFound(found["message"])
                self._bundled[name] = load()
            return self._bundled[name]

    def _classifier(self) -> SequenceClassifier:
        return self._load_bundled("sentiment", self.sentiment_status,
                                  lambda: SequenceClassifier.load(self._sentiment_path))

    def classify(self, req: schema.ClassifyRequest) -> dict:
        if not req.sentence.strip():
            raise InvalidInput("type a sentence", "sentence")
        model = self._classifier()
        with one_blas_thread():
            tokens, probs = model.step_probabilities(req.sentence)
        final = probs[-1]
        return {"tokens": tokens, "classes": model.classes, "probabilities": probs.tolist(),
                "label": model.classes[int(final.argmax())], "confidence": float(final.max()),
                "test_accuracy": (getattr(model, "meta", None) or {}).get("test_accuracy")}


    # ---- sequence labelling ---------------------------------------------------------------------------
    def segmenter_status(self) -> dict:
        path = self._segmenter_path
        if path is None or not path.is_file():
            return {"available": False, "message": "no segmenter is installed (train one: rnnlab label rotten_tomatoes "
                                                   "--out src/rnnlab/models/segmenter.safetensors --half)"}
        return {"available": True, "message": "A GRU trained on Rotten Tomatoes snippets with their spaces taken out."}

    def _tagger(self) -> labelling.Tagger:
        return self._load_bundled("segmenter", self.segmenter_status, lambda: labelling.load_tagger(self._segmenter_path))

    def segment(self, req: schema.SegmentRequest) -> dict:
        tagger = self._tagger()
        try:
            with one_blas_thread():
                result = labelling.segment(tagger, req.text)
        except ValueError as e:
            raise InvalidInput(str(e), "text") from None
        test = tagger.meta.get("test") or {}
        return result | {"tags": list(labelling.TAGS), "cell": tagger.model.config.cell.upper(),
                         "test": {name: {k: m[k] for k in ("accuracy", "boundary_f1")} for name, m in test.items()}}


def _time_labels(time: np.ndarray) -> list:
    if np.issubdtype(time.dtype, np.datetime64):
        return [str(t)[:10] for t in time.astype("datetime64[D]")]
    return [t.item() if hasattr(t, "item") else t for t in time]


def forecast_json(report: fc.ForecastReport) -> dict:
    """What the page draws: the test tail (and some history) against each method's one-step forecast."""
    series, split = report.series, report.split
    start = max(0, split.n_train - min(3 * split.n_test, 300))
    times = _time_labels(series.time)
    network = next(m for m in report.methods if m.train is not None)
    return report.to_dict() | {
        "source": series.source, "column": series.columns[0],
        "history": {"time": times[start : split.n_train], "value": series.values[start : split.n_train, 0].tolist()},
        "test": {"time": times[split.n_train :], "value": series.values[split.n_train :, 0].tolist()},
        "forecasts": {m.name: m.one_step_forecast[:, 0].tolist() for m in report.methods},
        "network": network.name, "training": {"steps": network.train.steps, "seconds": round(network.train.seconds, 3),
                                                "best_step": network.train.best_step},
    }
