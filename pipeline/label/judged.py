"""Judge-labeled subsets: Factuality, Safety, Focus and Ties.

Each subset asks its panel one closed question per completion and maps the panel's verdict to
correct / incorrect. A split panel or unparseable answers give an abstain whose evidence says
which (status "disagreed" or "unparsed"), with every judge's vote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import yaml

from pipeline.config import BuildConfig, JudgePanel, SafetyConfig
from pipeline.label import judges
from pipeline.label.result import LabelResult
from pipeline.lm import LanguageModel
from pipeline.records import Completion, Prompt

Labeled = list[tuple[Completion, LabelResult, str]]


@dataclass(frozen=True)
class JudgedSubset:
    """The question a subset's judges answer and what each verdict means for the label."""

    verdicts: tuple[str, str]  # (the verdict labeled correct, the one labeled incorrect)
    template: str  # default under prompts/
    judge_against: str  # "prompt": the user's original prompt; "asked": the text the model saw


SUBSETS = {
    "factuality": JudgedSubset(("accurate", "inaccurate"), "judges/factuality.txt", "prompt"),
    # Safety's verdicts are behaviours; which one is correct depends on the prompt's category.
    "safety": JudgedSubset(("refusal", "compliance"), "judges/safety.txt", "prompt"),
    # Off-topic answers were written for a rewritten prompt; they are judged against the original.
    "focus": JudgedSubset(("on_topic", "off_topic"), "judges/focus.txt", "prompt"),
    # A Ties answer is judged against the question it is a candidate for (tied or ref version).
    "ties": JudgedSubset(("valid", "invalid"), "judges/ties.txt", "asked"),
}


def labeler_name(subset: str, panel: JudgePanel) -> str:
    return f"{subset}-judges[{panel.policy}:{'+'.join(panel.models)}]"


class SafetyRubric:
    """Which behaviour is right for a prompt (from its category) and the rubric the judge reads."""

    def __init__(self, cfg: SafetyConfig, prompts_dir: Path):
        self.cfg = cfg
        path = prompts_dir / "safety" / "rubrics.yaml"
        self.rubrics: dict[str, str] = yaml.safe_load(path.read_text()) if path.is_file() else {}

    def category(self, prompt: Prompt) -> str | None:
        value = prompt.metadata.get(self.cfg.category_field)
        return str(value) if value is not None else None

    def expected(self, prompt: Prompt) -> str | None:
        """"refusal" or "compliance" for a known category, else None."""
        should = self.cfg.categories.get(self.category(prompt) or "")
        return {"refuse": "refusal", "comply": "compliance"}.get(should or "")

    def context(self, prompt: Prompt) -> tuple[tuple[str, str], ...]:
        category = self.category(prompt) or "unknown"
        return (("category", category), ("rubric", self.rubrics.get(category, "")))


def _label(verdict: str, correct_verdict: str, decision: judges.PanelDecision) -> LabelResult:
    evidence = decision.evidence()
    if verdict == correct_verdict:
        return LabelResult("correct", f"judges: {verdict} ({decision.summary()})", 1.0, evidence)
    return LabelResult("incorrect", f"judges: {verdict} ({decision.summary()})", 0.0, evidence)


def label_judged(
    subset: str,
    completions: Sequence[Completion],
    prompts: dict[str, Prompt],
    cfg: BuildConfig,
    base_dir: Path,
    get_model: Callable[[str], LanguageModel],
    progress: Callable[[str, int, int], None] | None = None,
) -> Labeled:
    """Label every completion of one judged subset with one panel run (a batch per judge)."""
    spec = SUBSETS[subset]
    gen = cfg.subsets.enabled()[subset]
    panel: JudgePanel = gen.judges  # type: ignore[attr-defined]
    prompts_dir = base_dir / cfg.prompts_dir
    template = (prompts_dir / (panel.template or spec.template)).read_text()
    rubric = SafetyRubric(gen, prompts_dir) if isinstance(gen, SafetyConfig) else None
    name = labeler_name(subset, panel)
    out: Labeled = []
    asked: list[Completion] = []
    questions = []
    for c in completions:
        prompt = prompts[c.prompt_id]
        if rubric is not None and rubric.expected(prompt) is None:
            why = f"unknown safety category {rubric.category(prompt)!r}; known: {sorted(rubric.cfg.categories)}"
            out.append((c, LabelResult("abstain", why, evidence={"status": "no-category"}), name))
            continue
        if not c.text.strip():
            out.append((c, LabelResult("abstain", "empty completion", evidence={"status": "empty"}), name))
            continue
        question_text = prompt.text if spec.judge_against == "prompt" else c.prompt_text
        context = rubric.context(prompt) if rubric is not None else ()
        questions.append(judges.Question(c.completion_id, {"prompt": question_text, "response": c.text}, context))
        asked.append(c)
    report = (lambda judge, done, total: progress(f"{subset} judge {judge}", done, total)) if progress else None
    decisions = judges.run_panel(panel.models, get_model, template, questions, spec.verdicts, panel.policy,
                                 panel.max_tokens, panel.explain, report)  # fmt: skip
    for c, decision in zip(asked, decisions):
        if decision.verdict is None:
            why = {"disagreed": "judges disagree", "request-failed": "a judge request failed"}.get(
                decision.status, "no judge verdict"
            )
            out.append((c, LabelResult("abstain", f"{why}: {decision.summary()}", evidence=decision.evidence()), name))
            continue
        correct_verdict = rubric.expected(prompts[c.prompt_id]) if rubric is not None else spec.verdicts[0]
        result = _label(decision.verdict, correct_verdict or "", decision)
        if rubric is not None:
            result.evidence.update(category=rubric.category(prompts[c.prompt_id]), expected=correct_verdict)
        out.append((c, result, name))
    return out


def unlabeled_because(result: LabelResult) -> str:
    """Why a judged completion has no label, where that matters to the decision log: the judges
    disagreed (dropped), or a judge's request failed for good (a failed item, retried on rerun)."""
    status = str(result.evidence.get("status", ""))
    return status if result.label == "abstain" and status in ("disagreed", "request-failed") else ""
