"""What a subset is: one class that declares everything the stages need to know about it.

A subset names its config model, the hint the LLM router reads, the prompt rewrites it wants
before answers are sampled, the answer requests it plans, the candidates it derives without an
LM call, its labeler, its assembly rule and its sentence for the dataset card. The stages call
these methods through the registry and never name a subset.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Sequence, TypeVar

from pipeline.core.config import BuildConfig
from pipeline.core.subset_config import GenerationConfig
from pipeline.core.records import Completion, Prompt, derived_seed, empty_metadata
from pipeline.label.base import Labeler
from pipeline.label.panel import JudgePanelLabeler, Rubric
from pipeline.lm import ChatRequest, LanguageModel
from pipeline.subsets.rewrite import Transform

ConfigT = TypeVar("ConfigT", bound=GenerationConfig)
Row = dict[str, Any]


@dataclass(frozen=True)
class Templates:
    """Prompt files under the build's prompts_dir, each read once (plans ask for them per prompt)."""

    root: Path
    _read: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def raw(self, name: str) -> str:
        """A judge template exactly as written."""
        if name not in self._read:
            self._read[name] = (self.root / name).read_text()
        return self._read[name]

    def text(self, name: str | None) -> str | None:
        """A system prompt or rewrite template, stripped of surrounding whitespace."""
        return self.raw(name).strip() if name else None


@dataclass
class Planned:
    """One answer request a subset plans, and the typed fields its completion will carry."""

    prompt: Prompt
    model: str
    method: str
    sample_index: int
    prompt_text: str
    request: ChatRequest
    fields: dict[str, str | None] = field(default_factory=dict)  # Completion's role, constraint, ...


def _messages(system_prompt: str | None, user_text: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user_text}]


@dataclass(frozen=True)
class Sampler:
    """Builds answer requests with seeds derived from the build seed, prompt, model and sample."""

    seed: int
    templates: Templates

    def samples(
        self, prompt: Prompt, gen: GenerationConfig, method: str, user_text: str, count: int,
        system: str | None = None, variant: str = "", **fields: str | None,
    ) -> list[Planned]:  # fmt: skip
        planned = []
        for model in gen.models:
            for k in range(count):
                # Methods differ in their completion ids already; variants of one method (several
                # jailbreak prompts) differ in their seeds. Plain samples keep the recipe caches know.
                parts = (prompt.prompt_id, model, k) + ((variant,) if variant else ())
                request = ChatRequest.from_messages(
                    _messages(system, user_text), temperature=gen.temperature, top_p=gen.top_p,
                    max_tokens=gen.max_tokens, seed=derived_seed(self.seed, *parts), sample_index=k,
                )  # fmt: skip
                planned.append(Planned(prompt, model, method, k, user_text, request, dict(fields)))
        return planned


@dataclass
class Candidates:
    """A prompt's labeled completions, and how many no label settled (by why)."""

    correct: list[Completion] = field(default_factory=list)
    incorrect: list[Completion] = field(default_factory=list)
    unsettled: Counter[str] = field(default_factory=Counter)  # "abstains", "disagreements"
    # Labeled completions whose label carries a caution (a Precise IF answer cut at max_tokens...):
    # completion id -> the cautions. A subset's assembly policy decides what to do with them.
    cautions: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Assembled:
    """A prompt's release rows and the evidence of its decision; no rows: dropped for `reason`."""

    rows: list[Row]
    reason: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class LabelEnv:
    """What a labeler may use: the build's templates and its models."""

    templates: Templates
    get_model: Callable[[str], LanguageModel]


class Subset(Generic[ConfigT]):
    """Base class of a subset plugin. Defaults: natural samples, best-of-N assembly."""

    key: ClassVar[str]  # the config key under `subsets:`
    release_name: ClassVar[str]  # the release's `subset` column
    config_class: ClassVar[type[GenerationConfig]]
    route_hint: ClassVar[str]  # what the LLM router reads about this subset

    def __init__(self, cfg: ConfigT, build: BuildConfig):
        self.cfg = cfg
        self.build = build

    def transforms(self, prompt: Prompt, templates: Templates) -> list[Transform]:
        """Prompt rewrites to run before any answer is sampled (their results reach `plan`)."""
        return []

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        system = sampler.templates.text(self.cfg.system_prompt)
        return sampler.samples(prompt, self.cfg, "natural", prompt.text, self.cfg.samples_per_model, system)

    def derive(self, completions: Sequence[Completion], rewritten: dict[str, str]) -> list[Completion]:
        """Further candidates made from this subset's completions without an LM call
        (`rewritten`: the transforms' new questions by prompt id)."""
        return []

    def labeler(self, env: LabelEnv) -> Labeler:
        raise NotImplementedError(f"subset {self.key!r} declares no labeler")

    def card_text(self) -> str:
        return ""

    def panel_labeler(
        self, env: LabelEnv, verdicts: tuple[str, str], judge_against: str = "prompt", rubric: Rubric | None = None
    ) -> JudgePanelLabeler:
        """The labeler of a subset whose config has `judges`: (correct verdict, incorrect verdict)."""
        panel = getattr(self.cfg, "judges")
        template = env.templates.raw(panel.template or self.cfg.default_judge_template or "")
        return JudgePanelLabeler(self.key, panel, template, verdicts, env.get_model, judge_against, rubric)  # type: ignore[arg-type]

    # Assembly: best-of-N (1 correct + N incorrect), seeded per prompt, preferring model diversity.
    def assemble(self, prompt: Prompt, candidates: Candidates, num_rejected: int, seed: int) -> Assembled:
        rng = random.Random(derived_seed(seed, prompt.prompt_id, "assemble"))
        picked = self.pick(candidates.correct, candidates.incorrect, num_rejected, rng)
        if isinstance(picked, str):
            evidence = {"subset": self.key, "correct": len(candidates.correct),
                        "incorrect": len(candidates.incorrect), **candidates.unsettled}  # fmt: skip
            return Assembled([], picked, evidence)
        chosen, rejected = picked
        evidence = {"subset": self.key, "chosen": [c.completion_id for c in chosen],
                    "rejected": [c.completion_id for c in rejected]}  # fmt: skip
        return Assembled([self.row(prompt, chosen, rejected)], "assembled", evidence)

    def pick(
        self, correct: list[Completion], incorrect: list[Completion], k: int, rng: random.Random
    ) -> tuple[list[Completion], list[Completion]] | str:
        """Chosen and rejected completions for one prompt, or the reason there are none."""
        if not correct:
            return "no-correct-candidate"
        used: Counter[str] = Counter()
        chosen = pick_diverse(correct, 1, rng, used)
        rejected = pick_diverse([c for c in incorrect if c.text.strip() != chosen[0].text.strip()], k, rng, used)
        if len(rejected) < k:
            return f"too-few-incorrect-candidates ({len(rejected)} < {k})"
        return chosen, rejected

    def row(self, prompt: Prompt, chosen: list[Completion], rejected: list[Completion]) -> Row:
        """One release row in the RewardBench 2 schema."""
        models = [c.model for c in chosen + rejected]
        metadata = empty_metadata()
        metadata.update(method=chosen[0].method, models=sorted(set(models)), prompt_norm=prompt.text,
                        category=str(prompt.metadata.get("category") or self.key))  # fmt: skip
        spec = chosen[0].constraint_spec()
        if spec:
            metadata["instruction_id_list"] = [str(chosen[0].instruction_id or spec["type"])]
        return {
            "id": prompt.prompt_id,
            "prompt": chosen[0].prompt_text,
            "chosen": [c.text for c in chosen],
            "rejected": [c.text for c in rejected],
            "num_correct": len(chosen),
            "num_incorrect": len(rejected),
            "total_completions": len(chosen) + len(rejected),
            "models": models,
            "subset": self.release_name,
            "additional_metadata": metadata,
        }


def pick_diverse(pool: list[Completion], k: int, rng: random.Random, used: Counter[str]) -> list[Completion]:
    """Up to k completions with distinct texts, each from the model used least so far."""
    pool = list(pool)
    rng.shuffle(pool)
    picked: list[Completion] = []
    texts: set[str] = set()
    while len(picked) < k:
        fresh = [c for c in pool if c.text.strip() not in texts]
        if not fresh:
            break
        choice = min(fresh, key=lambda c: used[c.model])  # min is stable: shuffled order breaks ties
        picked.append(choice)
        texts.add(choice.text.strip())
        used[choice.model] += 1
        pool.remove(choice)
    return picked


def models_text(models: Sequence[str]) -> str:
    """Model names as the dataset card lists them."""
    return ", ".join(f"`{m}`" for m in models)
