"""Batch mode, the plan, the budget and the ledger through the build flow: a toy subset (Echo, from
test_plugin_subset) answered by a `batch: true` model at the loopback batch server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.core.config import load_config
from pipeline.cost.budget import BudgetExceeded
from pipeline.cost.plan import build_plan, plan_markdown
from tests.batch_server import BatchServer
from pipeline.subsets.registry import register
from tests.test_plugin_subset import ROOT, Echo, _config

PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}


@pytest.fixture(scope="module")
def echo_registered() -> None:
    register(Echo)


def batch_config(tmp: Path, url: str, backend: str = "openai", **extra: object) -> Path:
    path = _config(tmp, url + ("/v1" if backend == "openai" else ""))
    raw = yaml.safe_load(path.read_text())
    raw["models"][0].update(backend=backend, batch=True, batch_poll_s=0.01, price=PRICE, api_key_env="RB_TEST_BATCH_KEY")
    raw.update(extra)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_plan_counts_requests_and_prices_them(echo_registered: None, tmp_path: Path) -> None:
    cfg = load_config(batch_config(tmp_path, "http://127.0.0.1:9"))
    plan = build_plan(cfg, ROOT)
    (row,) = plan["rows"]
    # 4 prompts x (3 plain + 1 marked) answers, max_tokens 16 each; nothing cached yet.
    assert (row["stage"], row["requests"], row["exact"], row["output_tokens"], row["cached"]) == ("generate", 16, True, 256, 0)
    sync = (row["input_tokens"] * 2.0 + 256 * 8.0) / 1e6
    assert row["batch"] and row["cost_usd"] == pytest.approx(sync / 2, abs=1e-6)  # the batch discount
    text = plan_markdown(plan)
    assert "| generate | katan-echo | yes | 16 | 0 |" in text and "characters / 4" in text


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_batch_build_ledger_card_and_rerun(prefect_harness: None, echo_registered: None, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, backend: str) -> None:  # fmt: skip
    from flows.build import build

    monkeypatch.setenv("RB_TEST_BATCH_KEY", "sk-cost-test")
    with BatchServer() as server:
        config = batch_config(tmp_path, server.url, backend)
        summary = build(config_path=str(config), base_dir=str(ROOT))
        assert len(server.created) == 1 and sum(server.submitted.values()) == 16  # one batch for the stage
        plan = build_plan(load_config(config), ROOT, cache_path=tmp_path / "lm-cache.sqlite")
        assert plan["rows"][0]["cached"] == 16 and plan["total_usd"] == 0  # a rerun would cost nothing
        rerun = build(config_path=str(config), base_dir=str(ROOT))
        assert len(server.created) == 1 and sum(server.submitted.values()) == 16  # a rerun sends nothing
    assert summary["items"] == 4 and rerun["lm_requests"]["sent"] == 0
    (row,) = summary["ledger"]
    assert (row["stage"], row["sent"], row["batch"]) == ("generate", 16, True)
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    expected = (row["input_tokens"] * 2.0 + row["output_tokens"] * 8.0) / 1e6 / 2
    assert row["cost_usd"] == pytest.approx(expected, abs=1e-6) and summary["spent_usd"] == row["cost_usd"]
    assert rerun["spent_usd"] == 0  # nothing ran again, nothing was paid
    card = (Path(summary["hub_folder"]) / "README.md").read_text()
    assert f"| katan-echo | yes | 16 | {row['input_tokens']} | {row['output_tokens']} | {row['cost_usd']:.4f} |" in card
    saved = [json.loads(line) for line in (Path(summary["run_dir"]) / "batches/batches.jsonl").read_text().splitlines()]
    assert saved[0]["event"] == "created" and saved[-1]["event"] == "collected"


@pytest.mark.slow
def test_budget_stops_before_a_stage_that_could_exceed_it(prefect_harness: None, echo_registered: None,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from flows.build import build

    monkeypatch.setenv("RB_TEST_BATCH_KEY", "sk-cost-test")
    with BatchServer() as server:
        config = batch_config(tmp_path, server.url, budget_usd=0.0001)
        with pytest.raises(BudgetExceeded, match="stage generate could cost up to"):
            build(config_path=str(config), base_dir=str(ROOT))
        assert server.created == []  # stopped before anything was sent


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
def test_batches_list_and_cancel_then_a_build_reads_what_was_answered(
    echo_registered: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    from typer.testing import CliRunner

    from flows.cli import app
    from pipeline.lm import ChatRequest, ModelPool
    from pipeline.lm.batch import BatchStore, batch_provider

    monkeypatch.setenv("RB_TEST_BATCH_KEY", "sk-cost-test")
    with BatchServer() as server:
        server.polls_to_end = 10**9
        config = batch_config(tmp_path, server.url, backend)
        cfg = load_config(config)
        model = cfg.models[0]
        requests = [ChatRequest.from_messages([{"role": "user", "content": f"c{i}"}], max_tokens=8) for i in range(3)]
        with ModelPool(cfg.models, tmp_path / "cache.sqlite", tmp_path) as pool:
            keys = [pool.get(model.name).key(r) for r in requests]  # type: ignore[attr-defined]
        provider = batch_provider(model)
        store = BatchStore(tmp_path / "outputs" / cfg.version / "batches")
        batch_id = provider.submit(list(zip(keys, requests)), "test")
        store.created(batch_id, provider.kind, model.name, keys, "test")
        runner = CliRunner()
        listed = runner.invoke(app, ["batches", "list", "--config", str(config)])
        assert listed.exit_code == 0 and batch_id in listed.output and "3 requests  open" in listed.output
        cancelled = runner.invoke(app, ["batches", "cancel", "--config", str(config)])
        assert cancelled.exit_code == 0 and f"{batch_id}: {'cancelling' if backend == 'openai' else 'canceling'}" in cancelled.output
        server.polls_to_end = 1
        with ModelPool(cfg.models, tmp_path / "cache.sqlite", tmp_path, store.path.parent) as pool:
            results = pool.get(model.name).generate(requests)
        # The cancelled batch was read (its lines came back cancelled) and only those went out again.
        assert [r.text for r in results] == [f"echo: c{i}" for i in range(3)]
        assert len(server.created) == 2 and set(server.submitted.values()) == {2}
        assert [b.state for b in store.all()] == ["collected", "collected"]
        provider.close()


def test_readme_shows_the_sample_plan(echo_registered: None) -> None:
    from pipeline.cost.plan import build_plan, plan_markdown

    plan = plan_markdown(build_plan(load_config(ROOT / "configs/api-sample.yaml"), ROOT))
    assert plan in (ROOT / "README.md").read_text()


def test_token_counts_use_an_offline_tokenizer_where_there_is_one() -> None:
    from pipeline.core.config import ModelConfig
    from pipeline.cost.tokens import ESTIMATE, counter

    count, how = counter(ModelConfig(name="gpt-4o-mini", backend="openai"))
    assert how == "tiktoken o200k_base" and count("hello world") == 2 + 3  # 2 tokens + chat framing
    for other in (ModelConfig(name="claude", backend="anthropic"), ModelConfig(name="x", backend="openai", model="my-llm")):
        count, how = counter(other)
        assert how == ESTIMATE and count("x" * 40) == 10
