"""Tables on disk: atomic parquet writes, run directories, the decision log.

Stage tables are polars frames: written whole, read back as lazy scans so a stage (or a report)
reads only the columns and rows it needs. The release keeps its exact RewardBench 2 arrow schema
(`write_parquet`). Every file is written to a temporary name beside its target and renamed into
place, so a reader (or a resumed run) sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from pipeline.core.records import DECISION_SCHEMA, Decision
from pipeline.core.spool import CHUNK_ROWS, Spool


@dataclass(frozen=True)
class StageOutput:
    """What a stage hands the next one: where its table is and a hash of its content."""

    stage: str
    path: str
    fingerprint: str
    counts: dict[str, int] = field(default_factory=dict)


def output_intact(out: StageOutput) -> bool:
    """Is a stage's output still on disk as it was written? (A folder output is fingerprinted by
    its README.md.) A cached stage whose output was deleted or edited must run again."""
    path = Path(out.path)
    target = path / "README.md" if path.is_dir() else path
    return target.is_file() and file_fingerprint(target) == out.fingerprint


class RunLocked(RuntimeError):
    """Another build of the same version is writing its run directory."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory for one build at a time. The OS drops the lock when its holder
    dies, even by SIGKILL, so a crashed build never blocks the resumed one."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run_dir / ".build.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLocked(f"{run_dir}: another build of this version is running; wait for it or stop it") from None
    try:
        yield
    finally:
        lock.release()


def remove_partial_files(run_dir: Path) -> list[Path]:
    """Delete what an interrupted build left half-done: temporary files of atomic writes and the
    staging/old folders of a folder swap. Only safe under `run_lock`."""
    removed = []
    for path in sorted(run_dir.rglob(".*")):
        name = path.name
        if path.is_file() and name.endswith(".tmp"):
            path.unlink(missing_ok=True)
        elif path.is_dir() and (name.endswith(".staging") or name.endswith(".old")):
            shutil.rmtree(path, ignore_errors=True)
        else:
            continue
        removed.append(path)
    return removed


def _atomic_write(path: Path, write: Any) -> Path:
    """Call `write(tmp_path)`, then rename the file into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    _atomic_write(path, write)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_with(path: Path, write: Any) -> Path:
    """Call `write(tmp_path)` (say, a download or a copy), then rename the file into place."""
    return _atomic_write(path, write)


def _as_dict(row: Any) -> dict[str, Any]:
    return asdict(row) if is_dataclass(row) else dict(row)


def write_parquet(rows: Iterable[Any], path: Path, schema: pa.Schema | None = None) -> Path:
    """Records (dataclasses or dicts) as one parquet file with this exact arrow schema, atomically:
    for files whose schema is a contract (the RewardBench 2 release, `rb decontaminate` output)."""
    dicts = [_as_dict(r) for r in rows]
    if schema is not None:
        table = pa.Table.from_pylist(dicts, schema=schema)
    elif dicts:
        table = pa.Table.from_pylist(dicts)
    else:
        table = pa.table({})
    return _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def polars_schema(schema: pa.Schema) -> pl.Schema:
    return pl.from_arrow(schema.empty_table()).schema  # type: ignore[union-attr]


def records_frame(rows: Iterable[Any], schema: pa.Schema | None = None) -> pl.DataFrame:
    """Records (dataclasses or dicts) as a frame; typed by `schema` even when there are none."""
    dicts = [_as_dict(r) for r in rows]
    if schema is not None:
        return pl.DataFrame(dicts, schema=polars_schema(schema))
    return pl.DataFrame(dicts, infer_schema_length=None) if dicts else pl.DataFrame()


def write_table(rows: Iterable[Any] | pl.DataFrame, path: Path, schema: pa.Schema | None = None) -> Path:
    """A stage table (a frame, or records typed by `schema`) as parquet, atomically."""
    frame = rows if isinstance(rows, pl.DataFrame) else records_frame(rows, schema)
    return _atomic_write(path, lambda tmp: frame.write_parquet(tmp))


def sink_table(frame: pl.LazyFrame, path: Path) -> Path:
    """A lazy frame streamed into one parquet file (never whole in memory), atomically."""
    return _atomic_write(path, lambda tmp: frame.sink_parquet(tmp))


def scan_table(path: str | Path) -> pl.LazyFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: stage output missing; rerun the stage that writes it")
    return pl.scan_parquet(path)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    return scan_table(path).collect().to_dicts()


def file_fingerprint(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def tree_fingerprint(root: Path, pattern: str = "**/*.py") -> str:
    """Hash of a source tree: a stage's cache key changes when the library code changes."""
    digest = hashlib.sha256()
    for file in sorted(root.glob(pattern)):
        if not file.is_file():
            continue
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


class DecisionLog:
    """Decisions of one stage. Written next to the stage output; the run's log is their union.

    With a `spool` folder, every `chunk_rows` decisions are written there as a parquet part and
    dropped from memory (a stage over a million items holds one chunk, not a million rows); then
    `rows` holds only the newest chunk, and `frame()` reads them all.
    """

    def __init__(self, stage: str, run_id: str, spool: Path | None = None, chunk_rows: int = CHUNK_ROWS):
        self.stage = stage
        self.run_id = run_id
        self.rows: list[Decision] = []
        self._spool = Spool(spool) if spool is not None else None
        self._chunk_rows = chunk_rows
        self._spooled: Counter[tuple[str, str]] = Counter()  # (decision, reason) of rows in parts

    def add(self, item_id: str, decision: str, reason: str, **evidence: Any) -> None:
        blob = json.dumps(evidence, sort_keys=True, ensure_ascii=False, default=str)
        self.rows.append(Decision(self.stage, item_id, decision, reason, blob, self.run_id))
        if self._spool is not None and len(self.rows) >= self._chunk_rows:
            self._spill()

    def kept(self, item_id: str, reason: str = "passed", **evidence: Any) -> None:
        self.add(item_id, "kept", reason, **evidence)

    def dropped(self, item_id: str, reason: str, **evidence: Any) -> None:
        self.add(item_id, "dropped", reason, **evidence)

    def _spill(self) -> None:
        assert self._spool is not None
        if self.rows:
            self._spooled.update((d.decision, d.reason) for d in self.rows)
            self._spool.add(records_frame(self.rows, DECISION_SCHEMA))
            self.rows = []

    def sibling(self) -> "DecisionLog":
        """An empty log of the same stage (and spool folder): a section to `extend` this one with later."""
        spool = self._spool.folder if self._spool is not None else None
        return DecisionLog(self.stage, self.run_id, spool, self._chunk_rows)

    def extend(self, other: "DecisionLog") -> None:
        """Append another log's decisions after this one's, emptying it (its parts move, uncopied)."""
        if other._spool is not None and other._spool.parts:
            assert self._spool is not None, "a spooled log extends only a spooled one"
            self._spill()
            self._spool.take(other._spool)
            self._spooled.update(other._spooled)
            other._spooled = Counter()
        self.rows += other.rows
        other.rows = []
        if self._spool is not None and len(self.rows) >= self._chunk_rows:
            self._spill()

    def _pairs(self) -> Counter[tuple[str, str]]:
        pairs = Counter(self._spooled)
        pairs.update((d.decision, d.reason) for d in self.rows)
        return pairs

    def counts(self) -> dict[str, int]:
        return {f"{decision}:{reason}": n for (decision, reason), n in self._pairs().items()}

    def tally(self) -> dict[str, int]:
        """Rows per decision (kept, dropped, failed, changed)."""
        tally: Counter[str] = Counter()
        for (decision, _), n in self._pairs().items():
            tally[decision] += n
        return dict(tally)

    def check_balance(self, items_in: int) -> None:
        """Every item that entered the stage has exactly one kept/dropped/failed row."""
        kinds = ("kept", "dropped", "failed")
        terminal = sum(n for (decision, _), n in self._pairs().items() if decision in kinds)
        if self._spool is None or not self._spool.parts:
            ids = Counter(d.item_id for d in self.rows if d.decision in kinds)
            repeated = [i for i, n in ids.items() if n > 1][:5]
        else:  # polars counts the spooled ids (a million of them as strings here would take ~100 MiB)
            repeated = (self.frame().filter(pl.col("decision").is_in(kinds)).group_by("item_id", maintain_order=True)
                        .len().filter(pl.col("len") > 1).head(5).collect()["item_id"].to_list())  # fmt: skip
        if terminal != items_in or repeated:
            raise AssertionError(
                f"stage {self.stage}: {items_in} items in but {terminal} decisions"
                + (f" (repeated ids: {repeated})" if repeated else "")
            )

    def frame(self) -> pl.LazyFrame:
        """Every decision, in order, as one lazy frame (spooled parts, then the rows held)."""
        held = records_frame(self.rows, DECISION_SCHEMA).lazy()
        if self._spool is None or not self._spool.parts:
            return held
        return pl.concat([self._spool.scan(), held], how="vertical")

    def write(self, path: Path) -> Path:
        if self._spool is None or not self._spool.parts:
            return write_table(self.rows, path, DECISION_SCHEMA)
        self._spill()
        return sink_table(self._spool.scan(), path)

    def discard(self) -> None:
        """Delete this log's spooled parts (after `write`, or when the stage fails)."""
        if self._spool is not None:
            self._spool.discard()


def scan_decisions(run_dir: Path) -> pl.LazyFrame:
    """The run's decision log: every stage's decisions.parquet as one lazy frame."""
    paths = sorted(run_dir.glob("*/decisions.parquet"))
    if not paths:
        return records_frame([], DECISION_SCHEMA).lazy()
    return pl.scan_parquet(paths)


def read_decision_log(run_dir: Path) -> Iterator[dict[str, Any]]:
    yield from scan_decisions(run_dir).collect().iter_rows(named=True)
