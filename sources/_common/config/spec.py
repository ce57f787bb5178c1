"""The numeric settings of every source, declared once: their kind and allowed range.

Sources and the runner check a value with `number(provider, name, value)`; a value that is not a
number, or out of range, fails with one line naming the setting (as `sources.<provider>.<key>`
and its env var) and the range, e.g.

    whop: max_concurrency 'zero' is not an integer - set SOURCES__WHOP__MAX_CONCURRENCY
    (sources.whop.max_concurrency) to an integer from 1 to 64

A numeric parameter of a source function without an entry here is a bug (tests check it).
"""

import math
from dataclasses import dataclass
from typing import Any, Optional

from sources._common.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """An int or float setting from `low` to `high` (inclusive); `optional`: unset (None) means
    "no limit"."""

    kind: type
    low: float
    high: float
    optional: bool = False

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        return f"{noun} from {_text(self.low)} to {_text(self.high)}" + (" (or unset)" if self.optional else "")


def _text(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


SHARED = {
    "lookback_days": Range(int, 0, 3650),
    "max_concurrency": Range(int, 1, 64),
    "requests_per_second": Range(float, 0.01, 10_000, optional=True),
    "windows_per_load": Range(int, 1, 100_000),
    "timeout": Range(float, 0.1, 3600),
    "max_attempts": Range(int, 1, 100),
    "max_retry_wait": Range(float, 0, 86_400),
    "page_size": Range(int, 1, 1000),
    "checkpoint_seconds": Range(float, 0.1, 86_400),
    "lock_wait_seconds": Range(float, 0, 86_400),  # a second writer waits this long for the warehouse lock
}
# provider-specific bounds that are narrower than the shared ones (the API's documented maximum)
PROVIDER = {
    ("statsig", "page_size"): Range(int, 1, 100),
}
# the values inside an object setting, e.g. Stripe's `max_periods = {"day": 30}`
NESTED = {
    "max_periods": Range(int, 1, 1000),
}


def range_of(provider: str, name: str) -> Optional[Range]:
    return PROVIDER.get((provider, name)) or SHARED.get(name)


def where(provider: str, name: str) -> str:
    """How to name a setting in a message: its env var and its TOML path."""
    return f"SOURCES__{provider.upper()}__{name.upper()} (sources.{provider}.{name})"


def convert(value: Any, kind: type) -> Optional[float]:
    """`value` as an int or float, or None if it is not one (a bool is not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or (kind is int and not number.is_integer()):
        return None
    return int(number) if kind is int else number


def number(provider: str, name: str, value: Any, setting: Optional[str] = None, bounds: Optional[Range] = None) -> Any:
    """`value` checked against the declared range of `name`; `setting` overrides how the
    setting is named in the message (e.g. the env var it came from, or a CLI flag)."""
    bounds = bounds or range_of(provider, name)
    if bounds is None:
        raise KeyError(f"no range declared for {provider}.{name}")
    if bounds.optional and value is None:
        return None
    converted = convert(value, bounds.kind)
    named = setting or where(provider, name)
    if converted is None or not bounds.low <= converted <= bounds.high:
        problem = "is out of range" if converted is not None else (
            "is not an integer" if bounds.kind is int else "is not a number")
        raise ConfigError(f"{provider}: {name} {value!r} {problem} - set {named} to {bounds.describe()}")
    return converted
