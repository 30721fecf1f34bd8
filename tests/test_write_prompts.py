"""The prompts table written column by column is the table the row-dict path wrote."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from pipeline.core.io import records_frame
from pipeline.core.records import PROMPT_SCHEMA, Prompt
from pipeline.stages.context import load_prompts_at, prompts_frame


def _prompts() -> list[Prompt]:
    return [
        Prompt("a1", "What is 2+2?", "src", "1", 1, "math", {"subset": "math", "tags": ["x", 1], "n": None}),
        Prompt("b2", "Write a haiku.", "src", "2", 2, None, {}),
        Prompt("c3", "Ünïcode ✓", "other", "id-3", 7, "chat", {"z": 1, "a": {"nested": True}}),
    ]


def test_the_columnar_prompts_table_is_the_row_dict_one(tmp_path: Path) -> None:
    prompts = _prompts()
    rows = [{**asdict(p), "metadata": json.dumps(p.metadata, sort_keys=True, default=str)} for p in prompts]
    old, new = records_frame(rows, PROMPT_SCHEMA), prompts_frame(prompts)
    assert new.equals(old) and new.schema == old.schema
    old.write_parquet(tmp_path / "old.parquet")
    new.write_parquet(tmp_path / "new.parquet")
    assert (tmp_path / "old.parquet").read_bytes() == (tmp_path / "new.parquet").read_bytes()  # same fingerprint
    assert load_prompts_at(tmp_path / "new.parquet") == prompts
    empty = prompts_frame([])
    assert empty.height == 0 and empty.schema == old.schema
