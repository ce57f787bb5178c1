"""Checks on a source's configuration, done before any request, with one-line errors."""

import datetime as dt
from typing import Any, Iterable, Optional

from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.load.windows import to_date


def require_key(provider: str, api_key: Optional[str]) -> str:
    if not api_key or not str(api_key).strip():
        raise ConfigError(
            f"{provider}: no API key - set SOURCES__{provider.upper()}__API_KEY or sources.{provider}.api_key "
            "in .dlt/secrets.toml"
        )
    return str(api_key).strip()


def start_date(provider: str, value: Any, today: dt.date, required: bool = True) -> Optional[dt.date]:
    """The configured first day to load: an ISO date, not in the future."""
    if value in (None, ""):
        if not required:
            return None
        raise ConfigError(
            f"{provider}: start_date is not set - set SOURCES__{provider.upper()}__START_DATE (YYYY-MM-DD)"
        )
    day = to_date(value, provider, "start_date")
    if day > today:
        raise ConfigError(f"{provider}: start_date {day} is in the future - use a date on or before {today}")
    return day


def queries(
    provider: str, setting: str, value: Any, allowed: Iterable[str], required: Iterable[str] = ()
) -> list[dict]:
    """A list of query objects, each with a unique `name` and only known keys."""
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(q, dict) for q in value):
        raise ConfigError(f"{provider}: {setting} must be a list of objects, each with a name")
    allowed, required = set(allowed) | {"name"}, set(required)
    names: set[str] = set()
    for query in value:
        name = query.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{provider}: every entry of {setting} needs a non-empty name")
        if name in names:
            raise ConfigError(f"{provider}: {setting} has two queries named {name!r} - names must be unique")
        names.add(name)
        unknown = sorted(set(query) - allowed)
        if unknown:
            raise ConfigError(
                f"{provider}: query {name!r} in {setting} has unknown keys {unknown} - allowed: {sorted(allowed)}"
            )
        missing = sorted(k for k in required if query.get(k) in (None, "", []))
        if missing:
            raise ConfigError(f"{provider}: query {name!r} in {setting} is missing {missing}")
    return [dict(q) for q in value]
