"""Load a page in Debian's headless Chromium over the DevTools protocol, as a reader's browser would.

Returns what a test needs to judge a report: console errors and uncaught
exceptions, failed requests (a self-contained report makes none), the text of
every ``[data-key]`` element, and a full-page PNG screenshot. Talks to
Chromium directly over its DevTools WebSocket (aiohttp), so no browser
download or driver package is needed.

With ``audit=True`` it also runs axe-core (Deque's accessibility engine, from
npm: ``tests/node``, installed by the README's test command) in the page over
DevTools, and lists every SVG text label whose box leaves its chart.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
AXE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "axe-core" / "axe.min.js"
#: Every SVG <text> whose rendered box reaches outside its <svg> (a label cut off or drawn over the edge).
_OVERFLOW_JS = """
[...document.querySelectorAll('svg text')].filter(t => {
  const svg = t.ownerSVGElement.getBoundingClientRect(), box = t.getBoundingClientRect();
  return box.width > 0 && (box.left < svg.left - 0.5 || box.right > svg.right + 0.5 ||
                           box.top < svg.top - 0.5 || box.bottom > svg.bottom + 0.5);
}).map(t => t.textContent.trim())
"""
_AXE_RUN = """
axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))
"""


def chromium_path() -> str | None:
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@dataclass
class PageResult:
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads
    requests: list[str] = field(default_factory=list)  # every URL the page asked for beyond itself
    keyed: dict[str, str] = field(default_factory=dict)  # data-key -> text
    screenshot: bytes = b""
    links: list[str] = field(default_factory=list)  # every link's href, in document order (with tab_through)
    focused: list[str] = field(default_factory=list)  # hrefs reached by pressing Tab (with tab_through)
    violations: list[dict[str, Any]] = field(default_factory=list)  # axe-core's findings (with audit)
    overflowing: list[str] = field(default_factory=list)  # SVG labels that leave their chart (with audit)

    def serious(self) -> list[dict[str, Any]]:
        """axe-core violations of impact serious or critical."""
        return [v for v in self.violations if v["impact"] in ("serious", "critical")]


class _Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.ids, self.events = ws, itertools.count(1), []
        self.pending: dict[int, asyncio.Future] = {}

    async def pump(self) -> None:
        async for msg in self.ws:
            data = msg.json()
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        self.pending[n] = asyncio.get_running_loop().create_future()
        await self.ws.send_json({"id": n, "method": method, "params": params})
        reply = await asyncio.wait_for(self.pending[n], 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})


_TAB = {"key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9, "nativeVirtualKeyCode": 9}


async def _tab_through(session: _Session, result: PageResult) -> None:
    """Press Tab once per focusable element (and a few more), recording the link that has focus each time."""
    links = await session.send("Runtime.evaluate", returnByValue=True,
                               expression="[...document.querySelectorAll('a[href]')].map(a => a.href)")
    result.links = links["result"]["value"]
    stops = await session.send("Runtime.evaluate", returnByValue=True, expression=(
        "document.querySelectorAll('a[href], input, button, select, textarea').length"))
    for _ in range(stops["result"]["value"] + 3):
        await session.send("Input.dispatchKeyEvent", type="keyDown", **_TAB)
        await session.send("Input.dispatchKeyEvent", type="keyUp", **_TAB)
        href = await session.send("Runtime.evaluate", returnByValue=True,
                                  expression="document.activeElement && document.activeElement.href || ''")
        if href["result"]["value"]:
            result.focused.append(href["result"]["value"])


async def _audit(session: _Session, result: PageResult) -> None:
    """axe-core's violations and the SVG labels that overflow, measured in the rendered page."""
    if not AXE.is_file():
        raise FileNotFoundError(f"{AXE} is missing: run `npm ci --prefix tests/node` (the README's test command does)")
    await session.send("Runtime.evaluate", expression=AXE.read_text(encoding="utf-8"))
    found = await session.send("Runtime.evaluate", expression=_AXE_RUN, awaitPromise=True, returnByValue=True)
    result.violations = found["result"]["value"]
    labels = await session.send("Runtime.evaluate", expression=_OVERFLOW_JS, returnByValue=True)
    result.overflowing = labels["result"]["value"]


async def _load(url: str, port: int, top: int, height: int, tab_through: bool = False,
                audit: bool = False) -> PageResult:
    result = PageResult()
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as resp:
            target = await resp.json(content_type=None)
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            session = _Session(ws)
            pump = asyncio.create_task(session.pump())
            for domain in ("Page", "Runtime", "Log", "Network"):
                await session.send(f"{domain}.enable")
            await session.send("Page.navigate", url=url)
            deadline = time.monotonic() + 30
            while not any(e["method"] == "Page.loadEventFired" for e in session.events):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not finish loading")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # let late console messages arrive
            keyed = await session.send("Runtime.evaluate", returnByValue=True, expression=(
                "Object.fromEntries([...document.querySelectorAll('[data-key]')]"
                ".map(e => [e.dataset.key, e.textContent.trim()]))"))
            result.keyed = keyed["result"]["value"]
            if tab_through:
                await _tab_through(session, result)
            if audit:
                await _audit(session, result)
            metrics = await session.send("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            shot = await session.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                      clip={"x": 0, "y": top, "width": size["width"],
                                            "height": max(1, min(size["height"] - top, height)), "scale": 1})
            result.screenshot = base64.b64decode(shot["data"])
            pump.cancel()
    for e in session.events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            result.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif e["method"] == "Runtime.exceptionThrown":
            result.errors.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            result.errors.append("log: " + p["entry"]["text"])
        elif e["method"] == "Network.loadingFailed":
            result.errors.append("failed load: " + p.get("errorText", ""))
        elif e["method"] == "Network.requestWillBeSent" and p["request"]["url"] != url:
            result.requests.append(p["request"]["url"])
    return result


def load_page(path: Path | str, top: int = 0, height: int = 12000, *, tab_through: bool = False,
              audit: bool = False) -> PageResult:
    """Open ``path`` (a local HTML file, or an http:// URL) in a fresh headless Chromium and report what happened.

    The screenshot covers ``height`` CSS pixels of the page from ``top``; ``tab_through`` also walks
    the page with the Tab key and records which links took focus; ``audit`` runs axe-core and the
    SVG label check.
    """
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("no Chromium found (Debian: apt-get install chromium)")
    # Chromium's helper processes may still be writing to the profile as it exits: ignore cleanup races
    with tempfile.TemporaryDirectory(prefix="crosslab-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                 "--disable-dev-shm-usage", "--remote-debugging-port=0",
                                 "--remote-allow-origins=*", f"--user-data-dir={profile}",
                                 "--window-size=1100,900", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("Chromium did not start its DevTools endpoint")
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            url = path if isinstance(path, str) else path.resolve().as_uri()
            return asyncio.run(_load(url, port, top, height, tab_through, audit))
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """End Chromium and every helper process it started (its own session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue
