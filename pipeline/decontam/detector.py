"""Decontamination: drop prompts that leak from a downstream eval set, with evidence.

Candidates for each prompt: its `top_k` nearest eval items by embedding cosine (exact search), the
`lexical_candidates` items sharing most masked n-grams with it, and as many sharing most plain
n-grams. Each candidate is scored in words (pipeline.decontam.lexical) and judged by
pipeline.decontam.rules: exact canonical text, a shared template, a shared span, n-gram overlap, or
cosine (with a second look in the review band, by word overlap or an optional confirm model). Every drop names the eval set and item and carries every score
and the shared span, so an auditor can see why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from pipeline.core.config import DecontaminationConfig
from pipeline.core.io import DecisionLog
from pipeline.core.records import Prompt
from pipeline.decontam.embed import PROMPT_LABEL, EmbeddingCache
from pipeline.decontam.evalsets import EvalItem, load_eval_items
from pipeline.decontam.lexical import Forms, GramIndex, Lexical, score
from pipeline.decontam.overlap import canonical
from pipeline.decontam.rules import in_review_band, signal
from pipeline.decontam.similarity import top_k

EVIDENCE_TEXT_CHARS = 500
SIGNAL_ORDER = ("exact", "template", "span", "ngram", "cosine", "cosine+lexical", "cosine+llm")
# (prompt, eval text) pairs -> True (same task), False, or None (no answer): the confirm model.
Confirm = Callable[[list[tuple[str, str]]], list[bool | None]]


@dataclass(frozen=True)
class Match:
    eval_set: str
    eval_item_id: str
    eval_text: str
    cosine: float
    signal: str  # one of SIGNAL_ORDER
    lexical: Lexical
    llm_confirmed: bool | None = None  # the confirm model's answer, when it was asked

    @property
    def ngram_overlap(self) -> float:
        return self.lexical.ngram_overlap

    def evidence(self) -> dict[str, object]:
        lex = self.lexical
        return {
            "eval_set": self.eval_set,
            "eval_item_id": self.eval_item_id,
            "eval_text": self.eval_text[:EVIDENCE_TEXT_CHARS],
            "cosine": round(self.cosine, 4),
            "ngram_overlap": round(lex.ngram_overlap, 4),
            "ngram_shared": lex.ngram_shared,
            "template_overlap": round(lex.template_overlap, 4),
            "span_words": lex.span_tokens,
            "span_text": lex.span_text[:EVIDENCE_TEXT_CHARS],
            "word_overlap": round(lex.word_overlap, 4),
            "word_jaccard": round(lex.word_jaccard, 4),
            "llm_confirmed": self.llm_confirmed,
            "signal": self.signal,
        }


@dataclass
class _Pending:
    """A prompt's best pair so far, and the review-band pairs the confirm model may settle."""

    best: Match | None = None
    review: list[Match] = field(default_factory=list)


def _stronger(a: Match, b: Match | None) -> bool:
    if b is None:
        return True
    return (-SIGNAL_ORDER.index(a.signal), a.cosine) > (-SIGNAL_ORDER.index(b.signal), b.cosine)


class Detector:
    """The eval sets of one config, embedded once (cached per set), ready to check prompts."""

    def __init__(self, cfg: DecontaminationConfig, items: list[EvalItem], vectors: np.ndarray,
                 confirm: Confirm | None = None):  # fmt: skip
        self.cfg = cfg
        self.items = items
        self.vectors = vectors
        self.confirm = confirm
        self.exact: dict[str, int] = {}
        # Items with the same text (a MATH problem also in MATH-500 and AGIEval) are one candidate,
        # named by the first in config order: their vectors differ only by float noise, which
        # would otherwise pick the named item differently per backend or machine.
        first_with_text: dict[str, int] = {}
        self.first_of: list[int] = []
        for index, item in enumerate(items):
            self.exact.setdefault(canonical(item.text), index)
            self.first_of.append(first_with_text.setdefault(item.text, index))
        self._forms: dict[int, Forms] = {}
        self._indexes: tuple[GramIndex, GramIndex] | None = None

    @classmethod
    def load(cls, cfg: DecontaminationConfig, cache: EmbeddingCache, base_dir: Path,
             confirm: Confirm | None = None) -> "Detector":  # fmt: skip
        """Read every configured eval set and embed it (each set cached on its own)."""
        items: list[EvalItem] = []
        parts = []
        for eval_set in cfg.eval_sets:
            loaded = load_eval_items(eval_set, base_dir)
            parts.append(cache.get(f"evalset-{eval_set.name}", [i.text for i in loaded]))
            items.extend(loaded)
        vectors = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
        return cls(cfg, items, vectors, confirm)

    def sizes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.eval_set] = counts.get(item.eval_set, 0) + 1
        return counts

    @property
    def indexes(self) -> tuple[GramIndex, GramIndex]:
        """Masked n-grams (templated copies) and canonical ones (truncations among numeric siblings)."""
        if self._indexes is None:
            texts = [i.text for i in self.items]
            self._indexes = (GramIndex(texts, self.cfg.ngram_size), GramIndex(texts, self.cfg.ngram_size, masked=False))
        return self._indexes

    def _item_forms(self, index: int) -> Forms:
        if index not in self._forms:
            self._forms[index] = Forms.of(self.items[index].text)
        return self._forms[index]

    def _pair(self, index: int, forms: Forms, cosine: float) -> tuple[Match, str | None]:
        item = self.items[index]
        lex = score(forms, self._item_forms(index), self.cfg.ngram_size)
        found = signal(lex, cosine, self.cfg)
        return Match(item.eval_set, item.item_id, item.text, cosine, found or "", lex), found

    def candidates(self, text: str, vector: np.ndarray, near: tuple[np.ndarray, np.ndarray]) -> dict[int, float]:
        """Eval item -> cosine, for the nearest items and the lexical candidates (first seen first;
        copies of one text under the first of them)."""
        found: dict[int, float] = {}
        for i, s in zip(*near):
            if i >= 0:
                found.setdefault(self.first_of[int(i)], float(s))
        for gram_index in self.indexes if self.cfg.lexical_candidates else ():
            for index, _ in gram_index.candidates(text, self.cfg.lexical_candidates):
                first = self.first_of[index]
                found.setdefault(first, float(self.vectors[first] @ vector))
        return found

    def check(self, texts: Sequence[str], vectors: np.ndarray) -> list[Match | None]:
        """One entry per text: the evidence of the strongest match, or None when clean."""
        if not self.items:
            return [None] * len(texts)
        near = top_k(vectors, self.vectors, self.cfg.top_k)
        pending = [_Pending() for _ in texts]
        for row, text in enumerate(texts):
            forms = Forms.of(text)
            exact = self.exact.get(canonical(text))
            if exact is not None:
                match, _ = self._pair(exact, forms, float(self.vectors[exact] @ vectors[row]))
                pending[row].best = Match(**{**match.__dict__, "signal": "exact"})
                continue
            for index, cosine in self.candidates(text, vectors[row], (near.indices[row], near.scores[row])).items():
                match, found = self._pair(index, forms, cosine)
                if found and _stronger(match, pending[row].best):
                    pending[row].best = match
                elif not found and in_review_band(cosine, self.cfg):
                    pending[row].review.append(match)
        if self.confirm is not None:
            self._ask(texts, pending)
        return [p.best for p in pending]

    def _ask(self, texts: Sequence[str], pending: list[_Pending]) -> None:
        """The confirm model's second look at review-band pairs no other signal settled."""
        asked = [(row, m) for row, p in enumerate(pending) if p.best is None for m in p.review]
        if not asked or self.confirm is None:
            return
        answers = self.confirm([(texts[row], m.eval_text) for row, m in asked])
        for (row, match), yes in zip(asked, answers):
            confirmed = Match(**{**match.__dict__, "signal": "cosine+llm", "llm_confirmed": yes})
            if yes and _stronger(confirmed, pending[row].best):
                pending[row].best = confirmed


def decontaminate(
    prompts: list[Prompt], detector: Detector, cache: EmbeddingCache, log: DecisionLog
) -> list[Prompt]:
    matches = check_texts([p.text for p in prompts], detector, cache)
    kept = []
    for prompt, match in zip(prompts, matches):
        if log_match(log, prompt.prompt_id, prompt.text, match):
            kept.append(prompt)
    return kept


def check_texts(texts: list[str], detector: Detector, cache: EmbeddingCache) -> list[Match | None]:
    """Each text's strongest match (None: clean). Vectors are those of the whole list (cached)."""
    # Nothing to compare against (no eval sets, no earlier releases): no prompt needs a vector.
    vectors = cache.get(PROMPT_LABEL, texts) if detector.items else np.zeros((len(texts), 0), dtype=np.float32)
    return detector.check(texts, vectors)


def log_match(log: DecisionLog, prompt_id: str, text: str, match: Match | None) -> bool:
    """Log one prompt's decision; True when it is kept."""
    if match is None:
        log.kept(prompt_id)
        return True
    evidence = {"prompt": text[:EVIDENCE_TEXT_CHARS], **match.evidence()}
    log.dropped(prompt_id, f"contaminated:{match.eval_set}", **evidence)
    return False
