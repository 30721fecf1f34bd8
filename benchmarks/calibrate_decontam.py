"""Precision and recall of decontamination on the labelled check set (data/calibration/).

Runs the product's Detector with the config defaults against every bundled eval set, prints
recall per alteration kind and the share of clean prompts dropped, then sweeps the two
thresholds so the choice of defaults can be seen and re-made.

    .venv/bin/python benchmarks/calibrate_decontam.py [--checkset PATH] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from pipeline.core.config import DecontaminationConfig
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import Embedder, EmbeddingCache
from pipeline.decontam.evalsets import bundled_specs
from pipeline.core.records import normalize
from pipeline.decontam.overlap import canonical, ngrams, overlap
from pipeline.decontam.similarity import top_k

ROOT = Path(__file__).resolve().parent.parent


def rates(rows: list[dict], flagged: list[bool]) -> tuple[dict[str, tuple[int, int]], float, float, float]:
    """Per kind (hits, n); recall on altered items; clean drop rate; precision."""
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, hit in zip(rows, flagged):
        kind = row["kind"] if row["label"] == "contaminated" else "clean"
        per_kind[kind][0] += int(hit)
        per_kind[kind][1] += 1
    pos = [(r, f) for r, f in zip(rows, flagged) if r["label"] == "contaminated"]
    neg = [(r, f) for r, f in zip(rows, flagged) if r["label"] == "clean"]
    tp = sum(f for _, f in pos)
    fp = sum(f for _, f in neg)
    recall = tp / len(pos)
    clean_drop = fp / len(neg)
    precision = tp / (tp + fp) if tp + fp else 1.0
    return {k: (v[0], v[1]) for k, v in per_kind.items()}, recall, clean_drop, precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkset", type=Path, default=ROOT / "data/calibration/decontam_checkset.jsonl")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "outputs/.embed-cache")
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.checkset.read_text().splitlines() if line.strip()]
    cfg = DecontaminationConfig(eval_sets=bundled_specs(ROOT))
    cache = EmbeddingCache(Embedder("package:all-MiniLM-L6-v2"), args.cache_dir)
    detector = Detector.load(cfg, cache, ROOT)
    texts = [normalize(r["text"]) for r in rows]
    vectors = cache.get("checkset", texts)
    matches = detector.check(texts, vectors)
    flagged = [m is not None for m in matches]
    per_kind, recall, clean_drop, precision = rates(rows, flagged)
    attributed = sum(
        1 for r, m in zip(rows, matches)
        if m is not None and r["label"] == "contaminated" and (m.eval_set, m.eval_item_id) == (r["eval_set"], r["eval_id"])
    )  # fmt: skip
    positives = sum(r["label"] == "contaminated" for r in rows)
    print(f"check set: {len(rows)} rows ({positives} altered eval items, {len(rows) - positives} clean prompts)")
    print(f"eval sets: {sum(detector.sizes().values())} items in {len(detector.sizes())} sets")
    print(f"defaults: cosine >= {cfg.cosine_threshold}, {cfg.ngram_size}-gram overlap >= {cfg.ngram_threshold}, "
          f"top {cfg.top_k}")  # fmt: skip
    print("\n| kind | flagged | n | rate |\n|---|---:|---:|---:|")
    for kind, (hit, n) in sorted(per_kind.items()):
        print(f"| {kind} | {hit} | {n} | {hit / n:.1%} |")
    print(f"\nrecall on altered eval items: {recall:.1%}  (attributed to the right item: {attributed / positives:.1%})")
    print(f"clean prompts dropped: {clean_drop:.1%}   precision: {precision:.1%}")
    print("signals:", dict(Counter(m.signal for m in matches if m is not None)))
    false_drops = [(r, m) for r, m in zip(rows, matches) if m is not None and r["label"] == "clean"]
    for r, m in false_drops[:10]:
        print(f"  clean but dropped ({m.signal} cos {m.cosine:.3f} ngram {m.ngram_overlap:.2f}): "
              f"{r['text'][:70]!r} ~ {m.eval_set}: {m.eval_text[:70]!r}")  # fmt: skip

    # Threshold sweep on the same neighbours (the Detector's rule, recomputed per setting).
    near = top_k(vectors, detector.vectors, cfg.top_k)
    exact = [canonical(t) in detector.exact for t in texts]
    signals = []
    for row, text in enumerate(texts):
        grams = ngrams(text, cfg.ngram_size)
        cands = [(float(s), overlap(grams, ngrams(detector.items[i].text, cfg.ngram_size)))
                 for i, s in zip(near.indices[row], near.scores[row]) if i >= 0]  # fmt: skip
        signals.append(cands)
    print("\n| cosine | ngram | recall | clean dropped | precision |\n|---:|---:|---:|---:|---:|")
    for cos_t in (0.75, 0.8, 0.85, 0.9, 0.95):
        for ng_t in (0.3, 0.5, 0.7, 1.01):
            flags = [e or any(s >= cos_t or g >= ng_t for s, g in c) for e, c in zip(exact, signals)]
            _, rec, drop, prec = rates(rows, flags)
            ng = "off" if ng_t > 1 else f"{ng_t:.1f}"
            print(f"| {cos_t:.2f} | {ng} | {rec:.1%} | {drop:.1%} | {prec:.1%} |")


if __name__ == "__main__":
    main()
