"""The sandbox HTTP server: routing to the provider emulators, faults, latency, request log.

Control endpoints (JSON), for tests and demos driving a sandbox in another process:
  GET  /_sandbox/requests            the request log
  POST /_sandbox/reset               clear log, faults, revisions and emulator settings
  POST /_sandbox/revise  {"days": 3}  revise the last N days of every provider's data
  POST /_sandbox/restate {"days": 6, "ago": 60}  revise N old days ending `ago` days back (beyond the lookback)
  POST /_sandbox/faults  {"mode": "429", "count": 2, "path": "/api/v1", "retry_after": 1}
                         ("after": 3 lets the first 3 matching requests through first; mode "hang"
                         holds a request unanswered until POST /_sandbox/release, a reset or "delay"
                         seconds, then drops its connection)
  POST /_sandbox/release             answer no more: every held ("hang") request's connection dropped
  POST /_sandbox/settings {"whop": {"row_format": "objects"}, ...}
  POST /_sandbox/tamper  {"path": "/api/v1/stats/time_series", "merge": {"amount": "12abc"}}
                         (a hostile 200 answer: see tamper.py)
  POST /_sandbox/rate    {"per_second": 20, "retry_after": null}  the API's rate limit: at most this
                         many requests accepted in any sliding second, 429 above (logged with fault
                         "rate", `Retry-After` only when given); {"per_second": null} lifts it
"""

import datetime as dt
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

from .data import Revisions, utc_now
from .messages import Response, SandboxRequest
from .posthog import PostHogEmulator
from .statsig import StatsigEmulator
from .stripe import StripeEmulator
from .tamper import Tamper
from .whop import WhopEmulator

FAULT_MODES = (
    "429",
    "429_no_retry_after",
    "429_http_date",
    "500",
    "502",
    "503",
    "slow",
    "garbage",
    "html",
    "truncated",
    "reset",
)
HANG = "hang"  # held until released (not in FAULT_MODES, the retry matrix's: held by its delay alone it is "slow")


@dataclass
class Fault:
    """Answer the next `count` requests whose path starts with `path` with `mode`, after letting
    the first `after` of them through."""

    mode: str
    count: int = 1
    path: str = "/"
    after: int = 0
    retry_after: float = 1
    delay: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in (*FAULT_MODES, HANG):
            raise ValueError(f"unknown fault mode {self.mode!r}; one of {(*FAULT_MODES, HANG)}")


class Sandbox:
    """All four emulators behind one loopback server.

    `clock` is "now" for every emulator (an aware UTC datetime); tests pin it, e.g.
    `Sandbox(clock=lambda: dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.timezone.utc))`.
    """

    def __init__(
        self,
        latency: float = 0.0,
        max_in_flight: Optional[int] = None,
        log_requests: bool = True,
        clock: Callable[[], dt.datetime] = utc_now,
    ):
        self.latency = latency
        self.max_in_flight = max_in_flight
        self.log_requests = log_requests
        self.clock = clock
        self.revisions = Revisions()
        self.emulators = [WhopEmulator(self), StripeEmulator(self), PostHogEmulator(self), StatsigEmulator(self)]
        self.by_name = {e.name: e for e in self.emulators}
        self.requests: list[SandboxRequest] = []
        self.faults: list[Fault] = []
        self.tampers: list[Tamper] = []
        self._lock = threading.Lock()
        self._released = threading.Event()  # set (and replaced) to let go the requests held by "hang"
        self._in_flight = 0
        self.rate_limit: Optional[float] = None  # requests accepted in any sliding second (429 above)
        self.rate_retry_after: Optional[float] = None
        self._accepted: deque = deque()  # arrival times of the requests accepted in the last second
        self.peak_in_flight = 0  # the most requests it was answering at once (tests: was concurrency reached?)
        self._server: Optional[ThreadingHTTPServer] = None
        self.port: Optional[int] = None

    # -- control ---------------------------------------------------------------------------
    @property
    def today(self) -> dt.date:
        """Today in UTC by the sandbox's clock (the runner plans in UTC too)."""
        return self.clock().date()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_fault(self, mode: str, count: int = 1, path: str = "/", **kw: Any) -> None:
        with self._lock:
            self.faults.append(Fault(mode, count, path, **kw))

    def tamper(self, path: str, **edit: Any) -> Tamper:
        """Edit the 200 answers of `path` (a prefix) as `Tamper(path, **edit)` says."""
        tamper = Tamper(path, **edit)
        with self._lock:
            self.tampers.append(tamper)
        return tamper

    def revise(self, days: int) -> None:
        self.revisions.revise_recent(days, self.today)

    def restate(self, days: int, ago: int = 60) -> list[dt.date]:
        """Restate `days` old days ending `ago` days back (see `Revisions.restate`); the days, oldest first."""
        return self.revisions.restate(days, ago, self.today)

    def release(self) -> None:
        """Let go every request a "hang" fault holds (each one's connection dropped)."""
        with self._lock:
            self._released.set()
            self._released = threading.Event()

    def reset(self) -> None:
        self.release()
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.tampers.clear()
            self.peak_in_flight = 0
            self.rate_limit = self.rate_retry_after = None
            self._accepted.clear()
        self.revisions.reset()
        for emulator in self.emulators:
            emulator.reset()

    def seen(self, path_prefix: str = "/", method: Optional[str] = None) -> list[SandboxRequest]:
        with self._lock:
            return [
                r for r in self.requests if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- serving ---------------------------------------------------------------------------
    def start(self, port: int = 0) -> "Sandbox":
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = SandboxRequest(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.time(),
                    client_port=self.client_address[1],
                )
                response = sandbox.dispatch(request, self.headers.get("host", ""))
                if response is None:  # connection reset fault
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                payload = response.payload()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.headers.get("Content-Type", "application/json"))
                    for key, value in response.headers.items():
                        if key != "Content-Type":
                            self.send_header(key, str(value))
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client went away (killed, timed out)
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- dispatch --------------------------------------------------------------------------
    def dispatch(self, request: SandboxRequest, host: str) -> Optional[Response]:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        with self._lock:
            if self.log_requests:
                self.requests.append(request)
            fault = self._take_fault(request.path)
            released = self._released
            over_rate = self._over_rate(time.monotonic())
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            over_limit = self.max_in_flight is not None and self._in_flight > self.max_in_flight
        try:
            if self.latency:
                time.sleep(self.latency)
            if over_limit:
                request.status, request.fault = 429, "concurrency"
                return Response(
                    429, {"error": {"message": "Too many concurrent requests", "code": "concurrency_limit_exceeded"}}
                )
            if over_rate:
                request.status, request.fault = 429, "rate"
                headers = {"Retry-After": f"{self.rate_retry_after:g}"} if self.rate_retry_after else {}
                return Response(
                    429, {"error": {"message": "Too many requests", "code": "rate_limit_exceeded"}}, headers
                )
            if fault is not None:
                request.fault = fault.mode
                if fault.mode == HANG:  # no answer until released (or `delay` s), then the connection drops
                    released.wait(fault.delay)
                    return None
                response = self._fault_response(fault)
                if response is not None and fault.mode != "slow":
                    request.status = response.status
                    return response
                if response is None:
                    return None
            emulator = next((e for e in self.emulators if e.handles(request.path)), None)
            if emulator is None:
                response = Response(404, {"error": {"message": f"no such endpoint {request.path}"}})
            else:
                response = self._tampered(
                    request.path, emulator.handle(request, f"http://{host}" if host else self.url)
                )
            request.status = response.status
            return response
        finally:
            with self._lock:
                self._in_flight -= 1

    def _over_rate(self, now: float) -> bool:
        """True when `rate_limit` requests were accepted in the second before `now` (under the lock)."""
        if not self.rate_limit:
            return False
        while self._accepted and self._accepted[0] <= now - 1.0:
            self._accepted.popleft()
        if len(self._accepted) >= self.rate_limit:
            return True
        self._accepted.append(now)
        return False

    def _tampered(self, path: str, response: Response) -> Response:
        if response.status != 200 or response.raw is not None:
            return response
        with self._lock:
            tamper = next((t for t in self.tampers if t.matches(path)), None)
            if tamper is not None:
                response.body = tamper.apply(response.body)
        return response

    def _take_fault(self, path: str) -> Optional[Fault]:
        for fault in self.faults:
            if fault.count > 0 and path.startswith(fault.path):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.count -= 1
                return fault
        return None

    @staticmethod
    def _fault_response(fault: Fault) -> Optional[Response]:
        mode = fault.mode
        if mode == "429":
            return Response(
                429,
                {"detail": f"Request was throttled. Expected available in {fault.retry_after:g} seconds."},
                {"Retry-After": f"{fault.retry_after:g}"},
            )
        if mode == "429_http_date":
            return Response(
                429,
                {"error": {"message": "rate limited"}},
                {"Retry-After": formatdate(time.time() + fault.retry_after, usegmt=True)},
            )
        if mode == "429_no_retry_after":
            return Response(
                429, {"error": {"message": "Too many requests", "code": "metric_query_rate_limit_exceeded"}}
            )
        if mode in ("500", "502", "503"):
            return Response(int(mode), {"error": {"message": "internal error"}})
        if mode == "slow":
            time.sleep(fault.delay)
            return Response(0)
        if mode == "garbage":
            return Response(200, raw=b"\x00\xffnot json at all", headers={"Content-Type": "application/octet-stream"})
        if mode == "html":
            return Response(200, raw=b"<html><body>Bad gateway</body></html>", headers={"Content-Type": "text/html"})
        if mode == "truncated":
            return Response(200, raw=b'{"data": [{"period": "2025-01-01", "amount": 1')
        return None  # reset

    def _control(self, request: SandboxRequest) -> Response:
        action = request.path[len("/_sandbox/") :].strip("/")
        body = request.json() if request.body else {}
        if action == "requests":
            with self._lock:
                return Response(200, [r.log_entry() for r in self.requests])
        if action == "reset":
            self.reset()
        elif action == "revise":
            self.revise(int(body.get("days", 3)))
        elif action == "restate":
            self.restate(int(body.get("days", 6)), int(body.get("ago", 60)))
        elif action == "faults":
            self.add_fault(**body)
        elif action == "tamper":
            self.tamper(**body)
        elif action == "settings":
            for name, values in body.items():
                self.by_name[name].settings.update(values)
        elif action == "rate":
            with self._lock:
                self.rate_limit, self.rate_retry_after = body.get("per_second"), body.get("retry_after")
                self._accepted.clear()
        elif action == "release":
            self.release()
        elif action == "latency":
            self.latency = float(body.get("seconds", 0))
        else:
            return Response(404, {"error": {"message": f"unknown control {action}"}})
        return Response(200, {"ok": True})
