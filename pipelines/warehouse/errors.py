"""The warehouse's own errors as one line and an exit code: a server that cannot be reached or went
away mid-run is exit 5 (re-run once it is back: committed loads stay), a database, user or
permission the server refuses is exit 2 (fix the credentials or create the database). Never a
traceback, never a password, e.g.

    whop: lost the postgres destination (server closed the connection unexpectedly) - check that the
    server is up and re-run; loads already committed stay
"""

from typing import Optional

# driver messages meaning "the server refused these names or rights" (Postgres, MySQL/MariaDB, ...)
REFUSED = (
    "does not exist",
    "unknown database",
    "access denied",
    "permission denied",
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "pg_hba.conf",
    "must be owner",
    "not authorized",
)
# ... and "the server is not there, or went away"
UNREACHABLE = (
    "connection refused",
    "could not connect",
    "can't connect",
    "server closed the connection",
    "lost connection",
    "terminating connection",
    "connection already closed",
    "connection reset",
    "ssl syscall",
    "timeout expired",
    "could not translate host name",
    "server has gone away",
    "broken pipe",
    "no route to host",
    "connection timed out",
    "network is unreachable",
)
DRIVERS = ("psycopg2", "psycopg", "pymysql", "MySQLdb", "sqlalchemy", "duckdb", "snowflake", "clickhouse")


def is_driver_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in DRIVERS


def out_of_memory(provider: str, exc: BaseException) -> Optional[tuple[int, str]]:
    """DuckDB's memory cap reached (its loads spill to disk, but a query may need more)."""
    if type(exc).__name__ != "OutOfMemoryException" or "duckdb" not in type(exc).__module__:
        return None
    reason = " ".join(str(exc).split())[:200]
    return 1, (
        f"{provider}: DuckDB ran out of memory ({reason}) - raise destination.duckdb.memory_limit "
        "(DESTINATION__DUCKDB__MEMORY_LIMIT, default 200MB) and re-run; loads already committed stay"
    )


def describe(provider: str, destination: str, exc: BaseException) -> Optional[tuple[int, str]]:
    """(exit code, line) for a database driver's error, or None for anything else."""
    from metricsync.sources._common.http.redaction import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        redact,
    )

    if not is_driver_error(exc):
        return out_of_memory(provider, exc)
    text = " ".join(redact(str(exc)).split())
    lower = text.lower()
    reason = text[:200] or type(exc).__name__
    env = f"DESTINATION__{destination.upper()}__CREDENTIALS"
    if any(marker in lower for marker in UNREACHABLE):
        return 5, (
            f"{provider}: lost the {destination} destination ({reason}) - check that the server is up and "
            "reachable and re-run; loads already committed stay"
        )
    if any(marker in lower for marker in REFUSED):
        return 2, (
            f"{provider}: the {destination} destination refused the run ({reason}) - check the database, "
            f"user and rights in {env} (create the database if it is missing)"
        )
    return None
