"""`rb ui`: a local Prefect server with its UI, the build flow served on it, and the hook through
which `rb build` reports to that server.

The server (see flows/prefect_server.py) is a child process in its own session, so Ctrl-C in the
terminal reaches `rb ui` and not the server: `rb ui` stops serving, then stops the server and every
process below it, by process id (and the server exits by itself if `rb ui` is killed). A small
state file (url and process ids) lets other `rb` commands find the server; it is removed on exit.
Nothing here imports Prefect at module level: PREFECT_* variables must be set before it is imported.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flows import processes
from flows.prefect_server import ServerError, client_host, healthy, server_env, start_server, wait_healthy

STATE_FILE = Path("outputs/.prefect-ui.json")  # relative to the directory `rb` runs in
STATE_ENV = "RB_UI_STATE"  # names another state file (the tests keep their server apart this way)
DEPLOYMENT = "rb-build"
Echo = Callable[[str], None]


@dataclass(frozen=True)
class UiServer:
    url: str  # root of the UI, e.g. http://127.0.0.1:4200
    pid: int  # the `rb ui` process
    server_pid: int
    home: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def state_path() -> Path:
    return Path(os.environ.get(STATE_ENV) or STATE_FILE)


def running_server(path: Path | None = None) -> UiServer | None:
    """The server a state file names, if its `rb ui` process is alive and the API answers; a state
    file left by a killed `rb ui` names nothing."""
    path = path or state_path()
    try:
        server = UiServer(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return server if processes.alive(server.pid) and healthy(server.api_url) else None


def report_to_running_ui(echo: Echo = print) -> UiServer | None:
    """For `rb build`: when `rb ui` is running (and PREFECT_API_URL is not set), send the flow run to
    its server so that it can be audited there; otherwise Prefect starts its temporary server.
    Call before Prefect is imported. Prefect logs the flow run's page ("View at ...") itself."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    server = running_server()
    if server is None:
        return None
    os.environ["PREFECT_API_URL"] = server.api_url
    echo(f"Reporting to the Prefect UI at {server.url} (started by `rb ui`)")
    return server


def _write_state(path: Path, server: UiServer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(server), indent=1))
    os.replace(tmp, path)


def _remove_state(path: Path) -> None:
    """Remove the state file if it is still ours (never another `rb ui`'s)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def port_in_use(host: str, port: int) -> bool:
    """Does something already listen there? (Its health check could pass for our server's.)"""
    try:
        with socket.create_connection((client_host(host), port), timeout=1):
            return True
    except OSError:
        return False


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _watch(server: subprocess.Popen[bytes], stopping: threading.Event) -> None:
    """If the server exits by itself, interrupt `rb ui` so that it shuts down rather than serving
    a flow nobody can reach."""
    server.wait()
    if not stopping.is_set():
        os.kill(os.getpid(), signal.SIGINT)


def serve_build(config: str, server: UiServer, echo: Echo) -> None:
    """Serve `flows.build.build` as deployment DEPLOYMENT until interrupted. Its flow runs are
    spawned processes that inherit this process's working directory, so relative paths in a
    config resolve as they do for `rb build` started here."""
    import asyncio

    from prefect.runner import Runner

    from flows.build import build

    class CtrlCRunner(Runner):
        """Stops on SIGTERM as on Ctrl-C. (Prefect's own handler calls the async `stop` from a
        signal handler, which leaves it un-awaited, and exits the process from there.)"""

        def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
            raise KeyboardInterrupt

    runner = CtrlCRunner(name=DEPLOYMENT, pause_on_shutdown=False)
    deployment_id = runner.add_flow(
        build, name=DEPLOYMENT, parameters={"config_path": config}, tags=["rbbench"],
        description="Build a benchmark version. config_path: a YAML config, relative to the repository root.",
    )  # fmt: skip
    echo(
        f"Serving the build flow as deployment 'build-benchmark/{DEPLOYMENT}' (default config_path: {config}):"
    )
    echo(f"  {server.url}/deployments/deployment/{deployment_id}  (Run > Custom run takes another config)")
    asyncio.run(runner.start())


def _resource_tracker_pid() -> int | None:
    """Flow runs are spawned with multiprocessing, which starts a resource tracker child. It ignores
    SIGTERM by design and exits when its pipe closes, which the flow runs hold open too."""
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)  # private; None: not started


def _shutdown(server: subprocess.Popen[bytes], echo: Echo) -> None:
    """Stop every process this `rb ui` started (listed before any is stopped), then whatever is
    left in the server's process group."""
    tracker = _resource_tracker_pid()
    tree = processes.descendants(os.getpid())
    killed = processes.stop([p for p in tree if p != tracker])
    if tracker in tree:  # with the flow runs gone it holds nothing: no grace to wait out
        processes.stop([tracker], grace_s=0)
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait()
    if killed:
        echo(f"killed processes that did not stop on SIGTERM: {killed}")


def run_ui(host: str, port: int, home: Path, config: str | None, echo: Echo = print) -> int:
    """Start the server, announce it, serve the build flow (unless `config` is None), and clean up
    on Ctrl-C, SIGTERM or error. Returns the exit code."""
    state = state_path()
    other = running_server(state)
    if other is not None:
        echo(f"error: `rb ui` is already running at {other.url} (pid {other.pid}); stop it first")
        return 1
    if port_in_use(host, port):
        echo(f"error: port {port} is in use (pick another with --port)")
        return 1
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://{client_host(host)}:{port}"
    # Ctrl-C (even where the shell started us with SIGINT ignored) and SIGTERM stop `rb ui` alike.
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    process = start_server(host, port, server_env(host, port, home), home / "server.log")
    stopping = threading.Event()
    exited: int | None = None  # the server's exit code, had it stopped by itself
    try:
        wait_healthy(process, f"{url}/api", home / "server.log")
        ui = UiServer(url=url, pid=os.getpid(), server_pid=process.pid, home=str(home))
        _write_state(state, ui)
        echo(f"Prefect UI: {url}  (server pid {process.pid}, PREFECT_HOME {home}, log {home / 'server.log'})")
        echo("`rb build` run from this directory reports to it. Ctrl-C stops everything.")
        # Prefect reads its settings when first imported: point this process (the runner and its
        # flow runs) at the server first.
        os.environ.update(
            PREFECT_API_URL=ui.api_url, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false"
        )
        if config is None:
            process.wait()
        else:
            threading.Thread(target=_watch, args=(process, stopping), daemon=True).start()
            serve_build(config, ui, echo)
    except KeyboardInterrupt:
        pass
    except ServerError as exc:
        echo(f"error: {exc}")
        return 1
    finally:
        exited = process.poll()
        stopping.set()
        echo("Stopping the Prefect server and the processes it started...")
        _shutdown(process, echo)
        _remove_state(state)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exited is not None:
        echo(f"error: the Prefect server exited by itself with code {exited} (log {home / 'server.log'})")
        return 1
    return 0
