"""Verifiable instruction constraints: render the instruction, validate kwargs, check a response.

This module is the facade the pipeline calls; the constraints live in
`pipeline.label.constraints`. A config entry is a spec `{"type": ..., **kwargs}`; `complete_spec`
fills in the kwargs a config leaves open, reproducibly from an rng.

A checker abstains when the response cannot be analysed (empty, cut off, too short to tell): it
never passes a response vacuously.
"""

from __future__ import annotations

import random
from typing import Any

from pipeline.label.constraints import Constraint, SampleContext, build_registry, text
from pipeline.label.constraints.base import check_value
from pipeline.label.base import LabelResult

__all__ = [
    "VERSION",
    "Constraint",
    "REGISTRY",
    "validate_constraint",
    "render_instruction",
    "complete_spec",
    "check_constraint",
    "instruction_ids",
    "families",
]

VERSION = "2"

REGISTRY: dict[str, Constraint] = build_registry()

# Types whose violation more text cannot undo (a comma, a capital letter, a forbidden word, too
# many words already written): a cut-off answer that fails one of them fails for good.
FAILS_SURVIVE_CUT_OFF = frozenset(
    {"no_comma", "lowercase", "english_lowercase", "english_capital", "no_letter", "forbidden_words", "max_words",
     "no_whitespace"}
)  # fmt: skip


def _lookup(spec: dict[str, Any]) -> tuple[Constraint, dict[str, Any]]:
    if not isinstance(spec, dict):
        raise ValueError(f"a constraint spec must be a mapping, got {type(spec).__name__}")
    ctype = spec.get("type")
    if not isinstance(ctype, str) or ctype not in REGISTRY:
        raise ValueError(f"unknown constraint type {ctype!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[ctype], {k: v for k, v in spec.items() if k != "type"}


def _reject_unexpected(constraint: Constraint, kwargs: dict[str, Any]) -> None:
    known = {p.name for p in constraint.params}
    extra = sorted(k for k in kwargs if k not in known)
    if extra:
        raise ValueError(
            f"constraint {constraint.type!r}: unexpected kwargs {extra}; accepted: {sorted(known) or 'none'}"
        )


def validate_constraint(spec: dict[str, Any]) -> tuple[Constraint, dict[str, Any]]:
    """Split a config entry {"type": ..., **kwargs} into its constraint and checked kwargs
    (optional kwargs left out get their defaults)."""
    constraint, kwargs = _lookup(spec)
    _reject_unexpected(constraint, kwargs)
    missing = [p.name for p in constraint.params if p.required and p.name not in kwargs]
    if missing:
        raise ValueError(f"constraint {constraint.type!r}: missing kwargs {missing}")
    full = {p.name: kwargs.get(p.name, p.default) for p in constraint.params}
    for param in constraint.params:
        check_value(constraint.type, param, full[param.name])
    problem = constraint.cross_check(full) if constraint.cross_check else None
    if problem:
        raise ValueError(f"constraint {constraint.type!r}: inconsistent kwargs: {problem}")
    return constraint, full


def render_instruction(spec: dict[str, Any]) -> str:
    constraint, kwargs = validate_constraint(spec)
    return constraint.render(kwargs)


def complete_spec(spec: dict[str, Any], rng: random.Random, prompt_text: str | None = None) -> dict[str, Any]:
    """The spec with every kwarg it leaves out drawn by the constraint's sampler from `rng`
    (same rng state, same result); given kwargs are kept as they are. Constraints that repeat
    the request take it from `prompt_text`."""
    constraint, given = _lookup(spec)
    _reject_unexpected(constraint, given)
    drawn = constraint.sample(rng, SampleContext(given=dict(given), prompt=prompt_text))
    full = {"type": constraint.type, **drawn, **given}
    validate_constraint(full)
    return full


def check_constraint(spec: dict[str, Any], response: str, finish_reason: str | None = None) -> LabelResult:
    constraint, kwargs = validate_constraint(spec)
    evidence: dict[str, Any] = {"constraint": spec, "instruction_id": constraint.instruction_id}
    if not response.strip():
        return LabelResult(
            "abstain", "empty response: nothing to check", evidence={**evidence, "detail": "empty"}
        )
    if not text.WORD_RE.search(response):
        # Emoji, punctuation or markup alone: every constraint would be met or missed by accident.
        return LabelResult(
            "abstain",
            f"{constraint.type}: cannot check: no words in the response",
            evidence={**evidence, "detail": "no words"},
        )
    passed, detail = constraint.check(response.replace("\r\n", "\n").replace("\r", "\n"), kwargs)
    evidence["detail"] = detail
    if passed is None:
        return LabelResult("abstain", f"{constraint.type}: cannot check: {detail}", evidence=evidence)
    if passed and finish_reason == "length":
        # A pass on a cut-off answer is not yet a pass.
        return LabelResult(
            "abstain", f"response cut off at max_tokens; no violation so far ({detail})", evidence=evidence
        )
    if passed is False and finish_reason == "length" and constraint.type not in FAILS_SURVIVE_CUT_OFF:
        # "At least N", "end with", valid JSON...: the cut may be what failed it, not the model.
        return LabelResult(
            "abstain", f"response cut off at max_tokens; the cut may cause the failure ({detail})", evidence=evidence
        )
    return LabelResult(
        "correct" if passed else "incorrect",
        f"{constraint.type}: {detail}",
        score=1.0 if passed else 0.0,
        evidence=evidence,
    )


def instruction_ids() -> set[str]:
    return {c.instruction_id for c in REGISTRY.values()}


def families() -> dict[str, list[str]]:
    """Constraint types per family (the instruction id's prefix, e.g. 'keywords', 'count')."""
    out: dict[str, list[str]] = {}
    for c in REGISTRY.values():
        out.setdefault(c.family, []).append(c.type)
    return out
