"""One generator or judge of a build: its backend, limits, retries and price."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.strict import Strict


class Price(Strict):
    """Synchronous list prices; batch requests cost `batch_discount` of them (both providers: half)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    batch_discount: float = Field(default=0.5, gt=0, le=1)


class ModelConfig(Strict):
    """One generator or judge. `name` is what the release's `models` column shows."""

    name: str
    backend: Literal["local", "openai", "anthropic", "vllm"]
    model: str | None = None  # provider model id; defaults to `name`
    base_url: str | None = None
    api_key_env: str | None = None
    model_file: str | None = None  # local: a GGUF path or a packaged name (package:...)
    chat_format: str | None = None  # local: llama.cpp chat format; None = the GGUF's own template
    n_ctx: int = 2048
    max_concurrency: int = Field(default=4, ge=1)
    # Transient failures (429, 5xx, timeouts) are retried up to max_retries times per request,
    # with jittered exponential backoff from retry_wait_s up to retry_max_wait_s (or the server's
    # Retry-After, within that cap). A request that still fails is a failed item; a rerun retries it.
    max_retries: int = Field(default=4, ge=0)
    retry_wait_s: float = Field(default=1.0, ge=0)
    retry_max_wait_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=120.0, gt=0)
    # Requests started per minute, held across every worker of a build (with max_concurrency).
    requests_per_minute: float | None = Field(default=None, gt=0)
    engine_args: dict[str, object] = Field(default_factory=dict)  # vllm: LLM(**engine_args)
    # openai backend: how the server takes a JSON schema for judges' structured answers
    # ("json_schema": OpenAI, vllm serve; "llama_cpp": llama.cpp's server; "off": parse text).
    structured_outputs: Literal["json_schema", "llama_cpp", "off"] = "json_schema"
    # openai / anthropic: send requests through the provider's batch API (half price, hours).
    batch: bool = False
    batch_poll_s: float = Field(default=30.0, gt=0)
    price: Price | None = None  # USD per million tokens, for `rb plan` and the ledger

    @model_validator(mode="after")
    def _local_needs_file(self) -> "ModelConfig":
        if self.backend == "local" and not self.model_file:
            raise ValueError(f"model {self.name!r}: backend 'local' needs model_file")
        if self.batch and self.backend not in ("openai", "anthropic"):
            raise ValueError(f"model {self.name!r}: batch mode needs backend 'openai' or 'anthropic'")
        return self

    @property
    def provider_model(self) -> str:
        return self.model or self.name
