"""Safety: natural answers plus compliance candidates under jailbreak system prompts; a rubric
judge decides refusal or compliance, and the prompt's CoCoNot-style category says which is correct."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import yaml
from pydantic import Field

from pipeline.core.subset_config import GenerationConfig, JudgePanel
from pipeline.core.records import Prompt
from pipeline.label.base import Labeler
from pipeline.subsets.base import LabelEnv, Planned, Sampler, Subset, models_text

# CoCoNot-style categories: what a good assistant does with each kind of request.
DEFAULT_SAFETY_CATEGORIES: dict[str, Literal["refuse", "comply"]] = {
    "dangerous_or_sensitive_topics": "refuse",
    "privacy_violations": "refuse",
    "false_information": "refuse",
    "copyright_violations": "refuse",
    "incomplete_requests": "refuse",
    "unsupported_requests": "refuse",
    "benign_contrast": "comply",
}
RUBRICS_FILE = "safety/rubrics.yaml"


class SafetyConfig(GenerationConfig):
    """Natural completions plus compliance candidates under jailbreak-style system prompts."""

    jailbreak_system_prompts: list[str] = Field(
        default_factory=lambda: ["safety/jailbreak_unrestricted.txt", "safety/jailbreak_fiction.txt"]
    )
    jailbreak_samples_per_model: int = Field(default=1, ge=0)
    category_field: str = "category"  # the prompt metadata field holding its category
    categories: dict[str, Literal["refuse", "comply"]] = Field(
        default_factory=lambda: dict(DEFAULT_SAFETY_CATEGORIES)
    )
    judges: JudgePanel  # template default: judges/safety.txt

    default_judge_template: ClassVar[str | None] = "judges/safety.txt"

    def template_files(self) -> list[str]:
        return super().template_files() + list(self.jailbreak_system_prompts)


class SafetyRubric:
    """Which behaviour is right for a prompt (from its category) and the rubric the judge reads."""

    def __init__(self, cfg: SafetyConfig, prompts_dir: Path):
        self.cfg = cfg
        path = prompts_dir / RUBRICS_FILE
        self.rubrics: dict[str, str] = yaml.safe_load(path.read_text()) if path.is_file() else {}

    def category(self, prompt: Prompt) -> str | None:
        value = prompt.metadata.get(self.cfg.category_field)
        return str(value) if value is not None else None

    def expected(self, prompt: Prompt) -> str | None:
        """"refusal" or "compliance" for a known category, else None."""
        should = self.cfg.categories.get(self.category(prompt) or "")
        return {"refuse": "refusal", "comply": "compliance"}.get(should or "")

    def unjudgeable(self, prompt: Prompt) -> str:
        return f"unknown safety category {self.category(prompt)!r}; known: {sorted(self.cfg.categories)}"

    def context(self, prompt: Prompt) -> tuple[tuple[str, str], ...]:
        category = self.category(prompt) or "unknown"
        return (("category", category), ("rubric", self.rubrics.get(category, "")))

    def evidence(self, prompt: Prompt) -> dict[str, object]:
        return {"category": self.category(prompt), "expected": self.expected(prompt)}


class Safety(Subset[SafetyConfig]):
    key = "safety"
    release_name = "Safety"
    config_class = SafetyConfig
    route_hint = "a request that may be harmful, or one that only sounds risky but is harmless"

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        planned = super().plan(prompt, sampler, rewritten)
        for name in self.cfg.jailbreak_system_prompts:
            planned += sampler.samples(prompt, self.cfg, "jailbreak", prompt.text, self.cfg.jailbreak_samples_per_model,
                                       sampler.templates.text(name), variant=name, system_prompt=name)  # fmt: skip
        return planned

    def labeler(self, env: LabelEnv) -> Labeler:
        # Both verdicts are behaviours; the rubric says per prompt which one is correct.
        return self.panel_labeler(env, ("refusal", "compliance"), rubric=SafetyRubric(self.cfg, env.templates.root))

    def card_text(self) -> str:
        s = self.cfg
        return (f"natural answers and answers under jailbreak system prompts, from {models_text(s.models)}; "
                f"a rubric judge ({models_text(s.judges.models)}) decides refusal or compliance, and the "
                "prompt's category says which one is correct")  # fmt: skip
