"""A character vocabulary over all of Unicode: the sorted set of characters of a text.

Index order is the sorted order of code points, so the same text always gives the same vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class VocabError(ValueError):
    """Text contains characters the vocabulary does not know; ``.unknown`` lists them."""

    def __init__(self, unknown: Sequence[str], known: Sequence[str] | None = None):
        self.unknown = list(unknown)
        shown = ", ".join(repr(c) for c in self.unknown[:20])
        more = f" and {len(self.unknown) - 20} more" if len(self.unknown) > 20 else ""
        has = ""
        if known is not None:  # what the model can read: all of it when short, else how many
            has = (f" (it has {len(known)}: {' '.join(repr(c) for c in known)})" if len(known) <= 30
                   else f" (it has {len(known)} characters)")
        super().__init__(f"characters not in the model's vocabulary: {shown}{more}{has}")


class CharVocab:
    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        if not chars:
            raise ValueError("a vocabulary needs at least one character")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("every vocabulary entry must be a single character")
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary entries must be distinct")
        self.chars: list[str] = chars
        self.index: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of text outside the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str, skip_unknown: bool = False) -> np.ndarray:
        missing = self.unknown(text)
        if missing and not skip_unknown:
            raise VocabError(missing, self.chars)
        return np.fromiter((self.index[c] for c in text if c in self.index), dtype=np.int64)

    def decode(self, indices: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in indices)
