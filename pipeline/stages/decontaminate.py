"""Decontaminate stage: drop prompts that leak from the config's eval sets or repeat a prompt of an
earlier release (see `pipeline.decontam` and `previous_releases`)."""

from __future__ import annotations

from pipeline.core.io import DecisionLog, StageOutput
from pipeline.decontam.confirm import llm_confirmer
from pipeline.decontam.detector import Detector, decontaminate
from pipeline.stages.context import RunContext, finish, lm_counts, load_prompts, write_prompts
from pipeline.stages.previous_releases import with_previous_releases

STAGE = "decontaminate"


def run(ctx: RunContext, ingested: StageOutput) -> StageOutput:
    log = DecisionLog(STAGE, ctx.run_id)
    prompts = load_prompts(ingested)
    cache = ctx.embedding_cache()
    cfg = with_previous_releases(ctx.cfg, ctx.base_dir, ctx.stage_dir(STAGE) / "previous_releases")
    with ctx.model_pool() as pool:
        confirm = None
        if cfg.confirm_model:
            confirm = llm_confirmer(pool.get(cfg.confirm_model), ctx.templates().raw(cfg.confirm_template))
        detector = Detector.load(cfg, cache, ctx.base_dir, confirm)
        kept = decontaminate(prompts, detector, cache, log)
        lm = pool.total() if cfg.confirm_model else {}
    sizes = {f"evalset_{name}": n for name, n in detector.sizes().items()}
    return finish(ctx, log, len(prompts), write_prompts(ctx, STAGE, kept), **sizes, **lm_counts(lm))
