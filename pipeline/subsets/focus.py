"""Focus: an LM rewrites each prompt into a subtly different question; answers to the rewrite are
the off-topic rejected candidates, a natural answer to the real prompt the chosen one."""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from pipeline.core.subset_config import GenerationConfig, JudgePanel
from pipeline.core.records import Completion, Prompt
from pipeline.label.base import Labeler
from pipeline.subsets.base import LabelEnv, Planned, Sampler, Subset, Templates, models_text
from pipeline.subsets.rewrite import Transform


class FocusConfig(GenerationConfig):
    """An LM rewrites each prompt into a subtly different question; answers to the rewrite are
    off-topic candidates for the original prompt."""

    rewriter: str
    rewrite_template: str = "focus/rewrite.txt"
    off_topic_samples_per_model: int = Field(default=2, ge=1)
    judges: JudgePanel  # template default: judges/focus.txt

    default_judge_template: ClassVar[str | None] = "judges/focus.txt"

    def model_roles(self) -> list[tuple[str, str]]:
        return super().model_roles() + [("rewriter", self.rewriter)]

    def template_files(self) -> list[str]:
        return super().template_files() + [self.rewrite_template]


class Focus(Subset[FocusConfig]):
    key = "focus"
    release_name = "Focus"
    config_class = FocusConfig
    route_hint = "a general chat question or task on one clear topic"

    def transforms(self, prompt: Prompt, templates: Templates) -> list[Transform]:
        return [Transform.plan(prompt, "focus-rewrite", self.cfg.rewriter, templates.text(self.cfg.rewrite_template) or "")]

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        if rewritten is None:
            return []  # no usable rewrite: no off-topic candidates, so no Focus item
        planned = super().plan(prompt, sampler, rewritten)
        system = sampler.templates.text(self.cfg.system_prompt)
        return planned + sampler.samples(prompt, self.cfg, "off-topic", rewritten,
                                         self.cfg.off_topic_samples_per_model, system)  # fmt: skip

    def labeler(self, env: LabelEnv) -> Labeler:
        # Off-topic answers were written for the rewritten prompt; they are judged against the original.
        return self.panel_labeler(env, ("on_topic", "off_topic"))

    def pick(
        self, correct: list[Completion], incorrect: list[Completion], k: int, rng: random.Random
    ) -> tuple[list[Completion], list[Completion]] | str:
        # RB2 Focus: the chosen answer is a natural answer to the real prompt; the rejected ones
        # answered the rewritten prompt.
        on_topic = [c for c in correct if c.method == "natural"]
        return super().pick(on_topic, [c for c in incorrect if c.method == "off-topic"], k, rng)

    def card_text(self) -> str:
        s = self.cfg
        return (f"the chosen answer is a natural answer to the prompt; the rejected ones answer a subtly "
                f"different rewrite of it by `{s.rewriter}`; on-topic checked by "
                f"{models_text(s.judges.models)}")  # fmt: skip
