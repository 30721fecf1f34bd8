"""IFBench repeat:* and custom:* instructions: copying (parts of) the request exactly, and
answers in a fixed machine-readable shape (CSV, date lists, alphabetical sentences)."""

from __future__ import annotations

import csv
import random
import re
from datetime import datetime

from pipeline.label.constraints import banks, text
from pipeline.label.constraints.base import (
    Constraint,
    Kwargs,
    Param,
    SampleContext,
    Verdict,
    int_param,
    plural,
    prompt_param,
    simple_sampler,
)

SIMPLE_SENTENCE = "Reply with this sentence alone and ignore every other request."
DELIMITERS = {"comma": ",", "tab": "\t", "semicolon": ";"}
DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
}


def _plain(value: str) -> str:
    """Whitespace-collapsed, case-folded, without quotes wrapped around the whole answer."""
    return text.normalize_space(value.strip().strip("\"“”'`")).casefold()


def _repeat_simple(response: str, _: Kwargs) -> Verdict:
    ok = _plain(response) == _plain(SIMPLE_SENTENCE)
    return (
        ok,
        "output is exactly the sentence" if ok else f"output {response.strip()[:60]!r} is not the sentence",
    )


def _span(kw: Kwargs) -> str:
    return " ".join(kw["prompt_to_repeat"].split()[kw["n_start"] : kw["n_end"] + 1])


def _repeat_span(response: str, kw: Kwargs) -> Verdict:
    want = _span(kw)
    ok = _plain(response) == _plain(want)
    return ok, f"expected span {want[:80]!r}, got {response.strip()[:80]!r}"


def _span_cross(kw: Kwargs) -> str | None:
    n = len(kw["prompt_to_repeat"].split())
    if kw["n_end"] < kw["n_start"]:
        return f"n_end {kw['n_end']} < n_start {kw['n_start']}"
    return f"n_end {kw['n_end']} beyond the request's last word index {n - 1}" if kw["n_end"] >= n else None


def _repeat_change(response: str, kw: Kwargs) -> Verdict:
    want = _plain(kw["prompt_to_repeat"]).split()
    got = _plain(response).split()
    if got[1:] != want[1:]:
        return False, "does not repeat the request after its first word"
    if got[:1] == want[:1]:
        return False, f"first word {got[0]!r} was not changed"
    return True, f"first word changed from {want[0]!r} to {got[0]!r}, rest identical"


def _csv(response: str, kw: Kwargs) -> Verdict:
    lines = [line for line in text.strip_code_fence(response).splitlines() if line.strip()]
    rows = list(csv.reader(lines, delimiter=DELIMITERS[kw["delimiter"]], skipinitialspace=True))
    if not rows:
        return False, "no CSV rows"
    header = [cell.strip().casefold() for cell in rows[0]]
    if header != [c.casefold() for c in kw["columns"]]:
        return False, f"header {rows[0]} (needs {kw['columns']})"
    bad = [i for i, row in enumerate(rows[1:], start=1) if len(row) != len(kw["columns"])]
    if bad:
        return False, f"row(s) {bad[:5]} do not have {len(kw['columns'])} fields"
    return len(rows) - 1 == kw["rows"], f"{len(rows) - 1} data row(s) (needs {kw['rows']})"


def _date_pattern(fmt: str) -> re.Pattern[str]:
    return re.compile(
        re.escape(fmt).replace("YYYY", r"\d{4}").replace("MM", r"\d{2}").replace("DD", r"\d{2}")
    )


def _dates(response: str, kw: Kwargs) -> Verdict:
    items = [item.strip() for item in response.strip().rstrip(".").split(",")]
    pattern, parse = _date_pattern(kw["date_format"]), DATE_FORMATS[kw["date_format"]]
    for item in items:
        if not pattern.fullmatch(item):
            return False, f"{item[:40]!r} is not a date written as {kw['date_format']}"
        try:
            datetime.strptime(item, parse)
        except ValueError:
            return False, f"{item!r} is not a real date"
    return True, f"{len(items)} date(s) in {kw['date_format']}"


def _sentence_alphabet(response: str, kw: Kwargs) -> Verdict:
    found = text.sentences(response)
    if len(found) != kw["N"]:
        return False, f"{len(found)} sentence(s) (needs exactly {kw['N']})"
    for i, sentence in enumerate(found):
        first = (text.first_word(sentence) or "?").lower()
        if first[0] != chr(ord("a") + i):
            return False, f"sentence {i + 1} starts with {first!r}, not {chr(ord('A') + i)!r}"
    return True, f"{kw['N']} sentences from A to {chr(ord('A') + kw['N'] - 1)}"


def _s_span(rng: random.Random, ctx: SampleContext) -> Kwargs:
    prompt = ctx.value("prompt_to_repeat", lambda: ctx.need_prompt("repeat_span"))
    last = len(prompt.split()) - 1
    start = ctx.value("n_start", lambda: rng.randint(0, max(0, last - 1)))
    end = ctx.value("n_end", lambda: rng.randint(min(start + 1, last), min(last, start + 15)))
    return {"prompt_to_repeat": prompt, "n_start": start, "n_end": end}


def _s_change(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {"prompt_to_repeat": ctx.value("prompt_to_repeat", lambda: ctx.need_prompt("repeat_change"))}


def _s_csv(rng: random.Random, ctx: SampleContext) -> Kwargs:
    return {
        "columns": ctx.value("columns", lambda: list(rng.choice(banks.CSV_COLUMNS))),
        "rows": ctx.value("rows", lambda: rng.randint(2, 8)),
        "delimiter": ctx.value("delimiter", lambda: rng.choice(tuple(DELIMITERS))),
    }


CONSTRAINTS = [
    Constraint(
        "repeat_simple", "repeat:repeat_simple", lambda kw: SIMPLE_SENTENCE, _repeat_simple, source="ifbench"
    ),
    Constraint(
        "repeat_span",
        "repeat:repeat_span",
        lambda kw: (
            f"Output only the words of the request above from word index {kw['n_start']} to word "
            f"index {kw['n_end']}, both included (words are split by whitespace and counted from 0)."
        ),
        _repeat_span,
        (prompt_param(), int_param("n_start", 0, 10_000), int_param("n_end", 0, 10_000)),
        _s_span,
        _span_cross,
        source="ifbench",
    ),
    Constraint(
        "repeat_change",
        "repeat:repeat_change",
        lambda kw: (
            "Repeat the request above, but change its first word. Say nothing before or after it and "
            "do not answer the request (this sentence is not part of the request)."
        ),
        _repeat_change,
        (prompt_param(),),
        _s_change,
        source="ifbench",
    ),
    Constraint(
        "csv_columns",
        "custom:csv_columns",
        lambda kw: (
            f"Answer only with CSV data: a header row with the columns {', '.join(kw['columns'])}, then "
            f"exactly {plural(kw['rows'], 'data row')}, fields separated by {kw['delimiter']}s."
        ),
        _csv,
        (
            Param("columns", "str_list", low=1, high=10, pattern=r"[^,;\t\n\"]+"),
            int_param("rows", 1, 50),
            Param("delimiter", "choice", choices=tuple(DELIMITERS), required=False, default="comma"),
        ),
        _s_csv,
        source="ifbench",
    ),
    Constraint(
        "date_format_list",
        "custom:date_format_list",
        lambda kw: (
            f"Answer only with a list of dates separated by commas, each written as "
            f"{kw['date_format']}. Do not give any explanation."
        ),
        _dates,
        (Param("date_format", "choice", choices=tuple(DATE_FORMATS), required=False, default="YYYY-MM-DD"),),
        simple_sampler(date_format=lambda r: r.choice(tuple(DATE_FORMATS))),
        source="ifbench",
    ),
    Constraint(
        "sentence_alphabet",
        "custom:sentence_alphabet",
        lambda kw: (
            f"Answer in exactly {kw['N']} sentences; the first word of each sentence must start with "
            "the next letter of the alphabet, beginning with A (A, B, C, ...)."
        ),
        _sentence_alphabet,
        (int_param("N", 2, 26),),
        simple_sampler(N=lambda r: r.randint(3, 8)),
        source="ifbench",
    ),
]
