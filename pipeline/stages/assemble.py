"""Assembly: each routed prompt's subset turns its labeled candidates into release rows.

The candidates of a prompt are a join of the completions with their labels (polars); the subset's
assembly rule (best-of-N, or Ties pairs) picks the rows. Prompts without enough candidates are
dropped with a reason, and the count of candidates no label settled, so a reviewer can tell "the
judges split" from "the models never got it right".
"""

from __future__ import annotations

import json

import polars as pl

from pipeline.core.io import DecisionLog, StageOutput, scan_table, write_parquet
from pipeline.core.records import RB2_SCHEMA, Completion, Prompt
from pipeline.stages.context import RunContext, finish, load_prompts
from pipeline.subsets.base import Candidates, Row, Subset
from pipeline.subsets.registry import enabled as enabled_subsets

STAGE = "assemble"


def candidates(completions: pl.LazyFrame, labels: pl.LazyFrame) -> dict[str, Candidates]:
    """Every labeled completion of each prompt, by label, in the labels' order."""
    joined = (
        labels.with_row_index("_order")
        .select("_order", "completion_id", "label", "status", "evidence")
        .join(completions, on="completion_id", how="inner")
        .sort("_order")
        .collect()
    )
    out: dict[str, Candidates] = {}
    fields = [name for name in Completion.__dataclass_fields__]
    for row in joined.iter_rows(named=True):
        pool = out.setdefault(row["prompt_id"], Candidates())
        if row["label"] in ("correct", "incorrect"):
            getattr(pool, row["label"]).append(Completion(**{k: row[k] for k in fields}))
            evidence = row["evidence"] or ""
            if '"caution"' in evidence and (caution := json.loads(evidence).get("caution")):
                pool.cautions[row["completion_id"]] = list(caution)
        else:
            pool.unsettled["disagreements" if row["status"] == "disagreed" else "abstains"] += 1
    return out


def assemble(
    prompts: dict[str, Prompt], pools: dict[str, Candidates], subsets: dict[str, Subset],
    num_rejected: int, seed: int, log: DecisionLog,
) -> list[Row]:  # fmt: skip
    rows: list[Row] = []
    for pid, prompt in prompts.items():
        result = subsets[prompt.subset or ""].assemble(prompt, pools.get(pid, Candidates()), num_rejected, seed)
        if result.rows:
            rows += result.rows
            log.kept(pid, result.reason, **result.evidence)
        else:
            log.dropped(pid, result.reason, **result.evidence)
    return rows


def run(ctx: RunContext, routed: StageOutput, generated: StageOutput, labeled: StageOutput) -> StageOutput:
    log = DecisionLog(STAGE, ctx.run_id)
    prompts = {p.prompt_id: p for p in load_prompts(routed)}
    pools = candidates(scan_table(generated.path), scan_table(labeled.path))
    rows = assemble(prompts, pools, enabled_subsets(ctx.cfg), ctx.cfg.num_rejected, ctx.cfg.seed, log)
    rows.sort(key=lambda r: (r["subset"], r["id"]))
    table = write_parquet(rows, ctx.stage_dir(STAGE) / "test.parquet", RB2_SCHEMA)
    return finish(ctx, log, len(prompts), table, items=len(rows))
