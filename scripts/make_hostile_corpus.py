"""Write tests/data/hostile/: prompt files the way everyday tools and vendors really export them.

Each input row's prompt carries a unique tag such as `[H017]`, so a test can prove that no kept
prompt is made of two rows (it would carry two tags) and that every row is in the decision log.
`expected.json` says, per file, how many rows each decision should get and which lines are
quarantined for which reason (a substring of the problem). Run: python scripts/make_hostile_corpus.py
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "hostile"
TOPICS = ["a lighthouse keeper", "sourdough starters", "the moons of Jupiter", "tide pools", "a chess endgame",
          "municipal composting", "bicycle gears", "the history of zero", "desert frogs", "paper airplanes",
          "volcanic glass", "a night train", "beekeeping in winter", "knots for sailors", "old typewriters",
          "glacier lakes", "origami cranes", "a jazz standard", "salt marshes", "solar eclipses"]  # fmt: skip
_counter = iter(range(1, 1000))


def prompt() -> str:
    """A fresh, tagged prompt: one sentence, a unique tag, a topic that differs from its neighbours."""
    n = next(_counter)
    return f"[H{n:03d}] Write a short note about {TOPICS[n % len(TOPICS)]}, numbered {n}."


def plain() -> str:
    """A tagged prompt without commas, for lines written by hand (unquoted)."""
    return prompt().replace(",", "")


def row(id_: Any, text: Any = None) -> dict[str, Any]:
    return {"id": id_, "prompt": prompt() if text is None else text, "subset": "precise_if"}


def jsonl(rows: list[dict[str, Any]], newline: str = "\n") -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows)


def csv_line(*values: str) -> str:
    """One CSV record as a spreadsheet writes it: fields with a comma, quote or newline quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def build(out: Path) -> dict[str, dict[str, Any]]:
    """Write every file into `out`; return the expectations per file name."""
    files: dict[str, bytes] = {}
    expected: dict[str, dict[str, Any]] = {}

    def add(name: str, data: bytes, kept: int, quarantined: dict[int, str] | None = None, duplicate: int = 0,
            warning: str | None = None) -> None:  # fmt: skip
        files[name] = data
        quarantined = quarantined or {}
        expected[name] = {"kept": kept, "quarantined": {str(k): v for k, v in quarantined.items()},
                          "duplicate": duplicate, "read": kept + len(quarantined) + duplicate, "warning": warning}  # fmt: skip

    # A UTF-8 byte-order mark (Notepad, Excel "CSV UTF-8"): the first row is a row like any other,
    # and a later row reusing its id is a duplicate id.
    rows = [row("bom-1"), row("bom-2"), row("bom-1")]
    add("bom_utf8.jsonl", codecs.BOM_UTF8 + jsonl(rows).encode(), 2, {3: "duplicate id 'bom-1' (first at line 1)"})
    # UTF-16 and UTF-32 with their marks (PowerShell's Out-File, Excel "Unicode text").
    add("utf16le.jsonl", codecs.BOM_UTF16_LE + jsonl([row("u16-1", "[H900] Ünïcödé — naïve café prompt."),
                                                       row("u16-2")]).encode("utf-16-le"), 2)  # fmt: skip
    add("utf32be.jsonl", codecs.BOM_UTF32_BE + jsonl([row("u32-1"), row("u32-2")]).encode("utf-32-be"), 2)
    csv16 = csv_line("id", "prompt", "subset") + csv_line("c16-1", prompt(), "precise_if") + csv_line("c16-2", prompt(), "precise_if")
    add("utf16be.csv", codecs.BOM_UTF16_BE + csv16.encode("utf-16-be"), 2)
    # Mixed newline conventions: CRLF, LF and a lone CR (a file edited on Windows and on a Mac).
    mixed = (json.dumps(row("nl-1")) + "\r\n" + json.dumps(row("nl-2")) + "\n" + json.dumps(row("nl-3")) + "\r"
             + json.dumps(row("nl-4")) + "\n\n   \n")  # fmt: skip
    add("mixed_newlines.jsonl", mixed.encode(), 4)
    # A row with an unbalanced quote (a stray `"` typed into a spreadsheet cell exported by hand):
    # Python's csv module and pyarrow swallow the rows after it into this one.
    header = csv_line("id", "prompt", "subset")
    unbalanced = (header + csv_line("q-1", prompt(), "precise_if") + f'q-2,"{plain()}\r\n'
                  + csv_line("q-3", prompt(), "precise_if") + csv_line("q-4", f'{prompt()} with "quotes"', "precise_if")
                  + csv_line("q-5", prompt(), "precise_if"))  # fmt: skip
    add("unbalanced_quote.csv", unbalanced.encode(), 4, {3: "stray or unbalanced quote"})
    unclosed = header + csv_line("u-1", prompt(), "precise_if") + f'u-2,"{plain()},precise_if\r\n' + f"u-3,{plain()},precise_if\r\n"
    add("unclosed_quote.csv", unclosed.encode(), 2, {3: "never closed"})
    # Legitimate multi-line cells and doubled quotes stay one prompt each; ragged rows are quarantined.
    multi = (header + csv_line("m-1", f"{prompt()}\r\nSecond line of the same cell.", "precise_if")
             + csv_line("m-2", prompt(), "precise_if", "extra") + "m-3\r\n"
             + csv_line("m-4", f'{prompt()} He said "hi".', "precise_if") + "\r\n")  # fmt: skip
    add("multiline_ragged.csv", multi.encode(), 2, {4: "4 values where the header has 3", 5: "1 value where"})
    # Invalid UTF-8 in one CSV row (a Latin-1 export pasted into a UTF-8 file).
    latin = header.encode() + csv_line("l-1", prompt(), "precise_if").encode() + b"l-2,caf\xe9 au lait " + plain().encode() + b",precise_if\r\n"
    add("latin1_row.csv", latin, 1, {3: "invalid UTF-8"})
    # Empty and useless sources: a warning, never silence.
    add("empty.jsonl", b"", 0, warning="has no rows")
    add("header_only.csv", header.encode(), 0, warning="has no rows")
    add("semicolon.csv", ("id;prompt;subset\r\n" + f"s-1;{plain()};precise_if\r\n").encode(), 0,
        {2: "missing field 'id'"}, warning="none of its 1 rows is usable")  # fmt: skip
    # A gzip file cut short in transfer: the rows before the cut stand, the cut is a decision.
    body = jsonl([row(f"gz-{i}") for i in range(1, 4)]).encode() + b"x" * 20000
    packed = gzip.compress(body, mtime=0)
    add("truncated.jsonl.gz", packed[: len(packed) - 40], 3, {4: "breaks off after line 3"})
    # A line of 9 MB (a base64 image pasted into a prompt), compressed so the repo stays small.
    huge = json.dumps(row("big-1", "[H901] " + "A" * (9 * 1024 * 1024))) + "\n" + json.dumps(row("big-2")) + "\n"
    add("huge_line.jsonl.gz", gzip.compress(huge.encode(), mtime=0), 1, {1: "exceeds the"})
    # Types a JSON export gets wrong: nested prompts, float/bool/null ids, numbers where ids are strings.
    typed = [row("t-1", {"text": prompt()}), row("t-2", [prompt()]), row(1.5), row(True), row(None),
             row(7), row("7"), row("t-3", 42), row("t-4")]  # fmt: skip
    add("wrong_types.jsonl", jsonl(typed).encode(), 2, {1: "must be a string, got dict", 2: "must be a string, got list",
        3: "got float", 4: "got bool", 5: "missing field 'id'", 7: "duplicate id '7'", 8: "must be a string, got int"})  # fmt: skip
    # NUL bytes raw and escaped, other control characters, lone surrogates, invalid UTF-8, non-objects.
    hostile = (json.dumps(row("n-1")).encode()[:-2] + b'\x00"}\n'
               + json.dumps(row("n-2", prompt() + "\u0000")).encode() + b"\n"
               + json.dumps(row("n-3", prompt() + "\u001b[31m")).encode() + b"\n"
               + b'{"id": "n-4", "prompt": "\\ud800 lone", "subset": "precise_if"}\n'
               + b'{"id": "n-5", "prompt": "caf\xe9", "subset": "precise_if"}\n'
               + b'[1, 2]\n"just a string"\nnull\n' + b"[" * 100000 + b"]" * 100000 + b"\n"
               + b'{"id": "n-6", "prompt": "unterminated\n'
               + json.dumps(row("n-7")).encode() + b"\n")  # fmt: skip
    add("control_bytes.jsonl", hostile, 1, {1: "NUL byte", 2: "U+0000", 3: "U+001B", 4: "surrogate", 5: "invalid UTF-8",
        6: "got list", 7: "got str", 8: "got NoneType", 9: "nested too deeply", 10: "malformed JSON"})  # fmt: skip
    # Parquet whose prompt column has the wrong type, and one whose ids are integers.
    buffers = {}
    for name, table in {
        "int_prompts.parquet": pa.table({"id": ["p-1", "p-2"], "prompt": [1, 2], "subset": ["precise_if"] * 2}),
        "int_ids.parquet": pa.table({"id": [101, 102], "prompt": [prompt(), prompt()], "subset": ["precise_if"] * 2}),
    }.items():
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        buffers[name] = sink.getvalue().to_pybytes()
    add("int_prompts.parquet", buffers["int_prompts.parquet"], 0, {1: "got int", 2: "got int"},
        warning="none of its 2 rows is usable")  # fmt: skip
    add("int_ids.parquet", buffers["int_ids.parquet"], 2)
    # The same prompt in two sources: the second is an exact duplicate.
    shared = prompt()
    add("dup_a.jsonl", jsonl([row("d-1", shared)]).encode(), 1)
    add("dup_b.jsonl", jsonl([row("d-1", "  " + shared.replace(" ", "  ") + "\n\n")]).encode(), 0, duplicate=1)
    # Whitespace-only and overlong prompts.
    add("blank_and_long.jsonl", jsonl([row("w-1", "   \t "), row("w-2", "[H902] " + "word " * 3000), row("w-3")]).encode(),
        1, {1: "empty or whitespace-only", 2: "longer than"})  # fmt: skip

    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args().out
    expected = build(out)
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(expected)} files to {out}")


if __name__ == "__main__":
    main()
