"""Verifiable instructions for Precise IF: render the instruction, validate kwargs, check a response.

This is the facade the pipeline calls. Every instruction exposed under an official id gives the
official checker's verdict: IFEval's 25 through lm-eval's own code (`pipeline.label.ifeval`), IFBench's
58 through our port proven equal to allenai/IFBench (`pipeline.label.ifbench`). A config entry is a
spec `{"type": NAME, **kwargs}` where NAME is an official id, a short name (`pipeline.label.aliases`)
or an id of our own (`rbbench:...`); `complete_spec` fills in the kwargs a config leaves open,
reproducibly from an rng, and returns the spec in its official form.

A label is the official strict verdict; the loose verdict and our cautions (cut off, empty, language
unsure) go into its evidence and never change it. `REGISTRY` holds exactly the official ids, so
`constraints: all` draws from them; it is built on first use (lm-eval takes seconds to import).
"""

from __future__ import annotations

import inspect
import random
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pipeline.label import aliases, verdicts
from pipeline.label.base import LabelResult

__all__ = [
    "ALIASES",  # noqa: F822
    "REGISTRY",  # noqa: F822 (built on first use by __getattr__)
    "VERSION",
    "Constraint",
    "check_constraint",
    "complete_spec",
    "families",
    "instruction_ids",
    "official_constraint",
    "render_instruction",
    "unavailable",
    "validate_constraint",
]

VERSION = "3"  # 3: official IFEval (lm-eval) and IFBench verdicts; strict label, loose + cautions as evidence

SAMPLE_ATTEMPTS = 20
LANGUAGE_IDS = frozenset(
    {"language:response_language", "change_case:english_capital", "change_case:english_lowercase"}
)


@dataclass(frozen=True)
class Constraint:
    """One instruction as the facade exposes it; `type` is its canonical config name (its id)."""

    instruction_id: str
    instruction: Any  # verdicts.Instruction
    source: str  # ifeval | ifbench | rbbench
    family: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", self.instruction_id.split(":", 1)[0])

    @property
    def type(self) -> str:
        return self.instruction_id

    @property
    def kwarg_names(self) -> tuple[str, ...]:
        return tuple(self.instruction.kwarg_names)

    @property
    def needs_prompt(self) -> bool:
        return "prompt_to_repeat" in self.kwarg_names

    def render(self, kwargs: dict[str, Any]) -> str:
        return self.instruction.describe(kwargs)


@cache
def _ifbench_instructions() -> tuple[dict[str, Any], dict[str, str]]:
    """IFBench's instructions, and those that cannot run on this machine with the reason."""
    from pipeline.label.ifbench import registry as ifbench

    missing = {}
    if not ifbench.tagger_available():  # NLTK's perceptron tagger: no PyPI package ships it
        missing["words:start_verb"] = (
            "needs NLTK's averaged_perceptron_tagger_eng data, not found on this machine"
        )
    return dict(ifbench.INSTRUCTIONS), missing


@cache
def _tables() -> tuple[dict[str, Constraint], dict[str, Constraint], dict[str, aliases.Alias]]:
    from pipeline.label import ifeval

    official = {i: Constraint(i, obj, "ifeval") for i, obj in ifeval.load().items()}
    ifbench, missing = _ifbench_instructions()
    for i, obj in ifbench.items():
        if i in official:
            raise RuntimeError(f"instruction id {i!r} is both an IFEval and an IFBench id")
        if i not in missing:
            official[i] = Constraint(i, obj, "ifbench")
    own = {
        o.instruction_id: Constraint(o.instruction_id, o, aliases.OWN_PREFIX)
        for o in aliases.OWN_INSTRUCTIONS
    }
    names: dict[str, aliases.Alias] = {}
    for alias in (*aliases.CUSTOM_ALIASES, *aliases.OWN_ALIASES, *aliases.identity_aliases(sorted(official))):
        names.setdefault(alias.name, alias)
    clash = sorted(set(names) & (set(official) | set(own)))
    if clash:
        raise RuntimeError(f"short names shadow ids: {clash}")
    return dict(sorted(official.items())), own, names


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":  # the official ids only: what `constraints: all` draws from
        return _tables()[0]
    if name == "ALIASES":
        return _tables()[2]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _resolve(spec: Any) -> tuple[Constraint, dict[str, Any], aliases.Alias | None]:
    """The constraint a spec names, its kwargs as given, and the alias it was named by."""
    if not isinstance(spec, dict):
        raise ValueError(f"a constraint spec must be a mapping, got {type(spec).__name__}")  # noqa: TRY004
    official, own, names = _tables()
    ctype = spec.get("type")
    kwargs = {k: v for k, v in spec.items() if k != "type" and v is not None}
    if isinstance(ctype, str) and ctype in names:
        alias = names[ctype]
        return {**official, **own}[alias.instruction_id], kwargs, alias
    if isinstance(ctype, str) and (ctype in official or ctype in own):
        return {**official, **own}[ctype], kwargs, None
    if isinstance(ctype, str) and ctype in unavailable():
        raise ValueError(f"constraint {ctype!r} cannot be checked here: {unavailable()[ctype]}")
    known = ", ".join(sorted(names))
    raise ValueError(f"unknown constraint type {ctype!r}; official ids or short names: {known}")


def _alias_kwargs(alias: aliases.Alias, given: dict[str, Any], rng: random.Random | None) -> dict[str, Any]:
    """An alias's kwargs turned official; with an rng, missing ones are drawn first."""
    if alias.sample is None:  # same kwargs as the official id
        return given
    extra = sorted(set(given) - set(alias.kwarg_names))
    if extra:
        raise ValueError(
            f"constraint {alias.name!r}: unexpected kwargs {extra}; accepted: {list(alias.kwarg_names)}"
        )
    if rng is not None:
        given = {**{k: v for k, v in alias.sample(rng).items() if k not in given}, **given}
    missing = [k for k in alias.kwarg_names if k not in given]
    if missing:
        raise ValueError(f"constraint {alias.name!r}: missing kwargs {missing}")
    try:
        return alias.to_official(given)
    except ValueError as err:
        raise ValueError(f"constraint {alias.name!r}: {err}") from None


def _check_kwargs(constraint: Constraint, kwargs: dict[str, Any]) -> None:
    """Refuse kwargs the official code would not take as given: unknown names, values it would
    replace or leave to a random draw, values its checker cannot compare."""
    cid = constraint.instruction_id
    extra = sorted(set(kwargs) - set(constraint.kwarg_names))
    if extra:
        raise ValueError(
            f"constraint {cid!r}: unexpected kwargs {extra}; accepted: {list(constraint.kwarg_names) or 'none'}"
        )
    draws = getattr(constraint.instruction, "draws_at_random", None)
    missing = [k for k in constraint.kwarg_names if k not in kwargs]
    try:
        drawn = draws is not None and draws(kwargs)
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"constraint {cid!r}: the official code refuses kwargs {kwargs}: {err}") from None
    if drawn:
        what = (
            f"missing kwargs {missing}" if missing else "a value the official code replaces by a random draw"
        )
        raise ValueError(f"constraint {cid!r}: {what}; given {kwargs}")
    try:
        constraint.instruction.describe(kwargs)
        constraint.instruction.check("A short probe answer.", kwargs)
    except (TypeError, AttributeError, KeyError, ValueError, re.error) as err:
        raise ValueError(f"constraint {cid!r}: the official code refuses kwargs {kwargs}: {err}") from None


def unavailable() -> dict[str, str]:
    """Official ids left out of REGISTRY because their checker cannot run on this machine, with why."""
    return _ifbench_instructions()[1]


def official_constraint(instruction_id: str) -> Constraint:
    """The constraint under an official id or an id of our own (not a short name): what a scorer of
    official data files looks up."""
    official, own, _ = _tables()
    found = official.get(instruction_id) or own.get(instruction_id)
    if found is None:
        why = unavailable().get(instruction_id)
        raise ValueError(
            f"instruction id {instruction_id!r} {'cannot be checked here: ' + why if why else 'is unknown'}"
        )
    return found


def validate_constraint(spec: dict[str, Any]) -> tuple[Constraint, dict[str, Any]]:
    """Split a config entry {"type": ..., **kwargs} into its constraint and its official kwargs
    (None values dropped, as the official evaluations drop them)."""
    constraint, given, alias = _resolve(spec)
    kwargs = _alias_kwargs(alias, given, None) if alias else given
    _check_kwargs(constraint, kwargs)
    return constraint, kwargs


def render_instruction(spec: dict[str, Any]) -> str:
    """The official instruction text for this spec."""
    constraint, kwargs = validate_constraint(spec)
    return constraint.render(kwargs)


def complete_spec(spec: dict[str, Any], rng: random.Random, prompt_text: str | None = None) -> dict[str, Any]:
    """The spec in official form, `{"type": official id, **official kwargs}`, with every kwarg it
    leaves out drawn from `rng` by the official ranges (same rng state, same result); given kwargs
    are kept. Instructions that repeat the request take it from `prompt_text`."""
    constraint, given, alias = _resolve(spec)
    if alias:
        given = _alias_kwargs(alias, given, rng)
    if constraint.needs_prompt and not (prompt_text or "").strip() and "prompt_to_repeat" not in given:
        raise ValueError(f"{constraint.instruction_id} repeats the request: complete_spec needs prompt_text")
    problem = None
    for _ in range(SAMPLE_ATTEMPTS):  # an official sampler may draw what its own checks refuse
        kwargs = {
            k: v for k, v in {**_draw(constraint, rng, prompt_text, given), **given}.items() if v is not None
        }
        try:
            _check_kwargs(constraint, kwargs)
        except ValueError as err:
            if set(given) >= set(constraint.kwarg_names):  # nothing was drawn: the given kwargs are wrong
                raise
            problem = err
            continue
        return {"type": constraint.type, **kwargs}
    raise ValueError(f"no valid kwargs drawn in {SAMPLE_ATTEMPTS} attempts: {problem}")


def _draw(
    constraint: Constraint, rng: random.Random, prompt: str | None, given: dict[str, Any]
) -> dict[str, Any]:
    """The instruction's sampler; one that takes the given kwargs draws the rest consistently."""
    sample = constraint.instruction.sample_kwargs
    if "given" in inspect.signature(sample).parameters:
        return sample(rng, prompt, given=given)
    return sample(rng, prompt)


def check_constraint(spec: dict[str, Any], response: str, finish_reason: str | None = None) -> LabelResult:
    """The official strict verdict as the label; loose verdict and cautions as evidence."""
    constraint, kwargs = validate_constraint(spec)
    cid = constraint.instruction_id
    evidence: dict[str, Any] = {"constraint": spec, "instruction_id": cid, "source": constraint.source,
                                "kwargs": kwargs}  # fmt: skip
    try:
        verdict = verdicts.judge(lambda text: constraint.instruction.check(text, kwargs), response)
    except Exception as err:  # noqa: BLE001 (the official code crashed: it did not decide)
        return LabelResult("abstain", f"{cid}: the official checker raised {type(err).__name__}: {err}",
                           evidence={**evidence, "error": repr(err)})  # fmt: skip
    caution = verdicts.cautions(response, finish_reason, cid in LANGUAGE_IDS)
    evidence.update(
        strict=verdict.strict, loose=verdict.loose, loose_variant=verdict.passing_variant, caution=caution
    )
    detail = (
        f"official strict {'pass' if verdict.strict else 'fail'}, loose {'pass' if verdict.loose else 'fail'}"
    )
    if caution:
        detail += f" (caution: {', '.join(caution)})"
    evidence["detail"] = detail  # the one-line summary the label tables show
    reasoning = f"{cid}: {detail}"
    return LabelResult("correct" if verdict.strict else "incorrect", reasoning,
                       score=1.0 if verdict.strict else 0.0, evidence=evidence)  # fmt: skip


def instruction_ids() -> set[str]:
    """Every id a spec can name: the official ones and our own."""
    official, own, _ = _tables()
    return set(official) | set(own)


def families() -> dict[str, list[str]]:
    """Instruction ids per family (the id's prefix, e.g. 'keywords', 'count', 'rbbench')."""
    official, own, _ = _tables()
    out: dict[str, list[str]] = {}
    for c in (*official.values(), *own.values()):
        out.setdefault(c.family, []).append(c.type)
    return out
