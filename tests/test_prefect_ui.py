"""`rb ui` end to end: the demo build reports to its server by itself, the Prefect UI (rendered by
headless Chromium) shows the decontamination funnel and the decisions with their reasons, the
served deployment starts a second build as the UI's Run button does, and Ctrl-C leaves no process.

The tests share one `rb ui` and one demo build (module fixtures) and run in file order; the last
one stops the server. Screenshots of the pages go to outputs/test-output/ (or $RB_TEST_OUTPUT).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows import processes
from pipeline.core.io import read_decision_log
from pipeline.lm.local import free_port
from tests.chromium import render, table_rows, visible_text
from tests.configs import isolated_config
from tests.servers import katan_server, prefect_artifacts, wait_http

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("RB_TEST_OUTPUT") or ROOT / "outputs" / "test-output")
RB = str(Path(sys.executable).with_name("rb"))
FLOW = "build-benchmark"
REASON = "contaminated:alpaca_eval"  # the demo pool holds two AlpacaEval prompts: exact, model-free drops

pytestmark = pytest.mark.slow


def subprocess_env(state_file: Path) -> dict[str, str]:
    """No PREFECT_API_URL: `rb build` has to find the `rb ui` server through the state file (a
    private one, so that a user's own `rb ui` and this test's never meet)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {
        **env,
        "RB_UI_STATE": str(state_file),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
    }


class UI:
    """The running `rb ui`: its process, what its state file says, and REST calls to its API."""

    def __init__(self, process: subprocess.Popen[bytes], state: dict[str, Any], state_file: Path, log: Path):
        self.process, self.state, self.state_file, self.log = process, state, state_file, log
        self.url: str = state["url"]
        self.api = f"{self.url}/api"

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def flow_runs(self) -> list[dict[str, Any]]:
        body = {
            "flows": {"name": {"any_": [FLOW]}},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 50,
            "offset": 0,
        }
        return self.post("/flow_runs/filter", body)

    def artifacts(self, flow_run_id: str) -> dict[str, dict[str, Any]]:
        """The run's artifacts by key (latest first)."""
        return prefect_artifacts(self.api, {"flow_run_id": {"any_": [flow_run_id]}})


@pytest.fixture(scope="module")
def katan_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with katan_server(tmp_path=tmp_path_factory.mktemp("katan")) as server:
        yield f"{server.url}/v1"


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory, katan_url: str) -> Path:
    """configs/demo.yaml with every output and cache in a temporary folder, and its models answered
    by llm-katan: what this file tests is the UI and the server, not the models (the local engines
    are built end to end in test_build_flow), and the demo's 441 requests to llama.cpp took most
    of this file's time."""
    path = isolated_config(ROOT / "configs/demo.yaml", tmp_path_factory.mktemp("ui-demo"))
    cfg = yaml.safe_load(path.read_text())
    cfg["models"] = [{"name": m["name"], "backend": "openai", "model": "katan-echo", "base_url": katan_url,
                      "structured_outputs": "off", "max_concurrency": 8} for m in cfg["models"]]  # fmt: skip
    cfg["validation"] = {**(cfg.get("validation") or {}), "min_items": 0}  # echo answers make few items
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory, demo_config: Path) -> Iterator[UI]:
    """`rb ui` on a free port with a temporary PREFECT_HOME, serving the build flow."""
    tmp = tmp_path_factory.mktemp("ui")
    state_file, log = tmp / "prefect-ui.json", tmp / "rb-ui.log"
    command = [
        RB,
        "ui",
        "--port",
        str(free_port()),
        "--home",
        str(tmp / "home"),
        "--config",
        str(demo_config),
    ]
    with open(log, "wb") as out:  # a file, not a pipe: nobody reads a pipe while the tests run
        process = subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(state_file), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while not state_file.is_file():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"`rb ui` wrote no state file:\n{log.read_text()}"
            time.sleep(0.5)
        state = json.loads(state_file.read_text())
        wait_http(f"{state['url']}/api/health", 60, process)
        yield UI(process, state, state_file, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def demo_build(ui: UI, demo_config: Path) -> dict[str, Any]:
    """`rb build` of the demo config from the repository root, as a user would run it."""
    done = subprocess.run([RB, "build", "--config", str(demo_config)], cwd=ROOT, env=subprocess_env(ui.state_file),
                          check=False, capture_output=True, text=True, timeout=3600)  # fmt: skip
    output = done.stdout + done.stderr
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "prefect-ui-build.log").write_text(output)
    assert done.returncode == 0, output[-6000:]
    runs = [r for r in ui.flow_runs() if r["deployment_id"] is None]
    assert len(runs) == 1, runs
    cfg = yaml.safe_load(demo_config.read_text())
    return {"output": output, "run": runs[0], "version": cfg["version"],
            "run_dir": Path(cfg["output_dir"]) / cfg["version"]}  # fmt: skip


def page(url: str, shot: str, ready: Any) -> str:
    """Render `url` (keeping a screenshot); render again with a longer budget if the page has not
    finished loading what `ready(html)` looks for."""
    html = ""
    for budget_ms in (10_000, 30_000):
        html = render(url, OUTPUT / shot, budget_ms=budget_ms)
        if ready(html):
            break
    return html


def test_build_reports_to_rb_ui(ui: UI, demo_build: dict[str, Any]) -> None:
    run = demo_build["run"]
    assert f"Reporting to the Prefect UI at {ui.url}" in demo_build["output"]
    assert f"View at {ui.url}/runs/flow-run/{run['id']}" in demo_build["output"]
    assert run["state_type"] == "COMPLETED"
    # The page that Prefect's "View at" line links to renders the run.
    html = page(
        f"{ui.url}/runs/flow-run/{run['id']}",
        "prefect-ui-run-v1.png",
        lambda h: run["name"] in visible_text(h),
    )
    assert run["name"] in visible_text(html) and "Completed" in visible_text(html)


def test_ui_shows_funnel_and_decisions(ui: UI, demo_build: dict[str, Any]) -> None:
    run, version = demo_build["run"], demo_build["version"]
    funnel_key, table_key = f"{version}-decontaminate-funnel", f"{version}-decontaminate-decisions"
    artifacts = ui.artifacts(run["id"])
    assert {funnel_key, table_key} <= set(artifacts), sorted(artifacts)
    drops = [
        d
        for d in read_decision_log(demo_build["run_dir"])
        if d["stage"] == "decontaminate" and d["reason"] == REASON
    ]
    assert drops and all(d["decision"] == "dropped" for d in drops)

    # The run's Artifacts tab lists both.
    text = visible_text(page(f"{ui.url}/v2/runs/flow-run/{run['id']}?tab=Artifacts", "prefect-ui-artifacts.png",
                             lambda h: table_key in visible_text(h)))  # fmt: skip
    assert funnel_key in text and table_key in text

    # The funnel renders as tables: the stage's counts by reason and the prompt pool funnel.
    rows = table_rows(page(f"{ui.url}/v2/artifacts/artifact/{artifacts[funnel_key]['id']}", "prefect-ui-funnel.png",
                           lambda h: len(table_rows(h)) > 2))  # fmt: skip
    assert ["dropped", REASON, str(len(drops))] in rows, rows
    assert ["contaminated: alpaca_eval", str(len(drops))] in rows, rows

    # The decisions table shows each AlpacaEval drop with its reason and evidence.
    table = table_rows(page(f"{ui.url}/v2/artifacts/artifact/{artifacts[table_key]['id']}", "prefect-ui-decisions.png",
                            lambda h: any(drops[0]["item_id"] in r for r in table_rows(h))))  # fmt: skip
    header = next(r for r in table if "item_id" in r and "reason" in r)
    shown = [dict(zip(header, r)) for r in table if len(r) == len(header)]
    for drop in drops:
        (row,) = [r for r in shown if r["item_id"] == drop["item_id"]]
        assert (row["decision"], row["reason"], row["eval_set"]) == ("dropped", REASON, "alpaca_eval")


def test_deployment_starts_a_cached_build(ui: UI, demo_build: dict[str, Any], demo_config: Path) -> None:
    """What the UI's Run > Custom run does: a flow run of the served deployment with parameters."""
    (deployment,) = ui.post(
        "/deployments/filter", {"deployments": {"name": {"any_": ["rb-build"]}}, "limit": 10, "offset": 0}
    )
    assert deployment["parameters"]["config_path"] == str(demo_config)
    run = ui.post(
        f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"config_path": str(demo_config)}}
    )
    deadline = time.monotonic() + 900
    while ui.get(f"/flow_runs/{run['id']}")["state"]["type"] not in (
        "COMPLETED",
        "FAILED",
        "CRASHED",
        "CANCELLED",
    ):
        assert time.monotonic() < deadline, (
            f"flow run {run['id']} did not finish:\n{ui.log.read_text()[-4000:]}"
        )
        time.sleep(2)
    state = ui.get(f"/flow_runs/{run['id']}")["state"]
    assert state["name"] == "Completed", f"{state}\n{ui.log.read_text()[-6000:]}"
    # Every stage came from the Prefect cache of the first build: nothing was sent to a model.
    summary = ui.artifacts(run["id"])[f"{demo_build['version']}-summary"]["data"]
    assert "LM requests this run: 0 sent" in summary, summary


def test_ctrl_c_stops_server_and_runner(ui: UI) -> None:
    pids = [ui.process.pid, ui.state["server_pid"], *processes.descendants(ui.process.pid)]
    assert ui.state["pid"] == ui.process.pid and ui.state["server_pid"] in pids
    ui.process.send_signal(signal.SIGINT)
    assert ui.process.wait(timeout=120) == 0, ui.log.read_text()[-4000:]
    assert [p for p in pids if processes.alive(p)] == []
    assert not ui.state_file.exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{ui.api}/health", timeout=5)
    assert "Stopping the Prefect server" in ui.log.read_text()
