"""Provider failure storms: the whole build against llm-katan injecting 500s, 429s and 504s, and
against an endpoint nobody listens on.

Each storm checks three ledgers against one another: the build's own accounting (summary and
per-stage `lm_*` counts), the decision log (failed items with their error and attempt count) and
llm-katan's count of the HTTP requests it received (its stats file). Retries are bounded by
`max_retries`, what still fails is a failed item naming the HTTP status and its attempts, and a
rerun against a healthy server sends exactly the failed requests again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.core.io import read_decision_log
from pipeline.lm import BackendUnavailable
from pipeline.lm.local import free_port
from tests.servers import katan_server

ROOT = Path(__file__).resolve().parent.parent
MAX_RETRIES = 3
ATTEMPTS = MAX_RETRIES + 1
GENERATORS = ["katan-a", "katan-b"]
JUDGES = ["katan-a", "katan-b"]
RETRY_WARNING = re.compile(r"^model '(katan-[ab])': attempt (\d+)/(\d+) failed \((HTTP \d+ \w+)\); retrying in [\d.]+s$")
LM_FAILURE_REASONS = {"request-failed", "judge-request-failed", "classifier-request-failed"}

# The planned traffic of storm_config (generate runs one model's batch after the other, in the
# order the prompts first name them; judges are asked after every answer is in):
#   katan-a: 6 math prompts x 3 samples + 1 precise_if x 5 + 1 factuality x (3 natural + 3 induced) = 29
#   katan-b: 6 math prompts x 3 samples                                                             = 18
#   label:   6 factuality completions x 2 judges                                                    = 12
KATAN_A_ANSWERS = 29
ANSWERS = 47
FACTUALITY_ANSWERS = 6


def storm_config(tmp: Path, base_url: str, name: str = "storm") -> Path:
    """A katan-only build: tagged prompts of tests/data/tiny_pool.jsonl, math / precise_if /
    factuality (judged by a panel of both katan models), fast bounded retries, and a release that
    may be empty (echo answers rarely make a best-of-4 item)."""

    def model(model_name: str) -> dict[str, Any]:
        return {"name": model_name, "backend": "openai", "model": model_name, "base_url": base_url,
                "structured_outputs": "off", "max_concurrency": 4, "max_retries": MAX_RETRIES,
                "retry_wait_s": 0.05, "retry_max_wait_s": 0.2, "timeout_s": 30}  # fmt: skip

    cfg = {
        "version": name,
        "seed": 11,
        "output_dir": str(tmp / "outputs"),
        "lm_cache": str(tmp / "lm-cache.sqlite"),
        "annotations_dir": str(tmp / "annotations"),
        "embeddings": {"cache_dir": str(tmp / "embed-cache")},
        "models": [model(m) for m in GENERATORS],
        "sources": [
            {"name": "tiny_pool", "path": "tests/data/tiny_pool.jsonl", "metadata_fields": ["subset", "answer", "category"]}
        ],
        "decontamination": {
            "eval_sets": [
                {"name": "gsm8k", "path": "data/demo/evalsets/gsm8k/test_slice.jsonl", "text_field": "question", "id_field": "id"}
            ]
        },
        "routing": {"mode": "tags", "field": "subset"},
        "subsets": {
            "math": {"models": GENERATORS, "samples_per_model": 3, "temperature": 1.0, "max_tokens": 32},
            "precise_if": {"models": ["katan-a"], "samples_per_model": 5, "temperature": 1.0, "max_tokens": 32,
                           "constraints": [{"type": "no_comma"}]},
            "factuality": {"models": ["katan-a"], "samples_per_model": 3, "induced_samples_per_model": 3,
                           "max_tokens": 32,
                           "judges": {"models": JUDGES, "policy": "majority", "max_tokens": 16, "explain": False}},
        },
        "evaluate": {"scorers": []},
        "validation": {"min_items": 0},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_build(config: Path) -> dict[str, Any]:
    from flows.build import build

    return build(config_path=str(config), base_dir=str(ROOT))


def decisions(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**d, "evidence": json.loads(d["evidence"])} for d in read_decision_log(Path(summary["run_dir"]))]


def lm_failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in rows if d["decision"] == "failed" and d["reason"] in LM_FAILURE_REASONS]


def failed_votes(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in row["evidence"]["votes"] if v["request_failed"]]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def retry_log() -> Iterator[Records]:
    """Records of the `pipeline.lm.retry` logger, taken on the logger itself (within a Prefect flow
    run, pytest's caplog fixture received none of them)."""
    logger = logging.getLogger("pipeline.lm.retry")
    handler = Records()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def retry_warnings(log: Records) -> list[tuple[str, int, int, str]]:
    """(model, attempt n, of N, status) of every retry warning; a record of another shape fails."""
    out = []
    for record in log.records:
        assert record.levelno == logging.WARNING, record.getMessage()
        match = RETRY_WARNING.match(record.getMessage())
        assert match, record.getMessage()
        out.append((match[1], int(match[2]), int(match[3]), match[4]))
    return out


def assert_balanced(summary: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Every stage: items in = kept + dropped + failed; the summary's LM totals are the stages' sums;
    each sent request either succeeded or failed; every failed request is a failed item."""
    stages = summary["stages"]
    for name, counts in stages.items():
        if "in" not in counts:  # evaluate and publish keep no decision log
            continue
        assert counts["in"] == sum(counts.get(k, 0) for k in ("kept", "dropped", "failed")), (name, counts)
        if "lm_sent" in counts:
            assert counts["lm_sent"] == counts["lm_succeeded"] + counts["lm_failed"], (name, counts)
    ran = [name for name in stages if name not in summary["cached_stages"]]
    for key in ("sent", "retries", "failed", "cache_hits"):
        assert summary["lm_requests"][key] == sum(stages[s].get(f"lm_{key}", 0) for s in ran), key
    generate = [d for d in rows if d["stage"] == "generate" and d["reason"] == "request-failed"]
    assert len(generate) == stages["generate"]["lm_failed"]
    judged = [d for d in rows if d["stage"] == "label" and d["reason"] == "judge-request-failed"]
    assert sum(len(failed_votes(d)) for d in judged) == stages["label"]["lm_failed"]


def factuality_answers(summary: dict[str, Any]) -> int:
    """Factuality completions this build generated: each one is put to every judge."""
    import pyarrow.parquet as pq

    table = pq.read_table(Path(summary["run_dir"]) / "generate" / "completions.parquet", columns=["subset"])
    return table.column("subset").to_pylist().count("factuality")


def assert_planned_traffic(summary: dict[str, Any]) -> None:
    """On a first build every planned answer is sent once, and every judge is asked about every
    factuality answer that came back (an answer that failed is not judged)."""
    stages = summary["stages"]
    assert stages["generate"]["lm_sent"] == ANSWERS
    assert stages["label"]["lm_sent"] == len(JUDGES) * factuality_answers(summary)
    assert summary["lm_requests"]["sent"] == ANSWERS + len(JUDGES) * factuality_answers(summary)


def assert_failed_items(rows: list[dict[str, Any]], error: str) -> tuple[int, int]:
    """Every failed LM item names `error` and the whole attempt budget; (generate, label) counts."""
    generate = [d for d in lm_failures(rows) if d["stage"] == "generate"]
    label = [d for d in lm_failures(rows) if d["stage"] == "label"]
    assert {d["reason"] for d in generate} <= {"request-failed"}
    assert {d["reason"] for d in label} <= {"judge-request-failed"}
    assert not [d for d in lm_failures(rows) if d["stage"] not in ("generate", "label")]
    for row in generate:
        assert row["evidence"]["model"] in GENERATORS
        assert row["evidence"]["attempts"] == ATTEMPTS, row
        assert row["evidence"]["error"] == f"{error} after {ATTEMPTS} attempt(s)", row
    for row in label:
        assert row["evidence"]["status"] == "request-failed", row
        votes = failed_votes(row)
        assert votes, row
        for vote in votes:
            assert vote["judge"] in JUDGES and vote["verdict"] is None
            assert vote["problem"] == f"request failed: {error} after {ATTEMPTS} attempt(s)", vote
    return len(generate), len(label)


@pytest.mark.slow
def test_error_rate_storm_is_retried_within_bounds(
    prefect_harness: None, tmp_path: Path, retry_log: Records
) -> None:
    with katan_server("--error-rate", "0.3", "--latency-ms", "20", tmp_path=tmp_path) as server:
        summary = run_build(storm_config(tmp_path, f"{server.url}/v1"))
        received = server.requests_received()
    lm = summary["lm_requests"]
    rows = decisions(summary)
    assert summary["cached_stages"] == []
    assert_planned_traffic(summary)
    assert_balanced(summary, rows)
    assert lm["retries"] > 0  # at 30% errors, no retry at all in ~59 requests has odds of about 1e-9

    # llm-katan saw exactly our first attempts plus our retries: no hidden SDK retry, no lost count.
    assert received == lm["sent"] + lm["retries"]

    # One warning per retry, naming its model, attempt n of N = max_retries + 1 and the HTTP 500.
    # A warning precedes every further attempt, so n <= max_retries everywhere means that no
    # request was tried more than max_retries + 1 times.
    warnings = retry_warnings(retry_log)
    assert len(warnings) == lm["retries"]
    assert {w[2] for w in warnings} == {ATTEMPTS}
    assert all(1 <= w[1] <= MAX_RETRIES for w in warnings)
    assert {w[3] for w in warnings} == {"HTTP 500 InternalServerError"}
    assert {w[0] for w in warnings} <= set(GENERATORS)

    # What still failed (0.3^4 per request: rare) spent exactly the whole budget and says so.
    assert_failed_items(rows, "HTTP 500 InternalServerError")
    assert lm["retries"] >= MAX_RETRIES * lm["failed"]


@pytest.mark.slow
def test_rate_limit_storm_then_rerun_sends_only_the_failed_requests(
    prefect_harness: None, tmp_path: Path, retry_log: Records
) -> None:
    # The first 30 requests are answered, every later one gets 429. Judges are asked only after
    # all answers are in, so exactly 30 answers succeed (katan-a's whole batch, factuality
    # included, comes first) and every judge request fails.
    limit = 30
    assert KATAN_A_ANSWERS < limit < ANSWERS
    with katan_server("--rate-limit-after", str(limit), tmp_path=tmp_path) as server:
        config = storm_config(tmp_path, f"{server.url}/v1", name="ratelimit")
        first = run_build(config)
        received = server.requests_received()
        port = server.port
    lm = first["lm_requests"]
    rows = decisions(first)
    assert_planned_traffic(first)
    assert_balanced(first, rows)
    assert lm["sent"] - lm["failed"] == limit  # exactly the requests before the limit succeeded
    assert first["stages"]["generate"]["lm_failed"] == ANSWERS - limit
    assert first["stages"]["label"]["lm_failed"] == first["stages"]["label"]["lm_sent"] > 0
    assert lm["retries"] == MAX_RETRIES * lm["failed"]  # every failed request spent its budget, no more
    assert received == limit + ATTEMPTS * lm["failed"]
    generate_failed, label_failed = assert_failed_items(rows, "HTTP 429 RateLimitError")
    assert factuality_answers(first) == FACTUALITY_ANSWERS
    assert generate_failed == ANSWERS - limit and label_failed == FACTUALITY_ANSWERS
    warnings = retry_warnings(retry_log)
    assert len(warnings) == lm["retries"]
    assert Counter(w[1] for w in warnings) == {n: lm["failed"] for n in range(1, ATTEMPTS)}
    assert {w[3] for w in warnings} == {"HTTP 429 RateLimitError"}

    # The provider recovers on the same address: the config (and so every stage's cache key) is
    # unchanged. The rerun sends exactly the requests that failed, plus the judge requests for
    # factuality answers that did not exist before; everything else is answered from the cache.
    retry_log.records.clear()
    with katan_server(tmp_path=tmp_path, port=port) as healthy:
        second = run_build(config)
        received_again = healthy.requests_received()
    newly_judged = len(JUDGES) * (factuality_answers(second) - factuality_answers(first))
    assert second["lm_requests"]["sent"] == lm["failed"] + newly_judged
    assert received_again == second["lm_requests"]["sent"]
    assert second["lm_requests"]["failed"] == 0 and second["lm_requests"]["retries"] == 0
    assert retry_warnings(retry_log) == []
    assert second["stages"]["generate"]["lm_cache_hits"] == limit
    assert second["stages"]["generate"]["lm_sent"] == ANSWERS - limit
    assert factuality_answers(second) == FACTUALITY_ANSWERS
    # Stages upstream of the failures came from the Prefect cache; the two with failed requests,
    # and assemble whose inputs they are, ran again. (Evaluate and publish are reused too when
    # the assembled release came out byte-identical, as an all-echo release with no items does.)
    cached = second["cached_stages"]
    assert cached[:3] == ["ingest", "decontaminate", "route"]
    assert not {"generate", "label", "assemble"} & set(cached)
    assert all(first["stages"][s].get("lm_failed", 0) == 0 for s in cached)
    final = decisions(second)
    assert_balanced(second, final)
    assert [d for d in final if d["decision"] == "failed"] == []
    assert second["stages"]["generate"]["kept"] == ANSWERS
    assert second["stages"]["label"]["in"] == second["stages"]["label"]["kept"] + second["stages"]["label"].get("dropped", 0)


@pytest.mark.slow
def test_timeout_storm_fails_items_not_the_build(prefect_harness: None, tmp_path: Path) -> None:
    limit = 20  # after 20 requests llm-katan answers every request with 504 (upstream timeout)
    with katan_server("--timeout-after", str(limit), tmp_path=tmp_path) as server:
        summary = run_build(storm_config(tmp_path, f"{server.url}/v1", name="timeouts"))
        received = server.requests_received()
    lm = summary["lm_requests"]
    rows = decisions(summary)
    assert_planned_traffic(summary)
    assert_balanced(summary, rows)
    assert lm["sent"] - lm["failed"] == limit
    assert received == limit + ATTEMPTS * lm["failed"]
    generate_failed, label_failed = assert_failed_items(rows, "HTTP 504 InternalServerError")
    assert generate_failed == ANSWERS - limit
    assert lm["failed"] == generate_failed + summary["stages"]["label"]["lm_failed"]
    assert label_failed <= summary["stages"]["label"]["lm_failed"]
    assert Path(summary["release"]).is_file() and (Path(summary["hub_folder"]) / "README.md").is_file()


@pytest.mark.slow
def test_backend_down_stops_at_once_naming_model_and_endpoint(
    prefect_harness: None, tmp_path: Path, retry_log: Records
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens here
    config = storm_config(tmp_path, endpoint, name="down")
    with pytest.raises(BackendUnavailable) as raised:
        run_build(config)
    message = str(raised.value)
    assert f"model 'katan-a': cannot reach {endpoint} " in message
    assert "APIConnectionError after 1 attempt(s)" in message and "is the server running?" in message
    assert retry_warnings(retry_log) == []  # no backoff against an endpoint that never answered
    assert not (tmp_path / "outputs" / "down" / "generate" / "decisions.parquet").exists()

    # The same through the command line: exit status 1 and the reason on stderr.
    from prefect.settings import PREFECT_API_URL

    rb = shutil.which("rb", path=str(Path(sys.executable).parent))
    assert rb, "the rb entry point is not installed in this environment"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = subprocess.run([rb, "build", "--config", str(config)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    # The last word is ours, one line (above it, Prefect's own log of the failed task run).
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"error: {message}", done.stderr[-3000:]
    assert "model 'katan-a'" in last and endpoint in last and "after 1 attempt(s)" in last
