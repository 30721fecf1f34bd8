"""Math grading within a time limit, and the math-verify labeler built on it.

math-verify hands expressions to sympy, which can run for minutes on a pathological answer
("9^9^9^9"). Its own timeouts use signals, which fail outside the main thread, so grading runs
in a child process (`python -m pipeline.label.math_worker`, one JSON line per prompt): a prompt
that overruns the time limit is abstained and the child replaced.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Mapping, Sequence

from pipeline.core.records import Completion, Prompt
from pipeline.label import math
from pipeline.label.base import LabelResult, Progress

TIME_LIMIT_S = 20.0
Group = tuple[list[str], str | None]


class Worker:
    """The parent's handle: started lazily, killed on overrun or close."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            self._proc = subprocess.Popen(
                # Through the guard: a grader stuck in sympy dies with a build killed outright.
                [sys.executable, "-m", "pipeline.lm.guard", str(os.getpid()), "pipeline.label.math_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env=env, bufsize=1,
            )  # fmt: skip
        return self._proc

    def grade(self, group: tuple[list[str], str | None], time_limit_s: float) -> list[LabelResult] | None:
        """The labels of one prompt's completions, or None when the time limit ran out."""
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"completions": group[0], "reference": group[1]}) + "\n")
        proc.stdin.flush()
        deadline = time.monotonic() + time_limit_s
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                return None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"math grading worker exited with code {proc.wait()}")
        return [LabelResult(**r) for r in json.loads(line)]

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def _timed_out(group: Group, limit: float) -> list[LabelResult]:
    why = f"math-verify did not finish within {limit:g}s; answer not graded"
    return [LabelResult("abstain", why, evidence={"time_limit_s": limit}, status="timeout") for _ in group[0]]


def label_math_bounded(groups: Sequence[Group], time_limit_s: float = TIME_LIMIT_S) -> list[list[LabelResult]]:
    """`math.label_math` for many prompts, each prompt (its completions, its reference) within a time limit."""
    results: list[list[LabelResult]] = []
    worker = Worker()
    try:
        for group in groups:
            graded = worker.grade(group, time_limit_s)
            if graded is None:
                results.append(_timed_out(group, time_limit_s))
                worker.close()
                worker = Worker()
            else:
                results.append(graded)
    finally:
        worker.close()
    return results


class MathVerifyLabeler:
    """Each prompt's completions graded together against its reference answer (the prompt's
    `answer` metadata) or, without one, their majority answer."""

    name = "math-verify"
    version = math.VERSION

    def label(
        self, completions: Sequence[Completion], prompts: Mapping[str, Prompt], progress: Progress | None = None
    ) -> list[LabelResult]:
        per_prompt: dict[str, list[int]] = {}
        for i, c in enumerate(completions):
            per_prompt.setdefault(c.prompt_id, []).append(i)
        refs = [prompts[pid].metadata.get("answer") for pid in per_prompt]
        groups = [([completions[i].text for i in idx], str(ref) if ref is not None else None)
                  for idx, ref in zip(per_prompt.values(), refs)]  # fmt: skip
        out: list[LabelResult] = [LabelResult("abstain", "not graded")] * len(completions)
        for idx, results in zip(per_prompt.values(), label_math_bounded(groups)):
            for i, result in zip(idx, results):
                out[i] = result
        return out


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        results = math.label_math(request["completions"], request["reference"])
        sys.stdout.write(json.dumps([asdict(r) for r in results], default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
