"""The building blocks of a constraint: its kwargs spec, its verdict and its sampler context.

A checker returns a Verdict: (True, detail) passes, (False, detail) fails and (None, detail)
means the response cannot be analysed for this constraint; the facade turns that into an
abstain, so no checker ever has to pass a response vacuously.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Kwargs = dict[str, Any]
Verdict = tuple[bool | None, str]
ParamKind = Literal["int", "str", "choice", "str_list"]

RELATIONS = ("less than", "at least")


@dataclass(frozen=True)
class Param:
    """One kwarg: its JSON type and allowed values.

    For "int", low/high bound the value; for "str_list" they bound the number of items.
    `pattern` is a regex every str (or list item) must fully match. `shown` says whether the
    rendered instruction states the value (False for the prompt the model already sees).
    """

    name: str
    kind: ParamKind
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    required: bool = True
    default: Any = None
    shown: bool = True


@dataclass(frozen=True)
class SampleContext:
    """What a sampler may look at: the kwargs already given and the user's prompt."""

    given: Kwargs
    prompt: str | None = None

    def value(self, name: str, draw: Callable[[], Any]) -> Any:
        """A given value wins, so a sampled kwarg stays consistent with the given ones."""
        return self.given[name] if name in self.given else draw()

    def need_prompt(self, ctype: str) -> str:
        if self.prompt is None or not self.prompt.strip():
            raise ValueError(f"constraint {ctype!r} repeats the request: complete_spec needs prompt_text")
        return self.prompt


Sampler = Callable[[random.Random, SampleContext], Kwargs]
Checker = Callable[[str, Kwargs], Verdict]
Renderer = Callable[[Kwargs], str]


def _no_kwargs(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {}


@dataclass(frozen=True)
class Constraint:
    """A verifiable instruction: render it into the prompt, check a response against it."""

    type: str
    instruction_id: str
    render: Renderer
    check: Checker
    params: tuple[Param, ...] = ()
    sample: Sampler = _no_kwargs
    cross_check: Callable[[Kwargs], str | None] | None = None  # an error between kwargs, or None
    source: str = "ifeval"  # ifeval | ifbench | basic: where the instruction comes from
    family: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", self.instruction_id.split(":", 1)[0])

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if not p.required)

    @property
    def needs_prompt(self) -> bool:
        return any(p.name == "prompt_to_repeat" for p in self.params)


def check_value(ctype: str, param: Param, value: Any) -> None:
    """Raise ValueError when `value` does not fit `param`; bool never counts as an int."""
    where = f"constraint {ctype!r}: kwarg {param.name!r}"
    if param.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an int, got {type(value).__name__} {value!r}")
        _check_bounds(where, value, param, "")
    elif param.kind == "str_list":
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list of strings, got {type(value).__name__}")
        _check_bounds(where, len(value), param, " items")
        for item in value:
            _check_str(where, param, item)
    else:
        _check_str(where, param, value)
        if param.kind == "choice" and value not in param.choices:
            raise ValueError(f"{where} must be one of {list(param.choices)}, got {value!r}")


def _check_bounds(where: str, n: int, param: Param, unit: str) -> None:
    if param.low is not None and n < param.low:
        raise ValueError(f"{where} out of range: {n}{unit} < minimum {param.low}")
    if param.high is not None and n > param.high:
        raise ValueError(f"{where} out of range: {n}{unit} > maximum {param.high}")


def _check_str(where: str, param: Param, value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise ValueError(f"{where} must not be empty")
    if param.pattern is not None and not re.fullmatch(param.pattern, value):
        raise ValueError(f"{where}: {value!r} does not match {param.pattern}")


def holds(count: int, relation: str, target: int) -> bool:
    """IFEval's two relations: 'less than' is strict, 'at least' inclusive."""
    return count < target if relation == "less than" else count >= target


def plural(n: int, noun: str) -> str:
    """'1 time', '3 times': rendered instructions should read naturally for any count."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def draw_relation(rng: random.Random) -> str:
    return rng.choice(RELATIONS)


def counted_relation(count: str, relation: str, low: int, high: int) -> Sampler:
    """Draw a relation, then a count for it; 'less than' starts at 2 since 'less than 1'
    would be a ban, a different instruction."""

    def sample(rng: random.Random, ctx: SampleContext) -> Kwargs:
        rel = ctx.value(relation, lambda: draw_relation(rng))
        floor = max(low, 2) if rel == "less than" else low
        return {count: ctx.value(count, lambda: rng.randint(floor, max(floor, high))), relation: rel}

    return sample


def relation_param(name: str = "relation") -> Param:
    return Param(name, "choice", choices=RELATIONS)


def int_param(name: str, low: int, high: int, **extra: Any) -> Param:
    return Param(name, "int", low=low, high=high, **extra)


def simple_sampler(**draws: Callable[[random.Random], Any]) -> Sampler:
    """A sampler that draws each missing kwarg on its own: name=function of the rng."""

    def sample(rng: random.Random, ctx: SampleContext) -> Kwargs:
        return {name: ctx.value(name, lambda d=draw: d(rng)) for name, draw in draws.items()}

    return sample


def prompt_param() -> Param:
    return Param("prompt_to_repeat", "str", shown=False)
