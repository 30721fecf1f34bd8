"""Lexical candidates and scores: what an eval item and a prompt share as words.

Embedding neighbours miss some leaks (a question cut to its first words, a problem with new numbers
sits nearer a sibling item), so candidates also come from an exact index of masked word n-grams:
every eval item's n-grams, hashed and sorted in one array, searched with numpy. N-grams found in more
than MAX_GRAM_ITEMS items (stock phrases of a templated eval set) are left out of the index: they name
no item. Candidates are ordered by shared n-grams, then item number, so a rerun finds the same.
A second index of the canonical (unmasked) n-grams finds a truncated item among siblings that differ
only in their numbers (BBH's SVG paths, GSM8K problems cut short): masked, all their n-grams are
stock phrases and left out; unmasked, the numbers name the item.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pipeline.decontam.overlap import grams, longest_span, masked_tokens, tokens

MAX_GRAM_ITEMS = 50
STOPWORDS = frozenset(
    "a an the and or but of to in on at for with by from as is are was were be been being it its this that "
    "these those i you he she we they me my your our their what which who whom how why when where do does "
    "did can could would should will shall may might must not no so if then than there here about into".split()
)


def _word_overlap(a: list[str], b: list[str]) -> tuple[float, float]:
    """Distinct content words in common, as a share of the shorter text's and of both texts' (Jaccard)."""
    wa, wb = set(a) - STOPWORDS, set(b) - STOPWORDS
    if not wa or not wb:
        return 0.0, 0.0
    common = len(wa & wb)
    return common / min(len(wa), len(wb)), common / len(wa | wb)


def _hashes(gram_set: frozenset[tuple[str, ...]]) -> np.ndarray:
    """Stable 64-bit hashes (not Python's salted hash): the index is the same in every process."""
    out = [int.from_bytes(hashlib.blake2b("\x1f".join(g).encode(), digest_size=8).digest(), "little")
           for g in gram_set]  # fmt: skip
    return np.unique(np.asarray(out, dtype=np.uint64))


class GramIndex:
    """Masked (or, with masked=False, canonical) n-gram -> eval items, as two sorted arrays."""

    def __init__(self, texts: Sequence[str], n: int, masked: bool = True):
        self.n = n
        self.words = masked_tokens if masked else tokens
        keys, owners = [], []
        for index, text in enumerate(texts):
            hashed = _hashes(grams(self.words(text), n))
            keys.append(hashed)
            owners.append(np.full(len(hashed), index, dtype=np.int64))
        key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
        owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        order = np.lexsort((owner, key))
        key, owner = key[order], owner[order]
        unique, counts = np.unique(key, return_counts=True)
        common = set(unique[counts > MAX_GRAM_ITEMS].tolist())
        keep = ~np.isin(key, np.fromiter(common, dtype=np.uint64, count=len(common)))
        self.keys, self.owners = key[keep], owner[keep]

    def candidates(self, text: str, limit: int) -> list[tuple[int, int]]:
        """Up to `limit` (item, shared n-grams) pairs, most shared first."""
        if not len(self.keys):
            return []
        hashed = _hashes(grams(self.words(text), self.n))
        lo = np.searchsorted(self.keys, hashed, "left")
        hi = np.searchsorted(self.keys, hashed, "right")
        hit = [self.owners[a:b] for a, b in zip(lo, hi) if b > a]
        if not hit:
            return []
        items, counts = np.unique(np.concatenate(hit), return_counts=True)
        order = np.lexsort((items, -counts))[:limit]
        return [(int(items[i]), int(counts[i])) for i in order]


@dataclass(frozen=True)
class Lexical:
    """What one prompt and one eval item share, in words."""

    ngram_overlap: float  # share of the shorter text's n-grams found in the other
    ngram_shared: int  # n-grams in common
    ngram_longer_share: float  # shared n-grams as a share of the longer text's
    template_overlap: float  # masked n-grams in common, as a share of the longer text's
    template_shared: int
    span_tokens: int  # longest run of words shared contiguously
    span_shorter_share: float  # that run as a share of the shorter text's words
    span_longer_share: float
    span_text: str  # the shared run, in canonical words
    word_overlap: float  # distinct content words in common, as a share of the shorter text's
    word_jaccard: float  # ... as a share of both texts' content words: what is asked about agrees
    prompt_words: int
    item_words: int


@dataclass(frozen=True)
class Forms:
    """A text's canonical and masked words, computed once per text."""

    words: list[str]
    masked: list[str]

    @classmethod
    def of(cls, text: str) -> "Forms":
        return cls(tokens(text), masked_tokens(text))


def score(prompt: Forms, item: Forms, n: int) -> Lexical:
    a, b = prompt.words, item.words
    ga, gb = grams(a, n), grams(b, n)
    shared = len(ga & gb)
    ma, mb = grams(prompt.masked, n), grams(item.masked, n)
    mshared = len(ma & mb)
    span, start, _ = longest_span(a, b)
    words, jaccard = _word_overlap(a, b)
    short, long_ = max(1, min(len(a), len(b))), max(1, len(a), len(b))
    return Lexical(
        ngram_overlap=shared / min(len(ga), len(gb)) if ga and gb else 0.0,
        ngram_shared=shared,
        ngram_longer_share=shared / max(len(ga), len(gb)) if ga and gb else 0.0,
        template_overlap=mshared / max(len(ma), len(mb)) if ma and mb else 0.0,
        template_shared=mshared,
        span_tokens=span,
        span_shorter_share=span / short,
        span_longer_share=span / long_,
        span_text=" ".join(a[start : start + span]),
        word_overlap=words,
        word_jaccard=jaccard,
        prompt_words=len(a),
        item_words=len(b),
    )
