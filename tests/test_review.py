"""Review after labeling (the part without Prefect): which items the form shows, the form's text,
and the annotation rows the answers become, read back by the label stage's loader. The form in the
real UI: tests/test_review_ui.py."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from flows.review import input_model
from pipeline.core.config import BuildConfig
from pipeline.core.records import Completion, Label, Prompt
from pipeline.label.human import apply_annotations, load_annotations
from pipeline.label.human_review import agreement_report
from pipeline.label.review import (
    SKIP,
    _plain,
    annotation_rows,
    review_line,
    review_markdown,
    sample_items,
    write_annotations,
)

WHEN = datetime(2026, 12, 1, 5, 30, tzinfo=timezone.utc)


def prompt(pid: str, subset: str) -> Prompt:
    return Prompt(pid, f"question {pid}?", "pool", pid, 1, subset)


def comp(cid: str, pid: str, subset: str) -> Completion:
    return Completion(cid, pid, subset, "smollm2", "sample", 0, f"question {pid}?", f"answer {cid}", "stop", 5, 7, "{}")


def lab(cid: str, pid: str, value: str) -> Label:
    return Label(cid, pid, value, None, f"auto says {value}", "math-verify", "1", json.dumps({"extracted": cid}))


def tables(n: int = 6) -> tuple[list[Prompt], list[Completion], list[Label]]:
    prompts, completions, labels = [], [], []
    for subset in ("math", "factuality"):
        for i in range(n):
            pid, cid = f"{subset}_p{i}", f"{subset}_c{i}"
            prompts.append(prompt(pid, subset))
            completions.append(comp(cid, pid, subset))
            labels.append(lab(cid, pid, ("correct", "incorrect", "abstain")[i % 3]))
    return prompts, completions, labels


def test_sample_is_per_subset_stable_and_filtered() -> None:
    prompts, completions, labels = tables()
    every = sample_items(prompts, completions, labels, [], 2, seed=7)
    assert [i.subset for i in every] == ["factuality", "factuality", "math", "math"]
    assert [i.field for i in every] == ["item_01", "item_02", "item_03", "item_04"]
    assert every == sample_items(prompts, completions, labels, [], 2, seed=7)
    assert {i.subset for i in sample_items(prompts, completions, labels, [" FACTUALITY "], 1, seed=7)} == {"factuality"}
    only = sample_items(prompts, completions, labels, ["Math"], 3, seed=7)
    assert {i.subset for i in only} == {"math"} and len(only) == 3
    # balanced over automatic labels: one of each of correct, incorrect, abstain
    assert sorted(i.auto_label for i in only) == ["abstain", "correct", "incorrect"]
    assert {i.id: i.default for i in only}[next(i.id for i in only if i.auto_label == "abstain")] == SKIP


def test_markdown_shows_prompt_completion_label_and_evidence() -> None:
    prompts, completions, labels = tables(1)
    items = sample_items(prompts, completions, labels, [], 1, seed=0)
    text = review_markdown(items, "v1", 60)
    for item in items:
        assert _plain(item.prompt) in text and _plain(item.completion) in text and item.id in text
        assert f"automatic label: **{item.auto_label}**" in text and item.evidence.replace("|", "\\|") in text


def test_answers_become_annotation_rows_the_label_stage_applies(tmp_path: Path) -> None:
    prompts, completions, labels = tables(3)
    items = sample_items(prompts, completions, labels, ["math"], 3, seed=1)
    by_label = {i.auto_label: i for i in items}
    answers = {by_label["correct"].field: "incorrect", by_label["abstain"].field: "correct"}  # incorrect: left as is
    outcome = annotation_rows(items, answers, " Ada ", "spot check", WHEN, "run-1")
    assert outcome.summary() == {"confirmed": 1, "corrected": 2, "skipped": 0}
    path = write_annotations(tmp_path, "v1", outcome.rows, WHEN)
    assert path is not None and path.name == "review-v1-20261201T053000Z.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["annotator"] for r in rows} == {"Ada"} and {r["reviewed_at"] for r in rows} == {"2026-12-01T05:30:00+00:00"}
    assert {r["id"]: r["review"] for r in rows}[by_label["correct"].id] == "corrected"
    found = load_annotations(tmp_path)
    assert found.problems == [] and len(found.labels) == 3
    final, overrides = apply_annotations(labels, found)
    assert {label.completion_id: label.label for label in final}[by_label["correct"].id] == "incorrect"
    assert sum(o["changed"] for o in overrides) == 2
    agreement = agreement_report(labels, found, {p.prompt_id: p.subset for p in prompts})
    row = next(r for r in agreement if r["subset"] == "math" and r["labeler"] == "all")
    assert (row["annotated"], row["agree"], row["disagree"], row["abstained"]) == (3, 1, 1, 1)


def test_item_text_cannot_break_the_form_markdown() -> None:
    assert _plain("a *b* [x](y) `c`\n# h <b>|") == "a \\*b\\* \\[x\\](y) \\`c\\` \\# h \\<b\\>\\|"


def test_skips_write_nothing_and_bad_answers_fail(tmp_path: Path) -> None:
    prompts, completions, labels = tables(2)
    items = sample_items(prompts, completions, labels, [], 2, seed=0)
    outcome = annotation_rows(items, {i.field: SKIP for i in items}, "Ada", "", WHEN, "r")
    assert outcome.rows == [] and write_annotations(tmp_path, "v1", outcome.rows, WHEN) is None
    with pytest.raises(ValueError, match="reviewer"):
        annotation_rows(items, {}, "  ", "", WHEN, "r")
    with pytest.raises(ValueError, match="item_01"):
        annotation_rows(items, {"item_01": "maybe"}, "Ada", "", WHEN, "r")
    # a second review in the same second gets its own file
    rows = annotation_rows(items, {}, "Ada", "", WHEN, "r").rows
    first, second = write_annotations(tmp_path, "v1", rows, WHEN), write_annotations(tmp_path, "v1", rows, WHEN)
    assert first != second and second is not None and second.name.endswith("-2.jsonl")


def test_form_schema_has_a_choice_per_item_defaulting_to_the_automatic_label() -> None:
    prompts, completions, labels = tables(2)
    items = sample_items(prompts, completions, labels, [], 2, seed=0)
    model = input_model(items, "text above the form")
    schema = model.model_json_schema()
    assert schema["required"] == ["reviewer"] and schema["properties"]["reviewer"]["description"] == "text above the form"
    for item in items:
        field = schema["properties"][item.field]
        assert field["default"] == item.default and field["title"].startswith(f"#{item.field[5:]} {item.subset}")
    assert model._description == "text above the form"
    answered = model(reviewer="Ada", **{items[0].field: "incorrect"})
    assert answered.model_dump()[items[0].field] == "incorrect"


def test_review_config_is_no_stage_cache_input() -> None:
    base = {"version": "v", "models": [], "sources": [], "subsets": {}}
    plain, reviewed = BuildConfig(**base), BuildConfig(**base, review={"subsets": ["math"], "sample": 2, "timeout_s": 30})
    assert reviewed.review is not None and reviewed.review.sample == 2
    assert plain.model_dump_json(exclude={"review"}) == reviewed.model_dump_json(exclude={"review"})


def test_summary_line_says_when_the_review_timed_out() -> None:
    assert "timed out" in (review_line({"status": "timed-out", "items": 4, "timeout_s": 30}) or "")
    line = review_line({"status": "reviewed", "items": 4, "reviewer": "Ada", "file": "a.jsonl", "confirmed": 3,
                        "corrected": 1, "skipped": 0})  # fmt: skip
    assert line is not None and "1 corrected" in line and review_line(None) is None


def test_rb_build_review_flag_reaches_the_flow_and_its_summary_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rb build --review` asks the flow for a review; the outcome is the last line it prints."""
    import yaml
    from typer.testing import CliRunner

    import flows.build
    from flows.cli import app

    root = Path(__file__).resolve().parent.parent
    cfg = yaml.safe_load((root / "configs/demo.yaml").read_text())
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**cfg, "output_dir": str(tmp_path / "out")}))
    seen: dict[str, object] = {}

    def fake_build(**kwargs: object) -> dict[str, object]:
        seen.update(kwargs)
        lm = {"sent": 0, "retries": 0, "cache_hits": 0, "failed": 0}
        review = {"status": "timed-out", "items": 3, "timeout_s": 60}
        return {"version": "v", "items": 1, "release": "r", "hub_folder": "h", "report": "p", "lm_requests": lm,
                "review": review}  # fmt: skip

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # no server is started
    monkeypatch.setattr(flows.build, "build", fake_build)
    result = CliRunner().invoke(app, ["build", "--config", str(path), "--review"])
    assert result.exit_code == 0, result.output
    assert seen["review"] is True
    assert "review: timed out after 60 s; the build went on WITHOUT review" in result.output
