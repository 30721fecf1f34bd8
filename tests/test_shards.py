"""Shards, request gates and per-shard response caches, without a cluster: the stable split, the
permits a dead holder leaves behind, the merge of shard caches, and shard reuse by key."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.config import load_config
from pipeline.core.io import DecisionLog, StageOutput
from pipeline.exec.shards import ShardJob, shard_of
from pipeline.lm.base import ChatResult
from pipeline.lm.cache import ResponseCache
from pipeline.lm.gate import Gate
from pipeline.lm.shard_cache import ShardCache, merge_shard_caches
from pipeline.stages.context import RunContext
from pipeline.stages.sharded import finish_parts, run_shards

ROOT = Path(__file__).resolve().parent.parent


def test_shard_of_is_stable_and_even() -> None:
    # Values fixed when sharding was written: a change would split resumed builds differently.
    assert [shard_of(k, 16) for k in ("p0", "p1", "hs_1234", "")] == EXPECTED_SHARDS
    sizes = Counter(shard_of(f"prompt-{i}", 16) for i in range(16_000))
    assert set(sizes) == set(range(16)) and max(sizes.values()) < 1.1 * 1000 and min(sizes.values()) > 0.9 * 1000


EXPECTED_SHARDS = [12, 3, 13, 4]  # sha256's first 8 bytes, big-endian, mod 16


def test_gate_holds_its_limit_across_threads() -> None:
    gate = Gate(3)
    active, peak, lock = [0], [0], threading.Lock()

    def call(n: int) -> None:
        gate.acquire(f"w{n % 2}")
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        gate.release(f"w{n % 2}")

    threads = [threading.Thread(target=call, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 3 and gate.stats() == {"limit": 3, "active": 0, "peak": 3, "started": 12}


def test_permits_of_a_dead_holder_are_handed_back() -> None:
    gate = Gate(2)
    gate.acquire("dead-worker")
    gate.acquire("dead-worker")
    assert gate.take("live") is None  # every permit is held by a worker that will never release
    assert gate.reclaim("dead-worker") == 2
    assert gate.take("live") == 0.0
    gate.release("dead-worker")  # a late release of a reclaimed permit frees nothing twice
    assert gate.stats()["active"] == 1


def test_request_rate_spaces_starts() -> None:
    gate = Gate(10, per_minute=600)  # one start every 0.1 s
    delays = [gate.take("w") for _ in range(4)]
    assert delays[0] == 0.0
    assert all(d is not None and d >= 0.1 * i - 0.01 for i, d in enumerate(delays))


def _answer(text: str) -> ChatResult:
    return ChatResult(text=text, finish_reason="stop", prompt_tokens=1, completion_tokens=1)


def test_shard_caches_merge_into_the_build_cache(tmp_path: Path) -> None:
    base = ResponseCache(tmp_path / "cache.sqlite")
    base.put("old", "m", _answer("from an earlier run"))
    base.close()
    shard = ShardCache(tmp_path / "shards" / "s0.sqlite", tmp_path / "cache.sqlite")
    shard.record([], ["k1", "k2"], "m")
    shard.record([("k1", "m", _answer("one"))], [], "m")
    found = shard.get_many(["old", "k1", "k2"])
    assert found["old"].text == "from an earlier run" and found["k1"].text == "one" and "k2" not in found
    shard.close()
    assert merge_shard_caches(tmp_path / "cache.sqlite", [tmp_path / "shards" / "s0.sqlite"]) == 1
    assert not (tmp_path / "shards" / "s0.sqlite").exists()
    merged = ResponseCache(tmp_path / "cache.sqlite")
    assert merged.get("k1").text == "one" and merged.sends() == {"k1": 1, "k2": 1}
    merged.close()


CALLS: list[int] = []


def count_work(job: ShardJob, pool: Any, progress: Any) -> dict[str, Any]:
    """A shard that decides every one of its prompt ids (three per build), and says it ran."""
    CALLS.append(job.index)
    log = DecisionLog("generate", job.run_id)
    mine = [pid for pid in ("a", "b", "c") if job.wants(pid)]
    for pid in mine:
        log.kept(pid, "counted")
    log.write(job.part_dir / "decisions.parquet")
    return {"in": len(mine)}


def _ctx(tmp_path: Path, shards: int) -> RunContext:
    raw = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    raw.update(output_dir=str(tmp_path / "out"), lm_cache=str(tmp_path / "cache.sqlite"),
               executor={"kind": "local", "shards": shards})  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return RunContext(load_config(path), ROOT)


def test_done_shards_are_reused_and_stale_ones_rerun(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, 4)
    upstream = {"route": StageOutput("route", "unused", "fp1")}
    CALLS.clear()
    first = run_shards(ctx, "generate", f"{__name__}:count_work", upstream)
    assert sorted(CALLS) == [0, 1, 2, 3] and sum(s["in"] for s in first) == 3
    out = finish_parts(ctx, "generate", 3, ctx.stage_dir("generate") / "decisions.parquet")
    assert out.counts == {"in": 3, "kept": 3}
    CALLS.clear()
    (ctx.stage_dir("generate") / "shards" / "00002-of-00004" / "DONE.json").unlink()  # shard 2 never finished
    again = run_shards(ctx, "generate", f"{__name__}:count_work", upstream)
    assert CALLS == [2] and [s.get("reused", False) for s in again] == [True, True, False, True]
    CALLS.clear()
    run_shards(ctx, "generate", f"{__name__}:count_work", {"route": StageOutput("route", "unused", "fp2")})
    assert sorted(CALLS) == [0, 1, 2, 3]  # new input content: every marker is stale
    summary = json.loads((ctx.stage_dir("generate") / "shards.json").read_text())
    assert [s["shard"] for s in summary] == [0, 1, 2, 3]
    CALLS.clear()
    fewer = _ctx(tmp_path, 2)
    run_shards(fewer, "generate", f"{__name__}:count_work", upstream)
    assert sorted(CALLS) == [0, 1]
    assert sorted(p.name for p in (ctx.stage_dir("generate") / "shards").iterdir()) == ["00000-of-00002", "00001-of-00002"]


def failing_work(job: ShardJob, pool: Any, progress: Any) -> dict[str, Any]:
    """A shard whose only request failed for good (as its usage says)."""
    CALLS.append(job.index)
    log = DecisionLog("generate", job.run_id)
    log.add("a", "failed", "request-failed")
    log.write(job.part_dir / "decisions.parquet")
    return {"in": 1}


def test_a_shard_with_failed_requests_runs_again(tmp_path: Path, monkeypatch: Any) -> None:
    from pipeline.exec import shards

    real_usage = shards._usage
    monkeypatch.setattr(shards, "_usage", lambda pool: {"m": {"failed": 1}} if CALLS else real_usage(pool))
    ctx = _ctx(tmp_path, 1)
    upstream = {"route": StageOutput("route", "unused", "fp1")}
    CALLS.clear()
    run_shards(ctx, "generate", f"{__name__}:failing_work", upstream)
    run_shards(ctx, "generate", f"{__name__}:failing_work", upstream)
    assert CALLS == [0, 0]  # the marker of a shard with failures is not reused
