"""Local backend: an embedded llama.cpp server on loopback, started on first use.

The engine is a child process we started ourselves, so we stop it by its own process id on
close, at interpreter exit, and when the parent is interrupted. Requests go through the
OpenAI-compatible backend, so the local path exercises exactly the code real servers use.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from pipeline.lm.base import BackendUnavailable, ChatRequest, ChatResult
from pipeline.lm.local_models import resolve_model_file
from pipeline.lm.openai_compat import OpenAICompatBackend
from pipeline.lm.retry import RetryPolicy

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Does `url` answer 200? No proxy: the servers we start are on this machine."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as resp:
            return resp.status == 200
    except OSError:  # URLError, connection refused or reset, timeouts
        return False


def wait_until_serving(
    process: subprocess.Popen[bytes], url: str, timeout_s: float, interval_s: float = 0.25
) -> str | None:
    """Poll `url` until it answers 200 (None), or say why it never did: the process exited, or
    `timeout_s` passed. A server we just started is ready only when it answers."""
    deadline = time.monotonic() + timeout_s
    while not answers(url):
        if process.poll() is not None:
            return f"exited with code {process.returncode}"
        if time.monotonic() > deadline:
            return f"not answering after {timeout_s:.0f}s"
        time.sleep(interval_s)
    return None


class LlamaCppServer:
    """One `llama_cpp.server` process serving one GGUF file."""

    def __init__(
        self,
        model_file: Path,
        alias: str,
        chat_format: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout_s: float = 180.0,
    ):
        self.model_file = model_file
        self.alias = alias
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        # Through the guard: the server exits by itself if this process dies without stopping it.
        cmd = [
            sys.executable, "-m", "pipeline.lm.guard", str(os.getpid()), "llama_cpp.server",
            "--model", str(self.model_file),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
        ]  # fmt: skip
        if self.chat_format:
            cmd += ["--chat_format", self.chat_format]
        return cmd

    def start(self) -> None:
        if self.process is not None:
            return
        self.port = free_port()
        self._log_file = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log")
        self.process = subprocess.Popen(
            self.command(), stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        atexit.register(self.stop)
        log.info("started llama.cpp server pid=%d for %s on %s", self.process.pid, self.alias, self.base_url)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        assert self.process is not None
        problem = wait_until_serving(self.process, f"{self.base_url}/models", self.startup_timeout_s)
        if problem is None:
            return
        tail = self.log_tail()
        self.stop()
        raise BackendUnavailable(
            f"local model {self.alias!r}: llama.cpp server {problem} during start-up:\n{tail}"
        )

    def log_tail(self, lines: int = 20) -> str:
        if self._log_file is None:
            return ""
        text = Path(self._log_file.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.info("stopped llama.cpp server pid=%d (%s)", process.pid, self.alias)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        atexit.unregister(self.stop)


class LocalBackend:
    """OpenAI-compatible requests to an embedded server that starts on the first cache miss."""

    kind = "local"

    def __init__(
        self,
        model: str,
        model_file: str,
        models_dir: Path,
        chat_format: str | None = None,
        n_ctx: int = 2048,
        retry: RetryPolicy = RetryPolicy(max_retries=2),
        timeout_s: float = 300.0,
    ):
        self.model = model
        self.endpoint = f"embedded llama.cpp ({model_file})"
        self._model_file = model_file
        self._models_dir = models_dir
        self._chat_format = chat_format
        self._n_ctx = n_ctx
        self._retry = retry
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self.server: LlamaCppServer | None = None
        self._client: OpenAICompatBackend | None = None

    def _ensure_started(self) -> OpenAICompatBackend:
        with self._lock:
            if self._client is None:
                path = resolve_model_file(self._model_file, self._models_dir)
                self.server = LlamaCppServer(path, self.model, self._chat_format, self._n_ctx)
                self.server.start()
                self.endpoint = self.server.base_url
                self._client = OpenAICompatBackend(
                    self.model,
                    base_url=self.server.base_url,
                    api_key_env=None,
                    retry=self._retry,
                    timeout_s=self._timeout_s,
                    schema_style="llama_cpp",
                )
            return self._client

    def complete(self, request: ChatRequest) -> ChatResult:
        return self._ensure_started().complete(request)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self.server is not None:
                self.server.stop()
                self.server = None
