"""The Prefect server a plain `rb build` starts for itself: it answers with its UI while its `rb`
lives, and is gone when that process exits, cleanly or killed. Real servers, in child processes
(the server is tied to the process that started it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows import processes
from flows.prefect_server import ServerError, wait_healthy

ROOT = Path(__file__).resolve().parent.parent

# Starts the server, reports what it started, then ends as the test says: exit or SIGKILL.
STARTER = """
import json, os, signal, sys
from pathlib import Path
from flows.prefect_server import start_private_server
api = start_private_server(Path(sys.argv[1]), lambda line: print(line, file=sys.stderr))
print(json.dumps({"api": api, "env": os.environ["PREFECT_API_URL"]}), flush=True)
sys.stdin.readline()
if sys.argv[2] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _gone(pid: int, limit_s: float = 30.0) -> bool:
    deadline = time.monotonic() + limit_s
    while processes.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not processes.alive(pid)


def _get(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as resp:
        return resp.status, resp.read().decode(errors="replace")


@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_private_server_lives_exactly_as_long_as_its_process(tmp_path: Path, ending: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    log = tmp_path / "run/.prefect/server.log"
    starter = subprocess.Popen([sys.executable, "-c", STARTER, str(log), ending], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert starter.stdout is not None and starter.stdin is not None
        started = json.loads(starter.stdout.readline())
        tree = processes.descendants(starter.pid)
        servers = [p for p in tree if "prefect" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(servers) == 1
        # Prefect in that process now reports there; the API and the UI's pages answer.
        assert started["env"] == started["api"]
        assert _get(f"{started['api']}/health") == (200, "true")
        status, page = _get(started["api"].removesuffix("/api"))
        assert status == 200 and "<html" in page.lower()
        # The server is in a session of its own: a terminal's Ctrl-C would not reach it.
        assert os.getsid(servers[0]) != os.getsid(starter.pid)
        starter.stdin.write("go\n")
        starter.stdin.flush()
        starter.wait(timeout=60)
        assert _gone(servers[0]), f"server {servers[0]} outlived the process that started it"
        assert log.is_file()
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()


def test_server_exiting_during_startup_is_an_error_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["sh", "-c", "echo 'port already in use'; exit 3"], stdout=out)
    with pytest.raises(ServerError) as failed:
        wait_healthy(process, "http://127.0.0.1:9/api", log, timeout_s=60)
    message = str(failed.value)
    assert "exited with code 3" in message and "port already in use" in message and str(log) in message
