"""The char-LMs the page can generate with, addressed by id (a client never sends a path).

Sources: the bundled default model (id ``default``), checkpoints named on the command line, and
in a models directory every ``*.safetensors`` file and every run folder's ``model.safetensors``
(``rnnlab train`` writes ``runs/<name>/model.safetensors``; the id is the folder's name).  A checkpoint that fails to load is listed with its
error instead of breaking the server.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ...io.checkpoint import RUN_MODEL_FILE, CheckpointError
from ...tasks.charlm import CharLM
from ..errors import NotFound


@dataclass
class ModelEntry:
    id: str
    name: str
    path: Path
    source: str
    model: CharLM | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def info(self) -> dict:
        out = {"id": self.id, "name": self.name, "source": self.source,
               "available": self.error is None, "error": self.error}
        if self.model is not None:
            cfg = self.model.config
            meta = {k: v for k, v in getattr(self.model, "meta", {}).items()
                    if k not in ("vocab", "config", "format") and _json_safe(k) and _json_safe(v)}
            out.update(cell=cfg.cell, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                       vocab_size=len(self.model.vocab), vocab=list(self.model.vocab.chars), meta=meta)
        return out


def _json_safe(value) -> bool:
    """A scalar that JSON and UTF-8 can carry: no NaN/inf, no lone surrogates (from a forged file)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    return isinstance(value, (int, bool))


def _slug(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-")[:56] or "model"


class ModelRegistry:
    def __init__(self, default_model: Path | None, models: tuple[Path, ...] = (), models_dir: Path | None = None,
                 preload: bool = True):
        self.entries: dict[str, ModelEntry] = {}
        self.message: str | None = None
        if default_model is not None and Path(default_model).is_file():
            self._add("default", "Bundled default model", Path(default_model), "bundled")
        else:
            self.message = ("No model is bundled with this installation yet: train one with `rnnlab train` "
                            "and start the server with `rnnlab serve --model PATH`.")
        for path in models:
            path = Path(path)  # a run folder's model is named after the run
            self._add(None, path.parent.name if path.name == RUN_MODEL_FILE else path.stem, path, "command line")
        if models_dir is not None and Path(models_dir).is_dir():
            folder = Path(models_dir)
            for path in sorted(folder.glob("*.safetensors")):
                if not path.name.endswith(".resume.safetensors"):  # training state, not a model
                    self._add(None, path.stem, path, "models directory")
            for path in sorted(folder.glob(f"*/{RUN_MODEL_FILE}")):
                self._add(None, path.parent.name, path, "models directory")
        if preload:
            for entry in self.entries.values():
                if entry.source != "models directory":
                    self._load(entry)

    def _add(self, model_id: str | None, name: str, path: Path, source: str) -> None:
        if model_id is None:
            base = model_id = _slug(name)
            n = 2
            while model_id in self.entries:
                model_id, n = f"{base}-{n}", n + 1
        self.entries[model_id] = ModelEntry(model_id, name, path, source)

    def _load(self, entry: ModelEntry) -> None:
        with entry.lock:
            if entry.model is not None or entry.error is not None:
                return
            try:
                entry.model = CharLM.load(entry.path)
            except (CheckpointError, OSError, ValueError) as e:
                entry.error = f"cannot load {entry.path.name}: {e}"

    @property
    def default_id(self) -> str | None:
        for entry in self.entries.values():
            self._load(entry)
            if entry.error is None:
                return entry.id
        return None

    def list(self) -> dict:
        for entry in self.entries.values():
            self._load(entry)
        default = self.default_id
        if default is not None:
            message = None
        elif self.entries:
            message = "No model could be loaded: " + "; ".join(e.error or "" for e in self.entries.values())
        else:
            message = self.message
        return {"models": [e.info() for e in self.entries.values()], "default": default, "message": message}

    def info(self, model_id: str) -> dict:
        entry = self._entry(model_id)
        self._load(entry)
        return entry.info()

    def _entry(self, model_id: str) -> ModelEntry:
        entry = self.entries.get(model_id)
        if entry is None:
            raise NotFound(f"unknown model {model_id!r}; known: {sorted(self.entries) or 'none'}", "model")
        return entry

    def get(self, model_id: str | None) -> tuple[str, CharLM]:
        """(id, model); None means the default. NotFound for unknown ids and models that failed to load."""
        if model_id is None:
            model_id = self.default_id
            if model_id is None:
                raise NotFound(self.message or "no model is available", "model")
        entry = self._entry(model_id)
        self._load(entry)
        if entry.model is None:
            raise NotFound(entry.error or f"model {model_id!r} is not available", "model")
        return model_id, entry.model
