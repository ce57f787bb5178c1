"""What `metricsync query` keeps beside the kept parse (`parsed.py`), so that a question asked before
is answered without dbt, MetricFlow or dlt: its SQL, run through the warehouse's own driver
(duckdb, psycopg2) on the live tables, so a reload between two questions is seen by the second.

In dbt's target folder of the project, `semantic-cache/`:

* `contexts/<key>.json`: where questions are asked, keyed by a hash of the working directory, the
  destination named, the environment (dlt reads its settings from it), the UTC date (the clock's
  shift is a var of the parse), every file of the dbt project and the packages' versions; it holds
  the key of the parse that context makes (`parsed.fingerprint`: profile and vars, as resolved by
  dlt on a cold question), the warehouse to connect to (never a password: a destination with one
  keeps no context) and the digests of dlt's settings files (`.dlt/config.toml`,
  `.dlt/secrets.toml`, the global ones), checked again on every read;
* `questions/<key>.json`: a question's SQL and number of group-by columns, keyed by the parse key
  and the question (metrics, grain, by, where, from, to).

    context = Context("duckdb")
    record = context.read()      # None: a cold question (dlt, dbt), which writes it
    sql = read_question(context.folder, record["parse_key"], question)
    columns, rows = run(record["connection"], sql["sql"], sql["keys"])

(`warm.py` answers from them.)
"""

import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

from metricsync.dbt.project import DbtProject, dbt_project, shown

logger = logging.getLogger("metricsync.query")

FOLDER = "semantic-cache"  # in dbt's target folder, beside the kept parses
CONTEXTS, QUESTIONS = "contexts", "questions"
KEPT = {CONTEXTS: 16, QUESTIONS: 256}  # the newest kept of each; the oldest beyond are removed
VERSIONS = (
    "dbt-core",
    "dbt-adapters",
    "dbt-semantic-interfaces",
    "metricflow",
    "metricflow-semantics",
    "dbt-metricflow",
    "metricsync",
)
# variables that change between two shells or test phases and that neither dlt nor dbt reads
VOLATILE = {"_", "PWD", "OLDPWD", "SHLVL", "COLUMNS", "LINES", "PYTEST_CURRENT_TEST", "METRICSYNC_DBT_PASSWORD"}


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def project_files(project: DbtProject) -> list[Path]:
    """Every file dbt may read from the project, sorted: hidden files, byte code and dbt's own
    output (target/ and logs/, and wherever DBT_TARGET_PATH / DBT_LOG_PATH put them) left out."""
    output = {path.resolve() for path in (project.target, project.logs, project.path / "target", project.path / "logs")}
    files = []
    for root, folders, names in os.walk(project.path):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and name != "__pycache__" and Path(root, name).resolve() not in output
        )
        files += [Path(root, name) for name in sorted(names) if not name.startswith(".") and not name.endswith(".pyc")]
    return files


def project_digest(project: DbtProject) -> str:
    """A hash of the packages' versions and every file of the project (names and contents)."""
    digest = hashlib.sha256(json.dumps([_version(name) for name in VERSIONS]).encode())
    for path in project_files(project):
        digest.update(str(path.relative_to(project.path)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def file_digest(path: str) -> Optional[str]:
    """The file's sha256, None when there is none."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def digest_of(material: Any) -> str:
    """The sha256 of `material` as JSON (keys sorted): the key of a kept record."""
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _read(path: Path, key: str, fields: dict) -> Optional[dict]:
    """A kept record that reads back whole under its own key, with `fields` of their types, else None."""
    try:
        kept = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        logger.warning("query: the kept %s is unreadable (%s) - asking as if new", shown(path), exc)
        return None
    if (
        not isinstance(kept, dict)
        or kept.get("key") != key
        or any(not isinstance(kept.get(f), t) for f, t in fields.items())
    ):
        logger.warning("query: the kept %s is not a whole record of its key - asking as if new", shown(path))
        return None
    return kept


def keep(path: Path, record: dict, newest: int) -> None:
    """`record` kept at `path`, written whole or not at all; of the records beside it, the `newest`
    (by time written) kept and the older ones removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record))
    os.replace(partial, path)
    kept = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[newest:]:
        old.unlink(missing_ok=True)


class QueryFailed(Exception):
    """The project did not parse, or the warehouse refused the query: one line and its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Context:
    """Where a question is asked (see the module's docstring); computed before anything else runs."""

    def __init__(self, destination: str) -> None:
        self.project = project = dbt_project()
        self.folder = project.target / FOLDER
        environment = sorted((name, value) for name, value in os.environ.items() if name not in VOLATILE)
        utc_date = dt.datetime.now(dt.timezone.utc).date()  # the real date: the clock's shift depends on it
        self.key = digest_of([os.getcwd(), destination, environment, utc_date, project_digest(project)])
        self.path = self.folder / CONTEXTS / f"{self.key}.json"

    def read(self) -> Optional[dict]:
        """{parse_key, connection} kept for this context, None when none is or a settings file changed."""
        kept = _read(self.path, self.key, {"parse_key": str, "connection": dict, "settings": dict})
        if kept is None:
            return None
        if any(file_digest(path) != digest for path, digest in kept["settings"].items()):
            logger.debug("query: dlt's settings files changed since %s", shown(self.path))
            return None
        return kept

    def write(self, parse_key: str, connection: dict, settings: list[str]) -> None:
        """Keep the parse key and the warehouse this context resolved (`settings`: dlt's files read)."""
        record = {"key": self.key, "parse_key": parse_key, "connection": connection}
        keep(self.path, {**record, "settings": {path: file_digest(path) for path in settings}}, KEPT[CONTEXTS])


def question(args: Any, first: Optional[dt.date], last: Optional[dt.date]) -> dict:
    """The question a `metricsync query` command line asks, as it is keyed."""
    return {
        "metrics": list(args.metrics),
        "grain": args.grain,
        "by": list(args.by or []),
        "where": list(args.where or []),
        "from": first,
        "to": last,
    }


def _question_path(folder: Path, parse_key: str, asked: dict) -> tuple[Path, str]:
    key = digest_of([parse_key, asked])
    return folder / QUESTIONS / f"{key}.json", key


def read_question(folder: Path, parse_key: str, asked: dict) -> Optional[dict]:
    """{sql, keys} kept for this question on this parse, or None."""
    path, key = _question_path(folder, parse_key, asked)
    return _read(path, key, {"sql": str, "keys": int})


def keep_question(folder: Path, parse_key: str, asked: dict, sql: str, keys: int) -> None:
    path, key = _question_path(folder, parse_key, asked)
    keep(path, {"key": key, "sql": sql, "keys": keys}, KEPT[QUESTIONS])
    logger.debug("query: the question's SQL kept in %s", shown(path))


def connection(kind: str, credentials: Any) -> Optional[dict]:
    """How the warehouse's own driver connects (dlt's resolved credentials), None when a password
    or token is needed: it is never kept, so such a warehouse's questions go through dlt every time."""
    if getattr(credentials, "password", None):
        return None
    if kind == "duckdb":  # a local file; a MotherDuck path may carry a token in its query
        database = str(credentials.database)
        return None if database.startswith("md:") or "?" in database else {"kind": kind, "database": database}
    query = dict(credentials.query or {})
    options = {
        key: query[key] for key in ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout") if key in query
    }
    return {
        "kind": kind,
        "host": credentials.host,
        "port": int(credentials.port or 5432),
        "user": credentials.username,
        "dbname": credentials.database,
        **options,
    }


def shape(rows: list[tuple], keys: int) -> list[tuple]:
    """Rows sorted on the first `keys` (group-by) columns, buckets with no answer at all left out."""
    rows = sorted(rows, key=lambda row: [(v is None, v) for v in row[:keys]])
    return [row for row in rows if any(v is not None for v in row[keys:])]


def run(warehouse: dict, sql: str, keys: int) -> tuple[list[str], list[tuple]]:
    """The columns and rows (`shape`d) of `sql` on the warehouse, through its own driver: values
    as the driver returns them (Decimal for numeric), as a cold question's."""
    if warehouse["kind"] == "duckdb":
        import duckdb  # noqa: PLC0415 - start-up time: only the warehouse asked loads its driver

        try:
            handle = duckdb.connect(warehouse["database"], read_only=True)  # beside other readers
        except duckdb.ConnectionException:  # this process holds it read-write (dbt's adapter)
            handle = duckdb.connect(warehouse["database"])
    else:
        import psycopg2  # noqa: PLC0415 - start-up time: only the warehouse asked loads its driver

        handle = psycopg2.connect(**{k: v for k, v in warehouse.items() if k != "kind"})
    try:
        cursor = handle.cursor()
        cursor.execute(sql)
        columns = [d[0] for d in cursor.description]
        rows = [tuple(row) for row in cursor.fetchall()]
    finally:
        handle.close()
    return columns, shape(rows, keys)
