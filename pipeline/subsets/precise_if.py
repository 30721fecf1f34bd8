"""Precise IF: a verifiable instruction appended to the prompt, completions checked by its checker;
all four completions of an item come from one model (as in RewardBench 2)."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any, Literal, Mapping, Sequence

from pipeline.core.subset_config import GenerationConfig
from pipeline.core.records import Completion, Prompt, derived_seed
from pipeline.label import instructions
from pipeline.label.base import Labeler, LabelResult, Progress
from pipeline.subsets.base import Assembled, Candidates, LabelEnv, Planned, Sampler, Subset, models_text


class PreciseIFConfig(GenerationConfig):
    # Each entry is {"type": ..., **kwargs}; kwargs left out are drawn from the registry's sampler.
    # The string "all" draws from every registered constraint type.
    constraints: list[dict[str, object]] | Literal["all"]
    # Assembly policy on answers whose label carries a caution: their verdict is the official one,
    # but a release should not rest on an uncertain one (see `without_cautioned`).
    skip_cautioned: bool = True


# A cut-off answer that fails its instruction fails it as shown, so it may be a rejected answer;
# no cautioned answer is chosen, and one under any other caution is not used at all.
REJECTABLE_CAUTIONS = frozenset({"cut-off"})


def without_cautioned(candidates: Candidates) -> Candidates:
    """The candidates the Precise IF assembly may use; the drop's evidence counts the others."""
    flagged = candidates.cautions
    correct = [c for c in candidates.correct if c.completion_id not in flagged]
    incorrect = [c for c in candidates.incorrect if not set(flagged.get(c.completion_id, ())) - REJECTABLE_CAUTIONS]
    left_out = len(candidates.correct) + len(candidates.incorrect) - len(correct) - len(incorrect)
    return Candidates(correct, incorrect, candidates.unsettled + Counter(cautioned=left_out), flagged)


def pick_constraint(cfg: PreciseIFConfig, prompt: Prompt, seed: int) -> dict[str, Any]:
    """One constraint per prompt, drawn reproducibly; kwargs the config leaves out are sampled."""
    rng = random.Random(derived_seed(seed, prompt.prompt_id, "constraint"))
    choices = [{"type": t} for t in sorted(instructions.REGISTRY)] if cfg.constraints == "all" else cfg.constraints
    return instructions.complete_spec(dict(rng.choice(choices)), rng, prompt.text)


class InstructionLabeler:
    """Each completion checked against the constraint appended to its prompt."""

    name = "instruction-checker"
    version = instructions.VERSION

    def label(
        self, completions: Sequence[Completion], prompts: Mapping[str, Prompt], progress: Progress | None = None
    ) -> list[LabelResult]:
        return [instructions.check_constraint(c.constraint_spec() or {}, c.text, c.finish_reason) for c in completions]


class PreciseIF(Subset[PreciseIFConfig]):
    key = "precise_if"
    release_name = "Precise IF"
    config_class = PreciseIFConfig
    route_hint = "an open request (explain, write, list, describe) that a formatting rule could be added to"

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        spec = pick_constraint(self.cfg, prompt, sampler.seed)
        instruction = instructions.render_instruction(spec)
        constraint, _ = instructions.validate_constraint(spec)
        text = f"{prompt.text}\n\n{instruction}"
        system = sampler.templates.text(self.cfg.system_prompt)
        return sampler.samples(prompt, self.cfg, "constraint-appended", text, self.cfg.samples_per_model, system,
                               constraint=json.dumps(spec, sort_keys=True),
                               instruction_id=constraint.instruction_id)  # fmt: skip

    def labeler(self, env: LabelEnv) -> Labeler:
        return InstructionLabeler()

    def assemble(self, prompt: Prompt, candidates: Candidates, num_rejected: int, seed: int) -> Assembled:
        if self.cfg.skip_cautioned and candidates.cautions:
            candidates = without_cautioned(candidates)
        return super().assemble(prompt, candidates, num_rejected, seed)

    def pick(
        self, correct: list[Completion], incorrect: list[Completion], k: int, rng: random.Random
    ) -> tuple[list[Completion], list[Completion]] | str:
        # RB2: all four completions of a Precise IF item come from the same model.
        models = sorted({c.model for c in correct} & {c.model for c in incorrect})
        viable = [m for m in models if len({c.text.strip() for c in incorrect if c.model == m}) >= k]
        if not viable:
            return "no-model-with-1-correct-and-enough-incorrect"
        model = rng.choice(viable)
        return super().pick([c for c in correct if c.model == model], [c for c in incorrect if c.model == model], k, rng)

    def card_text(self) -> str:
        s = self.cfg
        return (f"a verifiable constraint appended to the prompt; {s.samples_per_model} samples per "
                f"model from {models_text(s.models)}, checked by the constraint's verifier; all "
                "completions of an item come from one model")  # fmt: skip
