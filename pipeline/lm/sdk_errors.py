"""Turn the official SDKs' exceptions into our two outcomes: a failed item, or a stop.

Both the `openai` and `anthropic` SDKs raise the same family of exceptions; their own retry
loops are off, so that the retries of 408/409/429/5xx and timeouts are ours (`retry.py`).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any, Callable

from pipeline.lm.base import BackendUnavailable, ChatResult, MissingCredentials
from pipeline.lm.retry import RetryPolicy, call_with_retries, describe


def resolve_api_key(env_var: str | None, model: str, endpoint: str, required: bool) -> str:
    """Read a key from the environment; never echo its value."""
    value = os.environ.get(env_var, "") if env_var else ""
    if value:
        return value
    if required:
        raise MissingCredentials(
            f"model {model!r} at {endpoint}: environment variable {env_var or '(none configured)'}"
            " is not set; export it or set api_key_env in the config"
        )
    return "not-needed"


TRANSIENT_STATUS = {408, 409, 429}


class SdkCaller:
    """One provider SDK's call path for one model: transient failures are retried (bounded and
    logged, see `retry.py`); what still fails becomes a failed result, or a stop when the
    endpoint itself is unusable.

    A connection error before the endpoint ever answered means it is down or misconfigured: that
    fails at once, naming the model and endpoint, instead of backing off per request. Once it has
    answered, a dropped connection is transient (a restart, a load balancer) and is retried.
    """

    def __init__(self, sdk: ModuleType, model: str, endpoint: str, policy: RetryPolicy):
        self.sdk = sdk
        self.model = model
        self.endpoint = endpoint
        self.policy = policy
        self.reached = False

    def transient(self, exc: BaseException) -> bool:
        sdk = self.sdk
        if isinstance(exc, sdk.APITimeoutError):
            return True
        if isinstance(exc, sdk.APIConnectionError):
            return self.reached
        self.reached = self.reached or isinstance(exc, sdk.APIStatusError)
        return isinstance(exc, sdk.APIStatusError) and (exc.status_code in TRANSIENT_STATUS or exc.status_code >= 500)

    def call(self, send: Callable[[], Any], build: Callable[[Any], ChatResult]) -> ChatResult:
        """`send()` the request (retried as above) and `build` the result from its response."""
        try:
            response, attempts = call_with_retries(send, self.transient, self.policy, f"model {self.model!r}")
        except self.sdk.APIError as exc:
            failure = exc
        else:
            failure = None
        if failure is not None:
            # Handled outside the except block: an error raised here carries no SDK exception as
            # its context (a 401 body may echo the key that was sent).
            result = self.failure_or_raise(failure)
            result.attempts = getattr(failure, "attempts", 1)
            return result
        self.reached = True
        result = build(response)
        result.attempts = attempts
        return result

    def failure_or_raise(self, exc: Exception) -> ChatResult:
        """A per-request failure becomes a failed result; an endpoint-level one raises."""
        sdk, model, endpoint = self.sdk, self.model, self.endpoint
        tries = f"after {getattr(exc, 'attempts', 1)} attempt(s)"
        if isinstance(exc, sdk.APITimeoutError):
            return ChatResult(error=f"timeout {tries}: {type(exc).__name__}")
        if isinstance(exc, sdk.APIConnectionError):
            raise BackendUnavailable(
                f"model {model!r}: cannot reach {endpoint} ({type(exc).__name__} {tries}); is the server running?"
            ) from None
        if isinstance(exc, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
            raise BackendUnavailable(
                f"model {model!r} at {endpoint}: credentials refused (HTTP {exc.status_code})"
            ) from None
        if isinstance(exc, sdk.NotFoundError):
            raise BackendUnavailable(
                f"model {model!r} at {endpoint}: not found (HTTP 404); check the model name and base_url"
            ) from None
        if isinstance(exc, sdk.APIStatusError):
            return ChatResult(error=f"{describe(exc)} {tries}")
        raise exc
