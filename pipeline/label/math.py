"""Math labeler: extract final answers with math-verify, grade against a reference or the majority.

math-verify's own timeouts use `signal.alarm`, which only works in the main thread; Prefect runs
tasks in worker threads. So its timeouts are switched off and time is bounded here instead, by
grading only the tail of a completion (where the final answer is) with a length cap.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Sequence

from math_verify import parse, verify

from pipeline.label.base import LabelResult

VERSION = "1"
MAX_ANSWER_CHARS = 1500  # the tail of a completion that is parsed; bounds parse time
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?(/\d+)?$")
UNEVALUATED = re.compile(r"\d\s*[-+*×÷^]\s*\d")  # "3 + 10": arithmetic left undone


@dataclass
class Parsed:
    expressions: list[Any]
    shown: str  # the extracted answer as text, for evidence

    @property
    def ok(self) -> bool:
        return bool(self.expressions)


def extract(text: str) -> Parsed:
    tail = text[-MAX_ANSWER_CHARS:]
    try:
        parsed = parse(tail, parsing_timeout=None)
    except Exception as exc:  # math-verify raises on pathological input; treat as no answer
        return Parsed([], f"parse error: {type(exc).__name__}")
    shown = str(parsed[-1]) if parsed else ""
    return Parsed(list(parsed), shown)


def equivalent(gold: Parsed, answer: Parsed) -> bool:
    try:
        return bool(verify(gold.expressions, answer.expressions, timeout_seconds=None))
    except Exception:
        return False


def majority_answer(answers: Sequence[Parsed]) -> tuple[Parsed | None, int]:
    """Cluster parsed answers by equivalence; the largest cluster is the gold answer.

    A tie for the largest cluster has no majority: the caller abstains rather than guess."""
    clusters: list[list[Parsed]] = []
    for answer in answers:
        if not answer.ok:
            continue
        for cluster in clusters:
            if equivalent(cluster[0], answer):
                cluster.append(answer)
                break
        else:
            clusters.append([answer])
    if not clusters:
        return None, 0
    sizes = sorted((len(c) for c in clusters), reverse=True)
    if len(sizes) > 1 and sizes[0] == sizes[1]:
        return None, sizes[0]
    best = max(clusters, key=len)
    return best[0], len(best)


def label_math(completions: Sequence[str], reference: str | None) -> list[LabelResult]:
    """Label every completion of one prompt: correct iff its final answer equals the gold."""
    # math-verify warns on every call that its timeouts are off; that is deliberate here.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    answers = [extract(text) for text in completions]
    if reference:
        gold = extract(f"${reference}$") if "$" not in reference else extract(reference)
        gold_source, votes = "reference", None
    else:
        gold, votes = majority_answer(answers)
        gold_source = "majority"
    results = []
    for answer in answers:
        evidence = {"extracted": answer.shown, "gold": gold.shown if gold else None,
                    "gold_source": gold_source, "votes": votes}  # fmt: skip
        if gold is None or not gold.ok:
            results.append(LabelResult("abstain", f"no gold answer ({gold_source})", evidence=evidence))
        elif not answer.ok:
            results.append(LabelResult("incorrect", "no final answer found", 0.0, evidence))
        elif NUMBER.match(gold.shown.strip()) and UNEVALUATED.search(answer.shown):
            # math-verify would evaluate "3 + 10" to 13; a restated sum is not a final answer.
            results.append(LabelResult("incorrect", f"unevaluated expression {answer.shown!r}", 0.0, evidence))
        elif equivalent(gold, answer):
            results.append(LabelResult("correct", f"{answer.shown} == {gold.shown}", 1.0, evidence))
        else:
            results.append(LabelResult("incorrect", f"{answer.shown} != {gold.shown}", 0.0, evidence))
    return results
