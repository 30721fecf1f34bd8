"""The one protocol every labeler implements, and the small typed result it returns.

A labeler sees completions (with the prompts they answer) and returns one result per
completion, in order: correct or incorrect with a score, an abstain (nothing to decide on, or
the deciders split), or failed (a request behind the decision failed for good; a rerun retries
it). Why a result has no label is its `status`, a field of its own rather than a key buried in
the evidence, so the label stage and assembly read it without parsing JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

from pipeline.core.records import Completion, Prompt

LabelValue = Literal["correct", "incorrect", "abstain", "failed"]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LabelResult:
    label: LabelValue
    reasoning: str
    score: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    status: str = ""  # why there is no label: "disagreed", "unparsed", "empty", "request-failed", ...

    @property
    def decided(self) -> bool:
        return self.label in ("correct", "incorrect")


def passed(ok: bool, reasoning: str, evidence: dict[str, Any]) -> LabelResult:
    """A correct/incorrect result with the conventional 1.0/0.0 score."""
    return LabelResult("correct" if ok else "incorrect", reasoning, 1.0 if ok else 0.0, evidence)


class Labeler(Protocol):
    """Labels completions; `name` and `version` are recorded on every label it gives."""

    name: str
    version: str

    def label(
        self, completions: Sequence[Completion], prompts: Mapping[str, Prompt], progress: Progress | None = None
    ) -> list[LabelResult]: ...
