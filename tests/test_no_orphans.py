"""No orphans: every process `rb build` starts (llama.cpp servers, the Prefect server it starts for
itself, the math grading worker) is gone after an error, a Ctrl-C, and even after the build itself
is SIGKILLed. Real processes throughout: `rb build` runs as a subprocess and we watch its
descendants through /proc. A successful build is covered by tests/test_build_flow.py."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pipeline.lm.local import free_port
from tests.configs import isolated_config

ROOT = Path(__file__).resolve().parent.parent
RB = ROOT / ".venv/bin/rb"
ALIASES = ("smollm2-135m-instruct", "gemma3-270m")
STARTUP_LIMIT_S = 600.0  # generous: two shared cores; Prefect and the engines start slowly under load
EXIT_LIMIT_S = 600.0  # generous: a build stops its engines, reports the run and stops its server
GONE_LIMIT_S = 60.0

pytestmark = pytest.mark.slow

Identity = tuple[int, str]  # (pid, start time in /proc/PID/stat): a reused pid is another process


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name, from field 3 (state)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> dict[Identity, str]:
    """Every live process below `root` in the process tree, with its command line."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(int(proc.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(proc.name))
            starts[int(proc.name)] = fields[19]
    found: dict[Identity, str] = {}
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found[(pid, starts[pid])] = _cmdline(pid)
            todo.append(pid)
    return found


def alive(ident: Identity) -> bool:
    """The same process (pid and start time) still exists and is not a zombie."""
    fields = _stat_fields(ident[0])
    return fields is not None and fields[19] == ident[1] and fields[0] != "Z"


def engine_processes(rb_pid: int, aliases: tuple[str, ...] = ALIASES) -> list[int]:
    """Live llama.cpp servers of these aliases that `rb_pid` started, anywhere on the machine (also
    re-parented ones): the guard's command line names the pid of the build that started it. Other
    builds running on the machine use the same aliases, so the aliases alone do not say whose."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid, cmd = int(proc.name), _cmdline(int(proc.name)) + " "
        fields = _stat_fields(pid)
        ours = f"pipeline.lm.guard {rb_pid} llama_cpp.server " in cmd
        if ours and any(f"--model_alias {a} " in cmd for a in aliases) and fields and fields[0] != "Z":
            pids.append(pid)
    return pids


def cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.Error:  # table not created yet, or locked
        return 0


def wait_for(condition: Callable[[], bool], limit_s: float, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


@dataclass
class Build:
    """`rb build` in its own session, with every descendant it ever had."""

    config: Path
    proc: subprocess.Popen[bytes]
    stderr_path: Path
    seen: dict[Identity, str] = field(default_factory=dict)

    def record(self) -> dict[Identity, str]:
        """Add the live descendants to `seen`. A process that has exited but is not yet reaped (a
        zombie) reads an empty command line: that must not overwrite the one recorded while it ran,
        or an engine caught in its last instant would no longer count as an engine."""
        now = descendants(self.proc.pid)
        for ident, cmd in now.items():
            if cmd or ident not in self.seen:
                self.seen[ident] = cmd
        return now

    def engines(self) -> list[Identity]:
        return [ident for ident, cmd in self.seen.items() if "llama_cpp.server" in cmd]

    def prefect_servers(self) -> list[Identity]:
        return [ident for ident, cmd in self.seen.items() if "prefect server start" in cmd]

    def watch_until(self, condition: Callable[[dict[Identity, str]], bool], what: str) -> None:
        """Record descendants until `condition(live descendants)` holds; fail if rb ends first."""
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"rb build exited ({self.proc.returncode}) before {what}:\n{self.stderr()[-3000:]}"
                )
            if condition(self.record()):
                return
            time.sleep(0.2)
        pytest.fail(f"no {what} within {STARTUP_LIMIT_S:.0f}s")

    def wait_exit(self) -> int:
        deadline = time.monotonic() + EXIT_LIMIT_S
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.record()  # children started while shutting down count too
            time.sleep(0.2)
        return self.proc.wait(timeout=1)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def leftovers(self) -> dict[Identity, str]:
        """Recorded descendants still alive after a bounded wait."""
        wait_for(lambda: not any(alive(i) for i in self.seen), GONE_LIMIT_S)
        return {ident: cmd for ident, cmd in self.seen.items() if alive(ident)}


@pytest.fixture
def start_build(tmp_path: Path) -> Iterator[Callable[[Path], Build]]:
    builds: list[Build] = []
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # rb starts its own server

    def start(config: Path) -> Build:
        stderr_path = tmp_path / f"rb-{len(builds)}.stderr"
        # A shell's background job (and so a pytest started from one) ignores SIGINT, and Python
        # keeps an inherited SIG_IGN: rb would never see our Ctrl-C. A handler (unlike SIG_IGN) is
        # reset to the default by exec, so install one while starting rb.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [str(RB), "build", "--config", str(config)], cwd=ROOT, start_new_session=True, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        signal.signal(signal.SIGINT, previous)
        builds.append(Build(config, proc, stderr_path))
        return builds[-1]

    yield start
    for build in builds:  # whatever the outcome, leave nothing of ours running
        if build.proc.poll() is None:
            build.proc.kill()
            build.proc.wait()
        for ident in build.seen:
            if alive(ident):
                os.kill(ident[0], signal.SIGKILL)


def _engine_and_answers(build: Build, rows: int = 2) -> Callable[[dict[Identity, str]], bool]:
    cache = Path(yaml.safe_load(build.config.read_text())["lm_cache"])

    def ready(live: dict[Identity, str]) -> bool:
        return any("llama_cpp.server" in cmd for cmd in live.values()) and cache_rows(cache) >= rows

    return ready


@pytest.mark.parametrize("target", ["rb-only", "process-group"])
def test_ctrl_c_stops_every_process_it_started(
    start_build: Callable[[Path], Build], tmp_path: Path, target: str
) -> None:
    build = start_build(isolated_config(ROOT / "tests/data/tiny.yaml", tmp_path))
    build.watch_until(_engine_and_answers(build), "llama.cpp server with answers in the LM cache")
    if target == "rb-only":  # the worst case: the engines never see the signal themselves
        os.kill(build.proc.pid, signal.SIGINT)
    else:  # what a terminal's Ctrl-C does: the whole foreground process group
        os.killpg(build.proc.pid, signal.SIGINT)
    code = build.wait_exit()
    assert build.engines() and build.prefect_servers(), build.seen
    assert build.leftovers() == {}
    assert engine_processes(build.proc.pid) == []
    # The Prefect server rb started is in a session of its own: the terminal's Ctrl-C does not reach
    # it, and rb reports the interrupted run to it before stopping it.
    assert code == 130, build.stderr()[-3000:]
    assert "interrupted: run the same command again" in build.stderr()


def test_unreachable_judge_is_an_error_and_stops_the_engines(
    start_build: Callable[[Path], Build], tmp_path: Path
) -> None:
    port = free_port()  # nobody listens here
    url = f"http://127.0.0.1:{port}/v1"
    config = isolated_config(ROOT / "tests/data/tiny.yaml", tmp_path)
    cfg = yaml.safe_load(config.read_text())
    cfg["models"].append({"name": "dead-judge", "backend": "openai", "base_url": url, "max_retries": 0})
    cfg["routing"] = {"mode": "tags"}
    factuality = cfg["subsets"]["factuality"]
    # A local judge first: its engine is running when the dead judge fails the stage.
    judges = {**factuality["judges"], "models": ["smollm2-135m-instruct", "dead-judge"]}
    cfg["subsets"] = {"factuality": {**factuality, "judges": judges}}
    cfg["evaluate"] = {"scorers": []}
    config.write_text(yaml.safe_dump(cfg))

    build = start_build(config)
    code = build.wait_exit()
    stderr = build.stderr()
    assert code == 1, stderr[-3000:]
    error = next(line for line in stderr.splitlines() if line.startswith("error:"))
    assert "dead-judge" in error and f"127.0.0.1:{port}" in error
    # One engine generated (stopped at the end of its stage); the label stage's engine was running
    # when the dead judge failed the stage. Without both, the error path was not exercised.
    assert len(build.engines()) >= 2, build.seen
    assert build.leftovers() == {}
    assert engine_processes(build.proc.pid) == []


def test_engine_and_server_exit_when_the_build_is_killed(
    start_build: Callable[[Path], Build], tmp_path: Path
) -> None:
    build = start_build(isolated_config(ROOT / "tests/data/tiny.yaml", tmp_path))
    build.watch_until(lambda live: any("llama_cpp.server" in c for c in live.values()), "llama.cpp server")
    assert build.engines() and build.prefect_servers(), build.seen
    os.kill(build.proc.pid, signal.SIGKILL)  # no clean-up runs in rb: only the guard can help
    build.proc.wait()
    assert build.leftovers() == {}
