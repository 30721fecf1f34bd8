"""Strict CSV: a malformed record is quarantined with its line number, never merged with the next.

Python's csv module in strict mode refuses what spreadsheets never write (text after a closing
quote, a quote left open to the end of the file). Measured on an unbalanced quote: pyarrow's
reader and the csv module's default mode both fold the following rows into one field silently;
polars refuses the whole file without saying where. So the reader here parses strictly and, at
a malformed record, quarantines the line it began on and starts again on the next line: the
rows after a stray quote come back as rows.

What no parser can tell apart: an opening quote that a later quote closes cleanly (`"a` on one
line, `b"` at the end of a later one) is a well-formed multi-line field. A multi-line record
with the wrong number of values is quarantined whole (with its line span), not re-read.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from itertools import islice
from typing import Iterator

from pipeline.core.textfile import RAW_EXCERPT

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass
class CsvRecord:
    line: int
    values: dict[str, str] | None
    problem: str | None = None
    raw: str = ""


class CsvHeaderError(ValueError):
    """The header line itself is malformed (the whole file's columns are unknown)."""


def _describe(exc: csv.Error) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return f"a field longer than {csv.field_size_limit():,} characters (a quote left open?)"
    if "expected after" in message:
        return f"malformed quoting: {message} (a stray or unbalanced quote)"
    if "unexpected end of data" in message:
        return "a quote opened here is never closed"
    return f"malformed CSV: {message}"


def _excerpt(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace").strip()[:RAW_EXCERPT]


def _header(lines: list[str]) -> tuple[list[str], int]:
    """Column names and the index of the first line after the header (blank lines before it skipped)."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            names = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            raise CsvHeaderError(f"header on line {index + 1}: {_describe(exc)}") from None
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise CsvHeaderError(f"header on line {index + 1} repeats column(s) {', '.join(map(repr, duplicated))}")
        return names, index + 1
    return [], len(lines)


def csv_records(text: str) -> Iterator[CsvRecord]:
    """Records of a CSV text, each with the line it starts on; a header-only or empty text gives none."""
    lines = _LINE.findall(text)
    names, start = _header(lines)
    while start < len(lines):
        reader = csv.reader(islice(lines, start, None), strict=True)
        before = 0  # lines this reader had consumed before the current record
        try:
            for values in reader:
                first, last = start + before + 1, start + reader.line_num
                before = reader.line_num
                if not values or (first == last and not lines[first - 1].strip()):
                    continue  # a blank (or whitespace-only) line is not a row
                yield _record(names, values, first, last, lines)
        except csv.Error as exc:
            bad = start + before  # index of the line the malformed record began on
            yield CsvRecord(bad + 1, None, _describe(exc), _excerpt(lines[bad]))
            start = bad + 1
            continue
        return


def _record(names: list[str], values: list[str], first: int, last: int, lines: list[str]) -> CsvRecord:
    if len(values) == len(names):
        return CsvRecord(first, dict(zip(names, values)))
    span = f"lines {first}-{last}: " if last > first else ""
    problem = f"{span}{len(values)} value{'s' * (len(values) != 1)} where the header has {len(names)} columns"
    return CsvRecord(first, None, problem, _excerpt("".join(lines[first - 1 : last])))
