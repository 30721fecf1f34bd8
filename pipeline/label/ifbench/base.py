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
    """The official code would draw a kwarg at random (missing, or a value it redraws): the kwargs
    do not fix a verdict."""


def drop_punct(text: str) -> str:
    """Delete every ASCII punctuation character (the official `translate(maketrans('', '', punctuation))`)."""
    return text.translate(_NO_PUNCT)


# What makes an official builder draw a kwarg at random although it is given (None always does):
def GIVEN(value: Any) -> bool:
    """Any given value is used as it is."""
    return False


def NEGATIVE(value: Any) -> bool:
    """The count builders redraw a negative count."""
    return value < 0


def FALSY(value: Any) -> bool:
    """Some builders redraw a keyword given as "" or a position given as 0."""
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
    # kwarg -> when the official builder draws it at random although given (absent: always)
    redraw: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict, repr=False)

    def draws_at_random(self, kwargs: Kwargs) -> bool:
        """Whether the official code would draw a kwarg at random: these kwargs fix no verdict."""
        return bool(self._drawn(_present(kwargs)))

    def _drawn(self, kw: Kwargs) -> list[str]:
        return [name for name, redraws in self.redraw.items() if name not in kw or redraws(kw[name])]

    def _complete(self, kwargs: Kwargs) -> dict:
        kw = _present(kwargs)
        drawn = self._drawn(kw)
        if drawn:
            raise KwargsIncomplete(
                f"{self.instruction_id}: the official code would draw {drawn} at random (given {dict(kw)})"
            )
        return kw

    def describe(self, kwargs: Kwargs) -> str:
        """The official instruction text for these kwargs (values formatted as given: 5.0 stays 5.0)."""
        kw = self._complete(kwargs)
        if self.describer is not None:
            return self.describer(kw)
        if not self.kwarg_names:
            return self.template  # a fixed text may hold braces: "(and [brackets {and braces}])"
        return self.template.format(**kw)

    def sample_kwargs(self, rng: random.Random, prompt: str | None = None) -> dict:
        """Kwargs drawn from `rng` within the official ranges (what the official code draws itself)."""
        return self.sampler(rng, prompt)

    def check(self, response: str, kwargs: Kwargs) -> bool:
        """The official strict verdict of `response` for this instruction with these kwargs."""
        if not response or not response.strip():
            return False  # whatever the kwargs: the official evaluation never calls the checker
        return bool(self.checker(response, self._complete(kwargs)))


def _present(kwargs: Kwargs | None) -> dict:
    """Kwargs without None values, as the official evaluation passes them."""
    return {k: v for k, v in (kwargs or {}).items() if v is not None}


def fixed(instruction_id: str, text: str, checker: CheckFn) -> IFBenchInstruction:
    """An instruction without kwargs: its text is fixed."""
    return IFBenchInstruction(instruction_id, (), text, checker)
