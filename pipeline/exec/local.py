"""The default executor: every shard in this process, one after another, through one model pool
(local engines load once per stage; the build's response cache is written directly)."""

from __future__ import annotations

from typing import Any, Callable, ContextManager

from pipeline.exec.shards import Progress, ShardJob, run_shard

OnDone = Callable[[ShardJob, dict[str, Any]], None]


def shard_progress(progress: Progress | None, job: ShardJob) -> Progress | None:
    """A shard's progress under its own name when the stage has several."""
    if progress is None or job.count == 1:
        return progress
    return lambda label, done, total: progress(f"shard {job.index + 1}/{job.count} {label}", done, total)


class LocalExecutor:
    kind = "local"

    def run(self, jobs: list[ShardJob], open_pool: Callable[[], ContextManager[Any]], progress: Progress | None,
            on_done: OnDone) -> list[dict[str, Any]]:  # fmt: skip
        summaries = []
        if not jobs:
            return summaries
        with open_pool() as pool:
            for job in jobs:
                summary = run_shard(job, pool, shard_progress(progress, job))
                on_done(job, summary)
                summaries.append(summary)
        return summaries

    def close(self) -> None:
        pass
