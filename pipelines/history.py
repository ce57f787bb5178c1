"""The run history: one row per provider and account for every `run`, `verify`, `transform`,
`reset` and `status --stale`, failures included, in the table `runs` of a dataset of its own in
the command's warehouse (`[history] dataset`, default `<dataset_prefix>metricsync_history`).

The rows of a command are written after it, in one short transaction of their own, so a run whose
load failed is still recorded. When the warehouse cannot be reached (or is a DuckDB file that does
not exist yet) they wait in `<pipelines dir>/.history-pending-<destination>.jsonl`, and the next
command that reaches the warehouse writes them first.

    run_id        command  provider  account  exit_code  outcome                      message
    4f1c2a9e0b7d  run      whop               4          authentication or permission whop: the API refused the key ...
"""

import datetime as dt
import json
import logging
import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import dlt
from metricsync.locks import duckdb_file_turn
from metricsync.warehouse.reads import Warehouse

logger = logging.getLogger("metricsync.history")

TABLE = "runs"
DEFAULT_DATASET = "metricsync_history"
READ_LIMIT = 1000  # newest rows read to find each provider's last success and failure
COLUMNS = {
    "run_id": "varchar(32)",
    "command": "varchar(32)",
    "arguments": "text",
    "provider": "varchar(64)",
    "account": "varchar(64)",
    "host": "varchar(255)",
    "pid": "bigint",
    "version": "varchar(32)",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "exit_code": "integer",
    "outcome": "varchar(64)",
    "message": "text",
    "kind": "varchar(16)",
    "range_from": "date",
    "range_to": "date",
    "windows": "bigint",
    "requests": "bigint",
    "retries": "bigint",
    "throttled": "bigint",
    "learnt_rate": "text",
    "table_rows": "text",
    "rows_total": "bigint",
    "loads": "bigint",
    "seconds": "double precision",
    "schema_changes": "text",
    "vanished": "text",
}
TIMES, DAYS = ("started_at", "finished_at"), ("range_from", "range_to")


def dataset() -> str:
    """`history.dataset` (`HISTORY__DATASET`), else `dataset_prefix` + metricsync_history."""
    explicit = dlt.config.get("history.dataset")
    if explicit and str(explicit).strip():
        return str(explicit).strip()
    return f"{dlt.config.get('dataset_prefix') or ''}{DEFAULT_DATASET}"


def pending_path(pipelines_dir: str, destination: str) -> str:
    return os.path.join(pipelines_dir, f".history-pending-{destination}.jsonl")


def _to_json(row: dict) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()})


def _from_json(line: str) -> dict:
    row = json.loads(line)
    for name in TIMES:
        row[name] = dt.datetime.fromisoformat(row[name]) if row.get(name) else None
    for name in DAYS:
        row[name] = dt.date.fromisoformat(row[name]) if row.get(name) else None
    return row


def read_pending(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [_from_json(line) for line in handle if line.strip()]


def keep_pending(path: str, rows: list[dict]) -> None:
    """Rows the warehouse could not take, appended to the local file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.writelines(_to_json(row) + "\n" for row in rows)


@contextmanager
def history_warehouse(destination: str) -> Iterator[Any]:
    """The history's dataset in `destination` (`reads.Warehouse`); its SQL client is None when
    the DuckDB file does not exist."""

    with Warehouse(destination, "metricsync_history", dataset()) as warehouse:
        yield warehouse


def ensure_table(warehouse: Any) -> Any:
    """`runs` created if missing, with the columns added since an earlier version created it;
    the SQL client (None for a DuckDB file that does not exist)."""
    client = warehouse.writable()
    if client is None:
        return None
    table = warehouse.table(TABLE)
    if TABLE not in warehouse.tables():
        columns = ", ".join(f"{warehouse.quote(name)} {kind}" for name, kind in COLUMNS.items())
        client.execute_sql(f"create table if not exists {table} ({columns})")
    else:
        stored = set(warehouse.columns(TABLE))
        for name in [n for n in COLUMNS if n not in stored]:
            client.execute_sql(f"alter table {table} add column {warehouse.quote(name)} {COLUMNS[name]}")
    return client


def write(warehouse: Any, rows: list[dict]) -> None:
    """The rows into `runs` (`ensure_table` first) in one transaction."""
    client = warehouse.writable()
    table = warehouse.table(TABLE)
    names = ", ".join(warehouse.quote(name) for name in COLUMNS)
    marks = ", ".join(["%s"] * len(COLUMNS))
    with client.begin_transaction():
        for row in rows:
            stored = {**row, **{name: _naive_utc(row[name]) for name in TIMES}}
            client.execute_sql(f"insert into {table} ({names}) values ({marks})", *[stored[n] for n in COLUMNS])


def read(warehouse: Any, where: str = "", args: tuple = (), limit: int = READ_LIMIT) -> list[dict]:
    """Rows of `runs`, newest first (none before the first command wrote one)."""
    if TABLE not in warehouse.tables():
        return []
    stored = set(warehouse.columns(TABLE))
    present = [name for name in COLUMNS if name in stored]  # an older table has fewer
    rows = warehouse.query(
        f"select {', '.join(map(warehouse.quote, present))} from {warehouse.table(TABLE)} "
        f"{where} order by {warehouse.quote('finished_at')} desc limit {int(limit)}",
        *args,
    )
    return [_aware({**dict.fromkeys(COLUMNS), **dict(zip(present, row))}) for row in rows]


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _aware(row: dict) -> dict:
    for name in TIMES:
        value = row[name]
        if isinstance(value, dt.datetime):
            row[name] = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value
    for name in DAYS:
        if isinstance(row[name], dt.datetime):
            row[name] = row[name].date()
    return row


def latest(rows: list[dict]) -> dict:
    """(provider, account) -> {"last": row, "success": row, "failure": row} from rows newest first."""
    found: dict = {}
    for row in rows:
        entry = found.setdefault((row["provider"], row["account"]), {"last": row})
        entry.setdefault("success" if row["exit_code"] == 0 else "failure", row)
    return found


def _same(row: dict) -> Any:
    return lambda other: (
        (other["provider"], other["account"], other["command"]) == (row["provider"], row["account"], row["command"])
    )


def previous(rows: list[dict], row: dict) -> Optional[dict]:
    """The newest row before `row` of the same provider, account and command (a streak's key)."""
    return next(filter(_same(row), rows), None)


def streak_start(rows: list[dict], row: dict) -> Optional[dict]:
    """The first failure of the failing streak that `row` ends (rows newest first), or None."""
    first = None
    for other in filter(_same(row), rows):
        if other["exit_code"] == 0:
            break
        first = other
    return first


def record(destination: str, pipelines_dir: str, rows: list[dict]) -> list[dict]:
    """Write `rows` (after any pending ones); returns the rows stored before them, newest first
    (those the warehouse holds, or the pending file's when it cannot be reached). Kept rows are
    logged as a WARNING after a success, as INFO after a failure (whose own line said enough)."""
    path = pending_path(pipelines_dir, destination)
    waiting = read_pending(path)
    try:
        with duckdb_file_turn(destination, "history"), history_warehouse(destination) as warehouse:
            if ensure_table(warehouse) is None:
                raise FileNotFoundError(f"the DuckDB file {warehouse.where} does not exist yet")
            earlier = read(warehouse)
            write(warehouse, waiting + rows)
    except Exception as exc:  # noqa: BLE001 - the history never changes a command's outcome
        level = logging.INFO if any(row["exit_code"] for row in rows) else logging.WARNING
        logger.log(
            level,
            "history: the %s warehouse did not take the run's record (%s) - kept in %s for the next run",
            destination,
            _first_line(exc),
            path,
        )
        keep_pending(path, rows)
        return sorted(waiting, key=lambda r: r["finished_at"], reverse=True)
    if waiting:
        os.remove(path)
        logger.info("history: %d pending row(s) written", len(waiting))
    return sorted(earlier + waiting, key=lambda r: r["finished_at"], reverse=True)


def _first_line(exc: BaseException) -> str:
    from metricsync.sources._common.http.redaction import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        redact,
    )

    text = redact(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
