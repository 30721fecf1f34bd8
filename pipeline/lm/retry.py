"""Bounded, logged retries of one LM request (tenacity), shared by the SDK backends.

The SDKs' own retry loops are switched off (`max_retries=0` on the client) so that every retry
is ours: bounded by the model's `max_retries`, logged with its reason and wait, counted, and
named in the failed item's evidence when the request still fails. A server's `Retry-After`
header is honoured (up to the longest wait allowed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

if TYPE_CHECKING:
    from pipeline.core.config import ModelConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one request is tried again after a transient failure."""

    max_retries: int = 4
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0

    @classmethod
    def for_model(cls, cfg: "ModelConfig") -> "RetryPolicy":
        """The policy a model's config asks for (`max_retries`, `retry_wait_s`, `retry_max_wait_s`)."""
        return cls(cfg.max_retries, cfg.retry_wait_s, max(cfg.retry_wait_s, cfg.retry_max_wait_s))

    @property
    def attempts(self) -> int:
        return self.max_retries + 1


def retry_after_s(exc: BaseException) -> float | None:
    """The server's requested pause, from `retry-after-ms` or `retry-after` (seconds)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


def describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status} {type(exc).__name__}" if status else type(exc).__name__


def call_with_retries(
    call: Callable[[], Any],
    transient: Callable[[BaseException], bool],
    policy: RetryPolicy,
    label: str,
) -> tuple[Any, int]:
    """Run `call`, retrying exceptions `transient` accepts; returns (result, attempts made).
    The last transient exception is re-raised with `attempts` set on it once the budget is spent.
    The first attempt runs bare: the retry machinery is built only after a transient failure,
    so a request that succeeds at once (nearly all of them) costs nothing extra."""
    try:
        return call(), 1
    except BaseException as exc:
        if policy.attempts <= 1 or not isinstance(exc, Exception) or not transient(exc):
            exc.attempts = 1  # type: ignore[attr-defined]
            raise
        first_failure = exc
    return _retry_after_first_failure(call, first_failure, transient, policy, label)


def _retry_after_first_failure(
    call: Callable[[], Any],
    first_failure: BaseException,
    transient: Callable[[BaseException], bool],
    policy: RetryPolicy,
    label: str,
) -> tuple[Any, int]:
    """tenacity from attempt 1 on, with attempt 1 replaying the failure already seen, so waits,
    logged attempt numbers and the attempt count are those of one loop over every attempt."""
    replay: list[BaseException] = [first_failure]

    def attempt() -> Any:
        if replay:
            raise replay.pop()
        return call()

    # Exponential from initial_wait_s, plus jitter so that parallel workers do not retry in step.
    backoff = wait_exponential(multiplier=policy.initial_wait_s, max=policy.max_wait_s) + wait_random(0, policy.initial_wait_s)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_s(exc) if exc else None
        return min(policy.max_wait_s, max(backoff(state), hinted or 0.0))

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: attempt %d/%d failed (%s); retrying in %.1fs",
            label, state.attempt_number, policy.attempts, describe(exc) if exc else "?", pause,
        )  # fmt: skip

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt), retrying.statistics["attempt_number"]
    except BaseException as exc:
        exc.attempts = retrying.statistics.get("attempt_number", 1)  # type: ignore[attr-defined]
        raise
