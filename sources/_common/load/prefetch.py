"""Fetch a resource's next units (a query's window, a date) ahead of the load that will use them,
on a thread pool that lives for the whole run, so the next chunk's requests go on while dlt
normalizes and loads the previous chunk.

Only data moves ahead, never state: a unit fetched early is held in memory (at most `ahead`
units, fetched or in flight, and at most about `max_bytes` of them, see `note`) until a load
takes it, and progress is committed by that load, so a crash in between loses the prefetched rows
and nothing more.
"""

import functools
import logging
import math
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Hashable, Iterable, Optional

logger = logging.getLogger("metricsync.prefetch")

FetchFn = Callable[[tuple], Any]
HELD_BYTES = (
    128 * 2**20
)  # Arrow held ahead at most, finished or in flight (a month of Stripe by 5,000 customers, compact: ~7 MB)
PACED_AHEAD_SECONDS = 5.0  # paced requests: units held ahead cover this long at the API's rate (loads, a slow start)
MAX_AHEAD = 256
PaceFn = Callable[[], Optional[float]]  # the request starts per second the API is paced at, or None


_fetching = threading.local()  # the unit a prefetch thread is fetching (its `_Run`)


def note(nbytes: int) -> None:
    """A fetch running on a prefetcher's thread holds `nbytes` more (a page converted to Arrow):
    they count against the prefetcher's `max_bytes` as soon as they exist, not once the unit has
    finished, and while the bound is reached the fetch waits here, before its next page, unless
    it is the unit the load needs first (so the load always moves on). No-op on other threads."""
    run = getattr(_fetching, "run", None)
    if run is not None:
        run.prefetcher._note(run, nbytes)


def unit_key(unit: tuple) -> Hashable:
    """(query name, window) for a `(query, window)` unit."""
    query, window = unit
    return query.get("name") if isinstance(query, dict) else query, window


class Skipped(Exception):
    """A unit not started (or not continued) because an earlier one failed (its failure is raised
    first) or the prefetcher closed."""


class _Run:
    """One submitted fetch: the bytes it holds so far, and whether it may not wait (a load is
    waiting for it, or it is no longer expected and is only finishing)."""

    def __init__(self, prefetcher: "Prefetcher") -> None:
        self.prefetcher, self.nbytes, self.urgent = prefetcher, 0, False


class Prefetcher:
    """Fetches the units a resource says it will take next, in that order: at most `workers` in
    flight, at most `ahead` (default 2 x workers) submitted and not yet taken, and at most about
    `max_bytes` held: finished results and, for fetches that `note` their pages, the pages so far.
    Once that is reached no unit starts and running ones pause before their next page, all but
    the one to be taken first (and one a load already waits for), so memory stays bounded however
    long the backfill, however large a window and however many windows run at once (a window
    paged by cursor pauses its page chain, so the bound is also the fetch concurrency's for very
    large windows). While the API's requests are paced (`pace()` gives their rate), `ahead` grows
    to what the API accepts in `PACED_AHEAD_SECONDS`, so the paced schedule goes on through a load
    instead of stopping once `ahead` units wait to be taken. After a unit fails no
    other unit starts: the failure is the run's, and nothing more is asked of the API."""

    def __init__(
        self,
        fetch: FetchFn,
        workers: int,
        ahead: Optional[int] = None,
        max_bytes: int = HELD_BYTES,
        pace: Optional[PaceFn] = None,
    ) -> None:
        self.fetch = fetch
        self.pace = pace
        self.workers = max(1, int(workers))
        self.ahead = max(1, ahead or 2 * self.workers)
        self.max_bytes = max_bytes
        self._pool: Optional[ThreadPoolExecutor] = None
        self._futures: dict[Hashable, Future] = {}  # submitted, not taken
        self._sizes: dict[Hashable, int] = {}  # bytes of each finished, untaken result (counted once)
        self._held = 0  # their sum
        self._runs: dict[Future, _Run] = {}  # submitted and not finished (taken or not), in submission order
        self._flight = 0  # bytes noted by those runs
        self._waiting: deque = deque()  # (key, unit) to submit, in the order they will be taken
        self._failed = self._closed = self._quiet = False
        self._lock = threading.RLock()  # the loading thread and finished fetches both top up
        self._freed = threading.Condition(self._lock)  # bytes were freed, or a run may no longer wait

    def expect(self, units: Iterable[tuple]) -> None:
        """The units to be taken next, in order (replaces the previous expectation; fetches
        already running for units no longer expected are dropped)."""
        wanted = [(unit_key(unit), unit) for unit in units]
        keys = {key for key, _unit in wanted}
        with self._lock:
            for key in [key for key in self._futures if key not in keys]:
                self._drop(key).cancel()
            self._waiting = deque((key, unit) for key, unit in wanted if key not in self._futures)
            self._top_up()

    def take(self, unit: tuple) -> Any:
        """`fetch(unit)`'s result, fetched ahead or now; its failure is raised here."""
        key = unit_key(unit)
        with self._lock:
            if key not in self._futures:
                self._waiting = deque(item for item in self._waiting if item[0] != key)
                self._submit(key, unit)
            future = self._drop(key)
            self._top_up()
        return future.result()

    def ready(self, unit: tuple) -> bool:
        """Whether `take(unit)` would return without waiting (its fetch has finished)."""
        with self._lock:
            return unit_key(unit) in self._sizes

    def held_bytes(self) -> int:
        """Bytes of the results fetched ahead and not yet taken."""
        with self._lock:
            return self._held

    def _drop(self, key: Hashable) -> Future:
        """Stop holding `key`'s fetch (taken or no longer expected: either way it may not wait)."""
        self._held -= self._sizes.pop(key, 0)
        future = self._futures.pop(key)
        self._hurry(future)
        return future

    def _hurry(self, future: Future) -> None:
        run = self._runs.get(future)
        if run is not None:
            run.urgent = True
        self._freed.notify_all()

    def _run(self, run: _Run, unit: tuple) -> Any:
        if self._failed:  # units start in the order they are taken: the failed one comes first
            raise Skipped()
        _fetching.run = run
        try:
            return self.fetch(unit)
        except BaseException:
            self._failed = True
            raise
        finally:
            _fetching.run = None

    def _note(self, run: _Run, nbytes: int) -> None:
        with self._lock:
            run.nbytes += nbytes
            self._flight += nbytes
            while (
                (self._quiet or self._held + self._flight >= self.max_bytes) and not run.urgent and not self._first(run)
            ):
                if self._failed or self._closed:
                    break
                self._freed.wait()
            if self._closed or (self._failed and not run.urgent):
                raise Skipped()

    def _first(self, run: _Run) -> bool:
        """Whether `run` fetches the unit the load takes next (the earliest submitted, not taken)."""
        first = next(iter(self._futures.values()), None)
        return first is not None and self._runs.get(first) is run

    def _submit(self, key: Hashable, unit: tuple) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="metricsync")
        run = _Run(self)
        future = self._futures[key] = self._pool.submit(self._run, run, unit)
        self._runs[future] = run
        future.add_done_callback(functools.partial(self._finished, key))

    def _finished(self, key: Hashable, future: Future) -> None:
        """A fetch ended (or was cancelled): its result's size is counted here, once."""
        with self._lock:
            run = self._runs.pop(future, None)
            self._flight -= run.nbytes if run else 0
            self._freed.notify_all()
            if self._futures.get(key) is future:
                size = _size(future)
                self._sizes[key] = size
                self._held += size
            self._top_up()

    def _ahead(self) -> int:
        rate = self.pace() if self.pace is not None and self._waiting else None
        return max(self.ahead, min(MAX_AHEAD, math.ceil(rate * PACED_AHEAD_SECONDS))) if rate else self.ahead

    def _top_up(self) -> None:
        ahead = self._ahead()
        while (
            self._waiting
            and len(self._runs) < self.workers
            and len(self._futures) < ahead
            and self._held + self._flight < self.max_bytes
        ):
            self._submit(*self._waiting.popleft())

    def quiet(self, on: bool) -> None:
        """While `on`, fetches that note their pages wait before their next page (the warehouse
        load: what a page chain parses then would sit in memory beside it); `quiet(False)` lets
        them go on."""
        with self._lock:
            self._quiet = on
            self._freed.notify_all()

    def close(self, wait: bool = True) -> None:
        """Drop what was fetched ahead and stop the threads (waits for requests in flight, unless
        not `wait`)."""
        with self._lock:
            self._closed = True
            self._freed.notify_all()
            self._waiting.clear()
            for future in self._futures.values():
                future.cancel()
            self._futures.clear()
            self._sizes.clear()
            self._held = 0
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None


def _size(future: Future) -> int:
    """The Arrow size of a finished fetch's result (0 when failed, cancelled or not a table)."""
    if future.cancelled() or future.exception() is not None:
        return 0
    return int(getattr(future.result(), "nbytes", 0) or 0)
