"""The one HTTP client every source uses: httpx with auth, timeouts, retries and limits.

* Retries (tenacity) with exponential backoff and full jitter on 429, 5xx, 408, timeouts,
  connection errors and a 2xx whose body is not the JSON the endpoint returns (still so after the
  last attempt: exit 3 showing the answer's start, the API's contract broken); `Retry-After`
  (seconds or HTTP date, or PostHog's "Expected available in N seconds") is honoured up to
  `max_retry_wait`, past which the run fails at once with a clear message.
* 4xx answers are not retried: they raise `ApiError`/`AuthError` naming provider, endpoint,
  status, the API's own message and request id, never the key.
* Credentials only go to the configured base URL's origin: a link to another origin is refused.
* `RequestLimiter` bounds requests in flight and their rate for the whole provider, and learns
  the API's limits from its 429 answers (limits.py, ratecontrol.py).
"""

import email.utils
import json
import logging
import os
import random
import re
import ssl
import threading
import time
import weakref
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import orjson
from metricsync.sources._common.config.spec import number
from metricsync.sources._common.errors import (
    ApiError,
    AuthError,
    ConfigError,
    RetriesExhausted,
    TransientError,
    Unreachable,
    shown,
)
from metricsync.sources._common.http.limits import RequestLimiter, shared_limiter
from metricsync.sources._common.http.redaction import redact, register_secret
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

if TYPE_CHECKING:
    from metricsync.sources._common.http.paginators import Paginator

logger = logging.getLogger("metricsync.http")

RETRYABLE_STATUS = {408, 425, 429}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
_EXPECTED_IN = re.compile(r"available in (\d+(?:\.\d+)?) second", re.IGNORECASE)

BodyCheck = Callable[[Any], bool]
_DIGITS = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))  # digits to "1", the rest to "0"
_LONG_DIGITS = b"1" * 19


@dataclass
class RetryPolicy:
    """How hard to try: attempts in all, backoff bounds (seconds), longest Retry-After obeyed."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_wait: float = 300.0


@dataclass
class RequestStats:
    """What one provider's clients sent in this process: attempts, retries and 429 answers
    (read by the runner for progress and the closing line; `reset` before each run)."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    also: Optional["RequestStats"] = None  # counted there too (one account's: its provider's)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, requests: int = 0, retries: int = 0, throttled: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.throttled += throttled
        if self.also is not None:
            self.also.add(requests, retries, throttled)

    def reset(self) -> None:
        with self._lock:
            self.requests = self.retries = self.throttled = 0


_STATS: dict = {}


def request_stats(provider: str) -> RequestStats:
    """The counters shared by every client of `provider` in this process."""
    return _STATS.setdefault(provider, RequestStats())


_LATEST: dict = {}
_SSL: dict = {}
_SSL_LOCK = threading.Lock()


def ssl_context() -> ssl.SSLContext:
    """The certificate-verifying TLS context every client shares: making one loads the CA bundle
    (0.1-0.2 s), which each run would otherwise pay before its first request, and again for each
    load's client. Keyed by `SSL_CERT_FILE` / `SSL_CERT_DIR`, which httpx reads for it."""
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _SSL_LOCK:
        if key not in _SSL:
            _SSL[key] = httpx.create_ssl_context()
        return _SSL[key]


def latest_client(provider: str) -> Optional["ApiClient"]:
    """The client `provider`'s source built last in this process (`check` sends its probe
    requests through it, with the source's own headers and checks)."""
    ref = _LATEST.get(provider)
    return ref() if ref else None


@dataclass
class Request:
    """One page request: a path below the base URL or an absolute link, plus its parameters."""

    method: str
    url: str
    params: Optional[dict] = None
    json: Any = None
    form: Optional[list] = None
    meta: dict = field(default_factory=dict)


def origin(url: str) -> tuple:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def validate_base_url(provider: str, base_url: str, allow_insecure_http: bool = False) -> str:
    """Refuse a base URL that is not http(s), and plain http to anything but loopback."""
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{provider}: base_url {base_url!r} is not an http(s) URL - set sources.{provider}.base_url")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not allow_insecure_http:
        raise ConfigError(
            f"{provider}: base_url {base_url} uses plain http to a non-loopback host, which would send "
            f"the API key unencrypted - use https or set sources.{provider}.allow_insecure_http=true"
        )
    return base_url.rstrip("/")


def parse_retry_after(response: httpx.Response) -> Optional[float]:
    """Seconds to wait from `Retry-After` (delta or HTTP date), or PostHog's detail text."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    match = _EXPECTED_IN.search(response.text[:2000]) if response.status_code == 429 else None
    return float(match.group(1)) if match else None


def api_message(body: Any, fallback: str) -> tuple[str, Optional[str], Optional[str]]:
    """(message, code, request_id) from the common error body shapes of the four providers."""
    if not isinstance(body, dict):
        return fallback, None, None
    error = body.get("error")
    message, code = None, body.get("code")
    if isinstance(error, dict):
        message = error.get("message") or error.get("type")
        code = error.get("code") or code
    elif isinstance(error, str):
        message = error
    message = message or body.get("message") or body.get("detail")
    if not message and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        message = first.get("message") if isinstance(first, dict) else str(first)
    debug = body.get("debug")
    request_id = debug.get("request_id") if isinstance(debug, dict) else body.get("request_id")
    return str(message or fallback), (str(code) if code else None), request_id


class ApiClient:
    """A thread-safe JSON client for one provider (one instance shared by a source's resources)."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        auth_headers: Optional[Mapping[str, str]] = None,
        headers: Optional[Mapping[str, str]] = None,
        secret: Optional[str] = None,
        timeout: float = 30.0,
        retry: Optional[RetryPolicy] = None,
        limiter: Optional[RequestLimiter] = None,
        permission_hint: str = "",
        key_hint: str = "",
        allow_insecure_http: bool = False,
        transport: Optional[httpx.BaseTransport] = None,
        stats: Optional[RequestStats] = None,
    ) -> None:
        self.provider = provider
        self.base_url = validate_base_url(provider, base_url, allow_insecure_http)
        self.origin = origin(self.base_url)
        self.auth_headers = dict(auth_headers or {})
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RequestLimiter()
        self.permission_hint = permission_hint
        self.key_hint = key_hint or f"check sources.{provider}.api_key"
        self._secret = secret
        self.stats = stats or request_stats(provider)
        _LATEST[provider] = weakref.ref(self)
        if secret:
            register_secret(secret)
        self._http = httpx.Client(
            headers={"Accept": "application/json", "User-Agent": "metricsync", **dict(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            transport=transport,
            verify=ssl_context() if transport is None else True,
            limits=httpx.Limits(max_connections=self.limiter.max_concurrency * 2),
        )

    def close(self) -> None:
        self._http.close()

    # -- URLs -------------------------------------------------------------------------------
    def url_for(self, path_or_link: str) -> str:
        """A configured path is appended to the base URL; a link from a response is resolved
        against it and must keep the base URL's origin, or it is refused."""
        if "://" not in path_or_link and not path_or_link.startswith("//"):
            base_path = urlsplit(self.base_url).path
            if base_path and path_or_link.startswith(base_path + "/"):  # root-relative link from a response
                return self.base_url[: -len(base_path)] + path_or_link
            return self.base_url + "/" + path_or_link.lstrip("/")
        url = urljoin(self.base_url + "/", path_or_link)
        if origin(url) != self.origin:
            other = "%s://%s" % origin(url)[:2]
            raise ApiError(
                self.provider,
                "pagination",
                None,
                f"refusing to follow a link to another origin ({other}); credentials are only sent to {self.base_url}",
            )
        return url

    # -- requests ---------------------------------------------------------------------------
    def request(
        self,
        request: Request,
        *,
        endpoint: str,
        check: Optional[BodyCheck] = None,
        decimal: bool = False,
        auth: bool = True,
    ) -> Any:
        """Send `request` with retries; return the parsed JSON body."""
        url = self.url_for(request.url)
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            sleep=self.limiter.sleep,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(request, url, endpoint, check, decimal, auth)
        except TransientError as exc:
            if exc.unreachable:
                raise Unreachable(self.provider, endpoint, urlsplit(url).hostname or url) from None
            if exc.answer is not None:  # a 2xx that stayed unlike the docs: the API's contract, not a fault
                raise ApiError(
                    self.provider,
                    endpoint,
                    exc.status,
                    f"{exc.reason} in all {self.retry.max_attempts} attempts: "
                    f"{shown(redact(exc.answer, [self._secret or '']), 80)}",
                    hint="nothing of this answer was stored; if it persists, report it with this line",
                ) from None
            raise RetriesExhausted(
                self.provider,
                endpoint,
                exc.status,
                f"gave up after {self.retry.max_attempts} attempts, last: {redact(exc.reason, [self._secret or ''])}",
                hint="the API is failing or throttling; the run can be repeated safely",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        attempt = state.attempt_number
        self.stats.add(retries=1)
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return exc.retry_after + random.uniform(0, 0.25)
        ceiling = min(self.retry.backoff_max, self.retry.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def _attempt(self, request: Request, url: str, endpoint: str, check, decimal: bool, auth: bool) -> Any:
        headers = dict(self.auth_headers) if auth else {}
        if request.form is not None:  # httpx only form-encodes a dict; pairs keep repeated keys and order
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.stats.add(requests=1)
        try:
            with self.limiter.slot() as started:
                response = self._http.request(
                    request.method,
                    url,
                    params=request.params,
                    json=request.json,
                    content=urlencode(request.form) if request.form is not None else None,
                    headers=headers,
                )
                content = response.content
                if response.status_code == 429:  # a wait beyond max_retry_wait fails the run: nobody waits it out
                    wait = parse_retry_after(response)
                    self.limiter.throttled(
                        started,
                        wait if wait is not None and wait <= self.retry.max_retry_wait else None,
                        content[:2000],
                    )
                elif response.status_code < 400:
                    self.limiter.succeeded(started)
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:  # refused, DNS failure, no route: retried, then "cannot reach"
            error = TransientError(f"connection error ({type(exc).__name__}: {redact(str(exc))})")
            error.unreachable = True
            raise error from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection error ({type(exc).__name__}: {redact(str(exc))})") from None
        logger.debug("%s %s %s -> %s", self.provider, request.method, endpoint, response.status_code)
        return self._handle(response, content, endpoint, check, decimal)

    def _handle(self, response: httpx.Response, content: bytes, endpoint: str, check, decimal: bool) -> Any:
        status = response.status_code
        if status == 429:
            self.stats.add(throttled=1)
        if status in RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(response)
            if retry_after is not None and retry_after > self.retry.max_retry_wait:
                raise RetriesExhausted(
                    self.provider,
                    endpoint,
                    status,
                    f"throttled: the API asks to retry after {retry_after:.0f}s, more than max_retry_wait "
                    f"({self.retry.max_retry_wait:.0f}s)",
                    hint=f"raise sources.{self.provider}.max_retry_wait or run later",
                )
            raise TransientError(f"HTTP {status}", status, retry_after)
        body = self._parse(content, decimal)
        if 200 <= status < 300:
            if body is _NOT_JSON:
                raise TransientError("a body that is not JSON", status, answer=content[:200].decode("utf-8", "replace"))
            if check is not None and not check(body):
                raise TransientError(
                    "a JSON body without the documented fields", status, answer=content[:200].decode("utf-8", "replace")
                )
            return body
        self._raise_client_error(response, body, endpoint)

    @staticmethod
    def _parse(content: bytes, decimal: bool) -> Any:
        """The body as the standard library's `json` reads it. orjson (a few times faster on
        row-heavy pages) reads it when it gives the same: UTF-8, no money as Decimal, and no run
        of 19 digits (an integer beyond 64 bits would become a float there); otherwise, or when
        orjson refuses the text (NaN, a lone surrogate), `json` reads it."""
        if not decimal and _LONG_DIGITS not in content.translate(_DIGITS):
            try:
                return orjson.loads(content)
            except orjson.JSONDecodeError:
                pass
        try:
            return json.loads(content, parse_float=Decimal if decimal else float)
        except (ValueError, UnicodeDecodeError):
            return _NOT_JSON

    def _raise_client_error(self, response: httpx.Response, body: Any, endpoint: str) -> None:
        status = response.status_code
        fallback = response.reason_phrase or "error"
        if 300 <= status < 400:
            fallback = "unexpected redirect (not followed, credentials stay with the base URL)"
        message, code, request_id = api_message(body if body is not _NOT_JSON else None, fallback)
        message = redact(message, [self._secret or ""])[:300]
        request_id = request_id or response.headers.get("request-id") or response.headers.get("x-request-id")
        if status == 401:
            raise AuthError(
                self.provider,
                endpoint,
                status,
                message,
                code=code,
                request_id=request_id,
                hint=f"the API key was rejected: {self.key_hint}",
            )
        if status == 403:
            hint = f"the key lacks a permission{': ' + self.permission_hint if self.permission_hint else ''}"
            raise AuthError(self.provider, endpoint, status, message, code=code, request_id=request_id, hint=hint)
        raise ApiError(self.provider, endpoint, status, message, code=code, request_id=request_id)

    def pages(
        self,
        first: Request,
        paginator: "Paginator",
        *,
        endpoint: str,
        check=None,
        decimal: bool = False,
        auth: bool = True,
        max_pages: int = 100_000,
    ) -> Iterator[Any]:
        """Yield the body of every page, asking `paginator` for the next request each time."""
        request: Optional[Request] = first
        seen = 0
        while request is not None:
            body = self.request(request, endpoint=endpoint, check=check, decimal=decimal, auth=auth)
            yield body
            seen += 1
            following = paginator.next_request(request, body)
            if following is not None and _same_request(following, request):
                raise ApiError(
                    self.provider,
                    endpoint,
                    None,
                    "pagination did not advance (the API returned the same page link again)",
                    hint=paginator.stuck_hint,
                )
            if seen >= max_pages:
                raise ApiError(self.provider, endpoint, None, f"more than {max_pages} pages; stopping")
            request = following


class _NotJson:
    pass


_NOT_JSON = _NotJson()


def _same_request(a: Request, b: Request) -> bool:
    return (a.url, a.params, a.json, a.form) == (b.url, b.params, b.json, b.form)


def build_client(
    provider: str,
    base_url: str,
    auth_headers: Mapping[str, str],
    *,
    secret: str,
    max_concurrency: int,
    requests_per_second: Optional[float],
    timeout: float,
    max_attempts: int,
    max_retry_wait: float,
    rate_store: Optional[str] = None,
    **options: Any,
) -> ApiClient:
    """A source's client from the settings every source has (each checked against its range in
    `spec`); `options` are the other `ApiClient` arguments (headers, hints, allow_insecure_http).
    The limiter is shared by every client of this provider and key for the whole run, and with a
    `rate_store` its rate budget by every process using the key."""
    retry = RetryPolicy(
        max_attempts=number(provider, "max_attempts", max_attempts),
        max_retry_wait=number(provider, "max_retry_wait", max_retry_wait),
    )
    limiter = shared_limiter(
        provider,
        secret,
        number(provider, "max_concurrency", max_concurrency),
        number(provider, "requests_per_second", requests_per_second),
        rate_store or None,
    )
    return ApiClient(
        provider,
        base_url,
        auth_headers=auth_headers,
        secret=secret,
        timeout=number(provider, "timeout", timeout),
        retry=retry,
        limiter=limiter,
        **options,
    )
