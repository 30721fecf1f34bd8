"""Push a release folder to a Hub dataset repo as one commit, then tag it with the version.

A version is immutable: publishing a version whose tag exists changes nothing when the tagged
files equal the local release, and is refused when they differ. The commit names the branch head
it was built on (`parent_commit`), so a change pushed meanwhile by someone else fails the commit
cleanly instead of being overwritten. The token is passed in and never appears in messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

BRANCH = "main"
RELEASE_PATTERNS = ("README.md", "data/**/*.parquet")


class PublishError(RuntimeError):
    """Publishing stopped; the message says why and what to do, and never contains the token."""


@dataclass
class PublishResult:
    repo: str
    version: str
    action: str  # "published", "unchanged", "pull-request", "dry-run"
    commit: str | None = None
    tag: str | None = None
    pr_url: str | None = None
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    url: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def release_files(folder: Path, readme: bytes | None = None) -> dict[str, bytes]:
    """The files of a release, by path in the repo. `readme` replaces the folder's README.md."""
    if not (folder / "README.md").is_file():
        raise PublishError(f"{folder}: no README.md; build the release first (rb build)")
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for pattern in RELEASE_PATTERNS
             for p in sorted(folder.glob(pattern)) if p.is_file()}  # fmt: skip
    if not any(path.startswith("data/") for path in files):
        raise PublishError(f"{folder}: no data/*.parquet files; build the release first (rb build)")
    if readme is not None:
        files["README.md"] = readme
    return files


def changed_and_stale(files: dict[str, bytes], remote: dict[str, str]) -> tuple[list[str], list[str]]:
    """Local release files whose content the remote lacks, and remote release files (README and
    data/) that the local release no longer has."""
    changed = [p for p, data in sorted(files.items()) if remote.get(p) not in _content_ids(data)]
    stale = sorted(p for p in remote if (p == "README.md" or p.startswith("data/")) and p not in files)
    return changed, stale


def _content_ids(data: bytes) -> set[str]:
    """The ids the Hub may report for a file: the git blob sha1 of a regular file, the sha256 of
    an LFS one."""
    git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return {git, hashlib.sha256(data).hexdigest()}


class Redactor:
    """Removes the token from any text that leaves this module."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    def error(self, what: str, exc: Exception) -> PublishError:
        """The error to raise instead of `exc`. Raise it after the `except` block: raised inside,
        it would keep `exc` as its __context__, and a Hub error holds the request, token header and
        all."""
        return PublishError(self(f"{what}: {type(exc).__name__}: {exc}"))


class HubPublisher:
    """One release folder to one repo. Every Hub call goes through the real `huggingface_hub`
    client; `endpoint` points it at another server (a mirror, or a loopback server in tests)."""

    def __init__(self, repo: str, token: str, endpoint: str | None = None, log: Callable[[str], None] = print):
        if not token:
            raise PublishError("no Hub token: set HF_TOKEN or store one in a Prefect Secret block")
        if constants.HF_HUB_OFFLINE:  # read once by huggingface_hub at import
            raise PublishError("HF_HUB_OFFLINE is set (the Makefile sets it for builds and tests): unset it to publish")
        self.repo = repo
        self.api = HfApi(endpoint=endpoint, token=token)
        self.redact = Redactor(token)
        self.log = log

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, repo_type="dataset", **kwargs)
        except (HfHubHTTPError, OSError, ValueError) as exc:
            failure = self.redact.error(f"{self.repo}: {what}", exc)
        raise failure

    def _commit(self, **kwargs: Any) -> CommitInfo:
        """One commit on the repo; HTTP 412 means the branch moved since `parent_commit` was read."""
        try:
            return self.api.create_commit(self.repo, repo_type="dataset", **kwargs)
        except HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code == 412:
                failure = PublishError(f"{self.repo}: {BRANCH} moved while publishing (someone committed "
                                       "meanwhile); nothing was committed: run publish again")  # fmt: skip
            else:
                failure = self.redact.error(f"{self.repo}: committing", exc)
        except (OSError, ValueError) as exc:
            failure = self.redact.error(f"{self.repo}: committing", exc)
        raise failure

    def user(self) -> str:
        try:
            return self.api.whoami()["name"]
        except (HfHubHTTPError, OSError, ValueError) as exc:
            failure = self.redact.error(f"{self.api.endpoint}: the token was not accepted", exc)
        raise failure

    def exists(self) -> bool:
        try:
            self.api.repo_info(self.repo, repo_type="dataset")
            return True
        except RepositoryNotFoundError:
            return False
        except (HfHubHTTPError, OSError) as exc:
            failure = self.redact.error(f"{self.repo}: cannot read the repository", exc)
        raise failure

    def remote_files(self, revision: str) -> dict[str, str]:
        """Path -> content id (LFS sha256, else git blob sha1) of the files at a revision."""
        entries = self._call("listing files", self.api.list_repo_tree, self.repo, recursive=True, revision=revision)
        files = {}
        for entry in entries:
            if hasattr(entry, "blob_id"):
                files[entry.path] = entry.lfs.sha256 if entry.lfs else entry.blob_id
        return files


    def publish(self, version: str, files: dict[str, bytes], *, private: bool = False, create_pr: bool = False,
                dry_run: bool = False) -> PublishResult:  # fmt: skip
        url = f"{self.api.endpoint}/datasets/{self.repo}"
        user = self.user()
        exists = self.exists()
        refs = self._call("reading refs", self.api.list_repo_refs, self.repo) if exists else None
        tags = {t.name: t.target_commit for t in refs.tags} if refs else {}
        head = next((b.target_commit for b in refs.branches if b.name == BRANCH), None) if refs else None
        if version in tags:
            return self._already_tagged(version, tags[version], files, url)
        changed, stale = changed_and_stale(files, self.remote_files(head) if head else {})
        if dry_run:
            verb = "would update" if exists else "would create"
            self.log(f"dry run as {user}: {verb} {self.repo}; {len(changed)} files to upload, {len(stale)} to delete, "
                     f"then tag {version}")  # fmt: skip
            return PublishResult(self.repo, version, "dry-run", head, None, None, changed, stale, url)
        if not exists:
            self._call("creating the repository", self.api.create_repo, self.repo, private=private, exist_ok=True)
            refs = self._call("reading refs", self.api.list_repo_refs, self.repo)
            head = next((b.target_commit for b in refs.branches if b.name == BRANCH), None)
        operations: list[Any] = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=files[p]) for p in sorted(files)]
        operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
        self.log(f"committing {len(changed)} changed files and {len(stale)} deletions to {self.repo} as {user}")
        commit = self._commit(
            operations=operations, commit_message=f"Release {version}", parent_commit=head, create_pr=create_pr,
            commit_description=f"Benchmark release `{version}`: {len(files)} files.",
        )  # fmt: skip
        if create_pr:
            self.log(f"opened {commit.pr_url}; after it is merged, run publish again to tag {version}")
            return PublishResult(self.repo, version, "pull-request", commit.oid, None, commit.pr_url, changed, stale, url)
        self._call("tagging the commit", self.api.create_tag, self.repo, tag=version, revision=commit.oid,
                   tag_message=f"Benchmark release {version}")  # fmt: skip
        self.log(f"tagged {commit.oid[:12]} as {version}: {url}/tree/{version}")
        return PublishResult(self.repo, version, "published", commit.oid, version, None, changed, stale, url)

    def _already_tagged(self, version: str, commit: str, files: dict[str, bytes], url: str) -> PublishResult:
        changed, stale = changed_and_stale(files, self.remote_files(version))
        differ = changed + stale
        if differ:
            raise PublishError(
                f"{self.repo}: version {version} is already published (tag {version} -> commit {commit[:12]}) with "
                f"different files ({', '.join(differ[:5])}); a version is never changed: build and publish a new "
                "version instead"
            )
        self.log(f"{self.repo}: version {version} is already published with these files; nothing to do")
        return PublishResult(self.repo, version, "unchanged", commit, version, None, [], [], url)

