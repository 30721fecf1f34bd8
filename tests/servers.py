"""Real servers on loopback for the tests: llm-katan (provider wire formats) and llama.cpp."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from pipeline.lm.local import free_port


def wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} not up after {timeout_s}s")


@contextmanager
def katan(*flags: str, model: str = "katan-echo", tmp_path: Path | None = None) -> Iterator[str]:
    """llm-katan with the echo backend; yields its root URL (no /v1)."""
    port = free_port()
    exe = shutil.which("llm-katan", path=str(Path(sys.executable).parent)) or "llm-katan"
    stats = (tmp_path or Path("/tmp")) / f"katan-stats-{port}.json"
    cmd = [exe, "--model", model, "--backend", "echo", "--providers", "openai,anthropic",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
           "--disable-dashboard", "--stats-file", str(stats), *flags]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def prefect_artifacts(api_url: str, artifact_filter: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The latest artifact per key, read over the Prefect REST API as the UI does. (The 3.8.8
    Python client's artifact filter sends explicit nulls that this server version rejects with 422,
    so the body is spelled out.)"""
    import httpx

    body = {"artifacts": artifact_filter, "limit": 200, "offset": 0, "sort": "UPDATED_DESC"}
    response = httpx.post(f"{api_url}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    latest: dict[str, dict[str, Any]] = {}
    for artifact in response.json():
        if artifact["key"]:
            latest.setdefault(artifact["key"], artifact)
    return latest
