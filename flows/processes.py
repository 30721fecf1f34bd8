"""Process trees on Linux (/proc), for stopping a server and everything it started, by process id."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def alive(pid: int) -> bool:
    """Is the process there and not a zombie (a zombie has exited; only its exit status is left)?"""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first. Take this list before stopping anything: a process
    whose parent exits is handed to init and can no longer be traced to the tree."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(pids: list[int], grace_s: float = 10.0) -> list[int]:
    """SIGTERM every process, SIGKILL those still running after `grace_s`; returns the ids that
    needed SIGKILL (a clean shutdown returns [])."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    stubborn = [p for p in pids if alive(p)]
    for pid in stubborn:
        _signal(pid, signal.SIGKILL)
    return stubborn
