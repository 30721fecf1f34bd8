"""What a provider's batch API must offer the batch runner, and what one result line says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from pipeline.lm.base import ChatRequest, ChatResult

TERMINAL = "ended"  # our one word for "the provider will not change this batch any more"


@dataclass
class BatchStatus:
    """A poll's answer: the provider's own status word, whether it is final, and its counts."""

    status: str
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # why a whole batch failed (OpenAI `failed`: the file did not validate)


@dataclass
class LineResult:
    """One custom id's outcome: a result, or the provider's error (`retryable` for errored,
    expired and canceled lines that another batch may answer)."""

    custom_id: str
    result: ChatResult | None = None
    error: str | None = None
    retryable: bool = True


class BatchProvider(Protocol):
    kind: str  # "openai" or "anthropic": the cache-key backend, the same as the synchronous one
    model: str
    endpoint: str
    max_requests: int
    max_bytes: int

    def line_size(self, custom_id: str, request: ChatRequest) -> int:
        """Bytes this request adds to a batch (for the provider's size limit)."""
        ...

    def submit(self, items: Sequence[tuple[str, ChatRequest]], label: str) -> str:
        """Create one batch; returns its id. Nothing is sent before this call."""
        ...

    def poll(self, batch_id: str) -> BatchStatus: ...

    def results(self, batch_id: str, requests: dict[str, ChatRequest]) -> Iterator[LineResult]:
        """Every line the provider returned for an ended batch, in the provider's order."""
        ...

    def cancel(self, batch_id: str) -> str:
        """Ask the provider to cancel; returns its status word."""
        ...

    def close(self) -> None: ...
