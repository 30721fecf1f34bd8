"""Provider batch APIs (OpenAI Batch, Anthropic Message Batches) behind the `LanguageModel` protocol."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.config import ModelConfig
from pipeline.lm.batch.protocol import BatchProvider
from pipeline.lm.batch.runner import BatchModel
from pipeline.lm.batch.state import BatchStore, SavedBatch
from pipeline.lm.cache import ResponseCache

__all__ = ["BatchModel", "BatchStore", "SavedBatch", "batch_model", "batch_provider"]


def batch_provider(cfg: ModelConfig) -> BatchProvider:
    """The provider client a `batch: true` model entry describes (keys resolved as for sync calls)."""
    if cfg.backend == "openai":
        from pipeline.lm.batch.openai import OpenAIBatches

        key_env = cfg.api_key_env or ("OPENAI_API_KEY" if cfg.base_url is None else None)
        return OpenAIBatches(cfg.provider_model, cfg.base_url, key_env, cfg.timeout_s, cfg.structured_outputs)
    if cfg.backend == "anthropic":
        from pipeline.lm.batch.anthropic import AnthropicBatches

        return AnthropicBatches(cfg.provider_model, cfg.base_url, cfg.api_key_env or "ANTHROPIC_API_KEY", cfg.timeout_s)
    raise ValueError(f"model {cfg.name!r}: no batch API for backend {cfg.backend!r}")


def batch_model(cfg: ModelConfig, cache: ResponseCache, folder: Path) -> BatchModel:
    return BatchModel(batch_provider(cfg), cache, BatchStore(folder), cfg.name, cfg.batch_poll_s, cfg.max_retries)
