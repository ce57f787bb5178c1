"""The benchmark's API server, in its own process: every page is rendered once (by the sandbox's
emulators, or by `rowheavy` for the row-heavy scenario) and then served from memory by an asyncio
loop, so the server is not the bottleneck and the floor comes near the ideal
(requests x latency / concurrency).

With `render_each` it renders every request again (the emulator's work in this process, sharing
the CPU with the client, as a slower API on a 2-core CI box would).

It plays the API's limits: `latency` per request, `cap` requests in flight (a request above it
gets 429 at once) and `rate` requests accepted in any sliding second (429 above, not counted;
with `Retry-After: 1` on the paths in `retry_after_paths`, none elsewhere, as Stripe and Statsig
send none). Control endpoints (JSON): `POST /_replay/config`, `GET /_replay/stats`,
`POST /_replay/stats/reset`, `GET /_replay/log` (the requests answered 200 since the last
`/_replay/log/clear`, for the floor to replay). Run: `python -m metricsync.bench.replay` (prints its port).
"""

import asyncio
import json
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Optional
from urllib.parse import parse_qs, parse_qsl, urlsplit

from metricsync.sandbox.messages import SandboxRequest
from metricsync.sandbox.server import Sandbox

from .rowheavy import RowHeavyStripe

REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}


def request_key(mode: str, method: str, target: str, body: bytes) -> tuple:
    parts = urlsplit(target)
    return mode, method, parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))), body


class Replay:
    def __init__(self) -> None:
        self.sandbox = Sandbox(latency=0, log_requests=False)
        self.pool = ThreadPoolExecutor(4)
        self.cache: dict = {}
        self.config = {
            "latency": 0.0,
            "cap": None,
            "rate": None,
            "retry_after_paths": [],
            "record": False,
            "row_heavy": None,
            "render_each": False,
        }
        self.row_heavy: Optional[RowHeavyStripe] = None
        self.in_flight = 0
        self.accepted: deque = deque()
        self.stats = {"requests": 0, "throttled": 0, "rendered": 0, "first_at": 0.0, "last_at": 0.0}
        self.log: list = []

    # -- control ---------------------------------------------------------------------------
    def control(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/_replay/config" and method == "POST":
            self.config.update(json.loads(body or b"{}"))
            days = self.config.get("row_heavy")
            self.row_heavy = RowHeavyStripe(**days) if days else None
            self.accepted.clear()
        elif path == "/_replay/stats/reset":
            before, self.stats = self.stats, dict.fromkeys(self.stats, 0)
            self.accepted.clear()
            return 200, json.dumps(before).encode()
        elif path == "/_replay/log/clear":
            self.log = []
        elif path == "/_replay/log":
            return 200, json.dumps(self.log).encode()
        return 200, json.dumps({**self.stats, "cached": len(self.cache)}).encode()

    # -- pages -----------------------------------------------------------------------------
    def render(self, method: str, target: str, headers: dict, body: bytes, host: str) -> tuple[int, dict, bytes]:
        if self.row_heavy is not None and self.row_heavy.handles(target):
            return self.row_heavy.page(body)
        parts = urlsplit(target)
        request = SandboxRequest(
            method, parts.path, parse_qs(parts.query, keep_blank_values=True), headers, body, time.time()
        )
        response = self.sandbox.dispatch(request, host)
        return response.status, dict(response.headers), response.payload()

    def throttled(self, now: float) -> bool:
        rate = self.config["rate"]
        if not rate:
            return False
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= rate:
            return True
        self.accepted.append(now)
        return False

    async def answer(self, method: str, target: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        path = urlsplit(target).path
        if path.startswith("/_replay/"):
            status, payload = self.control(method, path, body)
            return status, {}, payload
        self.stats["requests"] += 1
        self.stats["first_at"] = self.stats["first_at"] or time.monotonic()
        self.in_flight += 1
        try:
            cap = self.config["cap"]
            if (cap and self.in_flight > cap) or self.throttled(time.monotonic()):
                self.stats["throttled"] += 1
                extra = (
                    {"Retry-After": "1"} if any(path.startswith(p) for p in self.config["retry_after_paths"]) else {}
                )
                await asyncio.sleep(self.config["latency"])
                return 429, extra, b'{"error": {"code": "rate_limit_exceeded", "message": "Too many requests"}}'
            heavy = self.row_heavy is not None and self.row_heavy.handles(target)
            key = self.row_heavy.key(body) if heavy else request_key("sandbox", method, target, body)
            cached = None if self.config["render_each"] else self.cache.get(key)
            if cached is None:
                loop = asyncio.get_running_loop()
                cached = await loop.run_in_executor(
                    self.pool, self.render, method, target, headers, body, headers.get("host", "")
                )
                self.stats["rendered"] += 1
                if cached[0] == 200:
                    self.cache[key] = cached
            if self.config["record"] and cached[0] == 200:
                self.log.append(
                    {
                        "method": method,
                        "path": path,
                        "query": parse_qs(urlsplit(target).query),
                        "headers": headers,
                        "body": body.decode(),
                    }
                )
            await asyncio.sleep(self.config["latency"])
            return cached
        finally:
            self.in_flight -= 1
            self.stats["last_at"] = time.monotonic()

    # -- HTTP/1.1 with keep-alive ------------------------------------------------------------
    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, extra, payload = await self.answer(method, target, headers, body)
                out = [
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(payload)}",
                ]
                out += [f"{k}: {v}" for k, v in extra.items() if k.lower() not in ("content-type", "content-length")]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
            pass
        finally:
            writer.close()


async def serve(port: int = 0) -> None:
    replay = Replay()
    server = await asyncio.start_server(replay.connection, "127.0.0.1", port, backlog=512)
    sys.stdout.write(f"REPLAY-PORT {server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
