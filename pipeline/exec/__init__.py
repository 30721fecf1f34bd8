"""Executors: where a stage's shards run (this process, or a Ray cluster). A build process keeps
one executor for all its stages, so a cluster's gates and engines are made once."""

from __future__ import annotations

import os
from typing import Any

from pipeline.core.executor_config import ExecutorConfig
from pipeline.exec.local import LocalExecutor

_OPEN: dict[str, Any] = {}


def executor_for(settings: ExecutorConfig) -> Any:
    """The executor these settings name, shared by every stage of this process."""
    kind = settings.resolved_kind()
    if kind == "local":
        return LocalExecutor()
    key = settings.model_dump_json()
    if key not in _OPEN:
        if (settings.address or os.environ.get("RAY_ADDRESS")) and "RAY_AUTH_MODE" not in os.environ and _token():
            # `ray start --head` turns token auth on and saves the token, but a client that joins
            # by address sends it only when told to; Ray reads this when it is first imported.
            os.environ["RAY_AUTH_MODE"] = "token"
        from pipeline.exec.ray_executor import RayExecutor  # Ray only when a build asks for it

        _OPEN[key] = RayExecutor(settings)
    return _OPEN[key]


def _token() -> bool:
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or os.path.isfile(path)


def close_executors() -> None:
    """Stop the cluster actors (engines, gates) this process made; the cluster itself stays."""
    while _OPEN:
        _, executor = _OPEN.popitem()
        executor.close()
