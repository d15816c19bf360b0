"""rnnlab.data: vocabularies, corpora and batches. NumPy and the standard library only."""

from .vocab import CharVocab, VocabError

__all__ = ["CharVocab", "VocabError"]
