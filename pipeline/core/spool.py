"""Tables too big to hold whole as Python objects: records are held a chunk at a time, each full
chunk becomes a parquet part in a scratch folder, and the parts are joined into one file at the end.

A million prompts as objects (or decision rows as dataclasses) took over a gigabyte in the
driver; as parquet parts they take a few hundred megabytes of disk and none of memory. The join
is polars' streaming sink over the parts in order, so the row order is the order of `add`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable, Generic, Iterator, TypeVar

import polars as pl

T = TypeVar("T")
CHUNK_ROWS = 50_000


class Spool:
    """Parquet parts in order, in a scratch folder (several spools may share one folder)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.parts: list[Path] = []

    def add(self, frame: pl.DataFrame) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"part-{uuid.uuid4().hex}.parquet"
        frame.write_parquet(path)
        self.parts.append(path)

    def take(self, other: "Spool") -> None:
        """Move another spool's parts after this one's (a section written apart, joined in order)."""
        self.parts += other.parts
        other.parts = []

    def scan(self) -> pl.LazyFrame:
        return pl.concat([pl.scan_parquet(p) for p in self.parts], how="vertical")

    def discard(self) -> None:
        for path in self.parts:
            path.unlink(missing_ok=True)
        self.parts = []


class ChunkedTable(Generic[T]):
    """Records added one at a time; `to_frame` turns each chunk of them into a frame (a part)."""

    def __init__(self, folder: Path, to_frame: Callable[[list[T]], pl.DataFrame], chunk_rows: int = CHUNK_ROWS):
        self.spool = Spool(folder)
        self.to_frame = to_frame
        self.chunk_rows = chunk_rows
        self.rows: list[T] = []
        self.count = 0

    def add(self, row: T) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.spool.add(self.to_frame(self.rows))
            self.rows = []

    def parts(self) -> list[Path]:
        """Every record so far as parquet parts, in order (the held chunk is written first)."""
        self.flush()
        return list(self.spool.parts)

    def scan(self) -> pl.LazyFrame:
        """All records as one lazy frame (typed by `to_frame` even when there are none)."""
        parts = self.parts()
        return self.spool.scan() if parts else self.to_frame([]).lazy()

    def chunks(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """The records again, a part at a time, only these columns."""
        for path in self.parts():
            yield pl.read_parquet(path, columns=columns)

    def discard(self) -> None:
        self.rows = []
        self.spool.discard()
