"""Review in the real Prefect UI: `rb build` with `review:` pauses after labeling; headless Chromium
opens the run's page, presses Resume, types the reviewer's name, corrects one label in the form and
submits it. The build then writes the annotation file, relabels and assembles with the correction
(the corrected prompt loses its only correct answer, so its item is gone from the release), and the
labeling report's agreement table counts the review. A second build that nobody reviews goes on by
itself after `timeout_s` and says so in its log and summary.

Builds run against llm-katan (echo) with the toy Echo subset of tests/test_plugin_subset.py: a
completion is correct when it carries the marker word. Screenshots of the form go to
outputs/test-output/ (or $RB_TEST_OUTPUT); docs/review-*.png are copies of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
import yaml

from flows.prefect_server import server_env, start_server, stop_server, wait_healthy
from pipeline.lm.local import free_port
from tests.cdp import Page
from tests.servers import katan_server, prefect_artifacts
from tests.test_plugin_subset import _config

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("RB_TEST_OUTPUT") or ROOT / "outputs" / "test-output")
PLUGIN = "from pipeline.subsets.registry import register\nfrom tests.test_plugin_subset import Echo\nregister(Echo)\n"
CANARY = f"sk-review-canary-{uuid.uuid4().hex}"

pytestmark = pytest.mark.slow

BUTTON = "[...document.querySelectorAll('{scope} button')].find(b => b.innerText.trim() === {text!r})"
FIELD = ("[...document.querySelectorAll('.p-modal .schema-form-property')]"
         ".find(f => f.querySelector('.schema-form-property__label').innerText.startsWith({start!r}))")  # fmt: skip


def _build(config: Path, api: str, tmp: Path, log: Path) -> subprocess.Popen[bytes]:
    """`rb build` as a user runs it (this checkout's code), reporting to the test's server."""
    env = {**os.environ, "PREFECT_API_URL": api, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp)]),
           "HF_HUB_OFFLINE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "REVIEW_TEST_KEY": CANARY}  # fmt: skip
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "flows.cli", "build", "--config", str(config)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _paused_run(api: str, build: subprocess.Popen[bytes], log: Path, timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert build.poll() is None, log.read_text()[-4000:]
        body = {"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}, "limit": 5, "offset": 0}
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json()
        if runs:
            return runs[0]
        time.sleep(1)
    raise AssertionError(f"the build never paused:\n{log.read_text()[-4000:]}")


def _finish(build: subprocess.Popen[bytes], log: Path, timeout_s: float = 240) -> str:
    build.wait(timeout=timeout_s)
    output = log.read_text()
    assert build.returncode == 0, output[-6000:]
    return output


def _review_in_the_ui(ui_url: str, run_id: str, change: str) -> None:
    """Open the run, press Resume, fill the form (name, one correction), screenshot it, submit."""
    with Page(width=1300, height=1000) as page:
        page.goto(f"{ui_url}/runs/flow-run/{run_id}")
        resume = BUTTON.format(scope="", text="Resume")
        page.wait_for(resume, 90, "the run page's Resume button")
        page.click(resume)
        page.wait_for("document.querySelectorAll('.p-modal select').length >= 4 && "
                      "[...document.querySelectorAll('.p-modal .schema-form-property__markdown')]"
                      ".some(e => e.innerText.includes('Evidence:'))", 60, "the review form")  # fmt: skip
        text = page.text()  # each item shows its prompt, completion, automatic label and evidence
        assert "Review the labels of echo" in text and "automatic: correct" in text and "Evidence:" in text
        assert "Prompt" in text and "Completion" in text and "marker found" in text
        page.evaluate("document.querySelector('.p-modal__body').scrollTop = 0")
        page.screenshot(OUTPUT / "review-form.png", clip_js="document.querySelector('.p-modal__card')")
        page.type_into(FIELD.format(start="Reviewer") + ".querySelector('textarea, input')", "Ada Lovelace")
        page.type_into(FIELD.format(start="Note") + ".querySelector('textarea, input')", "checked in the UI test")
        select = FIELD.format(start=change) + ".querySelector('select')"
        # A user's choice in a native <select>: the value changes and the element fires `change`.
        page.evaluate(f"(() => {{ const s = {select}; s.focus(); s.value = 'incorrect';"
                      " s.dispatchEvent(new Event('change', {bubbles: true})); return s.value; })()")  # fmt: skip
        page.evaluate(f"{FIELD.format(start='Reviewer')}.scrollIntoView({{block: 'start'}})")
        page.screenshot(OUTPUT / "review-form-filled.png", clip_js="document.querySelector('.p-modal__card')")
        page.click(BUTTON.format(scope=".p-modal", text="Submit"))
        page.wait_for("!document.querySelector('.p-modal')", 60, "the form to close")


def test_review_in_the_prefect_ui(tmp_path: Path) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (tmp_path / "review_plugin.py").write_text(PLUGIN)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = start_server("127.0.0.1", port, server_env("127.0.0.1", port, tmp_path / "home"), tmp_path / "server.log")
    try:
        wait_healthy(server, api, tmp_path / "server.log")
        with katan_server(model="katan-echo", tmp_path=tmp_path) as katan:
            config = _config(tmp_path, f"{katan.url}/v1")
            raw = yaml.safe_load(config.read_text())
            raw["plugins"] = ["review_plugin"]
            raw["models"][0]["api_key_env"] = "REVIEW_TEST_KEY"
            raw["review"] = {"subsets": ["Echo"], "sample": 4, "timeout_s": 240}
            config.write_text(yaml.safe_dump(raw, sort_keys=False))
            reviewed = _reviewed_build(config, api, tmp_path)
            raw["review"]["timeout_s"] = 10
            config.write_text(yaml.safe_dump(raw, sort_keys=False))
            _unreviewed_build(config, api, tmp_path, reviewed)
    finally:
        stop_server(server)


def _reviewed_build(config: Path, api: str, tmp: Path) -> dict[str, Any]:
    log = tmp / "build-reviewed.log"
    build = _build(config, api, tmp, log)
    try:
        run = _paused_run(api, build, log)
        inputs = httpx.post(f"{api}/flow_runs/{run['id']}/input/filter", json={"prefix": "paused", "limit": 10},
                            timeout=30).json()  # fmt: skip
        schema = json.loads(next(i["value"] for i in inputs if i["key"].endswith("-schema")))
        shown = json.dumps(inputs)
        assert CANARY not in shown and "REVIEW_TEST_KEY" not in shown  # no secret in the form
        # The item to correct: a completion labeled correct (it carries the marker).
        item, field = next((k, f) for k, f in schema["properties"].items() if f.get("default") == "correct")
        completion_id = re.search(r"`(c_[0-9a-f]+)`", field["description"]).group(1)
        _review_in_the_ui(api.removesuffix("/api"), run["id"], field["title"].split()[0])
        output = _finish(build, log)
    finally:
        if build.poll() is None:
            build.kill()
    assert "review by Ada Lovelace: 3 confirmed, 1 corrected, 0 skipped of 4" in output, output[-3000:]
    run_dir = tmp / "outputs" / "echo"
    (annotation_file,) = sorted((tmp / "annotations").glob("review-echo-*.jsonl"))
    rows = {r["id"]: r for r in map(json.loads, annotation_file.read_text().splitlines())}
    assert len(rows) == 4 and {r["annotator"] for r in rows.values()} == {"Ada Lovelace"}
    corrected = rows[completion_id]
    assert (corrected["label"], corrected["review"], corrected["automatic_label"]) == ("incorrect", "corrected", "correct")
    assert corrected["note"] == "checked in the UI test" and corrected["reviewed_at"].startswith("20")
    labels = pl.read_parquet(run_dir / "label/labels.parquet").filter(pl.col("completion_id") == completion_id)
    assert (labels["label"][0], labels["labeler"][0]) == ("incorrect", "human")
    report = json.loads((run_dir / "label/report.json").read_text())
    row = next(r for r in report["agreement"] if r["labeler"] == "all")
    assert (row["annotated"], row["agree"], row["disagree"]) == (4, 3, 1)
    # The corrected answer was its prompt's only marked one: that item cannot be assembled any more.
    release = pl.read_parquet(run_dir / "assemble/test.parquet")
    assert release.height == 3, release
    artifacts = prefect_artifacts(api, {"flow_run_id": {"any_": [run["id"]]}})
    assert "review by Ada Lovelace" in artifacts["echo-summary"]["data"]
    assert item in schema["properties"] and "echo-review" in artifacts
    return {"run": run, "release": release.height, "completion_id": completion_id}


def _unreviewed_build(config: Path, api: str, tmp: Path, reviewed: dict[str, Any]) -> None:
    """Nobody answers: after timeout_s the build goes on by itself, unreviewed, and says so."""
    log = tmp / "build-timeout.log"
    build = _build(config, api, tmp, log)
    try:
        run = _paused_run(api, build, log)
        assert run["id"] != reviewed["run"]["id"]
        output = _finish(build, log)
    finally:
        if build.poll() is None:
            build.kill()
    assert "no answer within 10 s; the build goes on WITHOUT review" in output
    assert "review: timed out after 10 s" in output
    assert len(list((tmp / "annotations").glob("review-echo-*.jsonl"))) == 1  # no new annotations
    final = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=30).json()
    assert final["state_type"] == "COMPLETED"
    artifacts = prefect_artifacts(api, {"flow_run_id": {"any_": [run["id"]]}})
    assert "**timed out** after 10 s" in artifacts["echo-summary"]["data"]
    # The earlier correction still applies.
    assert pl.read_parquet(tmp / "outputs/echo/assemble/test.parquet").height == reviewed["release"]
