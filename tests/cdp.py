"""Headless Chromium driven over its DevTools protocol, for tests that click, type and submit in a
real page (the Prefect UI's forms). Needs only Chromium and `websockets` (a Prefect dependency): no
browser download, no network.

Typing goes through `Input.insertText` into the focused element, as a keyboard would, so the page's
own input handlers see it; clicks go through `Input.dispatchMouseEvent` at the element's centre.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from tests.chromium import FLAGS, chromium_binary


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab of a headless Chromium started for the test; use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 1000):
        self.width, self.height = width, height
        self._ids = itertools.count(1)

    def __enter__(self) -> "Page":
        binary = chromium_binary()
        if binary is None:
            raise BrowserError("no chromium on PATH (`make chromium` installs Debian's chromium)")
        self._profile = tempfile.mkdtemp(prefix="rb-cdp-")
        cmd = [binary, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
               "--remote-debugging-address=127.0.0.1", f"--window-size={self.width},{self.height}", "about:blank"]  # fmt: skip
        self._process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise BrowserError("chromium did not open its DevTools port")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            targets = json.load(response)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self._ws = connect(url, max_size=None, open_timeout=30)
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "_ws", None) is not None:
            self._ws.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One protocol command; events that arrive meanwhile are dropped."""
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=120))
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout_s: float = 60, what: str = "") -> Any:
        """Poll a JavaScript expression until it is truthy; returns its value. An expression that
        throws (the page is still loading) counts as not yet."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:  # an element is not returnable by value: stands for true
                value = self.evaluate(f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()")
            except BrowserError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {what or expression[:200]}")
            time.sleep(0.3)

    def click(self, selector_js: str) -> None:
        """Click the centre of the element the JavaScript expression returns (scrolled into view)."""
        box = self.evaluate(
            f"(() => {{ const e = {selector_js}; if (!e) return null; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if not box:
            raise BrowserError(f"nothing to click: {selector_js[:200]}")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {"button": "left", "clickCount": 1} if kind != "mouseMoved" else {}
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def type_into(self, selector_js: str, text: str) -> None:
        """Focus the element and type `text` as keyboard input."""
        self.click(selector_js)
        self.evaluate(f"(() => {{ const e = {selector_js}; e.focus(); if (e.select) e.select(); return true; }})()")
        self.send("Input.insertText", text=text)

    def text(self) -> str:
        return str(self.evaluate("document.body.innerText"))

    def screenshot(self, path: Path, full_page: bool = False, clip_js: str | None = None) -> Path:
        """A PNG of the viewport, of the whole page, or of one element in view (`clip_js` returns it)."""
        params: dict[str, Any] = {"format": "png"}
        if clip_js is not None:
            rect = self.evaluate(f"(() => {{ const r = ({clip_js}).getBoundingClientRect();"
                                 " return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height]; })()")  # fmt: skip
            # Within the viewport: capturing beyond it resizes the page, which closes the UI's dialogs.
            params["clip"] = {"x": rect[0], "y": rect[1], "width": rect[2], "height": rect[3], "scale": 1}
        elif full_page:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
