"""What every stage runner shares: the run's context, its stage tables, and the balance check.

A runner reads its upstream tables, calls the stage's logic and writes its table and decisions.
It checks that its decision log balances (items in = kept + dropped + failed) before anything
downstream can read its output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import polars as pl

from pipeline.core.config import BuildConfig
from pipeline.core.io import DecisionLog, StageOutput, file_fingerprint, polars_schema, scan_table, write_table
from pipeline.core.run_location import local_run_dir
from pipeline.core.records import COMPLETION_SCHEMA, PROMPT_SCHEMA, Completion, Label, Prompt
from pipeline.cost.ledger import write_ledger
from pipeline.decontam.embed import EmbeddingCache
from pipeline.lm import ModelPool
from pipeline.stages.embed_shards import ShardedEmbedder
from pipeline.subsets.base import Templates

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunContext:
    cfg: BuildConfig
    base_dir: Path  # relative paths in the config resolve against this
    run_id: str = "local"
    progress: Progress | None = field(default=None, compare=False)
    # Per-model request counts of the stage running now, taken as its model pools close (ledger).
    lm_usage: dict[str, dict[str, int]] = field(default_factory=dict, compare=False)

    @property
    def run_dir(self) -> Path:
        return local_run_dir(self.cfg, self.base_dir)

    def stage_dir(self, stage: str) -> Path:
        return self.run_dir / stage

    def templates(self) -> Templates:
        return Templates(self.base_dir / self.cfg.prompts_dir)

    def embedding_cache(self) -> EmbeddingCache:
        """Vectors by text list, cached; long lists are encoded as shards on a cluster executor."""
        embedder = ShardedEmbedder(self.cfg, self.base_dir, self.run_dir, self.progress)
        return EmbeddingCache(embedder, self.base_dir / self.cfg.embeddings.cache_dir)

    def model_pool(self, metered: bool = True) -> ModelPool:
        """The stage's models; `metered` leaves their counts for the stage's ledger on close
        (sharded stages count per shard instead)."""
        cfg, base = self.cfg, self.base_dir
        args = (cfg.models, base / cfg.lm_cache, base / cfg.models_dir, self.run_dir / "batches")
        return _MeteredPool(self.lm_usage, *args) if metered else ModelPool(*args)


class _MeteredPool(ModelPool):
    """A pool that leaves its models' counts behind when it closes, for the stage's ledger."""

    def __init__(self, usage: dict[str, dict[str, int]], *args: Any):
        super().__init__(*args)
        self._usage = usage

    def close(self) -> None:
        for name, stats in self.stats().items():
            add_usage(self._usage, name, stats.as_dict())
        super().close()


def add_usage(usage: dict[str, dict[str, int]], model: str, counts: dict[str, int]) -> None:
    """Add a model's request counts to a stage's tally (what its ledger is written from)."""
    tally = usage.setdefault(model, {})
    for key, value in counts.items():
        tally[key] = tally.get(key, 0) + value


def shard_context(job: Any, progress: Progress | None) -> "RunContext":
    """The run context a shard's work runs in, rebuilt from its job (on whichever worker)."""
    return RunContext(BuildConfig.model_validate_json(job.config_json), Path(job.base_dir), job.run_id, progress)


def record_ledger(ctx: RunContext, stage: str) -> None:
    """Write the stage's ledger (tokens and cost per model) and start the next stage's afresh."""
    if ctx.lm_usage:
        write_ledger(ctx.cfg, ctx.stage_dir(stage), stage, ctx.lm_usage, ctx.run_id)
        ctx.lm_usage.clear()


def finish(ctx: RunContext, log: DecisionLog, items_in: int, table: Path, **counts: int) -> StageOutput:
    """Check the balance, write the decisions, and hand the next stage the table's fingerprint."""
    log.check_balance(items_in)
    record_ledger(ctx, log.stage)
    log.write(ctx.stage_dir(log.stage) / "decisions.parquet")
    tally = {"in": items_in, **counts, **log.tally()}
    return StageOutput(log.stage, str(table), file_fingerprint(table), tally)


def lm_counts(lm: dict[str, int]) -> dict[str, int]:
    return {f"lm_{k}": v for k, v in lm.items()}


def write_prompts(ctx: RunContext, stage: str, prompts: list[Prompt]) -> Path:
    return write_table(prompts_frame(prompts), ctx.stage_dir(stage) / "prompts.parquet")


def prompts_frame(prompts: list[Prompt]) -> pl.DataFrame:
    """The prompts table, built a column at a time: as row dicts (copied once more on the way to the
    frame) a million prompts took over 600 MiB at once on top of the prompts themselves."""
    columns: dict[str, list[Any]] = {
        name: [getattr(p, name) for p in prompts] for name in PROMPT_SCHEMA.names if name != "metadata"
    }
    columns["metadata"] = [json.dumps(p.metadata, sort_keys=True, default=str) for p in prompts]
    return pl.DataFrame({name: columns[name] for name in PROMPT_SCHEMA.names}, schema=polars_schema(PROMPT_SCHEMA))


def load_prompts(out: StageOutput) -> list[Prompt]:
    return load_prompts_at(out.path)


def load_prompts_at(path: str | Path, keep: Callable[[str], bool] | None = None) -> list[Prompt]:
    """The prompts of a table (those whose id `keep` accepts): a shard filters on the id column
    before any row becomes an object."""
    frame = scan_table(path).collect()
    if keep is not None:
        frame = frame.filter(pl.Series([keep(pid) for pid in frame["prompt_id"]], dtype=pl.Boolean))
    return [Prompt(**{**r, "metadata": json.loads(r["metadata"])}) for r in frame.iter_rows(named=True)]


def write_completions(path: Path, completions: list[Completion]) -> Path:
    return write_table(completions, path, COMPLETION_SCHEMA)


def load_completions(out: StageOutput) -> list[Completion]:
    return load_completions_at(out.path)


def load_completions_at(path: str | Path, prompt_ids: set[str] | None = None) -> list[Completion]:
    """The completions of a table (of these prompts only, given `prompt_ids`)."""
    frame = scan_table(path)
    if prompt_ids is not None:
        frame = frame.filter(pl.col("prompt_id").is_in(list(prompt_ids)))
    return [Completion(**r) for r in frame.collect().iter_rows(named=True)]


def load_labels(out: StageOutput) -> list[Label]:
    return load_labels_at(out.path)


def load_labels_at(path: str | Path) -> list[Label]:
    return [Label(**r) for r in scan_table(path).collect().iter_rows(named=True)]
