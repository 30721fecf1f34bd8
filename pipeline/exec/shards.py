"""Shards: a stage's items split by a stable key, each shard's outputs written apart and then
marked done, so a rerun (or a worker that died) redoes only the shards not marked.

A shard is chosen by the item's prompt id alone (`shard_of`), so the split does not depend on
how many workers run it. A shard's folder holds its part of the stage's tables and its
decisions, and `DONE.json` last: the shard's summary and the key of everything its output depends
on; a marker with another key is stale.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from pipeline.core.io import atomic_write_bytes, atomic_write_text
from pipeline.core.store import RunStore

DONE = "DONE.json"
Progress = Callable[[str, int, int], None]


def shard_of(key: str, count: int) -> int:
    """A stable shard number for `key`: the same on every machine, run and Python version."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to run one shard of a stage, as plain values."""

    stage: str
    index: int
    count: int
    work: str  # "module:function" that runs a shard (resolved on the worker)
    config_json: str
    base_dir: str
    run_dir: str
    run_id: str
    upstream: tuple[tuple[str, str], ...]  # (stage, table path) of the stage's inputs
    key: str  # hash of what the shard's output depends on
    cache_dir: str = ""  # where a worker's own response cache goes (cluster executors)
    # The run directory on object storage, when the output is remote: a worker on any node reads
    # the upstream tables from there and puts its part there (run_dir and upstream paths are then
    # relative to the worker's own working copy).
    store_url: str = ""

    @property
    def name(self) -> str:
        return f"{self.stage}-{self.index:05d}-of-{self.count:05d}"

    @property
    def part_rel(self) -> str:
        return f"{self.stage}/shards/{self.index:05d}-of-{self.count:05d}"

    @property
    def part_dir(self) -> Path:
        return Path(self.run_dir) / self.part_rel

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) / f"{self.name}.sqlite"

    def input(self, stage: str) -> str:
        """An upstream table's local path (fetched from the run's object storage if need be)."""
        path = Path(self.run_dir) / dict(self.upstream)[stage]  # an absolute path stays as it is
        if self.store_url and not path.is_file():
            data = RunStore.open(self.store_url).read_bytes(dict(self.upstream)[stage])
            atomic_write_bytes(path, data)
        return str(path)

    def wants(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index


class ShardPool(Protocol):
    """What a shard's work function gets to send LM requests through (a ModelPool)."""

    def get(self, name: str) -> Any: ...

    def stats(self) -> dict[str, Any]: ...


ShardWork = Callable[[ShardJob, Any, "Progress | None"], dict[str, Any]]


def resolve_work(spec: str) -> ShardWork:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def finished(job: ShardJob) -> dict[str, Any] | None:
    """The summary of a shard already done with this job's key, else None. With a remote run
    directory, a part done on another node is fetched into this working copy."""
    try:
        summary = json.loads((job.part_dir / DONE).read_text())
    except (OSError, ValueError):
        summary = None
    if summary is None and job.store_url:
        store = RunStore.open(job.store_url)
        summary = store.done(job.part_rel)
        if summary is not None and summary.get("key") == job.key:
            store.download_dir(job.part_rel, job.part_dir)
            atomic_write_text(job.part_dir / DONE, json.dumps(summary, sort_keys=True))
    return summary if summary is not None and summary.get("key") == job.key else None


def on_worker(job: ShardJob) -> ShardJob:
    """The job as this machine runs it: with a remote run directory, in this machine's own
    working copy of it."""
    if not job.store_url:
        return job
    from pipeline.core.run_location import work_dir

    return replace(job, run_dir=str(work_dir(job.store_url)))


def _usage(pool: ShardPool) -> dict[str, dict[str, int]]:
    return {name: stats.as_dict() for name, stats in pool.stats().items()}


def _minus(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {}
    for model, counts in after.items():
        base = before.get(model, {})
        delta = {k: v - base.get(k, 0) for k, v in counts.items()}
        if any(delta.values()):
            out[model] = delta
    return out


def run_shard(job: ShardJob, pool: ShardPool, progress: Progress | None = None, attempt: int = 1) -> dict[str, Any]:
    """Run one shard's work, then mark it done. The summary says what went in and out, the LM
    traffic of this run of it per model, and where and how long it ran."""
    job = on_worker(job)
    marker = job.part_dir / DONE
    marker.unlink(missing_ok=True)  # a half-redone shard must never look done
    job.part_dir.mkdir(parents=True, exist_ok=True)
    started, wall, before = time.monotonic(), time.time(), _usage(pool)
    summary = resolve_work(job.work)(job, pool, progress)
    summary.update(
        key=job.key, shard=job.index, count=job.count, attempt=attempt, host=socket.gethostname(), pid=os.getpid(),
        seconds=round(time.monotonic() - started, 3), started_at=wall, ended_at=time.time(),
        usage=_minus(_usage(pool), before),
    )  # fmt: skip
    if job.store_url:  # the part first, then its marker: a reader never sees half a part as done
        store = RunStore.open(job.store_url)
        store.upload_dir(job.part_dir, job.part_rel)
        store.mark_done(job.part_rel, summary)
    atomic_write_text(marker, json.dumps(summary, sort_keys=True))
    return summary
