"""Publish stage: the Hub-layout folder (card + one parquet file per subset) for this version, and
the card's context (publish/card.json) so that `rb publish` can render it again for another repo."""

from __future__ import annotations

import json

from pipeline.core.io import StageOutput, atomic_write_text, file_fingerprint, read_decision_log, read_rows
from pipeline.core.records import STAGE_ORDER
from pipeline.cost.ledger import read_ledger, totals_by_model
from pipeline.release.folder import load_previous, write_release
from pipeline.stages.context import RunContext
from pipeline.stages.evaluate import require_valid

STAGE = "publish"


def run(ctx: RunContext, assembled: StageOutput, evaluated: StageOutput) -> StageOutput:
    report = require_valid(ctx.cfg.version, evaluated)
    rows = read_rows(assembled.path)
    decisions = list(read_decision_log(ctx.run_dir))
    spec = ctx.cfg.publish.previous_version
    previous = load_previous(spec, ctx.base_dir, ctx.cfg.output_dir) if spec else None
    folder = ctx.run_dir / "hub"
    spend = totals_by_model(read_ledger(ctx.run_dir, STAGE_ORDER))
    context = write_release(folder, ctx.cfg, rows, decisions, report, previous, spend)
    atomic_write_text(ctx.stage_dir(STAGE) / "card.json", json.dumps(context, indent=1))
    readme = folder / "README.md"
    return StageOutput(STAGE, str(folder), file_fingerprint(readme), {"items": len(rows)})
