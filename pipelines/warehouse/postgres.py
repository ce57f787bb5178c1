"""Postgres credentials read the way libpq reads them, checked with one connection before any
request to an API.

dlt's `PostgresCredentials` requires a password, yet `postgresql://postgres@127.0.0.1:5432/db` is
a valid libpq URL: the password may come from trust/peer auth, `~/.pgpass` or `PGPASSWORD`. Here
the password is optional, and a URL without one is handed to libpq without one. A connection
that fails is one line without the password, e.g.

    whop: cannot connect to Postgres postgresql://loader@db:5432/analytics (FATAL:  password
    authentication failed for user "loader") - check the user and password in DESTINATION__POSTGRES__CREDENTIALS

exit 2 when the server refused the credentials or the database, 5 when it could not be reached.
"""

from typing import Any, Mapping, Optional

import dlt
from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from metricsync.sources._common.errors import ConfigError, MetricSyncError
from metricsync.warehouse.urls import check_url

ENV = "DESTINATION__POSTGRES__CREDENTIALS"
EXAMPLE = "postgresql://user:password@host:5432/database"
# libpq/server messages that mean "reached the server, which refused these credentials or names"
REFUSED = (
    "password authentication failed",
    "no password supplied",
    "does not exist",
    "pg_hba.conf",
    "authentication failed",
    "permission denied",
    "peer authentication",
    "ident authentication",
)


@configspec(init=False)
class LibpqCredentials(PostgresCredentials):
    """dlt's Postgres credentials with an optional password (libpq's rules apply without one)."""

    password: Optional[TSecretStrValue] = None


class PostgresUnreachable(MetricSyncError):
    """The Postgres server could not be reached (exit 5, like an unreachable API host)."""

    exit_code = 5


def credentials(provider: str) -> LibpqCredentials:
    """`destination.postgres.credentials` (a URL, or a table of host/username/...) as libpq
    credentials, after one test connection."""
    value: Any = dlt.secrets.get("destination.postgres.credentials")
    if isinstance(value, str) and value.strip():
        check_url(provider, "postgres", value, ("postgresql", "postgres"), EXAMPLE)
        creds = LibpqCredentials(value.strip())
    elif isinstance(value, Mapping) and value:
        port = str(value.get("port") or "5432")
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(
                f"{provider}: the port in [destination.postgres.credentials] is not a number from 1 "
                "to 65535 - write the server's port there (e.g. port = 5432)"
            )
        creds = LibpqCredentials(dict(value))
    else:
        raise ConfigError(
            f"{provider}: no postgres credentials - set {ENV} "
            f"(e.g. {EXAMPLE}; the password may come from .pgpass or PGPASSWORD)"
        )
    if not creds.host or not creds.database:
        raise ConfigError(f"{provider}: postgres credentials {safe_url(creds)} need a host and a database - set {ENV}")
    probe(provider, creds)
    return creds.resolve()


def safe_url(creds: LibpqCredentials) -> str:
    """The URL without the password (for messages)."""
    user = f"{creds.username}@" if creds.username else ""
    return f"postgresql://{user}{creds.host}:{creds.port or 5432}/{creds.database}"


def probe(provider: str, creds: LibpqCredentials) -> None:
    """Connect once; a failure becomes one line without the password."""
    import psycopg2  # noqa: PLC0415 - start-up time (imports psycopg2)

    try:
        psycopg2.connect(creds.to_native_representation()).close()
    except psycopg2.Error as exc:
        reason = " ".join(str(exc).split("\n")[0].split())
        if creds.password:
            reason = reason.replace(str(creds.password), "***")
        where = safe_url(creds)
        if any(marker in reason for marker in REFUSED):
            raise ConfigError(
                f"{provider}: cannot connect to Postgres {where} ({reason}) - check the user, password "
                f"and database in {ENV} (or .pgpass / PGPASSWORD)"
            ) from None
        raise PostgresUnreachable(
            f"{provider}: cannot reach Postgres {where} ({reason}) - check the host and port "
            f"in {ENV} and that the server is running"
        ) from None
