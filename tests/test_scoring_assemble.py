"""RB2 scoring by hand-computed cases, and assembly into the exact RB2 schema."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.stages.assemble import assemble as assemble_rows
from pipeline.stages.assemble import candidates
from pipeline.subsets.registry import registered
from pipeline.evaluate.report import accuracy_report, random_baseline
from pipeline.evaluate.scorers import parse_rating
from pipeline.evaluate.scoring import best_of_n_credit, final_score, ties_score
from pipeline.core.io import DecisionLog, records_frame
from pipeline.core.records import COMPLETION_SCHEMA, LABEL_SCHEMA, Completion, Label, Prompt


@pytest.mark.parametrize(
    "scores, credit",
    [
        ([4, 1, 2, 3], 1.0),
        ([3, 4, 1, 2], 0.0),
        ([4, 4, 1, 2], 0.5),
        ([4, 4, 4, 1], 1 / 3),
        ([2, 2, 2, 2], 0.25),
        ([-1, -1, -1, -1], 0.25),
        ([0.9, 0.91, 0.1, 0.2], 0.0),
    ],
)
def test_best_of_n_credit(scores: list[float], credit: float) -> None:
    assert best_of_n_credit(scores) == pytest.approx(credit)


def test_final_score_is_unweighted_mean() -> None:
    assert final_score({"Math": 0.5, "Precise IF": 1.0, "Focus": 0.0}) == pytest.approx(0.5)


def test_ties_formula_by_hand() -> None:
    # prompt 1: ref correct [5] vs incorrect [1,2]: margin 3; tied correct [6,5] vs [2]: margin 3, spread 1
    # prompt 2: ref correct [1] vs [3]: margin -2 (inaccurate); tied [4,2] vs [1]: margin 1, spread 2
    ref = {"1": ([5.0], [1.0, 2.0]), "2": ([1.0], [3.0])}
    tied = {"1": ([6.0, 5.0], [2.0]), "2": ([4.0, 2.0], [1.0])}
    out = ties_score(ref, tied)
    assert out["ref_accuracy"] == 0.5 and out["tied_accuracy"] == 1.0
    assert out["preferred"] == 0.5  # 3 > 1 yes; 1 > 2 no
    assert out["preferred_hard"] == 0.5  # min(3,3)=3 > 1 yes; min(-2,1)=-2 > 2 no
    margin = (math.tanh(3 / 1 - 1) + math.tanh(-2 / 2 - 1)) / 2
    assert out["margin_score"] == pytest.approx(margin)
    expected = 0.3 * 1.0 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * margin
    assert out["score"] == pytest.approx(expected)


def test_ties_zero_spread_nan_and_inf() -> None:
    # spread 0: margin 0 -> 0/0 -> 0; positive margin -> +inf -> tanh = 1
    zero = ties_score({"1": ([1.0], [1.0])}, {"1": ([2.0, 2.0], [2.0])})
    assert zero["margin_score"] == 0.0
    inf = ties_score({"1": ([5.0], [1.0])}, {"1": ([3.0, 3.0], [1.0])})
    assert inf["margin_score"] == pytest.approx(1.0)


@pytest.mark.parametrize("reply, rating", [("8", 8.0), ("Rating: 10/10", 10.0), ("I'd say 7.", 7.0),
                                           ("great answer", -1.0), ("11", -1.0), ("0", -1.0)])  # fmt: skip
def test_parse_rating(reply: str, rating: float) -> None:
    assert parse_rating(reply) == rating


def _completion(pid: str, model: str, k: int, text: str, subset: str = "math") -> Completion:
    constraint = json.dumps({"type": "no_comma"}) if subset == "precise_if" else None
    return Completion(f"c_{pid}_{model}_{k}", pid, subset, model, "natural", k, "Q?", text, "stop", 3, 5, "{}",
                      constraint=constraint)


def assemble(prompts: dict[str, Prompt], completions: list[Completion], labels: list[Label], k: int, seed: int,
             log: DecisionLog) -> list[dict]:  # fmt: skip
    """The assemble stage's logic on in-memory records: candidates joined with polars, then each
    prompt's subset rule (the subsets bound to empty configs: assembly reads none of it)."""
    pools = candidates(records_frame(completions, COMPLETION_SCHEMA).lazy(), records_frame(labels, LABEL_SCHEMA).lazy())
    subsets = {key: cls(cls.config_class.model_construct(), None) for key, cls in registered().items()}  # type: ignore[arg-type]
    return assemble_rows(prompts, pools, subsets, k, seed, log)


def test_assembly_schema_diversity_and_drops() -> None:
    prompts = {
        "p1": Prompt("p1", "Q1?", "s", "1", 1, "math"),
        "p2": Prompt("p2", "Q2?", "s", "2", 2, "math"),
        "p3": Prompt("p3", "Q3?", "s", "3", 3, "precise_if"),
    }
    completions, labels = [], []
    for model in ("m1", "m2"):
        for k in range(4):
            for pid, subset in (("p1", "math"), ("p2", "math"), ("p3", "precise_if")):
                c = _completion(pid, model, k, f"{pid} {model} answer {k}", subset)
                completions.append(c)
                good = (pid == "p1" and model == "m1" and k == 0) or (pid == "p3" and model == "m2" and k == 1)
                labels.append(Label(c.completion_id, pid, "correct" if good else "incorrect", None, "", "t", "1"))
    log = DecisionLog("assemble", "t")
    rows = assemble(prompts, completions, labels, 3, seed=1, log=log)
    log.check_balance(3)
    assert [r["id"] for r in rows] == ["p1", "p3"]
    math_row, if_row = rows
    assert math_row["chosen"] == ["p1 m1 answer 0"] and len(math_row["rejected"]) == 3
    assert math_row["models"][0] == "m1" and "m2" in math_row["models"][1:]  # diversity: m2 used first
    assert set(if_row["models"]) == {"m2"}  # Precise IF: one model
    assert if_row["additional_metadata"]["instruction_id_list"] == ["no_comma"]
    assert (math_row["num_correct"], math_row["num_incorrect"], math_row["total_completions"]) == (1, 3, 4)
    (drop,) = [d for d in log.rows if d.decision == "dropped"]
    assert drop.item_id == "p2" and drop.reason == "no-correct-candidate"
    # Unsettled candidates are counted in the drop's evidence: split judges apart from abstains.
    split = [Label(lab.completion_id, lab.prompt_id, "abstain", None, "", "j", "1", json.dumps({"status": s}), s)
             for lab, s in zip([x for x in labels if x.prompt_id == "p2"][:3], ("disagreed", "disagreed", "unparsed"))]
    kept = [x for x in labels if x.completion_id not in {y.completion_id for y in split}]
    log = DecisionLog("assemble", "t")
    assemble(prompts, completions, kept + split, 3, seed=1, log=log)
    (drop,) = [d for d in log.rows if d.decision == "dropped"]
    assert json.loads(drop.evidence) == {"subset": "math", "correct": 0, "incorrect": 5, "disagreements": 2, "abstains": 1}
    # Same seed, same release.
    assert assemble(prompts, completions, labels, 3, seed=1, log=DecisionLog("assemble", "t")) == rows


def test_accuracy_report_and_random_baseline() -> None:
    rows = [{"id": "a", "subset": "Math", "chosen": ["x"], "rejected": ["y", "z", "w"], "num_correct": 1,
             "total_completions": 4}, {"id": "b", "subset": "Math", "chosen": ["x"], "rejected": ["y", "z", "w"],
             "num_correct": 1, "total_completions": 4}]  # fmt: skip
    report = accuracy_report("t", rows, [[4, 1, 2, 3], [4, 4, 1, 1]])
    assert report["subsets"]["Math"] == pytest.approx(0.75)
    assert random_baseline(rows)["average"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="expected 4"):
        accuracy_report("t", rows, [[1, 2], [1, 2, 3, 4]])


def _ties_completion(pid: str, role: str, k: int, text: str, ref: str = "Name the color of a clear sky.") -> Completion:
    return Completion(f"c_{role}_{k}", pid, "ties", "m1", "natural" if role == "tied" else "ties-ref", k,
                      "Name a primary color." if role == "tied" else ref, text, "stop", 3, 2, "{}", role=role)  # fmt: skip


def test_ties_pairs_assemble_whole_or_not_at_all() -> None:
    prompts = {"t1": Prompt("t1", "Name a primary color.", "s", "1", 1, "ties")}
    tied = [("Red.", "correct"), ("Blue.", "correct"), ("red", "correct"), ("Green.", "incorrect")]
    ref = [("Blue.", "correct"), ("Red.", "incorrect"), ("I don't know.", "incorrect")]
    completions = [_ties_completion("t1", "tied", k, t) for k, (t, _) in enumerate(tied)]
    completions += [_ties_completion("t1", "ref", k, t) for k, (t, _) in enumerate(ref)]
    labels = [Label(c.completion_id, "t1", lab, None, "", "j", "1") for c, (_, lab) in zip(completions, tied + ref)]
    log = DecisionLog("assemble", "t")
    rows = assemble(prompts, completions, labels, 3, seed=1, log=log)
    log.check_balance(1)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"tied:t1", "ref:t1"}
    assert sorted(by_id["tied:t1"]["chosen"]) == ["Blue.", "Red."]  # "red" is the same answer as "Red."
    assert by_id["tied:t1"]["rejected"] == ["Green."] and by_id["tied:t1"]["subset"] == "Ties"
    assert by_id["ref:t1"]["prompt"] == "Name the color of a clear sky."
    assert (by_id["ref:t1"]["num_correct"], by_id["ref:t1"]["num_incorrect"]) == (1, 2)
    # Without a second correct tied answer the pair is incomplete: neither row is released.
    labels[1] = Label(labels[1].completion_id, "t1", "incorrect", None, "", "j", "1")
    labels[2] = Label(labels[2].completion_id, "t1", "incorrect", None, "", "j", "1")
    log = DecisionLog("assemble", "t")
    assert assemble(prompts, completions, labels, 3, seed=1, log=log) == []
    assert log.rows[0].reason == "ties-pair-incomplete"


def test_accuracy_report_scores_ties_rows_with_the_ties_formula() -> None:
    def row(rid: str, k: int, m: int) -> dict:
        return {"id": rid, "subset": "Ties", "chosen": ["c"] * k, "rejected": ["r"] * m, "num_correct": k,
                "total_completions": k + m}  # fmt: skip

    rows = [row("ref:1", 1, 2), row("tied:1", 2, 1)]
    # ref: correct 5, incorrect [1, 2] -> margin 3, accurate. tied: correct [4, 3], incorrect [1] ->
    # margin 2, spread 1, accurate; preferred (2 > 1) and preferred_hard (min(3, 2) = 2 > 1);
    # margin_score tanh(2 / 1 - 1) = tanh(1).
    report = accuracy_report("t", rows, [[5, 1, 2], [4, 3, 1]])
    expected = 0.3 + 0.3 + 0.2 + 0.2 + 0.01 * math.tanh(1)
    assert report["subsets"]["Ties"] == pytest.approx(expected)
    assert report["ties"]["preferred_hard"] == 1.0
    assert [r["credit"] for r in report["rows"]] == [1.0, 1.0]
    # A random scorer rarely ranks every correct answer first; the simulated baseline is stable.
    baseline = random_baseline(rows)["subsets"]["Ties"]
    assert 0.05 < baseline < 0.6 and baseline == random_baseline(rows)["subsets"]["Ties"]


def test_precise_if_assembly_leaves_out_cautioned_answers() -> None:
    """A Precise IF answer labeled under a caution keeps its official verdict, but a cut-off one is
    never chosen (it may be rejected: it fails as shown) and a language-unsure one is not used at
    all; the drop says how many were left out."""
    prompts = {"p3": Prompt("p3", "Q3?", "s", "3", 3, "precise_if")}
    completions = [_completion("p3", "m1", k, f"answer {k}", "precise_if") for k in range(5)]
    labels = [Label(c.completion_id, "p3", "correct" if k == 0 else "incorrect", None, "", "t", "1")
              for k, c in enumerate(completions)]  # fmt: skip
    log = DecisionLog("assemble", "t")
    assert [r["chosen"] for r in assemble(prompts, completions, labels, 3, seed=1, log=log)] == [["answer 0"]]
    cut = json.dumps({"caution": ["cut-off"]})
    labels[0] = Label(labels[0].completion_id, "p3", "correct", 1.0, "", "t", "1", cut)
    log = DecisionLog("assemble", "t")
    assert assemble(prompts, completions, labels, 3, seed=1, log=log) == []
    (drop,) = log.rows
    assert drop.reason == "no-model-with-1-correct-and-enough-incorrect"
    assert json.loads(drop.evidence)["cautioned"] == 1
    labels[0] = Label(labels[0].completion_id, "p3", "correct", 1.0, "", "t", "1")
    labels[1] = Label(labels[1].completion_id, "p3", "incorrect", 0.0, "", "t", "1", cut)
    (row,) = assemble(prompts, completions, labels, 4, seed=1, log=DecisionLog("assemble", "t"))
    assert "answer 1" in row["rejected"]  # cut off and failing: usable as rejected
    unsure = json.dumps({"caution": ["language-unsure"]})
    labels[1] = Label(labels[1].completion_id, "p3", "incorrect", 0.0, "", "t", "1", unsure)
    log = DecisionLog("assemble", "t")
    assert assemble(prompts, completions, labels, 4, seed=1, log=log) == []
    assert json.loads(log.rows[0].evidence)["cautioned"] == 1
