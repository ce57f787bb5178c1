"""A warehouse for one test (a DuckDB file or a fresh Postgres database) and how tests read it."""

from pathlib import Path
from typing import Iterator

import pytest

from support.servers import _mariadb_query, postgres_database


class Warehouse:
    """A destination for one test: DuckDB file or a fresh Postgres database."""

    def __init__(self, name: str, credentials: str, prefix: str = ""):
        self.name, self.credentials, self.prefix = name, credentials, prefix

    def dataset(self, provider: str) -> str:
        """The provider's dataset (schema) name here: `dataset_prefix` + provider."""
        return self.prefix + provider

    def query(self, sql: str) -> list[tuple]:
        if self.name == "duckdb":
            import duckdb

            with duckdb.connect(self.credentials, read_only=True) as conn:
                return conn.execute(sql).fetchall()
        if self.name == "sqlalchemy":
            return _mariadb_query(self.credentials, sql)
        import psycopg2

        conn = psycopg2.connect(self.credentials)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def execute(self, sql: str) -> None:
        """A statement that writes (DuckDB or Postgres), committed: what a user does beside the marts."""
        if self.name == "duckdb":
            import duckdb

            with duckdb.connect(self.credentials) as conn:
                conn.execute(sql)
            return
        import psycopg2

        conn = psycopg2.connect(self.credentials)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def tables(self, dataset: str) -> set[str]:
        rows = self.query(f"select table_name from information_schema.tables where table_schema = '{dataset}'")
        return {r[0] for r in rows}


def _warehouse(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """A DuckDB file, or a fresh Postgres database (skipped when unreachable, outside CI)."""
    if kind == "duckdb":
        path = str(tmp_path / "test.duckdb")
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
        yield Warehouse("duckdb", path)
        return
    with postgres_database() as credentials:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", credentials)
        yield Warehouse("postgres", credentials)


# for a test about request shapes or error lines, which take one warehouse (merges, scd2 and state run on each)
duckdb_only = pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)


def duckdb_query(path: Path, sql: str):
    import duckdb

    with duckdb.connect(str(path)) as conn:
        return conn.execute(sql).fetchall()
