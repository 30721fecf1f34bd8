"""The loopback Hub (tests/hub_server.py) driven by the real `huggingface_hub` client.

These prove the double speaks the protocol the client expects, so tests of the publish code built on it
exercise the client's real upload, skip and error paths.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile, RepoFolder

from tests.hub_server import HubServer, git_blob_sha1, use_loopback_client

TOKEN = "hf_loopback_test_token"
REPO = "org/bench"
README = b"---\nlicense: cc-by-4.0\ntags:\n- reward-modeling\n---\n\n# Bench\n"
DATA_PATH = "data/test-00000-of-00001.parquet"


def _parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"prompt": ["a", "b"], "chosen": ["x", "y"]}), buffer)
    return buffer.getvalue()


PARQUET = _parquet_bytes()


def _operations(readme: bytes = README, parquet: bytes = PARQUET) -> list[CommitOperationAdd]:
    return [
        CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme),
        CommitOperationAdd(path_in_repo=DATA_PATH, path_or_fileobj=parquet),
    ]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    use_loopback_client(monkeypatch, cache_dir=tmp_path / "hf-cache")
    with HubServer(token=TOKEN, user="bench-bot", orgs=["org"]) as server:
        yield server
    assert server.errors == [], "hub_server raised:\n" + "\n".join(server.errors)


@pytest.fixture
def api(hub: HubServer) -> HfApi:
    return HfApi(endpoint=hub.url, token=TOKEN)


@pytest.fixture
def published(api: HfApi) -> str:
    """A dataset repo with README.md and a parquet file committed on main; returns that commit id."""
    api.create_repo(REPO, repo_type="dataset", private=True)
    return api.create_commit(
        REPO, operations=_operations(), commit_message="Publish v1", repo_type="dataset"
    ).oid


def test_whoami_reports_user_and_token_role(hub: HubServer, api: HfApi) -> None:
    me = api.whoami()
    assert me["name"] == "bench-bot"
    assert me["type"] == "user"
    assert [org["name"] for org in me["orgs"]] == ["org"]
    assert me["auth"]["accessToken"]["role"] == "write"
    assert hub.seen_authorization == [f"Bearer {TOKEN}"]


def test_create_repo_twice_with_exist_ok(hub: HubServer, api: HfApi) -> None:
    url = api.create_repo(REPO, repo_type="dataset", private=True)
    assert (url.repo_id, url.repo_type, url.endpoint) == (REPO, "dataset", hub.url)
    again = api.create_repo(REPO, repo_type="dataset", private=True, exist_ok=True)
    assert again.repo_id == REPO
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(REPO, repo_type="dataset")
    assert err.value.response.status_code == 409
    assert hub.is_private(REPO)
    assert [c["title"] for c in hub.commits(REPO)] == ["initial commit"]  # the Hub's initial .gitattributes
    assert ".gitattributes" in hub.files(REPO)


def test_commit_sends_readme_inline_and_parquet_through_lfs(hub: HubServer, published: str) -> None:
    assert hub.head(REPO) == published
    files = hub.files(REPO)
    assert files["README.md"] == README and files[DATA_PATH] == PARQUET
    assert hub.lfs_files(REPO) == {DATA_PATH: hashlib.sha256(PARQUET).hexdigest()}
    assert list(hub.lfs_objects(REPO).values()) == [PARQUET]
    calls = hub.requests
    assert ("POST", "/api/validate-yaml") in calls
    assert ("POST", f"/api/datasets/{REPO}/preupload/main") in calls
    assert ("POST", f"/datasets/{REPO}.git/info/lfs/objects/batch") in calls
    assert ("POST", f"/datasets/{REPO}.git/info/lfs/objects/verify") in calls
    assert ("POST", f"/api/datasets/{REPO}/commit/main") in calls
    put = [entry for entry in hub.log if entry["method"] == "PUT"]
    assert len(put) == 1 and put[0]["path"].startswith(f"/lfs-storage/datasets/{REPO}/")
    assert put[0]["authorization"] is None  # the token never goes to the storage URL
    assert all(value == f"Bearer {TOKEN}" for value in hub.seen_authorization)
    latest = hub.commits(REPO)[-1]
    assert latest["title"] == "Publish v1" and latest["parents"] == [hub.commits(REPO)[0]["id"]]


def test_tags_and_refs(hub: HubServer, api: HfApi, published: str) -> None:
    api.create_tag(REPO, tag="v1", tag_message="first", repo_type="dataset")
    assert hub.tags(REPO) == {"v1": published}
    with pytest.raises(HfHubHTTPError) as err:
        api.create_tag(REPO, tag="v1", repo_type="dataset")
    assert err.value.response.status_code == 409
    api.create_tag(REPO, tag="v1", repo_type="dataset", exist_ok=True)
    initial = hub.commits(REPO)[0]["id"]
    api.create_tag(REPO, tag="v0", revision=initial, repo_type="dataset")
    refs = api.list_repo_refs(REPO, repo_type="dataset")
    assert [(b.name, b.ref, b.target_commit) for b in refs.branches] == [
        ("main", "refs/heads/main", published)
    ]
    assert {t.name: t.target_commit for t in refs.tags} == {"v0": initial, "v1": published}
    assert refs.converts == [] and refs.pull_requests is None
    api.delete_tag(REPO, tag="v0", repo_type="dataset")
    assert hub.tags(REPO) == {"v1": published}
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(REPO, tag="v2", revision="no-such-branch", repo_type="dataset")


def test_identical_recommit_is_skipped_by_the_client(
    hub: HubServer, api: HfApi, published: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = hub.commits(REPO)
    with caplog.at_level(logging.WARNING, logger="huggingface_hub"):
        info = api.create_commit(
            REPO, operations=_operations(), commit_message="Publish v1 again", repo_type="dataset"
        )
    assert "No files have been modified since last commit" in caplog.text
    assert info.oid == published
    assert hub.commits(REPO) == before
    assert hub.requests.count(("POST", f"/api/datasets/{REPO}/commit/main")) == 1
    assert sum(1 for method, _ in hub.requests if method == "PUT") == 1  # the parquet was not uploaded twice
    # One changed file: a new commit, but the unchanged parquet is neither re-uploaded nor re-committed.
    info = api.create_commit(
        REPO,
        operations=_operations(readme=README + b"\nMore.\n"),
        commit_message="Edit card",
        repo_type="dataset",
    )
    assert hub.head(REPO) == info.oid != published
    assert sum(1 for method, _ in hub.requests if method == "PUT") == 1


def test_stale_parent_commit_is_refused(hub: HubServer, api: HfApi, published: str) -> None:
    concurrent = hub.push(REPO, {"other.txt": b"someone else"})
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(
            REPO,
            operations=_operations(readme=README + b"\nv2\n"),
            commit_message="Publish v2",
            repo_type="dataset",
            parent_commit=published,
        )
    assert err.value.response.status_code == 412
    assert "A commit has happened since" in str(err.value)
    assert hub.head(REPO) == concurrent
    assert [c["title"] for c in hub.commits(REPO)] == ["initial commit", "Publish v1", "Concurrent commit"]
    info = api.create_commit(
        REPO,
        operations=_operations(readme=README + b"\nv2\n"),
        commit_message="Publish v2",
        repo_type="dataset",
        parent_commit=concurrent,
    )
    assert hub.head(REPO) == info.oid and hub.commits(REPO)[-1]["parents"] == [concurrent]


def test_create_pr_opens_a_pr_ref_and_leaves_main(hub: HubServer, api: HfApi, published: str) -> None:
    info = api.create_commit(
        REPO,
        operations=[CommitOperationAdd(path_in_repo="NOTES.md", path_or_fileobj=b"proposal\n")],
        commit_message="Propose notes",
        repo_type="dataset",
        create_pr=True,
    )
    assert (info.pr_revision, info.pr_num) == ("refs/pr/1", 1)
    assert info.pr_url == f"{hub.url}/datasets/{REPO}/discussions/1"
    assert hub.head(REPO) == published
    assert hub.pull_requests(REPO) == {"refs/pr/1": info.oid}
    assert hub.commits(REPO, rev="refs/pr/1")[-1]["parents"] == [published]
    assert hub.files(REPO, rev="refs/pr/1")["NOTES.md"] == b"proposal\n"
    assert "NOTES.md" not in hub.files(REPO)
    refs = api.list_repo_refs(REPO, repo_type="dataset", include_pull_requests=True)
    assert [(p.ref, p.target_commit) for p in refs.pull_requests or []] == [("refs/pr/1", info.oid)]


def test_tree_files_and_commits_listings(hub: HubServer, api: HfApi, published: str) -> None:
    root = {e.path: e for e in api.list_repo_tree(REPO, repo_type="dataset")}
    assert set(root) == {".gitattributes", "README.md", "data"}
    assert isinstance(root["data"], RepoFolder) and isinstance(root["README.md"], RepoFile)
    assert root["README.md"].blob_id == git_blob_sha1(README) and root["README.md"].lfs is None
    deep = {e.path: e for e in api.list_repo_tree(REPO, repo_type="dataset", recursive=True)}
    parquet = deep[DATA_PATH]
    assert isinstance(parquet, RepoFile) and parquet.size == len(PARQUET)
    assert parquet.lfs is not None and parquet.lfs.size == len(PARQUET)
    assert [e.path for e in api.list_repo_tree(REPO, "data", repo_type="dataset")] == [DATA_PATH]
    expanded = {e.path: e for e in api.list_repo_tree(REPO, repo_type="dataset", expand=True)}
    assert expanded["README.md"].last_commit.oid == published
    assert expanded[".gitattributes"].last_commit.title == "initial commit"
    assert set(api.list_repo_files(REPO, repo_type="dataset")) == {".gitattributes", DATA_PATH, "README.md"}
    commits = api.list_repo_commits(REPO, repo_type="dataset")
    assert [(c.commit_id, c.title) for c in commits] == [
        (published, "Publish v1"),
        (hub.commits(REPO)[0]["id"], "initial commit"),
    ]
    assert commits[0].authors == ["bench-bot"] and commits[1].authors == ["system"]
    info = api.dataset_info(REPO, files_metadata=True)
    assert info.sha == published and info.private is True
    assert {s.rfilename for s in info.siblings or []} == set(hub.files(REPO))
    assert info.card_data is not None and info.card_data.license == "cc-by-4.0"
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_files(REPO, repo_type="dataset", revision="v9")


def test_snapshot_download_returns_committed_bytes(
    hub: HubServer, api: HfApi, published: str, tmp_path: Path
) -> None:
    api.create_tag(REPO, tag="v1", repo_type="dataset")
    hub.push(REPO, {"README.md": b"---\n---\nchanged after the tag\n"})
    folder = Path(
        snapshot_download(
            REPO,
            repo_type="dataset",
            revision="v1",
            endpoint=hub.url,
            token=TOKEN,
            cache_dir=tmp_path / "cache",
        )
    )
    assert folder.name == published
    downloaded = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert downloaded == hub.files(REPO, rev="v1")
    assert downloaded[DATA_PATH] == PARQUET
    assert any(method == "HEAD" and "/resolve/" in path for method, path in hub.requests)


def test_wrong_or_missing_token_is_refused(hub: HubServer, api: HfApi, published: str) -> None:
    wrong = HfApi(endpoint=hub.url, token="hf_wrong")
    with pytest.raises(HfHubHTTPError) as err:
        wrong.whoami()
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        wrong.create_commit(
            REPO, operations=_operations(readme=b"x\n"), commit_message="nope", repo_type="dataset"
        )
    assert err.value.response.status_code == 401
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs(REPO, repo_type="dataset", token=False)
    with pytest.raises(RepositoryNotFoundError):  # private: no anonymous download either
        HfApi(endpoint=hub.url, token=False).hf_hub_download(REPO, "README.md", repo_type="dataset")
    assert hub.head(REPO) == published


def test_unknown_repo_and_unknown_route(hub: HubServer, api: HfApi) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("org/missing")
    api.create_repo(REPO, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as err:
        list(api.list_repo_likers(REPO, repo_type="dataset"))
    assert err.value.response.status_code == 404
    assert f"no route for GET /api/datasets/{REPO}/likers" in str(err.value)
    assert hub.unhandled == [("GET", f"/api/datasets/{REPO}/likers")]


def test_invalid_readme_metadata_fails_before_any_upload(hub: HubServer, api: HfApi) -> None:
    api.create_repo(REPO, repo_type="dataset")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.create_commit(
            REPO,
            operations=_operations(readme=b"---\ntags: [a\n---\n"),
            commit_message="x",
            repo_type="dataset",
        )
    assert [c["title"] for c in hub.commits(REPO)] == ["initial commit"]
    assert hub.lfs_objects(REPO) == {}


def test_public_repo_downloads_anonymously(hub: HubServer, api: HfApi, tmp_path: Path) -> None:
    api.create_repo(REPO, repo_type="dataset", private=False)
    api.upload_file(path_or_fileobj=README, path_in_repo="README.md", repo_id=REPO, repo_type="dataset")
    anonymous = HfApi(endpoint=hub.url, token=False)
    path = anonymous.hf_hub_download(REPO, "README.md", repo_type="dataset", cache_dir=tmp_path)
    assert Path(path).read_bytes() == README
    assert not hub.is_private(REPO)
    resolve = [e for e in hub.log if "/resolve/" in e["path"]]
    assert resolve and all(e["authorization"] is None for e in resolve)
