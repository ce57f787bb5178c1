"""Checks of an API's answer as a provider's helpers shape it into rows: what the docs promise
(a date that exists, the documented fields present, one row per key, no field that would take the
place of one of our own columns) or a `BadAnswer` (exit 3) naming provider, query, period, field
and value. Values are checked as the rows become Arrow (`arrow.py`); definitions, which load as
rows, by `definition_rows`.

    >>> api_date("2026-12-32", "whop", "query 'daily'", "period")
    Traceback (most recent call last):
    ...
    metricsync.sources._common.errors.BadAnswer: whop: query 'daily' failed (HTTP 200): field 'period' is '2026-12-32': not a date that exists (YYYY-MM-DD) - nothing of this window was stored; report it with this line
"""

import datetime as dt
import math
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Optional

import pyarrow as pa
from dlt.common.normalizers.naming.snake_case import NamingConvention
from metricsync.sources._common.errors import BadAnswer, ConfigError
from metricsync.sources._common.load.arrow import BadValue, converter
from metricsync.sources._common.load.windows import to_date

RESERVED = ("account", "_tombstone")  # columns the runner / the windowed loop add to every row
_naming = NamingConvention()


def api_date(value: Any, provider: str, where: str, field: str) -> dt.date:
    """A date the API sent: ISO text (a date, or a date-time whose date is meant), not a number."""
    try:
        if not isinstance(value, str):
            raise ConfigError(field)
        return to_date(value, provider, field)
    except ConfigError:
        raise BadAnswer(provider, where, None, field, value, "not a date that exists (YYYY-MM-DD)") from None


def own_fields(item: dict, ours: Iterable[str], provider: str, where: str, period: Any = None) -> dict:
    """`item`, an API row, when none of its fields is named (as dlt names columns) like one of
    `ours` (what the helpers add: `query_name`, a filter, ...), `account`, `_tombstone` or dlt's
    `_dlt_*`: such a field would take the place of ours."""
    taken = {*ours, *RESERVED}
    for name in item:
        column = _naming.normalize_identifier(str(name))
        if column in taken or column.startswith("_dlt"):
            raise BadAnswer(
                provider,
                where,
                period,
                str(name),
                item[name],
                f"a field the docs do not give, named like metricsync's own column {column!r}",
            )
    return item


def present(item: dict, fields: Iterable[str], provider: str, where: str, period: Any = None) -> None:
    """The documented fields of a row are there and not null."""
    for name in fields:
        if item.get(name) is None:
            raise BadAnswer(provider, where, period, name, item.get(name), "missing, and the docs give it on every row")


def one_per_key(rows: Iterable[Any], key: Callable[[dict], Any], provider: str, where: str) -> list[dict]:
    """Dict rows, one per key: a row repeated as it was (pages that shifted while paging) is kept
    once; two different rows with one key fail, since keeping either would be a guess."""
    by_key: dict = {}
    for row in rows:
        if not isinstance(row, dict):
            raise BadAnswer(provider, where, None, "data", row, "a row that is not an object")
        seen = by_key.setdefault(key(row), row)
        if seen is not row and seen != row:
            changed = next((f for f in {**seen, **row} if seen.get(f) != row.get(f)), "?")
            raise BadAnswer(
                provider,
                where,
                None,
                str(changed),
                row.get(changed),
                f"a second row for key {key(row)!r}, that row having {seen.get(changed)!r}",
            )
    return list(by_key.values())


def exact(value: Any, kind: pa.DataType, provider: str, where: str, field: str) -> Any:
    """`value` as a column of `kind` holds it, exactly (the Arrow conversion's rules), or BadAnswer."""
    try:
        return None if value is None else converter(kind)(value, field, 0)
    except BadValue as exc:
        raise BadAnswer(provider, where, None, field, value, exc.problem) from None


def definition_rows(rows: list, provider: str, table: str, types: Optional[Mapping[str, pa.DataType]] = None) -> list:
    """Definition rows (loaded as rows, not Arrow) with every value loadable exactly: no NaN or
    Infinity, no text that is not valid Unicode, no field named like dlt's or our own columns, and
    the fields of declared `types` (e.g. an integer `interval`) held exactly."""
    where = f"table {table}"
    for row in rows:
        if isinstance(row, dict):
            own_fields(row, (), provider, where)
            _loadable(row, provider, table, "")
            for field, kind in (types or {}).items():
                if field in row:
                    row[field] = exact(row[field], kind, provider, where, field)
    return rows


def _loadable(value: Any, provider: str, table: str, field: str) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _loadable(str(name), provider, table, field)
            _loadable(item, provider, table, str(name))
    elif isinstance(value, list):
        for item in value:
            _loadable(item, provider, table, field)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadAnswer(provider, f"table {table}", None, field, value, "text that is not valid Unicode") from None
    elif (isinstance(value, Decimal) and not value.is_finite()) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise BadAnswer(provider, f"table {table}", None, field, value, "not a finite number")
