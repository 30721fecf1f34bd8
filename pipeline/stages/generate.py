"""Generation: turn routed prompts into sampled completions, with each subset's own method.

First the prompt transforms (Focus rewrites, Ties narrowings), then every answer request.
Requests are built deterministically (seeds derive from the config seed, prompt id, model,
method and sample index), so a rerun builds identical requests and the response cache answers
them all. Every planned request is one item of the stage's decision log.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from pipeline.core.io import DecisionLog, StageOutput, write_table
from pipeline.exec.shards import ShardJob
from pipeline.core.records import TRANSFORM_SCHEMA, Completion, Prompt, completion_id
from pipeline.lm import ChatResult, ModelPool
from pipeline.stages.context import RunContext, load_prompts_at, shard_context, write_completions
from pipeline.stages.sharded import concat_parts, finish_parts, lm_totals, part_paths, run_shards
from pipeline.subsets.base import Planned, Sampler, Subset
from pipeline.subsets.registry import enabled as enabled_subsets
from pipeline.subsets.rewrite import ATTEMPTS, Transform, parse_rewrite

STAGE = "generate"
BATCH_SIZE = 512  # answer requests per batch (a batch's answers are cached before the next goes)
Progress = Callable[[str, int, int], None]


def _run_by_model(pool: ModelPool, items: Sequence[Any], progress: Progress | None, label: str,
                  offset: int = 0, overall: int | None = None) -> list[ChatResult]:  # fmt: skip
    """Send each model its requests as one batch; results come back in the items' order.
    Progress counts over all models, from `offset` of `overall` (a stage's total)."""
    by_model: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_model[item.model].append(i)
    results: list[ChatResult] = [ChatResult(error="not sent")] * len(items)
    total = overall if overall is not None else len(items)
    for model_name, indices in by_model.items():
        report = (
            (lambda done, _n, m=model_name, base=offset: progress(f"{label} {m}", base + done, total)) if progress else None
        )  # fmt: skip
        answers = pool.get(model_name).generate([items[i].request for i in indices], progress=report)
        for i, result in zip(indices, answers):
            results[i] = result
        offset += len(indices)
    return results


def stream_answers(
    pool: ModelPool, planned: Sequence[Planned], progress: Progress | None, batch_size: int
) -> Iterator[tuple[Planned, ChatResult]]:
    """Answer planned requests a batch at a time: each batch's answers are durable in the
    response cache before the next is sent, and no stage holds more than one batch in flight."""
    for start in range(0, len(planned), batch_size):
        chunk = planned[start : start + batch_size]
        yield from zip(chunk, _run_by_model(pool, chunk, progress, "answers", start, len(planned)))


def run_transforms(pending: list[Transform], prompts: Sequence[Prompt], pool: ModelPool, log: DecisionLog,
                   progress: Progress | None) -> tuple[dict[str, str], list[dict[str, Any]]]:  # fmt: skip
    """New questions by prompt id, and one audit row per attempt. An unusable rewrite is asked for
    again (sampled) up to ATTEMPTS times; each attempt is an item of the log."""
    by_id = {p.prompt_id: p for p in prompts}
    rewritten: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    while pending:
        retry = []
        for plan, result in zip(pending, _run_by_model(pool, pending, progress, "rewrite")):
            prompt = by_id[plan.prompt_id]
            question, why = parse_rewrite(result.text, prompt.text, plan.template) if result.ok else (None, str(result.error))
            rows.append({"transform_id": plan.transform_id, "prompt_id": plan.prompt_id, "kind": plan.kind,
                         "model": plan.model, "raw": result.text, "rewritten": question, "problem": why or None})  # fmt: skip
            if not result.ok:
                # Failed after its retries: a rerun sends it again (failures are never cached).
                log.add(plan.transform_id, "failed", "request-failed", prompt_id=plan.prompt_id, model=plan.model,
                        error=result.error, attempts=result.attempts)  # fmt: skip
                continue
            if question is not None:
                rewritten[plan.prompt_id] = question
                log.kept(plan.transform_id, plan.kind, prompt_id=plan.prompt_id, model=plan.model, rewritten=question,
                         attempt=plan.attempt, cached=result.cached)  # fmt: skip
                continue
            log.add(plan.transform_id, "failed", f"{plan.kind}-unusable", prompt_id=plan.prompt_id, why=why,
                    attempt=plan.attempt, raw=result.text[:300])  # fmt: skip
            if plan.attempt + 1 < ATTEMPTS:
                retry.append(Transform.plan(prompt, plan.kind, plan.model, plan.template, plan.attempt + 1))
        pending = retry
    return rewritten, rows


@dataclass
class Generated:
    completions: list[Completion]
    transforms: list[dict[str, Any]]
    items: int  # transforms + planned requests + derived candidates: the decision log's balance


def generate(
    subsets: dict[str, Subset],
    prompts: list[Prompt],
    pool: ModelPool,
    sampler: Sampler,
    log: DecisionLog,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> Generated:
    """Each prompt's subset plans its rewrites, then its answer requests; then each subset derives
    the candidates it makes without an LM call."""
    transforms = [t for p in prompts for t in subsets[p.subset or ""].transforms(p, sampler.templates)]
    rewritten, transform_rows = run_transforms(transforms, prompts, pool, log, progress)
    planned = [item for p in prompts for item in subsets[p.subset or ""].plan(p, sampler, rewritten.get(p.prompt_id))]
    completions = []
    for item, result in stream_answers(pool, planned, progress, batch_size):
        params = item.request.params()
        cid = completion_id(item.prompt.prompt_id, item.model, item.method, params, item.sample_index)
        if not result.ok:
            log.add(cid, "failed", "request-failed", model=item.model, error=result.error, attempts=result.attempts)
            continue
        completions.append(_completion(cid, item, result, json.dumps(params, sort_keys=True)))
        log.kept(cid, "generated", model=item.model, method=item.method, finish_reason=result.finish_reason,
                 cached=result.cached)  # fmt: skip
    derived = [c for key, subset in subsets.items()
               for c in subset.derive([c for c in completions if c.subset == key], rewritten)]  # fmt: skip
    for c in derived:
        log.kept(c.completion_id, "derived", method=c.method, answer_of=c.derived_from)
    return Generated(completions + derived, transform_rows, len(transform_rows) + len(planned) + len(derived))


def _completion(cid: str, item: Planned, result: ChatResult, params: str) -> Completion:
    return Completion(
        completion_id=cid, prompt_id=item.prompt.prompt_id, subset=item.prompt.subset or "", model=item.model,
        method=item.method, sample_index=item.sample_index, prompt_text=item.prompt_text, text=result.text,
        finish_reason=result.finish_reason, prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens, params=params, **item.fields,
    )  # fmt: skip


def shard_work(job: ShardJob, pool: ModelPool, progress: Progress | None) -> dict[str, Any]:
    """One shard: its prompts' transforms, answers and derived candidates, as parts."""
    ctx = shard_context(job, progress)
    cfg = ctx.cfg
    prompts = load_prompts_at(job.input("route"), job.wants)
    log = DecisionLog(STAGE, job.run_id)
    # A provider batch takes hours whatever its size: batch models get the shard's requests at once.
    size = BATCH_SIZE if not any(m.batch for m in cfg.models) else 10**9
    generated = generate(enabled_subsets(cfg), prompts, pool, Sampler(cfg.seed, ctx.templates()), log, progress, size)
    log.check_balance(generated.items)
    write_table(generated.transforms, job.part_dir / "transforms.parquet", TRANSFORM_SCHEMA)
    write_completions(job.part_dir / "completions.parquet", generated.completions)
    log.write(job.part_dir / "decisions.parquet")
    return {"prompts": len(prompts), "in": generated.items, **log.tally()}


def run(ctx: RunContext, routed: StageOutput) -> StageOutput:
    summaries = run_shards(ctx, STAGE, f"{__name__}:shard_work", {"route": routed})
    concat_parts(part_paths(ctx, STAGE, "transforms.parquet"), ctx.stage_dir(STAGE) / "transforms.parquet")
    table = concat_parts(part_paths(ctx, STAGE, "completions.parquet"), ctx.stage_dir(STAGE) / "completions.parquet")
    return finish_parts(ctx, STAGE, sum(s["in"] for s in summaries), table, **lm_totals(summaries))
