"""Headless Chromium driven as a plain subprocess: enough to see what a single-page app renders.

`--virtual-time-budget` lets the page's scripts and its API calls settle before the DOM is dumped
or the screenshot is taken, so no browser driver (playwright, selenium) is needed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

# The flags measured to work here (Debian's chromium, as root, no GPU, no network beyond loopback).
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
]  # fmt: skip


def chromium_binary() -> str | None:
    """Debian installs /usr/bin/chromium; other systems name it differently."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(url: str, action: list[str], budget_ms: int, size: str, timeout_s: float) -> str:
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("no chromium on PATH (`make test` installs Debian's chromium)")
    with tempfile.TemporaryDirectory(prefix="rb-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
               f"--window-size={size}", *action, url]  # fmt: skip
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode} on {url}: {done.stderr[-2000:]}")
    return done.stdout


def render(
    url: str, shot: Path, budget_ms: int = 10000, size: str = "1400,2000", timeout_s: float = 300
) -> str:
    """The DOM after the page's scripts ran for `budget_ms` of virtual time; a PNG of the page as
    a person would see it goes to `shot`."""
    shot.parent.mkdir(parents=True, exist_ok=True)
    html = _run(url, ["--dump-dom", f"--screenshot={shot}"], budget_ms, size, timeout_s)
    if not shot.is_file():
        raise RuntimeError(f"chromium wrote no screenshot of {url}")
    return html


HIDDEN = frozenset({"script", "style", "noscript", "template", "head"})  # elements that are not read


class _TextOf(HTMLParser):
    """Collects the text a reader sees: skips <script>, <style> and other non-rendered elements."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    """The page's text, one space between text nodes."""
    parser = _TextOf()
    parser.feed(html)
    return " ".join(parser.parts)


class _Rows(HTMLParser):
    """Collects table rows as lists of cell texts (rendered markdown tables and data tables alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and data.strip():
            self._cell.append(data.strip())


def table_rows(html: str) -> list[list[str]]:
    """Every rendered table row in the page, as the texts of its cells."""
    parser = _Rows()
    parser.feed(html)
    return parser.rows
