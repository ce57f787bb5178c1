"""Unit tests for the shared HTTP client: retries, Retry-After, client errors, same-origin links,
base URL validation, request limits and secret redaction. HTTP is faked with httpx.MockTransport."""

import email.utils
import logging
import threading
import time
from typing import Callable, Optional

import httpx
import pytest
from metricsync.sources._common import (
    ApiClient,
    ApiError,
    AuthError,
    NextUrlPaginator,
    Request,
    RequestLimiter,
    RetryPolicy,
)
from metricsync.sources._common.errors import ConfigError, RetriesExhausted
from metricsync.sources._common.http.client import parse_retry_after, ssl_context, validate_base_url
from metricsync.sources._common.http.redaction import RedactingFilter, install_log_redaction, redact, register_secret

BASE = "https://api.example.com/v1"
KEY = "sk_test_Http9Client7Key"
FAST = RetryPolicy(backoff_base=0.01, backoff_max=0.05)
OK_BODY = {"data": [1, 2, 3]}

Handler = Callable[[httpx.Request], httpx.Response]


class Api:
    """A scripted fake API: each request gets the next step (a handler returning a response or
    raising); once the script is used up every request gets `then`. Requests are logged with times."""

    def __init__(self, *steps: Handler, then: Optional[Handler] = None):
        self.steps = list(steps)
        self.then = then or (lambda request: httpx.Response(200, json=OK_BODY))
        self.seen: list[httpx.Request] = []
        self.times: list[float] = []
        self.wall: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.seen.append(request)
            self.times.append(time.monotonic())
            self.wall.append(time.time())
            step = self.steps.pop(0) if self.steps else self.then
        return step(request)

    @property
    def attempts(self) -> int:
        return len(self.seen)

    @property
    def gap(self) -> float:
        """Seconds between the first and the second attempt."""
        return self.times[1] - self.times[0]


def client_for(api: Handler, retry: RetryPolicy = FAST, base_url: str = BASE, **kw) -> ApiClient:
    return ApiClient(
        "acme",
        base_url,
        auth_headers={"Authorization": f"Bearer {KEY}"},
        secret=KEY,
        retry=retry,
        transport=httpx.MockTransport(api),
        **kw,
    )


def status(code: int, **kw) -> Handler:
    return lambda request: httpx.Response(code, **kw)


def raises(exc_type: type, text: str = "simulated") -> Handler:
    def step(request: httpx.Request) -> httpx.Response:
        raise exc_type(text, request=request)

    return step


def get(client: ApiClient, check=None):
    return client.request(Request("GET", "/stats", params={"q": "1"}), endpoint="GET /stats", check=check)


# -- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, check",
    [
        pytest.param(status(429), None, id="429"),
        pytest.param(status(500), None, id="500"),
        pytest.param(status(502, text="<html>Bad gateway</html>"), None, id="502-html"),
        pytest.param(status(503), None, id="503"),
        pytest.param(status(504), None, id="504"),
        pytest.param(status(408), None, id="408"),
        pytest.param(raises(httpx.ReadTimeout), None, id="read-timeout"),
        pytest.param(raises(httpx.ConnectTimeout), None, id="connect-timeout"),
        pytest.param(raises(httpx.ConnectError), None, id="connection-refused"),
        pytest.param(raises(httpx.RemoteProtocolError), None, id="connection-dropped"),
        pytest.param(status(200, text="<html>maintenance</html>"), None, id="200-not-json"),
        pytest.param(status(200, content=b'{"data": [1, 2'), None, id="200-truncated-json"),
        pytest.param(status(200, content=b""), None, id="200-empty-body"),
        pytest.param(status(200, json={"unexpected": True}), lambda body: "data" in body, id="200-failing-check"),
    ],
)
def test_transient_fault_is_retried_then_succeeds(fault, check):
    api = Api(fault, fault)
    assert get(client_for(api), check=check) == OK_BODY
    assert api.attempts == 3
    assert all(r.url.path == "/v1/stats" and r.url.params["q"] == "1" for r in api.seen)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in api.seen)


@pytest.mark.parametrize(
    "fault, last",
    [
        pytest.param(status(503), "HTTP 503", id="503"),
        pytest.param(status(429), "HTTP 429", id="429"),
        pytest.param(raises(httpx.ReadTimeout), "timeout (ReadTimeout)", id="timeout"),
    ],
)
def test_attempts_are_bounded_then_retries_exhausted_names_provider_and_endpoint(fault, last):
    api = Api(then=fault)
    with pytest.raises(RetriesExhausted) as caught:
        get(client_for(api, RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05)))
    assert api.attempts == 3
    message = str(caught.value)
    assert message.startswith("acme: GET /stats failed")
    assert "gave up after 3 attempts" in message and last in message
    assert KEY not in message
    assert caught.value.exit_code == 5


@pytest.mark.parametrize(
    "fault, check, line",
    [
        pytest.param(
            status(200, json={"status": "maintenance"}),
            lambda body: "data" in body,
            "acme: GET /stats failed (HTTP 200): a JSON body without the documented fields in all 3 attempts: "
            '\'{"status":"maintenance"}\' - nothing of this answer was stored; if it persists, report it '
            "with this line",
            id="json-without-the-list",
        ),
        pytest.param(
            status(200, text=f"<html>down for {KEY}</html>"),
            None,
            "acme: GET /stats failed (HTTP 200): a body that is not JSON in all 3 attempts: "
            "'<html>down for ***</html>' - nothing of this answer was stored; if it persists, report it "
            "with this line",
            id="not-json",
        ),
    ],
)
def test_a_2xx_unlike_the_docs_in_every_attempt_is_exit_3_showing_the_answer(fault, check, line):
    api = Api(then=fault)
    with pytest.raises(ApiError) as caught:
        get(client_for(api, RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05)), check=check)
    assert api.attempts == 3
    assert str(caught.value) == line
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(raises(httpx.ConnectError, f"[Errno 111] Connection refused for {KEY}"), id="refused"),
        pytest.param(raises(httpx.ConnectError, "[Errno -2] Name or service not known"), id="dns"),
    ],
)
def test_an_unreachable_host_is_retried_then_named_with_the_setting_to_check(error):
    api = Api(then=error)
    with pytest.raises(RetriesExhausted) as caught:
        get(client_for(api, RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05)))
    assert api.attempts == 3
    assert str(caught.value) == "acme: cannot reach api.example.com - check sources.acme.base_url"
    assert caught.value.exit_code == 5


@pytest.mark.parametrize(
    "faults, requests, retries, throttled",
    [
        pytest.param([], 1, 0, 0, id="first-try"),
        pytest.param([status(429), status(503)], 3, 2, 1, id="429-then-503"),
        pytest.param([raises(httpx.ReadTimeout)], 2, 1, 0, id="timeout"),
    ],
)
def test_request_counters_count_attempts_retries_and_429s(faults, requests, retries, throttled):
    from metricsync.sources._common.http.client import request_stats

    stats = request_stats("acme")
    stats.reset()
    api = Api(*faults)
    assert get(client_for(api, RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05))) == OK_BODY
    assert (
        (stats.requests, stats.retries, stats.throttled)
        == (requests, retries, throttled)
        == (api.attempts, api.attempts - 1, throttled)
    )


def test_success_needs_no_retry_and_parses_decimals_on_request():
    api = Api(then=status(200, content=b'{"amount": 0.1, "n": 3}'))
    client = client_for(api)
    body = client.request(Request("GET", "/stats"), endpoint="GET /stats", decimal=True)
    assert api.attempts == 1
    assert str(body["amount"]) == "0.1" and type(body["amount"]).__name__ == "Decimal"
    assert get(client) == {"amount": 0.1, "n": 3}


@pytest.mark.parametrize(
    "content, expected",
    [
        pytest.param(
            b'{"n": 123456789012345678901234567890}',
            {"n": 123456789012345678901234567890},
            id="integer-beyond-64-bits-stays-exact",
        ),
        pytest.param(b'{"n": -9999999999999999999}', {"n": -9999999999999999999}, id="negative-beyond-64-bits"),
        pytest.param(b'{"n": 9223372036854775807, "x": 0.1}', {"n": 9223372036854775807, "x": 0.1}, id="64-bit"),
        pytest.param(b'{"n": NaN}', "nan", id="nan"),
        pytest.param(b'\xef\xbb\xbf{"n": 1}', {"n": 1}, id="utf-8-bom"),
        pytest.param('{"n": "é"}'.encode("utf-16"), {"n": "é"}, id="utf-16"),
        pytest.param(b'{"n": 1, "n": 2}', {"n": 2}, id="repeated-key-last-wins"),
    ],
)
def test_bodies_are_read_exactly_as_json_reads_them(content, expected):
    body = get(client_for(Api(then=status(200, content=content))))
    if expected == "nan":
        assert body["n"] != body["n"]
    else:
        assert body == expected and all(type(body[k]) is type(expected[k]) for k in expected)


@pytest.mark.parametrize(
    "form, expected",
    [
        pytest.param(
            [("metrics[0][id]", "mrr"), ("group_by[]", "a"), ("group_by[]", "b")],
            b"metrics%5B0%5D%5Bid%5D=mrr&group_by%5B%5D=a&group_by%5B%5D=b",
            id="repeated-keys-in-order",
        ),
        pytest.param([("limit", 100), ("q", "a b&c")], b"limit=100&q=a+b%26c", id="non-text-and-escaping"),
        pytest.param([], b"", id="empty"),
    ],
)
def test_form_pairs_are_sent_form_encoded(form, expected):
    api = Api()
    client_for(api).request(Request("POST", "/query", form=form), endpoint="POST /query")
    assert api.seen[0].content == expected
    assert api.seen[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_auth_false_sends_no_credentials():
    api = Api()
    client_for(api).request(Request("GET", "/public"), endpoint="GET /public", auth=False)
    assert "authorization" not in api.seen[0].headers
    assert api.seen[0].headers["accept"] == "application/json"


# -- Retry-After -----------------------------------------------------------------------------------


def _http_date_in(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@pytest.mark.parametrize(
    "throttled, wait",
    [
        pytest.param(status(429, headers={"Retry-After": "1"}), 1.0, id="seconds-429"),
        pytest.param(status(503, headers={"Retry-After": "1.2"}), 1.2, id="fractional-seconds-503"),
        pytest.param(
            status(
                429,
                json={
                    "type": "throttled_error",
                    "code": "throttled",
                    "detail": "Request was throttled. Expected available in 1 second.",
                },
            ),
            1.0,
            id="posthog-detail",
        ),
    ],
)
def test_retry_after_is_honoured(throttled, wait):
    api = Api(throttled)
    assert get(client_for(api)) == OK_BODY
    assert api.attempts == 2
    assert api.gap >= wait


def test_retry_after_http_date_is_waited_for_until_that_time():
    when = time.time() + 2
    api = Api(status(429, headers={"Retry-After": email.utils.formatdate(when, usegmt=True)}))
    get(client_for(api))
    assert api.wall[1] >= int(when)  # HTTP dates have whole seconds


@pytest.mark.parametrize(
    "throttled, asked",
    [
        pytest.param(status(429, headers={"Retry-After": "3600"}), "3600s", id="header-429"),
        pytest.param(status(503, headers={"Retry-After": "120"}), "120s", id="header-503"),
        pytest.param(
            status(429, json={"detail": "Request was throttled. Expected available in 86400 seconds."}),
            "86400s",
            id="posthog-detail",
        ),
    ],
)
def test_retry_after_above_max_retry_wait_fails_at_once(throttled, asked):
    api = Api(then=throttled)
    with pytest.raises(RetriesExhausted) as caught:
        get(client_for(api, RetryPolicy(max_retry_wait=60, backoff_base=0.01, backoff_max=0.05)))
    assert api.attempts == 1
    message = str(caught.value)
    assert message.startswith("acme: GET /stats failed (HTTP")
    assert asked in message and "max_retry_wait (60s)" in message
    assert "sources.acme.max_retry_wait" in message


@pytest.mark.parametrize(
    "response, expected",
    [
        pytest.param(httpx.Response(429, headers={"Retry-After": "5"}), 5.0, id="seconds"),
        pytest.param(httpx.Response(503, headers={"Retry-After": " 1.5 "}), 1.5, id="fraction-padded"),
        pytest.param(httpx.Response(429, headers={"Retry-After": "-3"}), 0.0, id="negative-is-zero"),
        pytest.param(
            httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), 0.0, id="past-date-is-zero"
        ),
        pytest.param(httpx.Response(429, headers={"Retry-After": "soon"}), None, id="garbage"),
        pytest.param(httpx.Response(429), None, id="absent"),
        pytest.param(
            httpx.Response(429, json={"detail": "Expected available in 12 seconds."}), 12.0, id="posthog-detail"
        ),
        pytest.param(
            httpx.Response(429, headers={"Retry-After": "2"}, json={"detail": "Expected available in 12 seconds."}),
            2.0,
            id="header-wins-over-detail",
        ),
        pytest.param(
            httpx.Response(503, json={"detail": "Expected available in 12 seconds."}),
            None,
            id="detail-only-read-on-429",
        ),
    ],
)
def test_parse_retry_after(response, expected):
    assert parse_retry_after(response) == expected


def test_parse_retry_after_future_http_date():
    response = httpx.Response(429, headers={"Retry-After": _http_date_in(30)})
    assert 28.0 <= parse_retry_after(response) <= 30.0


# -- client errors ---------------------------------------------------------------------------------

WHOP_ERROR = {
    "error": {"message": f"Invalid API key {KEY} for this route", "type": "invalid_request_error"},
    "debug": {"request_id": "req_whop_42"},
}


@pytest.mark.parametrize(
    "code, body, headers, error_type, expected",
    [
        pytest.param(
            400,
            WHOP_ERROR,
            {},
            ApiError,
            ["HTTP 400", "Invalid API key *** for this route", "[request_id req_whop_42]"],
            id="400-whop",
        ),
        pytest.param(
            401,
            WHOP_ERROR,
            {},
            AuthError,
            [
                "HTTP 401",
                "Invalid API key ***",
                "req_whop_42",
                "the API key was rejected",
                "check sources.acme.api_key",
            ],
            id="401",
        ),
        pytest.param(
            403,
            {"error": {"message": f"key {KEY} lacks scope", "code": "forbidden"}, "debug": {"request_id": "req_7"}},
            {},
            AuthError,
            ["HTTP 403, forbidden", "key *** lacks scope", "req_7", "the key lacks a permission: stats:read"],
            id="403-permission-hint",
        ),
        pytest.param(
            404,
            {"detail": "Not found.", "code": "not_found"},
            {"x-request-id": "hdr_9"},
            ApiError,
            ["HTTP 404, not_found", "Not found.", "[request_id hdr_9]"],
            id="404-posthog",
        ),
        pytest.param(
            400,
            {"error": {"type": "invalid_request_error", "message": "Unknown metric mrrr", "code": "parameter_invalid"}},
            {"request-id": "req_stripe"},
            ApiError,
            ["HTTP 400, parameter_invalid", "Unknown metric mrrr", "req_stripe"],
            id="400-stripe",
        ),
        pytest.param(
            422,
            {"message": "Validation failed", "errors": [{"message": "bad"}]},
            {},
            ApiError,
            ["HTTP 422", "Validation failed"],
            id="422-statsig",
        ),
        pytest.param(
            400, {"errors": [f"bad key {KEY}"]}, {}, ApiError, ["HTTP 400", "bad key ***"], id="400-errors-list"
        ),
        pytest.param(404, None, {}, ApiError, ["HTTP 404", "Not Found"], id="404-html-body"),
        pytest.param(
            302,
            None,
            {"location": "https://evil.example.com/"},
            ApiError,
            ["HTTP 302", "unexpected redirect (not followed"],
            id="redirect-not-followed",
        ),
    ],
)
def test_client_error_is_not_retried_and_names_everything_but_the_key(code, body, headers, error_type, expected):
    content = b"<html>nope</html>" if body is None else None
    api = Api(
        then=status(code, json=body, headers=headers)
        if body is not None
        else status(code, content=content, headers=headers)
    )
    client = client_for(api, permission_hint="stats:read")
    with pytest.raises(ApiError) as caught:
        get(client)
    assert api.attempts == 1
    assert type(caught.value) is error_type
    message = str(caught.value)
    assert message.startswith("acme: GET /stats failed (")
    assert caught.value.status == code
    for part in expected:
        assert part in message
    assert KEY not in message and KEY not in caught.value.api_message
    assert "\n" not in message


def test_api_error_fields():
    api = Api(then=status(403, json={"error": {"message": "no", "code": "forbidden"}, "debug": {"request_id": "r1"}}))
    with pytest.raises(AuthError) as caught:
        get(client_for(api))
    error = caught.value
    assert (error.status, error.code, error.api_message, error.request_id) == (403, "forbidden", "no", "r1")
    assert error.exit_code == 4


# -- same origin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        pytest.param("http://api.example.com/v1/stats?offset=2", id="other-scheme"),
        pytest.param("https://evil.example.com/v1/stats?offset=2", id="other-host"),
        pytest.param("https://api.example.com.evil.net/v1/stats", id="suffix-host"),
        pytest.param("https://api.example.com:8443/v1/stats?offset=2", id="other-port"),
        pytest.param("//evil.example.com/v1/stats", id="scheme-relative"),
        pytest.param("https://api.example.com@evil.example.com/v1/stats", id="userinfo-trick"),
    ],
)
def test_link_to_another_origin_is_refused_and_never_requested(link):
    api = Api(then=lambda request: httpx.Response(200, json={"results": [1], "next": link}))
    client = client_for(api)
    with pytest.raises(ApiError, match="refusing to follow a link to another origin"):
        client.url_for(link)
    pages = client.pages(Request("GET", "/stats"), NextUrlPaginator(), endpoint="GET /stats")
    assert next(pages) == {"results": [1], "next": link}
    with pytest.raises(ApiError) as caught:
        next(pages)
    assert "acme" in str(caught.value) and "https://api.example.com/v1" in str(caught.value)
    assert [str(r.url) for r in api.seen] == ["https://api.example.com/v1/stats"]


@pytest.mark.parametrize(
    "base_url, link, expected",
    [
        pytest.param(BASE, "/stats", "https://api.example.com/v1/stats", id="configured-path"),
        pytest.param(BASE, "stats?offset=2", "https://api.example.com/v1/stats?offset=2", id="relative"),
        pytest.param(
            BASE,
            "https://API.example.com:443/v1/stats?offset=2",
            "https://API.example.com:443/v1/stats?offset=2",
            id="absolute-same-origin-default-port",
        ),
        pytest.param(
            "https://api.example.com",
            "/v2/items?page=pg_2",
            "https://api.example.com/v2/items?page=pg_2",
            id="root-relative-no-base-path",
        ),
        pytest.param(
            "http://127.0.0.1:8080/console/v1",
            "/console/v1/metrics/list?cursor=c2",
            "http://127.0.0.1:8080/console/v1/metrics/list?cursor=c2",
            id="root-relative-with-base-path",
        ),
    ],
)
def test_links_resolve_against_the_base_url(base_url, link, expected):
    api = Api()
    client = client_for(api, base_url=base_url)
    assert client.url_for(link) == expected
    client.request(Request("GET", link), endpoint="GET /x")
    assert str(api.seen[0].url).lower() == expected.lower().replace(":443", "")


# -- base URL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url, allow, expected",
    [
        pytest.param("https://api.example.com/v1/", False, "https://api.example.com/v1", id="https-trailing-slash"),
        pytest.param("http://localhost:8080/", False, "http://localhost:8080", id="http-localhost"),
        pytest.param("http://127.0.0.1:9000/api", False, "http://127.0.0.1:9000/api", id="http-127"),
        pytest.param("http://[::1]:9000", False, "http://[::1]:9000", id="http-ipv6-loopback"),
        pytest.param("http://metrics.internal", True, "http://metrics.internal", id="http-allowed-explicitly"),
    ],
)
def test_validate_base_url_accepts(base_url, allow, expected):
    assert validate_base_url("acme", base_url, allow) == expected


@pytest.mark.parametrize(
    "base_url, needle",
    [
        pytest.param("ftp://api.example.com", "is not an http(s) URL", id="ftp"),
        pytest.param("api.example.com/v1", "is not an http(s) URL", id="no-scheme"),
        pytest.param("", "is not an http(s) URL", id="empty"),
        pytest.param("https://", "is not an http(s) URL", id="no-host"),
        pytest.param("http://api.example.com", "sources.acme.allow_insecure_http=true", id="plain-http-remote"),
        pytest.param("http://10.0.0.5:8080", "unencrypted", id="plain-http-private-ip"),
    ],
)
def test_validate_base_url_refuses(base_url, needle):
    with pytest.raises(ConfigError) as caught:
        validate_base_url("acme", base_url)
    assert str(caught.value).startswith("acme: base_url") and needle in str(caught.value)
    with pytest.raises(ConfigError):
        client_for(Api(), base_url=base_url)


# -- request limits --------------------------------------------------------------------------------


def _concurrent_requests(client: ApiClient, count: int) -> None:
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            client.request(Request("GET", f"/item/{i}"), endpoint="GET /item")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


@pytest.mark.parametrize("cap", [pytest.param(1, id="serial"), pytest.param(3, id="three")])
def test_limiter_caps_requests_in_flight(cap):
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.03)
        with lock:
            in_flight[0] -= 1
        return httpx.Response(200, json=OK_BODY)

    api = Api(then=slow)
    _concurrent_requests(client_for(api, limiter=RequestLimiter(max_concurrency=cap)), 10)
    assert api.attempts == 10
    assert peak[0] == cap


def test_limiter_spaces_request_starts():
    api = Api()
    count, rps = 6, 20.0
    begin = time.monotonic()
    _concurrent_requests(client_for(api, limiter=RequestLimiter(max_concurrency=4, requests_per_second=rps)), count)
    assert api.attempts == count
    assert max(api.times) - begin >= (count - 1) / rps - 0.001


# -- redaction -------------------------------------------------------------------------------------


def test_client_registers_its_secret_and_redact_masks_it():
    client_for(Api())
    assert redact(f"Authorization: Bearer {KEY}!") == "Authorization: Bearer ***!"


@pytest.mark.parametrize(
    "secrets, text, extra, expected",
    [
        pytest.param(["tok_Redact_1a2b3c"], "key=tok_Redact_1a2b3c&x=1", (), "key=***&x=1", id="registered"),
        pytest.param([], "key=adhoc_Zz9", ["adhoc_Zz9"], "key=***", id="extra"),
        pytest.param(["ab"], "grab a cab", (), "grab a cab", id="too-short-not-registered"),
        pytest.param(["ovl_Q7w8", "ovl_Q7w8_longer"], "[ovl_Q7w8_longer]", (), "[***]", id="longest-first"),
    ],
)
def test_register_secret_and_redact(secrets, text, extra, expected):
    for secret in secrets:
        register_secret(secret)
    assert redact(text, extra) == expected


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


LOG_SECRET = "lg_Secret_5e6f7a8b"


def _log_in_message(logger: logging.Logger) -> None:
    logger.warning(f"calling with {LOG_SECRET}")


def _log_in_args(logger: logging.Logger) -> None:
    logger.warning("calling %s with %s", "GET /x", {"key": LOG_SECRET})


def _log_in_exception(logger: logging.Logger) -> None:
    try:
        raise ValueError(f"bad key {LOG_SECRET}")
    except ValueError:
        logger.exception("request failed")


@pytest.mark.parametrize(
    "emit, expected",
    [
        pytest.param(_log_in_message, "WARNING calling with ***", id="message"),
        pytest.param(_log_in_args, "WARNING calling GET /x with {'key': '***'}", id="args"),
        pytest.param(_log_in_exception, "ValueError: bad key ***", id="exception-text"),
    ],
)
def test_redacting_filter_masks_secrets_in_log_records(emit, expected):
    register_secret(LOG_SECRET)
    logger = logging.getLogger("metricsync.test.redaction")
    handler = _Collect()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    output = "\n".join(handler.lines)
    assert expected in output
    assert LOG_SECRET not in output


def test_install_log_redaction_adds_one_filter_to_root_handlers():
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction()
        install_log_redaction()
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


def test_clients_share_one_verifying_tls_context_made_again_for_other_ca_settings(monkeypatch):
    """Making a TLS context loads the CA bundle: every client of the process shares one (a run's
    first request does not wait for it again), still verifying, and `SSL_CERT_FILE` still counts."""
    import ssl

    import certifi

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    shared = ssl_context()
    assert shared is ssl_context()
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert ssl_context() is not shared
