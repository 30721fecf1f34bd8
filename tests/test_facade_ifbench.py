"""Through the facade, IFBench's instructions give the official verdicts in BOTH modes.

The strict checkers are PART of pipeline.label.ifbench and tested there (tests/test_ifbench*.py); the
loose mode is the facade's (the same 8 variants as IFBench's evaluation_lib.py), so it is held here
to the official loose verdicts of IFBench's sample responses and of the IFBench boundary set
(tests/data/ifbench/, made by the unmodified official code; see the README there).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.label.instructions import REGISTRY, check_constraint, unavailable

DATA = Path(__file__).parent / "data" / "ifbench"


def _rows(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [r for r in rows if not r.get("official_error") and r["instruction_id"] not in unavailable()]


@pytest.mark.parametrize("name", ["ifbench_own.jsonl", "boundary.jsonl"])
def test_facade_agrees_with_official_ifbench_strict_and_loose(name: str) -> None:
    rows = _rows(name)
    assert len(rows) > 300 and any(r["official_loose"] and not r["official_strict"] for r in rows)
    wrong = []
    for row in rows:
        result = check_constraint({"type": row["instruction_id"], **row["kwargs"]}, row["response"])
        got = (result.evidence["strict"], result.evidence["loose"])
        if got != (row["official_strict"], row["official_loose"]):
            wrong.append((row.get("key", row.get("case")), row["instruction_id"], got))
    assert wrong == []


def test_every_ifbench_id_is_official_and_reachable() -> None:
    ids = {r["instruction_id"] for r in _rows("ifbench_own.jsonl")} | set(unavailable())
    assert ids <= set(REGISTRY) | set(unavailable())
    assert len({i for i in REGISTRY if REGISTRY[i].source == "ifbench"} | set(unavailable())) == 58
