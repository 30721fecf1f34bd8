"""What every stage runner shares: the run's context, its stage tables, and the balance check.

A runner reads its upstream tables, calls the stage's logic and writes its table and decisions.
It checks that its decision log balances (items in = kept + dropped + failed) before anything
downstream can read its output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.core.config import BuildConfig
from pipeline.core.io import DecisionLog, StageOutput, file_fingerprint, scan_table, write_table
from pipeline.core.records import COMPLETION_SCHEMA, PROMPT_SCHEMA, Completion, Label, Prompt
from pipeline.decontam.embed import Embedder, EmbeddingCache
from pipeline.lm import ModelPool
from pipeline.subsets.base import Templates

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunContext:
    cfg: BuildConfig
    base_dir: Path  # relative paths in the config resolve against this
    run_id: str = "local"
    progress: Progress | None = field(default=None, compare=False)

    @property
    def run_dir(self) -> Path:
        return self.base_dir / self.cfg.output_dir / self.cfg.version

    def stage_dir(self, stage: str) -> Path:
        return self.run_dir / stage

    def templates(self) -> Templates:
        return Templates(self.base_dir / self.cfg.prompts_dir)

    def embedding_cache(self) -> EmbeddingCache:
        emb = self.cfg.embeddings
        embedder = Embedder(emb.model, emb.batch_size, self.progress, emb.precision, emb.device)
        return EmbeddingCache(embedder, self.base_dir / emb.cache_dir)

    def model_pool(self) -> ModelPool:
        return ModelPool(self.cfg.models, self.base_dir / self.cfg.lm_cache, self.base_dir / self.cfg.models_dir)


def finish(ctx: RunContext, log: DecisionLog, items_in: int, table: Path, **counts: int) -> StageOutput:
    """Check the balance, write the decisions, and hand the next stage the table's fingerprint."""
    log.check_balance(items_in)
    log.write(ctx.stage_dir(log.stage) / "decisions.parquet")
    tally = {"in": items_in, **counts}
    for decision in log.rows:
        tally[decision.decision] = tally.get(decision.decision, 0) + 1
    return StageOutput(log.stage, str(table), file_fingerprint(table), tally)


def lm_counts(lm: dict[str, int]) -> dict[str, int]:
    return {f"lm_{k}": v for k, v in lm.items()}


def write_prompts(ctx: RunContext, stage: str, prompts: list[Prompt]) -> Path:
    rows = [{**asdict(p), "metadata": json.dumps(p.metadata, sort_keys=True, default=str)} for p in prompts]
    return write_table(rows, ctx.stage_dir(stage) / "prompts.parquet", PROMPT_SCHEMA)


def load_prompts(out: StageOutput) -> list[Prompt]:
    rows = scan_table(out.path).collect().iter_rows(named=True)
    return [Prompt(**{**r, "metadata": json.loads(r["metadata"])}) for r in rows]


def write_completions(path: Path, completions: list[Completion]) -> Path:
    return write_table(completions, path, COMPLETION_SCHEMA)


def load_completions(out: StageOutput) -> list[Completion]:
    return [Completion(**r) for r in scan_table(out.path).collect().iter_rows(named=True)]


def load_labels(out: StageOutput) -> list[Label]:
    return [Label(**r) for r in scan_table(out.path).collect().iter_rows(named=True)]
