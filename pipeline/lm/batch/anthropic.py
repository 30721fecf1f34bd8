"""Anthropic Message Batches: `messages.batches.create` with custom ids; results stream as JSONL
from the batch's `results_url`, in any order, each `succeeded`, `errored`, `canceled` or `expired`."""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence

import anthropic

from pipeline.lm.anthropic_backend import DEFAULT_BASE_URL, AnthropicBackend
from pipeline.lm.base import ChatRequest
from pipeline.lm.batch.protocol import BatchStatus, LineResult
from pipeline.lm.sdk_errors import resolve_api_key


def message_params(model: str, request: ChatRequest) -> dict[str, Any]:
    """The Messages API body the synchronous backend sends (sampling as plain body fields)."""
    system = "\n\n".join(content for role, content in request.messages if role == "system")
    params: dict[str, Any] = {
        "model": model,
        "messages": [{"role": r, "content": c} for r, c in request.messages if r != "system"],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.top_p < 1.0:
        params["top_p"] = request.top_p
    if system:
        params["system"] = system
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    return params


class AnthropicBatches:
    kind = "anthropic"
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, model: str, base_url: str | None, api_key_env: str | None, timeout_s: float):
        self.model = model
        self.endpoint = base_url or DEFAULT_BASE_URL
        key = resolve_api_key(api_key_env, model, self.endpoint, required=True)
        self._client = anthropic.Anthropic(
            api_key=key, base_url=self.endpoint, max_retries=3, timeout=timeout_s, default_headers={"x-api-key": key}
        )

    def _entry(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        return {"custom_id": custom_id, "params": message_params(self.model, request)}

    def line_size(self, custom_id: str, request: ChatRequest) -> int:
        return len(json.dumps(self._entry(custom_id, request)).encode()) + 1

    def submit(self, items: Sequence[tuple[str, ChatRequest]], label: str) -> str:
        entries = [self._entry(cid, request) for cid, request in items]
        return self._client.messages.batches.create(requests=entries).id  # type: ignore[arg-type]

    def poll(self, batch_id: str) -> BatchStatus:
        batch = self._client.messages.batches.retrieve(batch_id)
        return BatchStatus(batch.processing_status, batch.processing_status == "ended", batch.request_counts.model_dump())

    def results(self, batch_id: str, requests: dict[str, ChatRequest]) -> Iterator[LineResult]:
        for line in self._client.messages.batches.results(batch_id):
            result = line.result
            if result.type == "succeeded":
                yield LineResult(line.custom_id, AnthropicBackend._result(result.message))
            elif result.type == "errored":
                err = result.error.error
                # invalid_request_error fails again however often it is sent; others may pass.
                retryable = err.type != "invalid_request_error"
                yield LineResult(line.custom_id, error=f"anthropic batch: {err.type}: {err.message}", retryable=retryable)
            else:
                yield LineResult(line.custom_id, error=f"anthropic batch: request {result.type}")

    def cancel(self, batch_id: str) -> str:
        return self._client.messages.batches.cancel(batch_id).processing_status

    def close(self) -> None:
        self._client.close()
