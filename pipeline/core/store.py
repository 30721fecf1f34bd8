"""Where a build's run directory lives: a local folder or an `s3://bucket/prefix` URL.

Stages keep working on a local copy of the run directory; the store is what outlives the
machine. Completion is explicit: a folder's files are written first and its `_DONE.json` marker
last, and a reader treats a folder without the marker as absent (an upload cut short). Locally
every file lands by temp + rename (pipeline.core.io); on S3 one PUT is atomic per object.
Tables are read and written by polars directly (its object_store client), files by s3fs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import polars as pl

from pipeline.core.io import atomic_write_bytes, atomic_write_with, write_table
from pipeline.core.s3_options import explain, polars_options, s3fs_options

DONE = "_DONE.json"
SKIPPED_NAMES = (".build.lock",)


def is_remote(location: str | Path) -> bool:
    return str(location).startswith("s3://")


def mirrored(rel: str) -> bool:
    """Is this file part of a folder's content? Not the marker, a lock, a temp file of an atomic
    write, or anything in the staging/old folder of a folder swap."""
    parts = rel.split("/")
    name = parts[-1]
    if name == DONE or name in SKIPPED_NAMES or (name.startswith(".") and name.endswith(".tmp")):
        return False
    return not any(p.startswith(".") and p.endswith((".staging", ".old")) for p in parts[:-1])


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunStore:
    """Files and tables under one root, addressed by '/'-separated paths relative to it."""

    def __init__(self, location: str, storage_options: Mapping[str, Any] | None = None):
        self.location = location.rstrip("/")
        self.is_remote = is_remote(location)
        self._fs_opts = s3fs_options(storage_options) if self.is_remote else {}
        self._fs: Any = None

    @classmethod
    def open(cls, location: str | Path, storage_options: Mapping[str, Any] | None = None,
             check: bool = True) -> "RunStore":  # fmt: skip
        """A store at `location`; a remote one is checked first (endpoint, credentials, bucket)
        so a bad setting fails before any stage runs, with one line naming the URL."""
        store = cls(str(location) if is_remote(location) else str(Path(location).resolve()), storage_options)
        if store.is_remote and check:
            store.check()
        return store

    def url(self, rel: str = "") -> str:
        return f"{self.location}/{rel.strip('/')}" if rel.strip("/") else self.location

    def __repr__(self) -> str:
        return f"RunStore({self.location!r})"  # never the options: they may hold credentials

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import s3fs  # only remote stores need it

            self._fs = s3fs.S3FileSystem(**self._fs_opts)
        return self._fs

    def _key(self, rel: str) -> str:
        return self.url(rel).removeprefix("s3://")

    def _local(self, rel: str) -> Path:
        return Path(self.url(rel))

    @contextmanager
    def _errors(self, rel: str = "") -> Iterator[None]:
        """S3 failures as one-line RuntimeErrors naming the URL; a plain missing file stays a
        FileNotFoundError (callers ask whether something exists)."""
        if not self.is_remote:
            yield
            return
        try:
            yield
        except FileNotFoundError as exc:
            error = explain(exc, self.url(rel), self._fs_opts)
            if "bucket does not exist" in str(error):
                raise error from None
            raise FileNotFoundError(f"{self.url(rel)}: not found") from None
        except Exception as exc:
            raise explain(exc, self.url(rel), self._fs_opts) from None

    def check(self) -> None:
        """One listing request: reaches the endpoint, signs with the credentials, finds the bucket."""
        bucket, _, prefix = self.location.removeprefix("s3://").partition("/")
        with self._errors():
            self.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1)

    # -- files --------------------------------------------------------------------------------

    def write_bytes(self, rel: str, data: bytes) -> None:
        if not self.is_remote:
            atomic_write_bytes(self._local(rel), data)
            return
        with self._errors(rel):
            self.fs.pipe_file(self._key(rel), data)

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode())

    def read_bytes(self, rel: str) -> bytes:
        if not self.is_remote:
            return self._local(rel).read_bytes()
        with self._errors(rel):
            return bytes(self.fs.cat_file(self._key(rel)))

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode()

    def exists(self, rel: str) -> bool:
        if not self.is_remote:
            return self._local(rel).exists()
        with self._errors(rel):
            return bool(self.fs.exists(self._key(rel)))

    def _listing(self, prefix: str) -> dict[str, str]:
        """Every file under `prefix` (relative to it) with its content tag: an MD5 locally, the
        ETag on S3 (the MD5 of a single-part upload, which is how files up to 50 MB go up)."""
        if not self.is_remote:
            root = self._local(prefix)
            files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
            return {p.relative_to(root).as_posix(): _md5(p) for p in files}
        base = self._key(prefix).rstrip("/") + "/"
        with self._errors(prefix):
            found = self.fs.find(base, detail=True)
        return {key.removeprefix(base): str(info.get("ETag", "")).strip('"') for key, info in sorted(found.items())
                if info.get("type") != "directory"}  # fmt: skip

    def list(self, prefix: str = "") -> list[str]:
        """Files under `prefix`, as paths relative to the store's root."""
        head = prefix.strip("/")
        return [f"{head}/{name}" if head else name for name in self._listing(head)]

    def remove(self, prefix: str) -> None:
        """A file, or a folder and everything in it; nothing if it is not there."""
        if not self.is_remote:
            path = self._local(prefix)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            return
        with self._errors(prefix):
            keys = self.fs.find(self._key(prefix))
            if keys:
                self.fs.rm(keys)

    # -- tables -------------------------------------------------------------------------------

    def write_parquet(self, frame: pl.DataFrame, rel: str) -> str:
        """One table; polars writes straight to S3 (checked against moto: one PUT, atomic)."""
        if not self.is_remote:
            return str(write_table(frame, self._local(rel)))
        with self._errors(rel):
            frame.write_parquet(self.url(rel), storage_options=polars_options(self._fs_opts))
        return self.url(rel)

    def scan_parquet(self, rel_or_glob: str) -> pl.LazyFrame:
        """A lazy scan of one table or a glob of parts. The files are resolved here, so a missing
        table fails now with its URL rather than later inside a query."""
        if not self.is_remote:
            paths = sorted(Path(self.location).glob(rel_or_glob.strip("/")))
            if not paths:
                raise FileNotFoundError(f"{self.url(rel_or_glob)}: no parquet file there")
            return pl.scan_parquet(paths)
        with self._errors(rel_or_glob):
            keys = sorted(self.fs.glob(self._key(rel_or_glob)))
        if not keys:
            raise FileNotFoundError(f"{self.url(rel_or_glob)}: no parquet file there")
        return pl.scan_parquet([f"s3://{k}" for k in keys], storage_options=polars_options(self._fs_opts))

    # -- completion markers and mirrors ----------------------------------------------------------

    def mark_done(self, rel_dir: str, payload: Mapping[str, Any]) -> None:
        """Write the folder's marker: only after every one of its files is in place."""
        self.write_text(f"{rel_dir.strip('/')}/{DONE}", json.dumps(dict(payload), sort_keys=True, default=str))

    def done(self, rel_dir: str) -> dict[str, Any] | None:
        """The marker's payload, or None: a folder without one is absent (half-written)."""
        rel = f"{rel_dir.strip('/')}/{DONE}"
        try:
            return dict(json.loads(self.read_text(rel)))
        except FileNotFoundError:
            return None

    def done_folders(self, prefix: str = "") -> list[str]:
        """The folders directly under `prefix` that carry a marker."""
        head = prefix.strip("/")
        names = [rel for rel in self._listing(head) if rel.count("/") == 1 and rel.endswith(f"/{DONE}")]
        return [f"{head}/{n.split('/')[0]}" if head else n.split("/")[0] for n in names]

    def upload_dir(self, local_dir: Path, rel: str) -> int:
        """Mirror a local folder into the store (files only; temp files and locks stay behind).
        Its marker goes first, so the folder reads as absent until `mark_done`; unchanged files
        are not sent again; files the local folder no longer has are removed. Returns files sent."""
        if not local_dir.is_dir():  # never mirror "nothing" over a folder in the store
            raise FileNotFoundError(f"{local_dir}: no such folder to upload")
        head = rel.strip("/")
        self.remove(f"{head}/{DONE}")
        remote = self._listing(head)
        local = {p.relative_to(local_dir).as_posix(): p for p in sorted(local_dir.rglob("*")) if p.is_file()}
        local = {name: path for name, path in local.items() if mirrored(name)}
        sent = 0
        for name, path in local.items():
            if remote.get(name) != _md5(path):
                self._put(path, f"{head}/{name}")
                sent += 1
        for name in sorted(set(remote) - set(local)):
            if mirrored(name):
                self.remove(f"{head}/{name}")
        return sent

    def download_dir(self, rel: str, local_dir: Path) -> int:
        """Mirror a store folder into a local one (each file by temp + rename; a file already
        there with the same content is kept). Returns the number of files fetched."""
        fetched = 0
        for name, tag in self._listing(rel.strip("/")).items():
            target = local_dir / name
            if not mirrored(name) or (target.is_file() and _md5(target) == tag):
                continue
            self._get(f"{rel.strip('/')}/{name}", target)
            fetched += 1
        return fetched

    def _put(self, path: Path, rel: str) -> None:
        if not self.is_remote:
            atomic_write_with(self._local(rel), lambda tmp: shutil.copyfile(path, tmp))
            return
        with self._errors(rel):
            self.fs.put_file(str(path), self._key(rel))

    def _get(self, rel: str, target: Path) -> None:
        if not self.is_remote:
            atomic_write_with(target, lambda tmp: shutil.copyfile(self._local(rel), tmp))
            return
        with self._errors(rel):
            atomic_write_with(target, lambda tmp: self.fs.get_file(self._key(rel), tmp))
