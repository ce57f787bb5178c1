"""The three kinds of lock behind every scope (`pipelines/locks/scopes.py`), each taken with `try_acquire()` (None
when taken, else a description of the holder), `check()`ed before each load and `release()`d:

* `AdvisoryLock` (Postgres): a session advisory lock, released by the server when the holder's
  connection ends; the holder is named by its connection's `application_name`;
* `FileLock` (a DuckDB file, a pipelines folder): an exclusive lock on a file holding the owner's
  description; the kernel releases it with the holder's process;
* `RowLock` (any other SQL warehouse): a row in `<dataset>._metricsync_locks`, its heartbeat and
  expiry on the warehouse's own clock.

Every holder is an `Owner`: host, pid, a random run id and since when, e.g.
`host cron-1, pid 4242, run 3f2a9c1e, since 2026-11-30 02:00:01 UTC`.
"""

import datetime as dt
import fcntl
import logging
import os
import socket
import threading
import uuid
from typing import Any, Callable, Optional

from metricsync.sources._common.errors import MetricSyncError

logger = logging.getLogger("metricsync.locking")

LOCK_TABLE = "_metricsync_locks"
ADVISORY_NAMESPACE = 0x6D73  # "ms": the first key of metricsync's two-key advisory locks
HEARTBEAT_SECONDS = 15.0
EXPIRY_SECONDS = 60.0  # a lock row not refreshed for this long (warehouse clock) belongs to a holder that is gone


class RunInProgress(MetricSyncError):
    exit_code = 6


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _pid_space() -> str:
    """This kernel boot and pid namespace: two processes see each other's pids only when these
    match (containers sharing a hostname have their own namespaces). Empty when unknown."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return f"{handle.read().strip()}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""


class Owner:
    """This run as a lock holder: host, pid, a random run id, since when."""

    def __init__(self) -> None:
        self.host, self.pid, self.since = socket.gethostname(), os.getpid(), _now()
        self.run, self.space = uuid.uuid4().hex, _pid_space()

    def describe(self, since: Optional[dt.datetime] = None) -> str:
        return describe(self.host, self.pid, self.run, since or self.since)


def describe(host: str, pid: Any, run: str, since: dt.datetime) -> str:
    return f"host {host}, pid {pid}, run {run[:8]}, since {_stamp(since)}"


class AdvisoryLock:
    """Postgres: `pg_try_advisory_lock(namespace, hashtext(name))` on a connection of its own."""

    def __init__(self, name: str, client: Any, owner: Owner) -> None:
        self.name, self.client, self.owner = name, client, owner

    def _tag(self) -> str:
        """`application_name` (at most 63 characters): metricsync, host, pid, run, since."""
        owner = self.owner
        return f"metricsync {owner.host[:16]} {owner.pid} {owner.run[:8]} {owner.since:%Y%m%dT%H%M%SZ}"

    def try_acquire(self) -> Optional[str]:
        if self.client.native_connection is None:
            self.client.open_connection()
            self.client.execute_sql("select set_config('application_name', %s, false)", self._tag())
        taken = self.client.execute_sql("select pg_try_advisory_lock(%s, hashtext(%s))", ADVISORY_NAMESPACE, self.name)
        if taken[0][0]:
            return None
        rows = self.client.execute_sql(
            "select a.application_name, a.pid, a.backend_start from pg_locks l "
            "join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.classid = %s "
            "and l.objid::bigint = (hashtext(%s)::bigint & 4294967295)",
            ADVISORY_NAMESPACE,
            self.name,
        )
        if not rows:
            return "a run that just finished"
        application, pid, started = rows[0]
        parts = str(application or "").split()
        if len(parts) == 5 and parts[0] == "metricsync":
            since = dt.datetime.strptime(parts[4], "%Y%m%dT%H%M%SZ")
            return describe(parts[1], parts[2], parts[3], since)
        return f"server backend {pid}, since {_stamp(started.astimezone(dt.timezone.utc))}"

    def check(self) -> None:
        """Before each load: the session holding the lock is still there (a lost connection
        raises the driver's error: the run stops, exit 5)."""
        self.client.execute_sql("select 1")

    def release(self) -> None:
        if self.client.native_connection is not None:
            try:
                self.client.close_connection()  # ends the session, and with it the lock
            except Exception:  # noqa: BLE001 - a connection already lost holds no lock
                logger.debug("%s: closing the lock's connection failed", self.name, exc_info=True)


class FileLock:
    """An exclusive `flock` on `path`, the file holding the owner's description. The kernel drops
    it with the holder's process, and a waiter never opens the database itself (DuckDB lets one
    process at a time open a file)."""

    def __init__(self, path: str, owner: Owner) -> None:
        self.path, self.owner = path, owner
        self._handle: Any = None

    def try_acquire(self) -> Optional[str]:
        handle = open(self.path, "a+")  # noqa: SIM115 - the open handle holds the lock until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            return holder or "a run that is just starting"
        handle.seek(0)
        handle.truncate()
        handle.write(self.owner.describe())
        handle.flush()
        self._handle = handle
        return None

    def check(self) -> None:
        """The kernel holds a file lock for as long as this process lives."""

    def release(self) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _warehouse_time(value: Any) -> dt.datetime:
    """A timestamp the warehouse returned (`current_timestamp`), as naive UTC when it says its zone."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0)


class RowLock:
    """Any other SQL warehouse: one row per lock name in `<dataset>._metricsync_locks`; the primary
    key makes the insert the atomic step. Its `since` and heartbeat (`beat`) are the warehouse's
    `current_timestamp`, and so is the clock that judges them, so hosts' clocks never matter. A row
    is taken over when its heartbeat is older than `EXPIRY_SECONDS`, or (at once) when its process
    is gone and was one this process can see: same host, same boot and pid namespace."""

    COLUMNS = "name, host, pid, run_id, pid_space, since, beat"

    def __init__(self, name: str, client_factory: Callable[[], Any], owner: Owner) -> None:
        self.name, self.client_factory, self.owner = name, client_factory, owner
        self._stop = threading.Event()
        self._beat: Optional[threading.Thread] = None

    def _table(self, client: Any) -> str:
        return client.make_qualified_table_name(LOCK_TABLE)

    def _prepare(self, client: Any) -> str:
        if not client.has_dataset():
            client.create_dataset()
        table = self._table(client)
        client.execute_sql(
            f"create table if not exists {table} (name varchar(200) not null primary key, "
            "host varchar(255), pid bigint, run_id varchar(64), pid_space varchar(100), "
            "since varchar(40), beat varchar(40))"
        )
        return table

    def try_acquire(self) -> Optional[str]:
        with self.client_factory() as client:
            table = self._prepare(client)
            held, clock = self._holder(client, table)
            if held and self._stale(held, clock):
                logger.info(
                    "%s: taking over the lock left by %s (%s)",
                    self.name,
                    self._describe(held),
                    "its process is gone" if self._dead(held) else "no heartbeat since",
                )
                client.execute_sql(f"delete from {table} where name = %s and run_id = %s", self.name, held[3])
            elif held:
                return self._describe(held)
            try:
                client.execute_sql(
                    f"insert into {table} ({self.COLUMNS}) values (%s, %s, %s, %s, %s, %s, %s)",
                    self.name,
                    self.owner.host,
                    self.owner.pid,
                    self.owner.run,
                    self.owner.space,
                    clock.isoformat(),
                    clock.isoformat(),
                )
            except Exception:  # noqa: BLE001 - the key is taken (each database words it its own way)
                held, _clock = self._holder(client, table)
                if held is None:
                    raise
                return self._describe(held)
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name=f"lock-{self.name}", daemon=True)
        self._beat.start()
        return None

    def _holder(self, client: Any, table: str) -> tuple[Optional[tuple], dt.datetime]:
        """The row of this lock (None when free) and the warehouse's clock."""
        rows = client.execute_sql(f"select {self.COLUMNS}, current_timestamp from {table} where name = %s", self.name)
        if rows:
            return tuple(rows[0][:-1]), _warehouse_time(rows[0][-1])
        return None, _warehouse_time(client.execute_sql("select current_timestamp")[0][0])

    @staticmethod
    def _describe(row: tuple) -> str:
        return describe(row[1], row[2], row[3], dt.datetime.fromisoformat(row[5]))

    def _dead(self, row: tuple) -> bool:
        """Held by a process this one can see (same host, boot and pid namespace) that no longer runs."""
        if not self.owner.space or (row[1], row[4]) != (self.owner.host, self.owner.space):
            return False
        try:
            os.kill(int(row[2]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _stale(self, row: tuple, clock: dt.datetime) -> bool:
        age = (clock - dt.datetime.fromisoformat(row[6])).total_seconds()
        return age > EXPIRY_SECONDS or self._dead(row)

    def check(self) -> None:
        """Before each load: the row is still this run's (not taken over after an expiry)."""
        with self.client_factory() as client:
            held, _clock = self._holder(client, self._table(client))
        if held is None or held[3] != self.owner.run:
            raise RunInProgress(
                f"{self.name}: lost the warehouse lock to "
                f"{self._describe(held) if held else 'nobody'} (no heartbeat for "
                f"{EXPIRY_SECONDS:g}s) - re-run; loads already committed stay"
            )

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.client_factory() as client:
                    table = self._table(client)
                    clock = _warehouse_time(client.execute_sql("select current_timestamp")[0][0])
                    client.execute_sql(
                        f"update {table} set beat = %s where name = %s and run_id = %s",
                        clock.isoformat(),
                        self.name,
                        self.owner.run,
                    )
            except Exception:  # noqa: BLE001 - the next beat tries again; expiry is a minute away
                logger.debug("%s: lock heartbeat failed", self.name, exc_info=True)

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
            with self.client_factory() as client:
                client.execute_sql(
                    f"delete from {self._table(client)} where name = %s and run_id = %s", self.name, self.owner.run
                )
