"""Crash and resume: a build killed with SIGKILL mid-generation, mid-labeling and mid-write, then
resumed, gives exactly the release of an uninterrupted build, re-sending only the requests that
were in flight when it died.

It builds `tests/data/tiny.yaml`: the demo's stages, subsets, methods and both local models, with
fewer prompts and tokens. (The demo itself takes ~13 min a build here; this test needs two.)"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pyarrow.parquet as pq
import pytest

from flows import processes
from pipeline.core.io import read_decision_log
from tests.configs import isolated_config

ROOT = Path(__file__).resolve().parent.parent
RB = [sys.executable, "-m", "flows.cli"]
DRIVER = [sys.executable, "-m", "tests.crash_driver"]
PHASE_LIMIT_S = 45 * 60  # a bound on each wait, not a timing claim
CONFIG = ROOT / "tests/data/tiny.yaml"


def env_for(tmp: Path) -> dict[str, str]:
    """Each build starts its own Prefect server on a private database."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false", HF_HUB_OFFLINE="1")
    return env


def start(cmd: list[str], config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # A session of its own, like a build started from another terminal.
    with log.open("ab") as handle:
        return subprocess.Popen([*cmd, "build", "--config", str(config)], cwd=ROOT, env=env, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def journal_count(cache: Path) -> int:
    """Requests sent so far (the response cache journals each one before it goes)."""
    if not cache.exists():
        return 0
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=30) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM sent").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the table is not there yet


def sends(cache: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
        return Counter(dict(db.execute("SELECT key, COUNT(*) FROM sent GROUP BY key").fetchall()))


def wait_for(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + PHASE_LIMIT_S
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"build exited ({process.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {PHASE_LIMIT_S}s")
        time.sleep(0.5)


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the build's session and every process below the build (its Prefect server runs in a
    session of its own), all at once: nothing gets to clean up."""
    tree = processes.descendants(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=60)
    # Wait until no process of that session or tree is left (children reparented to init die too).
    deadline = time.monotonic() + 60
    while (session_alive(process.pid) or any(map(processes.alive, tree))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not session_alive(process.pid) and not any(map(processes.alive, tree))


def session_alive(sid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: session id
            return True
    return False


def finish(cmd: list[str], config: Path, env: dict[str, str], log: Path) -> None:
    process = start(cmd, config, env, log)
    assert process.wait(timeout=PHASE_LIMIT_S) == 0, log.read_text()[-3000:]


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".tmp", ".staging", ".old"))]


@pytest.mark.slow
@pytest.mark.timeout(2 * 60 * 60)
def test_killed_build_resumes_to_the_uninterrupted_release(tmp_path: Path) -> None:
    for name in ("reference", "crashed"):
        (tmp_path / name).mkdir()
    reference = isolated_config(CONFIG, (tmp_path / "reference").resolve())
    crashed = isolated_config(CONFIG, (tmp_path / "crashed").resolve())
    ref_dir, run_dir = tmp_path / "reference/outputs/tiny", tmp_path / "crashed/outputs/tiny"
    cache = tmp_path / "crashed/lm-cache.sqlite"
    env, log = env_for(tmp_path), tmp_path / "crashed.log"

    finish(RB, reference, env, tmp_path / "reference.log")

    def kill_mid_stage(upstream: str, requests: int, output: str) -> None:
        """Run the build until the stage before has written `upstream` and this one has sent
        `requests` LM requests, then kill the whole tree before it writes `output`."""
        process = start(RB, crashed, env, log)
        wait_for(upstream, lambda: (run_dir / upstream).exists(), process, log)
        started_at = journal_count(cache)
        wait_for(f"{requests} requests after {upstream}", lambda: journal_count(cache) >= started_at + requests,
                 process, log)  # fmt: skip
        assert not (run_dir / output).exists()
        kill_tree(process)

    # 1. Killed mid-generation: routing is done and generation has sent a few requests.
    kill_mid_stage("route/prompts.parquet", 12, "generate/completions.parquet")
    # 2. Resumed, then killed mid-labeling: judges have answered a few requests.
    kill_mid_stage("generate/completions.parquet", 8, "label/labels.parquet")

    # 3. Resumed, then killed while the release table is half written.
    marker = tmp_path / "paused-write"
    env_paused = {**env, "RB_PAUSE_WRITE": "test.parquet", "RB_PAUSE_MARKER": str(marker)}
    process = start(DRIVER, crashed, env_paused, log)
    wait_for("the release write", marker.exists, process, log)
    kill_tree(process)
    half_written = Path(marker.read_text())
    assert half_written.exists() and not (run_dir / "assemble/test.parquet").exists()

    # 4. Resumed to the end.
    finish(RB, crashed, env, log)

    # Nothing half-written is left, and every table reads.
    assert leftovers(tmp_path / "crashed") == []
    for table in run_dir.rglob("*.parquet"):
        pq.read_table(table)

    # The same release, item for item, and the same Hub folder, byte for byte.
    assert pq.read_table(run_dir / "assemble/test.parquet").equals(pq.read_table(ref_dir / "assemble/test.parquet"))
    for ref_file in sorted((ref_dir / "hub").rglob("*.parquet")):
        assert (run_dir / "hub" / ref_file.relative_to(ref_dir / "hub")).read_bytes() == ref_file.read_bytes()

    # Every completion once, with the uninterrupted run's text.
    def completions(d: Path) -> dict[str, str]:
        rows = pq.read_table(d / "generate/completions.parquet").to_pylist()
        ids = [r["completion_id"] for r in rows]
        assert len(ids) == len(set(ids)), "a completion is duplicated"
        return {r["completion_id"]: r["text"] for r in rows}

    assert completions(run_dir) == completions(ref_dir)

    # The same decisions (evidence differs only in "answered from the cache" flags).
    def decisions(d: Path) -> Counter[tuple[str, str, str, str]]:
        return Counter((r["stage"], r["item_id"], r["decision"], r["reason"]) for r in read_decision_log(d))

    assert decisions(run_dir) == decisions(ref_dir)

    # Only the requests in flight at a kill were sent twice: at most one per kill during LM work
    # (every model here answers one request at a time).
    ref_sends, crash_sends = sends(tmp_path / "reference/lm-cache.sqlite"), sends(cache)
    assert set(crash_sends) == set(ref_sends) and set(ref_sends.values()) == {1}
    resent = {key: n for key, n in crash_sends.items() if n > 1}
    print(f"requests: {len(ref_sends)} needed; sent again after the kills: {sum(resent.values()) - len(resent)}")
    assert sum(resent.values()) - len(resent) <= 2 and all(n == 2 for n in resent.values())
