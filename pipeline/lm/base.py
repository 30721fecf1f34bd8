"""The one language-model protocol every backend speaks.

A backend turns a batch of `ChatRequest`s into `ChatResult`s in the same order. Sampling is
described per request (one request = one sample), so that a cache key can name the exact sample
and a rerun can resend only the samples that are missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Callable, Protocol, Sequence, runtime_checkable

ProgressFn = Callable[[int, int], None]  # (answered so far, total), cache hits included


class LMError(RuntimeError):
    """Base class of language-model errors that stop a stage."""


class BackendUnavailable(LMError):
    """The endpoint cannot be reached or refused our credentials: every request would fail."""


class MissingCredentials(LMError):
    """An API key the config names is not set in the environment."""


@dataclass(frozen=True)
class ChatRequest:
    """One chat sample. `sample_index` and `seed` make repeated samples of one prompt distinct."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    sample_index: int = 0
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    # A JSON schema (as a JSON string, so the request stays hashable) the answer must follow;
    # backends that support structured outputs enforce it, the others ignore it.
    json_schema: str | None = None

    @classmethod
    def from_messages(cls, messages: Sequence[dict[str, str]], **params: object) -> "ChatRequest":
        pairs = tuple((m["role"], m["content"]) for m in messages)
        if "stop" in params and params["stop"] is not None:
            params["stop"] = tuple(params["stop"])  # type: ignore[arg-type]
        return cls(messages=pairs, **params)  # type: ignore[arg-type]

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def params(self) -> dict[str, object]:
        # Read field by field: `asdict` deep-copies, which cost a third of the LM layer's own
        # CPU per request (every request is keyed before the cache is asked).
        data: dict[str, object] = {name: getattr(self, name) for name in _PARAM_FIELDS}
        data["stop"] = list(self.stop)
        if self.json_schema is None:
            # Left out when unused, so plain requests keep the cache keys and ids they always had.
            data.pop("json_schema")
        return data

    def schema(self) -> dict[str, object] | None:
        return json.loads(self.json_schema) if self.json_schema else None


_PARAM_FIELDS = [f.name for f in fields(ChatRequest) if f.name != "messages"]


@dataclass
class ChatResult:
    """What came back for one request; `error` is set (and `text` empty) when it failed for good."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: list[float] | None = None
    cached: bool = False
    error: str | None = None
    attempts: int = 1  # 1 + the retries it took (bounded by the model's max_retries)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in _RESULT_FIELDS}  # asdict deep-copies: slower
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> "ChatResult":
        """Rebuild a cached result; fields this version does not know are ignored."""
        known = {f.name for f in fields(cls)} - {"cached"}
        data = {k: v for k, v in json.loads(raw).items() if k in known}
        return cls(**data, cached=True)


_RESULT_FIELDS = [f for f in fields(ChatResult) if f.name != "cached"]


@runtime_checkable
class LanguageModel(Protocol):
    """A chat model reachable through one backend."""

    name: str  # the model identity used in cache keys and in the released `models` column
    endpoint: str  # where requests go, for error messages

    def generate(self, requests: Sequence[ChatRequest], progress: ProgressFn | None = None) -> list[ChatResult]:
        """Answer every request, in order. Transient failures are retried inside; a request that
        still fails gets a result with `error` set. Raises BackendUnavailable when nothing can work."""
        ...

    def close(self) -> None:
        """Release connections and any engine this backend started."""
        ...


def request_key(backend: str, model: str, request: ChatRequest) -> str:
    """Stable cache key of the full request: who answers it and everything that shapes the answer."""
    payload = {
        "backend": backend,
        "model": model,
        "messages": [list(m) for m in request.messages],
        "params": request.params(),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()
