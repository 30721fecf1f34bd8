"""The judge-panel labeler: one closed question per completion, the panel's verdict mapped to a label.

A subset says which two verdicts its judges choose between, which one is correct (the first,
or per prompt through a rubric: Safety's depends on the prompt's category), and which text a
completion is judged against. A split panel or unparseable answers give an abstain whose status
says which, with every judge's vote; a judge request that failed for good gives a failed label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Protocol, Sequence

from pipeline.core.subset_config import JudgePanel
from pipeline.core.records import Completion, Prompt
from pipeline.label import judges
from pipeline.label.base import LabelResult, Progress
from pipeline.lm import LanguageModel


class Rubric(Protocol):
    """Per-prompt knowledge a panel needs: which verdict is correct and what the judges read."""

    def expected(self, prompt: Prompt) -> str | None: ...  # None: the prompt cannot be judged
    def unjudgeable(self, prompt: Prompt) -> str: ...  # why, when expected() is None
    def context(self, prompt: Prompt) -> tuple[tuple[str, str], ...]: ...
    def evidence(self, prompt: Prompt) -> dict[str, object]: ...


@dataclass(frozen=True)
class FixedVerdict:
    """The default rubric: the same verdict is correct for every prompt."""

    verdict: str

    def expected(self, prompt: Prompt) -> str | None:
        return self.verdict

    def unjudgeable(self, prompt: Prompt) -> str:
        return ""

    def context(self, prompt: Prompt) -> tuple[tuple[str, str], ...]:
        return ()

    def evidence(self, prompt: Prompt) -> dict[str, object]:
        return {}


_NO_VERDICT = {"disagreed": "judges disagree", "request-failed": "a judge request failed"}


class JudgePanelLabeler:
    """Labels a subset's completions with one panel run (one batch per judge)."""

    version = judges.VERSION

    def __init__(
        self,
        subset: str,
        panel: JudgePanel,
        template: str,
        verdicts: tuple[str, str],
        get_model: Callable[[str], LanguageModel],
        judge_against: Literal["prompt", "asked"] = "prompt",
        rubric: Rubric | None = None,
    ):
        self.subset = subset
        self.name = f"{subset}-judges[{panel.policy}:{'+'.join(panel.models)}]"
        self.panel, self.template, self.verdicts = panel, template, verdicts
        self.get_model = get_model
        # "prompt": the user's original prompt; "asked": the text the model saw (a Ties ref question)
        self.judge_against = judge_against
        self.rubric: Rubric = rubric or FixedVerdict(verdicts[0])

    def label(
        self, completions: Sequence[Completion], prompts: Mapping[str, Prompt], progress: Progress | None = None
    ) -> list[LabelResult]:
        out: dict[int, LabelResult] = {}
        asked: list[int] = []
        questions = []
        for i, c in enumerate(completions):
            prompt = prompts[c.prompt_id]
            if self.rubric.expected(prompt) is None:
                why = self.rubric.unjudgeable(prompt)
                out[i] = LabelResult("abstain", why, evidence={"status": "no-category"}, status="no-category")
                continue
            if not c.text.strip():
                out[i] = LabelResult("abstain", "empty completion", evidence={"status": "empty"}, status="empty")
                continue
            question_text = prompt.text if self.judge_against == "prompt" else c.prompt_text
            fields = {"prompt": question_text, "response": c.text}
            questions.append(judges.Question(c.completion_id, fields, self.rubric.context(prompt)))
            asked.append(i)
        report = (lambda judge, done, total: progress(f"{self.subset} judge {judge}", done, total)) if progress else None
        p = self.panel
        decisions = judges.run_panel(p.models, self.get_model, self.template, questions, self.verdicts, p.policy,
                                     p.max_tokens, p.explain, report)  # fmt: skip
        for i, decision in zip(asked, decisions):
            out[i] = self._result(decision, prompts[completions[i].prompt_id])
        return [out[i] for i in range(len(completions))]

    def _result(self, decision: judges.PanelDecision, prompt: Prompt) -> LabelResult:
        evidence = decision.evidence()
        if decision.verdict is None:
            why = f"{_NO_VERDICT.get(decision.status, 'no judge verdict')}: {decision.summary()}"
            label = "failed" if decision.status == "request-failed" else "abstain"
            return LabelResult(label, why, evidence=evidence, status=decision.status)
        correct = decision.verdict == self.rubric.expected(prompt)
        evidence.update(self.rubric.evidence(prompt))
        reasoning = f"judges: {decision.verdict} ({decision.summary()})"
        return LabelResult("correct" if correct else "incorrect", reasoning, 1.0 if correct else 0.0, evidence)
