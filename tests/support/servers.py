"""Database servers and optional modules a test needs: skipped when missing, failed when CI
requires them (METRICSYNC_REQUIRE_*)."""

import os
import uuid
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import pytest

POSTGRES_ADMIN = os.environ.get("METRICSYNC_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")


MARIADB_ADMIN = os.environ.get("METRICSYNC_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/mysql")


REQUIRE_POSTGRES = os.environ.get("METRICSYNC_REQUIRE_POSTGRES") == "1"


REQUIRE_MARIADB = os.environ.get("METRICSYNC_REQUIRE_MARIADB") == "1"


def require(variable: str, problem: Optional[str], what: str) -> None:
    """Skip a test whose prerequisite (`what`) is missing, or fail it when `variable` is 1 (CI sets
    every `METRICSYNC_REQUIRE_*`, so nothing is skipped there unseen)."""
    if problem:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{what} is required ({variable}=1) but missing: {problem}")
        pytest.skip(f"{what} missing ({problem}); {variable}=1 makes this a failure")


def require_module(module: str, variable: str, what: str) -> Any:
    """`pytest.importorskip` that fails instead when `variable` is 1."""
    try:
        return __import__(module)
    except ImportError as exc:
        require(variable, str(exc), what)


def _postgres_available() -> Optional[str]:
    try:
        import psycopg2

        psycopg2.connect(POSTGRES_ADMIN, connect_timeout=3).close()
        return None
    except Exception as exc:  # noqa: BLE001 - the reason is shown in the skip
        return str(exc).strip().splitlines()[0]


def _require(server: str, problem: Optional[str], required: bool, variable: str, url: str) -> None:
    """Fail (in CI, where `variable` is 1) or skip a test whose database server is unreachable
    (the older form of `require`, which tests written against it still call)."""
    if problem and required:
        pytest.fail(f"{server} is required ({variable}=1) but unreachable: {problem}")
    require(variable, problem and f"{problem} at {url}", server)


def require_postgres() -> None:
    """Skip (fail in CI: METRICSYNC_REQUIRE_POSTGRES=1) a test that needs the Postgres server."""
    require("METRICSYNC_REQUIRE_POSTGRES", _postgres_available(), f"Postgres at {POSTGRES_ADMIN}")


@contextmanager
def postgres_database(prefix: str = "ms_test", template: Optional[str] = None) -> Iterator[str]:
    """A fresh Postgres database (a copy of the database `template` when given), dropped however the
    test ends; yields its URL. Skipped when the server is unreachable, outside CI."""
    require_postgres()
    import psycopg2

    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f"create database {database}" + (f" template {template}" if template else ""))
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    finally:
        admin.cursor().execute(f"drop database if exists {database} with (force)")
        admin.close()


def _mariadb_query(url: str, sql: str, autocommit: bool = False) -> list[tuple]:
    import pymysql
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    conn = pymysql.connect(
        host=parts.host,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        database=parts.database,
        autocommit=autocommit,
        connect_timeout=3,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def _mariadb_available() -> Optional[str]:
    try:
        _mariadb_query(MARIADB_ADMIN, "select 1")
        return None
    except Exception as exc:  # noqa: BLE001 - the reason is shown in the skip
        return str(exc).strip().splitlines()[0]
