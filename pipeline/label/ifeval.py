"""The 25 IFEval instructions, checked by the official code as shipped in lm-eval.

We do not re-implement IFEval: each `IFEvalInstruction` wraps one class of
`lm_eval.tasks.ifeval.instructions_registry.INSTRUCTION_DICT` (google-research's
`instruction_following_eval`, Apache-2.0) behind the interface every official instruction of the
facade has: `instruction_id`, `kwarg_names`, `describe`, `sample_kwargs`, `check`.

The official classes draw a kwarg at random (module-level `random`) when it is missing or when they
refuse the given value (a letter that is not a-z). We route those draws through a source we choose,
under a lock: our rng when sampling (reproducible, within the official ranges by construction), a
refusal when validating (so a config can never get a silently replaced kwarg), and the official
module-level `random` when checking, as the official evaluation does.
"""

from __future__ import annotations

import inspect
import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from pipeline.label.nltk_data import use_vendored_nltk_data

SOURCE = "ifeval"
# Instructions whose official checker asks langdetect: too little text makes its verdict a guess.
LANGUAGE_IDS = frozenset(
    {"language:response_language", "change_case:english_capital", "change_case:english_lowercase"}
)

_LOCK = threading.RLock()


class RandomDraw(Exception):
    """The official code was about to draw a kwarg at random: the given kwargs do not fix it."""


class _Refuse:
    """Stands in for `random` while validating: any draw means the kwargs are incomplete."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise RandomDraw(name)

        return refuse


@cache
def _modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """lm-eval's IFEval modules, imported once NLTK can find punkt_tab offline (lm-eval would
    otherwise download it at import time). langdetect is seeded so a verdict is reproducible;
    the shared reference verdicts agree with it (tests/test_ifeval_reference.py). Its language
    profiles are loaded here, once, under the lock: two threads loading them at once collide."""
    with _LOCK:
        use_vendored_nltk_data()
        from langdetect import DetectorFactory, detector_factory

        DetectorFactory.seed = 0
        detector_factory.init_factory()
        from lm_eval.tasks.ifeval import instructions, instructions_registry, instructions_util

        # Its checkers log an error for every text langdetect cannot read; that fact is our caution
        # `language-unsure` in the evidence, not a line on the console for each completion.
        logging.getLogger(instructions.__name__).addHandler(logging.NullHandler())
        return instructions_registry, instructions, instructions_util


def seeded_langdetect() -> None:
    """langdetect ready for use from any thread: profiles loaded, seed 0."""
    _modules()


@contextmanager
def random_source(source: Any) -> Iterator[None]:
    """Make the official IFEval code draw from `source` (a random.Random, or anything with its
    methods) inside the block. Holds a lock, so concurrent checks do not see each other's source."""
    _, instructions, util = _modules()
    with _LOCK:
        saved = instructions.random, util.random
        instructions.random = util.random = source
        try:
            yield
        finally:
            instructions.random, util.random = saved


def official_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The kwargs lm-eval's evaluation passes on: it drops every falsy value (None, 0, "", [])."""
    return {k: v for k, v in kwargs.items() if v}


@dataclass(frozen=True)
class IFEvalInstruction:
    instruction_id: str
    kwarg_names: tuple[str, ...]
    source: str = SOURCE

    def _built(self, kwargs: dict[str, Any]) -> tuple[Any, str]:
        registry, _, _ = _modules()
        instruction = registry.INSTRUCTION_DICT[self.instruction_id](self.instruction_id)
        try:
            text = instruction.build_description(**official_kwargs(kwargs))
        except TypeError as err:  # an unexpected kwarg name
            raise ValueError(f"{self.instruction_id}: {err}") from None
        return instruction, text

    def describe(self, kwargs: dict[str, Any]) -> str:
        """The official instruction text (build_description) for these kwargs."""
        with _LOCK:
            return self._built(kwargs)[1]

    def sample_kwargs(
        self, rng: random.Random, prompt: str | None, given: dict[str, Any] | None = None
    ) -> dict:
        """Every kwarg, drawn by the official code from `rng` where `given` leaves it open."""
        given = dict(given or {})
        if "prompt_to_repeat" in self.kwarg_names and "prompt_to_repeat" not in given:
            if not prompt or not prompt.strip():
                raise ValueError(
                    f"{self.instruction_id} repeats the request: complete_spec needs prompt_text"
                )
            given["prompt_to_repeat"] = prompt
        with random_source(rng):
            instruction, _ = self._built(given)
            args = instruction.get_instruction_args() or {}
        return {**args, **given}

    def draws_at_random(self, kwargs: dict[str, Any]) -> bool:
        """Whether the official code would replace or fill a kwarg with a random draw."""
        with random_source(_Refuse()):
            try:
                self._built(kwargs)
            except RandomDraw:
                return True
        return False

    def check(self, response: str, kwargs: dict[str, Any]) -> bool:
        """The official strict verdict of check_following on this response (a fresh instance per
        call: some checkers change their own state while checking)."""
        with _LOCK:
            instruction, _ = self._built(kwargs)
            return bool(instruction.check_following(response))


@cache
def load() -> dict[str, IFEvalInstruction]:
    """All 25 IFEval instructions by official id; kwarg names read from build_description."""
    registry, _, _ = _modules()
    out = {}
    for instruction_id, cls in registry.INSTRUCTION_DICT.items():
        params = inspect.signature(cls.build_description).parameters
        names = tuple(
            n
            for n, p in params.items()
            if n != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        out[instruction_id] = IFEvalInstruction(instruction_id, names)
    return out
