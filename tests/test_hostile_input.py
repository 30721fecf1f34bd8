"""Hostile input: files as everyday tools and vendors export them (tests/data/hostile, written by
scripts/make_hostile_corpus.py) never become a merged, lost or corrupt prompt.

Every input row's prompt carries one tag like `[H017]`: a kept prompt with two tags is two rows
merged. Each file's expected decisions (kept, quarantined at which line for which reason,
duplicates, a warning for an empty or useless source) are in tests/data/hostile/expected.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipeline.core.config import IngestConfig
from pipeline.core.io import DecisionLog, read_decision_log
from pipeline.core.locations import SourceConfig
from pipeline.stages.ingest import ingest, source_funnel
from tests.servers import katan_server

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "hostile"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
TAG = re.compile(r"\[H\d{3}\]")


def source_name(file_name: str) -> str:
    return file_name.split(".")[0]


def sources() -> list[SourceConfig]:
    return [SourceConfig(name=source_name(n), path=str(CORPUS / n), metadata_fields=["subset"]) for n in sorted(EXPECTED)]


def quarantined_lines(rows: list[dict[str, Any]], source: str) -> dict[str, str]:
    found = {}
    for d in rows:
        evidence = d["evidence"] if isinstance(d["evidence"], dict) else json.loads(d["evidence"])
        if d["reason"] == "quarantined" and evidence["source"] == source:
            found[str(evidence["line"])] = evidence["problem"]
    return found


def check_against_expected(decisions: list[dict[str, Any]], funnel: dict[str, dict[str, Any]]) -> None:
    """Per file: read = kept + quarantined + duplicates, each count and quarantined line as expected."""
    for name, want in EXPECTED.items():
        got = funnel[source_name(name)]
        assert got["read"] == got["kept"] + got["quarantined"] + got["duplicate"] + got["near_duplicate"], name
        assert {k: got[k] for k in ("read", "kept", "duplicate")} == {k: want[k] for k in ("read", "kept", "duplicate")}, name
        lines = quarantined_lines(decisions, source_name(name))
        assert set(lines) == set(want["quarantined"]), (name, lines)
        for line, problem in want["quarantined"].items():
            assert problem in lines[line], (name, line, lines[line])
        if want["warning"]:
            assert got["warning"] and want["warning"] in got["warning"] and name in got["warning"], (name, got)
        else:
            assert got["warning"] is None, (name, got["warning"])


def test_the_corpus_is_what_its_script_writes(tmp_path: Path) -> None:
    """The committed files are reproducible: the generator, run again, writes the same bytes."""
    script = ROOT / "scripts" / "make_hostile_corpus.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    for name in [*EXPECTED, "expected.json"]:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name


def test_every_row_of_every_hostile_file_gets_its_decision() -> None:
    log = DecisionLog("ingest", "t")
    kept, read = ingest(sources(), IngestConfig(near_duplicate_threshold=None), ROOT, log)
    log.check_balance(read)
    decisions = [{"reason": d.reason, "evidence": d.evidence} for d in log.rows]
    check_against_expected(decisions, {r["source"]: r for r in source_funnel(sources(), log)})
    assert read == sum(e["read"] for e in EXPECTED.values())
    assert len(kept) == sum(e["kept"] for e in EXPECTED.values())
    for prompt in kept:
        assert len(TAG.findall(prompt.text)) == 1, prompt.text[:300]
    # The multi-line cell is one prompt with its two lines; the doubled quotes are one quote each.
    texts = "\n".join(p.text for p in kept)
    assert "numbered" in texts and "\nSecond line of the same cell." in texts and 'He said "hi".' in texts


@pytest.mark.slow
def test_rb_build_on_the_hostile_corpus(prefect_harness: None, tmp_path: Path) -> None:
    """The whole corpus through `rb build` against llm-katan: the same decisions as above in the
    run's decision log, warnings for the empty sources, and no prompt made of two rows anywhere
    downstream (routed, generated for)."""
    with katan_server(tmp_path=tmp_path) as server:
        model = {"name": "katan", "backend": "openai", "model": "katan-echo", "base_url": f"{server.url}/v1",
                 "structured_outputs": "off", "max_concurrency": 8, "timeout_s": 30}  # fmt: skip
        cfg = {
            "version": "hostile",
            "seed": 3,
            "output_dir": str(tmp_path / "outputs"),
            "lm_cache": str(tmp_path / "lm-cache.sqlite"),
            "annotations_dir": str(tmp_path / "annotations"),
            "embeddings": {"cache_dir": str(tmp_path / "embed-cache")},
            "models": [model],
            "sources": [s.model_dump(exclude_defaults=True) for s in sources()],
            "ingest": {"near_duplicate_threshold": None},
            "decontamination": {"eval_sets": [{"name": "gsm8k", "path": "data/demo/evalsets/gsm8k/test_slice.jsonl",
                                               "text_field": "question", "id_field": "id"}]},  # fmt: skip
            "routing": {"mode": "tags", "field": "subset"},
            "subsets": {"precise_if": {"models": ["katan"], "samples_per_model": 1, "max_tokens": 16,
                                       "constraints": [{"type": "no_comma"}]}},  # fmt: skip
            "evaluate": {"scorers": []},
            "validation": {"min_items": 0},
        }
        config = tmp_path / "hostile.yaml"
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        from prefect.settings import PREFECT_API_URL

        rb = shutil.which("rb", path=str(Path(sys.executable).parent))
        assert rb, "the rb entry point is not installed in this environment"
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        done = subprocess.run([rb, "build", "--config", str(config)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    run_dir = tmp_path / "outputs" / "hostile"
    decisions = [d for d in read_decision_log(run_dir) if d["stage"] == "ingest"]
    funnel = {r["source"]: r for r in pl.read_parquet(run_dir / "ingest" / "sources.parquet").to_dicts()}
    check_against_expected(decisions, funnel)
    assert Counter(d["decision"] for d in decisions)["kept"] == sum(e["kept"] for e in EXPECTED.values())
    for name, want in EXPECTED.items():
        if want["warning"]:
            assert want["warning"] in done.stderr + done.stdout, name
    quarantine = pl.read_parquet(run_dir / "ingest" / "quarantine.parquet")
    assert quarantine.height == sum(len(e["quarantined"]) for e in EXPECTED.values())
    for stage, table, column in (("ingest", "prompts.parquet", "text"), ("route", "prompts.parquet", "text"),
                                 ("generate", "completions.parquet", "prompt_text")):  # fmt: skip
        frame = pl.read_parquet(run_dir / stage / table)
        assert frame.height > 0, stage
        for text in frame[column]:
            assert len(TAG.findall(text)) == 1, (stage, text[:300])
