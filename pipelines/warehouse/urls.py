"""A destination's connection URL checked before dlt, SQLAlchemy or a driver parses it: a malformed
one is exit 2 in one line naming the part that is wrong (scheme, host, port, database) and the
setting, never the URL itself (it holds the password), e.g.

    whop: DESTINATION__POSTGRES__CREDENTIALS has no scheme - write it as
    postgresql://user:password@host:5432/database
"""

import re
from typing import Optional

from metricsync.sources._common.errors import ConfigError

# SQLAlchemy's reading of a URL (`sqlalchemy.engine.url._parse_url`), which dlt's credentials use
URL = re.compile(
    r"""
    (?P<scheme>[\w+]+)://
    (?:(?P<userinfo>.*)@)?
    (?:\[(?P<ipv6host>[^/?]+)\]|(?P<host>[^/:?]*))
    (?::(?P<port>[^/?]*))?
    (?:/(?P<database>[^?]*))?
    (?:\?.*)?$
    """,
    re.X | re.S,
)
# destination types whose credentials may be a connection URL, and the parts each needs
URL_DESTINATIONS = {
    "postgres": ("host", "database"),
    "redshift": ("host", "database"),
    "mssql": ("host",),
    "synapse": ("host",),
    "clickhouse": ("host",),
    "snowflake": ("host",),
    "sqlalchemy": (),
}


def setting_name(destination: str) -> str:
    return f"DESTINATION__{destination.upper()}__CREDENTIALS"


def check_url(
    provider: str,
    destination: str,
    value: str,
    schemes: tuple = (),
    example: str = "",
    required: tuple = ("host", "database"),
) -> None:
    """Raise `ConfigError` for the first part of `value` that is missing or malformed; `schemes`:
    the schemes the destination accepts (any when empty); `required`: the parts it needs."""
    problem = url_problem(value.strip(), schemes, required)
    if problem:
        fix = f" - write it as {example}" if example else " - fix it (scheme://user:password@host:port/database)"
        raise ConfigError(f"{provider}: {setting_name(destination)} {problem}{fix}")


def url_problem(value: str, schemes: tuple = (), required: tuple = ("host", "database")) -> Optional[str]:
    """What is wrong with a connection URL, in a few words without any part of it, or None.

    >>> url_problem("postgres:secret@db/analytics")
    'has no scheme'
    >>> url_problem("postgresql://loader:secret@db:54x2/analytics")
    'has a port that is not a number from 1 to 65535'
    """
    if "://" not in value:
        return "has no scheme"
    match = URL.match(value)
    if not match:
        return "is not a URL"
    if schemes and match.group("scheme").lower() not in schemes:
        return f"has a scheme other than {' or '.join(f'{s}://' for s in schemes)}"
    if "host" in required and not (match.group("host") or match.group("ipv6host")):
        return "has no host"
    port = match.group("port")
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        return "has a port that is not a number from 1 to 65535"
    if "database" in required and not (match.group("database") or "").strip():
        return "has no database"
    return None
