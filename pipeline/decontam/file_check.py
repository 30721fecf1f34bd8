"""Decontaminate one prompt file on its own, for people auditing a pool (`rb decontaminate`).

INPUT is a JSONL, CSV or parquet file with `id` and `prompt` columns. Rows that cannot be checked
(no id, no prompt text) are reported, not silently skipped. Output: `kept.parquet` and
`dropped.parquet` (with the evidence columns), both keeping the input `id`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.core.config import DecontaminationConfig
from pipeline.decontam.detector import Detector
from pipeline.decontam.embed import EmbeddingCache
from pipeline.core.records import normalize
from pipeline.core.io import write_parquet
from pipeline.core.sources import read_file

KEPT_SCHEMA = pa.schema([("id", pa.string()), ("prompt", pa.string())])
DROPPED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("prompt", pa.string()),
        ("eval_set", pa.string()),
        ("eval_item_id", pa.string()),
        ("eval_text", pa.string()),
        ("cosine", pa.float64()),
        ("ngram_overlap", pa.float64()),
        ("ngram_shared", pa.int64()),
        ("template_overlap", pa.float64()),
        ("span_words", pa.int64()),
        ("span_text", pa.string()),
        ("word_overlap", pa.float64()),
        ("word_jaccard", pa.float64()),
        ("llm_confirmed", pa.bool_()),
        ("signal", pa.string()),
    ]
)


@dataclass
class FileReport:
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)  # "line N: reason"
    eval_sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        return self.read == self.kept + sum(self.dropped.values()) + len(self.unreadable)


def decontaminate_file(
    input_path: Path, cfg: DecontaminationConfig, cache: EmbeddingCache, base_dir: Path, out_dir: Path
) -> FileReport:
    start = time.perf_counter()
    report = FileReport()
    ids: list[str] = []
    originals: list[str] = []
    for row in read_file(input_path):
        report.read += 1
        data = row.data or {}
        prompt = data.get("prompt")
        problem = row.problem
        if problem is None and data.get("id") is None:
            problem = "missing field 'id'"
        if problem is None and (not isinstance(prompt, str) or not prompt.strip()):
            problem = "missing or empty field 'prompt'"
        if problem is not None:
            report.unreadable.append(f"line {row.line}: {problem}")
            continue
        ids.append(str(data["id"]))
        originals.append(prompt)
    detector = Detector.load(cfg, cache, base_dir)
    report.eval_sizes = detector.sizes()
    texts = [normalize(p) for p in originals]
    matches = detector.check(texts, cache.get(f"input-{input_path.stem}", texts))
    kept_rows, dropped_rows = [], []
    for item_id, prompt, match in zip(ids, originals, matches):
        if match is None:
            kept_rows.append({"id": item_id, "prompt": prompt})
            continue
        dropped_rows.append({"id": item_id, "prompt": prompt, **match.evidence()})
        report.dropped[match.eval_set] += 1
        report.signals[match.signal] += 1
    write_parquet(kept_rows, out_dir / "kept.parquet", KEPT_SCHEMA)
    write_parquet(dropped_rows, out_dir / "dropped.parquet", DROPPED_SCHEMA)
    report.kept = len(kept_rows)
    report.examples = dropped_rows[:5]
    report.seconds = time.perf_counter() - start
    assert report.accounted, "every input row must be kept, dropped or reported"
    return report


def summary_lines(report: FileReport, cfg: DecontaminationConfig, input_path: Path, out_dir: Path) -> list[str]:
    """The one-screen summary `rb decontaminate` prints."""
    eval_total = sum(report.eval_sizes.values())
    lines = [
        f"{input_path}: {report.read} rows read in {report.seconds:.1f} s",
        f"  eval sets: {len(report.eval_sizes)} ({eval_total} items): "
        + ", ".join(f"{k} {v}" for k, v in report.eval_sizes.items()),
        f"  thresholds: cosine >= {cfg.cosine_threshold} (review from {cfg.cosine_review_threshold}), "
        f"{cfg.ngram_size}-gram overlap >= {cfg.ngram_threshold}, template >= {cfg.template_threshold}, "
        f"span >= {cfg.span_min_words} words",
        f"  kept:       {report.kept}",
        f"  dropped:    {sum(report.dropped.values())}"
        + (" (" + ", ".join(f"{k} {v}" for k, v in report.dropped.most_common()) + ")" if report.dropped else ""),
        "  by signal:  " + (", ".join(f"{k} {v}" for k, v in report.signals.most_common()) or "-"),
    ]
    if report.unreadable:
        lines.append(f"  unreadable: {len(report.unreadable)} (first: {report.unreadable[0]})")
    for row in report.examples[:3]:
        lines.append(
            f"    {row['id']}: {row['eval_set']}/{row['eval_item_id']} cos {row['cosine']:.3f} "
            f"ngram {row['ngram_overlap']:.2f}: {row['prompt'][:60]!r}"
        )
    lines.append(f"  wrote {out_dir / 'kept.parquet'} and {out_dir / 'dropped.parquet'}")
    return lines
