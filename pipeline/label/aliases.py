"""Short config names and our own instructions.

A config's `type` may be an official id (`punctuation:no_comma`) or a short name. A short name whose
meaning is an official instruction is an alias: it maps its own kwargs onto the official id and the
official kwargs, so the checker, the instruction text and the recorded spec are the official ones
(`max_words: {n: 30}` is IFEval's "less than 31 words"). Every official id's last part is an alias
with the same kwargs (`no_comma`, `existence`, `word_count_range`). A meaning of our own lives only
under an id of our own (`rbbench:...`), never under an official one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OWN_PREFIX = "rbbench"
KEYWORDS = ("because", "example", "important", "however", "together", "future", "simple", "reason")


@dataclass(frozen=True)
class Alias:
    """A short name: its own kwargs, how they become the official ones, how to draw them."""

    name: str
    instruction_id: str
    kwarg_names: tuple[str, ...] = ()
    to_official: Callable[[dict[str, Any]], dict[str, Any]] = dict
    sample: Callable[[random.Random], dict[str, Any]] | None = None  # None: the official sampler


def _int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"kwarg {name!r} must be an int >= {low}, got {value!r}")
    return value


def _word(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"kwarg {name!r} must be a non-empty string, got {value!r}")
    return value


def _letter(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1 or not ("a" <= value.lower() <= "z"):
        raise ValueError(f"kwarg 'letter' must be one letter a-z, got {value!r}")
    return value.lower()


# Short names whose kwargs differ from the official ones (the demo config's original five).
CUSTOM_ALIASES = (
    # "At most n words" is IFEval's "less than n+1 words".
    Alias("max_words", "length_constraints:number_words", ("n",),
          lambda kw: {"num_words": _int("n", kw["n"]) + 1, "relation": "less than"},
          lambda rng: {"n": rng.choice((10, 20, 30, 50, 75, 100))}),
    # "Include the word w" is IFEval's keyword existence with one keyword.
    Alias("include_keyword", "keywords:existence", ("keyword",),
          lambda kw: {"keywords": [_word("keyword", kw["keyword"])]},
          lambda rng: {"keyword": rng.choice(KEYWORDS)}),
    # "Do not use the letter x" is IFEval's letter frequency "less than 1".
    Alias("no_letter", "keywords:letter_frequency", ("letter",),
          lambda kw: {"letter": _letter(kw["letter"]), "let_frequency": 1, "let_relation": "less than"},
          lambda rng: {"letter": rng.choice("abcdfghklmnpuwy")}),
)  # fmt: skip


def identity_aliases(official_ids: list[str]) -> list[Alias]:
    """`group:name` is also reachable as `name` with the official kwargs, where `name` is unique."""
    names = [i.split(":", 1)[1] for i in official_ids]
    return [Alias(n, i) for n, i in zip(names, official_ids) if names.count(n) == 1]


@dataclass(frozen=True)
class OwnLowercase:
    """rbbench:lowercase: no uppercase letter anywhere, in any language. IFEval's
    english_lowercase also requires English, so this meaning needs an id of its own."""

    instruction_id: str = f"{OWN_PREFIX}:lowercase"
    kwarg_names: tuple[str, ...] = ()
    source: str = OWN_PREFIX

    def describe(self, kwargs: dict[str, Any]) -> str:
        return "Your entire response must be in lowercase letters; no capital letters are allowed."

    def sample_kwargs(self, rng: random.Random, prompt: str | None) -> dict[str, Any]:
        return {}

    def check(self, response: str, kwargs: dict[str, Any]) -> bool:
        return not any(ch.isupper() for ch in response)


OWN_INSTRUCTIONS = (OwnLowercase(),)
OWN_ALIASES = tuple(Alias(i.instruction_id.split(":", 1)[1], i.instruction_id) for i in OWN_INSTRUCTIONS)
