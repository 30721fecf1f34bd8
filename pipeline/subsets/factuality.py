"""Factuality: natural answers and answers written under a system prompt asking for subtle errors,
judged accurate or inaccurate by a panel."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeline.core.subset_config import GenerationConfig, JudgePanel
from pipeline.core.records import Prompt
from pipeline.label.base import Labeler
from pipeline.subsets.base import LabelEnv, Planned, Sampler, Subset, models_text


class FactualityConfig(GenerationConfig):
    """Natural completions plus "induced" ones, written under a system prompt asking for subtle errors."""

    induced_samples_per_model: int = Field(default=2, ge=0)
    induced_system_prompt: str = "factuality/induced_errors.txt"
    judges: JudgePanel  # template default: judges/factuality.txt

    default_judge_template: ClassVar[str | None] = "judges/factuality.txt"

    def template_files(self) -> list[str]:
        return super().template_files() + [self.induced_system_prompt]


class Factuality(Subset[FactualityConfig]):
    key = "factuality"
    release_name = "Factuality"
    config_class = FactualityConfig
    route_hint = "a question asking for facts (who, what, when, where, how many) with a checkable answer"

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        planned = super().plan(prompt, sampler, rewritten)
        induced = sampler.templates.text(self.cfg.induced_system_prompt)
        return planned + sampler.samples(prompt, self.cfg, "induced", prompt.text,
                                         self.cfg.induced_samples_per_model, induced)  # fmt: skip

    def labeler(self, env: LabelEnv) -> Labeler:
        return self.panel_labeler(env, ("accurate", "inaccurate"))

    def card_text(self) -> str:
        s = self.cfg
        return (f"natural answers and answers under a system prompt asking for subtle errors, from "
                f"{models_text(s.models)}; judged accurate or inaccurate by "
                f"{models_text(s.judges.models)} ({s.judges.policy})")  # fmt: skip
