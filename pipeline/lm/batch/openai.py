"""OpenAI Batch API: a JSONL file uploaded with purpose `batch`, then /v1/batches over it.

Each line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`; answers
come back in an output file, and failed or expired lines in an error file, matched by custom id.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence

import openai
from openai.types.chat import ChatCompletion

from pipeline.lm.base import ChatRequest
from pipeline.lm.batch.protocol import BatchStatus, LineResult
from pipeline.lm.openai_compat import DEFAULT_BASE_URL, OpenAICompatBackend, SchemaStyle, chat_body
from pipeline.lm.sdk_errors import resolve_api_key

URL = "/v1/chat/completions"
ENDED = {"completed", "expired", "cancelled", "failed"}


class OpenAIBatches:
    kind = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, model: str, base_url: str | None, api_key_env: str | None, timeout_s: float,
                 schema_style: SchemaStyle = "json_schema"):  # fmt: skip
        self.model = model
        self.endpoint = base_url or DEFAULT_BASE_URL
        key = resolve_api_key(api_key_env, model, self.endpoint, base_url is None)
        # The SDK retries its own control calls (upload, poll, download): they are idempotent or
        # cheap; what a batch answers is counted by us, line by line.
        self._client = openai.OpenAI(base_url=self.endpoint, api_key=key, max_retries=3, timeout=timeout_s)
        self.schema_style = schema_style

    def _line(self, custom_id: str, request: ChatRequest) -> bytes:
        body = chat_body(self.model, request, self.schema_style)
        return json.dumps({"custom_id": custom_id, "method": "POST", "url": URL, "body": body}).encode() + b"\n"

    def line_size(self, custom_id: str, request: ChatRequest) -> int:
        return len(self._line(custom_id, request))

    def submit(self, items: Sequence[tuple[str, ChatRequest]], label: str) -> str:
        data = b"".join(self._line(cid, request) for cid, request in items)
        uploaded = self._client.files.create(file=(f"{label}.jsonl", data), purpose="batch")
        batch = self._client.batches.create(
            input_file_id=uploaded.id, endpoint=URL, completion_window="24h", metadata={"rbbench": label[:500]}
        )
        return batch.id

    def poll(self, batch_id: str) -> BatchStatus:
        batch = self._client.batches.retrieve(batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        error = None
        if batch.status == "failed" and batch.errors and batch.errors.data:
            error = "; ".join(f"{e.code}: {e.message}" for e in batch.errors.data)
        return BatchStatus(batch.status, batch.status in ENDED, counts, error)

    def results(self, batch_id: str, requests: dict[str, ChatRequest]) -> Iterator[LineResult]:
        batch = self._client.batches.retrieve(batch_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            for raw in self._client.files.content(file_id).text.splitlines():
                if raw.strip():
                    yield self._parse(json.loads(raw), requests)

    @staticmethod
    def _parse(line: dict[str, Any], requests: dict[str, ChatRequest]) -> LineResult:
        cid = line.get("custom_id", "")
        response = line.get("response") or {}
        if line.get("error") is None and response.get("status_code") == 200:
            completion = ChatCompletion.model_validate(response["body"])
            request = requests.get(cid) or ChatRequest(messages=())  # logprobs are read only if asked
            return LineResult(cid, OpenAICompatBackend._result(request, completion))
        error = line.get("error") or (response.get("body") or {}).get("error") or {}
        status = response.get("status_code")
        text = f"{error.get('code') or status}: {error.get('message', 'no message')}"
        # A 4xx other than 429 says the request itself is wrong: another batch would fail it again.
        retryable = status is None or status == 429 or status >= 500
        return LineResult(cid, error=f"openai batch: {text}", retryable=retryable)

    def cancel(self, batch_id: str) -> str:
        return self._client.batches.cancel(batch_id).status

    def close(self) -> None:
        self._client.close()
