"""The registry of the 58 IFBench instructions, joined from their family modules (see the package)."""

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
