"""Prefect servers that `rb` starts: `rb ui`'s, and the private one a plain `rb build` reports to.

Both are `prefect server start` (one process: uvicorn runs in it) launched through
`pipeline.lm.guard`, so a server exits by itself when the `rb` that started it is killed, and in a
session of its own, so that a terminal's Ctrl-C reaches `rb` and not the server: `rb` stops its
engines and reports the interrupted run to a server that is still there, then stops the server.

Why `rb build` does not leave this to Prefect: with no PREFECT_API_URL, Prefect starts a
temporary server itself, in the terminal's process group and with no guard. Ctrl-C then kills
it first, and Prefect's client retries the vanished API for minutes before `rb` can exit; and a
`kill -9` of `rb` leaves it running.
Nothing here imports Prefect: PREFECT_* variables must be set before Prefect is imported.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flows import processes
from pipeline.lm.local import answers, free_port, wait_until_serving

Echo = Callable[[str], None]
STARTUP_LIMIT_S = 300.0  # a fresh PREFECT_HOME runs its migrations first: slow on a loaded machine


class ServerError(RuntimeError):
    """A Prefect server would not start or stopped by itself."""


def healthy(api_url: str) -> bool:
    """Does the Prefect API answer its health check?"""
    return answers(f"{api_url}/health")


def client_host(host: str) -> str:
    """Where a browser on this machine reaches a server listening on `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def server_env(host: str, port: int, home: Path | None = None) -> dict[str, str]:
    """Environment of a server: the UI on, with the API address its pages call; no analytics; its
    own PREFECT_HOME (SQLite database) if `home` is given, else the inherited one."""
    api_url = f"http://{client_host(host)}:{port}/api"
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_ENABLED": "true",
        "PREFECT_SERVER_UI_ENABLED": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    return env if home is None else {**env, "PREFECT_HOME": str(home)}


def start_server(host: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`prefect server start` under the guard, in its own session, its output appended to `log`."""
    command = [sys.executable, "-m", "pipeline.lm.guard", str(os.getpid()),
               "prefect", "server", "start", "--host", host, "--port", str(port)]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def wait_healthy(
    server: subprocess.Popen[bytes], api_url: str, log: Path, timeout_s: float = STARTUP_LIMIT_S
) -> None:
    problem = wait_until_serving(server, f"{api_url}/health", timeout_s, interval_s=0.3)
    if problem is not None:
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        raise ServerError(f"the Prefect server did not come up at {api_url} ({problem}; log {log}):\n{tail}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down cleanly), SIGKILL if it lingers; then reap it."""
    processes.stop([server.pid])
    server.wait()


def start_private_server(log: Path, echo: Echo) -> str:
    """Start a server for this `rb build` alone and point Prefect at it (PREFECT_API_URL); returns
    the API url. It uses PREFECT_HOME's database like Prefect's temporary server, so finished runs
    can be looked at later from `rb ui` or `prefect server start`.

    It is stopped when the process exits, not before: Prefect's log and event workers send what
    they still hold from threading's exit hooks, which run before `atexit`'s."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    # One build, nothing scheduled: the services that act on deployments have no work. The UI is
    # on: the flow run's page, which Prefect logs ("View at ..."), opens while the build runs.
    env = {
        **server_env("127.0.0.1", port),
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    }
    server = start_server("127.0.0.1", port, env, log)
    atexit.register(stop_server, server)
    url = api_url.removesuffix("/api")
    echo(f"Prefect server for this build: {url} (stops when the build ends; log {log})")
    wait_healthy(server, api_url, log)
    os.environ["PREFECT_API_URL"] = api_url
    return api_url
