"""`rb` with one write made to stall half-way, so a test can kill the build mid-write.

    RB_PAUSE_WRITE=test.parquet RB_PAUSE_MARKER=/tmp/x python -m tests.crash_driver build --config C

The first parquet write whose target is named RB_PAUSE_WRITE writes its temporary file, cuts it
to half its size (what a crash mid-write leaves), writes the temporary file's path to
RB_PAUSE_MARKER and then waits to be killed. Everything else is the real CLI.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


def _install() -> None:
    target, marker = os.environ["RB_PAUSE_WRITE"], Path(os.environ["RB_PAUSE_MARKER"])
    real_write = pq.write_table

    def stalling_write(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        real_write(table, where, *args, **kwargs)
        path = Path(str(where))
        if path.name.startswith(f".{target}.") and not marker.exists():
            os.truncate(path, path.stat().st_size // 2)
            marker.write_text(str(path))
            time.sleep(3600)

    pq.write_table = stalling_write


if __name__ == "__main__":
    _install()
    from flows.cli import app

    app(prog_name="rb")
