"""Which windows `verify` checks: every loaded window in `--from/--to`, every loaded one
(`--all`), or a sample of N windows per query weighted toward older data (the lookback revisits
recent periods every night; nothing revisits old ones).

    >>> scope = Scope(sample=2, seed=7)
    >>> cap(choose(plans, loaded, scope, "whop"), scope.max_requests)   # (resource, query) -> windows
"""

import datetime as dt
import random
from dataclasses import dataclass
from typing import Optional

from metricsync.verification.loaded import Loaded

DEFAULT_SAMPLE = 20


@dataclass
class Scope:
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    sample: Optional[int] = DEFAULT_SAMPLE  # None with --all or --from/--to
    seed: Optional[int] = None
    max_requests: Optional[int] = None

    @property
    def ranged(self) -> bool:
        return self.date_from is not None


def candidates(windows: list, loaded: Optional[Loaded], scope: Scope) -> list:
    """The planned windows a load covered or holding stored rows (with --from/--to, those
    holding a day of the range: whole windows, so whole periods)."""
    if loaded is None:
        return []
    if scope.ranged:
        windows = [w for w in windows if w.start <= scope.date_to and w.end > scope.date_from]
    return [w for w in windows if loaded.holds(w)]


def sample(windows: list, size: int, rng: random.Random) -> list:
    """`size` windows without replacement, the oldest weighted n times the newest
    (Efraimidis-Spirakis: the largest u ** (1 / weight)), in priority order."""
    count = len(windows)
    keyed = [(rng.random() ** (1.0 / (count - i)), w) for i, w in enumerate(sorted(windows))]
    return [w for _key, w in sorted(keyed, key=lambda pair: pair[0], reverse=True)[:size]]


def choose(plans: dict, loaded: dict, scope: Scope, label: str) -> dict:
    """(resource, query) -> windows to verify, highest priority first (see `cap`)."""
    picked = {}
    for (resource, query), windows in plans.items():
        found = candidates(windows, loaded.get((resource, query)), scope)
        if scope.sample is not None:
            seed = None if scope.seed is None else f"{scope.seed}|{label}|{resource}|{query}"
            found = sample(found, scope.sample, random.Random(seed))
        if found:
            picked[(resource, query)] = found
    return picked


def cap(picked: dict, limit: Optional[int]) -> dict:
    """At most `limit` windows in all (`--max-requests`), taken in turn from each query in
    priority order; each query's windows sorted oldest first."""
    if limit is None:
        return {key: sorted(windows) for key, windows in picked.items()}
    kept: dict = {key: [] for key in picked}
    queues = {key: list(windows) for key, windows in picked.items()}
    while limit > 0 and any(queues.values()):
        for key, queue in queues.items():
            if queue and limit > 0:
                kept[key].append(queue.pop(0))
                limit -= 1
    return {key: sorted(windows) for key, windows in kept.items() if windows}
