"""Prompt transforms: an LM writes a new question from a prompt before answers are sampled.

Focus asks for a subtly different question (its answers become off-topic candidates); Ties asks
for a narrower version with exactly one valid answer (the `ref` prompt). The original prompt is
fenced as data, as for judges, and the answer comes back as JSON under a schema where the
backend supports one. An answer that is empty or merely restates the original is unusable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pipeline.label.judges import Question, json_object, render
from pipeline.lm import ChatRequest
from pipeline.decontam.overlap import canonical, ngrams, overlap
from pipeline.core.records import Prompt, short_hash

SCHEMA = json.dumps(
    {"type": "object", "properties": {"rewritten": {"type": "string"}}, "required": ["rewritten"],
     "additionalProperties": False},  # fmt: skip
    sort_keys=True,
)
MAX_TOKENS = 96
ATTEMPTS = 3  # a rewrite that comes back unusable is asked for again, up to this many times


@dataclass(frozen=True)
class Transform:
    """One rewrite of one prompt: `kind` is "focus-rewrite" or "ties-narrow"."""

    transform_id: str
    prompt_id: str
    kind: str
    model: str
    request: ChatRequest

    attempt: int
    template: str

    @classmethod
    def plan(cls, prompt: Prompt, kind: str, model: str, template: str, attempt: int = 0) -> "Transform":
        """The first attempt is greedy; retries sample (temperature 0.8, seed = attempt)."""
        content = render(template, Question(prompt.prompt_id, {"prompt": prompt.text}))
        request = ChatRequest.from_messages([{"role": "user", "content": content}], temperature=0.8 if attempt else 0.0,
                                            max_tokens=MAX_TOKENS, seed=attempt, json_schema=SCHEMA)  # fmt: skip
        tid = "t_" + short_hash(prompt.prompt_id, kind, model, attempt)
        return cls(tid, prompt.prompt_id, kind, model, request, attempt, template)


PLACEHOLDER = re.compile(r"^<[^<>]*>$")


def parse_rewrite(text: str, original: str, template: str = "") -> tuple[str | None, str]:
    """(new question, "") or (None, why it is unusable): empty, the original again, a placeholder,
    or a piece of the instructions echoed back."""
    given = (json_object(text) or {}).get("rewritten")
    question = given if isinstance(given, str) else None
    if question is None:
        match = re.search(r"\"rewritten\"\s*:\s*\"([^\"]+)", text)
        question = match.group(1) if match else re.sub(r"^\s*(rewritten|new question)\s*:\s*", "", text, flags=re.I)
    question = question.strip().strip('"').strip()
    if not question:
        return None, "empty rewrite"
    if canonical(question) == canonical(original):
        return None, "rewrite repeats the original prompt"
    if PLACEHOLDER.match(question):
        return None, f"placeholder {question!r} instead of a question"
    if template and overlap(ngrams(question, 4), ngrams(template, 4)) >= 0.5:
        return None, "rewrite echoes the instructions or their examples"
    return question, ""
