"""Reading a provider's dataset in the destination without a local pipeline folder: stored state,
`_dlt_loads`, the stored schema and row counts (for `check`, `status`, `describe`, `reset`).

A throw-away dlt pipeline in a temporary folder gives dlt's own SQL and state clients for any
destination; nothing is created: a DuckDB file that does not exist is not opened (opening it
would create it) and no dataset is ever created.
"""

import json
import os
import shutil
import tempfile
from typing import Any, Optional

import dlt
from dlt.common.versioned_state import decompress_state


class Warehouse:
    """`with Warehouse("duckdb", "whop") as w: w.state()` - the provider's dataset, read only."""

    def __init__(self, destination: str, provider: str, dataset: Optional[str] = None) -> None:
        self.destination, self.provider, self.dataset = destination, provider, dataset
        self._dir = tempfile.mkdtemp(prefix="metricsync-read-")
        self._sql: Any = None
        self.where = ""
        self._missing_file = False
        self._tables: Optional[set] = None

    def __enter__(self) -> "Warehouse":
        from metricsync.warehouse.destinations import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
            dataset_name,
            duckdb_path,
            make_destination,
        )

        self.dataset = dataset = self.dataset or dataset_name(self.provider)
        destination = make_destination(self.destination, dataset)
        self.pipeline = dlt.pipeline(
            pipeline_name=self.provider, destination=destination, dataset_name=dataset, pipelines_dir=self._dir
        )
        if self.destination == "duckdb":
            path = duckdb_path()
            self.where = os.path.abspath(path) if ":" not in path else path.split("?")[0]  # an md: token: never shown
            self._missing_file = ":" not in path and not os.path.exists(path)
        if self._missing_file:
            return self
        self._sql = self.pipeline.sql_client()
        self._sql.open_connection()
        if not self.where:
            credentials = self._sql.credentials
            host, database = getattr(credentials, "host", None), getattr(credentials, "database", "")
            self.where = f"{host}/{database}" if host else str(database)  # a named DuckDB file: its path
        return self

    @property
    def label(self) -> str:
        """Which warehouse, without secrets: `duckdb:/data/metricsync.duckdb`, `postgres:db.host/analytics`."""
        return f"{self.pipeline.destination.destination_type.rsplit('.', 1)[-1]}:{self.where}"

    def __exit__(self, *exc: Any) -> None:
        if self._sql is not None:
            self._sql.close_connection()
        shutil.rmtree(self._dir, ignore_errors=True)

    def has_dataset(self) -> bool:
        return self._sql is not None and self._sql.has_dataset()

    def writable(self) -> Any:
        """dlt's SQL client, the dataset created if missing (None for a DuckDB file that does not
        exist: nothing creates it but a load)."""
        if self._sql is not None and not self.has_dataset():
            self._sql.create_dataset()
            self._tables = None
        return self._sql

    def query(self, sql: str, *args: Any) -> list[tuple]:
        return list(self._sql.execute_sql(sql, *args) or [])

    def table(self, name: str) -> str:
        return self._sql.make_qualified_table_name(name)

    def tables(self) -> set[str]:
        if self._tables is None:
            self._tables = set()
            if self.has_dataset():
                dataset = self._sql.dataset_name
                rows = self.query("select table_name from information_schema.tables where table_schema = %s", dataset)
                self._tables = {r[0] for r in rows}
        return self._tables

    def quote(self, column: str) -> str:
        """A column name as this destination's SQL writes it (quoted)."""
        return self._sql.escape_column_name(column)

    def columns(self, table: str) -> list[str]:
        """The table's columns in the destination, in order (none when it does not exist)."""
        if table not in self.tables():
            return []
        rows = self.query(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = %s order by ordinal_position",
            self._sql.dataset_name,
            table,
        )
        return [r[0] for r in rows]

    def state(self, pipeline: Optional[str] = None) -> Optional[dict]:
        """The newest committed pipeline state in the provider's dataset, or None: of any pipeline
        (the dataset holds one provider's loads), or of the named one (one account's)."""
        found = self.state_and_load(pipeline)
        return found[0] if found else None

    def state_and_load(self, pipeline: Optional[str] = None) -> Optional[tuple]:
        """(state, inserted_at of the load that committed it), newest first, of `pipeline` or any."""
        if "_dlt_pipeline_state" not in self.tables():
            return None
        where, args = ("and s.pipeline_name = %s", [pipeline]) if pipeline else ("", [])
        rows = self.query(
            f"select s.state, l.inserted_at from {self.table('_dlt_pipeline_state')} s "
            f"join {self.table('_dlt_loads')} l on l.load_id = s._dlt_load_id where l.status = 0 {where} "
            "order by s._dlt_load_id desc limit 1",
            *args,
        )
        return (decompress_state(rows[0][0]), rows[0][1]) if rows else None

    def pipeline_name(self, account: Optional[str] = None) -> str:
        """The runner's pipeline name here for the provider (or one account of it)."""
        from metricsync.warehouse.destinations import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
            pipeline_name,
        )

        return pipeline_name(self.provider, self.pipeline.destination.destination_name, account)

    def last_load(self) -> Optional[tuple]:
        """(load_id, status, inserted_at) of the provider's newest load."""
        if "_dlt_loads" not in self.tables():
            return None
        rows = self.query(
            f"select load_id, status, inserted_at from {self.table('_dlt_loads')} order by inserted_at desc limit 1"
        )
        return rows[0] if rows else None

    def schema(self) -> Optional[dict]:
        """The newest stored dlt schema of the provider, as a dict."""
        if "_dlt_version" not in self.tables():
            return None
        rows = self.query(
            f"select schema from {self.table('_dlt_version')} where schema_name = %s order by inserted_at desc limit 1",
            self.provider,
        )
        return json.loads(rows[0][0]) if rows else None

    def count(self, table: str, where: str = "", *args: Any) -> Optional[int]:
        if table not in self.tables():
            return None
        return self.query(f"select count(*) from {self.table(table)} {where}", *args)[0][0]
