"""Review in the Prefect UI: after labeling, the build pauses with a typed input form (Prefect's
`pause_flow_run(wait_for_input=...)`) showing a sample of labeled completions per subset. The
reviewer confirms or corrects each in the UI's Resume dialog; the answers become an annotation file
(`pipeline.label.review`) and the flow reruns the label stage, which applies them before assembly.

No answer within `review.timeout_s`: the flow resumes itself, unreviewed, and says so in the log
and the summary. (Prefect fails a run whose pause outlives its own deadline, so that deadline is
set a little past ours and the flow resumes itself first.)
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pydantic
from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run

from pipeline.core.config import BuildConfig
from pipeline.core.io import StageOutput
from pipeline.label import review
from pipeline.label.human import load_annotations
from pipeline.stages.context import load_completions, load_labels, load_prompts
from flows.artifacts import artifact_key

PREFECT_GRACE_S = 120  # Prefect's own pause deadline lies this far past ours
TIMEOUT_REVIEWER = "(timeout)"
Answer = Literal["correct", "incorrect", "skip"]


def input_model(items: list[review.ReviewItem], description: str) -> type[RunInput]:
    """The form: the reviewer's name, a note, and one choice per item (initially its automatic label),
    the item itself in the choice's description. (The UI's Resume dialog gives the text above the
    form no height when the form is long, so `description` is repeated under the first field.)"""
    fields: dict[str, Any] = {
        "reviewer": (str, pydantic.Field(title="Reviewer", min_length=1,
                                         description=description)),
        "note": (str, pydantic.Field(default="", title="Note", description="Kept with every answer")),
    }  # fmt: skip
    for item in items:
        fields[item.field] = (Answer, pydantic.Field(default=item.default, title=review.item_title(item),
                                                     description=review.item_help(item)))  # fmt: skip
    model = pydantic.create_model("ReviewLabels", __base__=RunInput, **fields)
    return model.with_initial_data(description=description)


class _Timer:
    """Resumes the paused run after `seconds` unless someone answered first."""

    def __init__(self, run_id: Any, seconds: float):
        self.run_id, self.fired = run_id, threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._wait, args=(seconds,), daemon=True, name="review-timeout")

    def __enter__(self) -> "_Timer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            return
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(self.run_id).state
            if state is None or not state.is_paused():
                return
            result = client.resume_flow_run(self.run_id, run_input={"reviewer": TIMEOUT_REVIEWER})
        if str(getattr(result.status, "value", result.status)).upper() == "ACCEPT":
            self.fired.set()


def review_labels(
    cfg: BuildConfig, root: Path, routed: StageOutput, generated: StageOutput, labeled: StageOutput
) -> dict[str, Any]:
    """Pause for review; returns what happened: status "reviewed" (with the annotation file and
    counts), "timed-out" or "nothing-to-review"."""
    logger = get_run_logger()
    spec = cfg.review
    assert spec is not None
    folder = root / cfg.annotations_dir
    items = review.sample_items(load_prompts(routed), load_completions(generated), load_labels(labeled),
                                spec.subsets, spec.sample, cfg.seed, load_annotations(folder))  # fmt: skip
    if not items:
        logger.warning("review: no labeled completions in subsets %s; nothing to review", spec.subsets or "(all)")
        return {"status": "nothing-to-review", "items": 0}
    markdown = review.review_markdown(items, cfg.version, spec.timeout_s)
    create_markdown_artifact(key=artifact_key(cfg.version, "review"), markdown=markdown,
                             description="Items waiting for review (the Resume form holds the answers)")  # fmt: skip
    logger.info("review: %d items waiting; open this run in the Prefect UI and press Resume to answer "
                "(it goes on unreviewed after %d s)", len(items), spec.timeout_s)  # fmt: skip
    with _Timer(flow_run.id, spec.timeout_s) as timer:
        form = input_model(items, review.review_intro(len(items), cfg.version, spec.timeout_s))
        answer = pause_flow_run(wait_for_input=form,
                                timeout=spec.timeout_s + PREFECT_GRACE_S, poll_interval=2)  # fmt: skip
    if timer.fired.is_set():
        logger.warning("review: no answer within %d s; the build goes on WITHOUT review", spec.timeout_s)
        return {"status": "timed-out", "items": len(items), "timeout_s": spec.timeout_s}
    values = answer.model_dump()
    when = datetime.now(timezone.utc)
    outcome = review.annotation_rows(items, values, values["reviewer"], values.get("note", ""), when,
                                     str(flow_run.id or "local"))  # fmt: skip
    path = review.write_annotations(folder, cfg.version, outcome.rows, when)
    logger.info("review by %s: %d confirmed, %d corrected, %d skipped; annotations written to %s",
                values["reviewer"], outcome.confirmed, outcome.corrected, outcome.skipped, path or "(none)")  # fmt: skip
    return {"status": "reviewed", "items": len(items), "reviewer": values["reviewer"],
            "file": str(path) if path else None, **outcome.summary()}  # fmt: skip

