"""Our IFBench checkers give the official verdicts and texts (allenai/IFBench at db69a6f).

Verdicts and texts in tests/data/ifbench/ were produced by the unmodified official code outside
this repository (see tests/data/ifbench/README.md): IFBench's own sample responses (334 lines) and
our boundary cases (responses edited to sit at each checker's edges, in 7 dressings). Strict is
`INSTRUCTIONS[id].check`; loose is the facade's official loose evaluation (pipeline.label.verdicts).

`words:start_verb` needs NLTK's perceptron tagger, which no PyPI package ships: with the tagger on
NLTK's path its rows must agree; without it, each must raise TaggerUnavailable (never guess).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.label.ifbench.registry import INSTRUCTIONS, TaggerUnavailable, tagger_available
from pipeline.label.verdicts import judge

DATA = Path(__file__).parent / "data" / "ifbench"
TAGGER_IDS = {"words:start_verb"}


def _rows(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


REFERENCE = _rows("ifbench_own.jsonl")
BOUNDARY = _rows("boundary.jsonl")
DESCRIPTIONS = {(r["key"], r["idx"]): r for r in _rows("ifbench_own_descriptions.jsonl")}


def _ours(row: dict) -> tuple[bool, bool]:
    inst = INSTRUCTIONS[row["instruction_id"]]
    verdict = judge(lambda response: inst.check(response, row["kwargs"]), row["response"])
    return verdict.strict, verdict.loose


def _disagreements(rows: list[dict]) -> tuple[list[str], int]:
    """Rows where our (strict, loose) differ from the official ones, and how many rows were compared.
    A mode in which the official evaluation raised (official_error) is not compared, except that
    our strict verdict must then be False."""
    wrong, compared = [], 0
    tagger = tagger_available()
    for row in rows:
        tag = f"{row['instruction_id']} {row.get('key', row.get('case'))} {row.get('dressing', '')}"
        if row["instruction_id"] in TAGGER_IDS and not tagger:
            with pytest.raises(TaggerUnavailable):
                _ours(row)
            continue
        strict, loose = _ours(row)
        compared += 1
        official = (row["official_strict"], row["official_loose"])
        if official[0] is None:
            if strict:
                wrong.append(f"{tag}: official check raised, ours passed")
            continue
        if strict != official[0] or (official[1] is not None and loose != official[1]):
            wrong.append(f"{tag}: ours {(strict, loose)} official {official}: {row['response'][:80]!r}")
    return wrong, compared


def test_reference_verdicts_agree_100_percent():
    wrong, compared = _disagreements(REFERENCE)
    assert len(REFERENCE) == 334 and compared >= 328
    assert not wrong, "\n".join(wrong)


def test_boundary_verdicts_agree_100_percent():
    wrong, compared = _disagreements(BOUNDARY)
    assert compared >= len(BOUNDARY) - 7 * 16  # all but the start_verb rows when there is no tagger
    assert not wrong, "\n".join(wrong[:40])


def test_boundary_set_covers_every_official_id_with_both_verdicts():
    ids = {r["instruction_id"] for r in BOUNDARY}
    assert ids == set(INSTRUCTIONS) and len(ids) == 58
    for iid in ids:
        verdicts = {r["official_strict"] for r in BOUNDARY if r["instruction_id"] == iid}
        assert {True, False} <= verdicts, f"{iid}: boundary cases only on one side"


def test_the_official_crash_counts_as_a_failure():
    crashed = [r for r in BOUNDARY if r["official_strict"] is None]
    assert crashed, "the boundary set keeps the case where the official check raises"
    for row in crashed:
        assert INSTRUCTIONS[row["instruction_id"]].check(row["response"], row["kwargs"]) is False


def test_describe_gives_the_official_text_on_every_reference_line():
    assert len(DESCRIPTIONS) == len(REFERENCE)
    for row in REFERENCE:
        official = DESCRIPTIONS[(row["key"], row["idx"])]["official_description"]
        assert INSTRUCTIONS[row["instruction_id"]].describe(row["kwargs"]) == official, row["instruction_id"]


def test_describe_gives_the_official_text_on_boundary_kwargs():
    for row in BOUNDARY:
        assert INSTRUCTIONS[row["instruction_id"]].describe(row["kwargs"]) == row["official_description"]


def test_kwarg_names_are_the_official_ones():
    seen: dict[str, set[str]] = {}
    for row in REFERENCE + BOUNDARY:
        seen.setdefault(row["instruction_id"], set()).update(row["kwargs"])
    for iid, inst in INSTRUCTIONS.items():
        assert inst.instruction_id == iid
        assert set(inst.kwarg_names) == seen.get(iid, set()), iid
