"""Eval-set items: the texts a prompt must not leak from, each with a stable id for evidence."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.locations import EvalSetConfig
from pipeline.core.sources import SourceError, read_location

TEXT_FIELDS = ("text", "prompt", "question", "problem", "instruction", "input")
BUNDLED_REGISTRY = "data/evalsets/registry.tsv"  # the offline copies shipped in this repository


@dataclass(frozen=True)
class EvalItem:
    eval_set: str
    item_id: str
    text: str


def bundled_specs(root: Path) -> list[str]:
    """`NAME=PATH` for every eval set bundled under data/evalsets (paths relative to `root`)."""
    with (root / BUNDLED_REGISTRY).open(newline="") as handle:
        return [f"{row['name']}={row['path']}" for row in csv.DictReader(handle, delimiter="\t")]


def _text_field(eval_set: EvalSetConfig, first: dict[str, Any]) -> str:
    if eval_set.text_field:
        return eval_set.text_field
    found = next((f for f in TEXT_FIELDS if isinstance(first.get(f), (str, list))), None)
    if found is None:
        raise SourceError(
            f"eval set {eval_set.name!r} ({eval_set.describe()}): no text field given and none of "
            f"{', '.join(TEXT_FIELDS)} found; use NAME=PATH:FIELD (fields: {', '.join(first)})"
        )
    return found


def load_eval_items(eval_set: EvalSetConfig, base_dir: Path) -> list[EvalItem]:
    """Every usable text of one eval set. A list-valued field (multi-turn prompts) gives one item
    per turn; rows without text cannot leak anything and are skipped."""
    items: list[EvalItem] = []
    field: str | None = None
    for row in read_location(eval_set, base_dir):
        data = row.data or {}
        if not data:
            continue
        field = field or _text_field(eval_set, data)
        id_field = eval_set.id_field or ("id" if "id" in data else None)
        base_id = str(data[id_field]) if id_field and data.get(id_field) is not None else str(row.line)
        value = data.get(field)
        texts = value if isinstance(value, list) else [value]
        for turn, text in enumerate(texts, start=1):
            if isinstance(text, str) and text.strip():
                items.append(EvalItem(eval_set.name, base_id if len(texts) == 1 else f"{base_id}/{turn}", text))
    if not items:
        raise SourceError(f"eval set {eval_set.name!r} ({eval_set.describe()}): no rows with text in {field!r}")
    return items
