"""Precision and recall of decontamination on the labelled check set (data/calibration/).

Runs the product's Detector with the config defaults against every bundled eval set and prints,
per alteration kind and for the two halves of the check set, the share flagged: `tune` (the half the
defaults were chosen on) and `holdout` (never looked at while tuning). A row's half comes from a hash
of its source eval item (all alterations of one item fall in the same half) or, for a clean prompt,
of its id. `before` is the previous rule (exact text, cosine >= 0.85 or 5-gram overlap >= 0.5 of the
shorter text, over the 3 nearest items). The clean prompts dropped and the leaks missed are listed
for the tune half only (`--show-holdout` lists the holdout half's too: read them only after the
thresholds are chosen). A threshold sweep on the tune half follows.

`--decisions FILE` writes every row's decision (flagged, signal, matched item) as JSON lines, so two
embedding backends can be compared row by row (`--backend`, `--compare FILE FILE`).

    .venv/bin/python benchmarks/calibrate_decontam.py [--checkset PATH] [--cache-dir DIR]
        [--backend torch|onnx|onnx-int8] [--decisions FILE]
    .venv/bin/python benchmarks/calibrate_decontam.py --compare A.jsonl B.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pipeline.core.config import DecontaminationConfig
from pipeline.core.records import normalize
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import Embedder, EmbeddingCache
from pipeline.decontam.evalsets import bundled_specs, load_eval_items
from pipeline.decontam.lexical import Forms, Lexical, score
from pipeline.decontam.overlap import canonical
from pipeline.decontam.rules import signal
from pipeline.decontam.similarity import top_k

ROOT = Path(__file__).resolve().parent.parent
HALVES = ("tune", "holdout")
Pairs = list[tuple[float, Lexical, bool]]  # (cosine, lexical scores, among the old top-3)


def half(row: dict) -> str:
    key = f"{row['eval_set']}/{row['eval_id']}" if row["label"] == "contaminated" else row["id"]
    return HALVES[hashlib.sha256(key.encode()).digest()[0] % 2]


def kind(row: dict) -> str:
    return row["kind"] if row["label"] == "contaminated" else "clean:" + row["kind"].removeprefix("clean:")


def summary(rows: list[dict], flags: list[bool], which: str) -> tuple[float, float, int, int, int, int]:
    """(recall, clean drop rate, hits, positives, false drops, negatives) on one half ('all': both)."""
    pos = [f for r, f in zip(rows, flags) if r["label"] == "contaminated" and which in ("all", half(r))]
    neg = [f for r, f in zip(rows, flags) if r["label"] == "clean" and which in ("all", half(r))]
    return sum(pos) / len(pos), sum(neg) / len(neg), sum(pos), len(pos), sum(neg), len(neg)


def pairs_of(detector: Detector, texts: list[str], vectors) -> list[Pairs]:  # type: ignore[no-untyped-def]
    near = top_k(vectors, detector.vectors, detector.cfg.top_k)
    old = top_k(vectors, detector.vectors, 3)
    out = []
    for row, text in enumerate(texts):
        forms = Forms.of(text)
        olds = {int(i) for i in old.indices[row] if i >= 0}
        cands = detector.candidates(text, vectors[row], (near.indices[row], near.scores[row]))
        for i in olds:
            cands.setdefault(i, float(detector.vectors[i] @ vectors[row]))
        out.append([(c, score(forms, detector._item_forms(i), detector.cfg.ngram_size), i in olds)
                    for i, c in cands.items()])  # fmt: skip
    return out


def old_rule(exact: bool, pairs: Pairs) -> bool:
    return exact or any(old and (c >= 0.85 or lex.ngram_overlap >= 0.5) for c, lex, old in pairs)


def new_rule(exact: bool, pairs: Pairs, cfg: DecontaminationConfig) -> bool:
    return exact or any(signal(lex, c, cfg) is not None for c, lex, _ in pairs)


def kind_table(rows: list[dict], before: list[bool], after: list[bool]) -> None:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r, b, a in zip(rows, before, after):
        for key in ((kind(r), half(r)), (kind(r), "all")):
            counts[key][0] += int(b)
            counts[key][1] += int(a)
            counts[key][2] += 1
    print("\n| kind | before (tune) | before (holdout) | after (tune) | after (holdout) | after (all) |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in sorted({kind(r) for r in rows}, key=lambda k: (k.startswith("clean"), k)):
        cells = []
        for which, col in (("tune", 0), ("holdout", 0), ("tune", 1), ("holdout", 1), ("all", 1)):
            b_hit, a_hit, n = counts[(k, which)]
            hit = b_hit if col == 0 else a_hit
            cells.append(f"{hit / n:.1%} ({hit}/{n})" if n else "-")
        print(f"| {k} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkset", type=Path, default=ROOT / "data/calibration/decontam_checkset.jsonl")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "outputs/.embed-cache")
    parser.add_argument("--lexical-only", action="store_true", help="no embeddings: exact and lexical signals")
    parser.add_argument("--show-holdout", action="store_true", help="list the holdout half's errors too")
    parser.add_argument("--backend", default="torch", help="embedding backend (torch: the fp32 reference)")
    parser.add_argument("--decisions", type=Path, help="write each row's decision here (JSON lines)")
    parser.add_argument("--compare", type=Path, nargs=2, metavar="FILE", help="compare two --decisions files")
    parser.add_argument("--eval-sets", help="only these bundled sets (comma-separated) and their altered rows: "
                        "a quicker subset for comparing backends (the tables then describe the subset)")
    parser.add_argument("--sample", type=int, help="keep about this many rows (every k-th), for the same reason")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return

    rows = [json.loads(line) for line in args.checkset.read_text().splitlines() if line.strip()]
    specs = bundled_specs(ROOT)
    if args.eval_sets:
        names = set(args.eval_sets.split(","))
        specs = [s for s in specs if s.split("=", 1)[0] in names]
        rows = [r for r in rows if r["label"] == "clean" or r["eval_set"] in names]
    if args.sample and args.sample < len(rows):
        rows = rows[:: -(-len(rows) // args.sample)]
    cfg = DecontaminationConfig(eval_sets=specs)
    texts = [normalize(r["text"]) for r in rows]
    if args.lexical_only:  # every cosine 0: only the exact and lexical signals can fire
        items = [i for spec in cfg.eval_sets for i in load_eval_items(spec, ROOT)]
        detector = Detector(cfg, items, np.zeros((len(items), 1), dtype=np.float32))
        vectors = np.zeros((len(texts), 1), dtype=np.float32)
        print("LEXICAL SIGNALS ONLY (no embeddings): the `before` columns are not meaningful here")
    else:
        embedder = Embedder("package:all-MiniLM-L6-v2", device="cpu", backend=args.backend)
        print(f"embedding backend: {embedder.backend} ({embedder.key})")
        cache = EmbeddingCache(embedder, args.cache_dir)
        detector = Detector.load(cfg, cache, ROOT)
        vectors = cache.get("checkset", texts)
    matches = detector.check(texts, vectors)
    if args.decisions:
        args.decisions.write_text("".join(json.dumps(decision(r, m)) + "\n" for r, m in zip(rows, matches)))
    after = [m is not None for m in matches]
    exact = [canonical(t) in detector.exact for t in texts]
    pairs = pairs_of(detector, texts, vectors)
    before = [old_rule(e, p) for e, p in zip(exact, pairs)]
    assert after == [new_rule(e, p, cfg) for e, p in zip(exact, pairs)], "sweep rule differs from the Detector"

    positives = sum(r["label"] == "contaminated" for r in rows)
    print(f"check set: {len(rows)} rows ({positives} altered eval items, {len(rows) - positives} clean prompts); "
          f"halves: " + ", ".join(f"{h} {sum(half(r) == h for r in rows)}" for h in HALVES))  # fmt: skip
    print(f"eval sets: {sum(detector.sizes().values())} items in {len(detector.sizes())} sets")
    print("defaults:", cfg.model_dump(exclude={"eval_sets"}))
    kind_table(rows, before, after)
    print("\n| rule | half | recall | clean dropped |\n|---|---|---:|---:|")
    for name, flags in (("before", before), ("after", after)):
        for which in (*HALVES, "all"):
            rec, drop, tp, p, fp, n = summary(rows, flags, which)
            print(f"| {name} | {which} | {rec:.2%} ({tp}/{p}) | {drop:.2%} ({fp}/{n}) |")
    attributed = sum(1 for r, m in zip(rows, matches) if m is not None and r["label"] == "contaminated"
                     and (m.eval_set, m.eval_item_id) == (r["eval_set"], r["eval_id"]))  # fmt: skip
    print(f"attributed to the right source item: {attributed / positives:.1%}")
    print("signals:", dict(Counter(m.signal for m in matches if m is not None)))
    shown = (*HALVES,) if args.show_holdout else ("tune",)
    for r, m in zip(rows, matches):
        if m is not None and r["label"] == "clean" and half(r) in shown:
            print(f"  clean dropped [{half(r)}] ({m.signal} cos {m.cosine:.3f} ngram {m.ngram_overlap:.2f} "
                  f"words {m.lexical.word_overlap:.2f}): {r['text'][:70]!r} ~ {m.eval_set}: {m.eval_text[:60]!r}")
    for r, m in zip(rows, matches):
        if m is None and r["label"] == "contaminated" and half(r) in shown:
            print(f"  missed [{half(r)}] {r['kind']}: {r['text'][:90]!r}")

    sweep(rows, exact, pairs, cfg)


def decision(row: dict, match) -> dict:  # type: ignore[no-untyped-def]
    """What the Detector decided for one row: drop or keep, why, and against which item."""
    if match is None:
        return {"id": row["id"], "half": half(row), "drop": False}
    return {"id": row["id"], "half": half(row), "drop": True, "signal": match.signal,
            "item": f"{match.eval_set}/{match.eval_item_id}"}  # fmt: skip


def compare(a: Path, b: Path) -> None:
    """Rows whose decision (drop/keep, signal, matched item) differs between two --decisions files,
    per half of the check set."""
    left = [json.loads(line) for line in a.read_text().splitlines()]
    right = [json.loads(line) for line in b.read_text().splitlines()]
    assert [r["id"] for r in left] == [r["id"] for r in right], "the files cover different rows"
    for which in HALVES:
        pairs = [(x, y) for x, y in zip(left, right) if x["half"] == which]
        differ = [(x, y) for x, y in pairs if x != y]
        dropped = sum(x["drop"] != y["drop"] for x, y in differ)
        print(f"{which}: {len(pairs)} rows, {len(differ)} decisions differ ({dropped} drop/keep, "
              f"{len(differ) - dropped} signal or matched item only)")  # fmt: skip
        for x, y in differ:
            print(f"  {x['id']}: {a.name} {x}  |  {b.name} {y}")


def sweep(rows: list[dict], exact: list[bool], pairs: list[Pairs], cfg: DecontaminationConfig) -> None:
    """Each threshold varied around the defaults, on the tune half only."""
    print("\nsweep on the tune half (cosine alone / review band from / content-word share in the band):")
    print("| cosine | review from | words | recall | clean dropped |\n|---:|---:|---:|---:|---:|")
    trials: list[dict[str, float]] = [
        {"cosine_threshold": c, "cosine_review_threshold": r, "review_word_overlap": w}
        for c in (0.9, 0.92, 0.95, 1.0) for r in (0.8, 0.82, 0.85) for w in (0.5, 0.6, 0.7)
    ]  # fmt: skip
    trials += [{"template_min_words": n} for n in (6, 7, 8, 10)]
    trials += [{"ngram_short_word_jaccard": j} for j in (0.0, 0.5, 0.6, 0.7)]
    for update in trials:
        if update in ({"template_min_words": 6}, {"ngram_short_word_jaccard": 0.0}):  # a table per threshold
            print(f"\n| {next(iter(update))} (others at the defaults) | recall | clean dropped |\n|---:|---:|---:|")
        trial = cfg.model_copy(update=update)
        flags = [new_rule(e, p, trial) for e, p in zip(exact, pairs)]
        rec, drop, *_ = summary(rows, flags, "tune")
        cells = " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in update.values())
        print(f"| {cells} | {rec:.2%} | {drop:.2%} |")


if __name__ == "__main__":
    main()
