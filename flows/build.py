"""The build flow: one Prefect flow that runs the declared stage table (`pipeline.stages.table`).

Every stage runs through one generic, batch-level task named after the stage. Tasks cache on
their inputs (config, upstream content hashes, the stage's extra cache inputs, library code and
prompt templates) plus their own source, with results persisted under the run directory, so a
rerun of an unchanged config resumes from where it got and a finished build reruns without a
single LM request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.runtime import flow_run

import pipeline
from pipeline.core.config import BuildConfig, ConfigError, ReviewConfig, load_config
from pipeline.core.executor_config import ExecutorConfig
from pipeline.core.io import StageOutput, output_intact, remove_partial_files, run_lock, tree_fingerprint
from pipeline.core.run_location import local_run_dir, portable, resolved, run_store
from pipeline.core.store import RunStore, is_remote
from pipeline.cost.budget import Budget
from pipeline.cost.ledger import ledger_markdown, read_ledger, spent
from pipeline.cost.plan import build_plan, plan_markdown, stage_bounds
from pipeline.exec import close_executors
from pipeline.stages.context import RunContext
from pipeline.stages.remote_sync import push_stage
from pipeline.stages.table import STAGES, Stage
from flows.artifacts import (
    ProgressReporter,
    artifact_key,
    publish_card_artifact,
    publish_label_artifacts,
    publish_summary,
    publish_validation,
)
from flows.audit import publish_stage_artifacts
from flows.remote_cache import pull
from flows.review import review_labels

CODE_VERSION = tree_fingerprint(Path(pipeline.__file__).parent)
BY_NAME = {stage.name: stage for stage in STAGES}

# What each stage shows in the UI, published by the flow from the files on disk whether the stage
# ran or came from the Prefect cache (the flag says which).
ARTIFACTS: dict[str, tuple[Callable[[StageOutput, bool], None], ...]] = {
    "label": (publish_stage_artifacts, publish_label_artifacts),
    "evaluate": (publish_validation,),
    "publish": (publish_card_artifact,),
}


@task(name="stage")
def stage_task(
    config_json: str, base_dir: str, code: str, stage: str, cache_inputs: object, upstream: dict[str, StageOutput],
    executor_json: str = "{}",
) -> StageOutput:
    """Run one stage of the table; every parameter but `executor_json` (where shards run: the
    same output anywhere) is a cache input."""
    spec = BY_NAME[stage]
    cfg = BuildConfig.model_validate_json(config_json).model_copy(
        update={"executor": ExecutorConfig.model_validate_json(executor_json)}
    )
    progress = ProgressReporter(stage, spec.progress) if spec.progress else None
    ctx = RunContext(cfg, Path(base_dir), str(flow_run.id or "local"), progress)
    if not is_remote(cfg.output_dir):
        return spec.run(ctx, *(upstream[name] for name in spec.upstream))
    # A remote run's outputs name paths relative to its run directory: the cache then holds on
    # any machine, whatever its working copy is called.
    out = spec.run(ctx, *(resolved(upstream[name], ctx.run_dir) for name in spec.upstream))
    return portable(out, ctx.run_dir)


class StageCaller:
    """Runs tasks with caching under the run directory and remembers which were cache hits."""

    def __init__(self, cfg: BuildConfig, base_dir: Path, store: RunStore | None = None):
        # Prompt templates shape every LM request and judge verdict: a change to one reruns stages.
        code = f"{CODE_VERSION}+prompts:{tree_fingerprint(base_dir / cfg.prompts_dir, '**/*')}"
        self.cfg, self.base_dir = cfg, base_dir
        # `review` changes no stage's output (the annotation files it writes are the label stage's
        # cache inputs), so turning it on or off reuses every cached stage.
        # Nor does where the shards run: a build moved to a cluster reuses every cached stage.
        self.common = (cfg.model_dump_json(exclude={"review", "executor"}), str(base_dir), code)
        self.run_dir, self.store = local_run_dir(cfg, base_dir), store
        storage_dir = self.run_dir / ".prefect"
        # A Path (not an unsaved block) makes Prefect use local files under the run directory.
        self.storage = storage_dir / "results"
        self.policy = ((INPUTS - "executor_json") + TASK_SOURCE).configure(key_storage=str(storage_dir / "keys"))
        self.outputs: dict[str, StageOutput] = {}
        self.cached: list[str] = []
        self.earlier: list[StageOutput] = []  # outputs of this run replaced by a later run of the stage

    def __call__(self, stage: Stage) -> StageOutput:
        configured = stage_task.with_options(
            name=stage.name, cache_policy=self.policy, result_storage=self.storage, persist_result=True
        )
        extra = stage.cache_inputs(self.cfg, self.base_dir) if stage.cache_inputs else None
        args = (*self.common, stage.name, extra, {name: self._passed(self.outputs[name]) for name in stage.upstream},
                self.cfg.executor.model_dump_json())  # fmt: skip
        state = configured(*args, return_state=True)
        out = self._cached_output(state)
        if out is None:
            state = configured.with_options(refresh_cache=True)(*args, return_state=True)
            out = self._here(state.result())
        cached = state.name == "Cached"
        # A stage run twice (the label stage after a review): its earlier run's LM traffic counts too.
        if out.stage in self.outputs:
            if out.stage in self.cached:
                self.cached.remove(out.stage)
            else:
                self.earlier.append(self.outputs[out.stage])
        if cached:
            self.cached.append(out.stage)
        self.outputs[out.stage] = out
        if self.store is not None:
            push_stage(self.store, self.run_dir, stage, out, str(flow_run.id or "local"), cached)
        for publish in ARTIFACTS.get(stage.name, (publish_stage_artifacts,)):
            publish(out, cached)
        return out

    def _passed(self, out: StageOutput) -> StageOutput:
        """An upstream output as the task (and its cache key) sees it."""
        return portable(out, self.run_dir) if self.store is not None else out

    def _here(self, out: StageOutput) -> StageOutput:
        """A task's output with its path in this working copy (remote runs pass relative paths)."""
        return resolved(out, self.run_dir) if self.store is not None else out

    def _cached_output(self, state: Any) -> StageOutput | None:
        """The stage's output, or None when a cached one must not be reused: its result file is
        unreadable (a run killed while Prefect wrote it), its table is gone or changed on disk, or
        some of its LM requests failed for good (a rerun sends just those; the rest are cached)."""
        try:
            out: StageOutput = self._here(state.result())
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
        for out in (*self.earlier, *self.outputs.values()):
            if out.stage in self.cached and self.outputs[out.stage] is out:
                continue
            for key in totals:
                totals[key] += out.counts.get(f"lm_{key}", 0)
        return totals


@flow(name="build-benchmark", log_prints=True)
def build(config_path: str, version: str | None = None, base_dir: str = ".", review: bool = False) -> dict[str, Any]:
    """The stage table, in order (see pipeline.stages.table); `review` pauses after labeling for a
    review in the UI (the config's `review:` settings, or the defaults)."""
    root = Path(base_dir).resolve()
    cfg = load_config(config_path, version)
    if review and cfg.review is None:
        cfg = cfg.model_copy(update={"review": ReviewConfig()})
    missing = cfg.missing_prompt_files(root)
    if missing:
        raise ConfigError(f"{config_path}: prompt templates not found under {root / cfg.prompts_dir}: {', '.join(missing)}")
    store = run_store(cfg)  # a remote output is checked here, before any stage
    with run_lock(local_run_dir(cfg, root)):
        if store is not None:
            pull(store, local_run_dir(cfg, root), get_run_logger().info)
        try:
            return _build_stages(cfg, root, store)
        finally:
            close_executors()


def _plan(cfg: BuildConfig, root: Path) -> dict[str, Any]:
    """The plan, logged and shown as an artifact. Without a budget a plan that cannot be made
    (say, a source it cannot read yet) is a warning; with one it stops the build: no bound, no check."""
    try:
        plan = build_plan(cfg, root, cache_path=root / cfg.lm_cache)
    except Exception as exc:
        if cfg.budget_usd is not None:
            raise
        get_run_logger().warning("no plan: %s: %s", type(exc).__name__, exc)
        return {"rows": [], "total_usd": None}
    get_run_logger().info("plan (nothing sent yet):\n%s", plan_markdown(plan))
    create_markdown_artifact(key=artifact_key(cfg.version, "plan"), markdown=plan_markdown(plan),
                             description="Requests, tokens and cost bounds per stage and model")  # fmt: skip
    return plan


def _build_stages(cfg: BuildConfig, root: Path, store: RunStore | None) -> dict[str, Any]:
    logger = get_run_logger()
    run_dir = local_run_dir(cfg, root)
    for path in remove_partial_files(run_dir):
        logger.warning("removed %s, left half-written by an interrupted run", path)
    plan = _plan(cfg, root)
    budget = Budget(cfg.budget_usd, stage_bounds(plan))
    run_id = str(flow_run.id or "local")
    stage = StageCaller(cfg, root, store)
    reviewed: dict[str, Any] | None = None
    for spec in STAGES:
        budget.check(spec.name)
        # A release that failed validation stops at publish, before anything is written.
        stage(spec)
        budget.add_spent(read_ledger(run_dir, [spec.name], run_id))
        if spec.name == "label" and cfg.review is not None:
            reviewed = review_labels(cfg, root, *(stage.outputs[n] for n in ("route", "generate", "label")))
            if reviewed.get("file"):
                # The new annotation file is a cache input of the label stage: it relabels (its
                # judges' answers come from the response cache) with the corrections applied.
                logger.info("label: applying the review before assembly")
                stage(spec)
    assembled, evaluated, published = (stage.outputs[n] for n in ("assemble", "evaluate", "publish"))
    ledger = read_ledger(run_dir, [s.name for s in STAGES], run_id)
    logger.info("spend ledger of this run:\n%s", ledger_markdown(ledger))
    create_markdown_artifact(key=artifact_key(cfg.version, "ledger"), markdown=ledger_markdown(ledger),
                             description="Tokens and cost per stage and model, this run")  # fmt: skip

    lm = stage.lm_requests()
    logger.info(
        "LM requests this run: %d sent (%d retries), %d answered from the response cache, %d failed; "
        "stages reused from the Prefect cache: %s",
        lm["sent"], lm["retries"], lm["cache_hits"], lm["failed"], ", ".join(stage.cached) or "none",
    )  # fmt: skip
    summary = {
        "version": cfg.version,
        "run_dir": str(run_dir),
        "release": assembled.path,
        "hub_folder": published.path,
        "report": evaluated.path,
        "items": assembled.counts.get("items", 0),
        "lm_requests": lm,
        "ledger": ledger,
        "spent_usd": spent(ledger),
        "plan_usd": plan["total_usd"],
        "cached_stages": stage.cached,
        "stages": {name: out.counts for name, out in stage.outputs.items()},
        "review": reviewed,
    }
    if store is not None:
        summary["run_url"] = store.url()
        summary["release_url"] = store.url(portable(assembled, run_dir).path)
        logger.info("release on object storage: %s (run directory %s)", summary["release_url"], summary["run_url"])
    publish_summary(summary, json.loads(Path(evaluated.path).read_text())["reports"])
    return summary
