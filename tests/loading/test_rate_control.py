"""The adaptive rate control in the shared HTTP client, against fake APIs on httpx MockTransport.

Rate tests run on a fake clock: the client's sleeps and the server's latency advance it, so the
assertions are about the requests the server saw and when (in fake seconds), never about how
long the test took.
"""

import threading
import time
from collections import deque
from typing import Optional

import httpx
import pytest
from metricsync.sources._common import ApiClient, Request, RequestLimiter, RetryPolicy

BASE = "https://api.example.com/v1"
FAST = RetryPolicy(max_attempts=20, backoff_base=0.01, backoff_max=0.05)
STRIPE_CONCURRENCY = {
    "error": {
        "code": "metric_query_concurrency_limit_exceeded",
        "type": "rate_limit_error",
        "message": "Too many concurrent metric queries.",
    }
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class RateLimitedApi:
    """Accepts at most `rate` requests in any sliding second (429 above, with `Retry-After` when
    given); each request takes `latency` fake seconds. Logs (arrival time, status)."""

    def __init__(self, clock: FakeClock, rate: int, latency: float = 0.01, retry_after: Optional[float] = None):
        self.clock, self.rate, self.latency, self.retry_after = clock, rate, latency, retry_after
        self.accepted: deque = deque()
        self.log: list[tuple[float, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.now
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        self.clock.now += self.latency
        if len(self.accepted) >= self.rate:
            self.log.append((now, 429))
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after else {}
            return httpx.Response(429, json={"error": {"code": "rate_limit_exceeded"}}, headers=headers)
        self.accepted.append(now)
        self.log.append((now, 200))
        return httpx.Response(200, json={"data": []})

    @property
    def throttled_share(self) -> float:
        return sum(status == 429 for _t, status in self.log) / len(self.log)

    def max_in_any_second(self) -> int:
        times = [t for t, _status in self.log]
        return max(sum(1 for u in times if t <= u < t + 1.0) for t in times)


def fake_clock_client(
    api, clock: FakeClock, requests_per_second: Optional[float] = None, max_concurrency: int = 1
) -> ApiClient:
    limiter = RequestLimiter(max_concurrency, requests_per_second, provider="acme", clock=clock, sleep=clock.sleep)
    return ApiClient(
        "acme",
        BASE,
        auth_headers={"Authorization": "Bearer k"},
        retry=FAST,
        limiter=limiter,
        transport=httpx.MockTransport(api),
    )


def send(client: ApiClient, count: int) -> None:
    for i in range(count):
        client.request(Request("GET", f"/item/{i}"), endpoint="GET /item")


@pytest.mark.parametrize(
    "rate", [pytest.param(10, id="10-per-s"), pytest.param(40, id="40-per-s"), pytest.param(80, id="80-per-s")]
)
def test_not_told_the_rate_it_converges_near_the_servers_limit(rate):
    clock = FakeClock()
    api = RateLimitedApi(clock, rate)
    client = fake_clock_client(api, clock)
    count = rate * 20
    begin = clock.now
    send(client, count)
    ideal = count / rate
    assert clock.now - begin <= 1.25 * ideal
    assert api.throttled_share < 0.05
    assert 0.7 * rate <= client.limiter.rate.limit <= 1.1 * rate
    assert client.limiter.learned().startswith(f"{sum(s == 429 for _t, s in api.log)} request(s) throttled")


def test_told_the_rate_it_paces_smoothly_under_it_without_429s():
    clock = FakeClock()
    api = RateLimitedApi(clock, 40)
    client = fake_clock_client(api, clock, requests_per_second=40)
    begin = clock.now
    send(client, 400)
    assert api.throttled_share == 0
    assert api.max_in_any_second() <= 40
    assert clock.now - begin <= 1.1 * 400 / 40
    starts = [t for t, _status in api.log]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 1 / (40 * 0.97) - 1e-9  # evenly spaced at 97 % of the told rate: no bursts


def test_429s_cut_the_rate_multiplicatively_once_per_episode():
    clock = FakeClock()
    api = RateLimitedApi(clock, 20, latency=0.005)
    client = fake_clock_client(api, clock)
    send(client, 21)  # 20 accepted within 0.1 s, then a 429 and its retry
    assert client.limiter.rate.cuts == 1
    assert client.limiter.rate.limit == pytest.approx(0.85 * 20, rel=0.05)
    throttled_at = next(t for t, status in api.log if status == 429)
    after = [t for t, _status in api.log if t > throttled_at]
    assert after and min(after) >= api.log[0][0] + 1.0  # the overrun second is waited out, not hammered


def test_a_limit_found_twice_is_held_just_under_it_and_a_told_rate_is_one():
    """The second 429 at the same limit cuts to 97% of it (the first to 85%), and the probe beyond
    it slows; told a rate, a 429 near it cuts to 97% and the rate grows straight back."""
    from metricsync.sources._common.http.ratecontrol import RateController

    learnt = RateController("acme")
    for start in range(1, 31):  # 30 accepted within the last second, then a 429
        learnt.on_success(start / 30, start / 30)
    assert learnt.on_throttle(1.0, 1.0) and learnt.limit == pytest.approx(0.85 * 30)
    now = 1.0
    while learnt.limit < 0.99 * 30:  # grows back quickly towards 30 and probes beyond
        now += 1 / learnt.limit
        learnt.on_success(now, now)
    assert learnt.on_throttle(now, now) and learnt.confirmed
    assert learnt.limit == pytest.approx(0.97 * learnt.peak)
    held = learnt.limit
    for _ in range(int(held)):  # one more second: probing by 1% of the limit, not 3%
        now += 1 / learnt.limit
        learnt.on_success(now, now)
    assert learnt.limit - held <= 0.011 * learnt.peak + 1e-9

    told = RateController("acme", requests_per_second=40)
    for start in range(1, 40):
        told.on_success(start / 39, start / 39)
    assert told.on_throttle(1.0, 1.0) and told.limit == pytest.approx(0.97 * 0.97 * 40)
    now = 1.0
    for _ in range(80):  # two seconds: back at the told rate (less its margin, 1% wider), not held under it
        now += 1 / told.limit
        told.on_success(now, now)
    assert told.limit == pytest.approx(0.99 * 0.97 * 40, rel=0.005)
    lower = RateController("acme", requests_per_second=40)  # the API accepts far less than told
    for start in range(1, 21):
        lower.on_success(start / 20, start / 20)
    assert lower.on_throttle(1.0, 1.0) and lower.limit == pytest.approx(0.85 * 20)


def test_pacing_names_the_rate_only_while_it_holds_requests_back():
    clock = FakeClock()
    limiter = RequestLimiter(4, 10, provider="acme", clock=clock, sleep=clock.sleep)
    assert limiter.pacing() is None
    for _ in range(3):
        with limiter.slot() as started:
            limiter.succeeded(started)
    assert limiter.pacing() == pytest.approx(0.97 * 10)  # the second and third start waited for it
    clock.sleep(1.5)
    assert limiter.pacing() is None
    assert RequestLimiter(4, None, provider="acme", clock=clock, sleep=clock.sleep).pacing() is None


@pytest.mark.parametrize("retry_after", [pytest.param(2, id="2s"), pytest.param(5, id="5s")])
def test_retry_after_holds_back_every_request(retry_after):
    clock = FakeClock()
    api = RateLimitedApi(clock, 5, retry_after=retry_after)
    client = fake_clock_client(api, clock)
    send(client, 12)
    for when, status in api.log:
        if status == 429:
            assert all(t >= when + retry_after for t, _s in api.log if t > when)
    limiter = client.limiter
    throttled_at = clock.now
    limiter.throttled(throttled_at, retry_after=3.0)
    with limiter.slot() as started:  # another thread's next request waits the 3 s too
        assert started >= throttled_at + 3.0 - 1e-9
    assert clock.now >= throttled_at + 3.0 - 1e-9  # it slept on the client's clock until then


def test_first_request_throttled_does_not_set_a_rate():
    clock = FakeClock()
    calls = []

    def once_429(request: httpx.Request) -> httpx.Response:
        calls.append(clock.now)
        return httpx.Response(429 if len(calls) == 1 else 200, json={"data": []})

    client = fake_clock_client(once_429, clock)
    send(client, 3)
    assert client.limiter.rate.limit is None and client.limiter.rate.throttled == 1


class ConcurrencyLimitedApi:
    """Stripe-like: more than `allowed` requests in flight get 429 metric_query_concurrency_limit_exceeded."""

    def __init__(self, allowed: int) -> None:
        self.allowed, self.in_flight, self.peak = allowed, 0, 0
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            over = self.in_flight > self.allowed
        time.sleep(0.002)  # keeps requests overlapping; nothing is asserted on time
        with self._lock:
            self.in_flight -= 1
            self.statuses.append(429 if over else 200)
        return httpx.Response(429, json=STRIPE_CONCURRENCY) if over else httpx.Response(200, json={"data": []})


@pytest.mark.parametrize("cap", [pytest.param(3, id="cap-3"), pytest.param(6, id="cap-6")])
def test_concurrency_429s_cut_concurrency_not_rate_and_never_exceed_max_concurrency(cap):
    api = ConcurrencyLimitedApi(allowed=2)
    limiter = RequestLimiter(max_concurrency=cap, provider="stripe_analytics")
    client = ApiClient(
        "stripe_analytics", BASE, auth_headers={}, retry=FAST, limiter=limiter, transport=httpx.MockTransport(api)
    )
    errors: list = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                client.request(Request("POST", f"/q/{n}/{i}"), endpoint="POST /q")
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert api.peak <= cap
    assert limiter.rate.limit is None  # the rate was not cut
    assert limiter.concurrency.cuts >= 1 and limiter.concurrency.allowed <= 3
    assert api.statuses.count(200) == 8 * 15
    assert api.statuses.count(429) < len(api.statuses) * 0.25


def test_a_wait_beyond_max_retry_wait_fails_without_holding_other_requests():
    """A Retry-After longer than `max_retry_wait` fails that request at once; the other requests of
    the provider (e.g. in flight on other threads) are not held for it, so the run ends promptly."""
    from metricsync.sources._common import RetriesExhausted

    clock = FakeClock()
    answers = iter([httpx.Response(429, headers={"Retry-After": "900"}, json={}), httpx.Response(200, json={})])
    limiter = RequestLimiter(2, None, provider="acme", clock=clock, sleep=clock.sleep)
    client = ApiClient(
        "acme",
        BASE,
        auth_headers={"Authorization": "Bearer k"},
        limiter=limiter,
        retry=RetryPolicy(max_attempts=3, max_retry_wait=5),
        transport=httpx.MockTransport(lambda request: next(answers)),
    )
    with pytest.raises(RetriesExhausted, match="900s, more than max_retry_wait"):
        client.request(Request("GET", "/a"), endpoint="GET /a")
    before = clock.now
    client.request(Request("GET", "/b"), endpoint="GET /b")
    assert clock.now - before < 5  # not held back 900 fake seconds


@pytest.mark.parametrize("processes, max_concurrency, each", [(1, 8, 8), (2, 8, 4), (3, 8, 2), (4, 2, 1)])
def test_parallel_processes_split_max_concurrency(processes, max_concurrency, each):
    """`--parallel N` processes (fanout.py) each allow their share of `max_concurrency` in flight,
    at least one, so that together they keep to it."""
    from metricsync.sources._common.http import limits

    limits.share_among(processes)
    try:
        limiter = limits.shared_limiter("share_test", "key", max_concurrency, None)
        assert limiter.max_concurrency == each
    finally:
        limits.share_among(1)
        limits.forget("share_test")
