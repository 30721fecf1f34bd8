"""No secret leaves the process that holds it: a real build and a real publish with planted API keys
and Hub token, reporting to a real Prefect server, and the error paths that handle refused keys.

The keys are canaries made at run time (a recognisable prefix and a random uuid4), so they are in
no file until something writes them. llm-katan servers check the keys (`--validate-keys`), and the
loopback batch server checks the key of the `batch: true` scorer, so every answer the build gets
proves its key travelled (the batch server's request bodies are scanned too); the loopback Hub accepts only the planted
token. Then everything the runs produced is searched for each canary, raw and base64-encoded (at
every byte alignment, standard and URL-safe alphabets), and for its random part alone:

* every file under the temporary folder: build outputs (parquet decoded, sqlite dumped), the LM
  response caches, the embedding cache, the Prefect server's PREFECT_HOME (its database: logs,
  artifacts, parameters, events, and its own log) and the client's, the Hub client's HF_HOME;
* stdout and stderr of every command;
* the Prefect REST API: logs, artifacts, flow runs (parameters), task runs, events;
* the files the loopback Hub received;
* str, repr and formatted traceback of the exceptions the library raises for refused credentials.

The scan must be seen to cover something (files read, logs, artifacts, runs), and it must find a
canary planted on purpose, so that it cannot pass by looking nowhere.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.prefect_server import server_env, start_server, wait_healthy
from pipeline.lm.local import free_port
from tests.batch_server import BatchServer
from tests.hub_server import HubServer, use_loopback_client
from tests.servers import katan, prefect_artifacts

ROOT = Path(__file__).resolve().parent.parent
RB = str(Path(sys.executable).with_name("rb"))
REPO = "bench-org/secret-canary"
VERSION = "secrets"
BAD_VERSION = "secrets-badkey"

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------------------ canaries


def _canary(prefix: str) -> str:
    """A key-shaped value nobody else could have written: a provider-like prefix and a uuid4."""
    return prefix + "canary" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Canaries:
    hf: str = field(default_factory=lambda: _canary("hf" + "_"))
    openai: str = field(default_factory=lambda: _canary("sk-" + "proj-"))
    anthropic: str = field(default_factory=lambda: _canary("sk-" + "ant-api03-"))
    wrong_hf: str = field(default_factory=lambda: _canary("hf" + "_wrong"))
    wrong_openai: str = field(default_factory=lambda: _canary("sk-" + "wrong-"))
    wrong_anthropic: str = field(default_factory=lambda: _canary("sk-" + "ant-wrong-"))

    def named(self) -> dict[str, str]:
        return dict(self.__dict__)


def base64_forms(secret: str) -> set[str]:
    """Base64 text that appears wherever `secret` is encoded inside a longer string, whatever its
    byte offset (0, 1 or 2 mod 3): the groups holding only the secret's own bytes."""
    forms = set()
    raw = secret.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + raw).decode()
            forms.add(text[4 if offset else 0 : -4])
    return {f for f in forms if len(f) >= 16}


class Scanner:
    """Searches text for every canary: whole, its random part alone, and base64-encoded."""

    def __init__(self, canaries: dict[str, str]):
        self.patterns: list[tuple[str, str, str]] = []  # (canary name, form, needle)
        for name, value in canaries.items():
            self.patterns.append((name, "raw", value))
            self.patterns.append((name, "random part", value.split("canary", 1)[1]))
            self.patterns += [(name, "base64", form) for form in base64_forms(value)]
        self.findings: list[str] = []
        self.places: list[str] = []  # every place scanned, for coverage checks

    def text(self, where: str, text: str) -> list[str]:
        self.places.append(where)
        found = sorted({f"{name} ({form}) in {where}" for name, form, needle in self.patterns if needle in text})
        self.findings += found
        return found

    def file(self, path: Path) -> list[str]:
        data = path.read_bytes()
        found = self.text(str(path), data.decode("latin-1"))
        for label, decoded in decoded_views(path, data):
            found += self.text(f"{path} [{label}]", decoded)
        return found

    def tree(self, root: Path) -> int:
        count = 0
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                self.file(path)
                count += 1
        return count


def decoded_views(path: Path, data: bytes) -> Iterator[tuple[str, str]]:
    """Text that raw bytes can hide: compressed parquet pages, sqlite overflow pages, gzip."""
    if data.startswith(b"PAR1"):
        try:
            table = pq.read_table(pa.BufferReader(data))
            yield "parquet rows", json.dumps(table.to_pylist(), default=str)
            yield "parquet metadata", str(pq.read_metadata(pa.BufferReader(data)).metadata)
        except Exception as exc:  # a half-written file is still scanned raw
            yield "parquet unreadable", repr(exc)
    elif data.startswith(b"SQLite format 3\0"):
        yield "sqlite rows", sqlite_dump(path)
    elif data.startswith(b"\x1f\x8b"):
        yield "gunzip", gzip.decompress(data).decode("latin-1")


def sqlite_dump(path: Path) -> str:
    """Every row of every table, read through sqlite (a value spanning overflow pages is not
    contiguous in the file)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        parts = []
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                parts.append(" | ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row))
        return "\n".join(parts)
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ servers


@dataclass
class Prefect:
    api: str
    home: Path
    process: subprocess.Popen[bytes]

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def all(self, path: str, body: dict[str, Any]) -> list[Any]:
        """Every page of a /filter endpoint."""
        rows: list[Any] = []
        while True:
            page = self.post(path, {**body, "limit": 200, "offset": len(rows)})
            rows += page
            if len(page) < 200:
                return rows

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: our server and its children
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secrets")


@pytest.fixture(scope="module")
def prefect(work: Path) -> Iterator[Prefect]:
    home = work / "prefect-server-home"
    home.mkdir()
    port = free_port()
    process = start_server("127.0.0.1", port, server_env("127.0.0.1", port, home), home / "server.log")
    server = Prefect(f"http://127.0.0.1:{port}/api", home, process)
    try:
        wait_healthy(process, server.api, home / "server.log")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def katans(canaries: Canaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ...]]:
    """Three key-checking llm-katan servers, one per synchronous model (the fourth answers through
    the batch server): echo answers differ by the server, so a math prompt gets four distinct
    candidates. Their stats files are theirs, not the
    product's, and are kept apart from the scanned folder."""
    keys = f"openai={canaries.openai},anthropic={canaries.anthropic}"
    side = tmp_path_factory.mktemp("katan-side")
    with ExitStack() as stack:
        yield tuple(stack.enter_context(katan("--validate-keys", "--api-keys", keys, tmp_path=side)) for _ in range(3))


@pytest.fixture(scope="module")
def batches(canaries: Canaries) -> Iterator[BatchServer]:
    """The scorer answers through Anthropic's Message Batches (batch: true) at a key-checking server."""
    with BatchServer(api_key=canaries.anthropic) as server:
        yield server


def write_config(work: Path, katans: tuple[str, ...], version: str, lm_cache: str, batch_url: str) -> Path:
    a, b, c = katans
    out = work / "run"

    def openai(name: str, url: str) -> dict[str, Any]:
        return {"name": name, "backend": "openai", "model": "katan-echo", "base_url": f"{url}/v1",
                "api_key_env": "OPENAI_API_KEY", "structured_outputs": "off", "max_retries": 1,
                "retry_wait_s": 0.05}  # fmt: skip

    def anthropic(name: str, url: str) -> dict[str, Any]:
        return {"name": name, "backend": "anthropic", "model": "katan-echo", "base_url": url,
                "api_key_env": "ANTHROPIC_API_KEY", "max_retries": 1, "retry_wait_s": 0.05}  # fmt: skip

    panel = {"models": ["gpt-a", "claude-a"], "policy": "majority", "max_tokens": 16, "explain": False}
    cfg = {
        "version": version,
        "seed": 11,
        "output_dir": str(out / "outputs"),
        "lm_cache": str(out / lm_cache),
        "annotations_dir": str(out / "annotations"),
        "embeddings": {"cache_dir": str(out / "embed-cache")},
        "models": [openai("gpt-a", a), openai("gpt-b", b), anthropic("claude-a", c),
                   {**anthropic("claude-b", batch_url), "batch": True, "batch_poll_s": 0.05}],
        "sources": [{"name": "tiny_pool", "path": "tests/data/tiny_pool.jsonl",
                     "metadata_fields": ["subset", "answer", "category"]}],  # fmt: skip
        "decontamination": {"eval_sets": [{"name": "gsm8k", "path": "data/demo/evalsets/gsm8k/test_slice.jsonl",
                                           "text_field": "question", "id_field": "id"}]},  # fmt: skip
        "routing": {"mode": "tags", "field": "subset"},
        "subsets": {
            "math": {"models": ["gpt-a", "gpt-b", "claude-a", "claude-b"], "samples_per_model": 1,
                     "temperature": 1.0, "max_tokens": 48, "system_prompt": "math_system.txt"},  # fmt: skip
            "factuality": {"models": ["gpt-a", "claude-a"], "samples_per_model": 1,
                           "induced_samples_per_model": 1, "max_tokens": 32, "judges": panel},  # fmt: skip
        },
        "evaluate": {"scorers": [{"name": "claude-ratings", "type": "ratings_judge", "model": "claude-b"}]},
        "validation": {"min_items": 0},
        "publish": {"repo": REPO},
    }
    path = work / f"{version}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def base_env(work: Path, prefect: Prefect, canaries: Canaries) -> dict[str, str]:
    """The environment a user's shell would give `rb`: every key exported, a Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HF_", "OPENAI_", "ANTHROPIC_"))}
    return {
        **env,
        "PREFECT_API_URL": prefect.api,
        "PREFECT_HOME": str(work / "prefect-client-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "RB_UI_STATE": str(work / "no-rb-ui.json"),
        "HF_HOME": str(work / "hf-home"),
        "HF_DATASETS_CACHE": str(work / "hf-datasets-cache"),
        "HF_HUB_OFFLINE": "1",
        "OPENAI_API_KEY": canaries.openai,
        "ANTHROPIC_API_KEY": canaries.anthropic,
        "HF_TOKEN": canaries.hf,
    }


def publish_env(work: Path, prefect: Prefect, canaries: Canaries, token: str) -> dict[str, str]:
    return {**base_env(work, prefect, canaries), "HF_TOKEN": token, "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_CACHE": str(work / "hf-home" / "hub")}  # fmt: skip


@dataclass
class Command:
    name: str
    returncode: int
    stdout: str
    stderr: str


def run(name: str, args: list[str], env: dict[str, str], work: Path) -> Command:
    logs = work / "command-output"
    logs.mkdir(exist_ok=True)
    done = subprocess.run(["nice", "-n", "5", RB, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    (logs / f"{name}.stdout").write_text(done.stdout)
    (logs / f"{name}.stderr").write_text(done.stderr)
    return Command(name, done.returncode, done.stdout, done.stderr)


def annotate_one_correct(work: Path) -> str:
    """The echo server's answers all end with the question, so math-verify marks every one
    incorrect: a human annotation (a product feature) marks one correct, so the rebuild assembles
    an item and there is a release to publish."""
    table = pq.read_table(work / "run" / "outputs" / VERSION / "generate" / "completions.parquet").to_pylist()
    pick = next(r for r in table if r["prompt_text"] == "What is 2 + 3?" and r["model"] == "claude-a")
    folder = work / "run" / "annotations"
    folder.mkdir(parents=True, exist_ok=True)
    line = {"id": pick["completion_id"], "label": "correct", "annotator": "secrets-test", "note": ""}
    (folder / "review.jsonl").write_text(json.dumps(line) + "\n")
    return pick["completion_id"]


# ------------------------------------------------------------------------------------------- the test


def library_errors(canaries: Canaries, katans: tuple[str, ...], hub: HubServer, release: Path,
                   monkeypatch: pytest.MonkeyPatch, work: Path) -> list[tuple[str, BaseException]]:  # fmt: skip
    """Refused credentials, raised by the library itself."""
    from pipeline.release.hub import HubPublisher, PublishError, release_files
    from pipeline.lm import BackendUnavailable, CachedModel, ChatRequest
    from pipeline.lm.anthropic_backend import AnthropicBackend
    from pipeline.lm.openai_compat import OpenAICompatBackend
    from pipeline.lm.retry import RetryPolicy

    use_loopback_client(monkeypatch, cache_dir=work / "hf-home" / "library-cache")
    errors: list[tuple[str, BaseException]] = []
    logged: list[str] = []
    with pytest.raises(PublishError) as hub_refused:
        HubPublisher(REPO, canaries.wrong_hf, hub.url, log=logged.append).publish(VERSION, release_files(release))
    assert "not accepted" in str(hub_refused.value)
    errors.append(("HubPublisher with a wrong token", hub_refused.value))
    errors.append(("HubPublisher log", RuntimeError("\n".join(logged))))

    request = ChatRequest.from_messages([{"role": "user", "content": "hello"}], max_tokens=8)
    retry = RetryPolicy(max_retries=1, initial_wait_s=0.05)
    monkeypatch.setenv("RB_TEST_WRONG_OPENAI", canaries.wrong_openai)
    monkeypatch.setenv("RB_TEST_WRONG_ANTHROPIC", canaries.wrong_anthropic)
    openai_backend = OpenAICompatBackend("gpt-a", base_url=f"{katans[0]}/v1", api_key_env="RB_TEST_WRONG_OPENAI",
                                         retry=retry, schema_style="off")  # fmt: skip
    with pytest.raises(BackendUnavailable, match="credentials refused") as openai_refused:
        CachedModel(openai_backend, None).generate([request])
    errors.append(("OpenAICompatBackend with a wrong key", openai_refused.value))
    anthropic_backend = AnthropicBackend("claude-a", base_url=katans[2], api_key_env="RB_TEST_WRONG_ANTHROPIC",
                                         retry=retry)  # fmt: skip
    with pytest.raises(BackendUnavailable, match="credentials refused") as anthropic_refused:
        CachedModel(anthropic_backend, None).generate([request])
    errors.append(("AnthropicBackend with a wrong key", anthropic_refused.value))
    return errors


def test_no_secret_reaches_outputs_logs_prefect_or_messages(
    canaries: Canaries, work: Path, prefect: Prefect, katans: tuple[str, ...], batches: BatchServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands: list[Command] = []
    with HubServer(token=canaries.hf) as hub:
        # 1. A real build: every LM answer went through a key-checking server.
        config = write_config(work, katans, VERSION, "lm-cache.sqlite", batches.url)
        env = base_env(work, prefect, canaries)
        first = run("build-1", ["build", "--config", str(config)], env, work)
        commands.append(first)
        assert first.returncode == 0, first.stderr[-4000:]
        assert "0 failed" in first.stdout, first.stdout
        # 2. A human label makes one item; the rebuild assembles and releases it.
        annotate_one_correct(work)
        second = run("build-2", ["build", "--config", str(config)], env, work)
        commands.append(second)
        assert second.returncode == 0, second.stderr[-4000:]
        assert f"Built {VERSION}: 1 items" in second.stdout, second.stdout
        release = work / "run" / "outputs" / VERSION / "hub"
        assert list(release.glob("data/*/*.parquet")), "the rebuild released no data file"

        # 3. A real publish with the planted token, through the publish flow.
        outputs = str(work / "run" / "outputs")
        publish_args = ["publish", "--version", VERSION, "--repo", REPO, "--output-dir", outputs, "--endpoint", hub.url]
        published = run("publish", publish_args, publish_env(work, prefect, canaries, canaries.hf), work)
        commands.append(published)
        assert published.returncode == 0, published.stderr[-4000:]
        assert f"{REPO} {VERSION}: published" in published.stdout
        assert VERSION in hub.tags(REPO)

        # 4. Error paths: the Hub refuses a token, a provider refuses a key.
        refused = run("publish-wrong-token", publish_args, publish_env(work, prefect, canaries, canaries.wrong_hf), work)
        commands.append(refused)
        assert refused.returncode == 1 and "not accepted" in refused.stderr, refused.stderr[-4000:]
        bad_config = write_config(work, katans, BAD_VERSION, "lm-cache-badkey.sqlite", batches.url)  # nothing cached
        bad = run("build-wrong-key", ["build", "--config", str(bad_config)],
                  {**env, "OPENAI_API_KEY": canaries.wrong_openai}, work)  # fmt: skip
        commands.append(bad)
        assert bad.returncode == 1 and "credentials refused (HTTP 401)" in bad.stderr, bad.stderr[-4000:]

        errors = library_errors(canaries, katans, hub, release, monkeypatch, work)
        # Every token the Hub saw was a planted one: the keys really travelled.
        assert {f"Bearer {canaries.hf}", f"Bearer {canaries.wrong_hf}"} <= set(hub.seen_authorization)
        hub_files = hub.files(REPO, rev=VERSION)
        assert hub.errors == [] and hub.unhandled == []

    scanner = Scanner(canaries.named())
    # Messages: what the commands printed, and the library's exceptions.
    for command in commands:
        scanner.text(f"{command.name} stdout", command.stdout)
        scanner.text(f"{command.name} stderr", command.stderr)
    for what, exc in errors:
        scanner.text(f"{what}: str", str(exc))
        scanner.text(f"{what}: repr", repr(exc))
        scanner.text(f"{what}: traceback", "".join(traceback.format_exception(exc)))
    # What the batch server received: request bodies, uploaded files (the key only in headers).
    assert batches.created and any(canaries.anthropic in h for h in batches.headers_seen)
    scanner.text("batch server bodies", "\n".join(b.decode("latin-1") for b in batches.bodies_seen))
    # What the Hub received.
    for path, data in hub_files.items():
        views = [data.decode("latin-1")] + [text for _, text in decoded_views(Path(path), data)]
        scanner.text(f"hub {REPO}@{VERSION}:{path}", "\n".join(views))

    # The Prefect server over its REST API, as the UI reads it.
    logs = prefect.all("/logs/filter", {"sort": "TIMESTAMP_ASC"})
    flow_runs = prefect.all("/flow_runs/filter", {"sort": "START_TIME_DESC"})
    task_runs = prefect.all("/task_runs/filter", {"sort": "EXPECTED_START_TIME_DESC"})
    artifacts = prefect.all("/artifacts/filter", {"sort": "UPDATED_DESC"})
    latest = prefect_artifacts(prefect.api, {"flow_run_id": {"any_": [r["id"] for r in flow_runs]}})
    events = httpx.post(f"{prefect.api}/events/filter", json={"limit": 50}, timeout=60)
    events.raise_for_status()
    scanner.text("prefect API /logs/filter", json.dumps(logs))
    scanner.text("prefect API /flow_runs/filter", json.dumps(flow_runs))
    scanner.text("prefect API /task_runs/filter", json.dumps(task_runs))
    scanner.text("prefect API /artifacts/filter", json.dumps(artifacts))
    scanner.text("prefect API /events/filter", json.dumps(events.json()))
    # Coverage: the scan looked at real material, not at an empty server.
    names = {r["name"] for r in flow_runs}
    states = sorted(r["state_type"] for r in flow_runs)
    assert len(flow_runs) == 5 and states.count("FAILED") == 2, (names, states)
    assert any(r["parameters"].get("config_path") == str(config) for r in flow_runs)
    assert len(logs) >= 20 and any("credentials refused" in log["message"] for log in logs)
    assert any("not accepted" in log["message"] for log in logs)
    assert len(task_runs) >= 8 and len(artifacts) >= 8
    assert any(key.startswith(f"{VERSION}-") for key in latest) and any("hub-release" in key for key in latest)
    assert events.json().get("events")

    # Every file the runs wrote, after the server has flushed and closed its database.
    prefect.stop()
    db = prefect.home / "prefect.db"
    assert db.is_file() and db.stat().st_size > 100_000
    lm_cache = work / "run" / "lm-cache.sqlite"
    assert lm_cache.is_file() and "katan-echo" in sqlite_dump(lm_cache)
    assert any((work / "run" / "embed-cache").rglob("*")), "no embedding cache was written"
    counts = {place: scanner.tree(work / place) for place in
              ("run", "prefect-server-home", "prefect-client-home", "hf-home", "command-output")}  # fmt: skip
    assert counts["run"] >= 30 and counts["prefect-server-home"] >= 2, counts
    assert any(place.endswith("[sqlite rows]") and "prefect.db" in place for place in scanner.places)
    assert any(place.endswith("test.parquet [parquet rows]") for place in scanner.places)

    assert scanner.findings == [], "secrets leaked:\n" + "\n".join(scanner.findings)

    # The scanner finds a canary where one is: raw in a file, base64 inside a line, and in sqlite.
    planted = work / "run" / "outputs" / VERSION / "planted.txt"
    encoded = base64.b64encode(f"Authorization: Basic user:{canaries.openai}".encode()).decode()
    planted.write_text(f"token={canaries.hf}\nheader={encoded}\n")
    before = len(scanner.findings)
    scanner.tree(work / "run")
    found = scanner.findings[before:]
    assert f"hf (raw) in {planted}" in found and f"openai (base64) in {planted}" in found, found
    planted.unlink()
