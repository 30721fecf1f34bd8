"""Anthropic Messages API backend (official `anthropic` SDK)."""

from __future__ import annotations

import anthropic

from typing import Any

from pipeline.lm.base import ChatRequest, ChatResult
from pipeline.lm.retry import RetryPolicy
from pipeline.lm.sdk_errors import SdkCaller, resolve_api_key

DEFAULT_BASE_URL = "https://api.anthropic.com"


class AnthropicBackend:
    kind = "anthropic"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = "ANTHROPIC_API_KEY",
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 120.0,
    ):
        self.model = model
        self.endpoint = base_url or DEFAULT_BASE_URL
        key = resolve_api_key(api_key_env, model, self.endpoint, required=True)
        # SDK 2.x sends the key as a bearer token; the Messages API (and compatible test servers)
        # also read `x-api-key`, so send both.
        self._client = anthropic.Anthropic(
            api_key=key,
            base_url=self.endpoint,
            max_retries=0,  # ours are bounded, logged and counted (SdkCaller)
            timeout=timeout_s,
            default_headers={"x-api-key": key},
        )
        self._caller = SdkCaller(anthropic, model, self.endpoint, retry)

    def complete(self, request: ChatRequest) -> ChatResult:
        system = "\n\n".join(content for role, content in request.messages if role == "system")
        messages = [
            {"role": role, "content": content}
            for role, content in request.messages
            if role != "system"
        ]
        kwargs: dict[str, object] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
        }
        # SDK 2.x dropped sampling arguments from `create`; the Messages API still reads them from
        # the body for models that support them, so they travel as extra body fields.
        sampling: dict[str, float] = {"temperature": request.temperature}
        if request.top_p < 1.0:
            sampling["top_p"] = request.top_p
        kwargs["extra_body"] = sampling
        if system:
            kwargs["system"] = system
        if request.stop:
            kwargs["stop_sequences"] = list(request.stop)

        def send() -> Any:
            return self._client.messages.create(**kwargs)  # type: ignore[call-overload]

        return self._caller.call(send, self._result)

    @staticmethod
    def _result(response: Any) -> ChatResult:
        text = "".join(getattr(block, "text", "") for block in response.content)
        return ChatResult(
            text=text,
            finish_reason=response.stop_reason,
            prompt_tokens=response.usage.input_tokens,
            completion_tokens=response.usage.output_tokens,
        )

    def close(self) -> None:
        self._client.close()
