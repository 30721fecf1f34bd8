"""Prompt stages a chunk at a time: a million prompts as objects (and their decisions as rows)
took over a gigabyte in the driver, while a stage that keeps, drops or tags rows needs only one
chunk of the table at once. Kept rows go to parquet parts and are joined into the stage's table.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import polars as pl
import pyarrow.parquet as pq

from pipeline.core.io import sink_table, write_table
from pipeline.core.spool import CHUNK_ROWS, Spool


@contextmanager
def scratch(stage_dir: Path) -> Iterator[Path]:
    """A scratch folder in the stage's folder, removed afterwards; one an interrupted build left
    behind is a `.staging` folder, which the resumed build removes (io.remove_partial_files)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=stage_dir, prefix=".scratch-", suffix=".staging"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def row_count(path: str | Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def chunks(path: str | Path, columns: list[str] | None = None, rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
    """The table's rows in order, `rows` at a time (only `columns`, when given)."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
        yield pl.from_arrow(batch)  # type: ignore[misc]


def filter_chunks(path: str | Path, out: Path, folder: Path, step: Callable[[pl.DataFrame], pl.DataFrame],
                  rows: int = CHUNK_ROWS) -> Path:  # fmt: skip
    """Each chunk of the table through `step` (which logs its decisions and returns the rows to
    keep, changed or not), the kept rows written to `out` in order; `folder` holds the parts."""
    spool = Spool(folder)
    for chunk in chunks(path, rows=rows):
        spool.add(step(chunk))
    if not spool.parts:  # an empty table: its columns as they were
        return write_table(pl.read_parquet(path), out)
    return sink_table(spool.scan(), out)
