"""The optional second look by a language model at borderline pairs (LMSYS llm-decontaminator's idea:
after an embedding search, ask a model whether the prompt rephrases the eval item).

Off unless `decontamination.confirm_model` names a model of the config; the answer goes into the
evidence (`llm_confirmed`). An unparseable or failed answer is None and drops nothing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable

from pipeline.lm import ChatRequest, LanguageModel

_ANSWER = re.compile(r"\b(YES|NO)\b", re.IGNORECASE)


def parse(text: str) -> bool | None:
    found = _ANSWER.search(text or "")
    return None if found is None else found.group(1).upper() == "YES"


def llm_confirmer(model: LanguageModel, template: str) -> Callable[[list[tuple[str, str]]], list[bool | None]]:
    """A Detector `confirm` callable: one greedy request per pair, answered in one batch."""

    def confirm(pairs: list[tuple[str, str]]) -> list[bool | None]:
        requests = []
        for prompt, eval_text in pairs:
            tag = hashlib.sha256(f"{prompt}\0{eval_text}".encode()).hexdigest()[:8]
            text = template.format(tag=tag, prompt=prompt, eval_item=eval_text)
            requests.append(ChatRequest.from_messages([{"role": "user", "content": text}], temperature=0.0,
                                                      max_tokens=4))  # fmt: skip
        return [parse(r.text) if r.ok else None for r in model.generate(requests)]

    return confirm
