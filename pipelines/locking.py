"""One writer per pipeline: a file lock on this machine's pipeline folder, and a lock in the
destination itself, so two schedulers on two hosts (cron on a box, a backfill from a laptop) never
load the same pipeline into one warehouse at once.

The destination lock (`destination_lock`, held by the runner from restoring state to the last
load) is keyed by pipeline name:
* Postgres: a session advisory lock, released by the server when the holder's connection ends
  (a crashed holder never blocks); the holder is named by its connection's `application_name`;
* a DuckDB file: an exclusive file lock on `<file>.<pipeline>.lock` beside it, holding the owner
  (host, pid, since); the kernel releases it with the holder's process;
* other SQL warehouses (MariaDB, MotherDuck, Snowflake, ...): a row in `<dataset>._metricsync_lock`
  with the owner (host, pid, since), a heartbeat and an expiry; a row past its expiry, or left by
  a dead process of this host, is taken over.

A second writer waits up to `lock_wait_seconds` (default 0), then fails with exit 6, e.g.

    whop: another run of whop__postgres holds the warehouse lock (host cron-1, pid 4242, since
    2026-11-30 02:00:01 UTC) - wait for it to finish, or set SOURCES__WHOP__LOCK_WAIT_SECONDS to wait
"""

import datetime as dt
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from sources._common.errors import MetricSyncError

logger = logging.getLogger("metricsync.locking")

LOCK_TABLE = "_metricsync_lock"
ADVISORY_NAMESPACE = 0x6D73  # "ms": the first key of metricsync's two-key advisory locks
HEARTBEAT_SECONDS = 15.0
EXPIRY_SECONDS = 60.0  # a lock row not refreshed for this long belongs to a holder that is gone


class RunInProgress(MetricSyncError):
    exit_code = 6


@contextmanager
def pipeline_lock(provider: str, pipelines_dir: str) -> Iterator[None]:
    os.makedirs(pipelines_dir, exist_ok=True)
    path = os.path.join(pipelines_dir, f"{provider}.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(
                f"{provider}: another run of this pipeline is in progress (lock {path}) - wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class Owner:
    """This process as a lock holder: host, pid, since when, and a token only it knows."""

    def __init__(self) -> None:
        self.host, self.pid, self.since, self.token = socket.gethostname(), os.getpid(), _now(), uuid.uuid4().hex

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, since {_stamp(self.since)}"


class AdvisoryLock:
    """Postgres: `pg_try_advisory_lock(namespace, hashtext(name))` on a connection kept open."""

    def __init__(self, name: str, client: Any, owner: Owner) -> None:
        self.name, self.client, self.owner = name, client, owner

    def try_acquire(self) -> Optional[str]:
        """None when taken, else who holds it."""
        if self.client.native_connection is None:
            self.client.open_connection()
            tag = f"metricsync {self.owner.host[:24]} {self.owner.pid} {self.owner.since:%Y-%m-%dT%H:%M:%SZ}"
            self.client.execute_sql("select set_config('application_name', %s, false)", tag)
        taken = self.client.execute_sql("select pg_try_advisory_lock(%s, hashtext(%s))", ADVISORY_NAMESPACE, self.name)
        if taken[0][0]:
            return None
        rows = self.client.execute_sql(
            "select a.application_name, a.pid, a.backend_start from pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.classid = %s "
            "and l.objid::bigint = (hashtext(%s)::bigint & 4294967295)", ADVISORY_NAMESPACE, self.name)
        if not rows:
            return "a run that just finished"
        application, pid, started = rows[0]
        parts = str(application or "").split()
        if len(parts) == 4 and parts[0] == "metricsync":
            since = dt.datetime.strptime(parts[3], "%Y-%m-%dT%H:%M:%SZ")
            return f"host {parts[1]}, pid {parts[2]}, since {since:%Y-%m-%d %H:%M:%S} UTC"
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


class RowLock:
    """Any other SQL warehouse: one row per pipeline in `<dataset>._metricsync_lock`; the primary
    key makes the insert the atomic step."""

    def __init__(self, name: str, client_factory: Callable[[], Any], owner: Owner) -> None:
        self.name, self.client_factory, self.owner = name, client_factory, owner
        self._stop = threading.Event()
        self._beat: Optional[threading.Thread] = None

    def _table(self, client: Any) -> str:
        return client.make_qualified_table_name(LOCK_TABLE)

    def try_acquire(self) -> Optional[str]:
        with self.client_factory() as client:
            if not client.has_dataset():
                client.create_dataset()
            table = self._table(client)
            client.execute_sql(f"create table if not exists {table} (pipeline_name varchar(200) not null primary key, "
                               "host varchar(255), pid bigint, since varchar(40), expires varchar(40), token varchar(64))")
            held = self._holder(client, table)
            if held and self._stale(held):
                logger.info("%s: taking over the lock left by %s (%s)", self.name, self._describe(held),
                            "its process is gone" if self._dead(held) else "no heartbeat since")
                client.execute_sql(f"delete from {table} where pipeline_name = %s and token = %s", self.name, held[5])
            elif held:
                return self._describe(held)
            now = _now()
            try:
                client.execute_sql(f"insert into {table} (pipeline_name, host, pid, since, expires, token) "
                                   "values (%s, %s, %s, %s, %s, %s)", self.name, self.owner.host, self.owner.pid,
                                   self.owner.since.isoformat(), (now + dt.timedelta(seconds=EXPIRY_SECONDS)).isoformat(),
                                   self.owner.token)
            except Exception:  # noqa: BLE001 - the key is taken (each database words it its own way)
                held = self._holder(client, table)
                if held is None:
                    raise
                return self._describe(held)
        self._beat = threading.Thread(target=self._heartbeat, name=f"lock-{self.name}", daemon=True)
        self._beat.start()
        return None

    def _holder(self, client: Any, table: str) -> Optional[tuple]:
        rows = client.execute_sql(f"select pipeline_name, host, pid, since, expires, token from {table} "
                                  "where pipeline_name = %s", self.name)
        return tuple(rows[0]) if rows else None

    @staticmethod
    def _describe(row: tuple) -> str:
        since = dt.datetime.fromisoformat(row[3])
        return f"host {row[1]}, pid {row[2]}, since {_stamp(since)}"

    def _dead(self, row: tuple) -> bool:
        """Held by a process of this host that no longer runs."""
        if row[1] != self.owner.host:
            return False
        try:
            os.kill(int(row[2]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _stale(self, row: tuple) -> bool:
        return self._dead(row) or dt.datetime.fromisoformat(row[4]) < _now()

    def check(self) -> None:
        """Before each load: the row is still this run's (not taken over after an expiry)."""
        with self.client_factory() as client:
            held = self._holder(client, self._table(client))
        if held is None or held[5] != self.owner.token:
            raise RunInProgress(f"{self.name}: lost the warehouse lock to "
                                f"{self._describe(held) if held else 'nobody'} (no heartbeat for "
                                f"{EXPIRY_SECONDS:g}s) - re-run; loads already committed stay")

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.client_factory() as client:
                    expires = (_now() + dt.timedelta(seconds=EXPIRY_SECONDS)).isoformat()
                    client.execute_sql(f"update {self._table(client)} set expires = %s where pipeline_name = %s "
                                       "and token = %s", expires, self.name, self.owner.token)
            except Exception:  # noqa: BLE001 - the next beat tries again; expiry is a minute away
                logger.debug("%s: lock heartbeat failed", self.name, exc_info=True)

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            with self.client_factory() as client:
                client.execute_sql(f"delete from {self._table(client)} where pipeline_name = %s and token = %s",
                                   self.name, self.owner.token)


class FileLock:
    """A DuckDB file: an exclusive lock on `<database>.<pipeline>.lock` beside it, holding the
    owner's description. The kernel drops it with the holder's process, and a waiter never opens
    the database itself (DuckDB lets one process at a time open a file, so polling a lock row
    inside it would make the holder's own next connection fail)."""

    def __init__(self, path: str, owner: Owner) -> None:
        self.path, self.owner = path, owner
        self._handle: Any = None

    def try_acquire(self) -> Optional[str]:
        handle = open(self.path, "a+")
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


def make_lock(pipeline: Any, owner: Optional[Owner] = None) -> Any:
    """The destination lock for a dlt pipeline: advisory on Postgres, a lock file beside a local
    DuckDB file, a lock row in any other SQL warehouse."""
    owner = owner or Owner()
    kind = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    if kind == "postgres":
        return AdvisoryLock(pipeline.pipeline_name, pipeline.sql_client(), owner)
    if kind == "duckdb":
        path = pipeline.destination.config_params.get("credentials")  # the file the runner named, if a plain path
        database = path if isinstance(path, str) and ":" not in path else str(pipeline.sql_client().credentials.database)
        if ":memory:" not in database:
            return FileLock(f"{database}.{pipeline.pipeline_name}.lock", owner)
    return RowLock(pipeline.pipeline_name, pipeline.sql_client, owner)


@contextmanager
def destination_lock(pipeline: Any, provider: str, wait_seconds: float = 0.0,
                     clock: Callable[[], float] = time.monotonic) -> Iterator[Any]:
    """Hold the pipeline's lock in its destination for the block (yields it: `check()` it before
    each load); wait up to `wait_seconds` for another holder, then raise `RunInProgress` (exit 6)
    naming it."""
    lock = make_lock(pipeline)
    deadline = clock() + max(0.0, wait_seconds)
    while True:
        holder = lock.try_acquire()
        if holder is None:
            break
        if clock() >= deadline:
            lock.release()
            waited = f" (waited {wait_seconds:g}s)" if wait_seconds else ""
            raise RunInProgress(f"{provider}: another run of {pipeline.pipeline_name} holds the warehouse lock "
                                f"({holder}){waited} - wait for it to finish, or set "
                                f"SOURCES__{provider.upper()}__LOCK_WAIT_SECONDS to wait for it")
        time.sleep(min(1.0, max(0.05, deadline - clock())))
    try:
        yield lock
    finally:
        lock.release()
