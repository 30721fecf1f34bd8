"""Score responses the way IFEval and IFBench report them: prompt- and instruction-level accuracy,
strict and loose, plus accuracy per instruction id.

This is how a user audits our Precise IF labeler on their own data: the verdicts are the facade's
(official checkers; loose as the official evaluation defines it), the figures are the official ones
(a prompt counts when all its instructions pass). Input: one JSONL file with `instruction_id_list`,
`kwargs` and `response` per row, or the official split — an input file (`key`, `prompt`,
`instruction_id_list`, `kwargs`) and a responses file (`prompt`, `response`) paired by prompt.
"""

from __future__ import annotations

import difflib
import gzip
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.label import ifeval, verdicts
from pipeline.label.instructions import official_constraint, unavailable

EDITED_RATIO = 0.8  # prompts this alike on the same line are one prompt reworded, not two prompts


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
    does). An input with no match takes the response on the same line if that response matched no
    input and its prompt is nearly the same (a prompt edited in place after the responses were made,
    like IFEval's key 2785; lm-eval pairs by position); else it gets an empty response, which fails
    every instruction as in IFBench's evaluation. Both fallbacks are named in the notes."""
    by_prompt: dict[str, int] = {}
    for index, row in enumerate(responses):
        for key in (row["prompt"], row["prompt"].strip()):
            by_prompt[key] = index  # a repeated prompt: the last response wins, as in the official dict
    found = [by_prompt.get(row["prompt"], by_prompt.get(row["prompt"].strip())) for row in inputs]
    matched = {i for i in found if i is not None}
    notes, out = [], []
    for line, (row, index) in enumerate(zip(inputs, found)):
        name = row.get("key", line + 1)
        if index is None and line < len(responses) and line not in matched and _edited(row, responses[line]):
            index = line
            notes.append(f"prompt {name} has no exact match: paired with the response on the same line ({line + 1}), "
                         "whose prompt is nearly the same and matches no input")  # fmt: skip
        elif index is None:
            notes.append(f"no response for prompt {name}: scored as an empty response")
        out.append({**row, "response": "" if index is None else responses[index]["response"]})
    return out, notes


def _edited(row: dict, response: dict) -> bool:
    """Whether two prompts are one prompt edited in place (at least 80% alike)."""
    return (
        difflib.SequenceMatcher(None, row["prompt"], response["prompt"], autojunk=False).ratio()
        >= EDITED_RATIO
    )


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


def _verdicts(
    row: dict[str, Any], number: int, seed: int, notes: list[str]
) -> list[tuple[str, verdicts.Verdict]]:
    """(instruction id, official verdict) for each instruction of one row."""
    ids, kwargs_list, response = _row_fields(row, number)
    out = []
    for instruction_id, kwargs in zip(ids, kwargs_list):
        try:
            constraint = official_constraint(instruction_id)
        except ValueError as err:
            raise ScoringError(f"row {number}: {err}") from None
        kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}  # as both official evaluations
        drawn = getattr(constraint.instruction, "draws_at_random", None)
        if drawn is not None and drawn(kwargs):
            notes.append(f"row {number} ({row.get('key', '-')}): {instruction_id} {kwargs}: the official code "
                         f"draws a kwarg at random (seed {seed})")  # fmt: skip
        check = constraint.instruction.check
        try:
            verdict = verdicts.judge(lambda text, c=check, k=kwargs: c(text, k), response)
        except Exception as err:
            raise ScoringError(f"row {number}: {instruction_id} cannot be checked: {err}") from err
        out.append((instruction_id, verdict))
    return out


def score_rows(rows: list[dict[str, Any]], seed: int = 0) -> Report:
    """Official verdicts of every instruction of every row. Where the official IFEval code draws a
    kwarg at random (a letter it refuses, such as '#'), it draws from random.Random(seed). A row with
    an instruction that cannot be checked on this machine is left out of every figure, and named."""
    report = Report()
    skipped: dict[str, int] = defaultdict(int)
    with ifeval.random_source(random.Random(seed)):
        for number, row in enumerate(rows, start=1):
            missing = [i for i in row.get("instruction_id_list", []) if i in unavailable()]
            if missing:
                for instruction_id in missing:
                    skipped[instruction_id] += 1
                continue
            results = _verdicts(row, number, seed, report.notes)
            for instruction_id, verdict in results:
                counts = report.per_instruction[instruction_id]
                counts[0] += 1
                counts[1] += verdict.strict
                counts[2] += verdict.loose
            report.prompts += 1
            report.prompt_strict += all(v.strict for _, v in results)
            report.prompt_loose += all(v.loose for _, v in results)
    for instruction_id, count in sorted(skipped.items()):
        report.notes.append(f"{count} prompt(s) with {instruction_id} left out of every figure: it cannot be "
                            f"checked here ({unavailable()[instruction_id]})")  # fmt: skip
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
        input_rows = read_jsonl(inputs)
        if any("prompt" not in r for r in input_rows):
            raise ScoringError(f"{inputs}: every row needs 'prompt', 'instruction_id_list' and 'kwargs'")
        rows, notes = pair_by_prompt(input_rows, rows)
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
