"""Token n-gram overlap: the explainable second signal next to embedding cosine.

Texts are compared in a canonical form (NFC, case-folded, punctuation dropped), so edits to
casing, spacing and punctuation do not hide a copy. Overlap is the share of the shorter text's
n-grams found in the other: a prompt that wraps an eval item in extra words, or one that is a
truncated copy, both score 1.0.
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+")


def canonical(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


def ngrams(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the canonical text; a text shorter than n is one gram of all its words."""
    tokens = canonical(text).split()
    if not tokens:
        return frozenset()
    if len(tokens) < n:
        return frozenset([tuple(tokens)])
    return frozenset(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def overlap(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
