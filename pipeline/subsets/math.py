"""Math: sampled solutions graded by math-verify against the reference answer or the majority."""

from __future__ import annotations

from pipeline.core.subset_config import GenerationConfig
from pipeline.label.base import Labeler
from pipeline.label.math_worker import MathVerifyLabeler
from pipeline.subsets.base import LabelEnv, Subset, models_text


class Math(Subset[GenerationConfig]):
    key = "math"
    release_name = "Math"
    config_class = GenerationConfig
    route_hint = "a math problem with a single final answer"

    def labeler(self, env: LabelEnv) -> Labeler:
        return MathVerifyLabeler()

    def card_text(self) -> str:
        s = self.cfg
        return (f"{s.samples_per_model} samples per model at temperature {s.temperature} from "
                f"{models_text(s.models)}; graded by math-verify against the reference answer, or the "
                "majority answer where a prompt has none")  # fmt: skip
