"""Per-provider request limits shared by every thread that talks to one API."""

import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional


class RequestLimiter:
    """Caps requests in flight (`max_concurrency`) and the start rate (`requests_per_second`).

    The rate part spaces request starts at least 1/rps apart (a token bucket of depth one), which
    is what the providers' per-second limits count. A few lines, so no dependency for it.
    """

    def __init__(self, max_concurrency: int = 4, requests_per_second: Optional[float] = None):
        self.max_concurrency = max(1, int(max_concurrency))
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._lock = threading.Lock()
        self._next_start = 0.0

    def _wait_for_turn(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
        if start > now:
            time.sleep(start - now)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one concurrency slot for the duration of one HTTP attempt."""
        with self._slots:
            self._wait_for_turn()
            yield
