"""Row sources: local JSONL/CSV/parquet files (optionally gzipped) and Hugging Face datasets.

Readers yield one `RawRow` per record with the line (or row) number it came from. A record that
cannot be decoded is yielded with a `problem` instead of data, so the caller can quarantine it
and go on; only a source that cannot be opened at all raises `SourceError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pyarrow.parquet as pq

from pipeline.core.csv_rows import CsvHeaderError, csv_records
from pipeline.core.textfile import RAW_EXCERPT, READ_ERRORS, UnreadableSource, records, utf8_stream

if TYPE_CHECKING:
    from pipeline.core.locations import DataLocation


class SourceError(RuntimeError):
    """A source that cannot be read at all (missing, unsupported, unreadable)."""


@dataclass
class RawRow:
    line: int
    data: dict[str, Any] | None
    problem: str | None = None
    raw: str = ""  # an excerpt of the undecodable record, for the quarantine table


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()[:RAW_EXCERPT]


def _json_problem(text: str, exc: json.JSONDecodeError) -> str:
    if "\x00" in text:
        return f"NUL byte at column {text.index(chr(0)) + 1} (binary data, or UTF-16 without a byte-order mark?)"
    return f"malformed JSON: {exc.msg} (column {exc.colno})"


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    """One object per line. A byte-order mark is dropped wherever a line starts with one (files
    joined with `cat` carry one per part)."""
    for record in records(path):
        if record.data is None:
            yield RawRow(record.line, None, record.problem)
            continue
        try:
            text = record.data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            yield RawRow(record.line, None, f"invalid UTF-8 at byte {exc.start}", _excerpt(record.data))
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(record.line, None, _json_problem(text, exc), _excerpt(record.data))
            continue
        except RecursionError:
            yield RawRow(record.line, None, "JSON nested too deeply", _excerpt(record.data))
            continue
        if not isinstance(data, dict):
            yield RawRow(record.line, None, f"expected a JSON object, got {type(data).__name__}", _excerpt(record.data))
            continue
        yield RawRow(record.line, data)


def _read_json_array(path: Path) -> Iterator[RawRow]:
    """A JSON file holding one list of objects (or {"examples": [...]}, as BIG-Bench Hard ships)."""
    with utf8_stream(path) as handle:
        try:
            data = json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise SourceError(f"{path}: not a JSON document: {exc}") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of objects")
    for number, item in enumerate(data, start=1):
        if isinstance(item, dict):
            yield RawRow(number, item)
        else:
            yield RawRow(number, None, f"expected a JSON object, got {type(item).__name__}", str(item)[:RAW_EXCERPT])


def _read_csv(path: Path) -> Iterator[RawRow]:
    """Strict CSV (see csv_rows). Invalid UTF-8 is kept as surrogates while parsing, so one bad
    row is quarantined, not the file; a compressed file that breaks off keeps the rows before."""
    chunks: list[bytes] = []
    broken: str | None = None
    with utf8_stream(path) as handle:
        try:
            while chunk := handle.read(1 << 20):
                chunks.append(chunk)
        except READ_ERRORS as exc:
            broken = f"file breaks off here; the rest is lost ({exc})"
    text = b"".join(chunks).decode("utf-8", errors="surrogateescape")
    last = 0
    try:
        for record in csv_records(text):
            last = record.line
            if record.values is None:
                yield RawRow(record.line, None, record.problem, record.raw)
                continue
            bad = next((v for v in record.values.values() if any("\udc80" <= ch <= "\udcff" for ch in v)), None)
            if bad is not None:
                yield RawRow(record.line, None, "invalid UTF-8", _excerpt(bad.encode("utf-8", errors="surrogateescape")))
            else:
                yield RawRow(record.line, dict(record.values))
    except CsvHeaderError as exc:
        raise SourceError(f"{path}: {exc}") from None
    if broken:
        yield RawRow(max(last, text.count("\n")) + 1, None, broken)


def _read_parquet(path: Path) -> Iterator[RawRow]:
    table = pq.ParquetFile(path)
    number = 0
    try:
        for batch in table.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                number += 1
                yield RawRow(number, row)
    except (OSError, ValueError) as exc:  # a corrupt row group: the rows before it stand
        yield RawRow(number + 1, None, f"file breaks off after row {number}; the rest is lost ({exc})")


READERS = {".jsonl": _read_jsonl, ".json": _read_json_array, ".csv": _read_csv, ".parquet": _read_parquet}


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read_file(path: Path) -> Iterator[RawRow]:
    """Rows of a local file; the format follows the suffix (.jsonl, .json, .csv, .parquet, +.gz)."""
    fmt = _format(path)
    reader = READERS.get(fmt)
    if reader is None or (path.suffix == ".gz" and fmt == ".parquet"):
        raise SourceError(f"{path}: unsupported format {fmt or path.suffix!r} (use .jsonl, .json, .csv or .parquet)")
    if not path.is_file():
        raise SourceError(f"{path}: source file not found")
    try:
        yield from reader(path)
    except SourceError:
        raise
    except UnreadableSource as exc:
        raise SourceError(f"{path}: {exc}") from None
    except (OSError, ValueError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from None


def read_hub(hub_id: str, config: str | None, split: str, revision: str | None) -> Iterator[RawRow]:
    """Rows of a Hugging Face dataset (a Hub id or a local dataset folder), numbered from 1."""
    import datasets

    where = f"{hub_id}" + (f" ({config})" if config else "") + f" split {split!r}"
    try:
        dataset = datasets.load_dataset(hub_id, config, split=split, revision=revision)
    except Exception as exc:  # datasets raises many types; all mean "cannot open this source"
        raise SourceError(f"Hub dataset {where}: cannot load: {type(exc).__name__}: {exc}") from None
    for number, row in enumerate(dataset, start=1):
        yield RawRow(number, dict(row))


def resolve(path: str, base_dir: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else base_dir / path


def read_location(location: "DataLocation", base_dir: Path) -> Iterator[RawRow]:
    """Rows of a configured source or eval set, local or on the Hub."""
    if location.path is not None:
        return read_file(resolve(location.path, base_dir))
    assert location.hub_id is not None
    return read_hub(location.hub_id, location.hub_config, location.split, location.revision)
