"""Decontamination: drop prompts that leak from a downstream eval set, with evidence.

Three signals, cheapest first: an exact match of the canonical text; embedding cosine to the
nearest eval items (exact top-k search); token n-gram overlap with those same items. A prompt is
contaminated when its canonical text equals an eval item's, or a candidate reaches the cosine
threshold, or a candidate reaches the n-gram threshold. Every drop names the eval set and item
and carries both scores, so an auditor can see why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.core.config import DecontaminationConfig
from pipeline.decontam.embed import PROMPT_LABEL, EmbeddingCache
from pipeline.decontam.evalsets import EvalItem, load_eval_items
from pipeline.core.io import DecisionLog
from pipeline.decontam.overlap import canonical, ngrams, overlap
from pipeline.core.records import Prompt
from pipeline.decontam.similarity import top_k

EVIDENCE_TEXT_CHARS = 500


@dataclass(frozen=True)
class Match:
    eval_set: str
    eval_item_id: str
    eval_text: str
    cosine: float
    ngram_overlap: float
    signal: str  # exact | cosine | ngram

    def evidence(self) -> dict[str, object]:
        data = asdict(self)
        data["eval_text"] = self.eval_text[:EVIDENCE_TEXT_CHARS]
        data["cosine"] = round(self.cosine, 4)
        data["ngram_overlap"] = round(self.ngram_overlap, 4)
        return data


class Detector:
    """The eval sets of one config, embedded once (cached per set), ready to check prompts."""

    def __init__(self, cfg: DecontaminationConfig, items: list[EvalItem], vectors: np.ndarray):
        self.cfg = cfg
        self.items = items
        self.vectors = vectors
        self.exact: dict[str, int] = {}
        for index, item in enumerate(items):
            self.exact.setdefault(canonical(item.text), index)
        self._grams: dict[int, frozenset[tuple[str, ...]]] = {}

    @classmethod
    def load(cls, cfg: DecontaminationConfig, cache: EmbeddingCache, base_dir: Path) -> "Detector":
        """Read every configured eval set and embed it (each set cached on its own)."""
        items: list[EvalItem] = []
        parts = []
        for eval_set in cfg.eval_sets:
            loaded = load_eval_items(eval_set, base_dir)
            parts.append(cache.get(f"evalset-{eval_set.name}", [i.text for i in loaded]))
            items.extend(loaded)
        vectors = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
        return cls(cfg, items, vectors)

    def sizes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.eval_set] = counts.get(item.eval_set, 0) + 1
        return counts

    def _item_grams(self, index: int) -> frozenset[tuple[str, ...]]:
        if index not in self._grams:
            self._grams[index] = ngrams(self.items[index].text, self.cfg.ngram_size)
        return self._grams[index]

    def _match(self, index: int, cosine: float, gram: float, signal: str) -> Match:
        item = self.items[index]
        return Match(item.eval_set, item.item_id, item.text, cosine, gram, signal)

    def check(self, texts: Sequence[str], vectors: np.ndarray) -> list[Match | None]:
        """One entry per text: the evidence of the strongest match, or None when clean."""
        if not self.items:
            return [None] * len(texts)
        near = top_k(vectors, self.vectors, self.cfg.top_k)
        results: list[Match | None] = []
        for row, text in enumerate(texts):
            grams = ngrams(text, self.cfg.ngram_size)
            candidates = [(int(i), float(s)) for i, s in zip(near.indices[row], near.scores[row]) if i >= 0]
            scored = [(i, s, overlap(grams, self._item_grams(i))) for i, s in candidates]
            exact = self.exact.get(canonical(text))
            if exact is not None:
                cosine = float(self.vectors[exact] @ vectors[row])
                results.append(self._match(exact, cosine, overlap(grams, self._item_grams(exact)), "exact"))
                continue
            hits = [(i, s, g) for i, s, g in scored
                    if s >= self.cfg.cosine_threshold or g >= self.cfg.ngram_threshold]  # fmt: skip
            if not hits:
                results.append(None)
                continue
            i, s, g = max(hits, key=lambda h: (h[1] >= self.cfg.cosine_threshold, h[1] + h[2]))
            results.append(self._match(i, s, g, "cosine" if s >= self.cfg.cosine_threshold else "ngram"))
        return results


def decontaminate(
    prompts: list[Prompt], detector: Detector, cache: EmbeddingCache, log: DecisionLog
) -> list[Prompt]:
    texts = [p.text for p in prompts]
    vectors = cache.get(PROMPT_LABEL, texts)
    kept = []
    for prompt, match in zip(prompts, detector.check(texts, vectors)):
        if match is None:
            kept.append(prompt)
            log.kept(prompt.prompt_id)
        else:
            evidence = {"prompt": prompt.text[:EVIDENCE_TEXT_CHARS], **match.evidence()}
            log.dropped(prompt.prompt_id, f"contaminated:{match.eval_set}", **evidence)
    return kept
