"""A seventh subset written entirely here (config, plan, labeler, assembly rule, card text),
registered from the test suite and built end to end through the build flow against llm-katan:
adding a subset changes nothing under pipeline/.

The toy subset, "Echo": each prompt is answered plainly and once more with a marker word appended;
a completion is correct when it carries the marker. llm-katan's echo backend repeats the user's
message, so the marked answers are the correct ones and the plain ones the incorrect ones.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Mapping, Sequence

import polars as pl
import pytest
import yaml

from pipeline.core.subset_config import GenerationConfig
from pipeline.core.records import Completion, Prompt
from pipeline.label.base import LabelResult, Progress, passed
from pipeline.subsets.base import LabelEnv, Planned, Sampler, Subset, models_text
from pipeline.subsets.registry import register, registered
from tests.servers import katan_server

ROOT = Path(__file__).resolve().parent.parent


class EchoConfig(GenerationConfig):
    marker: str = "pineapple"
    marked_samples_per_model: int = 1


class MarkerLabeler:
    """Correct when the completion contains the subset's marker word."""

    name = "marker-check"
    version = "1"

    def __init__(self, marker: str):
        self.marker = marker

    def label(
        self, completions: Sequence[Completion], prompts: Mapping[str, Prompt], progress: Progress | None = None
    ) -> list[LabelResult]:
        out = []
        for c in completions:
            found = self.marker in c.text
            out.append(passed(found, f"marker {'found' if found else 'missing'}", {"marker": self.marker}))
        return out


class Echo(Subset[EchoConfig]):
    key = "echo"
    release_name = "Echo"
    config_class = EchoConfig
    route_hint = "any prompt that can be repeated back"

    def plan(self, prompt: Prompt, sampler: Sampler, rewritten: str | None) -> list[Planned]:
        plain = super().plan(prompt, sampler, rewritten)
        marked = f"{prompt.text} {self.cfg.marker}"
        return plain + sampler.samples(prompt, self.cfg, "marked", marked, self.cfg.marked_samples_per_model)

    def labeler(self, env: LabelEnv) -> MarkerLabeler:
        return MarkerLabeler(self.cfg.marker)

    def pick(
        self, correct: list[Completion], incorrect: list[Completion], k: int, rng: random.Random
    ) -> tuple[list[Completion], list[Completion]] | str:
        """Chosen: the first marked answer; rejected: the first k plain ones (by id)."""
        marked = sorted((c for c in correct if c.method == "marked"), key=lambda c: c.completion_id)
        plain = sorted((c for c in incorrect if c.method == "natural"), key=lambda c: c.completion_id)
        if not marked or len(plain) < k:
            return "echo-needs-a-marked-and-k-plain-answers"
        return marked[:1], plain[:k]

    def card_text(self) -> str:
        return f"plain and marked echoes from {models_text(self.cfg.models)}; correct when marked"


@pytest.fixture(scope="module")
def echo_registered() -> None:
    register(Echo)
    register(Echo)  # registering the same class again changes nothing


def _config(tmp: Path, base_url: str) -> Path:
    pool = tmp / "echo_pool.jsonl"
    prompts = ["Repeat after me: the sky is blue.", "Say the word hello.", "Name a fruit.", "Count to three."]
    pool.write_text("".join(json.dumps({"id": f"e{i}", "prompt": p, "subset": "echo"}) + "\n" for i, p in enumerate(prompts)))
    cfg = {
        "version": "echo",
        "seed": 3,
        "output_dir": str(tmp / "outputs"),
        "lm_cache": str(tmp / "lm-cache.sqlite"),
        "annotations_dir": str(tmp / "annotations"),
        "embeddings": {"cache_dir": str(tmp / "embed-cache")},
        "models": [{"name": "katan-echo", "backend": "openai", "base_url": base_url, "structured_outputs": "off"}],
        "sources": [{"name": "echo_pool", "path": str(pool), "metadata_fields": ["subset"]}],
        "ingest": {"near_duplicate_threshold": None},
        "routing": {"mode": "tags"},
        "subsets": {"echo": {"models": ["katan-echo"], "samples_per_model": 3, "max_tokens": 16, "marker": "pineapple"}},
        "num_rejected": 2,
        "validation": {"min_items": 1, "max_length_advantage": None, "max_position_advantage": None},
    }
    path = tmp / "echo.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_unknown_subset_names_the_known_ones(tmp_path: Path) -> None:
    from pipeline.core.config import ConfigError, load_config

    path = _config(tmp_path, "http://127.0.0.1:9/v1")
    raw = yaml.safe_load(path.read_text())
    raw["subsets"] = {"no_such_subset": {"models": ["katan-echo"]}}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="unknown subsets \\['no_such_subset'\\]; known: factuality, precise_if"):
        load_config(path)


@pytest.mark.slow
def test_a_subset_defined_in_the_tests_builds_end_to_end(
    prefect_harness: None, echo_registered: None, tmp_path: Path
) -> None:
    from flows.build import build

    assert list(registered())[-1] == "echo"
    with katan_server(model="katan-echo", tmp_path=tmp_path) as server:
        config = _config(tmp_path, f"{server.url}/v1")
        summary = build(config_path=str(config), base_dir=str(ROOT))
        sent = server.requests_received()
        rerun = build(config_path=str(config), base_dir=str(ROOT))
        assert server.requests_received() == sent  # a rerun is answered from the caches
        first_release = pl.read_parquet(summary["release"])
        refreshed = build(config_path=str(_refresh(config, first_release["prompt"].to_list())), base_dir=str(ROOT))
    _check_previous_release_dropped(refreshed, first_release)
    assert rerun["lm_requests"]["sent"] == 0
    # 4 prompts x (3 plain + 1 marked) requests, every one answered.
    assert sent == 16 and summary["stages"]["generate"]["kept"] == 16
    release = pl.read_parquet(summary["release"])
    assert release.height == 4 and set(release["subset"]) == {"Echo"}
    for row in release.iter_rows(named=True):
        assert all("pineapple" in text for text in row["chosen"])
        assert len(row["rejected"]) == 2 and not any("pineapple" in text for text in row["rejected"])
        assert row["additional_metadata"]["category"] == "echo"
    labels = pl.read_parquet(Path(summary["run_dir"]) / "label/labels.parquet")
    assert set(labels["labeler"]) == {"marker-check"}
    card = (Path(summary["hub_folder"]) / "README.md").read_text()
    assert "plain and marked echoes from `katan-echo`; correct when marked" in card
    assert (Path(summary["hub_folder"]) / "data/echo/test-00000-of-00001.parquet").is_file()


def _refresh(config: Path, released: list[str]) -> Path:
    """Version echo-v2: the first version's four released prompts (one re-spaced, one upper-cased)
    and two new ones, checked against the first version's release."""
    raw = yaml.safe_load(config.read_text())
    pool = Path(raw["sources"][0]["path"])
    again = pool.with_name("echo_pool_v2.jsonl")
    old = [{"id": f"o{i}", "prompt": text, "subset": "echo"} for i, text in enumerate(sorted(released))]
    old[0]["prompt"] = old[0]["prompt"].replace(" ", "   ")
    old[1]["prompt"] = old[1]["prompt"].upper()
    new = [{"id": "n1", "prompt": "Spell the word cat.", "subset": "echo"},
           {"id": "n2", "prompt": "Describe a red barn in winter.", "subset": "echo"}]  # fmt: skip
    again.write_text("".join(json.dumps(r) + "\n" for r in old + new))
    raw.update(version="echo-v2", sources=[{"name": "echo_pool", "path": str(again), "metadata_fields": ["subset"]}],
               decontamination={"previous_releases": ["echo"]})  # fmt: skip
    path = config.with_name("echo-v2.yaml")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _check_previous_release_dropped(refreshed: dict, first_release: pl.DataFrame) -> None:
    """Each of the first version's prompts is dropped as a repeat of that release, naming its item."""
    run_dir = Path(refreshed["run_dir"])
    decisions = pl.read_parquet(run_dir / "decontaminate/decisions.parquet")
    drops = decisions.filter(pl.col("decision") == "dropped")
    assert set(drops["reason"]) == {"contaminated:release:echo"} and drops.height == 4
    ids = set(first_release["id"])
    for evidence in drops["evidence"]:
        ev = json.loads(evidence)
        assert ev["eval_set"] == "release:echo" and ev["eval_item_id"] in ids and ev["eval_text"]
    assert pl.read_parquet(refreshed["release"]).height == 2
    card = (Path(refreshed["hub_folder"]) / "README.md").read_text()
    assert "| release:echo | 4 |" in card


def test_previous_releases_are_checked_like_eval_sets(echo_registered: None, tmp_path: Path) -> None:
    """A release given as a parquet file: its prompts become an eval set; names are reserved."""
    from pipeline.core.config import DecontaminationConfig, load_config
    from pipeline.core.records import RB2_SCHEMA
    from pipeline.core.io import write_parquet
    from pipeline.stages.previous_releases import with_previous_releases

    row = {name: None for name in RB2_SCHEMA.names}
    rows = [{**row, "id": f"r{i}", "prompt": text, "chosen": ["a"], "rejected": ["b"], "subset": "Echo", "num_correct": 1,
             "num_incorrect": 1, "total_completions": 2, "models": ["m", "m"]}
            for i, text in enumerate(["Say the word hello.", "Name a fruit."])]  # fmt: skip
    write_parquet(rows, tmp_path / "old.parquet", RB2_SCHEMA)
    path = _config(tmp_path, "http://127.0.0.1:9/v1")
    raw = yaml.safe_load(path.read_text())
    raw["decontamination"] = {"previous_releases": [str(tmp_path / "old.parquet")]}
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    decon = with_previous_releases(cfg, tmp_path, tmp_path / "previous")
    (extra,) = decon.eval_sets
    assert extra.name == f"release:{tmp_path / 'old.parquet'}"
    lines = [json.loads(line) for line in Path(extra.path).read_text().splitlines()]
    assert lines == [{"id": "r0", "prompt": "Say the word hello."}, {"id": "r1", "prompt": "Name a fruit."}]
    with pytest.raises(ValueError, match="reserved for previous_releases"):
        DecontaminationConfig.model_validate({"eval_sets": [{"name": "release:x", "path": "x.jsonl"}]})
    raw["decontamination"] = {"previous_releases": ["no/such-release@v9"]}
    path.write_text(yaml.safe_dump(raw))
    from pipeline.core.sources import SourceError

    with pytest.raises(SourceError, match="previous_releases: no/such-release@v9"):
        with_previous_releases(load_config(path), tmp_path, tmp_path / "previous")


def test_a_config_imports_its_plugins_before_reading_subsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`plugins:` names modules that register subsets, so `rb build` finds a user's subset."""
    from pipeline.core.config import ConfigError, load_config

    (tmp_path / "echo_plugin_for_config.py").write_text(
        "from pipeline.subsets.registry import register\nfrom tests.test_plugin_subset import Echo\nregister(Echo)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _config(tmp_path, "http://127.0.0.1:9/v1")
    raw = yaml.safe_load(path.read_text())
    raw["plugins"] = ["echo_plugin_for_config"]
    path.write_text(yaml.safe_dump(raw))
    assert list(load_config(path).subsets) == ["echo"]
    raw["plugins"] = ["no_such_plugin_module"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="plugins: .*cannot import 'no_such_plugin_module'"):
        load_config(path)
