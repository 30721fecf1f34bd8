"""A run directory on object storage, against moto's S3 server on loopback: tables written and
scanned by polars directly, folders complete only with their marker, local folders mirrored both
ways, one-line errors without secrets, and a whole build whose rerun from an empty working copy
reuses every stage."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from pipeline.core.store import DONE, RunStore
from tests.servers import DUMMY_KEY, DUMMY_SECRET, S3Bucket, katan_server
from tests.servers import s3_bucket_fixture, s3_endpoint_fixture  # noqa: F401  (fixtures s3_bucket, s3_endpoint)

ROOT = Path(__file__).resolve().parent.parent


def test_polars_writes_and_scans_tables_in_the_bucket(s3_bucket: S3Bucket) -> None:
    store = RunStore.open(s3_bucket.url("runs/v1"))
    assert store.is_remote and store.url("generate/x.parquet") == f"s3://{s3_bucket.bucket}/runs/v1/generate/x.parquet"
    for part in range(3):
        frame = pl.DataFrame({"part": [part] * 2, "text": [f"a{part}", f"b{part}"]})
        assert store.write_parquet(frame, f"generate/shards/part-{part}.parquet").startswith("s3://")
    scanned = store.scan_parquet("generate/shards/*.parquet").filter(pl.col("part") > 0).collect()
    assert sorted(scanned["text"]) == ["a1", "a2", "b1", "b2"]
    assert store.list("generate") == [f"generate/shards/part-{i}.parquet" for i in range(3)]
    with pytest.raises(FileNotFoundError, match="no parquet file"):
        store.scan_parquet("label/*.parquet")
    store.remove("generate/shards")
    assert store.list("generate") == [] and not store.exists("generate/shards/part-0.parquet")


def test_the_same_store_on_a_local_folder(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path / "runs")
    assert not store.is_remote
    store.write_parquet(pl.DataFrame({"a": [1, 2]}), "s/t.parquet")
    assert store.scan_parquet("s/*.parquet").collect()["a"].to_list() == [1, 2]
    store.write_text("s/note.txt", "hi")
    assert store.read_text("s/note.txt") == "hi" and store.list("s") == ["s/note.txt", "s/t.parquet"]
    assert not list((tmp_path / "runs").rglob("*.tmp"))


def test_a_folder_without_its_marker_reads_as_absent(s3_bucket: S3Bucket) -> None:
    store = RunStore.open(s3_bucket.url("runs/v1"))
    store.write_parquet(pl.DataFrame({"a": [1]}), "label/labels.parquet")
    store.write_text("label/report.json", "{}")
    assert store.done("label") is None and store.done_folders() == []  # parts there, no marker
    store.mark_done("label", {"stage": "label", "fingerprint": "abc"})
    assert store.done("label") == {"stage": "label", "fingerprint": "abc"}
    assert f"label/{DONE}" in store.list("label")
    store.write_text("generate/completions.parquet", "half")  # a stage cut off before its marker
    assert store.done_folders() == ["label"] and store.done("generate") is None


def test_upload_and_download_mirror_a_folder(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "shards").mkdir(parents=True)
    files = {"prompts.parquet": b"PAR1" + bytes(range(256)) * 40, "shards/part-0.parquet": b"\x00\x01data",
             "report.json": b'{"ok": true}'}  # fmt: skip
    for name, data in files.items():
        (src / name).write_bytes(data)
    (src / ".prompts.parquet.x1y2.tmp").write_bytes(b"half")  # an atomic write in progress
    (src / ".build.lock").write_bytes(b"")
    store = RunStore.open(s3_bucket.url("runs/v1"))
    assert store.upload_dir(src, "ingest") == 3
    assert store.upload_dir(src, "ingest") == 0  # unchanged files are not sent again
    assert sorted(store.list("ingest")) == sorted(f"ingest/{n}" for n in files)
    store.mark_done("ingest", {"stage": "ingest"})
    dst = tmp_path / "dst"
    assert store.download_dir("ingest", dst) == 3
    got = {p.relative_to(dst).as_posix(): p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    assert got == files  # byte for byte; no marker, temp file or lock
    (src / "report.json").unlink()
    store.upload_dir(src, "ingest")
    assert "ingest/report.json" not in store.list("ingest") and store.done("ingest") is None


def test_a_missing_bucket_is_one_clear_line(s3_bucket: S3Bucket) -> None:
    with pytest.raises(RuntimeError) as caught:
        RunStore.open("s3://no-such-bucket-here/runs")
    message = str(caught.value)
    assert message == "s3://no-such-bucket-here/runs: the bucket does not exist"
    assert caught.value.__cause__ is None and DUMMY_SECRET not in message and DUMMY_KEY not in message


def test_an_unreachable_endpoint_is_one_clear_line(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.lm.local import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    with pytest.raises(RuntimeError) as caught:
        RunStore.open(s3_bucket.url("runs"))
    message = str(caught.value)
    assert message == f"{s3_bucket.url('runs')}: cannot reach the S3 endpoint {dead}"
    assert DUMMY_SECRET not in message and DUMMY_SECRET not in repr(RunStore(s3_bucket.url("runs")))


def test_missing_credentials_are_named(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(RuntimeError, match="no AWS credentials found"):
        RunStore.open(s3_bucket.url("runs"))


def test_output_dir_takes_s3_urls_only_among_urls() -> None:
    from pipeline.core.config import BuildConfig, ConfigError

    raw = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    assert BuildConfig.model_validate({**raw, "output_dir": "s3://bucket/runs"}).output_dir == "s3://bucket/runs"
    with pytest.raises((ConfigError, ValueError), match="s3://bucket/prefix"):
        BuildConfig.model_validate({**raw, "output_dir": "gs://bucket/runs"})


def test_a_remote_run_works_in_a_hashed_local_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline.core.config import BuildConfig
    from pipeline.core.run_location import local_run_dir, run_url

    raw = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    local = BuildConfig.model_validate(raw)
    assert local_run_dir(local, tmp_path) == tmp_path / local.output_dir / local.version
    remote = BuildConfig.model_validate({**raw, "output_dir": "s3://bucket/runs/"})
    monkeypatch.setenv("RBBENCH_WORK_DIR", str(tmp_path / "work"))
    assert run_url(remote) == f"s3://bucket/runs/{remote.version}"
    first = local_run_dir(remote, tmp_path)
    assert first.parent.parent == tmp_path / "work" and len(first.parent.name) == 16 and first.name == remote.version
    assert local_run_dir(remote, ROOT) == first  # the base directory plays no part


def test_stages_go_up_marked_and_come_down_on_another_copy(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    """push_stage/pull as the flow uses them, without Prefect: only marked folders come down, and
    cache records pointing into another working copy are rewritten to bare file names."""
    import json

    from flows.remote_cache import pull
    from pipeline.core.io import StageOutput
    from pipeline.stages.remote_sync import push_stage
    from pipeline.stages.table import STAGES

    by_name = {s.name: s for s in STAGES}
    a = tmp_path / "a"
    for rel, text in {"ingest/prompts.parquet": "p", "publish/card.json": "{}", "hub/README.md": "card",
                      "route/prompts.parquet": "half", ".prefect/results/k1": "r", ".build.lock": ""}.items():
        (a / rel).parent.mkdir(parents=True, exist_ok=True)
        (a / rel).write_text(text)
    (a / ".prefect/keys").mkdir()
    (a / ".prefect/keys/k1").write_text(json.dumps({"storage_key": str(a / ".prefect/results/k1"),
                                                    "storage_block_id": None}))  # fmt: skip
    store = RunStore.open(s3_bucket.url("runs/v1"))
    for name in ("ingest", "publish"):
        out = StageOutput(name, str(a / name / "x"), "fp")
        push_stage(store, a, by_name[name], out, "run-1", cached=False)
    store.upload_dir(a / "route", "route")  # cut off before its marker
    assert store.done("publish") == store.done("hub") == {"stage": "publish", "output": "publish/x",
                                                          "fingerprint": "fp", "run_id": "run-1"}  # fmt: skip
    b = tmp_path / "b"
    assert sorted(pull(store, b, lambda line: None)) == ["hub", "ingest", "publish"]
    assert (b / "hub/README.md").read_text() == "card" and not (b / "route").exists()
    assert not (b / ".build.lock").exists() and (b / ".prefect/results/k1").read_text() == "r"
    assert json.loads((b / ".prefect/keys/k1").read_text())["storage_key"] == "k1"


@pytest.mark.slow
def test_a_build_to_s3_reruns_elsewhere_from_the_store(
    prefect_harness: None, s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Echo subset (tests/test_plugin_subset.py) built with output_dir on S3; then built again
    from an empty working copy, as another machine would: every stage comes from the store."""
    from flows.build import build
    from pipeline.stages.remote_sync import stage_folders
    from pipeline.stages.table import STAGES
    from pipeline.subsets.registry import register
    from tests.test_plugin_subset import Echo, _config

    register(Echo)
    with katan_server(model="katan-echo", tmp_path=tmp_path) as server:
        config = _config(tmp_path, f"{server.url}/v1")
        raw = yaml.safe_load(config.read_text())
        config.write_text(yaml.safe_dump({**raw, "output_dir": s3_bucket.url("runs")}, sort_keys=False))
        monkeypatch.setenv("RBBENCH_WORK_DIR", str(tmp_path / "machine-a"))
        first = build(config_path=str(config), base_dir=str(ROOT))
        sent = server.requests_received()
        monkeypatch.setenv("RBBENCH_WORK_DIR", str(tmp_path / "machine-b"))
        again = build(config_path=str(config), base_dir=str(ROOT))
        assert server.requests_received() == sent
    store = RunStore.open(s3_bucket.url("runs/echo"))
    assert first["release_url"] == store.url("assemble/test.parquet") and first["run_url"] == store.url()
    release = store.scan_parquet("assemble/test.parquet").collect()
    assert release.height == 4 and set(release["subset"]) == {"Echo"}
    assert release.equals(pl.read_parquet(first["release"]))
    for stage in STAGES:
        for folder in stage_folders(stage):
            assert store.done(folder) is not None, folder
    assert sent == 16 and again["lm_requests"]["sent"] == 0
    assert sorted(again["cached_stages"]) == sorted(s.name for s in STAGES)
    assert Path(again["run_dir"]).parent.parent == tmp_path / "machine-b"
    assert pl.read_parquet(again["release"]).equals(release)
