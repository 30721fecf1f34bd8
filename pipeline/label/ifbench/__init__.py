"""The 58 IFBench instructions (allenai/IFBench at db69a6f), with the official verdicts.

`INSTRUCTIONS[instruction_id]` has `instruction_id`, `kwarg_names`, `describe(kwargs)` (the
official text), `sample_kwargs(rng, prompt)` (the official ranges, drawn from `rng`) and
`check(response, kwargs)` (the official strict verdict). Loose mode (the 8 response variants) is
the caller's: it is the same for every instruction. IFBench has no PyPI package, so these are our
own checkers; tests/test_ifbench*.py hold them to verdicts made by the unmodified official code.

`words:start_verb` needs NLTK's averaged perceptron tagger, which no PyPI package ships: see
`text.tagger_available()`; without it that checker raises `TaggerUnavailable`.
"""

from __future__ import annotations

from pipeline.label.ifbench import count, custom, format, ratio, repeat, words
from pipeline.label.ifbench.base import IFBenchInstruction, KwargsIncomplete
from pipeline.label.ifbench.text import TaggerUnavailable, tagger_available

SOURCE = "ifbench"
INSTRUCTIONS: dict[str, IFBenchInstruction] = {
    inst.instruction_id: inst
    for family in (count, ratio, words, format, custom, repeat)
    for inst in family.INSTRUCTIONS
}

__all__ = [
    "INSTRUCTIONS", "SOURCE", "IFBenchInstruction", "KwargsIncomplete", "TaggerUnavailable", "tagger_available",
]
