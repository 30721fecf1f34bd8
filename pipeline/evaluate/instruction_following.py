"""Score responses the way IFEval and IFBench report them: prompt- and instruction-level accuracy,
strict and loose, plus accuracy per instruction id.

This is how a user audits our Precise IF labeler on their own data: the verdicts are the facade's
(official checkers; loose as the official evaluation defines it), the figures are the official ones
(a prompt counts when all its instructions pass). Input: one JSONL file with `instruction_id_list`,
`kwargs` and `response` per row, or the official split — an input file (`key`, `prompt`,
`instruction_id_list`, `kwargs`) and a responses file (`prompt`, `response`) paired by prompt.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.label import ifeval, verdicts
from pipeline.label.instructions import official_constraint


class ScoringError(ValueError):
    """The input cannot be scored: bad rows, unknown ids, an instruction that cannot run here."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (.jsonl or .jsonl.gz); a byte-order mark is tolerated."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ScoringError(f"{path}:{number}: not JSON: {err}") from None
    return rows


def pair_by_prompt(inputs: list[dict], responses: list[dict]) -> tuple[list[dict], list[str]]:
    """Join each input with its response by prompt (exact, then stripped, as IFBench's evaluation
    does). Inputs left over take the responses left over in file order (a prompt reworded after the
    responses were made), and are named in the notes; an input with none left gets an empty
    response (it fails every instruction, as in the official evaluation)."""
    by_prompt: dict[str, int] = {}
    for index, row in enumerate(responses):
        for key in (row["prompt"], row["prompt"].strip()):
            by_prompt.setdefault(key, index)
    used: set[int] = set()
    joined: list[dict | None] = []
    for row in inputs:
        index = by_prompt.get(row["prompt"], by_prompt.get(row["prompt"].strip()))
        joined.append(
            None if index is None or index in used else {**row, "response": responses[index]["response"]}
        )
        if index is not None:
            used.add(index)
    spare = iter(i for i in range(len(responses)) if i not in used)
    notes, out = [], []
    for row, pair in zip(inputs, joined):
        if pair is None:
            index = next(spare, None)
            name = row.get("key", row["prompt"][:40])
            if index is None:
                notes.append(f"no response for prompt {name}: scored as an empty response")
                pair = {**row, "response": ""}
            else:
                notes.append(
                    f"prompt {name} has no exact match: paired with the leftover response on line {index + 1}"
                )
                pair = {**row, "response": responses[index]["response"]}
        out.append(pair)
    return out, notes


@dataclass
class Report:
    prompts: int = 0
    prompt_strict: int = 0
    prompt_loose: int = 0
    per_instruction: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    notes: list[str] = field(default_factory=list)

    def _total(self, column: int) -> int:
        return sum(v[column] for v in self.per_instruction.values())

    def figures(self) -> dict[str, float]:
        """The four IFEval figures, in percent."""
        n = self._total(0) or 1
        p = self.prompts or 1
        return {"prompt_level_strict": 100 * self.prompt_strict / p, "instruction_level_strict": 100 * self._total(1) / n,
                "prompt_level_loose": 100 * self.prompt_loose / p, "instruction_level_loose": 100 * self._total(2) / n}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        per = {
            i: {"n": n, "strict": 100 * s / n, "loose": 100 * lo / n}
            for i, (n, s, lo) in sorted(self.per_instruction.items())
        }
        return {"prompts": self.prompts, "instructions": self._total(0), **self.figures(), "per_instruction": per,
                "notes": self.notes}  # fmt: skip


def _row_fields(row: dict[str, Any], number: int) -> tuple[list[str], list[dict], str]:
    try:
        ids, kwargs, response = row["instruction_id_list"], row["kwargs"], row["response"]
    except KeyError as err:
        raise ScoringError(f"row {number}: missing field {err}") from None
    if not isinstance(response, str) or len(ids) != len(kwargs):
        raise ScoringError(f"row {number}: response must be a string and kwargs one dict per instruction id")
    return ids, kwargs, response


def score_rows(rows: list[dict[str, Any]], seed: int = 0) -> Report:
    """Official verdicts of every instruction of every row. Where the official IFEval code draws a
    kwarg at random (a letter it refuses, such as '#'), it draws from random.Random(seed)."""
    report = Report()
    with ifeval.random_source(random.Random(seed)):
        for number, row in enumerate(rows, start=1):
            ids, kwargs_list, response = _row_fields(row, number)
            strict_all = loose_all = True
            for instruction_id, kwargs in zip(ids, kwargs_list):
                try:
                    constraint = official_constraint(instruction_id)
                except ValueError as err:
                    raise ScoringError(f"row {number}: {err}") from None
                kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}
                drawn = getattr(constraint.instruction, "draws_at_random", None)
                if drawn is not None and drawn(kwargs):
                    report.notes.append(f"row {number} ({row.get('key', '-')}): {instruction_id} {kwargs}: the official "
                                        f"code draws a kwarg at random (seed {seed})")  # fmt: skip
                try:
                    check = constraint.instruction.check
                    verdict = verdicts.judge(lambda text, c=check, k=kwargs: c(text, k), response)
                except Exception as err:
                    raise ScoringError(
                        f"row {number}: {instruction_id} cannot be checked here: {err}"
                    ) from err
                counts = report.per_instruction[instruction_id]
                counts[0] += 1
                counts[1] += verdict.strict
                counts[2] += verdict.loose
                strict_all &= verdict.strict
                loose_all &= verdict.loose
            report.prompts += 1
            report.prompt_strict += strict_all
            report.prompt_loose += loose_all
    return report


def score_files(responses: Path, inputs: Path | None = None, seed: int = 0) -> Report:
    """Score one file of rows with responses, or an official input file with a responses file."""
    rows = read_jsonl(responses)
    notes: list[str] = []
    if inputs is not None:
        if any("prompt" not in r or "response" not in r for r in rows):
            raise ScoringError(
                f"{responses}: every row needs 'prompt' and 'response' to be paired with {inputs}"
            )
        rows, notes = pair_by_prompt(read_jsonl(inputs), rows)
    report = score_rows(rows, seed)
    report.notes[:0] = notes
    return report


def format_report(report: Report) -> str:
    """The four figures, then accuracy per instruction id."""
    names = {"prompt_level_strict": "prompt-level strict", "instruction_level_strict": "instruction-level strict",
             "prompt_level_loose": "prompt-level loose", "instruction_level_loose": "instruction-level loose"}  # fmt: skip
    lines = [f"{report.prompts} prompts, {report._total(0)} instructions"]
    lines += [f"{names[k]:<26}{v:6.2f}" for k, v in report.figures().items()]
    width = max([len(i) for i in report.per_instruction] + [len("instruction")])
    lines += ["", f"{'instruction':<{width}}  {'n':>4}  {'strict':>6}  {'loose':>6}"]
    for instruction_id, (n, strict, loose) in sorted(report.per_instruction.items()):
        lines.append(f"{instruction_id:<{width}}  {n:>4}  {100 * strict / n:6.1f}  {100 * loose / n:6.1f}")
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)
