"""OpenAI-compatible chat backend (official `openai` SDK): OpenAI, `vllm serve`, llama.cpp, any base_url."""

from __future__ import annotations

from typing import Any, Literal

import openai

from pipeline.lm.base import ChatRequest, ChatResult
from pipeline.lm.retry import RetryPolicy
from pipeline.lm.sdk_errors import SdkCaller, resolve_api_key

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# How a server takes a JSON schema: OpenAI and `vllm serve` use `json_schema`; llama.cpp's
# Python server takes the schema inside a `json_object` response format; "off" sends none.
SchemaStyle = Literal["json_schema", "llama_cpp", "off"]


def response_format(schema: dict[str, object], style: SchemaStyle) -> dict[str, object] | None:
    if style == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
    if style == "llama_cpp":
        return {"type": "json_object", "schema": schema}
    return None


def chat_body(model: str, request: ChatRequest, schema_style: SchemaStyle) -> dict[str, Any]:
    """The chat-completions body of one request: what the synchronous backend sends and what a
    batch file line carries, so both share cache keys and answers."""
    body: dict[str, Any] = {
        "model": model,
        "messages": request.message_dicts(),
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if request.logprobs:
        # llama.cpp's server returns chat logprobs only when top_logprobs is set too.
        body["logprobs"], body["top_logprobs"] = True, 1
    schema = request.schema()
    fmt = response_format(schema, schema_style) if schema else None
    if fmt:
        body["response_format"] = fmt
    return body


class OpenAICompatBackend:
    kind = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 120.0,
        require_key: bool | None = None,
        extra_body: dict[str, object] | None = None,
        schema_style: SchemaStyle = "json_schema",
    ):
        self.schema_style = schema_style
        self.model = model
        self.endpoint = base_url or DEFAULT_BASE_URL
        # Only the real OpenAI endpoint insists on a key; local servers accept anything.
        needs_key = (base_url is None) if require_key is None else require_key
        key = resolve_api_key(api_key_env, model, self.endpoint, needs_key)
        self.extra_body = extra_body or {}
        # The SDK's own retries are off: ours are bounded, logged and counted (SdkCaller).
        self._client = openai.OpenAI(base_url=self.endpoint, api_key=key, max_retries=0, timeout=timeout_s)
        self._caller = SdkCaller(openai, model, self.endpoint, retry)

    def complete(self, request: ChatRequest) -> ChatResult:
        kwargs = chat_body(self.model, request, self.schema_style)
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body

        def send() -> Any:
            return self._client.chat.completions.create(**kwargs)  # type: ignore[call-overload]

        return self._caller.call(send, lambda response: self._result(request, response))

    @staticmethod
    def _result(request: ChatRequest, response: Any) -> ChatResult:
        choice = response.choices[0]
        usage = response.usage
        token_logprobs = None
        if request.logprobs and choice.logprobs is not None and choice.logprobs.content:
            token_logprobs = [t.logprob for t in choice.logprobs.content]
        return ChatResult(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            logprobs=token_logprobs,
        )

    def close(self) -> None:
        self._client.close()
