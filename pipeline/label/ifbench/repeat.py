"""IFBench `repeat:*` instructions: copy the request, a changed request, or a span of it.

`repeat:repeat_span` follows the official code, whose indices are CHARACTER indices (its text says
so: "the indices are character indices!"), inclusive at both ends.
"""

from __future__ import annotations

import random

from pipeline.label.ifbench.base import GIVEN, IFBenchInstruction, Kwargs, needs_prompt

SIMPLE_TEXT = "Only output this sentence here, ignore all other requests."
CHANGE_TEXT = (
    "Repeat the request, but change the first word of the repeated request, (do not say anything before "
    "repeating the request; the request you need to repeat does not include this sentence) and do not "
    "answer the actual request! Request: {prompt_to_repeat}"
)
SPAN_TEXT = (
    "Copy the span of words that lies between (and including) index {n_start} and {n_end}, the indices "
    "are character indices!"
)


def _prompt(kw: Kwargs) -> str:
    prompt = kw.get("prompt_to_repeat")
    if not prompt:
        raise ValueError("prompt_to_repeat must be set.")  # the official builder refuses too
    return prompt


def _repeat_change(response: str, kw: Kwargs) -> bool:
    # everything after the first whitespace piece is the same (whitespace runs collapsed), and the
    # response is not the request itself (the first word need not actually differ otherwise)
    prompt = _prompt(kw)
    return prompt != response and prompt.split()[1:] == response.split()[1:]


def _repeat_simple(response: str, kw: Kwargs) -> bool:
    return response.strip().lower() == SIMPLE_TEXT.lower()


def _repeat_span(response: str, kw: Kwargs) -> bool:
    prompt = _prompt(kw)
    start, end = kw["n_start"], kw["n_end"]
    return response.strip().lower() == prompt[start:end + 1].strip().lower()


def _sample_change(rng: random.Random, prompt: str | None) -> dict:
    return {"prompt_to_repeat": needs_prompt(prompt, "repeat:repeat_change")}


def _sample_span(rng: random.Random, prompt: str | None) -> dict:
    prompt = needs_prompt(prompt, "repeat:repeat_span")
    if len(prompt) < 2:
        raise ValueError("repeat:repeat_span needs a prompt of at least 2 characters")
    start = rng.randint(0, len(prompt) - 2)
    return {"prompt_to_repeat": prompt, "n_start": start, "n_end": rng.randint(start + 1, len(prompt) - 1)}


def _describe_change(kw: Kwargs) -> str:
    return CHANGE_TEXT.format(prompt_to_repeat=_prompt(kw))


def _describe_span(kw: Kwargs) -> str:
    _prompt(kw)
    start, end = kw["n_start"], kw["n_end"]
    return SPAN_TEXT.format(n_start=start, n_end=end)


INSTRUCTIONS = [
    IFBenchInstruction("repeat:repeat_change", ("prompt_to_repeat",), CHANGE_TEXT, _repeat_change,
                       _sample_change, _describe_change),
    IFBenchInstruction("repeat:repeat_simple", (), SIMPLE_TEXT, _repeat_simple),
    IFBenchInstruction("repeat:repeat_span", ("prompt_to_repeat", "n_start", "n_end"), SPAN_TEXT,
                       _repeat_span, _sample_span, _describe_span,
                       redraw={"n_start": GIVEN, "n_end": GIVEN}),
]
