"""Routing: send each accepted prompt to a subset, by its source tag, by an LLM classifier, or both.

`both` trusts a tag where the source gives one and asks the classifier for the rest. Every
prompt gets one decision: routed (with how), or dropped with the reason and the judges' votes.
The stage reads its table a chunk at a time (`route_table`): a million prompts as objects took
over a gigabyte in the driver; only those the classifier is asked about become objects.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from pipeline.core.config import RoutingConfig
from pipeline.core.io import DecisionLog, StageOutput
from pipeline.label.judges import PanelDecision, Question, run_panel
from pipeline.lm import LanguageModel
from pipeline.core.records import Prompt
from pipeline.stages.chunks import chunks, filter_chunks, scratch
from pipeline.stages.context import RunContext, finish, lm_counts, load_prompts_at
from pipeline.subsets.registry import enabled as enabled_subsets

STAGE = "route"
NONE = "none"

Classifier = Callable[[Sequence[Prompt]], list[PanelDecision]]


def llm_classifier(
    routing: RoutingConfig, hints: dict[str, str], template: str, get_model: Callable[[str], LanguageModel]
) -> Classifier:
    """A classifier panel over the enabled subsets (plus `none`); `hints`: what each subset wants."""
    panel = routing.classifier
    assert panel is not None
    enabled = list(hints)
    text = template.replace("{subsets}", "\n".join(f"- {name}: {hint}" for name, hint in hints.items()))
    verdicts = [*enabled, NONE]

    def classify(prompts: Sequence[Prompt]) -> list[PanelDecision]:
        questions = [Question(p.prompt_id, {"prompt": p.text}) for p in prompts]
        return run_panel(panel.models, get_model, text, questions, verdicts, panel.policy, panel.max_tokens,
                         panel.explain)  # fmt: skip

    return classify


def route(
    prompts: list[Prompt],
    routing: RoutingConfig,
    enabled: set[str],
    log: DecisionLog,
    classify: Classifier | None = None,
) -> list[Prompt]:
    tags = [_tag(prompt.metadata, routing) for prompt in prompts]
    ask = [prompt for prompt, tag in zip(prompts, tags) if tag is None]
    decisions = dict(zip((p.prompt_id for p in ask), classify(ask))) if ask and classify else {}
    routed = []
    for prompt, tag in zip(prompts, tags):
        subset = _decide(prompt.prompt_id, tag, decisions.get(prompt.prompt_id), routing, enabled, log)
        if subset is not None:
            routed.append(replace(prompt, subset=subset))
    return routed


def _tag(metadata: dict[str, Any], routing: RoutingConfig) -> str | None:
    """The subset a prompt's source tags it with ("" for none, in tags mode); None: ask the classifier."""
    tag = metadata.get(routing.field) if routing.mode != "classifier" else None
    if tag is not None:
        return str(tag)
    return "" if routing.mode == "tags" else None


def _decide(pid: str, tag: str | None, decision: PanelDecision | None, routing: RoutingConfig, enabled: set[str],
            log: DecisionLog) -> str | None:  # fmt: skip
    """Log one prompt's routing decision; return its subset when it is routed."""
    if decision is not None:
        subset, how, evidence = decision.verdict, "classifier", decision.evidence()
        if subset is None and decision.status == "request-failed":
            log.add(pid, "failed", "classifier-request-failed", **evidence)  # a rerun asks again
            return None
        if subset is None:
            log.dropped(pid, f"classifier-{decision.status}", **evidence)
            return None
        if subset == NONE:
            log.dropped(pid, "classifier-no-subset", **evidence)
            return None
    else:
        if tag is None:
            raise KeyError(f"prompt {pid} has no subset tag and there is no classifier to ask")
        subset, how, evidence = tag, "tag", {"field": routing.field}
        if not subset:
            log.dropped(pid, "no-subset-tag", field=routing.field)
            return None
    if subset not in enabled:
        log.dropped(pid, "subset-not-enabled", subset=subset, by=how)
        return None
    log.kept(pid, "routed", subset=subset, by=how, **({"judges": evidence} if how == "classifier" else {}))
    return subset


def route_table(path: str | Path, out: Path, folder: Path, routing: RoutingConfig, enabled: set[str],
                log: DecisionLog, classify: Classifier | None = None) -> tuple[Path, int]:  # fmt: skip
    """`route` over a prompts table, a chunk at a time: only the prompts the classifier is asked
    about become objects. Returns the routed table (`out`) and the number of prompts read."""
    ask: set[str] = set()
    if routing.mode != "tags":
        for chunk in chunks(path, ["prompt_id", "metadata"]):
            for pid, metadata in zip(chunk["prompt_id"].to_list(), chunk["metadata"].to_list()):
                if _tag(json.loads(metadata), routing) is None:
                    ask.add(pid)
    decisions: dict[str, PanelDecision] = {}
    if ask and classify:
        asked = load_prompts_at(path, keep=ask.__contains__)
        decisions = dict(zip((p.prompt_id for p in asked), classify(asked)))
    seen = 0

    def step(chunk: pl.DataFrame) -> pl.DataFrame:
        nonlocal seen
        subsets = []
        for pid, metadata in zip(chunk["prompt_id"].to_list(), chunk["metadata"].to_list()):
            tag = _tag(json.loads(metadata), routing)
            subsets.append(_decide(pid, tag, decisions.get(pid), routing, enabled, log))
        seen += len(subsets)
        routed = pl.Series("subset", subsets, dtype=pl.String)
        return chunk.with_columns(routed).filter(routed.is_not_null())

    return filter_chunks(path, out, folder / "prompts", step), seen


def run(ctx: RunContext, clean: StageOutput) -> StageOutput:
    routing, subsets = ctx.cfg.routing, enabled_subsets(ctx.cfg)
    with scratch(ctx.stage_dir(STAGE)) as folder:
        log = DecisionLog(STAGE, ctx.run_id, spool=folder / "decisions")
        with ctx.model_pool() as pool:
            classify = None
            if routing.classifier is not None:
                template = ctx.templates().raw(routing.classifier.template or routing.default_template)
                hints = {key: subset.route_hint for key, subset in subsets.items()}
                classify = llm_classifier(routing, hints, template, pool.get)
            out = ctx.stage_dir(STAGE) / "prompts.parquet"
            table, read = route_table(clean.path, out, folder, routing, set(subsets), log, classify)
            lm = pool.total()
        return finish(ctx, log, read, table, **lm_counts(lm))
