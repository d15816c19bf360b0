"""rnnlab.data: vocabularies, corpora and batches. NumPy and the standard library only."""

from .batches import BatchPosition, StreamBatches, Window, min_tokens, stream_windows
from .corpora import CORPORA, Corpus, CorpusError, CorpusSpec, data_dir, load_corpus, split_text
from .vocab import CharVocab, VocabError

__all__ = [
    "BatchPosition",
    "CORPORA",
    "CharVocab",
    "Corpus",
    "CorpusError",
    "CorpusSpec",
    "StreamBatches",
    "VocabError",
    "Window",
    "data_dir",
    "load_corpus",
    "min_tokens",
    "split_text",
    "stream_windows",
]
