"""Ingest: read raw prompt sources, quarantine bad rows, normalize, drop duplicates.

Every row read ends in exactly one decision: kept, quarantined (with the file, line and reason),
a duplicate of an earlier prompt's normalized text, or a near-duplicate (embedding cosine at or
above the configured threshold) of an earlier kept prompt, logged with that prompt's id. A source
that cannot be opened at all stops the run with a message naming it.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.config import IngestConfig
from pipeline.core.locations import SourceConfig
from pipeline.core.io import DecisionLog, StageOutput, write_table
from pipeline.core.records import QUARANTINE_SCHEMA, SOURCE_FUNNEL_SCHEMA, Prompt, normalize, prompt_id
from pipeline.core.sources import RawRow, read_location
from pipeline.decontam.embed import PROMPT_LABEL, EmbeddingCache
from pipeline.decontam.similarity import earlier_pairs_above
from pipeline.stages.context import RunContext, finish, write_prompts

STAGE = "ingest"
logger = logging.getLogger(__name__)
# C0 controls other than tab, newline and carriage return, and DEL: no human prompt holds them;
# they mark binary data, a wrong encoding or a broken export.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _validate(row: RawRow, src: SourceConfig, cfg: IngestConfig) -> str | None:
    if row.problem:
        return row.problem
    data = row.data or {}
    for name in (src.id_field, src.prompt_field):
        if name not in data or data[name] is None:
            return f"missing field {name!r}"
    prompt = data[src.prompt_field]
    if not isinstance(prompt, str):
        return f"field {src.prompt_field!r} must be a string, got {type(prompt).__name__}"
    if any("\ud800" <= ch <= "\udfff" for ch in prompt):
        return "invalid UTF-8 (a lone surrogate escape in the prompt)"
    control = _CONTROL.search(prompt)
    if control:
        return f"control character U+{ord(control.group()):04X} at position {control.start() + 1} of the prompt"
    if not prompt.strip():
        return "empty or whitespace-only prompt"
    if len(prompt) > cfg.max_prompt_chars:
        return f"prompt longer than {cfg.max_prompt_chars} characters ({len(prompt)})"
    source_id = data[src.id_field]
    if isinstance(source_id, bool) or not isinstance(source_id, (str, int)):
        return f"field {src.id_field!r} must be a string or integer, got {type(source_id).__name__}"
    if isinstance(source_id, str) and not source_id.strip():
        return f"field {src.id_field!r} is empty"
    return None


@dataclass
class _Accepted:
    prompt: Prompt
    where: dict[str, object]


def _read_valid(src: SourceConfig, cfg: IngestConfig, base_dir: Path, log: DecisionLog) -> tuple[list[_Accepted], int]:
    """Rows of one source that pass validation; every other row is quarantined in the log."""
    accepted: list[_Accepted] = []
    seen_ids: dict[str, str] = {}  # id -> where it was first seen
    read = 0
    for row in read_location(src, base_dir):
        read += 1
        where: dict[str, object] = {"source": src.name, "file": src.describe(), "line": row.line}
        problem = _validate(row, src, cfg)
        data = row.data or {}
        raw_id = data.get(src.id_field)
        if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip():
            # An id is claimed by its first row even when that row is quarantined: a later row
            # reusing it may be the same item re-exported, and which one is right is not ours to guess.
            source_id = str(raw_id)
            if source_id in seen_ids:
                problem = problem or f"duplicate id {source_id!r} (first at {seen_ids[source_id]})"
            else:
                seen_ids[source_id] = f"line {row.line}" + (", quarantined" if problem else "")
        if problem is not None:
            log.dropped(f"{src.name}:{row.line}", "quarantined", problem=problem, raw=row.raw, **where)
            continue
        text = normalize(data[src.prompt_field])
        metadata = {k: data.get(k) for k in src.metadata_fields}
        prompt = Prompt(prompt_id(text), text, src.name, source_id, row.line, metadata=metadata)
        accepted.append(_Accepted(prompt, where))
    return accepted, read


def _near_duplicates(prompts: list[Prompt], threshold: float, cache: EmbeddingCache) -> dict[int, tuple[int, float]]:
    """Row -> (kept row it repeats, cosine). Greedy in input order: the first of a group is kept."""
    texts = [p.text for p in prompts]
    vectors = cache.get("pool", texts)
    dropped: dict[int, tuple[int, float]] = {}
    for i, j, cosine in earlier_pairs_above(vectors, threshold):
        if i not in dropped and j not in dropped:
            dropped[i] = (j, cosine)
        elif i in dropped and j not in dropped and cosine > dropped[i][1]:
            dropped[i] = (j, cosine)
    keep = [n for n in range(len(prompts)) if n not in dropped]
    cache.put(PROMPT_LABEL, [texts[n] for n in keep], vectors[keep])
    return dropped


def ingest(
    sources: list[SourceConfig],
    cfg: IngestConfig,
    base_dir: Path,
    log: DecisionLog,
    cache: EmbeddingCache | None = None,
) -> tuple[list[Prompt], int]:
    """Return the accepted prompts and the number of rows read. Near-duplicate removal needs an
    embedding cache; without one (or with no threshold) only exact duplicates are removed."""
    unique: dict[str, _Accepted] = {}
    read = 0
    for src in sources:
        accepted, count = _read_valid(src, cfg, base_dir, log)
        read += count
        for entry in accepted:
            first = unique.get(entry.prompt.prompt_id)
            if first is not None:
                item = f"{entry.where['source']}:{entry.where['line']}"
                log.dropped(item, "duplicate", kept_id=first.prompt.prompt_id, **entry.where)
            else:
                unique[entry.prompt.prompt_id] = entry
    entries = list(unique.values())
    near: dict[int, tuple[int, float]] = {}
    if cfg.near_duplicate_threshold is not None and cache is not None and len(entries) > 1:
        near = _near_duplicates([e.prompt for e in entries], cfg.near_duplicate_threshold, cache)
    kept = []
    for n, entry in enumerate(entries):
        item = f"{entry.where['source']}:{entry.where['line']}"
        if n in near:
            other, cosine = near[n]
            log.dropped(item, "near_duplicate", kept_id=entries[other].prompt.prompt_id,
                        kept_text=entries[other].prompt.text[:300], cosine=round(cosine, 4), **entry.where)  # fmt: skip
        else:
            kept.append(entry.prompt)
            log.kept(entry.prompt.prompt_id, source_item=item, **entry.where)
    return kept, read


def _write_quarantine(ctx: RunContext, log: DecisionLog) -> Path:
    """Bad input rows in one table a person can fix the sources from: source, file, line, reason."""
    rows = []
    for d in log.rows:
        if d.reason == "quarantined":
            ev = json.loads(d.evidence)
            rows.append({k: ev.get(k) for k in ("source", "file", "line", "problem", "raw")})
    return write_table(rows, ctx.stage_dir(log.stage) / "quarantine.parquet", QUARANTINE_SCHEMA)


def source_funnel(sources: list[SourceConfig], log: DecisionLog) -> list[dict[str, object]]:
    """Per source: rows read and what became of them, and a warning for a source that gave no
    row at all or no usable one (an empty export is a mistake to see before a release, not after)."""
    tally: dict[str, Counter[str]] = {src.name: Counter() for src in sources}
    for d in log.rows:
        name = json.loads(d.evidence).get("source")
        if name in tally:
            tally[name]["read"] += 1
            tally[name][d.reason if d.decision != "kept" else "kept"] += 1
    rows = []
    for src in sources:
        counts = tally[src.name]
        warning = None
        if not counts["read"]:
            warning = f"source {src.name!r} ({src.describe()}) has no rows"
        elif not counts["kept"] and counts["read"] == counts["quarantined"]:
            warning = f"source {src.name!r} ({src.describe()}): none of its {counts['read']} rows is usable"
        rows.append({"source": src.name, "file": src.describe(), "read": counts["read"], "kept": counts["kept"],
                     "quarantined": counts["quarantined"], "duplicate": counts["duplicate"],
                     "near_duplicate": counts["near_duplicate"], "warning": warning})  # fmt: skip
    return rows


def run(ctx: RunContext) -> StageOutput:
    log = DecisionLog(STAGE, ctx.run_id)
    prompts, read = ingest(ctx.cfg.sources, ctx.cfg.ingest, ctx.base_dir, log, ctx.embedding_cache())
    _write_quarantine(ctx, log)
    per_source = source_funnel(ctx.cfg.sources, log)
    for row in per_source:
        if row["warning"]:
            logger.warning("%s", row["warning"])
    write_table(per_source, ctx.stage_dir(STAGE) / "sources.parquet", SOURCE_FUNNEL_SCHEMA)
    return finish(ctx, log, read, write_prompts(ctx, STAGE, prompts))
