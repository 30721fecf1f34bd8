"""Decontaminate stage: drop prompts that leak from the config's eval sets or repeat a prompt of an
earlier release (see `pipeline.decontam` and `previous_releases`)."""

from __future__ import annotations

from pipeline.core.io import DecisionLog, StageOutput
from pipeline.decontam.detector import Detector, decontaminate
from pipeline.stages.context import RunContext, finish, load_prompts, write_prompts
from pipeline.stages.previous_releases import with_previous_releases

STAGE = "decontaminate"


def run(ctx: RunContext, ingested: StageOutput) -> StageOutput:
    log = DecisionLog(STAGE, ctx.run_id)
    prompts = load_prompts(ingested)
    cache = ctx.embedding_cache()
    eval_sets = with_previous_releases(ctx.cfg, ctx.base_dir, ctx.stage_dir(STAGE) / "previous_releases")
    detector = Detector.load(eval_sets, cache, ctx.base_dir)
    kept = decontaminate(prompts, detector, cache, log)
    sizes = {f"evalset_{name}": n for name, n in detector.sizes().items()}
    return finish(ctx, log, len(prompts), write_prompts(ctx, STAGE, kept), **sizes)
