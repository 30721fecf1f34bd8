"""Registry of verifiable instruction constraints (IFEval, IFBench and the original basic ones).

Each module lists its constraints; this package joins them into one registry keyed by the
short `type` name and refuses duplicates, so a type or a misspelt id cannot silently shadow
another.
"""

from __future__ import annotations

from pipeline.label.constraints import (
    basic,
    ifbench_count,
    ifbench_custom,
    ifbench_format,
    ifbench_words,
    ifeval_content,
    ifeval_format,
    ifeval_length,
)
from pipeline.label.constraints.base import Constraint, Kwargs, Param, SampleContext, Verdict

__all__ = ["Constraint", "Kwargs", "Param", "SampleContext", "Verdict", "build_registry"]

_MODULES = (
    basic,
    ifeval_content,
    ifeval_length,
    ifeval_format,
    ifbench_count,
    ifbench_words,
    ifbench_format,
    ifbench_custom,
)


def build_registry() -> dict[str, Constraint]:
    registry: dict[str, Constraint] = {}
    for module in _MODULES:
        for constraint in module.CONSTRAINTS:
            if constraint.type in registry:
                raise RuntimeError(f"duplicate constraint type {constraint.type!r}")
            registry[constraint.type] = constraint
    return registry
