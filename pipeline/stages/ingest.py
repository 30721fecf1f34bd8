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
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterator

import polars as pl

from pipeline.core.config import IngestConfig
from pipeline.core.locations import SourceConfig
from pipeline.core.io import DecisionLog, StageOutput, sink_table, write_table
from pipeline.core.records import QUARANTINE_SCHEMA, SOURCE_FUNNEL_SCHEMA, Prompt, normalize, prompt_id
from pipeline.core.sources import RawRow, read_location
from pipeline.core.spool import CHUNK_ROWS, ChunkedTable
from pipeline.decontam.embed import PROMPT_LABEL, EmbeddingCache
from pipeline.decontam.similarity import earlier_pairs_above
from pipeline.stages.context import RunContext, finish, load_prompts_at, prompts_frame

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


def _accepted(src: SourceConfig, cfg: IngestConfig, base_dir: Path, log: DecisionLog,
              tally: Counter[str]) -> Iterator[Prompt]:  # fmt: skip
    """Rows of one source that pass validation, as prompts while they are read; every other row is
    quarantined in `log`. Holds only the ids seen so far."""
    seen_ids: dict[str, int] = {}  # id -> line it was first seen on (negated: that row was quarantined)
    file = src.describe()
    for row in read_location(src, base_dir):
        tally["read"] += 1
        problem = _validate(row, src, cfg)
        data = row.data or {}
        raw_id = data.get(src.id_field)
        if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip():
            # An id is claimed by its first row even when that row is quarantined: a later row
            # reusing it may be the same item re-exported, and which one is right is not ours to guess.
            source_id = str(raw_id)
            first = seen_ids.get(source_id)
            if first is not None:
                where = f"line {abs(first)}" + (", quarantined" if first < 0 else "")
                problem = problem or f"duplicate id {source_id!r} (first at {where})"
            else:
                seen_ids[source_id] = -row.line if problem else row.line
        if problem is not None:
            tally["quarantined"] += 1
            log.dropped(f"{src.name}:{row.line}", "quarantined", problem=problem, raw=row.raw, source=src.name,
                        file=file, line=row.line)  # fmt: skip
            continue
        text = normalize(data[src.prompt_field])
        metadata = {k: data.get(k) for k in src.metadata_fields}
        yield Prompt(prompt_id(text), text, src.name, source_id, row.line, metadata=metadata)


def _near_duplicates(texts: list[str], threshold: float, cache: EmbeddingCache) -> dict[int, tuple[int, float]]:
    """Row -> (kept row it repeats, cosine). Greedy in input order: the first of a group is kept."""
    vectors = cache.get("pool", texts)
    dropped: dict[int, tuple[int, float]] = {}
    for i, j, cosine in earlier_pairs_above(vectors, threshold):
        if i not in dropped and j not in dropped:
            dropped[i] = (j, cosine)
        elif i in dropped and j not in dropped and cosine > dropped[i][1]:
            dropped[i] = (j, cosine)
    keep = [n for n in range(len(texts)) if n not in dropped]
    cache.put(PROMPT_LABEL, [texts[n] for n in keep], vectors[keep])
    return dropped


def _near_in(unique: ChunkedTable[tuple[Prompt, str]], threshold: float,
             cache: EmbeddingCache) -> tuple[dict[int, tuple[int, float]], dict[int, tuple[str, str]]]:  # fmt: skip
    """The near-duplicates among the distinct prompts (see `_near_duplicates`), and the id and
    text excerpt of each prompt one repeats: only the ids and texts are loaded, not the rows."""
    both = unique.scan().select("prompt_id", "text").collect()
    ids, texts = both["prompt_id"].to_list(), both["text"].to_list()
    del both
    near = _near_duplicates(texts, threshold, cache)
    return near, {other: (ids[other], texts[other][:300]) for other, _ in near.values()}


def _unique_frame(rows: list[tuple[Prompt, str]]) -> pl.DataFrame:
    """Prompts of distinct text with the file each came from (its decision names it)."""
    return prompts_frame([p for p, _ in rows]).with_columns(pl.Series("file", [f for _, f in rows], dtype=pl.String))


def ingest_to(
    sources: list[SourceConfig],
    cfg: IngestConfig,
    base_dir: Path,
    log: DecisionLog,
    out: Path,
    scratch: Path,
    cache: EmbeddingCache | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[int, dict[str, Counter[str]]]:
    """Read every source a row at a time, write the accepted prompts table to `out` and every row's
    decision to `log`; return the rows read and the decisions per source name (the funnel).

    What stays in memory is what dedup needs: the distinct normalized texts' ids (and per source,
    its ids seen). Prompts of distinct text go to parquet parts under `scratch` as they come; the
    kept and near-duplicate decisions are made from those parts at the end (near-duplicates need
    every distinct text: only those texts are loaded). The log gets the decisions in the order a
    whole-in-memory pass gave them: per source its quarantined rows, then its duplicates; then the
    kept and near-duplicate rows in input order."""
    tallies: dict[str, Counter[str]] = {}
    seen: set[str] = set()  # prompt ids (hashes of the normalized text) of the distinct prompts so far
    unique: ChunkedTable[tuple[Prompt, str]] = ChunkedTable(scratch / "unique", _unique_frame, chunk_rows)
    read = 0
    try:
        for src in sources:
            tally = tallies.setdefault(src.name, Counter())
            quarantined, duplicates = log.sibling(), log.sibling()
            before, file = tally["read"], src.describe()
            for prompt in _accepted(src, cfg, base_dir, quarantined, tally):
                if prompt.prompt_id in seen:
                    tally["duplicate"] += 1
                    duplicates.dropped(f"{src.name}:{prompt.source_line}", "duplicate", kept_id=prompt.prompt_id,
                                       source=src.name, file=file, line=prompt.source_line)  # fmt: skip
                else:
                    seen.add(prompt.prompt_id)
                    unique.add((prompt, file))
            read += tally["read"] - before
            log.extend(quarantined)
            log.extend(duplicates)
        seen.clear()
        near: dict[int, tuple[int, float]] = {}
        kept_of: dict[int, tuple[str, str]] = {}
        if cfg.near_duplicate_threshold is not None and cache is not None and unique.count > 1:
            near, kept_of = _near_in(unique, cfg.near_duplicate_threshold, cache)
        _decide_unique(unique, near, kept_of, log, tallies)
        frame = unique.scan()
        if near:
            frame = frame.with_row_index("_row").filter(~pl.col("_row").is_in(list(near))).drop("_row")
        sink_table(frame.drop("file"), out)
    finally:
        unique.discard()
    return read, tallies


def _decide_unique(unique: ChunkedTable[tuple[Prompt, str]], near: dict[int, tuple[int, float]],
                   kept_of: dict[int, tuple[str, str]], log: DecisionLog,
                   tallies: dict[str, Counter[str]]) -> None:  # fmt: skip
    """Kept or near-duplicate: one decision per prompt of distinct text, in input order."""
    n = 0
    for chunk in unique.chunks(["prompt_id", "source", "file", "source_line"]):
        for pid, source, file, line in chunk.iter_rows():
            item = f"{source}:{line}"
            if n in near:
                other, cosine = near[n]
                kept_id, kept_text = kept_of[other]
                tallies[source]["near_duplicate"] += 1
                log.dropped(item, "near_duplicate", kept_id=kept_id, kept_text=kept_text, cosine=round(cosine, 4),
                            source=source, file=file, line=line)  # fmt: skip
            else:
                tallies[source]["kept"] += 1
                log.kept(pid, source_item=item, source=source, file=file, line=line)
            n += 1


def ingest(
    sources: list[SourceConfig],
    cfg: IngestConfig,
    base_dir: Path,
    log: DecisionLog,
    cache: EmbeddingCache | None = None,
) -> tuple[list[Prompt], int]:
    """Return the accepted prompts and the number of rows read. Near-duplicate removal needs an
    embedding cache; without one (or with no threshold) only exact duplicates are removed.
    (For callers that want the prompts as objects: the stage itself streams, see `ingest_to`.)"""
    with tempfile.TemporaryDirectory(prefix="ingest-") as folder:
        out = Path(folder) / "prompts.parquet"
        read, _ = ingest_to(sources, cfg, base_dir, log, out, Path(folder), cache)
        return load_prompts_at(out), read


def _write_quarantine(ctx: RunContext, log: DecisionLog) -> Path:
    """Bad input rows in one table a person can fix the sources from: source, file, line, reason."""
    keys = ("source", "file", "line", "problem", "raw")
    evidence = log.frame().filter(pl.col("reason") == "quarantined").select("evidence").collect()["evidence"]
    rows = [{k: ev.get(k) for k in keys} for ev in map(json.loads, evidence)]
    return write_table(rows, ctx.stage_dir(log.stage) / "quarantine.parquet", QUARANTINE_SCHEMA)


def source_funnel(sources: list[SourceConfig], log: DecisionLog) -> list[dict[str, object]]:
    """The funnel (see `funnel_rows`) counted from a log held in memory."""
    tallies: dict[str, Counter[str]] = {src.name: Counter() for src in sources}
    for d in log.rows:
        name = json.loads(d.evidence).get("source")
        if name in tallies:
            tallies[name]["read"] += 1
            tallies[name][d.reason if d.decision != "kept" else "kept"] += 1
    return funnel_rows(sources, tallies)


def funnel_rows(sources: list[SourceConfig], tallies: dict[str, Counter[str]]) -> list[dict[str, object]]:
    """Per source: rows read and what became of them, and a warning for a source that gave no
    row at all or no usable one (an empty export is a mistake to see before a release, not after)."""
    rows = []
    for src in sources:
        counts = tallies.get(src.name, Counter())
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
    """The stage, streamed: decisions and prompts go to parquet parts in a scratch folder as they
    are made (a leftover `.staging` folder is removed when an interrupted build resumes)."""
    stage_dir = ctx.stage_dir(STAGE)
    stage_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=stage_dir, prefix=".ingest-", suffix=".staging"))
    try:
        log = DecisionLog(STAGE, ctx.run_id, spool=scratch / "decisions")
        table = stage_dir / "prompts.parquet"
        read, tallies = ingest_to(ctx.cfg.sources, ctx.cfg.ingest, ctx.base_dir, log, table, scratch,
                                  ctx.embedding_cache())  # fmt: skip
        _write_quarantine(ctx, log)
        per_source = funnel_rows(ctx.cfg.sources, tallies)
        for row in per_source:
            if row["warning"]:
                logger.warning("%s", row["warning"])
        write_table(per_source, stage_dir / "sources.parquet", SOURCE_FUNNEL_SCHEMA)
        return finish(ctx, log, read, table)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
