"""Label stage: each completion goes to its subset's labeler; human annotations override on rerun.

Every completion gets one terminal decision: kept with its label, dropped as an abstain or a
judges' disagreement, or failed (a judge request failed for good; a rerun asks again). A human
override is logged as a change next to it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from pipeline.core.io import DecisionLog, StageOutput, atomic_write_text, records_frame, write_table
from pipeline.core.records import LABEL_SCHEMA, Completion, Label, Prompt
from pipeline.label import human, human_review
from pipeline.label.base import Labeler, LabelResult
from pipeline.exec.shards import ShardJob
from pipeline.lm import ModelPool
from pipeline.stages.context import (
    RunContext,
    finish,
    load_completions,
    load_completions_at,
    load_labels_at,
    load_prompts,
    load_prompts_at,
    shard_context,
)
from pipeline.stages.sharded import concat_parts, lm_totals, part_paths, run_shards
from pipeline.subsets.base import LabelEnv, Subset
from pipeline.subsets.registry import enabled as enabled_subsets

STAGE = "label"
Progress = Callable[[str, int, int], None]


def _to_label(c: Completion, result: LabelResult, labeler: Labeler) -> Label:
    return Label(c.completion_id, c.prompt_id, result.label, result.score, result.reasoning, labeler.name,
                 labeler.version, json.dumps(result.evidence, sort_keys=True, default=str), result.status)  # fmt: skip


@dataclass
class Labeling:
    labels: list[Label]
    report: dict[str, Any] = field(default_factory=dict)


def automatic(
    completions: Sequence[Completion],
    prompts: dict[str, Prompt],
    subsets: dict[str, Subset],
    env: LabelEnv,
    progress: Progress | None = None,
) -> list[Label]:
    """Every completion labeled by its subset's labeler (one call per subset), in input order."""
    by_subset: dict[str, list[Completion]] = defaultdict(list)
    for c in completions:
        by_subset[c.subset].append(c)
    labeled: dict[str, Label] = {}
    for key, group in by_subset.items():
        labeler = subsets[key].labeler(env)
        for c, result in zip(group, labeler.label(group, prompts, progress)):
            labeled[c.completion_id] = _to_label(c, result, labeler)
    return [labeled[c.completion_id] for c in completions]


def label(
    completions: Sequence[Completion],
    prompts: dict[str, Prompt],
    subsets: dict[str, Subset],
    env: LabelEnv,
    annotations_dir: Path,
    log: DecisionLog,
    progress: Progress | None = None,
) -> Labeling:
    return finalize(automatic(completions, prompts, subsets, env, progress), completions, prompts, annotations_dir, log)


def finalize(
    auto: list[Label], completions: Sequence[Completion], prompts: dict[str, Prompt], annotations_dir: Path,
    log: DecisionLog,
) -> Labeling:  # fmt: skip
    """Human annotations over the automatic labels, one decision per completion, the report."""
    annotations = human.load_annotations(annotations_dir)
    final, overrides = human.apply_annotations(auto, annotations)
    overridden = {o["completion_id"]: o for o in overrides}
    subset_of = {c.completion_id: c.subset for c in completions}
    for lab in final:
        ev = json.loads(lab.evidence)
        why = {"labeler": lab.labeler, "why": lab.reasoning, **ev}
        if lab.completion_id in overridden:
            log.add(lab.completion_id, "changed", "human-override", **overridden[lab.completion_id])
        if lab.label in ("correct", "incorrect"):
            log.kept(lab.completion_id, f"labeled:{lab.label}", **why)
        elif lab.label == "failed":
            log.add(lab.completion_id, "failed", "judge-request-failed", **why)
        elif lab.status == "disagreed":
            log.dropped(lab.completion_id, "judges-disagree", **why)
        else:
            log.dropped(lab.completion_id, "abstain", **why)
    report = labeling_report(final, auto, subset_of, annotations, prompts)
    return Labeling(final, report)


def labeler_table(final: Sequence[Label], subset_of: dict[str, str]) -> list[dict[str, Any]]:
    """Per subset and labeler: completions, each label's count, and the abstains that were a split
    panel (disagreements)."""
    frame = records_frame(final, LABEL_SCHEMA).with_columns(
        pl.col("completion_id").replace_strict(subset_of, return_dtype=pl.String).alias("subset")
    )
    counts = [(pl.col("label") == v).sum().cast(pl.Int64).alias(v) for v in ("correct", "incorrect", "abstain", "failed")]
    split = ((pl.col("label") == "abstain") & (pl.col("status") == "disagreed")).sum().cast(pl.Int64)
    table = frame.group_by("subset", "labeler").agg(pl.len().cast(pl.Int64).alias("completions"), *counts,
                                                    split.alias("disagreements"))  # fmt: skip
    return table.sort("subset", "labeler").to_dicts()


def labeling_report(
    final: Sequence[Label],
    auto: Sequence[Label],
    subset_of: dict[str, str],
    annotations: human.AnnotationSet,
    prompts: dict[str, Prompt],
) -> dict[str, Any]:
    """The labeler table, and agreement with annotations/."""
    prompt_subset = {pid: p.subset or "" for pid, p in prompts.items()}
    return {
        "labelers": labeler_table(final, subset_of),
        "agreement": human_review.agreement_report(list(auto), annotations, prompt_subset),
        "annotations": {
            "files": annotations.files,
            "applied": sum(1 for lab in final if lab.labeler == human.HUMAN_LABELER),
            "issues": human.annotation_issues(annotations, auto),
        },
    }


def shard_work(job: ShardJob, pool: ModelPool, progress: Progress | None) -> dict[str, Any]:
    """One shard: the automatic labels of its prompts' completions, as a part (the judges' LM
    requests are all here; annotations and the report need every label and run after)."""
    ctx = shard_context(job, progress)
    cfg = ctx.cfg
    prompts = {p.prompt_id: p for p in load_prompts_at(job.input("route"), job.wants)}
    completions = load_completions_at(job.input("generate"), set(prompts))
    auto = automatic(completions, prompts, enabled_subsets(cfg), LabelEnv(ctx.templates(), pool.get), progress)
    if len(auto) != len(completions):
        raise AssertionError(f"shard {job.name}: {len(completions)} completions in but {len(auto)} labels")
    write_table(auto, job.part_dir / "auto.parquet", LABEL_SCHEMA)
    return {"prompts": len(prompts), "in": len(completions), "labels": len(auto)}


def run(ctx: RunContext, routed: StageOutput, generated: StageOutput) -> StageOutput:
    """Labels, and `report.json`: per subset and labeler counts, abstains, disagreements, and
    agreement with the human annotations."""
    summaries = run_shards(ctx, STAGE, f"{__name__}:shard_work", {"route": routed, "generate": generated})
    auto_path = concat_parts(part_paths(ctx, STAGE, "auto.parquet"), ctx.stage_dir(STAGE) / "automatic.parquet")
    log = DecisionLog(STAGE, ctx.run_id)
    prompts = {p.prompt_id: p for p in load_prompts(routed)}
    completions = load_completions(generated)
    labeling = finalize(load_labels_at(auto_path), completions, prompts, ctx.base_dir / ctx.cfg.annotations_dir, log)
    atomic_write_text(ctx.stage_dir(STAGE) / "report.json", json.dumps(labeling.report, indent=2))
    table = write_table(labeling.labels, ctx.stage_dir(STAGE) / "labels.parquet", LABEL_SCHEMA)
    return finish(ctx, log, len(completions), table, **lm_totals(summaries))
