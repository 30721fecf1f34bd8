"""Human annotations: loading (and every kind of bad line), overrides, agreement, review export, CLI."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from pipeline.core.io import read_rows, write_parquet
from pipeline.label.human import (
    AnnotationSet,
    HumanLabel,
    annotation_issues,
    apply_annotations,
    automatic_labels,
    load_annotations,
    unknown_ids,
)
from pipeline.label.human_review import agreement_report, cohen_kappa, export_sample
from pipeline.core.records import Completion, Label, Prompt

ROOT = Path(__file__).resolve().parent.parent
LABELER = {"math": "math-verify", "precise_if": "instruction-checker"}


def write_lines(path: Path, *rows: object) -> Path:
    """Rows as JSONL; a bytes row is written as it is (for broken lines)."""
    blob = b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


def ann(cid: str, label: str | None, annotator: str | None = "ann", note: str | None = None, **extra: object) -> dict:
    return {"id": cid, "label": label, "annotator": annotator, "note": note, **extra}


def lab(cid: str, value: str, labeler: str = "math-verify", pid: str = "p_1") -> Label:
    evidence = json.dumps({"extracted": cid, "reference": "42"}, sort_keys=True)  # as the label stage writes it
    return Label(cid, pid, value, {"correct": 1.0, "incorrect": 0.0}.get(value), f"auto says {value}",
                 labeler, "0.7", evidence)  # fmt: skip


def comp(cid: str, pid: str, subset: str) -> Completion:
    return Completion(cid, pid, subset, "smollm2", "sample", 0, f"prompt of {pid} (as sent)", f"text of {cid}",
                      "stop", 5, 7, "{}", "{}")  # fmt: skip


def human_set(**labels: str) -> AnnotationSet:
    return AnnotationSet(labels={c: HumanLabel(c, v, ["ann"], [], ["h.jsonl"], [1]) for c, v in labels.items()})


# --- loading -------------------------------------------------------------------------------------

GOOD = ann("c_good", "correct")


@pytest.mark.parametrize(
    "bad, reason",
    [
        (b"{not json", "invalid JSON"),
        (b'{"id": "c_1", "label": "correct", "annotator": "ann"', "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"just a string"', "not a JSON object"),
        (json.dumps({"label": "correct", "annotator": "ann"}).encode(), "missing or non-string id"),
        (json.dumps({"id": 7, "label": "correct", "annotator": "ann"}).encode(), "missing or non-string id"),
        (json.dumps({"id": "", "label": "correct", "annotator": "ann"}).encode(), "missing or non-string id"),
        (json.dumps(ann("c_1", "maybe")).encode(), "label must be 'correct' or 'incorrect', got 'maybe'"),
        (json.dumps(ann("c_1", "abstain")).encode(), "label must be 'correct' or 'incorrect'"),
        (json.dumps({"id": "c_1", "label": 1, "annotator": "ann"}).encode(), "label must be"),
        (json.dumps({"id": "c_1", "label": "correct"}).encode(), "missing annotator"),
        (json.dumps(ann("c_1", "correct", annotator="  ")).encode(), "missing annotator"),
        (json.dumps(ann("c_1", "correct", annotator=None)).encode(), "missing annotator"),
        (b'{"id": "c_\xff", "label": "correct", "annotator": "ann"}', "invalid UTF-8"),
    ],
)
def test_bad_lines_are_problems_naming_file_and_line(tmp_path: Path, bad: bytes, reason: str) -> None:
    path = write_lines(tmp_path / "ann" / "b.jsonl", GOOD, bad, ann("c_after", "incorrect"))
    found = load_annotations(tmp_path / "ann")
    assert len(found.problems) == 1
    assert found.problems[0].startswith(f"{path}:2: ")
    assert reason in found.problems[0]
    assert set(found.labels) == {"c_good", "c_after"}  # a bad line stops nothing
    assert found.files == [str(path)] and found.unreviewed == 0


def test_missing_or_empty_folder_is_an_empty_set(tmp_path: Path) -> None:
    for folder in (tmp_path / "nope", tmp_path):
        found = load_annotations(folder)
        assert (found.labels, found.conflicts, found.problems, found.files) == ({}, {}, [], [])
    (tmp_path / "README.md").write_text("not an annotation file")
    write_lines(tmp_path / "deeper" / "x.jsonl", GOOD)  # only files directly in the folder count
    write_lines(tmp_path / "x.json", GOOD)
    assert load_annotations(tmp_path).labels == {}


def test_unreviewed_and_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    exported = {"subset": "math", "prompt": "2+2?", "auto_label": "correct", "auto_evidence": {"x": 1}}
    write_lines(
        tmp_path / "review.jsonl",
        ann("c_1", None, annotator=None, **exported),
        b"",
        b"   ",
        ann("c_2", "", **exported),
        ann("c_3", " Correct ", annotator=" bo ", note="fine", **exported),  # extra keys are ignored
        {"label": None},  # not reviewed: no id needed yet
    )
    found = load_annotations(tmp_path)
    assert found.problems == [] and found.unreviewed == 3
    assert found.labels == {"c_3": HumanLabel("c_3", "correct", ["bo"], ["fine"], ["review.jsonl"], [5])}


@pytest.mark.parametrize(
    "files, expected",
    [
        # agreeing annotators: one label that keeps them all
        ({"a.jsonl": [ann("c", "correct", "ann", "ok")], "b.jsonl": [ann("c", "correct", "bo")]},
         HumanLabel("c", "correct", ["ann", "bo"], ["ok"], ["a.jsonl", "b.jsonl"], [1, 1])),
        # disagreeing annotators: no override, a conflict
        ({"a.jsonl": [ann("c", "correct", "ann")], "b.jsonl": [ann("c", "incorrect", "bo")]}, "conflict"),
        # the same annotator again: the later line is a correction
        ({"a.jsonl": [ann("c", "correct", "ann"), ann("c", "incorrect", "ann", "oops")]},
         HumanLabel("c", "incorrect", ["ann"], ["oops"], ["a.jsonl"], [2])),
        # later in sorted file order wins too (b.jsonl is read after a.jsonl)
        ({"b.jsonl": [ann("c", "correct", "ann")], "a.jsonl": [ann("c", "incorrect", "ann")]},
         HumanLabel("c", "correct", ["ann"], [], ["b.jsonl"], [1])),
        # a correction that settles a conflict
        ({"a.jsonl": [ann("c", "correct", "ann"), ann("c", "incorrect", "bo"), ann("c", "incorrect", "ann")]},
         HumanLabel("c", "incorrect", ["bo", "ann"], [], ["a.jsonl", "a.jsonl"], [2, 3])),
        # a correction that starts one
        ({"a.jsonl": [ann("c", "correct", "ann"), ann("c", "correct", "bo")],
          "b.jsonl": [ann("c", "incorrect", "bo")]}, "conflict"),
    ],
)  # fmt: skip
def test_duplicates_conflicts_and_corrections(tmp_path: Path, files: dict, expected: object) -> None:
    for name, rows in files.items():
        write_lines(tmp_path / name, *rows)
    found = load_annotations(tmp_path)
    assert found.problems == []
    if expected == "conflict":
        assert found.labels == {}
        assert sorted(h.label for h in found.conflicts["c"]) == ["correct", "incorrect"]
        assert "conflict (no override): c: " in annotation_issues(found)[0]
    else:
        assert found.conflicts == {} and found.labels == {"c": expected}


# --- overrides -----------------------------------------------------------------------------------


def test_apply_annotations_replaces_labels_and_keeps_the_automatic_one(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", ann("c_flip", "incorrect", "ann", "wrong unit"), ann("c_same", "correct"),
                ann("c_abst", "correct", "ann"), ann("c_fight", "correct", "ann"))  # fmt: skip
    write_lines(tmp_path / "b.jsonl", ann("c_flip", "incorrect", "bo"), ann("c_fight", "incorrect", "bo"),
                ann("c_typo", "correct"))  # fmt: skip
    found = load_annotations(tmp_path)
    auto = [lab("c_flip", "correct"), lab("c_same", "correct"), lab("c_abst", "abstain"),
            lab("c_fight", "correct"), lab("c_none", "incorrect")]  # fmt: skip
    out, overrides = apply_annotations(auto, found)

    assert [o.completion_id for o in out] == [a.completion_id for a in auto]
    assert out[3] == auto[3] and out[4] == auto[4]  # conflict and unannotated: untouched
    flip = out[0]
    assert (flip.label, flip.score, flip.labeler, flip.labeler_version) == ("incorrect", 0.0, "human", "1")
    assert "ann" in flip.reasoning and "bo" in flip.reasoning and "wrong unit" in flip.reasoning
    evidence = json.loads(flip.evidence)
    assert evidence["annotators"] == ["ann", "bo"] and evidence["notes"] == ["wrong unit"]
    assert evidence["source"] == "a.jsonl:1, b.jsonl:1"
    assert evidence["automatic"] == {
        "label": "correct", "labeler": "math-verify", "labeler_version": "0.7", "reasoning": "auto says correct",
        "score": 1.0, "evidence": {"reference": "42", "extracted": "c_flip"},
    }  # fmt: skip
    assert (out[2].label, out[2].score) == ("correct", 1.0)
    assert [(o["completion_id"], o["automatic_label"], o["human_label"], o["changed"]) for o in overrides] == [
        ("c_flip", "correct", "incorrect", True),
        ("c_same", "correct", "correct", False),
        ("c_abst", "abstain", "correct", True),
    ]
    # applied again (a rebuild that reads its own labels) the automatic label is still the original one
    again, _ = apply_annotations(out, found)
    assert again == out
    assert automatic_labels(out) == auto
    assert unknown_ids(auto, found) == ["c_typo"]
    assert "unknown id (no such completion): c_typo" in annotation_issues(found, auto)


# --- agreement -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pairs, kappa",
    [
        ([("correct", "correct")] * 4 + [("correct", "incorrect")] + [("incorrect", "correct")] * 2
         + [("incorrect", "incorrect")] * 3, 0.4),  # po .7, pe (5*6 + 5*4)/100 = .5
        ([("correct", "incorrect"), ("incorrect", "correct")], -1.0),
        ([("correct", "correct"), ("incorrect", "incorrect")], 1.0),
        ([("correct", "correct")] * 3, None),  # one category only: chance agreement is 1
        ([("correct", "incorrect")] * 3, 0.0),  # pe = 0: raters never agree, never by chance either
        ([], None),
    ],
)  # fmt: skip
def test_cohen_kappa(pairs: list, kappa: float | None) -> None:
    assert cohen_kappa(pairs) == (None if kappa is None else pytest.approx(kappa))


def test_agreement_report_hand_computed() -> None:
    # math / math-verify: 4 c-c, 1 c-i, 2 i-c, 3 i-i, 1 abstain annotated, 1 not annotated
    table = ["cc"] * 4 + ["ci"] + ["ic"] * 2 + ["ii"] * 3
    value = {"c": "correct", "i": "incorrect"}
    labels, human = [], {}
    for n, (a, h) in enumerate(table):
        labels.append(lab(f"m{n}", value[a], "math-verify", "p_math"))
        human[f"m{n}"] = value[h]
    labels += [lab("m_abst", "abstain", "math-verify", "p_math"), lab("m_open", "correct", "math-verify", "p_math")]
    human["m_abst"] = "correct"
    # math / a second labeler: both agree, all "correct" -> kappa undefined
    labels += [lab("o1", "correct", "other", "p_math"), lab("o2", "correct", "other", "p_math")]
    human.update(o1="correct", o2="correct")
    # precise_if: nothing annotated; and a subset whose only annotated item abstained
    labels += [lab("q1", "correct", "instruction-checker", "p_if")]
    labels += [lab("z1", "abstain", "zlab", "p_z")]
    human["z1"] = "incorrect"
    annotations = human_set(**human)
    # rows given as the build wrote them (with human overrides) report the same automatic numbers
    applied, _ = apply_annotations(labels, annotations)
    subset_of = {"p_math": "math", "p_if": "precise_if", "p_z": "zz"}
    for given in (labels, applied):
        rows = agreement_report(given, annotations, subset_of)
        got = [(r["subset"], r["labeler"], r["annotated"], r["agree"], r["disagree"], r["abstained"],
                r["agreement"], r["kappa"]) for r in rows]  # fmt: skip
        assert got == [
            ("math", "math-verify", 11, 7, 3, 1, pytest.approx(0.7), pytest.approx(0.4)),
            ("math", "other", 2, 2, 0, 0, 1.0, None),
            # 12 rated: po 9/12; auto 7 c / 5 i, human 8 c / 4 i: pe 76/144 -> kappa 32/68
            ("math", "all", 13, 9, 3, 1, pytest.approx(0.75), pytest.approx(32 / 68)),
            ("precise_if", "instruction-checker", 0, 0, 0, 0, None, None),
            ("precise_if", "all", 0, 0, 0, 0, None, None),
            ("zz", "zlab", 1, 0, 0, 1, None, None),
            ("zz", "all", 1, 0, 0, 1, None, None),
        ]


# --- export --------------------------------------------------------------------------------------


def export_tables() -> tuple[list[Prompt], list[Completion], list[Label]]:
    prompts = [Prompt("p_m", "2+2?", "pool", "1", 1, "math", {"answer": "4"}),
               Prompt("p_i", "no commas", "pool", "2", 2, "precise_if", {})]  # fmt: skip
    completions, labels = [], []
    for n in range(12):
        completions.append(comp(f"c_m{n:02d}", "p_m", "math"))
        labels.append(lab(f"c_m{n:02d}", ("correct", "incorrect", "abstain")[n % 3], pid="p_m"))
    for n in range(3):
        completions.append(comp(f"c_i{n}", "p_i", "precise_if"))
        labels.append(lab(f"c_i{n}", "correct", "instruction-checker", "p_i"))
    return prompts, completions, labels


def test_export_balances_is_deterministic_and_respects_per_subset() -> None:
    prompts, completions, labels = export_tables()
    rows = export_sample(prompts, completions, labels, 6, seed=3, already=None)
    assert [r["subset"] for r in rows] == ["math"] * 6 + ["precise_if"] * 3
    assert rows == sorted(rows, key=lambda r: (r["subset"], r["id"]))
    math_rows = [r for r in rows if r["subset"] == "math"]
    assert sorted(r["auto_label"] for r in math_rows) == ["abstain"] * 2 + ["correct"] * 2 + ["incorrect"] * 2
    first = math_rows[0]
    assert set(first) >= {"id", "label", "annotator", "note", "subset", "prompt_id", "prompt", "completion",
                          "model", "method", "auto_label", "auto_labeler", "auto_reasoning", "auto_evidence"}
    assert (first["label"], first["annotator"], first["note"]) == (None, None, None)
    assert first["prompt"] == "prompt of p_m (as sent)" and first["completion"] == f"text of {first['id']}"
    assert first["auto_evidence"] == {"reference": "42", "extracted": first["id"]}
    assert first["auto_labeler"] == "math-verify" and first["model"] == "smollm2"

    shuffled = completions[:]
    random.Random(1).shuffle(shuffled)
    assert export_sample(prompts, shuffled, labels[::-1], 6, seed=3, already=None) == rows
    picks = {tuple(r["id"] for r in export_sample(prompts, completions, labels, 6, s, None)) for s in range(6)}
    assert len(picks) > 1  # the seed matters
    assert len(export_sample(prompts, completions, labels, 1, 0, None)) == 2
    assert export_sample(prompts, completions, labels, 100, 0, None)[-3:][0]["id"] == "c_i0"
    assert len(export_sample(prompts, completions, labels, 100, 0, None)) == 15


def test_export_prefers_items_not_yet_annotated_and_shows_automatic_labels() -> None:
    prompts, completions, labels = export_tables()
    open_ids = {"c_m04", "c_m07"}
    already = human_set(**{f"c_m{n:02d}": "correct" for n in range(12) if f"c_m{n:02d}" not in open_ids})
    # the run's labels already carry human overrides: export shows the automatic label behind them
    applied, _ = apply_annotations(labels, already)
    two = [r for r in export_sample(prompts, completions, applied, 2, 0, already) if r["subset"] == "math"]
    assert {r["id"] for r in two} == open_ids
    four = [r for r in export_sample(prompts, completions, applied, 4, 0, already) if r["subset"] == "math"]
    assert open_ids < {r["id"] for r in four} and len(four) == 4
    assert all(r["auto_labeler"] == "math-verify" for r in four)
    by_id = {label.completion_id: label.label for label in labels}
    assert all(r["auto_label"] == by_id[r["id"]] for r in four)


def test_a_filled_in_export_is_an_annotation_file(tmp_path: Path) -> None:
    prompts, completions, labels = export_tables()
    rows = export_sample(prompts, completions, labels, 3, 0, None)
    rows[0].update(label="incorrect", annotator="ann", note="off by one")
    rows[1].update(label="correct", annotator="bo")
    write_lines(tmp_path / "review.jsonl", *rows)
    found = load_annotations(tmp_path)
    assert found.problems == [] and found.unreviewed == len(rows) - 2
    assert {c: h.label for c, h in found.labels.items()} == {rows[0]["id"]: "incorrect", rows[1]["id"]: "correct"}


# --- CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config and the route/generate/label tables of its run, in a tmp cwd (no model is started)."""
    cfg = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())
    cfg["version"] = "v-test"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    prompts, completions, labels = export_tables()
    out = tmp_path / "outputs" / "v-test"
    write_parquet([{**asdict(p), "metadata": json.dumps(p.metadata)} for p in prompts], out / "route/prompts.parquet")
    write_parquet(completions, out / "generate/completions.parquet")
    write_parquet(labels, out / "label/labels.parquet")
    return out


def test_cli_export_then_report(run_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["annotate", "export", "--config", "c.yaml", "--per-subset", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    review = Path("annotations/review-v-test.jsonl")
    rows = [json.loads(line) for line in review.read_text().splitlines()]
    assert [r["subset"] for r in rows] == ["math"] * 3 + ["precise_if"] * 3
    assert f"Wrote 6 rows for review to {review}" in result.output
    assert "math: 3 rows (3 not yet annotated)" in result.output and "`rb annotate report`" in result.output

    again = runner.invoke(app, ["annotate", "export", "--config", "c.yaml"])
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output
    assert review.read_text().count("\n") == 6  # not overwritten

    # fill in the review file: one labeler agrees, one does not; add a conflict, a typo and a broken line
    math_rows = [r for r in rows if r["subset"] == "math"]
    first, second = math_rows[0], math_rows[1]
    first.update(label=first["auto_label"] if first["auto_label"] != "abstain" else "correct", annotator="ann")
    flipped = {"correct": "incorrect", "incorrect": "correct", "abstain": "incorrect"}[second["auto_label"]]
    second.update(label=flipped, annotator="ann")
    write_lines(review, *rows)
    write_lines(Path("annotations/extra.jsonl"), ann("c_nope", "correct"), b"{broken",
                ann("c_i0", "correct", "ann"), ann("c_i0", "incorrect", "bo"))  # fmt: skip
    report = runner.invoke(app, ["annotate", "report", "--config", "c.yaml"])
    assert report.exit_code == 0, report.output
    out = report.output
    assert "| subset | labeler | annotated | agree | disagree | abstained | agreement % | kappa |" in out
    filled = [first, second]
    abstained = sum(r["auto_label"] == "abstain" for r in filled)
    agree = sum(r["auto_label"] == r["label"] for r in filled)
    rated = 2 - abstained
    pct = f"{100 * agree / rated:.1f}" if rated else "-"
    assert f"| math | math-verify | 2 | {agree} | {rated - agree} | {abstained} | {pct} |" in out
    assert "| precise_if | instruction-checker | 0 | 0 | 0 | 0 | - | - |" in out
    assert "problem: annotations/extra.jsonl:2: invalid JSON" in out
    assert "conflict (no override): c_i0: ann: correct (extra.jsonl:3); bo: incorrect (extra.jsonl:4)" in out
    assert "unknown id (no such completion): c_nope" in out
    assert "(4 rows not reviewed yet, 1 conflicts)" in out

    # export again: the annotated items are not offered first
    forced = runner.invoke(app, ["annotate", "export", "--config", "c.yaml", "--per-subset", "2",
                                 "--out", "elsewhere.jsonl", "--seed", "1"])  # fmt: skip
    assert forced.exit_code == 0, forced.output
    ids = {json.loads(line)["id"] for line in Path("elsewhere.jsonl").read_text().splitlines()}
    assert first["id"] not in ids and second["id"] not in ids and "c_i0" not in ids
    assert "Move the filled-in file into annotations/" in forced.output


def test_cli_report_uses_the_automatic_label_behind_a_human_one(run_dir: Path) -> None:
    write_lines(Path("annotations/a.jsonl"), ann("c_m00", "incorrect"))  # c_m00 is automatically correct
    labels = [Label(**r) for r in read_rows(run_dir / "label/labels.parquet")]
    applied, _ = apply_annotations(labels, load_annotations(Path("annotations")))
    write_parquet(applied, run_dir / "label/labels.parquet")
    result = CliRunner().invoke(app, ["annotate", "report", "--config", "c.yaml"])
    assert result.exit_code == 0, result.output
    assert "| math | math-verify | 1 | 0 | 1 | 0 | 0.0 | 0.00 |" in result.output
    assert "| human |" not in result.output


@pytest.mark.parametrize("command", ["export", "report"])
def test_cli_errors(run_dir: Path, command: str) -> None:
    runner = CliRunner()
    other = runner.invoke(app, ["annotate", command, "--config", "c.yaml", "--version", "v-other"])
    assert other.exit_code == 1
    assert "outputs/v-other/route/prompts.parquet not found" in other.output and "rb build" in other.output
    (run_dir / "label/labels.parquet").unlink()
    missing = runner.invoke(app, ["annotate", command, "--config", "c.yaml"])
    assert missing.exit_code == 1 and "outputs/v-test/label/labels.parquet not found" in missing.output
    Path("bad.yaml").write_text("version: [unclosed")
    bad = runner.invoke(app, ["annotate", command, "--config", "bad.yaml"])
    assert bad.exit_code == 2 and "bad.yaml: not valid YAML" in bad.output


def test_cli_reads_the_configs_annotations_dir(run_dir: Path) -> None:
    from pipeline.core.config import BuildConfig

    if "annotations_dir" not in BuildConfig.model_fields:
        pytest.skip("this config has no annotations_dir")
    cfg = yaml.safe_load(Path("c.yaml").read_text())
    cfg["annotations_dir"] = "people"
    Path("c.yaml").write_text(yaml.safe_dump(cfg))
    write_lines(Path("people/a.jsonl"), ann("c_m00", "incorrect"))
    write_lines(Path("annotations/a.jsonl"), ann("c_m01", "incorrect"))  # not the configured folder
    runner = CliRunner()
    report = runner.invoke(app, ["annotate", "report", "--config", "c.yaml"])
    assert report.exit_code == 0 and "1 annotated completions in 1 files under people/" in report.output
    assert "| math | math-verify | 1 | 0 | 1 | 0 | 0.0 | 0.00 |" in report.output
    export = runner.invoke(app, ["annotate", "export", "--config", "c.yaml", "--per-subset", "1"])
    assert export.exit_code == 0 and "to people/review-v-test.jsonl" in export.output
    override = runner.invoke(app, ["annotate", "report", "--config", "c.yaml", "--annotations", "annotations"])
    assert "under annotations/" in override.output
