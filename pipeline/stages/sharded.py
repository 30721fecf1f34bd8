"""Running a stage as shards through the build's executor, and reading its parts as one table.

The stage's tables and decisions are the concatenation of its shards' parts in shard order,
streamed (polars sink) into the stage folder, so the release and the decision log are the same
whichever executor ran the shards. Each shard's balance is checked where it ran; the stage's
balance is checked again on the concatenated decisions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.core.io import StageOutput, atomic_write_text, file_fingerprint, scan_table, sink_table, tree_fingerprint
from pipeline.core.run_location import portable, run_url
from pipeline.exec import executor_for
from pipeline.exec.shards import ShardJob, finished
from pipeline.lm.runner import RequestStats
from pipeline.stages.context import RunContext, add_usage, lm_counts, record_ledger

TERMINAL = ("kept", "dropped", "failed")
_CODE = tree_fingerprint(Path(__file__).resolve().parent.parent)


def shard_key(ctx: RunContext, stage: str, upstream: dict[str, StageOutput]) -> str:
    """What every shard of this stage depends on: the config (not where it runs), the library
    code, the prompt templates and the upstream tables' content."""
    parts = [ctx.cfg.model_dump_json(exclude={"executor", "review"}), _CODE, stage,
             tree_fingerprint(ctx.base_dir / ctx.cfg.prompts_dir, "**/*"),
             *(f"{name}={out.fingerprint}" for name, out in sorted(upstream.items()))]  # fmt: skip
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def plan_shards(ctx: RunContext, stage: str, work: str, upstream: dict[str, StageOutput]) -> list[ShardJob]:
    count = ctx.cfg.executor.resolved_shards()
    key = shard_key(ctx, stage, upstream)
    url = run_url(ctx.cfg) or ""
    # A remote run's workers find the upstream tables by their place in the run directory.
    inputs = tuple((n, portable(o, ctx.run_dir).path if url else o.path) for n, o in upstream.items())
    cache_dir = ctx.base_dir / f"{ctx.cfg.lm_cache}.shards" / ctx.cfg.version
    common = dict(stage=stage, count=count, work=work, config_json=ctx.cfg.model_dump_json(),
                  base_dir=str(ctx.base_dir), run_dir=str(ctx.run_dir), run_id=ctx.run_id,
                  upstream=inputs, key=key, cache_dir=str(cache_dir), store_url=url)  # fmt: skip
    return [ShardJob(index=i, **common) for i in range(count)]  # type: ignore[arg-type]


def run_shards(ctx: RunContext, stage: str, work: str, upstream: dict[str, StageOutput]) -> list[dict[str, Any]]:
    """Every shard's summary in shard order: shards already done with the same key are reused
    (their summaries say so), the rest run on the executor. Folders of other shard counts go."""
    jobs = plan_shards(ctx, stage, work, upstream)
    shards_root = ctx.stage_dir(stage) / "shards"
    wanted = {job.part_dir.name for job in jobs}
    for stale in shards_root.glob("*") if shards_root.is_dir() else []:
        if stale.name not in wanted:
            shutil.rmtree(stale, ignore_errors=True)
    summaries: dict[int, dict[str, Any]] = {}
    for job in jobs:
        # A shard whose LM requests failed for good runs again: its answered ones come from the
        # response cache, and only the failed ones are sent.
        if (done := finished(job)) is not None and not _had_failures(done):
            summaries[job.index] = {**done, "reused": True, "usage": {}}
    todo = [job for job in jobs if job.index not in summaries]
    progress = ctx.progress

    def on_done(job: ShardJob, summary: dict[str, Any]) -> None:
        summaries[job.index] = summary
        if progress is not None and len(jobs) > 1:
            progress("shards", len(summaries), len(jobs))

    executor = executor_for(ctx.cfg.executor)
    executor.run(todo, lambda: ctx.model_pool(metered=False), progress, on_done)
    for job in todo:
        if finished(job) is None:  # a remote worker's part comes into this working copy
            raise RuntimeError(f"shard {job.name}: reported done but its part is missing from {job.store_url or job.run_dir}")
    if executor.kind != "local":
        from pipeline.lm.shard_cache import merge_shard_caches

        merge_shard_caches(ctx.base_dir / ctx.cfg.lm_cache, [job.cache_path for job in jobs])
    ordered = [summaries[job.index] for job in jobs]
    atomic_write_text(ctx.stage_dir(stage) / "shards.json", json.dumps(ordered, sort_keys=True, indent=1))
    for summary in ordered:
        for model, counts in summary.get("usage", {}).items():
            add_usage(ctx.lm_usage, model, counts)
    return ordered


def _had_failures(summary: dict[str, Any]) -> bool:
    return any(counts.get("failed", 0) for counts in summary.get("usage", {}).values())


def part_paths(ctx: RunContext, stage: str, name: str) -> list[Path]:
    count = ctx.cfg.executor.resolved_shards()
    return [ctx.stage_dir(stage) / "shards" / f"{i:05d}-of-{count:05d}" / name for i in range(count)]


def concat_parts(paths: list[Path], target: Path) -> Path:
    """The parts as one parquet file, streamed (never all in memory), written atomically."""
    return sink_table(pl.scan_parquet(paths), target)


def lm_totals(summaries: list[dict[str, Any]]) -> dict[str, int]:
    """LM traffic of this run (reused shards sent nothing), as the stage's counts."""
    total = RequestStats()  # every count, zeros included
    for summary in summaries:
        for counts in summary.get("usage", {}).values():
            total.add(**counts)
    return lm_counts(total.as_dict())


def finish_parts(ctx: RunContext, stage: str, items_in: int, table: Path, **counts: int) -> StageOutput:
    """The stage's decisions from its parts, checked (every item in has exactly one terminal
    decision), written, and the stage's output handed on."""
    decisions = concat_parts(part_paths(ctx, stage, "decisions.parquet"), ctx.stage_dir(stage) / "decisions.parquet")
    frame = scan_table(decisions)
    terminal = frame.filter(pl.col("decision").is_in(TERMINAL))
    check = terminal.select(pl.len().alias("n"), pl.col("item_id").n_unique().alias("ids")).collect().row(0)
    if check[0] != items_in or check[1] != check[0]:
        raise AssertionError(f"stage {stage}: {items_in} items in but {check[0]} decisions ({check[1]} distinct ids)")
    record_ledger(ctx, stage)
    tally = {"in": items_in, **counts}
    for decision, n in frame.group_by("decision").len().collect().iter_rows():
        tally[decision] = n
    return StageOutput(stage, str(table), file_fingerprint(table), tally)

