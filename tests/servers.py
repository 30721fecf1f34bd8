"""Real servers on loopback for the tests: llm-katan (provider wire formats), llama.cpp and an
S3 endpoint (moto's server mode)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

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


@dataclass
class Katan:
    url: str  # root URL, no /v1
    port: int
    stats_file: Path

    def requests_received(self) -> int:
        """Every chat request this server process answered, whatever the status (its stats file)."""
        for _ in range(50):  # the server rewrites the file in place: a read may catch it half-written
            if not self.stats_file.exists():
                return 0
            try:
                return int(json.loads(self.stats_file.read_text())["total"])
            except (ValueError, KeyError):
                time.sleep(0.02)
        raise RuntimeError(f"{self.stats_file}: llm-katan's stats file stayed unreadable")


@contextmanager
def katan_server(*flags: str, model: str = "katan-echo", tmp_path: Path | None = None,
                 port: int | None = None) -> Iterator[Katan]:  # fmt: skip
    """llm-katan with the echo backend. Its dashboard stays on: in llm-katan 0.22 the stats file
    (which counts failed requests too) is written by the dashboard's middleware only. Each start
    gets a fresh stats file, so a restart on the same port counts from zero."""
    port = port or free_port()
    exe = shutil.which("llm-katan", path=str(Path(sys.executable).parent)) or "llm-katan"
    stats = (tmp_path or Path(tempfile.gettempdir())) / f"katan-{port}-{uuid.uuid4().hex[:8]}.json"
    cmd = [exe, "--model", model, "--backend", "echo", "--providers", "openai,anthropic",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
           "--stats-file", str(stats), *flags]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 30, process)
        yield Katan(f"http://127.0.0.1:{port}", port, stats)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def katan(*flags: str, model: str = "katan-echo", tmp_path: Path | None = None) -> Iterator[str]:
    """llm-katan with the echo backend; yields its root URL (no /v1)."""
    with katan_server(*flags, model=model, tmp_path=tmp_path) as server:
        yield server.url


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


@dataclass
class S3Bucket:
    endpoint: str
    bucket: str

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")


@contextmanager
def moto_s3_server(port: int | None = None) -> Iterator[str]:
    """moto's S3 server on loopback (state in memory, gone when it stops); yields its endpoint URL."""
    port = port or free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    process = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module", name="s3_endpoint")
def s3_endpoint_fixture() -> Iterator[str]:
    """One moto server per test module (import this and `s3_bucket_fixture` to use them)."""
    with moto_s3_server() as endpoint:
        yield endpoint


DUMMY_KEY, DUMMY_SECRET = "AKIATESTONLY0000", "rb-test-secret-never-printed"


@pytest.fixture(name="s3_bucket")
def s3_bucket_fixture(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh bucket, with the standard AWS variables pointing at moto and dummy credentials."""
    import boto3

    for name in ("AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"rb-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return S3Bucket(s3_endpoint, bucket)
