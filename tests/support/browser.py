"""Debian's headless Chromium driven over the DevTools protocol (`websocket-client`), for the
report's test: open a file, record every console message, exception and network request, read
the rendered text, take screenshots in the light and the dark colour scheme.

    with Chromium() as browser:
        page = browser.open("/tmp/report.html")
        page.text, page.errors, page.requests, page.screenshot("light")
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
)
START_SECONDS = 60


class Page:
    """One tab's DevTools connection and what it saw."""

    def __init__(self, socket: Any) -> None:
        self.socket, self.next_id = socket, 0
        self.errors: list[str] = []  # console errors, uncaught exceptions, log entries of level error
        self.requests: list[str] = []  # every URL the page asked for

    def call(self, method: str, **params: Any) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> Optional[str]:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])
        return method

    def wait_for(self, event: str, seconds: float = 30) -> None:
        self.socket.settimeout(seconds)
        while self._event(json.loads(self.socket.recv())) != event:
            pass

    def navigate(self, url: str) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    @property
    def text(self) -> str:
        return self.call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)["result"][
            "value"
        ]

    def screenshot(self, scheme: str, path: Path) -> Path:
        """A PNG of the whole page in the `light` or `dark` colour scheme."""
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


class Chromium:
    """A headless Chromium of its own (a new empty profile), ended on exit."""

    def __enter__(self) -> "Chromium":
        self.profile = tempfile.mkdtemp(prefix="metricsync-chromium-")
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file, deadline = Path(self.profile, "DevToolsActivePort"), time.monotonic() + START_SECONDS
        while not port_file.exists() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{CHROMIUM} did not start (exit {self.process.poll()})")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        return self

    def open(self, path: str) -> Page:
        import websocket

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as answer:
            tab = next(t for t in json.load(answer) if t["type"] == "page")
        page = Page(websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=30, suppress_origin=True))
        page.navigate(Path(path).resolve().as_uri())
        return page

    def __exit__(self, *exc: Any) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def available() -> bool:
    return os.access(CHROMIUM, os.X_OK)
