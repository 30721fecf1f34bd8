"""Generation: turn routed prompts into sampled completions, with each subset's own method.

First the prompt transforms (Focus rewrites, Ties narrowings), then every answer request.
Requests are built deterministically (seeds derive from the config seed, prompt id, model,
method and sample index), so a rerun builds identical requests and the response cache answers
them all. Every planned request is one item of the stage's decision log.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from pipeline.config import (
    BuildConfig,
    FactualityConfig,
    FocusConfig,
    GenerationConfig,
    PreciseIFConfig,
    SafetyConfig,
    TiesConfig,
)
from pipeline.io import DecisionLog
from pipeline.label import instructions
from pipeline.lm import ChatRequest, ChatResult, ModelPool
from pipeline.records import Completion, Prompt, completion_id, derived_seed, short_hash
from pipeline.transforms import ATTEMPTS, Transform, parse_rewrite

STAGE = "generate"
BATCH_SIZE = 512  # answer requests per batch (a batch's answers are cached before the next goes)
Progress = Callable[[str, int, int], None]


@dataclass
class Planned:
    prompt: Prompt
    model: str
    method: str
    sample_index: int
    prompt_text: str
    request: ChatRequest
    metadata: dict[str, Any]


def pick_constraint(cfg: PreciseIFConfig, prompt: Prompt, seed: int) -> dict[str, Any]:
    """One constraint per prompt, drawn reproducibly; kwargs the config leaves out are sampled."""
    rng = random.Random(derived_seed(seed, prompt.prompt_id, "constraint"))
    choices = [{"type": t} for t in sorted(instructions.REGISTRY)] if cfg.constraints == "all" else cfg.constraints
    return instructions.complete_spec(dict(rng.choice(choices)), rng, prompt.text)


def _messages(system_prompt: str | None, user_text: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user_text}]


class Planner:
    """Builds the requests of one build; reads prompt templates once."""

    def __init__(self, cfg: BuildConfig, base_dir: Path):
        self.cfg = cfg
        self.prompts_dir = base_dir / cfg.prompts_dir

    def text(self, name: str | None) -> str | None:
        return (self.prompts_dir / name).read_text().strip() if name else None

    def samples(
        self, prompt: Prompt, gen: GenerationConfig, method: str, user_text: str, count: int,
        system: str | None = None, metadata: dict[str, Any] | None = None, variant: str = "",
    ) -> list[Planned]:  # fmt: skip
        planned = []
        for model in gen.models:
            for k in range(count):
                # Methods differ in their completion ids already; variants of one method (several
                # jailbreak prompts) differ in their seeds. Plain samples keep the recipe caches know.
                parts = (prompt.prompt_id, model, k) + ((variant,) if variant else ())
                request = ChatRequest.from_messages(
                    _messages(system, user_text), temperature=gen.temperature, top_p=gen.top_p,
                    max_tokens=gen.max_tokens, seed=derived_seed(self.cfg.seed, *parts), sample_index=k,
                )  # fmt: skip
                planned.append(Planned(prompt, model, method, k, user_text, request, dict(metadata or {})))
        return planned

    def transforms(self, prompts: Sequence[Prompt]) -> list[Transform]:
        out = []
        for prompt in prompts:
            gen = self.cfg.subsets.enabled()[prompt.subset or ""]
            if isinstance(gen, FocusConfig):
                out.append(Transform.plan(prompt, "focus-rewrite", gen.rewriter, self.text(gen.rewrite_template) or ""))
            elif isinstance(gen, TiesConfig):
                out.append(Transform.plan(prompt, "ties-narrow", gen.narrower, self.text(gen.narrow_template) or ""))
        return out

    def answers(self, prompt: Prompt, rewritten: dict[str, str]) -> list[Planned]:
        gen = self.cfg.subsets.enabled()[prompt.subset or ""]
        system = self.text(gen.system_prompt)
        if isinstance(gen, PreciseIFConfig):
            spec = pick_constraint(gen, prompt, self.cfg.seed)
            instruction = instructions.render_instruction(spec)
            constraint, _ = instructions.validate_constraint(spec)
            meta = {"constraint": spec, "instruction": instruction, "instruction_id": constraint.instruction_id}
            text = f"{prompt.text}\n\n{instruction}"
            return self.samples(prompt, gen, "constraint-appended", text, gen.samples_per_model, system, meta)
        if isinstance(gen, TiesConfig):
            ref = rewritten.get(prompt.prompt_id)
            if ref is None:
                return []  # the narrowing failed: no Ties pair for this prompt (logged with the transform)
            tied = self.samples(prompt, gen, "natural", prompt.text, gen.samples_per_model, system,
                                {"ties_role": "tied", "ref_prompt": ref})  # fmt: skip
            return tied + self.samples(prompt, gen, "ties-ref", ref, gen.ref_samples_per_model, system,
                                       {"ties_role": "ref", "ref_prompt": ref})  # fmt: skip
        planned = self.samples(prompt, gen, "natural", prompt.text, gen.samples_per_model, system)
        if isinstance(gen, FactualityConfig):
            induced = self.text(gen.induced_system_prompt)
            planned += self.samples(prompt, gen, "induced", prompt.text, gen.induced_samples_per_model, induced)
        elif isinstance(gen, SafetyConfig):
            for name in gen.jailbreak_system_prompts:
                planned += self.samples(prompt, gen, "jailbreak", prompt.text, gen.jailbreak_samples_per_model,
                                        self.text(name), {"system_prompt": name}, variant=name)  # fmt: skip
        elif isinstance(gen, FocusConfig):
            if prompt.prompt_id not in rewritten:
                return []  # no usable rewrite: no off-topic candidates, so no Focus item
            other = rewritten[prompt.prompt_id]
            planned += self.samples(prompt, gen, "off-topic", other, gen.off_topic_samples_per_model, system,
                                    {"rewritten_prompt": other})  # fmt: skip
        return planned


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


def run_transforms(planner: Planner, prompts: Sequence[Prompt], pool: ModelPool, log: DecisionLog,
                   progress: Progress | None) -> tuple[dict[str, str], list[dict[str, Any]]]:  # fmt: skip
    """New questions by prompt id, and one audit row per attempt. An unusable rewrite is asked for
    again (sampled) up to ATTEMPTS times; each attempt is an item of the log."""
    by_id = {p.prompt_id: p for p in prompts}
    rewritten: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    pending = planner.transforms(prompts)
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


def ties_crossovers(completions: Sequence[Completion]) -> list[Completion]:
    """Every answer to a tied prompt is also a candidate for its ref prompt: many of them are valid
    for the broad question and wrong for the narrow one, the distractors Ties needs. No LM call."""
    out = []
    for c in completions:
        meta = json.loads(c.metadata)
        if c.subset == "ties" and meta.get("ties_role") == "tied":
            new_meta = {"ties_role": "ref", "ref_prompt": meta["ref_prompt"], "answer_of": c.completion_id}
            cid = "c_" + short_hash(c.completion_id, "ties-crossover")
            out.append(Completion(**{**c.__dict__, "completion_id": cid, "method": "ties-crossover",
                                     "prompt_text": meta["ref_prompt"], "metadata": json.dumps(new_meta, sort_keys=True)}))  # fmt: skip
    return out


@dataclass
class Generated:
    completions: list[Completion]
    transforms: list[dict[str, Any]]
    items: int  # transforms + planned requests + derived candidates: the decision log's balance


def generate(
    cfg: BuildConfig,
    prompts: list[Prompt],
    pool: ModelPool,
    base_dir: Path,
    log: DecisionLog,
    progress: Progress | None = None,
) -> Generated:
    planner = Planner(cfg, base_dir)
    rewritten, transform_rows = run_transforms(planner, prompts, pool, log, progress)
    planned = [item for prompt in prompts for item in planner.answers(prompt, rewritten)]
    completions = []
    for item, result in stream_answers(pool, planned, progress, BATCH_SIZE):
        params = item.request.params()
        cid = completion_id(item.prompt.prompt_id, item.model, item.method, params, item.sample_index)
        if not result.ok:
            log.add(cid, "failed", "request-failed", model=item.model, error=result.error, attempts=result.attempts)
            continue
        completions.append(
            Completion(
                completion_id=cid,
                prompt_id=item.prompt.prompt_id,
                subset=item.prompt.subset or "",
                model=item.model,
                method=item.method,
                sample_index=item.sample_index,
                prompt_text=item.prompt_text,
                text=result.text,
                finish_reason=result.finish_reason,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                params=json.dumps(params, sort_keys=True),
                metadata=json.dumps(item.metadata, sort_keys=True),
            )
        )
        log.kept(cid, "generated", model=item.model, method=item.method, finish_reason=result.finish_reason,
                 cached=result.cached)  # fmt: skip
    derived = ties_crossovers(completions)
    for c in derived:
        log.kept(c.completion_id, "derived", method=c.method, answer_of=json.loads(c.metadata)["answer_of"])
    return Generated(completions + derived, transform_rows, len(transform_rows) + len(planned) + len(derived))
