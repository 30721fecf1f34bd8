"""Where a build's sharded stages run: in this process (the default) or on a Ray cluster."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from pipeline.core.strict import Strict

DEFAULT_RAY_SHARDS = 16


class ExecutorConfig(Strict):
    """`kind: auto` means Ray when RAY_ADDRESS is set, else local. `shards` fixes how generate and
    label split their items (by prompt id), whatever the number of workers; the release is the
    same for any shard count, and the decision log's row order follows the shards."""

    kind: Literal["auto", "local", "ray"] = "auto"
    address: str | None = None  # a Ray address (ray://host:10001, host:6379, "auto"); None: RAY_ADDRESS
    shards: int | None = Field(default=None, ge=1)  # None: 1 locally, DEFAULT_RAY_SHARDS on Ray
    num_cpus: int | None = Field(default=None, ge=1)  # CPUs of a Ray cluster started by the build itself
    cpus_per_shard: float = Field(default=1.0, gt=0)  # Ray CPUs one shard task holds (2 CPUs: 2 at once)
    shard_attempts: int = Field(default=3, ge=1)  # runs of a shard whose worker died before giving up
    # Ray GPUs each long-lived local engine (vllm or llama.cpp model) holds; 0 on CPU-only clusters.
    engine_gpus: float = Field(default=0.0, ge=0)

    def resolved_kind(self) -> Literal["local", "ray"]:
        if self.kind != "auto":
            return self.kind
        return "ray" if (self.address or os.environ.get("RAY_ADDRESS")) else "local"

    def resolved_shards(self) -> int:
        if self.shards is not None:
            return self.shards
        return DEFAULT_RAY_SHARDS if self.resolved_kind() == "ray" else 1
