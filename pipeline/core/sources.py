"""Row sources: local JSONL/CSV/parquet files (optionally gzipped) and Hugging Face datasets.

Readers yield one `RawRow` per record with the line (or row) number it came from. A record that
cannot be decoded is yielded with a `problem` instead of data, so the caller can quarantine it
and go on; only a source that cannot be opened at all raises `SourceError`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pipeline.core.locations import DataLocation

RAW_EXCERPT = 200  # characters of a bad line kept in the quarantine table


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


def _open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[return-value]


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRow(number, None, f"invalid UTF-8 at byte {exc.start}", _excerpt(raw))
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RawRow(number, None, f"malformed JSON: {exc.msg} (column {exc.colno})", _excerpt(raw))
                continue
            if not isinstance(data, dict):
                yield RawRow(number, None, f"expected a JSON object, got {type(data).__name__}", _excerpt(raw))
                continue
            yield RawRow(number, data)


def _read_json_array(path: Path) -> Iterator[RawRow]:
    """A JSON file holding one list of objects (or {"examples": [...]}, as BIG-Bench Hard ships)."""
    with _open_binary(path) as handle:
        try:
            data = json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    """Invalid UTF-8 is kept as surrogates while parsing so one bad row is quarantined, not the file."""
    with _open_binary(path) as handle:
        text = handle.read().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        return
    for row in reader:
        values = [v for v in row.values() if isinstance(v, str)]
        bad = next((v for v in values if any("\udc80" <= ch <= "\udcff" for ch in v)), None)
        if bad is not None:
            excerpt = bad.encode("utf-8", errors="surrogateescape")
            yield RawRow(reader.line_num, None, "invalid UTF-8", _excerpt(excerpt))
        elif None in row:
            yield RawRow(reader.line_num, None, "more values than header columns", ",".join(values)[:RAW_EXCERPT])
        else:
            yield RawRow(reader.line_num, dict(row))


def _read_parquet(path: Path) -> Iterator[RawRow]:
    table = pq.ParquetFile(path)
    number = 0
    for batch in table.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield RawRow(number, row)


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
