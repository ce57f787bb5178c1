"""One rate budget per API key, shared by every thread, process and host that uses the key, in the
store `sources.<provider>.rate_store` names (a Redis URL).

The pacing itself is pyrate-limiter's GCRA on its Redis state store: one theoretical arrival time
per key, so request starts are spaced `1 / rate` apart whichever process sends them (a burst of
one, or of two where a told rate leaves room for one more in any second), and a changed rate keeps
the schedule. What a run learns from 429s is kept beside it:

* `<key>:pause`: a `Retry-After` holds back every start until the key expires (only ever extended);
* `<key>:learnt`: the last rate cut (requests/s and when), adopted by every limiter of the key;
* `<key>:ok:<second>`: successful starts per second, the "accepted" a cut is based on (a process
  sees only its own share of them).

The key is `metricsync:rate:<provider>:<digest>`, the digest a keyed BLAKE2 hash of the API key:
neither stored nor printed. Without a store each process paces on its own (limits.py), which
imports this module (and so redis and pyrate-limiter) only when a store is configured.
"""

import hashlib
import time
from typing import Optional
from urllib.parse import urlsplit

import redis
from metricsync.sources._common.config.spec import where
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.http.redaction import register_secret
from pyrate_limiter import GCRA, Rate, RedisStateStore

SCALE = 1000  # a rate of r requests/s is pyrate-limiter's Rate(r * SCALE per SCALE seconds): fractions kept
STATE_EVERY = 0.1  # seconds between two reads of the shared pause and cut by one process
KEEP_SECONDS = 3600  # a learnt rate outlives the last cut this long at most


def budget_key(provider: str, api_key: str) -> str:
    digest = hashlib.blake2b(api_key.encode(), digest_size=12, person=b"metricsync-rate").hexdigest()
    return f"metricsync:rate:{provider}:{digest}"


def shown_store(url: str) -> str:
    """The store's URL without credentials, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':%d' % parts.port if parts.port else ''}{parts.path}"


class SharedBudget:
    """The budget of one provider's API key in a Redis store; every call fails loudly
    (`ConfigError` naming provider, setting and what to do) when the store does not answer."""

    def __init__(self, provider: str, api_key: str, url: str) -> None:
        self.provider, self.url, self.key = provider, url, budget_key(provider, api_key)
        parts = urlsplit(url)
        if parts.password:
            register_secret(parts.password)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"{provider}: rate_store {shown_store(url)!r} is not a Redis URL - set "
                f"{where(provider, 'rate_store')} to redis://host:6379/0, or unset it"
            )
        self._errors = (redis.RedisError, OSError)
        try:
            self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
            self.redis.ping()
        except self._errors as exc:
            raise self._unreachable(exc) from None
        self._gcra, self._store = GCRA(), RedisStateStore(self.redis, self.key + ":gcra")
        self._cut_seen = 0.0
        self._state_read, self._pause_until = float("-inf"), 0.0

    def _unreachable(self, exc: BaseException) -> ConfigError:
        reason = type(exc).__name__
        return ConfigError(
            f"{self.provider}: the rate store {shown_store(self.url)} does not answer ({reason}) - start it, "
            f"or fix {where(self.provider, 'rate_store')}, or unset it to pace each process on its own"
        )

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except self._errors as exc:
            raise self._unreachable(exc) from None

    # -- pacing ------------------------------------------------------------------------------
    def take(self, rate: float, burst: int = 1) -> float:
        """Reserve one request start at `rate` requests/s, `burst` of them at once at most (a
        start that came late may catch up on the one it missed): 0 when it may start now, else
        the seconds to wait before asking again."""
        limit = Rate(max(1, round(rate * SCALE)), SCALE * 1000, burst=burst)
        decision = self._call(self._store.check, self._gcra, [limit], time.time_ns() // 1_000_000, 1)
        if decision.allowed:
            return 0.0
        return (decision.retry_after_ms or 1) / 1000

    def state(self) -> tuple[float, Optional[tuple[float, float]]]:
        """(seconds every start is paused for, a rate cut newer than the last one seen: (the
        rate, the rate throttled at) or None), read from the store at most every `STATE_EVERY`
        seconds (one round trip less per request)."""
        now = time.monotonic()
        if now - self._state_read < STATE_EVERY:
            return max(0.0, self._pause_until - now), None
        pipe = self.redis.pipeline(transaction=False)
        pipe.pttl(self.key + ":pause")
        pipe.hmget(self.key + ":learnt", "rate", "peak", "at")
        pause_ms, (rate, peak, at) = self._call(pipe.execute)
        self._state_read, self._pause_until = now, now + max(0, pause_ms) / 1000
        cut = None
        if rate is not None and float(at) > self._cut_seen:
            self._cut_seen, cut = float(at), (float(rate), float(peak))
        return max(0.0, pause_ms / 1000), cut

    # -- what 429s taught --------------------------------------------------------------------
    def pause(self, seconds: float) -> None:
        """Hold back every start of this key for `seconds` (a `Retry-After`), never shortening a pause."""
        until = int((time.time() + seconds) * 1000)
        self._pause_until = max(self._pause_until, time.monotonic() + seconds)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.key + ":pause", 1, nx=True, pxat=until)
        pipe.pexpireat(self.key + ":pause", until, gt=True)
        self._call(pipe.execute)

    def publish_cut(self, rate: float, peak: float) -> None:
        """A cut to `rate` after a 429 at about `peak` requests/s, for every limiter of the key."""
        at = time.time()
        self._cut_seen = at
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.key + ":learnt", mapping={"rate": rate, "peak": peak, "at": at})
        pipe.expire(self.key + ":learnt", KEEP_SECONDS)
        self._call(pipe.execute)

    def succeeded(self) -> None:
        counter = f"{self.key}:ok:{int(time.time())}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, 5)
        self._call(pipe.execute)

    def accepted_last_second(self) -> int:
        """Successful starts of every process in about the last second (the previous whole second
        weighted by how much of it is within the last one, plus this one's so far)."""
        now = time.time()
        second = int(now)
        previous, current = self._call(self.redis.mget, f"{self.key}:ok:{second - 1}", f"{self.key}:ok:{second}")
        return round(int(previous or 0) * (1 - (now - second)) + int(current or 0))
