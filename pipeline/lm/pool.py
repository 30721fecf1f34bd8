"""Build backends from the config and own them for one run, so every engine gets stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pipeline.core.config import ModelConfig
from pipeline.lm.cache import ResponseCache
from pipeline.lm.retry import RetryPolicy
from pipeline.lm.runner import CachedModel, RequestStats, SingleRequestBackend


def build_backend(cfg: ModelConfig, models_dir: Path) -> SingleRequestBackend:
    """The backend a model entry describes. Imports SDKs lazily: a config that uses only one
    provider must not need the others installed."""
    if cfg.backend == "openai":
        from pipeline.lm.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            cfg.provider_model,
            base_url=cfg.base_url,
            api_key_env=cfg.api_key_env or ("OPENAI_API_KEY" if cfg.base_url is None else None),
            retry=RetryPolicy.for_model(cfg),
            timeout_s=cfg.timeout_s,
            schema_style=cfg.structured_outputs,
        )
    if cfg.backend == "anthropic":
        from pipeline.lm.anthropic_backend import AnthropicBackend

        return AnthropicBackend(
            cfg.provider_model,
            base_url=cfg.base_url,
            api_key_env=cfg.api_key_env or "ANTHROPIC_API_KEY",
            retry=RetryPolicy.for_model(cfg),
            timeout_s=cfg.timeout_s,
        )
    if cfg.backend == "vllm":
        from pipeline.lm.vllm_offline import VllmOfflineBackend

        return VllmOfflineBackend(cfg.provider_model, engine_args=cfg.engine_args)
    from pipeline.lm.local import LocalBackend

    assert cfg.model_file is not None
    return LocalBackend(
        cfg.name,
        cfg.model_file,
        models_dir,
        chat_format=cfg.chat_format,
        n_ctx=cfg.n_ctx,
        retry=RetryPolicy.for_model(cfg),
        timeout_s=cfg.timeout_s,
    )


class ModelPool:
    """Lazily built `CachedModel`s sharing one response cache; a context manager that closes them."""

    def __init__(
        self,
        configs: list[ModelConfig],
        cache_path: Path,
        models_dir: Path,
        batch_dir: Path | None = None,
        cache: ResponseCache | None = None,
        backend_for: Callable[[ModelConfig], SingleRequestBackend] | None = None,
    ):
        """`cache` replaces the one at cache_path (a worker's shard cache); `backend_for` builds
        backends instead of `build_backend` (a cluster worker's gated or remote ones)."""
        self._configs = {c.name: c for c in configs}
        self._backend_for = backend_for or (lambda cfg: build_backend(cfg, models_dir))
        self._batch_dir = batch_dir or cache_path.parent / "batches"  # where batch ids are saved
        self._models: dict[str, CachedModel] = {}
        self._cache_path = cache_path
        self._cache: ResponseCache | None = cache

    def get(self, name: str) -> CachedModel:
        if name not in self._models:
            if self._cache is None:
                self._cache = ResponseCache(self._cache_path)
            cfg = self._configs[name]
            if cfg.batch:  # the one hook of batch mode: same cache, same protocol
                from pipeline.lm.batch import batch_model

                self._models[name] = batch_model(cfg, self._cache, self._batch_dir)  # type: ignore[assignment]
                return self._models[name]
            backend = self._backend_for(cfg)
            self._models[name] = CachedModel(backend, self._cache, cfg.max_concurrency, name=cfg.name)
        return self._models[name]

    def stats(self) -> dict[str, RequestStats]:
        return {name: model.stats for name, model in self._models.items()}

    def total(self) -> dict[str, int]:
        total = RequestStats()
        for stats in self.stats().values():
            total.add(**stats.as_dict())
        return total.as_dict()

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> "ModelPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
