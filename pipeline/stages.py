"""Stage runners: read the upstream table, call the stage, write its table and decisions.

Each runner is what one orchestration task calls. It checks that its decision log balances
(items in = kept + dropped + failed) before anything downstream can read its output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline import assemble as assemble_mod
from pipeline import decontaminate as decontaminate_mod
from pipeline import generate as generate_mod
from pipeline import ingest as ingest_mod
from pipeline import route as route_mod
from pipeline.config import BuildConfig
from pipeline.embed import Embedder, EmbeddingCache
from pipeline.evaluate.report import accuracy_report
from pipeline.evaluate.run import baseline_reports
from pipeline.evaluate.scorers import ratings_judge
from pipeline.evaluate.validate import ReleaseValidationError, failures, validate_release
from pipeline.generate import Progress
from pipeline.io import (
    DecisionLog,
    StageOutput,
    atomic_write_text,
    file_fingerprint,
    read_decision_log,
    read_rows,
    write_parquet,
)
from pipeline.label import run as label_mod
from pipeline.lm import ModelPool
from pipeline.publish import load_previous, write_release
from pipeline.records import LABEL_SCHEMA, QUARANTINE_SCHEMA, RB2_SCHEMA, TRANSFORM_SCHEMA, Completion, Label, Prompt


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

    def embedding_cache(self) -> EmbeddingCache:
        emb = self.cfg.embeddings
        return EmbeddingCache(Embedder(emb.model, emb.batch_size, self.progress), self.base_dir / emb.cache_dir)

    def model_pool(self) -> ModelPool:
        return ModelPool(self.cfg.models, self.base_dir / self.cfg.lm_cache, self.base_dir / self.cfg.models_dir)


def _finish(ctx: RunContext, log: DecisionLog, items_in: int, table: Path, **counts: int) -> StageOutput:
    log.check_balance(items_in)
    log.write(ctx.stage_dir(log.stage) / "decisions.parquet")
    tally = {"in": items_in, **counts}
    for decision in log.rows:
        tally[decision.decision] = tally.get(decision.decision, 0) + 1
    return StageOutput(log.stage, str(table), file_fingerprint(table), tally)


def _prompt_rows(prompts: list[Prompt]) -> list[dict[str, Any]]:
    return [{**asdict(p), "metadata": json.dumps(p.metadata, sort_keys=True, default=str)} for p in prompts]


def load_prompts(out: StageOutput) -> list[Prompt]:
    return [Prompt(**{**r, "metadata": json.loads(r["metadata"])}) for r in read_rows(out.path)]


def _write_prompts(ctx: RunContext, stage: str, prompts: list[Prompt]) -> Path:
    return write_parquet(_prompt_rows(prompts), ctx.stage_dir(stage) / "prompts.parquet")


def _write_quarantine(ctx: RunContext, log: DecisionLog) -> Path:
    """Bad input rows in one table a person can fix the sources from: source, file, line, reason."""
    rows = []
    for d in log.rows:
        if d.reason == "quarantined":
            ev = json.loads(d.evidence)
            rows.append({k: ev.get(k) for k in ("source", "file", "line", "problem", "raw")})
    return write_parquet(rows, ctx.stage_dir(log.stage) / "quarantine.parquet", QUARANTINE_SCHEMA)


def run_ingest(ctx: RunContext) -> StageOutput:
    log = DecisionLog(ingest_mod.STAGE, ctx.run_id)
    cache = ctx.embedding_cache()
    prompts, read = ingest_mod.ingest(ctx.cfg.sources, ctx.cfg.ingest, ctx.base_dir, log, cache)
    _write_quarantine(ctx, log)
    return _finish(ctx, log, read, _write_prompts(ctx, log.stage, prompts))


def run_decontaminate(ctx: RunContext, upstream: StageOutput) -> StageOutput:
    log = DecisionLog(decontaminate_mod.STAGE, ctx.run_id)
    prompts = load_prompts(upstream)
    cache = ctx.embedding_cache()
    detector = decontaminate_mod.Detector.load(ctx.cfg.decontamination, cache, ctx.base_dir)
    kept = decontaminate_mod.decontaminate(prompts, detector, cache, log)
    sizes = {f"evalset_{name}": n for name, n in detector.sizes().items()}
    return _finish(ctx, log, len(prompts), _write_prompts(ctx, log.stage, kept), **sizes)


def run_route(ctx: RunContext, upstream: StageOutput) -> StageOutput:
    log = DecisionLog(route_mod.STAGE, ctx.run_id)
    prompts = load_prompts(upstream)
    routing, enabled = ctx.cfg.routing, ctx.cfg.subsets.enabled()
    lm: dict[str, int] = {}
    with ctx.model_pool() as pool:
        classify = None
        if routing.classifier is not None:
            template = ctx.base_dir / ctx.cfg.prompts_dir / (routing.classifier.template or route_mod.DEFAULT_TEMPLATE)
            classify = route_mod.llm_classifier(routing, list(enabled), template.read_text(), pool.get)
        routed = route_mod.route(prompts, routing, set(enabled), log, classify)
        lm = pool.total()
    return _finish(ctx, log, len(prompts), _write_prompts(ctx, log.stage, routed), **_lm_counts(lm))


def _lm_counts(lm: dict[str, int]) -> dict[str, int]:
    return {f"lm_{k}": v for k, v in lm.items()}


def run_generate(ctx: RunContext, upstream: StageOutput) -> StageOutput:
    log = DecisionLog(generate_mod.STAGE, ctx.run_id)
    prompts = load_prompts(upstream)
    with ctx.model_pool() as pool:
        generated = generate_mod.generate(ctx.cfg, prompts, pool, ctx.base_dir, log, ctx.progress)
        lm = pool.total()
    write_parquet(generated.transforms, ctx.stage_dir(log.stage) / "transforms.parquet", TRANSFORM_SCHEMA)
    table = write_parquet(generated.completions, ctx.stage_dir(log.stage) / "completions.parquet")
    return _finish(ctx, log, generated.items, table, **_lm_counts(lm))


def run_label(ctx: RunContext, routed: StageOutput, generated: StageOutput) -> StageOutput:
    """Labels, and `report.json`: per subset and labeler counts, abstains, disagreements, and
    agreement with the human annotations."""
    log = DecisionLog(label_mod.STAGE, ctx.run_id)
    prompts = {p.prompt_id: p for p in load_prompts(routed)}
    completions = [Completion(**r) for r in read_rows(generated.path)]
    with ctx.model_pool() as pool:
        labeling = label_mod.label(completions, prompts, ctx.cfg, ctx.base_dir, pool.get, log, ctx.progress)
        lm = pool.total()
    atomic_write_text(ctx.stage_dir(log.stage) / "report.json", json.dumps(labeling.report, indent=2))
    table = write_parquet(labeling.labels, ctx.stage_dir(log.stage) / "labels.parquet", LABEL_SCHEMA)
    return _finish(ctx, log, len(completions), table, **_lm_counts(lm))


def run_assemble(ctx: RunContext, routed: StageOutput, generated: StageOutput, labeled: StageOutput) -> StageOutput:
    log = DecisionLog(assemble_mod.STAGE, ctx.run_id)
    prompts = {p.prompt_id: p for p in load_prompts(routed)}
    completions = [Completion(**r) for r in read_rows(generated.path)]
    labels = [Label(**r) for r in read_rows(labeled.path)]
    rows = assemble_mod.assemble(prompts, completions, labels, ctx.cfg.num_rejected, ctx.cfg.seed, log)
    rows.sort(key=lambda r: (r["subset"], r["id"]))
    table = write_parquet(rows, ctx.stage_dir(log.stage) / "test.parquet", RB2_SCHEMA)
    return _finish(ctx, log, len(prompts), table, items=len(rows))


def run_evaluate(ctx: RunContext, assembled: StageOutput) -> StageOutput:
    """Release validation, baselines and every configured scorer; writes report.json."""
    rows = read_rows(assembled.path)
    cache = ctx.embedding_cache()
    detector = None
    if ctx.cfg.validation.recheck_contamination and ctx.cfg.decontamination.eval_sets:
        detector = decontaminate_mod.Detector.load(ctx.cfg.decontamination, cache, ctx.base_dir)
    validation = validate_release(rows, ctx.cfg.validation, ctx.cfg.num_rejected, detector, cache, ctx.cfg.seed)
    reports = baseline_reports(rows)
    lm: dict[str, int] = {}
    with ctx.model_pool() as pool:
        for scorer in ctx.cfg.evaluate.scorers:
            template = ctx.base_dir / ctx.cfg.prompts_dir / scorer.template
            score = ratings_judge(pool.get(scorer.model), template, scorer.max_tokens)
            reports.append(accuracy_report(scorer.name, rows, score(rows)))
        lm = pool.total()
    path = ctx.stage_dir("evaluate") / "report.json"
    report = {"items": len(rows), "validation": validation, "reports": reports}
    atomic_write_text(path, json.dumps(report, indent=2))
    counts = {"items": len(rows), "validation_failed": len(failures(validation)), **_lm_counts(lm)}
    return StageOutput("evaluate", str(path), file_fingerprint(path), counts)


def run_publish(ctx: RunContext, assembled: StageOutput, evaluated: StageOutput) -> StageOutput:
    """The Hub-layout folder (card + one parquet file per subset) for this version, and the card's
    context (publish/card.json) so that `rb publish` can render it again for another repo id."""
    rows = read_rows(assembled.path)
    report = json.loads(Path(evaluated.path).read_text())
    failed = failures(report["validation"])
    if failed:
        raise ReleaseValidationError(f"release {ctx.cfg.version} failed validation: " + "; ".join(failed))
    decisions = list(read_decision_log(ctx.run_dir))
    spec = ctx.cfg.publish.previous_version
    previous = load_previous(spec, ctx.base_dir, ctx.cfg.output_dir) if spec else None
    folder = ctx.run_dir / "hub"
    context = write_release(folder, ctx.cfg, rows, decisions, report, previous)
    atomic_write_text(ctx.stage_dir("publish") / "card.json", json.dumps(context, indent=1))
    readme = folder / "README.md"
    return StageOutput("publish", str(folder), file_fingerprint(readme), {"items": len(rows)})
