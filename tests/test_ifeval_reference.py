"""Our facade gives the official IFEval verdict, strict and loose, on every reference line.

tests/data/if_reference/ifeval_gpt4.jsonl.gz: GPT-4's responses to the 541 IFEval prompts, one line
per instruction (832), each with the verdict of the official checker (see the README beside it).
tests/data/ifeval_boundary.jsonl: responses of our own edited to sit at each boundary, with the
verdicts of the official code run apart from this repository (see tests/data/README_ifeval_boundary.md).
"""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.label.instructions import check_constraint

DATA = Path(__file__).parent / "data"


def _lines(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _disagreements(rows: list[dict]) -> list[tuple]:
    out = []
    for row in rows:
        result = check_constraint({"type": row["instruction_id"], **row["kwargs"]}, row["response"])
        got = (result.evidence["strict"], result.evidence["loose"])
        assert result.label == ("correct" if got[0] else "incorrect")
        if got != (row["official_strict"], row["official_loose"]):
            out.append((row.get("key"), row.get("idx"), row["instruction_id"], got))
    return out


def test_every_gpt4_line_agrees_with_the_official_ifeval_checker() -> None:
    rows = _lines(DATA / "if_reference" / "ifeval_gpt4.jsonl.gz")
    assert len(rows) == 832 and len({r["instruction_id"] for r in rows}) == 25
    # Both verdicts occur, in both modes, so agreement is not trivial.
    assert {r["official_strict"] for r in rows} == {r["official_loose"] for r in rows} == {True, False}
    assert any(r["official_loose"] and not r["official_strict"] for r in rows)
    assert _disagreements(rows) == []


def test_every_boundary_case_agrees_with_the_official_ifeval_checker() -> None:
    rows = _lines(DATA / "ifeval_boundary.jsonl")
    assert len({r["instruction_id"] for r in rows}) == 25
    assert _disagreements(rows) == []


@pytest.mark.parametrize(
    "language",
    sorted(
        {
            "ar",
            "bg",
            "bn",
            "de",
            "fa",
            "fi",
            "gu",
            "hi",
            "it",
            "kn",
            "ko",
            "mr",
            "ne",
            "pa",
            "pt",
            "ru",
            "sw",
            "ta",
            "te",
            "th",
            "ur",
            "vi",
        }
    ),
)
def test_every_official_language_is_accepted(language: str) -> None:
    spec = {"type": "language:response_language", "language": language}
    assert (
        check_constraint(spec, "A plain English answer that is long enough to detect.").label == "incorrect"
    )


def test_checks_from_many_threads_agree_too() -> None:
    """The label stage checks in Prefect's worker threads; the official IFEval code keeps state in
    module globals (its `random`, langdetect's factory), which the facade guards."""
    rows = _lines(DATA / "if_reference" / "ifeval_gpt4.jsonl.gz")[:240]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(len(d) for d in pool.map(lambda r: _disagreements([r]), rows)) == 0
