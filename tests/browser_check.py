#!/usr/bin/env python
"""Check the built book in a real headless Chromium, offline: images, error outputs, widgets, sliders.

    python tests/browser_check.py _build/html [--shots /tmp/shots] [--page method.html ...]

Serves the folder on 127.0.0.1, opens every page in headless Chromium (Debian: apt-get install
chromium) through the DevTools protocol and fails (exit 1) when a page has a broken image, an error
or traceback output, a widget area left blank, a JavaScript exception or a failed request (the book
must not need the network) or a formula MathJax did not typeset. For every slider it finds, it presses the arrow keys and checks that
the picture shown changes, saving screenshots before and after into ``--shots``.

Needs only the standard library and tornado (installed with Jupyter). Not run by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tornado.websocket import websocket_connect

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,1600",
)
SKIP_PAGES = {"genindex.html", "search.html"}

# Evaluated in the page: everything the report needs, as JSON.
# The element a widget view renders into: the html-manager inserts a div.widget-subarea just before the view's
# <script>; two views in one cell output share a parent, so the parent alone would merge their widgets.
WIDGET_BOX_JS = r"""
const widgetBox = s => {
  const prev = s.previousElementSibling;
  return prev && prev.classList.contains('widget-subarea') ? prev : s.parentElement;
};
const widgetViews = () => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
"""

PAGE_STATE_JS = r"""
(() => {""" + WIDGET_BOX_JS + r"""
  const visible = el => !!(el && el.offsetParent !== null && el.getBoundingClientRect().height > 0);
  const imgs = [...document.images];
  const views = widgetViews();
  const areas = views.map(s => {
    const box = widgetBox(s);
    const rect = box.getBoundingClientRect();
    const shown = [...box.querySelectorAll('img')].filter(visible);
    return {
      height: rect.height,
      widgets: box.querySelectorAll('.jupyter-widgets, .widget-subarea').length,
      images: shown.map(i => ({src: i.src.slice(0, 64), w: i.naturalWidth, complete: i.complete})),
      sliders: box.querySelectorAll('.noUi-handle, .widget-slider').length,
      readout: [...box.querySelectorAll('.widget-readout')].map(r => r.textContent.trim()),
    };
  });
  const errors = [...document.querySelectorAll('.output.error, .output.traceback, .output.stderr')]
    .map(e => e.textContent.trim().slice(0, 300))
    .filter(t => !/^\s*$/.test(t));
  return JSON.stringify({
    math: document.querySelectorAll('div.math, span.math').length,
    typeset: document.querySelectorAll('mjx-container').length,
    ready: document.readyState,
    pending: imgs.filter(i => !i.complete).length,
    broken: imgs.filter(i => i.complete && i.naturalWidth === 0).map(i => i.src.slice(0, 120)),
    errors: errors,
    areas: areas,
  });
})()
"""


@dataclass
class PageReport:
    """What was wrong with one page, and what the checks saw."""

    page: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class CDP:
    """A minimal Chrome DevTools Protocol client over one browser websocket (flattened sessions)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str) -> "CDP":
        return cls(await websocket_connect(url, max_message_size=512 * 1024 * 1024))

    async def _read(self) -> None:
        while True:
            message = await self.connection.read_message()
            if message is None:
                for future in self.pending.values():
                    future.set_exception(ConnectionError("the browser closed the DevTools connection"))
                return
            data = json.loads(message)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, params: dict | None = None, session: str | None = None,
                   timeout: float = 30.0) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.connection.write_message(json.dumps(message))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str, session: str):
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self.reader.cancel()
        self.connection.close()


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 on a free port; yield the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@contextlib.contextmanager
def chromium(executable: str):
    """Start headless Chromium with a DevTools port; yield the browser websocket URL."""
    profile = Path(tempfile.mkdtemp(prefix="browser-check-"))
    process = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{executable} did not start (exit status {process.poll()})")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


async def open_page(cdp: CDP, url: str) -> tuple[str, str]:
    """A new tab attached with a flattened session; returns (target id, session id)."""
    target = (await cdp.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
    session = (await cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await cdp.send(f"{domain}.enable", {}, session)
    await cdp.send("Emulation.setDeviceMetricsOverride",
                   {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False}, session)
    await cdp.send("Page.navigate", {"url": url}, session)
    return target, session


async def settle(cdp: CDP, session: str, timeout: float) -> dict:
    """Poll the page until loaded, images done and every widget area filled (or the timeout)."""
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        state = json.loads(await cdp.evaluate(PAGE_STATE_JS, session) or "{}")
        widgets_done = all(a["widgets"] > 0 and a["height"] > 20 for a in state.get("areas", []))
        math_done = state.get("typeset", 0) >= state.get("math", 0)
        if state.get("ready") == "complete" and state.get("pending") == 0 and widgets_done and math_done:
            await asyncio.sleep(0.5)
            return json.loads(await cdp.evaluate(PAGE_STATE_JS, session) or "{}")
        await asyncio.sleep(0.25)
    return state


def session_events(cdp: CDP, session: str) -> list[dict]:
    return [e for e in cdp.events if e.get("sessionId") == session]


def page_failures(cdp: CDP, session: str) -> list[str]:
    """JavaScript exceptions, console errors and failed requests seen by the page."""
    found = []
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in session_events(cdp, session)
            if e.get("method") == "Network.requestWillBeSent"}
    for event in session_events(cdp, session):
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append(f"JavaScript exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            if entry.get("url", "").endswith("/favicon.ico"):  # the browser asks; the book has no favicon
                continue
            found.append(f"console error: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"request failed: {params.get('errorText')} {urls.get(params.get('requestId'), '')}".strip())
    return found


async def screenshot(cdp: CDP, session: str, selector_index: int, path: Path) -> None:
    """Save a PNG of the ``selector_index``-th widget area (scrolled into view)."""
    rect = await cdp.evaluate(
        f"""(() => {{ {WIDGET_BOX_JS} const s = widgetBox(widgetViews()[{selector_index}]);
        s.scrollIntoView({{block: 'center'}});
        const r = s.getBoundingClientRect();
        return JSON.stringify({{x: r.x + window.scrollX, y: r.y + window.scrollY, w: r.width, h: r.height}}); }})()""",
        session)
    box = json.loads(rect)
    await asyncio.sleep(0.3)
    clip = {"x": max(box["x"] - 8, 0), "y": max(box["y"] - 8, 0), "width": box["w"] + 16, "height": box["h"] + 16,
            "scale": 1}
    shot = await cdp.send("Page.captureScreenshot", {"format": "png", "clip": clip}, session)
    path.write_bytes(base64.b64decode(shot["data"]))


async def press(cdp: CDP, session: str, key: str, code: int, times: int) -> None:
    for _ in range(times):
        for kind in ("rawKeyDown", "keyUp"):
            await cdp.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                      "windowsVirtualKeyCode": code}, session)
        await asyncio.sleep(0.15)


async def check_sliders(cdp: CDP, session: str, state: dict, report: PageReport, shots: Path | None) -> None:
    """Move every slider one step and to its end; the visible image and the readout must change."""
    stem = Path(report.page).stem
    for index, area in enumerate(state.get("areas", [])):
        if not area["sliders"]:
            continue
        before = area
        if shots:
            await screenshot(cdp, session, index, shots / f"{stem}-widget{index}-before.png")
        focused = await cdp.evaluate(
            f"""(() => {{ {WIDGET_BOX_JS} const box = widgetBox(widgetViews()[{index}]);
            const h = box.querySelector('.noUi-handle, [role="slider"]');
            if (!h) return false; h.focus(); return document.activeElement === h; }})()""", session)
        if not focused:
            report.problems.append(f"widget {index}: could not focus the slider handle")
            continue
        await press(cdp, session, "ArrowRight", 39, 1)
        middle = json.loads(await cdp.evaluate(PAGE_STATE_JS, session))["areas"][index]
        await press(cdp, session, "End", 35, 1)
        await asyncio.sleep(0.5)
        after = json.loads(await cdp.evaluate(PAGE_STATE_JS, session))["areas"][index]
        if shots:
            await screenshot(cdp, session, index, shots / f"{stem}-widget{index}-after.png")
        report.notes.append(f"widget {index}: readout {before['readout']} -> {middle['readout']} -> {after['readout']}")
        for label, moved in (("one step", middle), ("to the end", after)):
            if moved["readout"] == before["readout"]:
                report.problems.append(f"widget {index}: the slider readout did not change moving {label}")
            if [i["src"] for i in moved["images"]] == [i["src"] for i in before["images"]]:
                report.problems.append(f"widget {index}: the visible image did not change moving {label}")
            if not moved["images"] or any(i["w"] == 0 for i in moved["images"]):
                report.problems.append(f"widget {index}: blank image after moving {label}")


async def check_page(cdp: CDP, base: str, page: str, shots: Path | None, timeout: float) -> PageReport:
    report = PageReport(page)
    target, session = await open_page(cdp, f"{base}/{page}")
    try:
        state = await settle(cdp, session, timeout)
        if not state:
            report.problems.append("the page never answered")
            return report
        report.problems += [f"broken image: {src}" for src in state["broken"]]
        if state["typeset"] < state["math"]:
            report.problems.append(f"math not typeset: {state['math']} formulas, {state['typeset']} rendered by MathJax")
        elif state["math"]:
            report.notes.append(f"{state['math']} formula(s) typeset by MathJax")
        report.problems += [f"error output: {text!r}" for text in state["errors"]]
        for index, area in enumerate(state["areas"]):
            if area["widgets"] == 0 or area["height"] <= 20:
                report.problems.append(f"widget {index}: blank widget area (height {area['height']:.0f}px, "
                                       f"{area['widgets']} rendered widgets)")
            elif any(i["w"] == 0 for i in area["images"]):
                report.problems.append(f"widget {index}: a widget image did not load")
        if state["areas"]:
            report.notes.append(f"{len(state['areas'])} widget area(s) on the page")
        if shots:
            shot = await cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session)
            (shots / f"{Path(page).stem}-page.png").write_bytes(base64.b64decode(shot["data"]))
        await check_sliders(cdp, session, state, report, shots)
        report.problems += page_failures(cdp, session)
    finally:
        await cdp.send("Target.closeTarget", {"targetId": target})
    return report


async def check_site(folder: Path, pages: list[str], executable: str, shots: Path | None,
                     timeout: float) -> list[PageReport]:
    with serve(folder) as base, chromium(executable) as browser:
        cdp = await CDP.connect(browser)
        try:
            return [await check_page(cdp, base, page, shots, timeout) for page in pages]
        finally:
            cdp.close()


def find_chromium(explicit: str | None) -> str:
    for candidate in (explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise SystemExit("no Chromium found: install it (Debian: apt-get install chromium) or pass --chromium PATH")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--page", action="append", help="check only this page (repeatable), e.g. method.html")
    parser.add_argument("--shots", default="/tmp/shots", help="screenshot folder ('' for none)")
    parser.add_argument("--chromium", default=None, help="browser executable (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a page to settle")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        raise SystemExit(f"{args.html} holds no built site (no index.html); run jupyter-book build book/ first")
    pages = args.page or sorted(p.name for p in args.html.glob("*.html") if p.name not in SKIP_PAGES)
    shots = Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    reports = asyncio.run(check_site(args.html, pages, find_chromium(args.chromium), shots, args.timeout))
    failed = False
    for report in reports:
        status = "FAIL" if report.problems else "ok"
        print(f"{status:4} {report.page}")
        for note in report.notes:
            print(f"       {note}")
        for problem in report.problems:
            print(f"     ! {problem}")
        failed |= bool(report.problems)
    if shots:
        print(f"screenshots in {shots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
