"""Per-provider request limits shared by every thread that talks to one API: requests in flight
and request starts per second, adapted to the API's 429 answers (see ratecontrol.py). With a
rate store (`sources.<provider>.rate_store`) the starts per second and what 429s taught are
shared by every process and host using the same API key (budget.py)."""

import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from metricsync.sources._common.http.ratecontrol import ConcurrencyController, RateController

if TYPE_CHECKING:
    from metricsync.sources._common.http.budget import SharedBudget

logger = logging.getLogger("metricsync.limits")

CONCURRENCY_MARKER = b"concurrency_limit_exceeded"  # Stripe's metric_query[_metric]_concurrency_limit_exceeded


class RequestLimiter:
    """Caps requests in flight (`max_concurrency`, lowered after concurrency 429s) and paces
    request starts at the controller's rate: evenly spaced 1/rate apart, and never more than
    `rate` starts in any sliding second (so a burst that overran the server's window is waited
    out before pacing resumes). `Retry-After` holds back every request start until it has passed.

    With a `budget` (a shared store), request starts are paced by it instead, across processes,
    and a cut rate or a `Retry-After` is published there for every limiter of the same key.

    `clock` and `sleep` are injectable so tests run the controller on a fake clock.
    """

    def __init__(
        self,
        max_concurrency: int = 4,
        requests_per_second: Optional[float] = None,
        *,
        provider: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        budget: Optional["SharedBudget"] = None,
    ) -> None:
        self.provider = provider
        self.budget = budget
        self.max_concurrency = max(1, int(max_concurrency))
        self.rate = RateController(provider, requests_per_second)
        self.concurrency = ConcurrencyController(provider, self.max_concurrency)
        self.clock, self.sleep = clock, sleep
        self.in_flight = 0
        self._free = threading.Condition()
        self._lock = threading.Lock()
        self._shared_turn = threading.Lock()
        self._starts: deque = deque()  # reserved start times of the last second
        self._next_start = 0.0
        self._paused_until = 0.0
        self._paced_at = float("-inf")  # when the rate last held a request start back

    # -- before a request --------------------------------------------------------------------
    def _reserve_start(self) -> float:
        """This request's start time: now, or later as the rate and any Retry-After require."""
        if self.budget is not None:
            return self._reserve_shared(self.budget)
        with self._lock:
            now = self.clock()
            start = max(now, self._paused_until)
            limit = self.rate.limit
            if limit:
                start = max(start, self._next_start)
                while self._starts and self._starts[0] <= start - 1.0:
                    self._starts.popleft()
                cap = self.rate.window_cap()
                if len(self._starts) >= cap:
                    start = max(start, self._starts[-cap] + 1.0)
                self._next_start = start + 1.0 / limit
                if start > now:
                    self._paced_at = now
            self._starts.append(start)
            while len(self._starts) > 100_000:
                self._starts.popleft()
        if start > now:
            self.sleep(start - now)
        return start

    def _reserve_shared(self, budget: "SharedBudget") -> float:
        """A start from the shared budget: after any shared pause, at the rate (a cut another
        process learnt adopted first). One thread of the process asks the store at a time."""
        with self._shared_turn:
            while True:
                pause, cut = budget.state()
                with self._lock:
                    if cut is not None:
                        self.rate.adopt(*cut, self.clock())
                    limit, told = self.rate.limit, self.rate.told
                # a second start at once only where the told rate leaves room for it in any second
                burst = 1 + (told is not None and limit is not None and told - limit >= 1)
                wait = pause or (budget.take(limit, burst) if limit else 0.0)
                if not wait:
                    return self.clock()
                with self._lock:
                    self._paced_at = self.clock()
                self.sleep(wait)

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one concurrency slot for one HTTP attempt; yields the attempt's start time, to
        pass back to `succeeded` / `throttled` before leaving the block."""
        with self._free:
            while self.in_flight >= self.concurrency.allowed:
                self._free.wait()
            self.in_flight += 1
        try:
            yield self._reserve_start()
        finally:
            with self._free:
                self.in_flight -= 1
                self._free.notify()

    def pacing(self) -> Optional[float]:
        """The rate, while it is what holds requests back (a start waited for it in the last
        second); None when unpaced or when the API answers slower than the rate allows."""
        with self._lock:
            return self.rate.limit if self.clock() - self._paced_at < 1.0 else None

    # -- after a response --------------------------------------------------------------------
    def succeeded(self, started: float) -> None:
        if self.budget is not None:  # every process's successes: what a cut is based on
            self.budget.succeeded()
        with self._lock:
            self.rate.on_success(started, self.clock())
            grew = self.concurrency.on_success()
        if grew:
            with self._free:
                self._free.notify()

    def throttled(self, started: float, retry_after: Optional[float] = None, body: bytes = b"") -> None:
        """A 429: cut concurrency (when the body says so) or the rate; hold every start until
        `Retry-After` has passed (with a budget: every limiter of the key)."""
        budget = self.budget
        if budget is not None and retry_after:
            budget.pause(retry_after)
        # a process sees only its share of the key's successes: a cut from it would be far too deep
        accepted = budget.accepted_last_second() if budget is not None else None
        with self._lock:
            now = self.clock()
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            if CONCURRENCY_MARKER in body:
                self.rate.throttled += 1
                self.concurrency.on_throttle(started, now, self.in_flight)
                cut = None
            else:
                cut = (self.rate.limit, self.rate.peak) if self.rate.on_throttle(started, now, accepted) else None
        if budget is not None and cut is not None and cut[0] is not None:
            budget.publish_cut(cut[0], cut[1] or cut[0])

    # -- reporting ---------------------------------------------------------------------------
    def learned(self) -> Optional[str]:
        """What the run learnt, for its summary: None when it was never throttled."""
        rate, concurrency = self.rate, self.concurrency
        if not rate.throttled:
            return None
        parts = [f"{rate.throttled} request(s) throttled"]
        if rate.cuts:
            parts.append(f"learned rate {rate.limit:.1f} requests/s")
        if concurrency.cuts:
            parts.append(f"concurrency {concurrency.allowed}")
        return ", ".join(parts)


_shared: dict = {}
_shared_lock = threading.Lock()
_processes = 1  # processes on this machine sending the same providers' requests at once (`share_among`)


def share_among(processes: int) -> None:
    """This process is one of `processes` running a provider's accounts at once (`--parallel`,
    fanout.py): each of its limiters allows its share of `max_concurrency` in flight (at least
    one), so that together they keep to it (without, N processes would send N times as many, and
    the API's 429s would cut the rate)."""
    global _processes
    _processes = max(1, int(processes))


def shared_limiter(
    provider: str,
    key: str,
    max_concurrency: int,
    requests_per_second: Optional[float],
    rate_store: Optional[str] = None,
) -> RequestLimiter:
    """One limiter per provider and API key for the whole run, so what one load learnt about the
    API's limits holds for the next (the runner calls `forget` when a provider's run begins); with
    a `rate_store`, its budget is shared with every process using the key."""
    ident = (provider, hash(key), int(max_concurrency), requests_per_second, rate_store)
    with _shared_lock:
        limiter = _shared.get(ident)
        if limiter is None:
            budget = None
            if rate_store:
                # only with a store configured: it imports redis and pyrate-limiter
                from metricsync.sources._common.http.budget import SharedBudget  # noqa: PLC0415 - only with a store configured: it imports redis and pyrate-limiter

                budget = SharedBudget(provider, key, rate_store)
            limiter = _shared[ident] = RequestLimiter(
                max(1, int(max_concurrency) // _processes), requests_per_second, provider=provider, budget=budget
            )
        return limiter


def forget(provider: str) -> None:
    with _shared_lock:
        for ident in [i for i in _shared if i[0] == provider]:
            del _shared[ident]


def pace(provider: str) -> Optional[float]:
    """The request starts per second `provider`'s requests are held to now (its slowest pacing
    limiter's), or None while no rate holds them back."""
    with _shared_lock:
        limiters = [limiter for ident, limiter in _shared.items() if ident[0] == provider]
    rates = [rate for rate in (limiter.pacing() for limiter in limiters) if rate]
    return min(rates) if rates else None


def learned(provider: str) -> Optional[str]:
    """The run summary's words on throttling for `provider`, or None."""
    with _shared_lock:
        limiters = [limiter for ident, limiter in _shared.items() if ident[0] == provider]
    notes = [note for note in (limiter.learned() for limiter in limiters) if note]
    return "; ".join(notes) or None
