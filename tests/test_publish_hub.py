"""Publishing to the Hub through the real `huggingface_hub` client, against a loopback Hub server:
one commit and one tag per version, nothing changed on a repeat, refused rewrites, clean races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import datasets
import pytest
from huggingface_hub import snapshot_download

from pipeline.core.config import load_config
from pipeline.release.hub import HubPublisher, PublishError, release_files
from tests.hub_server import HubServer, use_loopback_client
from tests.test_publish_card import build_release, release_rows

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "hf_loopbackTOKEN0123456789abcdef"
REPO = "bench-org/reward-bench-x"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    use_loopback_client(monkeypatch, cache_dir=tmp_path / "hf-cache")  # no shared cache to hide a refusal
    with HubServer(token=TOKEN) as server:
        yield server
        assert server.errors == [] and server.unhandled == []


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "tests/data/tiny.yaml")


def release(tmp_path: Path, cfg, name: str, **sizes: int) -> Path:
    folder = tmp_path / name / "hub"
    build_release(folder, cfg, release_rows(**sizes))
    return folder


def publisher(hub: HubServer, log: list[str] | None = None, token: str = TOKEN) -> HubPublisher:
    return HubPublisher(REPO, token, hub.url, log=(log.append if log is not None else lambda _: None))


def test_one_commit_and_one_tag_per_version_and_a_repeat_changes_nothing(hub: HubServer, tmp_path: Path, cfg) -> None:
    folder = release(tmp_path, cfg, "v1")
    files = release_files(folder)
    first = publisher(hub).publish("v1", files)
    assert first.action == "published" and first.tag == "v1"
    commits = hub.commits(REPO)
    assert len(commits) == 2  # the repo's initial commit, then the release as ONE commit
    assert commits[-1]["title"] == "Release v1" and hub.tags(REPO) == {"v1": commits[-1]["id"]}
    assert {p: d for p, d in hub.files(REPO, rev="v1").items() if p != ".gitattributes"} == files
    assert set(hub.lfs_files(REPO, rev="v1")) == {p for p in files if p.endswith(".parquet")}

    again = publisher(hub).publish("v1", files)
    assert again.action == "unchanged" and again.uploaded == [] and again.commit == commits[-1]["id"]
    assert len(hub.commits(REPO)) == 2 and hub.tags(REPO) == {"v1": commits[-1]["id"]}

    # What was published loads with `datasets`, from a download of the tag.
    local = snapshot_download(REPO, repo_type="dataset", revision="v1", endpoint=hub.url, token=TOKEN,
                              local_dir=tmp_path / "download")  # fmt: skip
    loaded = datasets.load_dataset(local, split="test", cache_dir=str(tmp_path / "cache"))
    assert loaded.to_list() == release_rows()


def test_a_new_version_is_a_second_commit_and_tag_without_the_stale_files(hub: HubServer, tmp_path: Path, cfg) -> None:
    publisher(hub).publish("v1", release_files(release(tmp_path, cfg, "v1", math=3, precise=2)))
    v2 = release_files(release(tmp_path, cfg, "v2", math=4, precise=0))
    result = publisher(hub).publish("v2", v2)
    assert result.deleted == ["data/precise_if/test-00000-of-00001.parquet"]
    assert len(hub.commits(REPO)) == 3 and set(hub.tags(REPO)) == {"v1", "v2"}
    assert {p for p in hub.files(REPO) if p != ".gitattributes"} == set(v2)
    assert "data/precise_if/test-00000-of-00001.parquet" in hub.files(REPO, rev="v1")  # v1 stays as it was


def test_a_published_version_is_never_rewritten(hub: HubServer, tmp_path: Path, cfg) -> None:
    publisher(hub).publish("v1", release_files(release(tmp_path, cfg, "a", math=3)))
    other = release_files(release(tmp_path, cfg, "b", math=2))
    with pytest.raises(PublishError, match="version v1 is already published .* different files"):
        publisher(hub).publish("v1", other)
    assert len(hub.commits(REPO)) == 2


def test_a_concurrent_commit_fails_cleanly_and_a_retry_builds_on_it(
    hub: HubServer, tmp_path: Path, cfg, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.create_repo(REPO)
    files = release_files(release(tmp_path, cfg, "v1"))
    pub = publisher(hub)
    real_listing = pub.remote_files

    def listing_then_someone_commits(revision: str) -> dict[str, str]:
        found = real_listing(revision)
        hub.push(REPO, {"NOTES.md": b"edited on the Hub meanwhile\n"})
        return found

    monkeypatch.setattr(pub, "remote_files", listing_then_someone_commits)
    with pytest.raises(PublishError, match="main moved while publishing") as moved:
        pub.publish("v1", files)
    assert moved.value.__context__ is None
    assert hub.tags(REPO) == {} and hub.commits(REPO)[-1]["title"] == "Concurrent commit"

    result = publisher(hub).publish("v1", files)
    assert result.action == "published"
    assert hub.files(REPO)["NOTES.md"] == b"edited on the Hub meanwhile\n"  # their change kept
    assert hub.commits(REPO)[-1]["parents"] == [hub.commits(REPO)[-2]["id"]]


def test_create_pr_leaves_main_and_tags_alone(hub: HubServer, tmp_path: Path, cfg) -> None:
    hub.create_repo(REPO)
    head = hub.head(REPO)
    result = publisher(hub).publish("v1", release_files(release(tmp_path, cfg, "v1")), create_pr=True)
    assert result.action == "pull-request" and result.pr_url and result.tag is None
    assert hub.head(REPO) == head and hub.tags(REPO) == {} and len(hub.pull_requests(REPO)) == 1


def test_dry_run_and_private_repos(hub: HubServer, tmp_path: Path, cfg) -> None:
    files = release_files(release(tmp_path, cfg, "v1"))
    log: list[str] = []
    plan = publisher(hub, log).publish("v1", files, dry_run=True)
    assert plan.action == "dry-run" and plan.uploaded == sorted(files)
    assert not hub.repo_exists(REPO) and "would create" in log[-1]
    publisher(hub).publish("v1", files, private=True)
    assert hub.is_private(REPO)


def test_the_token_never_appears_in_messages(hub: HubServer, tmp_path: Path, cfg) -> None:
    wrong = "hf_wrongTOKENzzzzzzzzzzzzzzzzzz"
    with pytest.raises(PublishError) as failure:
        publisher(hub, token=wrong).publish("v1", release_files(release(tmp_path, cfg, "v1")))
    assert "not accepted" in str(failure.value) and wrong not in str(failure.value)
    # Not even kept out of sight: the Hub's error holds the request, Authorization header included.
    assert failure.value.__context__ is None and failure.value.__cause__ is None
    with pytest.raises(PublishError, match="no Hub token"):
        HubPublisher(REPO, "", hub.url)
    with pytest.MonkeyPatch.context() as offline:
        offline.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
        with pytest.raises(PublishError, match="HF_HUB_OFFLINE is set"):
            HubPublisher(REPO, TOKEN, hub.url)
    log: list[str] = []
    publisher(hub, log).publish("v1", release_files(release(tmp_path, cfg, "v1")))
    assert log and not any(TOKEN in line for line in log)
    assert set(hub.seen_authorization) == {f"Bearer {wrong}", f"Bearer {TOKEN}"}


def test_rb_publish_renders_the_card_for_the_repo_and_is_idempotent(hub: HubServer, tmp_path: Path, cfg) -> None:
    """The command as a user runs it: token in the environment, a Prefect flow, twice."""
    outputs = tmp_path / "outputs"
    context = build_release(outputs / "v1" / "hub", cfg, release_rows())
    (outputs / "v1" / "publish").mkdir()
    (outputs / "v1" / "publish" / "card.json").write_text(json.dumps(context))
    built_card = (outputs / "v1" / "hub" / "README.md").read_text()
    env = {**os.environ, "HF_TOKEN": TOKEN, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_CACHE": str(tmp_path / "hf-cache"), "PREFECT_API_URL": ""}  # fmt: skip
    command = [sys.executable, "-m", "flows.cli", "publish", "--version", "v1", "--repo", REPO,
               "--output-dir", str(outputs), "--endpoint", hub.url]  # fmt: skip
    runs = [subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        assert TOKEN not in run.stdout + run.stderr
    assert f"{REPO} v1: published" in runs[0].stdout
    assert f"{REPO} v1: already published, nothing changed" in runs[1].stdout
    assert len(hub.commits(REPO)) == 2 and list(hub.tags(REPO)) == ["v1"]
    published = hub.files(REPO, rev="v1")["README.md"].decode()
    assert f'load_dataset("{REPO}", split="test")' in published and "path/to/this/folder" not in published
    assert (outputs / "v1" / "hub" / "README.md").read_text() == built_card  # the build's output is untouched


@pytest.mark.slow
def test_publish_flow_takes_the_token_from_a_secret_block(
    prefect_harness: None, hub: HubServer, tmp_path: Path, cfg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No HF_TOKEN: the flow reads a Prefect Secret block; the token is in no parameter or artifact."""
    import httpx
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL

    from flows.publish import publish_release
    from tests.test_build_flow import latest_artifacts

    monkeypatch.delenv("HF_TOKEN", raising=False)
    outputs = tmp_path / "outputs"
    build_release(outputs / "v7" / "hub", cfg, release_rows())
    with pytest.raises(PublishError, match="no Hub token: set HF_TOKEN, or store one in a Prefect Secret block"):
        publish_release(version="v7", repo=REPO, output_dir=str(outputs), endpoint=hub.url, secret_block="rb-absent")
    Secret(value=TOKEN).save("rb-test-hf-token", overwrite=True)
    result = publish_release(version="v7", repo=REPO, output_dir=str(outputs), endpoint=hub.url,
                             secret_block="rb-test-hf-token")  # fmt: skip
    assert result["action"] == "published" and hub.tags(REPO) == {"v7": result["commit"]}

    markdown = latest_artifacts(["v7-hub-release"])["v7-hub-release"]["data"]
    assert result["commit"] in markdown and TOKEN not in markdown
    runs = httpx.post(f"{PREFECT_API_URL.value()}/flow_runs/filter", json={"limit": 50, "offset": 0,
                      "sort": "START_TIME_DESC", "flow_runs": {"name": {"like_": ""}}}, timeout=30)  # fmt: skip
    runs.raise_for_status()
    assert runs.json() and TOKEN not in json.dumps([r["parameters"] for r in runs.json()])
