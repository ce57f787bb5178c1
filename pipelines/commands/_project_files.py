"""The files `metricsync init` writes, generated from the one declaration of settings (`spec.SHARED`
and each source's signature, as `pipelines/reference.py` generates the settings table in docs/configuration.md and
`.env.example`): every setting of a provider, commented with its meaning, range and default, e.g.

    [sources.whop]
    start_date = "2026-11-07"      # first day to load (earlier days: metricsync run whop --from YYYY-MM-DD)
    # lookback_days = 3            # days re-read before the last loaded day on each nightly run; 0-3650
"""

import datetime as dt
import json
import shlex
from typing import Any, Optional

from metricsync.catalog import meaning as setting_meaning
from metricsync.catalog import settings
from metricsync.reference import env_block
from metricsync.sources._common.config import spec

HEADER = """\
# metricsync project configuration, written by `metricsync init`. Each key can also be an
# environment variable: [sources.whop] start_date -> SOURCES__WHOP__START_DATE (lists and objects as
# JSON; see .env.example). API keys go in secrets.toml beside this file (git-ignored). Configuration
# is strict: an unknown key or an out-of-range number fails before any request (exit 2).
# `metricsync describe` shows each provider's settings; `metricsync describe --json-schema` all of them.
"""
CREDENTIALS = {
    "postgres": "postgresql://loader:password@localhost:5432/analytics",
    "sqlalchemy": "mysql+pymysql://loader:password@localhost:3306/analytics",
}


def _toml(value: Any) -> str:
    """A default as TOML (JSON's strings, numbers, booleans and arrays are TOML's too)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def _comment(provider: str, name: str) -> str:
    meaning = setting_meaning(provider, name)
    if len(meaning) > 100:  # the long ones up to their first clause
        meaning = meaning.split("; ")[0]
    bounds = spec.range_of(provider, name)
    allowed = bounds.describe() if bounds else ", ".join(spec.choices_of(provider, name))
    return meaning + (f"; {allowed}" if allowed else "")


def _line(key: str, value: str, comment: str, active: bool = False) -> str:
    text = f"{'' if active else '# '}{key} = {value}"
    return f"{text:<46} # {comment}"


def provider_block(provider: str, start: Optional[dt.date]) -> list[str]:
    lines = [f"[sources.{provider}]", f"# api_key: in secrets.toml (or SOURCES__{provider.upper()}__API_KEY)"]
    for setting in settings(provider):
        if setting.secret:
            continue
        if setting.name == "start_date" and start is not None:
            lines.append(
                _line(
                    "start_date",
                    _toml(start.isoformat()),
                    f"first day to load (earlier days: metricsync run {provider} --from YYYY-MM-DD)",
                    active=True,
                )
            )
            continue
        shown = "..." if setting.default is None else _toml(setting.default)
        lines.append(_line(setting.name, shown, _comment(provider, setting.name)))
    return lines


def _warehouse(destination: str) -> list[str]:
    lines = [
        "[metricsync]",
        _line(
            "destination",
            _toml(destination),
            "the warehouse of every command without --destination (or METRICSYNC_DESTINATION)",
            active=True,
        ),
        "",
    ]
    if destination == "duckdb":
        lines += [
            "[destination.duckdb]",
            _line("credentials", '"metricsync.duckdb"', "the DuckDB file, in this folder", active=True),
            "",
        ]
    else:
        lines += [
            f"# [destination.{destination}]: credentials in secrets.toml (or DESTINATION__"
            f"{destination.upper()}__CREDENTIALS); see docs/scaling-out.md, Which warehouse",
            "",
        ]
    return lines


def config_toml(providers: list[str], destination: str, start: dt.date) -> str:
    lines = [
        HEADER,
        *_warehouse(destination),
        "[runtime]",
        _line("dlthub_telemetry", "false", "dlt sends anonymous usage telemetry to dltHub unless false", active=True),
        "",
    ]
    for provider in providers:
        windowed = any(s.name == "start_date" for s in settings(provider))
        lines += [*provider_block(provider, start if windowed else None), ""]
    return "\n".join(lines)


def secrets_toml(providers: list[str], destination: str) -> str:
    lines = [
        "# API keys and warehouse passwords. Git-ignored (.gitignore): never commit this file.",
        "# Environment variables work too (.env.example), e.g. for cron and CI.",
        "",
    ]
    for provider in providers:
        lines += [
            f"[sources.{provider}]",
            _line("api_key", '""', f"SOURCES__{provider.upper()}__API_KEY", active=True),
            "",
        ]
    if destination != "duckdb":
        credentials = CREDENTIALS.get(destination, "...")
        lines += [
            f"# [destination.{destination}]",
            f"# credentials = {_toml(credentials)}   # DESTINATION__{destination.upper()}__CREDENTIALS",
            "",
        ]
    return "\n".join(lines)


def env_example(providers: list[str], destination: str) -> str:
    lines = [
        "# The settings as environment variables: copy to .env (git-ignored), fill in, and load it with",
        "#   set -a; . ./.env; set +a",
        "# Commented lines show the default; lists and objects are JSON.",
        "",
        f"METRICSYNC_DESTINATION={destination}",
        "RUNTIME__DLTHUB_TELEMETRY=false",
        "",
    ]
    for provider in providers:
        lines += [f"# -- {provider} ", *env_block(provider, {}), ""]
    return "\n".join(lines)


def crontab(folder: str, metricsync: str) -> str:
    """A nightly run with the marts, and a weekly verify, from `folder` (install with `crontab -e`)."""
    cd = f"cd {shlex.quote(folder)}"
    return "\n".join(
        [
            "# m h dom mon dow  command    (metricsync's days are UTC; the times here are the machine's)",
            "# keys from .dlt/secrets.toml; to read a .env instead, add after the cd: && set -a && . ./.env && set +a",
            f"15 3 * * *  {cd} && {metricsync} run all --progress log --transform >> sync.log 2>&1",
            f"30 4 * * 0  {cd} && {metricsync} verify all --sample 50 --repair >> verify.log 2>&1",
            "",
        ]
    )
