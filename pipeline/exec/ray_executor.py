"""Shards on a Ray cluster: one task per shard, API models gated cluster-wide, local models as
long-lived engine actors, and a shard whose worker died run again (its finished requests come
from its own response cache, so only the ones in flight are sent twice).

The executor lives for the build process: its gates and engines serve every stage, and `close`
stops them. Each shard task gets its own response cache file; the stage merges them into the
build's cache when every shard is done (pipeline.lm.shard_cache).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, ContextManager

import ray
from ray.exceptions import (
    ActorDiedError,
    NodeDiedError,
    ObjectLostError,
    OutOfMemoryError,
    RayTaskError,
    WorkerCrashedError,
)

from pipeline.core.config import BuildConfig, ModelConfig
from pipeline.core.executor_config import ExecutorConfig
from pipeline.exec.local import OnDone
from pipeline.exec.ray_actors import (
    BatchEngineProxy,
    BoardReporter,
    EngineActor,
    EngineProxy,
    GateActor,
    ProgressBoard,
    RemoteGate,
)
from pipeline.exec.shards import Progress, ShardJob, run_shard
from pipeline.lm.gate import GatedBackend
from pipeline.lm.pool import ModelPool, build_backend
from pipeline.lm.shard_cache import ShardCache

log = logging.getLogger(__name__)
# A worker (or its node) that died takes its shard with it; anything else a shard raises is a bug
# or a bad config, and stops the stage.
LOST = (WorkerCrashedError, NodeDiedError, ObjectLostError, OutOfMemoryError, ActorDiedError)
ENGINE_BACKENDS = ("local", "vllm")


def _shard_pool(cfg: BuildConfig, base: Path, job: ShardJob, attempt: int, gates: dict[str, Any],
                engines: dict[str, Any]) -> ModelPool:  # fmt: skip
    """A worker's pool: its own cache over the build's, gated API backends, engine proxies."""
    holder = f"{job.name}#{attempt}"

    def backend_for(model: ModelConfig) -> Any:
        if model.name in engines:
            proxy = EngineProxy(engines[model.name])
            return BatchEngineProxy(engines[model.name]) if _batched(engines[model.name]) else proxy
        return GatedBackend(build_backend(model, base / cfg.models_dir), RemoteGate(gates[model.name]), holder)

    cache = ShardCache(job.cache_path, base / cfg.lm_cache)
    return ModelPool(cfg.models, base / cfg.lm_cache, base / cfg.models_dir, Path(job.run_dir) / "batches", cache,
                     backend_for)  # fmt: skip


def _batched(actor: Any) -> bool:
    return bool(ray.get(actor.describe.remote())["batched"])


@ray.remote(max_retries=0)
def _shard_task(job: ShardJob, attempt: int, gates: dict[str, Any], engines: dict[str, Any], board: Any) -> dict:
    cfg = BuildConfig.model_validate_json(job.config_json)
    with _shard_pool(cfg, Path(job.base_dir), job, attempt, gates, engines) as pool:
        return run_shard(job, pool, BoardReporter(board, job.name), attempt)


class RayExecutor:
    kind = "ray"

    def __init__(self, settings: ExecutorConfig):
        self.settings = settings
        self._gates: dict[str, Any] = {}
        self._engines: dict[str, Any] = {}
        self._board: Any = None

    def connect(self) -> None:
        if ray.is_initialized():
            return
        # The config's address, else RAY_ADDRESS, else a cluster of this machine's own ("local": with
        # None, ray.init joins the cluster a `ray start` on this machine recorded, if one is up).
        address = self.settings.address or os.environ.get("RAY_ADDRESS") or "local"
        own = address == "local"
        try:
            ray.init(address=address, num_cpus=self.settings.num_cpus if own else None, namespace="rbbench",
                     include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)  # fmt: skip
        except (ConnectionError, RuntimeError) as exc:
            raise RuntimeError(
                f"cannot reach the Ray cluster at {address}: {str(exc).splitlines()[0]} (token auth: the cluster's "
                "token must be in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, with RAY_AUTH_MODE=token)"
            ) from None

    def _actors(self, cfg: BuildConfig, base: Path) -> None:
        """Gates and engines for the build's models, made once and kept across stages."""
        for model in cfg.models:
            if model.batch or model.name in self._gates or model.name in self._engines:
                continue
            if model.backend in ENGINE_BACKENDS:
                self._engines[model.name] = EngineActor.options(
                    num_cpus=0, num_gpus=self.settings.engine_gpus, max_concurrency=max(4, model.max_concurrency * 4)
                ).remote(model.model_dump_json(), str(base / cfg.models_dir))  # fmt: skip
            else:
                self._gates[model.name] = GateActor.remote(model.max_concurrency, model.requests_per_minute)
        if self._board is None:
            self._board = ProgressBoard.remote()

    def run(self, jobs: list[ShardJob], open_pool: Callable[[], ContextManager[Any]], progress: Progress | None,
            on_done: OnDone) -> list[dict[str, Any]]:  # fmt: skip
        if not jobs:
            return []
        self.connect()
        cfg = BuildConfig.model_validate_json(jobs[0].config_json)
        self._actors(cfg, Path(jobs[0].base_dir))
        for job in jobs:
            job.cache_path.parent.mkdir(parents=True, exist_ok=True)
        pending = {self._submit(job, 1): (job, 1) for job in jobs}
        summaries: dict[str, dict[str, Any]] = {}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                self._forward_progress(progress)
                for ref in ready:
                    job, attempt = pending.pop(ref)
                    try:
                        summary = ray.get(ref)
                    except LOST as exc:
                        pending[self._retry(job, attempt, exc)] = (job, attempt + 1)
                        continue
                    except RayTaskError as exc:
                        raise exc.as_instanceof_cause() from None
                    summaries[job.name] = summary
                    on_done(job, summary)
            self._forward_progress(progress)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
        return [summaries[job.name] for job in jobs]

    def _submit(self, job: ShardJob, attempt: int) -> Any:
        task = _shard_task.options(num_cpus=self.settings.cpus_per_shard, name=job.name)
        return task.remote(job, attempt, self._gates, self._engines, self._board)

    def _retry(self, job: ShardJob, attempt: int, exc: BaseException) -> Any:
        """Hand back the permits the dead worker held, and run the shard again."""
        holder = f"{job.name}#{attempt}"
        freed = sum(ray.get([gate.reclaim.remote(holder) for gate in self._gates.values()]))
        if attempt >= self.settings.shard_attempts:
            raise RuntimeError(f"shard {job.name}: its worker died {attempt} times; last: {type(exc).__name__}") from None
        log.warning("shard %s: worker lost (%s); running it again (%d permits handed back)",
                    job.name, type(exc).__name__, freed)  # fmt: skip
        return self._submit(job, attempt + 1)

    def _forward_progress(self, progress: Progress | None) -> None:
        if progress is None or self._board is None:
            return
        for shard, label, done, total in ray.get(self._board.take.remote()):
            progress(f"{shard} {label}", done, total)

    def gate_stats(self) -> dict[str, dict[str, int]]:
        return {name: ray.get(gate.stats.remote()) for name, gate in self._gates.items()}

    def engine_info(self) -> dict[str, dict[str, Any]]:
        return {name: ray.get(engine.describe.remote()) for name, engine in self._engines.items()}

    def close(self) -> None:
        for engine in self._engines.values():
            try:
                ray.get(engine.close.remote(), timeout=60)
            except Exception:  # a dead engine has nothing left to close
                pass
            ray.kill(engine)
        for actor in [*self._gates.values(), *([self._board] if self._board is not None else [])]:
            ray.kill(actor)
        self._engines.clear()
        self._gates.clear()
        self._board = None

