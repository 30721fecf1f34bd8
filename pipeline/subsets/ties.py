"""Ties: many-answer prompts (`tied:N`) and LM-written narrower versions with one valid answer
(`ref:N`); every distinct valid answer is chosen, every distinct invalid one rejected."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Sequence

from pydantic import Field

from pipeline.core.subset_config import GenerationConfig, JudgePanel
from pipeline.core.records import Completion, Prompt, short_hash
from pipeline.decontam.overlap import canonical
from pipeline.label.base import Labeler
from pipeline.subsets.base import Assembled, Candidates, LabelEnv, Planned, Sampler, Subset, Templates, models_text
from pipeline.subsets.rewrite import Transform


class TiesConfig(GenerationConfig):
    """Many-answer prompts: many sampled answers, and an LM-written narrower `ref` version with one
    valid answer, answered too."""

    narrower: str
    narrow_template: str = "ties/narrow.txt"
    ref_samples_per_model: int = Field(default=2, ge=1)
    judges: JudgePanel  # template default: judges/ties.txt

    default_judge_template: ClassVar[str | None] = "judges/ties.txt"

    def model_roles(self) -> list[tuple[str, str]]:
        return super().model_roles() + [("narrower", self.narrower)]

    def template_files(self) -> list[str]:
        return super().template_files() + [self.narrow_template]


def _distinct(completions: list[Completion]) -> list[Completion]:
    """One completion per distinct answer text (many samples give the same short answer)."""
    seen: dict[str, Completion] = {}
    for c in sorted(completions, key=lambda c: c.completion_id):
        seen.setdefault(canonical(c.text), c)  # case, spacing and punctuation do not make a new answer
    return list(seen.values())


class Ties(Subset[TiesConfig]):
    key = "ties"
    release_name = "Ties"
    config_class = TiesConfig
    route_hint = "a question with many equally correct short answers (name one of several things)"

    def transforms(self, prompt: Prompt, templates: Templates) -> list[Transform]:
        return [Transform.plan(prompt, "ties-narrow", self.cfg.narrower, templates.text(self.cfg.narrow_template) or "")]

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        if rewritten is None:
            return []  # the narrowing failed: no Ties pair for this prompt (logged with the transform)
        system = sampler.templates.text(self.cfg.system_prompt)
        tied = sampler.samples(prompt, self.cfg, "natural", prompt.text, self.cfg.samples_per_model, system, role="tied")
        return tied + sampler.samples(prompt, self.cfg, "ties-ref", rewritten, self.cfg.ref_samples_per_model, system,
                                      role="ref")  # fmt: skip

    def derive(self, completions: Sequence[Completion], rewritten: dict[str, str]) -> list[Completion]:
        """Every answer to a tied prompt is also a candidate for its ref prompt: many of them are
        valid for the broad question and wrong for the narrow one, the distractors Ties needs."""
        return [
            replace(c, completion_id="c_" + short_hash(c.completion_id, "ties-crossover"), method="ties-crossover",
                    prompt_text=rewritten[c.prompt_id], role="ref", derived_from=c.completion_id)
            for c in completions if c.role == "tied"
        ]  # fmt: skip

    def labeler(self, env: LabelEnv) -> Labeler:
        # A Ties answer is judged against the question it is a candidate for (tied or ref version).
        return self.panel_labeler(env, ("valid", "invalid"), judge_against="asked")

    def assemble(self, prompt: Prompt, candidates: Candidates, num_rejected: int, seed: int) -> Assembled:
        """A `tied:N` row and a `ref:N` row, each with all distinct correct answers as chosen and all
        distinct incorrect ones as rejected; kept only whole (the Ties score compares the two)."""
        rows, problems = [], []
        for role in ("tied", "ref"):
            chosen = _distinct([c for c in candidates.correct if c.role == role])
            rejected = _distinct([c for c in candidates.incorrect if c.role == role])
            need = 2 if role == "tied" else 1  # a tied prompt's spread needs two correct answers
            if len(chosen) < need or not rejected:
                problems.append(f"{role}: {len(chosen)} correct (need {need}), {len(rejected)} incorrect (need 1)")
                continue
            row = self.row(prompt, chosen, rejected)
            row["id"] = f"{role}:{prompt.prompt_id}"
            row["prompt"] = prompt.text if role == "tied" else chosen[0].prompt_text
            row["additional_metadata"]["method"] = role
            rows.append(row)
        if problems:
            return Assembled([], "ties-pair-incomplete", {"subset": self.key, "problems": problems})
        sizes = {r["id"]: [r["num_correct"], r["num_incorrect"]] for r in rows}
        return Assembled(rows, "assembled", {"subset": self.key, "rows": [r["id"] for r in rows], "sizes": sizes})

    def card_text(self) -> str:
        s = self.cfg
        return (f"`tied:N` prompts with several valid answers and `ref:N` narrower versions with one, "
                f"written by `{s.narrower}`; validity judged by {models_text(s.judges.models)}")  # fmt: skip
