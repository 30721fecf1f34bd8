"""Routing: send each accepted prompt to a subset, by its source tag, by an LLM classifier, or both.

`both` trusts a tag where the source gives one and asks the classifier for the rest. Every
prompt gets one decision: routed (with how), or dropped with the reason and the judges' votes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from pipeline.core.config import RoutingConfig
from pipeline.core.io import DecisionLog, StageOutput
from pipeline.label.judges import PanelDecision, Question, run_panel
from pipeline.lm import LanguageModel
from pipeline.core.records import Prompt
from pipeline.stages.context import RunContext, finish, lm_counts, load_prompts, write_prompts
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
    tagged: dict[str, str] = {}
    ask: list[Prompt] = []
    for prompt in prompts:
        tag = prompt.metadata.get(routing.field) if routing.mode != "classifier" else None
        if tag is not None:
            tagged[prompt.prompt_id] = str(tag)
        elif routing.mode == "tags":
            tagged[prompt.prompt_id] = ""
        else:
            ask.append(prompt)
    decisions = dict(zip((p.prompt_id for p in ask), classify(ask))) if ask and classify else {}
    routed = []
    for prompt in prompts:
        pid = prompt.prompt_id
        if pid in decisions:
            decision = decisions[pid]
            subset, how, evidence = decision.verdict, "classifier", decision.evidence()
            if subset is None and decision.status == "request-failed":
                log.add(pid, "failed", "classifier-request-failed", **evidence)  # a rerun asks again
                continue
            if subset is None:
                log.dropped(pid, f"classifier-{decision.status}", **evidence)
                continue
            if subset == NONE:
                log.dropped(pid, "classifier-no-subset", **evidence)
                continue
        else:
            subset, how, evidence = tagged[pid], "tag", {"field": routing.field}
            if not subset:
                log.dropped(pid, "no-subset-tag", field=routing.field)
                continue
        if subset not in enabled:
            log.dropped(pid, "subset-not-enabled", subset=subset, by=how)
            continue
        routed.append(replace(prompt, subset=subset))
        log.kept(pid, "routed", subset=subset, by=how, **({"judges": evidence} if how == "classifier" else {}))
    return routed


def run(ctx: RunContext, clean: StageOutput) -> StageOutput:
    log = DecisionLog(STAGE, ctx.run_id)
    prompts = load_prompts(clean)
    routing, subsets = ctx.cfg.routing, enabled_subsets(ctx.cfg)
    with ctx.model_pool() as pool:
        classify = None
        if routing.classifier is not None:
            template = ctx.templates().raw(routing.classifier.template or routing.default_template)
            hints = {key: subset.route_hint for key, subset in subsets.items()}
            classify = llm_classifier(routing, hints, template, pool.get)
        routed = route(prompts, routing, set(subsets), log, classify)
        lm = pool.total()
    return finish(ctx, log, len(prompts), write_prompts(ctx, STAGE, routed), **lm_counts(lm))
