"""Words: a tokenizer for English-like text and a word vocabulary with padding and unknown-word tokens.

    tokenize("It's a GREAT film!")  ->  ["it's", "a", "great", "film", "!"]

Words are runs of letters/digits (with inner apostrophes), lower-cased; every other non-space
character is its own token; with ``keep_newlines`` a line break is the token ``"\\n"``.
``WordVocab`` orders words by count (ties alphabetically), so the same text gives the same
vocabulary; index 0 is ``<pad>``, 1 is ``<unk>`` (every word not in the vocabulary).
Proved by ``tests/data/test_text_classification.py`` and ``tests/tasks/test_wordlm.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_WORD_OR_NEWLINE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]|\n")
_NO_SPACE_BEFORE = set(".,;:!?)]}'’\"") | {"'s", "n't"}


def tokenize(text: str, keep_newlines: bool = False) -> list[str]:
    pattern = _WORD_OR_NEWLINE if keep_newlines else _WORD
    return pattern.findall(text.lower())


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens with spaces, except before closing punctuation and around line breaks."""
    out: list[str] = []
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE and tok != "\n" and out[-1] not in ("\n", "(", "[", "{"):
            out.append(" ")
        out.append(tok)
    return "".join(out)


class WordVocab:
    def __init__(self, words: Iterable[str]):
        words = list(words)
        if words[:2] != [PAD, UNK]:
            raise ValueError(f"a word vocabulary starts with {PAD!r} and {UNK!r}")
        if len(set(words)) != len(words):
            raise ValueError("vocabulary entries must be distinct")
        self.words: list[str] = words
        self.index: dict[str, int] = {w: i for i, w in enumerate(words)}

    pad_id, unk_id = 0, 1

    @classmethod
    def from_tokens(cls, token_lists: Iterable[Sequence[str]], min_count: int = 2,
                    max_size: int | None = None) -> WordVocab:
        """Words seen at least ``min_count`` times, the ``max_size`` most frequent (specials included)."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        kept = sorted((w for w, c in counts.items() if c >= min_count and w not in (PAD, UNK)),
                      key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[: max(0, max_size - 2)]
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """tokens -> (T,) int64; unknown words map to <unk>."""
        return np.fromiter((self.index.get(t, self.unk_id) for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[int(i)] for i in ids]

    def unknown_rate(self, token_lists: Iterable[Sequence[str]]) -> float:
        total = unknown = 0
        for tokens in token_lists:
            total += len(tokens)
            unknown += sum(1 for t in tokens if t not in self.index)
        return unknown / total if total else 0.0
