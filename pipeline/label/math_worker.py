"""A child process that grades math answers: one JSON request per line in, one per line out.

It exists so that a hung sympy call can be stopped by killing a process, which is the only time
limit that works for math-verify outside the main thread.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import asdict

from pipeline.label.result import LabelResult


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


def main() -> None:
    from pipeline.label.math import label_math

    for line in sys.stdin:
        request = json.loads(line)
        results = label_math(request["completions"], request["reference"])
        sys.stdout.write(json.dumps([asdict(r) for r in results], default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
