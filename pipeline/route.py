"""Routing: send each accepted prompt to a subset, by its source tag, by an LLM classifier, or both.

`both` trusts a tag where the source gives one and asks the classifier for the rest. Every
prompt gets one decision: routed (with how), or dropped with the reason and the judges' votes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from pipeline.config import RoutingConfig
from pipeline.io import DecisionLog
from pipeline.label.judges import PanelDecision, Question, run_panel
from pipeline.lm import LanguageModel
from pipeline.records import Prompt

STAGE = "route"
DEFAULT_TEMPLATE = "route/classify.txt"
NONE = "none"

# What each subset wants, as the classifier reads it.
SUBSET_HINTS = {
    "factuality": "a question asking for facts (who, what, when, where, how many) with a checkable answer",
    "precise_if": "an open request (explain, write, list, describe) that a formatting rule could be added to",
    "math": "a math problem with a single final answer",
    "safety": "a request that may be harmful, or one that only sounds risky but is harmless",
    "focus": "a general chat question or task on one clear topic",
    "ties": "a question with many equally correct short answers (name one of several things)",
}

Classifier = Callable[[Sequence[Prompt]], list[PanelDecision]]


def llm_classifier(
    routing: RoutingConfig, enabled: Sequence[str], template: str, get_model: Callable[[str], LanguageModel]
) -> Classifier:
    """A classifier panel over the enabled subsets (plus `none`)."""
    panel = routing.classifier
    assert panel is not None
    hints = "\n".join(f"- {name}: {SUBSET_HINTS[name]}" for name in enabled)
    text = template.replace("{subsets}", hints)
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
