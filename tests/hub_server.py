"""A loopback Hugging Face Hub for tests: the real `huggingface_hub` client talks to it over HTTP.

Why a server and not mocks: the publish code must be tested against the real client, so that the
client's own logic (preupload, LFS batch + PUT + verify, NDJSON commit, "no files have been modified"
skipping, error mapping) runs exactly as it would against huggingface.co. The routes, bodies, headers
and JSON shapes below follow what `huggingface_hub` 2.4.0 sends and parses (hf_api.py, _commit_api.py,
lfs.py, utils/_http.py, file_download.py, _snapshot_download.py).

Using it from a test::

    from huggingface_hub import HfApi
    from tests.hub_server import HubServer, use_loopback_client

    def test_publish(monkeypatch, tmp_path):
        use_loopback_client(monkeypatch, cache_dir=tmp_path / "hf-cache")
        with HubServer(token="hf_loopback_test_token") as hub:
            api = HfApi(endpoint=hub.url, token="hf_loopback_test_token")
            api.create_repo("org/name", repo_type="dataset")
            ...
            assert hub.files("org/name")["README.md"].startswith(b"---")

Client environment (what really works, checked against 2.4.0):

* `HF_HUB_OFFLINE` is read once, at import, into `huggingface_hub.constants.HF_HUB_OFFLINE`; every request
  goes through `utils/_http.py:hf_request_event_hook`, which calls `constants.is_offline_mode()`. Setting the
  environment variable inside a test therefore changes nothing: patch the constant
  (`monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)`). tests/conftest.py sets
  `HF_HUB_OFFLINE=1` for the whole session, so without this patch every call raises `OfflineModeIsEnabled`.
  `datasets` copies the value at its own import into `datasets.config.HF_HUB_OFFLINE`: patch that too if
  the code under test uploads through `datasets`.
* `HF_HUB_DISABLE_XET` is also read at import (`constants.HF_HUB_DISABLE_XET`), and `hf_xet` is installed,
  so without the patch uploads would take the Xet path (`utils/_runtime.is_xet_available`), which this
  server does not speak. Patch the constant to True: uploads then use the plain LFS batch API.
* `constants.HF_HUB_DISABLE_TELEMETRY` should be True: otherwise building the User-Agent
  (`utils/_headers.py`) calls `detect_agent()`, which, once offline mode is off, fetches
  `https://huggingface.co/api/agent-harnesses` (the real Hub, not the endpoint you passed) and caches the
  answer under HF_HOME.
* Give downloads a private cache: when the server refuses a download, `hf_hub_download` and
  `snapshot_download` fall back to files cached by earlier runs, which hides the refusal.

`use_loopback_client(monkeypatch, cache_dir=tmp_path / "hf-cache")` applies all of the above. Pass
`endpoint=hub.url` and `token=...` explicitly to `HfApi`, `snapshot_download` and `hf_hub_download`.

What the server keeps, per repo, in memory: visibility, commits (each with its full file tree), branches,
tags, pull-request refs (refs/pr/N) and the LFS object store. Commit ids are sha1 over the parents, the
tree and the message, so they are 40-hex like real ones. A new repo gets an "initial commit" holding a
`.gitattributes`, as on the Hub. Files are stored as LFS when their path ends with `.parquet` or they are
larger than 10 MB; the LFS objects must be uploaded through the batch API before a commit may point at them.

Authentication: every route needs `Authorization: Bearer <token>`, except downloads (`/resolve`) from a
public repo. A wrong token gets 401 with `X-Error-Message: Invalid credentials in Authorization header`
(the client then raises a plain `HfHubHTTPError`); a missing token on a repo route gets 401 with
`X-Error-Code: RepoNotFound` (the client raises `RepositoryNotFoundError`, as it does for huggingface.co).
Routes this double does not implement answer 404 with an error naming the method and path, and are listed
in `hub.unhandled`; a bug in the server answers 500 and is listed in `hub.errors`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

if TYPE_CHECKING:
    import pytest

LFS_SIZE_THRESHOLD = 10 * 1024 * 1024  # the Hub refuses regular (non-LFS) files above 10 MB
LFS_SUFFIXES = (".parquet",)
INITIAL_GITATTRIBUTES = b"""*.parquet filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
"""
_URL_KINDS = {"datasets": "dataset", "models": "model"}  # "/api/datasets/..." -> repo type
_KIND_PREFIX = {"dataset": "datasets/", "model": ""}  # repo type -> prefix of web URLs ("/datasets/org/x")
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_API = rf"/api/(?P<kind>datasets|models)/{_REPO}"
_WEB = rf"/(?:(?P<kind>datasets)/)?{_REPO}"
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def use_loopback_client(
    monkeypatch: pytest.MonkeyPatch, cache_dir: str | os.PathLike[str] | None = None
) -> None:
    """Let `huggingface_hub` reach a loopback server: online, no Xet, no telemetry (see module docstring).

    `cache_dir` (recommended: a tmp_path) becomes the default download cache. When a download is refused
    (401, 5xx...) the client silently falls back to its cache, so files left in the shared
    ~/.cache/huggingface by another test could hide the error a test expects.
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    # For code that re-reads the environment (subprocesses, a fresh import).
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    if cache_dir is not None:
        monkeypatch.setattr(constants, "HF_HUB_CACHE", os.fspath(cache_dir))
        monkeypatch.setenv("HF_HUB_CACHE", os.fspath(cache_dir))
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:
        monkeypatch.setattr(datasets_config, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(datasets_config, "HF_DATASETS_OFFLINE", False, raising=False)


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a file's `oid`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def wants_lfs(path: str, size: int) -> bool:
    """The upload mode the server asks for (the Hub decides it from .gitattributes and size)."""
    return path.endswith(LFS_SUFFIXES) or size > LFS_SIZE_THRESHOLD


def _now() -> str:
    """Dates in the format the client's `parse_datetime` expects."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _Blob:
    """File content, and whether git stores it as an LFS pointer."""

    data: bytes
    lfs: bool

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def pointer(self) -> bytes:
        """The git-lfs pointer file that git stores in place of the content."""
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n".encode()

    @property
    def oid(self) -> str:
        """Git blob id: of the pointer for LFS files, as on the Hub."""
        return git_blob_sha1(self.pointer if self.lfs else self.data)

    @property
    def preupload_oid(self) -> str:
        """What `CommitOperationAdd._local_oid` is compared with: sha256 for LFS files, git sha1 otherwise."""
        return self.sha256 if self.lfs else self.oid


@dataclass
class _Commit:
    id: str
    parents: list[str]
    title: str
    description: str
    author: str
    date: str
    files: dict[str, _Blob]


@dataclass
class _Repo:
    kind: str  # "dataset" | "model"
    repo_id: str
    private: bool
    created_at: str = field(default_factory=_now)
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pull_requests: list[str] = field(default_factory=list)  # refs/pr/N -> pull_requests[N - 1]
    lfs_objects: dict[str, bytes] = field(default_factory=dict)

    def add_commit(
        self, parents: list[str], title: str, description: str, files: dict[str, _Blob], author: str
    ) -> _Commit:
        """Store a commit; its id hashes parents, tree and message, like a git commit id."""
        canonical = {
            "parents": parents,
            "tree": {path: blob.oid for path, blob in sorted(files.items())},
            "title": title,
            "description": description,
        }
        commit_id = hashlib.sha1(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
        commit = _Commit(commit_id, parents, title, description, author, _now(), dict(files))
        self.commits.setdefault(commit_id, commit)
        return self.commits[commit_id]

    def resolve(self, rev: str) -> str | None:
        """Commit id of a branch, tag, refs/... name, full or abbreviated (>= 7) commit id."""
        for prefix, refs in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            name = rev.removeprefix(prefix)
            if name in refs:
                return refs[name]
        pr = re.fullmatch(r"refs/pr/(\d+)", rev)
        if pr and 1 <= int(pr.group(1)) <= len(self.pull_requests):
            return self.pull_requests[int(pr.group(1)) - 1]
        if rev in self.commits:
            return rev
        matches = [c for c in self.commits if len(rev) >= 7 and c.startswith(rev.lower())]
        return matches[0] if len(matches) == 1 else None

    def history(self, commit_id: str) -> list[_Commit]:
        """First-parent history, newest first (what `list_repo_commits` shows)."""
        out: list[_Commit] = []
        current: str | None = commit_id
        while current is not None:
            commit = self.commits[current]
            out.append(commit)
            current = commit.parents[0] if commit.parents else None
        return out


# ------------------------------------------------------------------------------------------ HTTP plumbing


class _HubError(Exception):
    """An error answer, shaped like the Hub's: JSON {"error": ...} plus the X-Error-Code the client maps."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers, self.extra = dict(headers or {}), dict(extra or {})

    def response(self) -> _Response:
        headers = dict(self.headers)
        if self.code:
            headers["X-Error-Code"] = self.code
        return _json_response({"error": self.message, **self.extra}, self.status, headers)


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_response(data: Any, status: int = 200, headers: dict | None = None) -> _Response:
    content_type = {"Content-Type": "application/json; charset=utf-8"}
    return _Response(status, json.dumps(data).encode(), {**content_type, **(headers or {})})


@dataclass
class _Request:
    method: str
    path: str  # raw path, without the query string
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    args: dict[str, str]  # route captures, URL-decoded

    @property
    def repo_key(self) -> tuple[str, str]:
        return _URL_KINDS.get(self.args.get("kind") or "models", "model"), self.args["repo"]

    def flag(self, name: str) -> bool:
        return (self.query.get(name) or [""])[0].lower() in ("1", "true")

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as err:
            raise _HubError(400, f"Request body is not valid JSON: {err}") from err


_Handler = Callable[[_Request], _Response]


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, hands it to the HubServer, writes the answer and closes the connection.

    Closing after each answer keeps no idle keep-alive threads behind when a test's server stops.
    """

    protocol_version = "HTTP/1.1"
    server: _LoopbackHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        response = self.server.hub._dispatch(self.command, self.path, self.headers, self._read_body())
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.close_connection = True

    def _read_body(self) -> bytes:
        """Whole body; httpx streams file uploads with chunked transfer encoding."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `hub.requests` is the log."""


class _LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: HubServer):
        super().__init__(address, _RequestHandler)
        self.hub = hub


# ------------------------------------------------------------------------------------------------ server


class HubServer:
    """In-memory Hub on 127.0.0.1, speaking the HTTP protocol of `huggingface_hub` (see module docstring)."""

    def __init__(
        self,
        token: str,
        *,
        user: str = "loopback-user",
        orgs: Sequence[str] = (),
        role: str = "write",
        host: str = "127.0.0.1",
    ):
        self.token, self.user, self.orgs, self.role = token, user, tuple(orgs), role
        self._host = host
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._log: list[dict[str, Any]] = []
        self._errors: list[str] = []
        self._unhandled: list[tuple[str, str]] = []
        self._signing_key = secrets.token_bytes(32)
        self._routes = self._build_routes()
        self._httpd: _LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------- lifecycle

    def start(self) -> HubServer:
        self._httpd = _LoopbackHTTPServer((self._host, 0), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("HubServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------------------- inspection for tests

    def commits(self, repo_id: str, rev: str = "main", repo_type: str = "dataset") -> list[dict[str, Any]]:
        """History of `rev`, oldest to newest."""
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            return [_commit_dict(c) for c in reversed(repo.history(self._resolve(repo, rev)))]

    def tags(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        with self._lock:
            return dict(self._get_repo(repo_type, repo_id).tags)

    def branches(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        with self._lock:
            return dict(self._get_repo(repo_type, repo_id).branches)

    def pull_requests(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        """{"refs/pr/N": commit id}."""
        with self._lock:
            prs = self._get_repo(repo_type, repo_id).pull_requests
            return {f"refs/pr/{n}": commit for n, commit in enumerate(prs, start=1)}

    def head(self, repo_id: str, branch: str = "main", repo_type: str = "dataset") -> str:
        with self._lock:
            return self._get_repo(repo_type, repo_id).branches[branch]

    def files(self, repo_id: str, rev: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            return {path: blob.data for path, blob in repo.commits[self._resolve(repo, rev)].files.items()}

    def lfs_files(self, repo_id: str, rev: str = "main", repo_type: str = "dataset") -> dict[str, str]:
        """{path: sha256} of the files stored as LFS pointers at `rev`."""
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            files = repo.commits[self._resolve(repo, rev)].files
            return {path: blob.sha256 for path, blob in files.items() if blob.lfs}

    def lfs_objects(self, repo_id: str, repo_type: str = "dataset") -> dict[str, bytes]:
        """The repo's LFS store, {sha256: content}: what was PUT through the batch API's upload actions."""
        with self._lock:
            return dict(self._get_repo(repo_type, repo_id).lfs_objects)

    def is_private(self, repo_id: str, repo_type: str = "dataset") -> bool:
        with self._lock:
            return self._get_repo(repo_type, repo_id).private

    def repo_exists(self, repo_id: str, repo_type: str = "dataset") -> bool:
        with self._lock:
            return (repo_type, repo_id) in self._repos

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, raw path without query) of every request, in order."""
        with self._lock:
            return [(entry["method"], entry["path"]) for entry in self._log]

    @property
    def log(self) -> list[dict[str, Any]]:
        """Every request: method, path, query, authorization (None when absent), status."""
        with self._lock:
            return copy.deepcopy(self._log)

    @property
    def seen_authorization(self) -> list[str]:
        """Every Authorization header value received (requests without one add nothing)."""
        with self._lock:
            return [entry["authorization"] for entry in self._log if entry["authorization"] is not None]

    @property
    def unhandled(self) -> list[tuple[str, str]]:
        """Requests that matched no route: what a test needs and this double lacks."""
        with self._lock:
            return list(self._unhandled)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of server bugs (answered with 500)."""
        with self._lock:
            return list(self._errors)

    # ---------------------------------------------------------------------------- seeding for tests

    def create_repo(self, repo_id: str, *, private: bool = False, repo_type: str = "dataset") -> None:
        """Create a repo directly (with its initial commit), bypassing HTTP."""
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id} already exists")
            self._new_repo(repo_type, repo_id, private)

    def push(
        self,
        repo_id: str,
        files: dict[str, bytes | None],
        *,
        title: str = "Concurrent commit",
        branch: str = "main",
        repo_type: str = "dataset",
    ) -> str:
        """Commit directly to a branch (None deletes a path), e.g. to simulate someone else's commit."""
        with self._lock:
            repo = self._get_repo(repo_type, repo_id)
            tree = dict(repo.commits[repo.branches[branch]].files)
            for path, data in files.items():
                if data is None:
                    tree.pop(path, None)
                else:
                    tree[path] = _Blob(data, lfs=wants_lfs(path, len(data)))
                    if tree[path].lfs:
                        repo.lfs_objects[tree[path].sha256] = data
            commit = repo.add_commit([repo.branches[branch]], title, "", tree, self.user)
            repo.branches[branch] = commit.id
            return commit.id

    # ------------------------------------------------------------------------------------------ dispatch

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], _Handler]]:
        table: list[tuple[str, str, _Handler]] = [
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/repos/create", self._create_repo),
            ("DELETE", r"/api/repos/delete", self._delete_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("GET", _API, self._repo_info),
            ("GET", rf"{_API}/revision/(?P<rev>[^/]+)", self._repo_info),
            ("PUT", rf"{_API}/settings", self._update_settings),
            ("GET", rf"{_API}/refs", self._list_refs),
            ("GET", rf"{_API}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", self._list_tree),
            ("POST", rf"{_API}/paths-info/(?P<rev>[^/]+)", self._paths_info),
            ("GET", rf"{_API}/commits/(?P<rev>[^/]+)", self._list_commits),
            ("POST", rf"{_API}/preupload/(?P<rev>[^/]+)", self._preupload),
            ("POST", rf"{_API}/commit/(?P<rev>[^/]+)", self._commit),
            ("POST", rf"{_API}/tag/(?P<rev>[^/]+)", self._create_tag),
            ("DELETE", rf"{_API}/tag/(?P<tag>[^/]+)", self._delete_tag),
            ("POST", rf"{_API}/branch/(?P<branch>[^/]+)", self._create_branch),
            ("DELETE", rf"{_API}/branch/(?P<branch>[^/]+)", self._delete_branch),
            ("POST", rf"{_WEB}\.git/info/lfs/objects/batch", self._lfs_batch),
            ("POST", rf"{_WEB}\.git/info/lfs/objects/verify", self._lfs_verify),
            (
                "PUT",
                rf"/lfs-storage/(?P<kind>datasets|models)/{_REPO}/(?P<oid>[0-9a-f]{{64}})",
                self._lfs_put,
            ),
            ("GET", rf"{_WEB}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve_file),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    def _dispatch(self, method: str, target: str, headers: Message, body: bytes) -> _Response:
        """Route one request; every answer, errors included, is a Hub-shaped response."""
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        entry = {
            "method": method,
            "path": split.path,
            "query": query,
            "authorization": headers.get("Authorization"),
        }
        with self._lock:
            self._log.append(entry)
            try:
                response = self._route(method, split.path, query, headers, body)
            except _HubError as err:
                response = err.response()
            except Exception:  # noqa: BLE001 - a server bug must reach the test as a 500, not kill the thread
                self._errors.append(traceback.format_exc())
                response = _json_response({"error": f"hub_server bug:\n{traceback.format_exc()}"}, 500)
            entry["status"] = response.status
            return response

    def _route(self, method: str, path: str, query: dict, headers: Message, body: bytes) -> _Response:
        route_method = "GET" if method == "HEAD" else method
        for candidate, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if candidate == route_method and match:
                args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                return handler(_Request(method, path, query, headers, body, args))
        self._unhandled.append((method, path))
        raise _HubError(
            404, f"hub_server: no route for {method} {path} (not implemented by tests/hub_server.py)"
        )

    # ------------------------------------------------------------------------------------------ helpers

    def _authenticate(self, req: _Request, *, anonymous_ok: bool = False) -> bool:
        """True when a valid token came; a wrong token is always refused, a missing one unless allowed."""
        value = req.headers.get("Authorization")
        if value is None:
            if anonymous_ok:
                return False
            code = "RepoNotFound" if "repo" in req.args else None
            raise _HubError(401, "Authorization required: pass a token (Authorization: Bearer ...)", code)
        if not hmac.compare_digest(value.encode(), f"Bearer {self.token}".encode()):
            raise _HubError(401, _INVALID_CREDENTIALS, headers={"X-Error-Message": _INVALID_CREDENTIALS})
        return True

    def _require_write(self, req: _Request) -> None:
        self._authenticate(req)
        if self.role != "write":
            raise _HubError(403, f"You don't have the rights to write with a '{self.role}' token")

    def _get_repo(self, kind: str, repo_id: str) -> _Repo:
        repo = self._repos.get((kind, repo_id))
        if repo is None:
            raise _HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _repo(self, req: _Request) -> _Repo:
        return self._get_repo(*req.repo_key)

    @staticmethod
    def _resolve(repo: _Repo, rev: str) -> str:
        commit_id = repo.resolve(rev)
        if commit_id is None:
            raise _HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return commit_id

    def _new_repo(self, kind: str, repo_id: str, private: bool) -> _Repo:
        repo = _Repo(kind, repo_id, private)
        initial = {".gitattributes": _Blob(INITIAL_GITATTRIBUTES, lfs=False)}
        repo.branches["main"] = repo.add_commit([], "initial commit", "", initial, "system").id
        self._repos[(kind, repo_id)] = repo
        return repo

    def _web_url(self, repo: _Repo) -> str:
        return f"{self.url}/{_KIND_PREFIX[repo.kind]}{repo.repo_id}"

    # ---------------------------------------------------------------------------------- account, repos

    def _whoami(self, req: _Request) -> _Response:
        self._authenticate(req)
        orgs = [{"type": "org", "name": org, "fullname": org, "roleInOrg": "admin"} for org in self.orgs]
        return _json_response(
            {
                "type": "user",
                "id": hashlib.sha1(self.user.encode()).hexdigest()[:24],
                "name": self.user,
                "fullname": self.user,
                "email": f"{self.user}@example.invalid",
                "emailVerified": True,
                "canPay": False,
                "periodEnd": None,
                "isPro": False,
                "avatarUrl": "",
                "orgs": orgs,
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "loopback", "role": self.role, "createdAt": _now()},
                },
            }
        )

    def _repo_id_from_body(self, body: dict) -> tuple[str, str]:
        """(repo type, "namespace/name") from the create/delete payload {name, organization, type}."""
        name = body.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise _HubError(400, f"Invalid repo name: {name!r}")
        kind = body.get("type") or "model"
        if kind not in _KIND_PREFIX:
            raise _HubError(400, f"hub_server: repo type {kind!r} is not implemented")
        return kind, f"{body.get('organization') or self.user}/{name}"

    def _create_repo(self, req: _Request) -> _Response:
        self._require_write(req)
        body = req.json()
        kind, repo_id = self._repo_id_from_body(body)
        private = body.get("visibility", "public") == "private" or bool(body.get("private"))
        if (kind, repo_id) in self._repos:
            # create_repo(exist_ok=True) reads "url" from this 409 body, as from a 200.
            url = self._web_url(self._repos[(kind, repo_id)])
            raise _HubError(409, f"You already created this {kind} repo", extra={"url": url, "name": repo_id})
        repo = self._new_repo(kind, repo_id, private)
        return _json_response({"url": self._web_url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self, req: _Request) -> _Response:
        self._require_write(req)
        kind, repo_id = self._repo_id_from_body(req.json())
        self._get_repo(kind, repo_id)
        del self._repos[(kind, repo_id)]
        return _Response(200)

    def _update_settings(self, req: _Request) -> _Response:
        self._require_write(req)
        repo, body = self._repo(req), req.json() or {}
        if "visibility" in body:
            repo.private = body["visibility"] == "private"
        if "private" in body:
            repo.private = bool(body["private"])
        return _json_response({})

    def _validate_yaml(self, req: _Request) -> _Response:
        """Front matter must parse as a YAML mapping; no front matter is only a warning (as on the Hub)."""
        self._authenticate(req)
        content = (req.json() or {}).get("content", "")
        try:
            metadata = _front_matter(content)
        except ValueError as err:
            return _json_response({"errors": [{"message": str(err)}], "warnings": []}, 400)
        warnings = [] if metadata else [{"message": "empty or missing yaml metadata in repo card"}]
        return _json_response({"errors": [], "warnings": warnings})

    def _repo_info(self, req: _Request) -> _Response:
        self._authenticate(req)
        repo = self._repo(req)
        commit = repo.commits[self._resolve(repo, req.args.get("rev", "main"))]
        with_blobs = req.flag("blobs")
        siblings = [_sibling(path, blob, with_blobs) for path, blob in sorted(commit.files.items())]
        readme = commit.files.get("README.md")
        try:
            card = _front_matter(readme.data.decode()) if readme else None
        except (ValueError, UnicodeDecodeError):
            card = None
        tags = [str(t) for t in (card or {}).get("tags") or []] + ["region:us"]
        return _json_response(
            {
                "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
                "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0],
                "sha": commit.id,
                "createdAt": repo.created_at,
                "lastModified": commit.date,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": tags,
                "cardData": card,
                "siblings": siblings,
                "usedStorage": sum(blob.size for blob in commit.files.values()),
            }
        )

    # ------------------------------------------------------------------------------------- refs, history

    def _list_refs(self, req: _Request) -> _Response:
        self._authenticate(req)
        repo = self._repo(req)
        data: dict[str, Any] = {
            "branches": [_ref(n, f"refs/heads/{n}", c) for n, c in sorted(repo.branches.items())],
            "tags": [_ref(n, f"refs/tags/{n}", c) for n, c in sorted(repo.tags.items())],
            "converts": [],
        }
        if req.flag("include_prs"):
            prs = enumerate(repo.pull_requests, start=1)
            data["pullRequests"] = [_ref(str(n), f"refs/pr/{n}", c) for n, c in prs]
        return _json_response(data)

    def _list_commits(self, req: _Request) -> _Response:
        self._authenticate(req)
        repo = self._repo(req)
        history = repo.history(self._resolve(repo, req.args["rev"]))
        return _json_response(
            [
                {
                    "id": c.id,
                    "title": c.title,
                    "message": c.description,
                    "authors": [{"user": c.author, "avatar": None}],
                    "date": c.date,
                }
                for c in history
            ]
        )

    def _create_tag(self, req: _Request) -> _Response:
        self._require_write(req)
        repo, body = self._repo(req), req.json() or {}
        tag = body.get("tag")
        if not isinstance(tag, str) or not tag:
            raise _HubError(400, "Missing tag name")
        commit_id = self._resolve(repo, req.args["rev"])
        if tag in repo.tags:
            raise _HubError(409, f"Tag {tag} already exists")
        repo.tags[tag] = commit_id
        return _json_response({})

    def _delete_tag(self, req: _Request) -> _Response:
        self._require_write(req)
        repo = self._repo(req)
        if repo.tags.pop(req.args["tag"], None) is None:
            raise _HubError(404, f"Invalid rev id: {req.args['tag']}", "RevisionNotFound")
        return _Response(200)

    def _create_branch(self, req: _Request) -> _Response:
        self._require_write(req)
        repo, body = self._repo(req), req.json() or {}
        branch = req.args["branch"]
        start = self._resolve(repo, body.get("startingPoint") or "main")
        if branch in repo.branches:
            raise _HubError(409, f"Reference refs/heads/{branch} already exists")
        repo.branches[branch] = start
        return _json_response({})

    def _delete_branch(self, req: _Request) -> _Response:
        self._require_write(req)
        repo = self._repo(req)
        if req.args["branch"] == "main" or repo.branches.pop(req.args["branch"], None) is None:
            raise _HubError(404, f"Invalid rev id: {req.args['branch']}", "RevisionNotFound")
        return _Response(200)

    # ----------------------------------------------------------------------------------------- trees

    def _list_tree(self, req: _Request) -> _Response:
        self._authenticate(req)
        repo = self._repo(req)
        commit = repo.commits[self._resolve(repo, req.args["rev"])]
        base = req.args.get("path", "").strip("/")
        entries = _tree_listing(commit.files, base, recursive=req.flag("recursive"))
        if entries is None:
            raise _HubError(404, f"Entry not found: {base}", "EntryNotFound", {"X-Repo-Commit": commit.id})
        if req.flag("expand"):
            for entry in entries:
                entry["lastCommit"] = _last_commit(repo, commit, entry["path"])
        return _json_response(entries)

    def _paths_info(self, req: _Request) -> _Response:
        """Form-encoded body: paths=...&paths=...&expand=...; unknown paths are left out."""
        self._authenticate(req)
        repo = self._repo(req)
        commit = repo.commits[self._resolve(repo, req.args["rev"])]
        form = parse_qs(req.body.decode(), keep_blank_values=True)
        expand = (form.get("expand") or [""])[0].lower() == "true"
        entries = []
        for path in form.get("paths", []):
            entry = _path_entry(commit.files, path.strip("/"))
            if entry is not None:
                if expand:
                    entry["lastCommit"] = _last_commit(repo, commit, entry["path"])
                entries.append(entry)
        return _json_response(entries)

    # --------------------------------------------------------------------------------------- uploads

    def _preupload(self, req: _Request) -> _Response:
        """Upload mode per file, and the oid of the file now at the revision (None when new)."""
        self._require_write(req)
        repo = self._repo(req)
        commit = repo.commits[self._resolve(repo, req.args["rev"])]
        files = (req.json() or {}).get("files")
        if not isinstance(files, list):
            raise _HubError(400, "Expected a JSON body {'files': [{'path', 'sample', 'size'}]}")
        answer = []
        for item in files:
            path, size = item["path"], int(item["size"])
            existing = commit.files.get(path)
            answer.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if wants_lfs(path, size) else "regular",
                    "shouldIgnore": False,
                    "oid": existing.preupload_oid if existing else None,
                }
            )
        return _json_response({"files": answer, "commitOid": commit.id})

    def _lfs_batch(self, req: _Request) -> _Response:
        """git-lfs batch API: an upload (and verify) action per object the repo's store lacks."""
        self._require_write(req)
        repo, body = self._repo(req), req.json() or {}
        if body.get("operation") != "upload":
            raise _HubError(
                404, f"hub_server: LFS batch operation {body.get('operation')!r} is not implemented"
            )
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not (isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid) and isinstance(size, int)):
                objects.append(
                    {
                        "oid": str(oid),
                        "size": int(size or 0),
                        "error": {"code": 422, "message": "Invalid object"},
                    }
                )
            elif oid in repo.lfs_objects:
                objects.append({"oid": oid, "size": size})  # already stored: no actions, the client skips it
            else:
                objects.append(
                    {"oid": oid, "size": size, "authenticated": True, "actions": self._lfs_actions(repo, oid)}
                )
        data = {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}
        return _Response(200, json.dumps(data).encode(), {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_actions(self, repo: _Repo, oid: str) -> dict[str, Any]:
        """A presigned-style PUT URL (no token needed, like S3) and the Hub's verify endpoint."""
        key = f"{repo.kind}s/{repo.repo_id}/{oid}"
        signature = hmac.new(self._signing_key, key.encode(), hashlib.sha256).hexdigest()
        return {
            "upload": {"href": f"{self.url}/lfs-storage/{key}?X-Signature={signature}", "expires_in": 3600},
            "verify": {"href": f"{self._web_url(repo)}.git/info/lfs/objects/verify", "expires_in": 3600},
        }

    def _lfs_put(self, req: _Request) -> _Response:
        """The storage side: checks the URL signature and that the bytes hash to the oid."""
        kind, repo_id, oid = req.args["kind"], req.args["repo"], req.args["oid"]
        expected = hmac.new(self._signing_key, f"{kind}/{repo_id}/{oid}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest((req.query.get("X-Signature") or [""])[0], expected):
            raise _HubError(403, "SignatureDoesNotMatch: the upload URL was not issued by this server")
        repo = self._get_repo(_URL_KINDS[kind], repo_id)
        if hashlib.sha256(req.body).hexdigest() != oid:
            raise _HubError(400, f"Uploaded content does not hash to sha256 {oid}")
        repo.lfs_objects[oid] = req.body
        return _Response(200, b"", {"ETag": f'"{hashlib.md5(req.body).hexdigest()}"'})

    def _lfs_verify(self, req: _Request) -> _Response:
        self._require_write(req)
        repo, body = self._repo(req), req.json() or {}
        stored = repo.lfs_objects.get(body.get("oid", ""))
        if stored is None or len(stored) != body.get("size"):
            raise _HubError(404, f"LFS object {body.get('oid')} of size {body.get('size')} was not uploaded")
        return _json_response({})

    # ---------------------------------------------------------------------------------------- commits

    def _commit(self, req: _Request) -> _Response:
        """NDJSON commit: header, then file / lfsFile / deletedFile / deletedFolder lines."""
        self._require_write(req)
        repo = self._repo(req)
        header, operations = _parse_commit_payload(req.body)
        parent_commit = header.get("parentCommit")
        create_pr = req.flag("create_pr")
        base, ref = self._commit_target(repo, req.args["rev"], parent_commit, create_pr)
        tree = _apply_operations(repo, repo.commits[base].files, operations)
        commit = repo.add_commit([base], header["summary"], header.get("description") or "", tree, self.user)
        pr_url = None
        if ref is None:
            repo.pull_requests.append(commit.id)
            pr_url = f"{self._web_url(repo)}/discussions/{len(repo.pull_requests)}"
        elif ref.startswith("refs/pr/"):
            repo.pull_requests[int(ref.rsplit("/", 1)[1]) - 1] = commit.id
        else:
            repo.branches[ref] = commit.id
        return _json_response(
            {
                "success": True,
                "commitOid": commit.id,
                "commitUrl": f"{self._web_url(repo)}/commit/{commit.id}",
                "hookOutput": "",
                "pullRequestUrl": pr_url,
            }
        )

    def _commit_target(
        self, repo: _Repo, rev: str, parent_commit: str | None, create_pr: bool
    ) -> tuple[str, str | None]:
        """(base commit, ref to move); ref None means "open a new pull request".

        parentCommit must be the head of the branch (else 412, as on the Hub); with create_pr it is the
        commit the pull request starts from instead.
        """
        branch = rev.removeprefix("refs/heads/")
        is_pr_ref = re.fullmatch(r"refs/pr/\d+", rev) is not None and repo.resolve(rev) is not None
        if branch not in repo.branches and not is_pr_ref:
            raise _HubError(
                404, f"Invalid rev id: {rev} (commits go to a branch or refs/pr/N)", "RevisionNotFound"
            )
        head = repo.resolve(rev) if is_pr_ref else repo.branches[branch]
        assert head is not None
        if create_pr:
            if parent_commit is None:
                return head, None
            start = repo.resolve(parent_commit)
            if start is None:
                raise _HubError(400, f"Invalid parentCommit: {parent_commit}")
            return start, None
        if parent_commit is not None and not head.startswith(parent_commit.lower()):
            raise _HubError(412, "A commit has happened since. Please refresh and try again.")
        return head, rev if is_pr_ref else branch

    # --------------------------------------------------------------------------------------- downloads

    def _resolve_file(self, req: _Request) -> _Response:
        """GET/HEAD /resolve: content plus the headers `get_hf_file_metadata` and `http_get` read."""
        authenticated = self._authenticate(req, anonymous_ok=True)
        repo = self._repo(req)
        if repo.private and not authenticated:
            raise _HubError(401, "Repository not found", "RepoNotFound")
        commit_id = self._resolve(repo, req.args["rev"])
        blob = repo.commits[commit_id].files.get(req.args["path"])
        if blob is None:
            raise _HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit_id})
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "X-Repo-Commit": commit_id,
            "ETag": f'"{blob.oid}"',
        }
        if blob.lfs:  # the client prefers these: cache key = sha256, size = real size
            headers |= {"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(blob.size)}
        return _ranged(blob.data, req.headers.get("Range"), headers)


# ------------------------------------------------------------------------------------- pure helpers


def _commit_dict(commit: _Commit) -> dict[str, Any]:
    return {
        "id": commit.id,
        "parents": list(commit.parents),
        "title": commit.title,
        "description": commit.description,
        "files": {path: blob.data for path, blob in commit.files.items()},
    }


def _ref(name: str, ref: str, commit_id: str) -> dict[str, str]:
    return {"name": name, "ref": ref, "targetCommit": commit_id}


def _front_matter(content: str) -> dict | None:
    """README metadata: the YAML between leading `---` lines; ValueError when it is not a YAML mapping."""
    match = re.match(r"\A---[ \t]*\r?\n(.*?)(?:^|\n)---[ \t]*(?:\r?\n|\Z)", content, re.DOTALL | re.MULTILINE)
    if match is None:
        return None
    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        raise ValueError(f"Invalid YAML in README.md metadata: {err}") from err
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("README.md metadata must be a YAML mapping")
    return metadata


def _sibling(path: str, blob: _Blob, with_blobs: bool) -> dict[str, Any]:
    sibling: dict[str, Any] = {"rfilename": path}
    if with_blobs:
        sibling |= {"size": blob.size, "blobId": blob.oid}
        if blob.lfs:
            sibling["lfs"] = {"size": blob.size, "sha256": blob.sha256, "pointerSize": len(blob.pointer)}
    return sibling


def _directories(files: Iterable[str]) -> set[str]:
    return {path.rsplit("/", i)[0] for path in files for i in range(1, path.count("/") + 1)}


def _tree_oid(files: dict[str, _Blob], directory: str) -> str:
    """A stable id for a folder's content (git would hash a tree object)."""
    inside = sorted(f"{p}:{b.oid}" for p, b in files.items() if p.startswith(directory + "/"))
    return hashlib.sha1("\n".join(inside).encode()).hexdigest()


def _file_entry(path: str, blob: _Blob) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": blob.size, "path": path}
    if blob.lfs:
        entry["lfs"] = {"oid": blob.sha256, "size": blob.size, "pointerSize": len(blob.pointer)}
    return entry


def _path_entry(files: dict[str, _Blob], path: str) -> dict[str, Any] | None:
    if path in files:
        return _file_entry(path, files[path])
    if path in _directories(files):
        return {"type": "directory", "oid": _tree_oid(files, path), "size": 0, "path": path}
    return None


def _tree_listing(files: dict[str, _Blob], base: str, recursive: bool) -> list[dict[str, Any]] | None:
    """Entries under folder `base` ("" = root): direct children, or all descendants; None if no such folder."""
    directories = _directories(files)
    if base and base not in directories:
        return None
    prefix = f"{base}/" if base else ""
    paths = [p for p in sorted(set(files) | directories) if p.startswith(prefix)]
    if not recursive:
        paths = [p for p in paths if "/" not in p[len(prefix) :]]
    return [entry for p in paths if (entry := _path_entry(files, p)) is not None]


def _last_commit(repo: _Repo, commit: _Commit, path: str) -> dict[str, str]:
    """The newest commit (first-parent walk) that changed `path`: the tree API's `lastCommit`."""

    def state(c: _Commit | None) -> dict | None:
        return None if c is None else _path_entry(c.files, path)

    for current in repo.history(commit.id):
        parent = repo.commits[current.parents[0]] if current.parents else None
        if state(current) != state(parent):
            return {"id": current.id, "title": current.title, "date": current.date}
    return {"id": commit.id, "title": commit.title, "date": commit.date}


def _parse_commit_payload(body: bytes) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Split the NDJSON body into the header value and (key, value) operations."""
    try:
        items = [json.loads(line) for line in body.splitlines() if line.strip()]
    except ValueError as err:
        raise _HubError(400, f"Commit body is not NDJSON: {err}") from err
    if not items or items[0].get("key") != "header":
        raise _HubError(400, "Commit payload must start with a 'header' line")
    header = items[0].get("value") or {}
    if not header.get("summary"):
        raise _HubError(400, "Commit summary (message) is required")
    return header, [(item.get("key"), item.get("value") or {}) for item in items[1:]]


def _apply_operations(
    repo: _Repo, base: dict[str, _Blob], operations: list[tuple[str, dict[str, Any]]]
) -> dict[str, _Blob]:
    """The tree after the operations; refuses what the Hub refuses (missing LFS object, big regular file)."""
    files = dict(base)
    for key, value in operations:
        path = str(value.get("path", ""))
        if not path or path.startswith("/") or ".." in path.split("/") or path.split("/")[0] == ".git":
            raise _HubError(400, f"Invalid path in commit: {path!r}")
        if key == "file":
            if value.get("encoding") != "base64":
                raise _HubError(400, f"Unsupported encoding {value.get('encoding')!r} for {path}")
            data = base64.b64decode(value.get("content", ""))
            if wants_lfs(path, len(data)) and data:
                raise _HubError(
                    400, f"Your push was rejected: {path} must be stored with LFS (see preupload)"
                )
            files[path] = _Blob(data, lfs=False)
        elif key == "lfsFile":
            data = repo.lfs_objects.get(value.get("oid", ""))
            if value.get("algo") != "sha256" or data is None:
                raise _HubError(
                    400,
                    f"Your push was rejected because an LFS pointer pointed to a file that does not exist: {path}",
                )
            files[path] = _Blob(data, lfs=True)
        elif key == "deletedFile":
            if files.pop(path, None) is None:
                raise _HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
        elif key == "deletedFolder":
            inside = [p for p in files if p.startswith(path.rstrip("/") + "/")]
            if not inside:
                raise _HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
            for p in inside:
                del files[p]
        else:
            raise _HubError(400, f"hub_server: commit operation {key!r} is not implemented")
    return files


def _ranged(data: bytes, range_header: str | None, headers: dict[str, str]) -> _Response:
    """Full content, or the `bytes=start-[end]` slice `http_get` asks for when resuming."""
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
    if match is None:
        return _Response(200, data, headers)
    start = int(match.group(1))
    end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
    if start >= len(data) and data:
        return _Response(416, b"", {**headers, "Content-Range": f"bytes */{len(data)}"})
    return _Response(
        206, data[start : end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
    )
