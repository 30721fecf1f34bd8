"""The build flow: one Prefect flow whose body is the stage list.

Each stage is one batch-level task calling `pipeline.stages`. Tasks cache on their inputs
(config, upstream content hashes, library code hash) plus their own source, with results
persisted under the run directory, so a rerun of an unchanged config resumes from where it got
and a finished build reruns without a single LM request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.runtime import flow_run

import pipeline
from pipeline import stages
from pipeline.config import BuildConfig, ConfigError, DataLocation, load_config
from pipeline.evaluate.validate import ReleaseValidationError, failures
from pipeline.io import StageOutput, file_fingerprint, output_intact, remove_partial_files, run_lock, tree_fingerprint
from pipeline.publish import previous_release_path
from pipeline.sources import resolve
from flows.artifacts import (
    ProgressReporter,
    publish_card_artifact,
    publish_label_artifacts,
    publish_stage_artifacts,
    publish_summary,
    publish_validation,
)

CODE_VERSION = tree_fingerprint(Path(pipeline.__file__).parent)


def _context(config_json: str, base_dir: str, progress: ProgressReporter | None = None) -> stages.RunContext:
    cfg = BuildConfig.model_validate_json(config_json)
    run_id = str(flow_run.id or "local")
    return stages.RunContext(cfg, Path(base_dir), run_id, progress)


# Every task takes (config_json, base_dir, code, ...upstream outputs); all are cache inputs.
@task(name="ingest")
def ingest_task(config_json: str, base_dir: str, code: str, source_hashes: dict[str, str]) -> StageOutput:
    out = stages.run_ingest(_context(config_json, base_dir, ProgressReporter("ingest", "texts embedded")))
    publish_stage_artifacts(out)
    return out


@task(name="decontaminate")
def decontaminate_task(
    config_json: str, base_dir: str, code: str, eval_hashes: dict[str, str], ingested: StageOutput
) -> StageOutput:
    progress = ProgressReporter("decontaminate", "texts embedded")
    out = stages.run_decontaminate(_context(config_json, base_dir, progress), ingested)
    publish_stage_artifacts(out)
    return out


@task(name="route")
def route_task(config_json: str, base_dir: str, code: str, clean: StageOutput) -> StageOutput:
    out = stages.run_route(_context(config_json, base_dir), clean)
    publish_stage_artifacts(out)
    return out


@task(name="generate")
def generate_task(config_json: str, base_dir: str, code: str, routed: StageOutput) -> StageOutput:
    out = stages.run_generate(_context(config_json, base_dir, ProgressReporter("generate")), routed)
    publish_stage_artifacts(out)
    return out


@task(name="label")
def label_task(
    config_json: str, base_dir: str, code: str, annotation_hashes: dict[str, str], routed: StageOutput,
    generated: StageOutput,
) -> StageOutput:
    out = stages.run_label(_context(config_json, base_dir, ProgressReporter("label", "judge answers")), routed, generated)
    publish_stage_artifacts(out)
    publish_label_artifacts(out)
    return out


@task(name="assemble")
def assemble_task(
    config_json: str, base_dir: str, code: str, routed: StageOutput, generated: StageOutput, labeled: StageOutput
) -> StageOutput:
    out = stages.run_assemble(_context(config_json, base_dir), routed, generated, labeled)
    publish_stage_artifacts(out)
    return out


@task(name="evaluate")
def evaluate_task(config_json: str, base_dir: str, code: str, assembled: StageOutput) -> StageOutput:
    out = stages.run_evaluate(_context(config_json, base_dir), assembled)
    publish_validation(out)
    return out


@task(name="publish")
def publish_task(
    config_json: str, base_dir: str, code: str, previous: str, assembled: StageOutput, evaluated: StageOutput
) -> StageOutput:
    out = stages.run_publish(_context(config_json, base_dir), assembled, evaluated)
    publish_card_artifact(out)
    return out


def _hashes(base_dir: Path, locations: dict[str, DataLocation]) -> dict[str, str]:
    """Cache inputs for the stage that reads these sources: a local file's content hash (a
    missing one hashes as "missing" so the stage reports it with its own clear message), or a
    Hub dataset's id, split and revision."""
    hashes = {}
    for name, loc in locations.items():
        if loc.path is None:
            hashes[name] = loc.describe()
            continue
        path = resolve(loc.path, base_dir)
        hashes[name] = file_fingerprint(path) if path.is_file() else "missing"
    return hashes


def _previous_release_hash(root: Path, cfg: BuildConfig) -> str:
    """Cache input of the publish stage: the card compares the release with the previous version."""
    spec = cfg.publish.previous_version
    if not spec:
        return "none"
    path = previous_release_path(spec, root, cfg.output_dir)
    if path is None:
        return spec  # a Hub dataset id (pin a revision with @TAG for an exact card)
    return tree_fingerprint(path, "**/*") if path.is_dir() else file_fingerprint(path)


class StageCaller:
    """Runs tasks with caching under the run directory and remembers which were cache hits."""

    def __init__(self, cfg: BuildConfig, base_dir: Path):
        # Prompt templates shape every LM request and judge verdict: a change to one reruns stages.
        code = f"{CODE_VERSION}+prompts:{tree_fingerprint(base_dir / cfg.prompts_dir, '**/*')}"
        self.common = (cfg.model_dump_json(), str(base_dir), code)
        storage_dir = base_dir / cfg.output_dir / cfg.version / ".prefect"
        # A Path (not an unsaved block) makes Prefect use local files under the run directory.
        self.storage = storage_dir / "results"
        self.policy = (INPUTS + TASK_SOURCE).configure(key_storage=str(storage_dir / "keys"))
        self.outputs: dict[str, StageOutput] = {}
        self.cached: list[str] = []

    def __call__(self, stage_task: Any, *upstream: Any) -> StageOutput:
        configured = stage_task.with_options(
            cache_policy=self.policy, result_storage=self.storage, persist_result=True
        )
        state = configured(*self.common, *upstream, return_state=True)
        out = self._cached_output(state)
        if out is None:
            state = configured.with_options(refresh_cache=True)(*self.common, *upstream, return_state=True)
            out = state.result()
        if state.name == "Cached":
            self.cached.append(out.stage)
        self.outputs[out.stage] = out
        return out

    @staticmethod
    def _cached_output(state: Any) -> StageOutput | None:
        """The stage's output, or None when a cached one must not be reused: its result file is
        unreadable (a run killed while Prefect wrote it), its table is gone or changed on disk, or
        some of its LM requests failed for good (a rerun sends just those; the rest are cached)."""
        try:
            out: StageOutput = state.result()
        except Exception:
            if state.name != "Cached":
                raise
            get_run_logger().warning("cached result of a stage is unreadable; running the stage again")
            return None
        if state.name != "Cached":
            return out
        if not output_intact(out):
            return None
        if out.counts.get("lm_failed", 0):
            get_run_logger().info(
                "stage %s: %d LM requests failed last time; running it again to retry them",
                out.stage, out.counts["lm_failed"],
            )  # fmt: skip
            return None
        return out

    def lm_requests(self) -> dict[str, int]:
        """LM traffic of this run only: a cached stage sent nothing."""
        totals = {"sent": 0, "cache_hits": 0, "retries": 0, "failed": 0}
        for stage, out in self.outputs.items():
            if stage in self.cached:
                continue
            for key in totals:
                totals[key] += out.counts.get(f"lm_{key}", 0)
        return totals


@flow(name="build-benchmark", log_prints=True)
def build(config_path: str, version: str | None = None, base_dir: str = ".") -> dict[str, Any]:
    """ingest -> decontaminate -> route -> generate -> label -> assemble -> evaluate -> publish"""
    root = Path(base_dir).resolve()
    cfg = load_config(config_path, version)
    missing = cfg.missing_prompt_files(root)
    if missing:
        raise ConfigError(f"{config_path}: prompt templates not found under {root / cfg.prompts_dir}: {', '.join(missing)}")
    with run_lock(root / cfg.output_dir / cfg.version):
        return _build_stages(cfg, root)


def _build_stages(cfg: BuildConfig, root: Path) -> dict[str, Any]:
    logger = get_run_logger()
    for path in remove_partial_files(root / cfg.output_dir / cfg.version):
        logger.warning("removed %s, left half-written by an interrupted run", path)
    stage = StageCaller(cfg, root)
    sources = _hashes(root, {s.name: s for s in cfg.sources})
    eval_sets = _hashes(root, {e.name: e for e in cfg.decontamination.eval_sets})

    ingested = stage(ingest_task, sources)
    clean = stage(decontaminate_task, eval_sets, ingested)
    routed = stage(route_task, clean)
    generated = stage(generate_task, routed)
    # Annotation files are inputs of the label stage: editing one relabels on the next run.
    annotations = {p.name: file_fingerprint(p) for p in sorted((root / cfg.annotations_dir).glob("*.jsonl"))}
    labeled = stage(label_task, annotations, routed, generated)
    assembled = stage(assemble_task, routed, generated, labeled)
    evaluated = stage(evaluate_task, assembled)
    validation = json.loads(Path(evaluated.path).read_text())["validation"]
    if not validation["passed"]:
        # Stop before anything is published; the report and the validation artifact say why.
        raise ReleaseValidationError(
            f"release {cfg.version} failed validation, not published: " + "; ".join(failures(validation))
            + f" (report: {evaluated.path})"
        )
    published = stage(publish_task, _previous_release_hash(root, cfg), assembled, evaluated)

    lm = stage.lm_requests()
    logger.info(
        "LM requests this run: %d sent (%d retries), %d answered from the response cache, %d failed; "
        "stages reused from the Prefect cache: %s",
        lm["sent"], lm["retries"], lm["cache_hits"], lm["failed"], ", ".join(stage.cached) or "none",
    )  # fmt: skip
    summary = {
        "version": cfg.version,
        "run_dir": str(root / cfg.output_dir / cfg.version),
        "release": assembled.path,
        "hub_folder": published.path,
        "report": evaluated.path,
        "items": assembled.counts.get("items", 0),
        "lm_requests": lm,
        "cached_stages": stage.cached,
        "stages": {name: out.counts for name, out in stage.outputs.items()},
    }
    publish_summary(summary, json.loads(Path(evaluated.path).read_text())["reports"])
    return summary
