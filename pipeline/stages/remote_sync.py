"""Keeping a run's local working copy and its remote run directory in step, stage by stage.

After a stage (run or reused) its folders go up, then the Prefect cache records, then the
stage's `_DONE.json` markers: a folder is marked only once everything it needs is there. At
the start of a build, on any machine, the marked folders and the cache records come down, so
the build reuses every finished stage exactly as a local rerun would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pipeline.core.io import StageOutput
from pipeline.core.run_location import portable
from pipeline.core.store import RunStore
from pipeline.stages.table import Stage

PREFECT_DIR = ".prefect"
# Results before keys: a key whose result is not up yet reads as unreadable, and the stage reruns.
PREFECT_PARTS = ("results", "keys")

Log = Callable[[str], None]


def stage_folders(stage: Stage) -> list[str]:
    """The run-directory folders a stage writes: its own and any declared beside it (`../hub/`)."""
    beside = [o[3:].strip("/") for o in stage.outputs if o.startswith("../")]
    return [stage.name, *beside]


def pull_run(store: RunStore, run_dir: Path, log: Log) -> list[str]:
    """Download the Prefect cache records and every folder marked done; returns those folders."""
    for part in PREFECT_PARTS:
        store.download_dir(f"{PREFECT_DIR}/{part}", run_dir / PREFECT_DIR / part)
    folders = store.done_folders()
    fetched = sum(store.download_dir(folder, run_dir / folder) for folder in folders)
    log(f"{store.url()}: {len(folders)} finished folders in the store ({fetched} files fetched): "
        f"{', '.join(folders) or 'none'}")  # fmt: skip
    return folders


def push_stage(store: RunStore, run_dir: Path, stage: Stage, out: StageOutput, run_id: str, cached: bool) -> None:
    """Upload a stage's folders and the cache records, then mark the folders done. A cached stage
    whose folders are marked with this very output has nothing new to send."""
    folders = [f for f in stage_folders(stage) if (run_dir / f).is_dir()]
    if cached and all((store.done(f) or {}).get("fingerprint") == out.fingerprint for f in folders):
        return
    for folder in folders:
        store.upload_dir(run_dir / folder, folder)
    for part in PREFECT_PARTS:
        if (run_dir / PREFECT_DIR / part).is_dir():
            store.upload_dir(run_dir / PREFECT_DIR / part, f"{PREFECT_DIR}/{part}")
    marker = {"stage": out.stage, "output": portable(out, run_dir).path, "fingerprint": out.fingerprint,
              "run_id": run_id}  # fmt: skip
    for folder in folders:
        store.mark_done(folder, marker)
