"""How fast to send: additive-increase / multiplicative-decrease control of a provider's request
rate and concurrency, learnt from 429 answers the way TCP learns bandwidth from lost packets.

Pure bookkeeping on timestamps (no threads, no clock of its own), so tests drive it with a fake
clock. `RequestLimiter` (limits.py) asks `limit` before each request start and reports outcomes.

* Not told a rate: requests are not paced until the first 429. Then the rate is cut to
  `BETA` x the successful request starts of the last second (what the server accepted), and grows
  again on every success: quickly back towards the rate where it was throttled, then by
  `PROBE` of it per second beyond, until the next 429 cuts it again. A 429 at `CONFIRM` or more of
  the rate of the last one has found the API's limit again: the rate is then held just under it
  (`MARGIN`, as for a told rate) and probes beyond it only by `PROBE_CONFIRMED` per second, so the
  pace stays near the limit instead of sawing between it and `BETA` of it.
* Told a rate (`requests_per_second`): it starts there (less a small `MARGIN`, so that a sliding
  one-second window on the server never counts more) and never goes above; a 429 still cuts
  (by `MARGIN` when it came near the told rate, growing quickly back to it less another
  `JITTER_STEP`, since the API's clock or the network jittered by more than the margin; by `BETA`
  when the API accepted far less).
* A 429 for a request sent before the last cut is the same overload episode: no second cut.
* Concurrency: a 429 saying *concurrency* (Stripe's `*_concurrency_limit_exceeded`) lowers the
  requests allowed in flight instead of the rate; it grows back by one after `allowed` x
  `CONCURRENCY_PATIENCE` successes, never above `max_concurrency`.
"""

import logging
import math
from collections import deque
from typing import Optional

logger = logging.getLogger("metricsync.limits")

BETA = 0.85  # multiplicative decrease
PROBE = 0.03  # additive increase per second beyond the last throttled rate, as a share of it
CONFIRM = 0.9  # a 429 at this share of the last throttled rate or more: the same limit, found again
PROBE_CONFIRMED = 0.01  # the additive increase beyond a limit found twice
MARGIN = 0.97  # of a told rate, for clock skew and network jitter between client and server
MIN_RATE = 0.5  # requests per second, the floor of any cut
JITTER_STEP = 0.01  # a 429 near a told rate widens its margin by this share of it ...
JITTER_FLOOR = 0.9  # ... down to this share of the told rate at most
CONCURRENCY_PATIENCE = 20


class RateController:
    """The allowed request starts per second (`limit`, None while unpaced)."""

    def __init__(self, provider: str = "", requests_per_second: Optional[float] = None) -> None:
        self.provider = provider
        self.told = requests_per_second
        self.ceiling = requests_per_second * MARGIN if requests_per_second else None
        self.limit: Optional[float] = self.ceiling
        self.peak: Optional[float] = self.ceiling  # the rate at the last throttle: where to grow back to
        self.last_cut = float("-inf")
        self.confirmed = False  # the last two cuts found the same limit
        self.successes = self.throttled = self.cuts = 0
        self._ok: deque = deque()  # start times of successful requests, the last second or two

    def on_success(self, started: float, now: float) -> None:
        self.successes += 1
        self._ok.append(started)
        while self._ok and self._ok[0] <= now - 2.0:
            self._ok.popleft()
        if self.limit is None:
            return
        reference = self.peak or self.limit
        if self.confirmed and not self.told:  # back quickly to just under the limit found twice, then probe slowly
            per_second = max(PROBE_CONFIRMED * reference, MARGIN * reference - self.limit, 0.1)
        else:
            per_second = max(PROBE * reference, reference - self.limit, 0.1)
        self.limit += per_second / self.limit
        if self.ceiling:
            self.limit = min(self.limit, self.ceiling)

    def window_cap(self) -> int:
        """Request starts allowed in any sliding second: what even spacing at `limit` can put in
        one (its ceiling), never more than a told rate."""
        cap = max(1, math.ceil(self.limit - 1e-9)) if self.limit else 1
        return min(cap, max(1, int(self.told))) if self.told else cap

    def accepted_last_second(self, now: float) -> int:
        return sum(1 for started in self._ok if started > now - 1.0)

    def adopt(self, rate: float, peak: float, now: float) -> None:
        """A cut another process sharing the key's budget made (to `rate`, throttled at `peak`):
        paced at it from now (a 429 for a request started before is the same episode), growing
        back as after a cut of its own."""
        self.limit = max(MIN_RATE, min(rate, self.ceiling) if self.ceiling else rate)
        self.peak = peak
        self.last_cut = now
        logger.info(
            "%s: throttled (429) in another process of this key: pacing at %.1f requests/s", self.provider, self.limit
        )

    def on_throttle(self, started: float, now: float, accepted: Optional[int] = None) -> bool:
        """A 429 about the rate; True when it cut the rate (once per overload episode).
        `accepted`: the successful starts of the last second where this process does not see them
        all (a shared budget), else its own."""
        self.throttled += 1
        if started < self.last_cut:
            return False
        accepted = self.accepted_last_second(now) if accepted is None else accepted
        if not accepted:  # nothing measured (the first request): the retry's backoff is the answer
            return False
        base = min(self.limit, accepted) if self.limit is not None else accepted
        # a told rate is a limit known from the start: a 429 near it is jitter, not a lower limit
        self.confirmed = self.peak is not None and bool(self.cuts or self.told) and base >= CONFIRM * self.peak
        if self.told and self.confirmed:  # jitter: back to the told rate, with 1% more margin each time
            self.ceiling = max(JITTER_FLOOR * self.told, (1 - JITTER_STEP) * self.ceiling)  # type: ignore[operator]  # a told rate sets the ceiling
            self.peak = self.ceiling
        else:
            self.peak = base
        self.limit = max(MIN_RATE, (MARGIN if self.confirmed else BETA) * base)
        self.last_cut = now
        self.cuts += 1
        logger.info(
            "%s: throttled (429) at about %.1f requests/s: pacing at %.1f requests/s", self.provider, base, self.limit
        )
        return True


class ConcurrencyController:
    """Requests allowed in flight: `max_concurrency`, less after concurrency 429s."""

    def __init__(self, provider: str, max_concurrency: int) -> None:
        self.provider = provider
        self.max_concurrency = max(1, int(max_concurrency))
        self.allowed = self.max_concurrency
        self.last_cut = float("-inf")
        self.cuts = 0
        self._streak = 0

    def on_success(self) -> bool:
        """True when the allowance grew (waiting requests may go)."""
        if self.allowed >= self.max_concurrency:
            return False
        self._streak += 1
        if self._streak < self.allowed * CONCURRENCY_PATIENCE:
            return False
        self._streak = 0
        self.allowed += 1
        return True

    def on_throttle(self, started: float, now: float, in_flight: int) -> bool:
        if started < self.last_cut:
            return False
        current = min(self.allowed, max(1, in_flight))
        self.allowed = max(1, min(current - 1, int(current * BETA)))
        self.last_cut, self._streak = now, 0
        self.cuts += 1
        logger.info("%s: too many concurrent requests (429): at most %d in flight", self.provider, self.allowed)
        return True
