"""Fetch a resource's next units (a query's window, a date) ahead of the load that will use them,
on a thread pool that lives for the whole run, so the next chunk's requests go on while dlt
normalizes and loads the previous chunk.

Only data moves ahead, never state: a unit fetched early is held in memory (at most `ahead`
units, fetched or in flight, and no new start once `max_bytes` of results are held) until a load
takes it, and progress is committed by that load, so a crash in between loses the prefetched rows
and nothing more.
"""

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Hashable, Iterable, Optional

logger = logging.getLogger("metricsync.prefetch")

FetchFn = Callable[[tuple], Any]
HELD_BYTES = 128 * 2**20  # Arrow results held ahead at most (a long Stripe window by customer is ~10 MB)


def unit_key(unit: tuple) -> Hashable:
    """(query name, window) for a `(query, window)` unit."""
    query, window = unit
    return query.get("name") if isinstance(query, dict) else query, window


class Skipped(Exception):
    """A unit not started because an earlier one failed (its failure is raised first)."""


class Prefetcher:
    """Fetches the units a resource says it will take next, in that order: at most `workers` in
    flight, at most `ahead` (default 2 x workers) submitted and not yet taken, and none started
    while the results held reach `max_bytes`, so memory stays bounded however long the backfill
    and however large a window. After a unit fails no other unit starts: the failure is the run's,
    and nothing more is asked of the API."""

    def __init__(self, fetch: FetchFn, workers: int, ahead: Optional[int] = None,
                 max_bytes: int = HELD_BYTES) -> None:
        self.fetch = fetch
        self.workers = max(1, int(workers))
        self.ahead = max(1, ahead or 2 * self.workers)
        self.max_bytes = max_bytes
        self._pool: Optional[ThreadPoolExecutor] = None
        self._futures: dict[Hashable, Future] = {}  # submitted, not taken
        self._waiting: deque = deque()  # (key, unit) to submit, in the order they will be taken
        self._failed = False
        self._lock = threading.RLock()  # the loading thread and finished fetches both top up

    def expect(self, units: Iterable[tuple]) -> None:
        """The units to be taken next, in order (replaces the previous expectation; fetches
        already running for units no longer expected are dropped)."""
        wanted = [(unit_key(unit), unit) for unit in units]
        keys = {key for key, _unit in wanted}
        with self._lock:
            for key in [key for key in self._futures if key not in keys]:
                self._futures.pop(key).cancel()
            self._waiting = deque((key, unit) for key, unit in wanted if key not in self._futures)
            self._top_up()

    def take(self, unit: tuple) -> Any:
        """`fetch(unit)`'s result, fetched ahead or now; its failure is raised here."""
        key = unit_key(unit)
        with self._lock:
            future = self._futures.pop(key, None)
            if future is None:
                self._waiting = deque(item for item in self._waiting if item[0] != key)
                future = self._submit(unit)
            self._top_up()
        return future.result()

    def held_bytes(self) -> int:
        """Bytes of the results fetched ahead and not yet taken."""
        with self._lock:
            return sum(_size(future) for future in self._futures.values())

    def _run(self, unit: tuple) -> Any:
        if self._failed:  # units start in the order they are taken: the failed one comes first
            raise Skipped()
        try:
            return self.fetch(unit)
        except BaseException:
            self._failed = True
            raise

    def _submit(self, unit: tuple) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="metricsync")
        future = self._pool.submit(self._run, unit)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future) -> None:
        with self._lock:
            self._top_up()

    def _top_up(self) -> None:
        running = sum(1 for future in self._futures.values() if not future.done())
        held = sum(_size(future) for future in self._futures.values())
        while self._waiting and running < self.workers and len(self._futures) < self.ahead and held < self.max_bytes:
            key, unit = self._waiting.popleft()
            self._futures[key] = self._submit(unit)
            running += 1

    def close(self, wait: bool = True) -> None:
        """Drop what was fetched ahead and stop the threads (waits for requests in flight, unless
        not `wait`)."""
        with self._lock:
            self._waiting.clear()
            for future in self._futures.values():
                future.cancel()
            self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None


def _size(future: Future) -> int:
    """The Arrow size of a finished fetch's result (0 while running, failed or not a table)."""
    if not future.done() or future.cancelled() or future.exception() is not None:
        return 0
    return int(getattr(future.result(), "nbytes", 0) or 0)
