"""Saved batches: one JSON line per event under the run directory, appended and fsynced the
moment a batch is created, so a killed build finds its batches and polls them, never resubmits.

Events: `created` (provider, model, batch id, custom ids), `polled`, `collected` (its answers are in
the response cache), `cancel` (asked by `rb batches cancel`; the next build still reads what the
batch answered before it stopped). The file never holds request bodies or keys.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "batches.jsonl"


@dataclass
class SavedBatch:
    batch_id: str
    provider: str
    model: str  # the config's model name
    custom_ids: list[str]
    created_at: float
    label: str = ""
    state: str = "open"  # open | collected (a cancelled batch stays open until its lines are read)
    last_status: str = ""
    events: list[str] = field(default_factory=list)


class BatchStore:
    """The run's batches; safe to share between the threads of one process."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / FILE_NAME
        self._lock = threading.Lock()

    def _append(self, event: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({**event, "at": time.time()}, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def created(self, batch_id: str, provider: str, model: str, custom_ids: list[str], label: str) -> None:
        self._append({"event": "created", "batch_id": batch_id, "provider": provider, "model": model,
                      "custom_ids": custom_ids, "label": label})  # fmt: skip

    def mark(self, batch_id: str, event: str, status: str = "") -> None:
        self._append({"event": event, "batch_id": batch_id, "status": status})

    def all(self) -> list[SavedBatch]:
        """Every batch this run created, oldest first, with its latest state. A torn last line (a
        kill mid-append) is skipped: its batch was not yet confirmed saved."""
        batches: dict[str, SavedBatch] = {}
        if not self.path.exists():
            return []
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                continue
            bid = event["batch_id"]
            if event["event"] == "created":
                batches[bid] = SavedBatch(bid, event["provider"], event["model"], event["custom_ids"],
                                          event["at"], event.get("label", ""))  # fmt: skip
            elif bid in batches:
                batches[bid].events.append(event["event"])
                batches[bid].last_status = event.get("status") or batches[bid].last_status
                if event["event"] == "collected":
                    batches[bid].state = "collected"
        return list(batches.values())

    def open_batches(self, model: str) -> list[SavedBatch]:
        return [b for b in self.all() if b.model == model and b.state == "open"]
