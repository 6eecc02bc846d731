"""Open a page in headless Chromium as a person would, through the DevTools protocol.

:func:`find_chromium` names Debian's ``chromium`` (or ``chromium-browser``,
``google-chrome``) on PATH, or None. :func:`render` starts it headless with a DevTools
port, loads a URL, waits for the load event, then collects what a visitor would see:
a full-page PNG screenshot, the console messages of level error or warning, uncaught
exceptions and log entries (failed resources, bad images), and the result of a
JavaScript expression evaluated in the page (JSON-able). Chromium is stopped by its pid.
The websocket client is aiohttp's (installed with s3fs, a base dependency).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import aiohttp

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH, or None."""
    return next((p for p in map(shutil.which, NAMES) if p), None)


@dataclass
class Rendered:
    """What the page showed: ``screenshot`` (PNG bytes), ``errors`` (console errors,
    uncaught exceptions, error log entries: one string each), ``value`` (the evaluated
    expression's JSON value)."""

    screenshot: bytes
    errors: list[str] = field(default_factory=list)
    value: object = None


def _devtools_port(proc: subprocess.Popen, log_path: str, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", f.read())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        raise RuntimeError(f"chromium gave no DevTools port: {f.read()[-2000:]}")


class _Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws, self.next_id, self.events = ws, 0, []

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    async def wait_for(self, method: str, timeout_s: float) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        async with asyncio.timeout(timeout_s):
            while True:
                msg = json.loads((await self.ws.receive()).data)
                self.events.append(msg)
                if msg.get("method") == method:
                    return


def _errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif e.get("method") == "Runtime.exceptionThrown":
            details = p["exceptionDetails"]
            out.append(f"exception: {details.get('text', '')} {details.get('exception', {}).get('description', '')}")
        elif e.get("method") == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
    return out


async def _drive(port: int, url: str, expression: str, width: int, timeout_s: float) -> Rendered:
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as resp:
            target = await resp.json(content_type=None)
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            s = _Session(ws)
            for domain in ("Page", "Runtime", "Log"):
                await s.call(f"{domain}.enable")
            await s.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                         deviceScaleFactor=1, mobile=False)
            await s.call("Page.navigate", url=url)
            await s.wait_for("Page.loadEventFired", timeout_s)
            value = (await s.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                  awaitPromise=True))["result"].get("value")
            shot = await s.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            await asyncio.sleep(0.2)  # late console messages
            await s.call("Runtime.evaluate", expression="1")
            return Rendered(base64.b64decode(shot["data"]), _errors(s.events), value)


def render(url: str, expression: str = "null", width: int = 1280, timeout_s: float = 120.0,
           binary: str | None = None) -> Rendered:
    """Load ``url`` in headless Chromium and return :class:`Rendered`. Raises
    RuntimeError when Chromium does not start or the page does not load in ``timeout_s``."""
    binary = binary or find_chromium()
    if binary is None:
        raise RuntimeError("no chromium on PATH")
    # (its own process group: the renderer and helper processes it starts go with it; one
    # still writing the profile as the folder was removed had failed a loaded test run)
    with tempfile.TemporaryDirectory(prefix="vidcurate-chromium-", ignore_cleanup_errors=True) as tmp:
        log_path = os.path.join(tmp, "chromium.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--remote-debugging-port=0", "--remote-allow-origins=*",
                 f"--user-data-dir={os.path.join(tmp, 'profile')}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        try:
            port = _devtools_port(proc, log_path, timeout_s)
            return asyncio.run(_drive(port, url, expression, width, timeout_s))
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """End Chromium (SIGTERM, 20 s to exit), then whatever of its process group is left (SIGKILL)."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # the whole group is gone
            break
        if sig == signal.SIGTERM:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
    proc.wait()
