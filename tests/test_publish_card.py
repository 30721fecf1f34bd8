"""The release folder and its dataset card: Hub layout, `datasets` round trip, card sections."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard

from pipeline.core.config import load_config
from pipeline.evaluate.run import baseline_reports
from pipeline.release.folder import load_previous, write_release
from pipeline.core.records import RB2_SCHEMA, empty_metadata

ROOT = Path(__file__).resolve().parent.parent


def item(i: int, subset: str, models: list[str]) -> dict:
    return {
        "id": f"{subset[:4].lower()}-{i}", "prompt": f"{subset} question number {i}?",
        "chosen": [f"right answer {i}"], "rejected": [f"wrong answer {i}.{k}" for k in range(3)],
        "num_correct": 1, "num_incorrect": 3, "total_completions": 4, "models": models, "subset": subset,
        "additional_metadata": {**empty_metadata(), "method": "natural", "models": sorted(set(models))},
    }  # fmt: skip


def release_rows(math: int = 3, precise: int = 2) -> list[dict]:
    rows = [item(i, "Math", ["m1", "m2", "m1", "m2"]) for i in range(math)]
    rows += [item(i, "Precise IF", ["m1"] * 4) for i in range(precise)]
    return sorted(rows, key=lambda r: (r["subset"], r["id"]))


def decision(stage: str, item_id: str, verdict: str, reason: str, **evidence: object) -> dict:
    return {"stage": stage, "item_id": item_id, "decision": verdict, "reason": reason,
            "evidence": json.dumps(evidence), "run_id": "r"}  # fmt: skip


DECISIONS = (
    [decision("ingest", f"p{i}", "kept", "passed") for i in range(7)]
    + [decision("ingest", "bad", "dropped", "quarantined", line=3)]
    + [decision("decontaminate", f"p{i}", "kept", "passed") for i in range(5)]
    + [decision("decontaminate", f"p{i}", "dropped", "contaminated:gsm8k") for i in (5, 6)]
    + [decision("assemble", f"p{i}", "kept", "assembled") for i in range(5)]
)


def report(rows: list[dict]) -> dict:
    checks = [{"name": "schema and counts", "status": "pass", "message": f"{len(rows)} rows", "details": {}}]
    return {"items": len(rows), "validation": {"passed": True, "checks": checks}, "reports": baseline_reports(rows)}


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "tests/data/tiny.yaml")


def build_release(folder: Path, cfg, rows: list[dict], previous: list[dict] | None = None) -> dict:
    return write_release(folder, cfg, rows, DECISIONS, report(rows), previous)


def test_release_folder_round_trips_through_datasets(tmp_path: Path, cfg) -> None:
    rows = release_rows()
    folder = tmp_path / "hub"
    build_release(folder, cfg, rows)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "README.md", "data/math/test-00000-of-00001.parquet", "data/precise_if/test-00000-of-00001.parquet"]
    for path in folder.glob("data/*/*.parquet"):
        assert pq.read_schema(path).equals(RB2_SCHEMA)

    cache = str(tmp_path / "datasets-cache")
    everything = datasets.load_dataset(str(folder), split="test", cache_dir=cache)
    assert everything.features == datasets.Features.from_arrow_schema(RB2_SCHEMA)
    assert everything.to_list() == rows
    assert datasets.get_dataset_config_names(str(folder)) == ["default", "math", "precise_if"]
    precise = datasets.load_dataset(str(folder), "precise_if", split="test", cache_dir=cache)
    assert precise.to_list() == [r for r in rows if r["subset"] == "Precise IF"]


def test_card_metadata_and_sections(tmp_path: Path, cfg) -> None:
    rows = release_rows()
    folder = tmp_path / "hub"
    build_release(folder, cfg, rows)
    card = DatasetCard((folder / "README.md").read_text())
    meta = card.data.to_dict()
    assert meta["license"] == cfg.publish.license and meta["language"] == ["en"]
    assert meta["task_categories"] == ["text-classification"] and meta["size_categories"] == ["n<1K"]
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"default", "math", "precise_if"} and configs["default"]["default"] is True
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert infos["math"]["splits"] == [{"name": "test", "num_bytes": infos["math"]["dataset_size"], "num_examples": 3}]
    assert infos["default"]["splits"][0]["num_examples"] == 5
    assert [f["name"] for f in infos["default"]["features"]] == RB2_SCHEMA.names

    text = card.text
    for heading in ("## Subsets", "## Construction funnel", "## Models", "## Decontamination", "## Validation",
                    "## Evaluate a reward model", "## Version `tiny`", "## License"):  # fmt: skip
        assert heading in text, heading
    assert "| Math | `math` | 3 | 1 chosen + 3 rejected |" in text
    assert "| ingest | 8 | 7 | 1 | 0 |" in text  # in, kept, dropped, failed
    assert "| decontaminate | dropped | contaminated:gsm8k | 2 |" in text
    assert "| gsm8k | 2 |" in text  # the eval set and how many prompts it removed
    assert "| Math | m1 | 6 | 3 |" in text and "| Math | m2 | 6 | 0 |" in text  # completions, chosen
    assert "| always shortest |" in text and "schema and counts" in text
    assert "first version" in text
    assert "{{" not in text and "{%" not in text


def test_card_is_the_same_on_a_rebuild(tmp_path: Path, cfg) -> None:
    rows = release_rows()
    build_release(tmp_path / "a", cfg, rows)
    build_release(tmp_path / "b", cfg, rows)
    for name in ("README.md", "data/math/test-00000-of-00001.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_what_changed_since_the_previous_version(tmp_path: Path, cfg) -> None:
    old_rows = release_rows(math=3, precise=2)
    build_release(tmp_path / "outputs" / "v1" / "hub", cfg, old_rows)
    new_rows = release_rows(math=4, precise=0)  # one Math item added, Precise IF gone
    previous = load_previous("v1", tmp_path, "outputs")
    assert load_previous("outputs/v1/hub", tmp_path, "outputs") == old_rows  # a folder, relative to the base
    assert previous == old_rows
    refreshed = cfg.model_copy(update={"publish": cfg.publish.model_copy(update={"previous_version": "v1"})})
    folder = tmp_path / "outputs" / "v2" / "hub"
    build_release(folder, refreshed, new_rows, previous)
    text = (folder / "README.md").read_text()
    assert "Changes since `v1` (5 items): 1 items added, 2 removed" in text
    assert "| Math | 3 | 4 | 1 | 0 | 3 |" in text and "| Precise IF | 2 | 0 | 0 | 2 | 0 |" in text
    # The stale subset's file is gone: the folder holds exactly this version.
    assert not (folder / "data" / "precise_if").exists()


def test_a_rebuild_replaces_the_folder_whole(tmp_path: Path, cfg) -> None:
    folder = tmp_path / "hub"
    build_release(folder, cfg, release_rows(math=2, precise=2))
    (folder / "data" / "stray.txt").write_text("left by hand")
    build_release(folder, cfg, release_rows(math=2, precise=0))
    assert sorted(p.name for p in (folder / "data").iterdir()) == ["math"]
    assert [p.name for p in tmp_path.iterdir()] == ["hub"]  # no staging or old copy left behind
    assert yaml.safe_load((folder / "README.md").read_text().split("---")[1])["configs"][1]["config_name"] == "math"
