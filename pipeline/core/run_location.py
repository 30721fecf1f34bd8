"""Where a build's run directory is: `<base_dir>/<output_dir>/<version>` for a local output, and
for an `s3://` output a local working copy that the build keeps in sync with the bucket.

Stage code always works on local files. With a remote output the working copy lives under
`$RBBENCH_WORK_DIR` (default `~/.cache/rbbench/runs`) in a folder named by a hash of the run's
URL (then the version), so every build of the same run on one machine finds the same copy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from pipeline.core.config import BuildConfig
from pipeline.core.io import StageOutput
from pipeline.core.store import RunStore, is_remote

WORK_DIR_ENV = "RBBENCH_WORK_DIR"


def run_url(cfg: BuildConfig) -> str | None:
    """The run directory's URL when the output is on object storage, else None."""
    return f"{cfg.output_dir.rstrip('/')}/{cfg.version}" if is_remote(cfg.output_dir) else None


def work_dir(url: str) -> Path:
    """`<root>/<hash of the URL>/<version>`: the copy's own folder is named like the version, as a
    local run directory is (the UI's artifact keys and the card name runs by it)."""
    root = Path(os.environ.get(WORK_DIR_ENV) or Path.home() / ".cache" / "rbbench" / "runs")
    return root.expanduser() / hashlib.sha256(url.encode()).hexdigest()[:16] / url.rstrip("/").rsplit("/", 1)[-1]


def local_run_dir(cfg: BuildConfig, base_dir: Path) -> Path:
    """The folder stages read and write: the run directory itself, or its working copy."""
    url = run_url(cfg)
    return work_dir(url) if url else base_dir / cfg.output_dir / cfg.version


def run_store(cfg: BuildConfig) -> RunStore | None:
    """The remote run directory (checked: endpoint, credentials, bucket), or None for a local one."""
    url = run_url(cfg)
    return RunStore.open(url) if url else None


def portable(out: StageOutput, run_dir: Path) -> StageOutput:
    """The output with its path relative to the run directory, for cache keys and cached results
    that must hold on another machine (or another working copy) of the same remote run."""
    path = Path(out.path)
    if not path.is_absolute() or not path.is_relative_to(run_dir):
        return out
    return dataclasses.replace(out, path=path.relative_to(run_dir).as_posix())


def resolved(out: StageOutput, run_dir: Path) -> StageOutput:
    """The inverse of `portable`: a relative path made absolute under this run directory."""
    return out if Path(out.path).is_absolute() else dataclasses.replace(out, path=str(run_dir / out.path))
