"""The build on Ray: a cluster of this machine's own (ray.init, 2 CPUs) and a head started apart
(`ray start --head` + RAY_ADDRESS, with Ray's token auth on), llm-katan as the model.

Checks: the same config builds the same release and decision logs locally and on Ray; a model's
max_concurrency holds across workers at the server (llm-katan answers 503 above it); a worker
SIGKILLed mid-shard costs only its requests in flight, and every answer is kept.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import polars as pl
import pytest
import yaml

from pipeline.core.config import load_config
from pipeline.lm.cache import ResponseCache
from pipeline.lm.local import free_port
from pipeline.stages.context import RunContext
from pipeline.stages.table import STAGES, run_all
from pipeline.core.store import RunStore
from tests.servers import Katan, S3Bucket, katan_server, s3_bucket_fixture, s3_endpoint_fixture  # noqa: F401

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["the moon", "bread", "rivers", "chess", "glaciers", "violins", "tax law", "bees", "volcanoes", "sailing",
          "algebra", "tea", "owls", "copper", "deserts", "opera", "tides", "wheat", "comets", "knitting", "salt",
          "bridges", "fungi", "jazz"]  # fmt: skip
PROMPTS = 24
UP_TO_LABEL = STAGES[: [s.name for s in STAGES].index("assemble") + 1]


def write_config(tmp: Path, server: Katan, version: str, executor: dict[str, Any], **model: Any) -> Path:
    pool = tmp / "pool.jsonl"
    pool.write_text("".join(json.dumps({"id": f"t{i}", "prompt": f"Tell me one fact about {t}.", "subset": "echo"}) + "\n"
                            for i, t in enumerate(TOPICS[:PROMPTS])))  # fmt: skip
    cfg = {
        "version": version, "seed": 5, "output_dir": str(tmp / "outputs"), "lm_cache": str(tmp / f"{version}.sqlite"),
        "annotations_dir": str(tmp / "annotations"), "embeddings": {"cache_dir": str(tmp / "embed-cache")},
        "plugins": ["tests.echo_plugin"],
        "models": [{"name": "katan-echo", "backend": "openai", "base_url": f"{server.url}/v1",
                    "structured_outputs": "off", **model}],
        "sources": [{"name": "topics", "path": str(pool), "metadata_fields": ["subset"]}],
        "ingest": {"near_duplicate_threshold": None}, "routing": {"mode": "tags"},
        "decontamination": {"eval_sets": []},
        "subsets": {"echo": {"models": ["katan-echo"], "samples_per_model": 3, "max_tokens": 16}},
        "num_rejected": 2,
        "validation": {"min_items": 1, "max_length_advantage": None, "max_position_advantage": None},
        "executor": executor,
    }  # fmt: skip
    path = tmp / f"{version}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A Ray cluster of this machine's own with 2 CPUs; its workers import the tests (the Echo
    plugin) from the checkout."""
    import ray

    from pipeline.exec import close_executors

    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), old]))
    ray.init(num_cpus=2, namespace="rbbench", include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        close_executors()
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


ECHO_HEADER = re.compile(r"host=\S+ time=\S+")


def normalized(frame: pl.DataFrame) -> pl.DataFrame:
    """What differs between two servers and two runs by design: llm-katan's echo header (its
    port and clock), the run id, and whether an answer came from the cache."""
    out = frame.drop("run_id", strict=False)
    for name, dtype in out.schema.items():
        if dtype == pl.String:
            out = out.with_columns(pl.col(name).str.replace_all(ECHO_HEADER.pattern, "host time")
                                   .str.replace_all(r'"cached": (true|false)', '"cached": x'))  # fmt: skip
        elif dtype == pl.List(pl.String):
            out = out.with_columns(pl.col(name).list.eval(pl.element().str.replace_all(ECHO_HEADER.pattern, "host time")))
    return out


def release_and_log(run_dir: Path) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    release = normalized(pl.read_parquet(run_dir / "assemble" / "test.parquet"))
    logs = {p.parent.name: normalized(pl.read_parquet(p)) for p in sorted(run_dir.glob("*/decisions.parquet"))}
    assert {"ingest", "generate", "label", "assemble"} <= set(logs)
    return release, logs


def test_a_head_started_apart_builds_to_object_storage(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    """`ray start --head` (token auth on by default in this Ray) and RAY_ADDRESS: `rb build` with
    `executor: {kind: auto}` finds the cluster, and with `output_dir` on S3 (moto) its workers read
    their inputs from and put their parts to the bucket: the workers' working copy is another
    folder than the driver's, as on another node."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": f"127.0.0.1:{port}"}
    ray_bin = str(Path(sys.executable).parent / "ray")
    head_env = {**env, "RBBENCH_WORK_DIR": str(tmp_path / "worker-node")}
    started = subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                              "--disable-usage-stats"], env=head_env, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        with katan_server(model="katan-echo", tmp_path=tmp_path) as server:
            config = write_config(tmp_path, server, "head", {"kind": "auto", "shards": 3})
            raw = yaml.safe_load(config.read_text())
            config.write_text(yaml.safe_dump({**raw, "output_dir": s3_bucket.url("runs")}, sort_keys=False))
            rb = str(Path(sys.executable).parent / "rb")
            built = subprocess.run([rb, "build", "--config", str(config)], cwd=ROOT, capture_output=True, text=True,
                                   env={**env, "RBBENCH_WORK_DIR": str(tmp_path / "driver")}, timeout=600)  # fmt: skip
            assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
            assert server.requests_received() == PROMPTS * 4
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True, timeout=120)
    store = RunStore.open(s3_bucket.url("runs/head"))
    assert store.scan_parquet("assemble/test.parquet").collect().height == PROMPTS
    driver_pid_dirs = list((tmp_path / "driver").glob("*/head/generate/shards/*/DONE.json"))
    for stage in ("generate", "label"):
        parts = [store.done(f"{stage}/shards/{i:05d}-of-00003") for i in range(3)]
        assert all(p is not None and p["attempt"] == 1 for p in parts), stage
    # The workers' copy holds the upstream tables they fetched from the bucket and their parts.
    worker_copy = next((tmp_path / "worker-node").glob("*/head"))
    assert (worker_copy / "route" / "prompts.parquet").is_file() and (worker_copy / "generate" / "completions.parquet").is_file()
    assert len(list(worker_copy.glob("label/shards/*/auto.parquet"))) == 3 and len(driver_pid_dirs) == 3


def test_local_and_ray_builds_are_the_same(prefect_harness: None, ray_cluster: None, tmp_path: Path) -> None:
    from flows.build import build

    with katan_server(model="katan-echo", tmp_path=tmp_path) as server:
        runs = {}
        for version, executor in (("one", {"kind": "local"}), ("local4", {"kind": "local", "shards": 4}),
                                  ("ray4", {"kind": "ray", "shards": 4})):  # fmt: skip
            summary = build(config_path=str(write_config(tmp_path, server, version, executor)), base_dir=str(ROOT))
            assert summary["lm_requests"]["sent"] == PROMPTS * 4 and summary["items"] == PROMPTS
            runs[version] = release_and_log(Path(summary["run_dir"]))
    (one, one_log), (local4, local4_log), (ray4, ray4_log) = runs["one"], runs["local4"], runs["ray4"]
    assert ray4.equals(local4) and one.equals(local4)  # the release does not depend on executor or shards
    for stage, frame in ray4_log.items():
        assert frame.equals(local4_log[stage]), stage  # same shards: the same log, row for row
        assert frame.sort("item_id").equals(one_log[stage].sort("item_id")), stage
    shards = json.loads((tmp_path / "outputs" / "ray4" / "generate" / "shards.json").read_text())
    assert [s["shard"] for s in shards] == [0, 1, 2, 3] and len({s["pid"] for s in shards}) >= 2


def test_max_concurrency_holds_across_workers(ray_cluster: None, tmp_path: Path) -> None:
    """Two workers with 3 request threads each; llm-katan answers 503 past 3 requests at once and
    retries are off, so a single request over the limit would fail the stage's count."""
    from pipeline.exec import executor_for

    with katan_server("--latency-ms", "300", "--max-inflight", "3", "--max-concurrent", "64",
                      model="katan-echo", tmp_path=tmp_path) as server:  # fmt: skip
        config = write_config(tmp_path, server, "gated", {"kind": "ray", "shards": 4},
                              max_concurrency=3, max_retries=0)  # fmt: skip
        cfg = load_config(config)
        outputs = run_all(RunContext(cfg, ROOT), UP_TO_LABEL)
        gates = executor_for(cfg.executor).gate_stats()
        assert server.requests_received() == PROMPTS * 4
    generate = outputs["generate"].counts
    assert generate["lm_failed"] == 0 and generate["lm_retries"] == 0 and generate["kept"] == PROMPTS * 4
    assert gates["katan-echo"]["peak"] == 3 and gates["katan-echo"]["active"] == 0
    shards = json.loads((Path(cfg.output_dir) / "gated" / "generate" / "shards.json").read_text())
    windows = sorted((s["started_at"], s["ended_at"]) for s in shards)
    # Shards overlapped: per-worker limits alone would have allowed 6 requests at once.
    assert any(later[0] < earlier[1] for earlier, later in zip(windows, windows[1:]))


def _shard_workers(stage: str) -> list[int]:
    """Pids of the Ray workers running a stage's shard tasks (Ray sets their process title to
    `ray::<task name>`, which /proc shows as their command line)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(f"ray::{stage}-".encode()):
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return pids


def test_a_worker_killed_mid_shard_loses_nothing_and_pays_once(ray_cluster: None, tmp_path: Path) -> None:
    with katan_server("--latency-ms", "200", "--max-concurrent", "64", model="katan-echo", tmp_path=tmp_path) as server:
        config = write_config(tmp_path, server, "killed", {"kind": "ray", "shards": 2}, max_concurrency=4)
        cfg = load_config(config)
        killed: list[int] = []

        def kill_when_busy() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                workers = _shard_workers("generate")
                if workers and server.requests_received() >= 20:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(workers[0])
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        outputs = run_all(RunContext(cfg, ROOT), UP_TO_LABEL)
        killer.join()
        received = server.requests_received()
    assert killed, "no shard worker was found to kill"
    planned = PROMPTS * 4
    assert outputs["generate"].counts["kept"] == planned and outputs["generate"].counts.get("failed", 0) == 0
    # Only requests in flight when the worker died went twice (at most its 4 permits).
    assert planned <= received <= planned + 4
    sends = ResponseCache(cfg.lm_cache).sends()
    # The journal counts what the dead worker had handed to its backend, waiting at the cluster
    # gate or on the wire: at most its 4 threads' worth; the server counts what was paid.
    assert len(sends) == planned and received <= sum(sends.values()) <= planned + 4
    shards = json.loads((Path(cfg.output_dir) / "killed" / "generate" / "shards.json").read_text())
    assert sorted(s["attempt"] for s in shards) == [1, 2]
    assert outputs["assemble"].counts["items"] == PROMPTS


def test_a_local_model_is_one_engine_for_every_shard(ray_cluster: None, tmp_path: Path) -> None:
    """A llama.cpp model on Ray runs as one long-lived engine actor that every shard calls: loaded
    once for the build, never per shard."""
    from pipeline.exec import executor_for

    with katan_server(model="katan-echo", tmp_path=tmp_path) as server:
        config = write_config(tmp_path, server, "engine", {"kind": "ray", "shards": 3})
    raw = yaml.safe_load(config.read_text())
    raw["models"] = [{"name": "smollm2", "backend": "local", "model_file": "package:smollm2-135m-instruct",
                      "max_concurrency": 1}]  # fmt: skip
    raw["models_dir"] = str(ROOT / "models")
    raw["subsets"]["echo"].update(models=["smollm2"], samples_per_model=1, max_tokens=4)
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = load_config(config)
    outputs = run_all(RunContext(cfg, ROOT), STAGES[: [s.name for s in STAGES].index("generate") + 1])
    engines = executor_for(cfg.executor).engine_info()
    assert outputs["generate"].counts["kept"] == PROMPTS * 2 and outputs["generate"].counts["lm_sent"] == PROMPTS * 2
    shards = json.loads((Path(cfg.output_dir) / "engine" / "generate" / "shards.json").read_text())
    assert all(s["usage"]["smollm2"]["sent"] > 0 for s in shards) and len({s["pid"] for s in shards}) >= 2
    assert engines["smollm2"]["loads"] == 1 and engines["smollm2"]["pid"] not in {s["pid"] for s in shards}


def test_embedding_runs_as_shards_with_the_same_decisions(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest's near-duplicate pass and decontamination encode their text lists as shards on Ray
    and decide exactly as a local build does."""
    from pipeline.stages import embed_shards

    monkeypatch.setattr(embed_shards, "MIN_SHARDED_TEXTS", 10)
    evalset = tmp_path / "leaks.jsonl"
    evalset.write_text("".join(json.dumps({"id": f"x{i}", "text": t}) + "\n" for i, t in enumerate(
        ["Tell me one fact about glaciers.", "What is the boiling point of water at sea level?",
         "Write a haiku about autumn leaves.", "Tell me one fact about owls!"])))  # fmt: skip
    logs, labels = {}, []
    with katan_server(model="katan-echo", tmp_path=tmp_path) as server:
        for version, executor in (("embed-local", {"kind": "local"}), ("embed-ray", {"kind": "ray", "shards": 3})):
            config = write_config(tmp_path, server, version, executor)
            raw = yaml.safe_load(config.read_text())
            raw["ingest"] = {"near_duplicate_threshold": 0.95}
            raw["decontamination"] = {"eval_sets": [f"leaks={evalset}"]}
            raw["embeddings"] = {"cache_dir": str(tmp_path / f"embed-{version}")}
            with (tmp_path / "pool.jsonl").open("a") as pool:
                pool.write(json.dumps({"id": "dup", "prompt": "Tell me just one fact about the moon.", "subset": "echo"}) + "\n")
            config.write_text(yaml.safe_dump(raw, sort_keys=False))
            ctx = RunContext(load_config(config), ROOT, progress=lambda label, done, total: labels.append(label))
            run_all(ctx, STAGES[:2])
            logs[version] = {s: normalized(pl.read_parquet(ctx.stage_dir(s) / "decisions.parquet")) for s in ("ingest", "decontaminate")}
    assert any(label.startswith("embed-0") for label in labels)  # shards of the encoding reported progress
    for stage in ("ingest", "decontaminate"):
        assert logs["embed-ray"][stage].equals(logs["embed-local"][stage]), stage
    reasons = logs["embed-ray"]["decontaminate"]["reason"].to_list() + logs["embed-ray"]["ingest"]["reason"].to_list()
    assert "near_duplicate" in reasons and "contaminated:leaks" in reasons
