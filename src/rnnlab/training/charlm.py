"""Train a character-level language model on a text: ``train_charlm(config, text, out)``.

    from rnnlab.data import load_corpus
    from rnnlab.training import preset, train_charlm
    corpus = load_corpus("tinyshakespeare")
    result = train_charlm(preset("small").replace(minutes=2), corpus.text, "runs/shakespeare",
                          corpus_name=corpus.name, corpus_sha256=corpus.sha256, on_event=print)
    model = rnnlab.load(result.model_path)

The vocabulary is built from the whole text (so validation has no unknown characters); the last
``val_fraction`` is validation.  ``resume=`` a run folder or a ``last.resume.safetensors`` continues
that run: its configuration and vocabulary are used (only the budget, ``steps``/``minutes``, is taken
from ``config``; pass ``config=None`` to keep the saved budget too) and the text must be the one it was
trained on (its sha256 is checked).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from ..data.batches import min_tokens
from ..data.corpora import split_text
from ..data.vocab import CharVocab
from .charlm_task import CharLMTask, new_model
from .config import ConfigError, TrainConfig
from .loop import TrainingError, TrainResult, fit, read_resume

BUDGET_KEYS = ("steps", "minutes")


def check_text(text: str, config: TrainConfig, source: str = "the text") -> tuple[str, str]:
    """Split text into (train, validation); TrainingError if either part is too short for the config."""
    if not text:
        raise TrainingError(f"{source} is empty")
    train, val = split_text(text, config.val_fraction)
    need = min_tokens(config.batch_size, config.seq_len)
    if len(train) < need:
        raise TrainingError(
            f"{source} is too short: its training part has {len(train):,} characters, but batch "
            f"{config.batch_size} x window {config.seq_len} needs at least {need:,} "
            f"(use a smaller --batch or --seq-len, or more text)")
    if len(val) < 2:
        raise TrainingError(f"{source} is too short to hold out a validation part ({len(val)} characters)")
    return train, val


def resume_setup(meta: dict, config: TrainConfig | None, text: str, sha: str) -> tuple[TrainConfig, CharVocab]:
    """A run to continue: its saved configuration, with this call's budget (``BUDGET_KEYS``) when
    ``config`` is given, and its vocabulary; a TrainingError unless ``text`` is the run's own text."""
    saved = TrainConfig.from_dict(meta["config"])
    config = saved if config is None else saved.replace(**{k: getattr(config, k) for k in BUDGET_KEYS})
    if meta.get("corpus", {}).get("sha256") not in (None, sha):
        raise TrainingError(f"cannot resume: the run was trained on another text "
                            f"(sha256 {meta['corpus']['sha256'][:12]}..., this one {sha[:12]}...)")
    vocab = CharVocab(meta["task_state"]["vocab"])
    missing = vocab.unknown(text)
    if missing:
        raise TrainingError(f"cannot resume: the text has characters the run's vocabulary lacks: {missing[:10]}")
    return config, vocab


def train_charlm(config: TrainConfig | None, text: str, out: str | Path, *, on_event: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, resume: str | Path | None = None,
                 corpus_name: str = "text", corpus_sha256: str | None = None) -> TrainResult:
    sha = corpus_sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    resume_data = None
    if resume is not None:
        tensors, meta = read_resume(resume)
        config, vocab = resume_setup(meta, config, text, sha)
        resume_data = (tensors, meta)
    elif config is None:
        raise TrainingError("a configuration is needed unless resuming")
    else:
        vocab = CharVocab.from_text(text)
    train, val = check_text(text, config, corpus_name)
    model = new_model(config, vocab)
    task = CharLMTask(model, vocab.encode(train), vocab.encode(val), config)
    corpus = {"name": corpus_name, "sha256": sha, "chars": len(text), "train_chars": len(train),
              "val_chars": len(val)}
    extra = {"corpus": corpus, "corpus_sha256": sha, "rnnlab_version": __version__, "task": "charlm"}
    try:
        return fit(task, config, out, on_event=on_event, should_stop=should_stop, resume=resume_data,
                   extra_meta=extra)
    except ConfigError as e:
        raise TrainingError(str(e)) from None
