"""Config errors surface before any work, naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from pipeline.core.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_demo_config_loads_and_version_overrides() -> None:
    cfg = load_config(ROOT / "configs/demo.yaml", version="2026-12")
    assert cfg.version == "2026-12"
    assert {m.name for m in cfg.models} == {"smollm2-135m-instruct", "gemma3-270m"}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["subsets"]["math"].update(models=["nope"]), "unknown model names.*math: nope"),
        (lambda c: c.pop("sources"), "sources: Field required"),
        (lambda c: c["models"][0].update(backend="carrier-pigeon"), "models.0.backend"),
        (lambda c: c["models"][0].pop("model_file"), "needs model_file"),
        (lambda c: c.update(version="../escape"), "version must be a plain folder name"),
        (lambda c: c.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (lambda c: c["sources"].append(dict(c["sources"][0])), "source names must be unique"),
        (lambda c: c["sources"][0].update(hub_id="org/set"), "exactly one of `path`"),
        (lambda c: c["decontamination"]["eval_sets"].append("nosuchset"), "unknown eval set 'nosuchset'"),
        (lambda c: c["decontamination"].update(cosine_threshold=1.5), "cosine_threshold"),
        (lambda c: c["subsets"]["factuality"]["judges"].update(models=["ghost"]), "factuality judges: ghost"),
        (lambda c: c["subsets"]["factuality"]["judges"].update(policy="loudest"), "judges.policy"),
        (lambda c: c["subsets"]["focus"].update(rewriter="ghost"), "focus rewriter: ghost"),
        (lambda c: c["routing"].pop("classifier"), "routing mode 'both' needs a `classifier`"),
        (lambda c: c["subsets"]["safety"].update(categories={"x": "maybe"}), "categories.x"),
        (lambda c: c["subsets"]["precise_if"].update(constraints="some"), "constraints"),
        (lambda c: c["subsets"]["ties"].pop("judges"), "ties.judges: Field required"),
    ],
)
def test_bad_configs_name_file_and_field(tmp_path: Path, edit, message: str) -> None:
    cfg = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    edit(cfg)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_cli_build_rejects_bad_config_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: [unclosed")
    result = CliRunner().invoke(app, ["build", "--config", str(path)])
    assert result.exit_code == 2
    assert "broken.yaml: not valid YAML" in result.output
    missing = CliRunner().invoke(app, ["build", "--config", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "config file not found" in missing.output


@pytest.mark.slow
def test_cli_build_names_a_missing_source(prefect_harness: None, tmp_path: Path) -> None:
    cfg = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    cfg["sources"][0]["path"] = str(tmp_path / "gone.jsonl")
    cfg["output_dir"] = str(tmp_path / "out")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["build", "--config", str(path)])
    assert result.exit_code == 1
    assert "gone.jsonl: source file not found" in result.output


def test_cli_build_names_missing_prompt_templates(tmp_path: Path) -> None:
    cfg = yaml.safe_load((ROOT / "configs/demo.yaml").read_text())
    cfg["subsets"]["focus"]["rewrite_template"] = "focus/gone.txt"
    cfg["subsets"]["factuality"]["judges"]["template"] = "judges/nope.txt"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["build", "--config", str(path)])
    assert result.exit_code == 2
    assert "prompt templates not found" in result.output
    assert "focus/gone.txt" in result.output and "judges/nope.txt" in result.output
