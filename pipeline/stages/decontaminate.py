"""Decontaminate stage: drop prompts that leak from the config's eval sets or repeat a prompt of an
earlier release (see `pipeline.decontam` and `previous_releases`).

The prompts table is read a chunk at a time; only the texts become a list, and only when there is
an eval set to compare them with (their vectors are those of the whole list, cached)."""

from __future__ import annotations

import polars as pl

from pipeline.core.io import DecisionLog, StageOutput
from pipeline.decontam.confirm import llm_confirmer
from pipeline.decontam.detector import Detector, check_texts, log_match
from pipeline.stages.chunks import chunks, filter_chunks, row_count, scratch
from pipeline.stages.context import RunContext, finish, lm_counts
from pipeline.stages.previous_releases import with_previous_releases

STAGE = "decontaminate"


def run(ctx: RunContext, ingested: StageOutput) -> StageOutput:
    cache = ctx.embedding_cache()
    cfg = with_previous_releases(ctx.cfg, ctx.base_dir, ctx.stage_dir(STAGE) / "previous_releases")
    with scratch(ctx.stage_dir(STAGE)) as folder:
        log = DecisionLog(STAGE, ctx.run_id, spool=folder / "decisions")
        with ctx.model_pool() as pool:
            confirm = None
            if cfg.confirm_model:
                confirm = llm_confirmer(pool.get(cfg.confirm_model), ctx.templates().raw(cfg.confirm_template))
            detector = Detector.load(cfg, cache, ctx.base_dir, confirm)
            matches = None  # None: nothing to compare against, every prompt is clean
            if detector.items:
                texts = [t for c in chunks(ingested.path, ["text"]) for t in c["text"].to_list()]
                matches = check_texts(texts, detector, cache)
                del texts
            lm = pool.total() if cfg.confirm_model else {}
        seen = 0

        def step(chunk: pl.DataFrame) -> pl.DataFrame:
            nonlocal seen
            keep = []
            for pid, text in zip(chunk["prompt_id"].to_list(), chunk["text"].to_list()):
                keep.append(log_match(log, pid, text, matches[seen] if matches is not None else None))
                seen += 1
            return chunk.filter(pl.Series(keep, dtype=pl.Boolean))

        table = filter_chunks(ingested.path, ctx.stage_dir(STAGE) / "prompts.parquet", folder / "prompts", step)
        assert seen == row_count(ingested.path)
        sizes = {f"evalset_{name}": n for name, n in detector.sizes().items()}
        return finish(ctx, log, seen, table, **sizes, **lm_counts(lm))
