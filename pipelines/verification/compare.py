"""Row-for-row comparison of one query's stored rows with the API's answer, exactly.

Values are compared as exact values: numbers as `Decimal` (an integer, a decimal, or the exact
value of a stored double; never float arithmetic), timestamps in UTC, JSON as canonical text.
A row is identified by the table's primary key (every dimension), so drift comes in four kinds:
rows missing from the warehouse, extra rows the API no longer has, rows whose values changed,
and periods whose set of dimension values changed (a missing or extra row).

    >>> drift = QueryDrift("whop", None, "wallet_time_series", "daily_all")
    >>> drift.add_window(window, api_rows, stored_rows, key=("query_name", "period", "currency"), period="period")
"""

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Optional

from metricsync.sources._common.load.windows import Window

# columns that say when the provider computed a row, not what it holds: they change on every fetch
VOLATILE = {"refreshed_at"}
UNIT_COLUMNS = ("currency",)


def exact(value: Any) -> Any:
    """A value in a form that compares exactly (see module docstring)."""
    if _non_finite(value):
        return ("non-finite", str(Decimal(value)).lstrip("+").lower())  # NaN, Infinity: equal to themselves
    if value is None or isinstance(value, (bool, str, Decimal)):
        return value
    if isinstance(value, (int, float)):
        return Decimal(value)  # a double's exact binary value
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal as stored: a column the warehouse holds as a double is compared as the double a load
    would write (the other side converted once, as the load converts it)."""
    if _non_finite(a) or _non_finite(b):
        return exact(a) == exact(b)
    if _double(a) or _double(b):
        return _numeric(a) and _numeric(b) and float(a) == float(b)
    a, b = exact(a), exact(b)
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):  # JSON stored as text on one side, parsed on the other
        return _canonical(a) == _canonical(b)
    return False


def _non_finite(value: Any) -> bool:
    """NaN or an infinity, as a double or a decimal (a signalling NaN included)."""
    if isinstance(value, Decimal):
        return not value.is_finite()
    return isinstance(value, float) and not math.isfinite(value)


def _double(value: Any) -> bool:
    return isinstance(value, float)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _canonical(text: str) -> Any:
    try:
        return json.dumps(json.loads(text), sort_keys=True, default=str)
    except ValueError:
        return text


@dataclass
class QueryDrift:
    """What one verify found for one (provider, account, resource, query)."""

    provider: str
    account: Optional[str]
    resource: str
    query: str
    windows: list = field(default_factory=list)  # windows compared
    rows_compared: int = 0
    missing: int = 0
    extra: int = 0
    changed: int = 0
    duplicated: int = 0  # stored copies of a row beyond the first
    periods: set = field(default_factory=set)  # periods with any difference
    dimension_periods: set = field(default_factory=set)  # periods whose dimension set changed
    drifted_windows: list = field(default_factory=list)  # (window, first, last drifted period)
    max_delta: Optional[Decimal] = None
    delta_unit: str = ""

    @property
    def clean(self) -> bool:
        return not self.periods

    @property
    def drifted(self) -> int:
        """Periods that differ."""
        return len(self.periods)

    def add_window(
        self,
        window: Window,
        api: list[dict],
        stored: list[dict],
        key: Iterable[str],
        period: str,
        loaded: Callable[[dt.date], bool] = lambda day: True,
    ) -> None:
        """Compare one window: `api` rows as a load would write them, `stored` rows of its periods,
        each key counted with its multiplicity (a stored row twice is drift); the API's rows of
        periods never loaded (`loaded` is False and nothing is stored there) are left out."""
        stored_periods = {r.get(period) for r in stored}
        api = [r for r in api if r.get(period) in stored_periods or loaded(r.get(period))]  # type: ignore[arg-type]  # rows of a window always have their period
        key = tuple(key)
        by_key: dict = {}
        for row in stored:
            by_key.setdefault(tuple(exact(r) for r in map(row.get, key)), []).append(row)
        seen = set()
        drifted = set()
        columns = _columns(api, stored)
        for row in api:
            k = tuple(exact(row.get(c)) for c in key)
            seen.add(k)
            olds = by_key.get(k)
            if not olds:
                self.missing += 1
                drifted.add(row.get(period))
                self.dimension_periods.add(row.get(period))
                continue
            changed = [c for c in columns if not all(same(row.get(c), old.get(c)) for old in olds)]
            if changed:
                self.changed += 1
                drifted.add(row.get(period))
                self._delta(row, olds[0], changed)
        for k, olds in by_key.items():
            if k not in seen:
                self.extra += len(olds)
                self.dimension_periods.add(olds[0].get(period))
            elif len(olds) > 1:
                self.duplicated += len(olds) - 1
            if k not in seen or len(olds) > 1:
                drifted.add(olds[0].get(period))
        self.windows.append(window)
        self.rows_compared += len(seen | set(by_key))
        if drifted:
            self.periods |= drifted
            self.drifted_windows.append((window, min(drifted), max(drifted)))  # type: ignore[type-var]  # drifted periods are dates

    def _delta(self, new: dict, old: dict, changed: list) -> None:
        for column in changed:
            a, b = exact(new.get(column)), exact(old.get(column))
            if not (isinstance(a, Decimal) and isinstance(b, Decimal)):
                continue
            if self.max_delta is None or abs(a - b) > self.max_delta:
                self.max_delta = abs(a - b)
                self.delta_unit = next((str(new[c]) for c in UNIT_COLUMNS if new.get(c)), "")

    def line(self) -> str:
        """`whop daily_all: 6 periods drifted (2026-10-21..2026-10-26), 12 rows changed, max |Δ| 7.00 usd`"""
        who = f"{self.provider} (account {self.account})" if self.account else self.provider
        first, last = min(self.periods), max(self.periods)
        span = f"{first}..{last}" if first != last else f"{first}"
        counts = [
            f"{plural(n, 'row')} {what}"
            for n, what in (
                (self.missing, "missing"),
                (self.extra, "extra"),
                (self.changed, "changed"),
                (self.duplicated, "duplicated"),
            )
            if n
        ]
        if self.dimension_periods:
            counts.append(f"dimension set changed in {plural(len(self.dimension_periods), 'period')}")
        if self.max_delta is not None:
            counts.append(f"max |Δ| {_plain(self.max_delta)}{' ' + self.delta_unit if self.delta_unit else ''}")
        return f"{who} {self.query}: {plural(len(self.periods), 'period')} drifted ({span}), " + ", ".join(counts)

    def as_json(self) -> dict:
        return {
            "provider": self.provider,
            "account": self.account,
            "resource": self.resource,
            "query": self.query,
            "windows": len(self.windows),
            "rows_compared": self.rows_compared,
            "clean": self.clean,
            "drifted_periods": sorted(str(p) for p in self.periods),
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "duplicated": self.duplicated,
            "dimension_set_changes": len(self.dimension_periods),
            "max_abs_delta": None if self.max_delta is None else _plain(self.max_delta),
            "delta_unit": self.delta_unit or None,
        }


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _columns(api: list[dict], stored: list[dict]) -> list[str]:
    """Every column either side has, but dlt's own, the account (the stored rows are the
    account's) and the volatile ones."""
    names: dict = {}
    for row in (*api[:1], *stored[:1]):
        names.update(dict.fromkeys(row))
    return [c for c in names if not c.startswith("_") and c != "account" and c not in VOLATILE]


def _plain(value: Decimal) -> str:
    """`7.00` for Decimal('7.000000000'): trailing zeros trimmed to at least two decimals."""
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
