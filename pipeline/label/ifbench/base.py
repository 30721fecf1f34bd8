"""The shape of one IFBench instruction, and the small string helpers its checkers share.

Why our own code: IFBench (allenai/IFBench, Apache-2.0) has no PyPI package, so each checker is
written here to give the verdict of the official `check_following` at commit db69a6f, quirks
included (they decide which completion is "chosen"). The instruction texts are the official ones,
reproduced as data with attribution. Every checker is tested against verdicts produced by the
unmodified official code (tests/data/ifbench/).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PUNCT = string.punctuation
# The official checkers trim a word with `.strip(punctuation + ' ')`: ASCII punctuation and spaces.
TRIM = PUNCT + " "
_NO_PUNCT = str.maketrans("", "", PUNCT)

Kwargs = Mapping[str, Any]
CheckFn = Callable[[str, Kwargs], bool]
SampleFn = Callable[[random.Random, "str | None"], dict]
DescribeFn = Callable[[Kwargs], str]


class KwargsIncomplete(ValueError):
    """A kwarg the official code would draw at random is missing: no deterministic verdict."""


def drop_punct(text: str) -> str:
    """Delete every ASCII punctuation character (the official `translate(maketrans('', '', punctuation))`)."""
    return text.translate(_NO_PUNCT)


def need(kwargs: Kwargs, *names: str, missing_if: Callable[[Any], bool] | None = None) -> list[Any]:
    """The named kwargs, or KwargsIncomplete where the official code would invent one: when it is
    absent, or when `missing_if(value)` (official builders also redraw a negative count: NEGATIVE,
    or an empty keyword or a 0 position: FALSY)."""
    missing = [n for n in names if kwargs.get(n) is None or (missing_if is not None and missing_if(kwargs[n]))]
    if missing:
        raise KwargsIncomplete(f"missing kwargs {missing}: the official code would draw them at random")
    return [kwargs[n] for n in names]


def NEGATIVE(value: Any) -> bool:
    """An official count builder redraws a negative count."""
    return value < 0


def FALSY(value: Any) -> bool:
    """Some official builders redraw a keyword given as "" or a position given as 0."""
    return not value


def no_kwargs(rng: random.Random, prompt: str | None) -> dict:
    """Sampler of an instruction that takes no kwargs."""
    return {}


def needs_prompt(prompt: str | None, instruction_id: str) -> str:
    """The prompt an instruction repeats or compares with; without one it has no kwargs."""
    if not prompt:
        raise ValueError(f"{instruction_id} needs the prompt to build its kwargs")
    return prompt


@dataclass(frozen=True)
class IFBenchInstruction:
    """One official IFBench instruction: its text, its kwargs ranges and its strict checker.

    `check` is the verdict of the official evaluation (evaluation_lib, strict): a response that is
    empty or only whitespace fails every instruction; otherwise the official `check_following`.
    Kwargs are taken as the official test file gives them (counts as floats such as 5.0).
    """

    instruction_id: str
    kwarg_names: tuple[str, ...]
    template: str
    checker: CheckFn = field(repr=False)
    sampler: SampleFn = field(default=no_kwargs, repr=False)
    describer: DescribeFn | None = field(default=None, repr=False)

    def describe(self, kwargs: Kwargs) -> str:
        """The official instruction text for these kwargs (values formatted as given: 5.0 stays 5.0)."""
        kw = _present(kwargs)
        if self.describer is not None:
            return self.describer(kw)
        if not self.kwarg_names:
            return self.template  # a fixed text may hold braces: "(and [brackets {and braces}])"
        need(kw, *[n for n in self.kwarg_names if "{" + n + "}" in self.template])
        return self.template.format(**kw)

    def sample_kwargs(self, rng: random.Random, prompt: str | None = None) -> dict:
        """Kwargs drawn from `rng` within the official ranges (what the official code draws itself)."""
        return self.sampler(rng, prompt)

    def check(self, response: str, kwargs: Kwargs) -> bool:
        """The official strict verdict of `response` for this instruction with these kwargs."""
        if not response or not response.strip():
            return False
        return bool(self.checker(response, _present(kwargs)))


def _present(kwargs: Kwargs | None) -> dict:
    """Kwargs without None values, as the official evaluation passes them."""
    return {k: v for k, v in (kwargs or {}).items() if v is not None}


def fixed(instruction_id: str, text: str, checker: CheckFn) -> IFBenchInstruction:
    """An instruction without kwargs: its text is fixed."""
    return IFBenchInstruction(instruction_id, (), text, checker)
