"""The settings of every source, declared once: the shared ones in `SHARED` (kind, default, range,
meaning, who reads them) and the ranges of every numeric one.

Sources and the runner check a value with `number(provider, name, value)`; a value that is not a
number, or out of range, fails with one line naming the setting (as `sources.<provider>.<key>`
and its env var) and the range, e.g.

    whop: max_concurrency 'zero' is not an integer - set SOURCES__WHOP__MAX_CONCURRENCY
    (sources.whop.max_concurrency) to an integer from 1 to 64

`sources/_common/config/shared.py` adds the shared settings to each source's dlt signature (so
dlt resolves them, strict config knows them, `describe` lists them), the runner reads those of
scope `runner`, and the settings table in docs/configuration.md and `.env.example` are generated from them
(`python -m metricsync.reference`). A new shared setting is one entry in `SHARED` plus its test.

A numeric parameter of a source function without a range here is a bug (tests check it).
"""

import math
from dataclasses import dataclass
from typing import Any, Optional

from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.load.progress import CHECKPOINT_SECONDS


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


SOURCE, WINDOWED, RUNNER = "source", "windowed", "runner"  # who reads a shared setting
SECRET = "<secret>"  # the default of a required secret (dlt.secrets.value)


@dataclass(frozen=True)
class Shared:
    """A setting under `sources.<provider>` that every source has (scope `source`), every source
    with windowed tables has (`windowed`: Whop, Stripe, Statsig), or the runner reads (`runner`).
    `default` is every provider's unless its source gives its own; `shown` describes a default or
    the allowed values in words where the value alone does not say it."""

    kind: Any
    default: Any
    meaning: str
    bounds: Optional[Range] = None
    scope: str = SOURCE
    shown: str = ""
    allowed: str = ""
    choices: tuple = ()  # the only values allowed, if any


SHARED = {
    "api_key": Shared(str, SECRET, "the provider's API key", shown="— (secret, required)"),
    "base_url": Shared(
        str, None, "e.g. the sandbox, an EU host, a proxy", shown="provider's public API", allowed="http(s) URL"
    ),
    "start_date": Shared(
        Optional[str],
        None,
        "first day to load",
        scope=WINDOWED,
        shown="— (required for windowed data, unless `--from`)",
        allowed="ISO date, not in the future",
    ),
    "lookback_days": Shared(
        int, 3, "days re-read before the last loaded day on each nightly run", Range(int, 0, 3650), WINDOWED
    ),
    "max_concurrency": Shared(int, 4, "requests in flight for this provider (never exceeded)", Range(int, 1, 64)),
    "requests_per_second": Shared(
        Optional[float],
        None,
        "the API's rate: requests are paced evenly just under it",
        Range(float, 0.01, 10_000, optional=True),
        shown="not set: learnt from 429s",
    ),
    "rate_store": Shared(
        Optional[str],
        None,
        "a Redis URL (`redis://host:6379/0`) where every process and host using the same API key shares "
        "its rate budget and what 429s taught; see [Many accounts](scaling-out.md#many-accounts)",
        shown="not set: each process paces on its own",
        allowed="`redis://` or `rediss://` URL",
    ),
    "windows_per_load": Shared(
        int, 24, "windows per query committed per load, at most", Range(int, 1, 100_000), WINDOWED
    ),
    "checkpoint_seconds": Shared(
        float,
        CHECKPOINT_SECONDS,
        "a load is committed once this many seconds have passed since its chunk began",
        Range(float, 0.1, 86_400),
        WINDOWED,
    ),
    "timeout": Shared(float, 30.0, "seconds per request", Range(float, 0.1, 3600)),
    "max_attempts": Shared(int, 6, "attempts per request, first included", Range(int, 1, 100)),
    "max_retry_wait": Shared(
        float, 300.0, "longest `Retry-After` obeyed (seconds); longer fails the run clearly", Range(float, 0, 86_400)
    ),
    "allow_insecure_http": Shared(bool, False, "allow a plain-http, non-loopback base URL", allowed="`true` / `false`"),
    "schema_contract": Shared(
        str,
        "evolve",
        "`evolve`: new fields become columns; a column keeps its type (a number "
        "sent as text is parsed into it exactly, any other misfit fails the query with exit 3, "
        "no variant column `<name>__v_<type>` in a windowed table); `freeze`: a new column or "
        "type in an existing table fails the run (exit 3); dlt's `discard_row` / "
        "`discard_value` also accepted",
        scope=RUNNER,
        shown="`evolve`",
        allowed="see meaning",
        choices=("evolve", "freeze", "discard_row", "discard_value"),
    ),
    "dataset_name": Shared(
        str,
        None,
        "dataset (schema; a database on MySQL/MariaDB) the provider loads into",
        scope=RUNNER,
        shown="the provider's name",
        allowed="text",
    ),
    "accounts": Shared(
        list,
        None,
        "many accounts of this provider, each its own pipeline: list of "
        "`{name, api_key?, <account params>}`; see [Scaling out](scaling-out.md#scaling-out)",
        scope=RUNNER,
        shown="— (one account)",
        allowed="list of objects",
    ),
    "lock_wait_seconds": Shared(
        float,
        0.0,
        "how long a run waits for another run of the same pipeline holding the warehouse lock, before exit 6",
        Range(float, 0, 86_400),
        RUNNER,
    ),
}
# numeric parameters of some sources only (each source's own), with their range
RANGES = {
    "page_size": Range(int, 1, 1000),
}
# provider-specific bounds that are narrower than the shared ones (the API's documented maximum)
PROVIDER = {
    ("statsig", "page_size"): Range(int, 1, 100),
}
# text settings of some sources that take only these values
CHOICES = {
    ("whop", "array_params"): ("brackets", "repeat"),
    ("stripe_analytics", "body_encoding"): ("json", "form"),
}
# the values inside an object setting, e.g. Stripe's `max_periods = {"day": 30}`
NESTED = {
    "max_periods": Range(int, 1, 1000),
}


def range_of(provider: str, name: str) -> Optional[Range]:
    shared = SHARED.get(name)
    return PROVIDER.get((provider, name)) or (shared.bounds if shared else None) or RANGES.get(name)


def choices_of(provider: str, name: str) -> tuple:
    """The values a text setting may take (empty: any)."""
    shared = SHARED.get(name)
    return CHOICES.get((provider, name)) or (shared.choices if shared else ())


def shared_names(*scopes: str) -> list[str]:
    """The shared settings of these scopes, in declared order."""
    return [name for name, entry in SHARED.items() if entry.scope in scopes]


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
        problem = (
            "is out of range"
            if converted is not None
            else ("is not an integer" if bounds.kind is int else "is not a number")
        )
        raise ConfigError(f"{provider}: {name} {value!r} {problem} - set {named} to {bounds.describe()}")
    return converted
