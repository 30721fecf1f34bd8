"""Strict and loose verdicts as the official IFEval and IFBench evaluations define them, once for both.

Strict: the response passes the instruction's check, and an empty (whitespace-only) response fails.
Loose: any of 8 variants passes — the response with its first line, its last line, both or neither
dropped (then stripped), each with and without every `*` removed. Both official evaluation
libraries (google-research `evaluation_lib.py` as copied into lm-eval's `ifeval/utils.py`, and
allenai/IFBench `evaluation_lib.py`) build exactly these variants in this order.

Cautions are our own: facts about a response that make a verdict weak evidence for a benchmark
(cut at max_tokens, empty, too little text for a language detector). They never change a verdict;
the Precise IF assembly skips completions that carry one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

CUT_OFF = "cut-off"  # finish_reason == "length": the model did not finish its answer
EMPTY = "empty"  # nothing but whitespace: the official evaluation fails it, whatever the instruction
LANGUAGE_UNSURE = "language-unsure"  # too little text, or no confident language, for langdetect
MIN_LANGUAGE_LETTERS = 20  # below this, langdetect's answer on a clear sentence is a coin toss
MIN_LANGUAGE_PROBABILITY = 0.5


class Instruction(Protocol):
    """What the facade needs of an official instruction (IFEval wrapper or IFBench checker)."""

    instruction_id: str
    kwarg_names: tuple[str, ...]

    def describe(self, kwargs: dict[str, Any]) -> str: ...

    def check(self, response: str, kwargs: dict[str, Any]) -> bool: ...


def loose_variants(response: str) -> list[str]:
    """The 8 responses the official loose evaluation tries, in its order (the first is the response)."""
    lines = response.split("\n")
    remove_first = "\n".join(lines[1:]).strip()
    remove_last = "\n".join(lines[:-1]).strip()
    remove_both = "\n".join(lines[1:-1]).strip()
    plain = [response, remove_first, remove_last, remove_both]
    starless = [r.replace("*", "") for r in plain]
    return [plain[0], starless[0], plain[1], plain[2], plain[3], starless[1], starless[2], starless[3]]


@dataclass(frozen=True)
class Verdict:
    strict: bool
    loose: bool
    passing_variant: int | None = None  # index into loose_variants of the first variant that passed
    cautions: list[str] = field(default_factory=list)


def judge(check: Callable[[str], bool], response: str) -> Verdict:
    """Strict and loose verdicts of one instruction's check on one response."""
    strict = bool(response.strip()) and bool(check(response))
    if strict:
        return Verdict(True, True, 0)
    for index, variant in enumerate(loose_variants(response)[1:], start=1):
        if variant.strip() and check(variant):
            return Verdict(False, True, index)
    return Verdict(False, False, None)


def language_unsure(response: str) -> bool:
    """Whether langdetect's answer on this text is a guess: too few letters, no language found, or
    a top guess under MIN_LANGUAGE_PROBABILITY (the official checker passes what it cannot detect)."""
    if sum(ch.isalpha() for ch in response) < MIN_LANGUAGE_LETTERS:
        return True
    from langdetect import detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    from pipeline.label.ifeval import seeded_langdetect

    seeded_langdetect()  # profiles loaded once, seed 0: the same answer every time
    try:
        return detect_langs(response)[0].prob < MIN_LANGUAGE_PROBABILITY
    except LangDetectException:
        return True


def cautions(response: str, finish_reason: str | None, uses_language: bool) -> list[str]:
    """Our reasons to distrust a verdict as benchmark evidence (the verdict itself stands)."""
    found = []
    if finish_reason == "length":
        found.append(CUT_OFF)
    if not response.strip():
        found.append(EMPTY)
    elif uses_language and language_unsure(response):
        found.append(LANGUAGE_UNSURE)
    return found
