"""Evaluate stage: release validation, baselines and every configured scorer (report.json), and
the one gate that keeps a release that failed validation from being published."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.io import StageOutput, atomic_write_text, file_fingerprint, read_rows
from pipeline.decontam.detector import Detector
from pipeline.evaluate.report import accuracy_report
from pipeline.evaluate.run import baseline_reports
from pipeline.evaluate.scorers import ratings_judge
from pipeline.evaluate.validate import ReleaseValidationError, failures, validate_release
from pipeline.stages.context import RunContext, lm_counts, record_ledger

STAGE = "evaluate"


def run(ctx: RunContext, assembled: StageOutput) -> StageOutput:
    rows = read_rows(assembled.path)
    cache = ctx.embedding_cache()
    detector = None
    if ctx.cfg.validation.recheck_contamination and ctx.cfg.decontamination.eval_sets:
        detector = Detector.load(ctx.cfg.decontamination, cache, ctx.base_dir)
    validation = validate_release(rows, ctx.cfg.validation, ctx.cfg.num_rejected, detector, cache, ctx.cfg.seed)
    reports = baseline_reports(rows)
    lm: dict[str, int] = {}
    with ctx.model_pool() as pool:
        for scorer in ctx.cfg.evaluate.scorers:
            template = ctx.base_dir / ctx.cfg.prompts_dir / scorer.template
            score = ratings_judge(pool.get(scorer.model), template, scorer.max_tokens)
            reports.append(accuracy_report(scorer.name, rows, score(rows)))
        lm = pool.total()
    record_ledger(ctx, STAGE)
    path = ctx.stage_dir(STAGE) / "report.json"
    report = {"items": len(rows), "validation": validation, "reports": reports}
    atomic_write_text(path, json.dumps(report, indent=2))
    counts = {"items": len(rows), "validation_failed": len(failures(validation)), **lm_counts(lm)}
    return StageOutput(STAGE, str(path), file_fingerprint(path), counts)


def require_valid(version: str, evaluated: StageOutput) -> dict:
    """The evaluation report, or ReleaseValidationError naming every failed check: nothing is
    published from a release that failed validation."""
    report = json.loads(Path(evaluated.path).read_text())
    failed = failures(report["validation"])
    if failed:
        raise ReleaseValidationError(
            f"release {version} failed validation, not published: " + "; ".join(failed)
            + f" (report: {evaluated.path})"
        )
    return report
