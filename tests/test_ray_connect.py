"""Which cluster the Ray executor joins, without starting one: ray.init is replaced by a recorder."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.core.executor_config import ExecutorConfig


def _init_args(monkeypatch: pytest.MonkeyPatch, settings: ExecutorConfig) -> dict[str, Any]:
    import ray

    from pipeline.exec.ray_executor import RayExecutor

    seen: dict[str, Any] = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: seen.update(kwargs))
    RayExecutor(settings).connect()
    return seen


def test_without_an_address_the_build_starts_its_own_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    # address=None would make ray.init join whatever cluster a `ray start` on this machine left in
    # /tmp/ray/ray_current_cluster (and then refuse num_cpus); "local" always starts a new one.
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    seen = _init_args(monkeypatch, ExecutorConfig(kind="ray", num_cpus=2))
    assert seen["address"] == "local" and seen["num_cpus"] == 2


def test_an_address_from_the_config_or_the_environment_is_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    seen = _init_args(monkeypatch, ExecutorConfig(kind="ray", num_cpus=2))
    assert seen["address"] == "127.0.0.1:6379" and seen["num_cpus"] is None
    seen = _init_args(monkeypatch, ExecutorConfig(kind="ray", address="ray://head:10001"))
    assert seen["address"] == "ray://head:10001" and seen["num_cpus"] is None
