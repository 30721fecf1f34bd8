"""The base of every config model: unknown keys are errors, values are frozen."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def unique_names(names: list[str], message: str, value: Any) -> Any:
    """`value` when `names` has no repeats; otherwise a ValueError naming them."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{message}: {', '.join(repeated)}")
    return value
