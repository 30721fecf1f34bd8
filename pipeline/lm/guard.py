"""A child that dies with its parent: `python -m pipeline.lm.guard PARENT_PID MODULE [ARGS...]`.

An engine we start (the llama.cpp server) is stopped by the build on success, error and Ctrl-C,
but a build killed with SIGKILL (the OOM killer, `kill -9`) runs no clean-up at all, and the
engine would live on, holding memory and a port. Linux's PR_SET_PDEATHSIG does not help here:
it fires when the *thread* that forked exits, and engines are started from short-lived worker
threads. So this launcher watches the parent itself: a daemon thread polls the parent pid and
exits the whole process as soon as the parent is gone (we are re-parented, so `os.getppid()`
changes), then MODULE runs as `__main__` in this same process with `sys.argv = [MODULE, *ARGS]`.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time

POLL_S = 0.5


def _parent_alive(parent_pid: int) -> bool:
    return os.getppid() == parent_pid


def watch_parent(parent_pid: int, poll_s: float = POLL_S) -> threading.Thread:
    """Start a daemon thread that ends this process (exit status 1) once `parent_pid` is no
    longer its parent. `os._exit`: the module's own threads and clean-up must not keep it alive."""

    def watch() -> None:
        while _parent_alive(parent_pid):
            time.sleep(poll_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: python -m pipeline.lm.guard PARENT_PID MODULE [ARGS...]")
    parent_pid, module, args = int(argv[0]), argv[1], argv[2:]
    if not _parent_alive(parent_pid):  # the parent died before we got here
        sys.exit(1)
    watch_parent(parent_pid)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
