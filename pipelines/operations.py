"""What every recorded command does when it ends, in one place (`cli.main` calls `finish`): one
history row per provider and account (`pipelines/history.py`), the alerts they call for
(`pipelines/alerts.py`) and, with `--metrics-file`, the Prometheus textfile (`pipelines/metrics.py`).

The commands tell their outcomes with `note(command, result)` (a `runner.ProviderResult`); a
provider asked for but never noted (a usage error, an interrupted run) gets a row with the
command's exit code. Nothing here changes the exit code: a failure is logged as a WARNING.
"""

import datetime as dt
import json
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from types import SimpleNamespace
from typing import Any, Optional, Sequence

from . import vanishing
from .exits import exit_code, meaning
from .metrics import write_textfile
from .providers import PROVIDERS

logger = logging.getLogger("metricsync.operations")

RECORDED = ("run", "verify", "transform", "reset")
_noted: list = []
_current: dict = {}  # the command line running: its args and, once read, its history
URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _now() -> dt.datetime:
    """The one clock (`METRICSYNC_TODAY` moves its date), as every planned date: a run's times are
    on the date it planned by. Imported here, not at the top: `sources` costs start-up time."""
    from metricsync.sources._common.load.windows import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        utc_now,
    )

    return utc_now()


@dataclass
class Context:
    """One command line's identity, shared by its rows."""

    command: str
    argv: tuple
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started_at: dt.datetime = field(default_factory=_now)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


def start(command: str, argv: Sequence[str], args: Any = None) -> Context:
    """A new command line: forget what an earlier one (in this process) noted."""
    _noted.clear()
    context = Context(command, tuple(argv))
    _current.clear()
    _current.update(context=context, args=args)
    return context


def run_id() -> Optional[str]:
    """The run id of the command line running (its history rows'), None outside one."""
    context = _current.get("context")
    return context.run_id if context else None


def redacted(text: str) -> str:
    """`text` as stored or sent: registered secrets (the keys this run read) and URL passwords masked."""
    from metricsync.sources._common.http.redaction import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        redact,
    )

    return URL_PASSWORD.sub(r"\1***@", redact(text))


def note(command: str, result: Any) -> None:
    """A provider's (or account's) outcome of `command`; a run's rows that fell by more than half
    and its windows that held rows and came back empty (`vanishing.py`) are added to its closing
    line before it is printed."""
    if command == "run" and result.ok and _current.get("context"):
        tally = getattr(result, "tally", None)
        result.vanished = _fell(result) + list(tally.emptied if tally else [])
        result.message += vanishing.describe(result.vanished)
    _noted.append((command, result))


def _fell(result: Any) -> list[dict]:
    try:
        arguments = redacted(" ".join(_current["context"].argv))
        earlier = [
            row for row in _recent() if vanishing.same_command_line(row, result.provider, result.account, arguments)
        ]
    except Exception:  # noqa: BLE001 - a history that cannot be read changes no outcome
        logger.debug("history: no comparison with recent runs", exc_info=True)
        return []
    return vanishing.fell(result.rows, earlier)


def _recent() -> list[dict]:
    """The history's newest rows (read once per command line), none before the first."""
    if "recent" not in _current:
        from . import history  # noqa: PLC0415 - start-up time (history and the locks import dlt)
        from .locks import duckdb_file_turn  # noqa: PLC0415 - start-up time (history and the locks import dlt)

        args = _current["args"]
        destination = getattr(args, "destination", None) or "duckdb"
        with duckdb_file_turn(destination, "history"), history.history_warehouse(destination) as warehouse:
            _current["recent"] = history.read(warehouse)
    return _current["recent"]


def tell(command: str, provider: str, account: Optional[str], code: int, line: str, **counts: Any) -> None:
    """`note` for a command without a `ProviderResult` of its own (verify, reset, transform)."""
    from .runner import ProviderResult  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)

    note(command, ProviderResult(provider, account=account, exit_code=code, message=line, **counts))


def _version() -> str:
    try:
        return version("metricsync")
    except PackageNotFoundError:
        return "unknown"


def row(context: Context, command: str, result: Any, finished: dt.datetime) -> dict:
    """The history row of one outcome."""
    tally = getattr(result, "tally", None)
    rows = dict(getattr(result, "rows", {}) or {})
    return {
        "run_id": context.run_id,
        "command": command,
        "arguments": redacted(" ".join(context.argv)),
        "provider": result.provider,
        "account": result.account,
        "host": context.host,
        "pid": context.pid,
        "version": _version(),
        "started_at": context.started_at,
        "finished_at": finished,
        "exit_code": result.exit_code,
        "outcome": meaning(result.exit_code),
        "message": redacted(result.message.splitlines()[0] if result.message else ""),
        "kind": ("backfill" if result.backfill else "incremental") if command == "run" else None,
        "range_from": tally.first_day if tally else None,
        "range_to": tally.last_day if tally else None,
        "windows": tally.windows_total if tally else 0,
        "requests": result.requests,
        "retries": result.retries,
        "throttled": result.throttled,
        "learnt_rate": result.throttling,
        "table_rows": json_text(rows),
        "rows_total": sum(rows.values()),
        "loads": result.loads,
        "seconds": round(result.seconds or (finished - context.started_at).total_seconds(), 3),
        "schema_changes": json_text(getattr(result, "schema_changes", None) or []),
        "vanished": json_text(getattr(result, "vanished", None) or []),
    }


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def outcomes(providers: Sequence[str], code: int, message: str) -> list:
    """The noted outcomes, and one of exit `code` for each of `providers` never noted."""
    from .runner import ProviderResult  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)

    found = list(_noted)
    told = {result.provider for _, result in found}
    command = found[0][0] if found else None
    for provider in providers:
        if provider not in told:
            line = message or _unfinished(provider, code)
            found.append((command, ProviderResult(provider, exit_code=code or 1, message=line)))
    return found


def _unfinished(provider: str, code: int) -> str:
    if code >= 128:
        return f"{provider}: interrupted before it finished - re-run to resume"
    return f"{provider}: did not finish ({meaning(code)})"


def record_results(
    command: str, results: list, destination: str, arguments: str, pipelines_dir: Optional[str] = None
) -> None:
    """History rows and alerts for an orchestrator that calls the runner itself (Dagster, Airflow):
    as `cli.main` does for a command line (`arguments` says which, e.g. `dagster whop default`)."""

    args = SimpleNamespace(command=command, destination=destination, pipelines_dir=pipelines_dir, metrics_file=None)
    context = start(command, arguments.split(), args)
    for result in results:
        note(command, result)
    finish(context, args, exit_code([r.exit_code for r in results]))


def task_callback(provider: str, account: Optional[str], destination: str, context: dict) -> None:
    """Airflow's `on_failure_callback` / `on_success_callback` of a provider account's task: its
    row in the run history and the same alerts as the CLI's (the failure as `run` describes it)."""
    from .runner import ProviderResult, describe_failure  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)

    task = context.get("task_instance")
    where = f"airflow {getattr(task, 'dag_id', '?')} {getattr(task, 'task_id', '?')}"
    failure = context.get("exception")
    code, line = describe_failure(provider, failure, destination) if failure else (0, f"{provider}: ok - {where}")
    record_results("run", [ProviderResult(provider, account, code, line)], destination, where)


def finish(context: Context, args: Any, code: int, message: str = "") -> None:
    """History rows, alerts and metrics of the command that just ended (never raises)."""
    try:
        _finish(context, args, code, message)
    except Exception:  # noqa: BLE001 - recording never changes the command's exit code
        logger.warning("history: the run's record failed", exc_info=True)


def _finish(context: Context, args: Any, code: int, message: str) -> None:
    from dlt.common.pipeline import get_dlt_pipelines_dir  # noqa: PLC0415 - start-up time (imports dlt)

    from . import alerts, history  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)

    asked = _providers(args) if code else []
    found = outcomes(asked, code, message)
    if not found:
        return
    finished = _now()
    rows = [row(context, command or context.command, result, finished) for command, result in found]
    destination = getattr(args, "destination", None) or "duckdb"
    earlier = history.record(destination, getattr(args, "pipelines_dir", None) or get_dlt_pipelines_dir(), rows)
    alerts.send_for(rows, earlier)
    if getattr(args, "metrics_file", None):
        write_textfile(args.metrics_file, history.latest(rows + earlier))


def _providers(args: Any) -> list[str]:
    """The providers a command line asked for, as given (`all` expanded), for rows never noted."""

    command = getattr(args, "command", None)
    if command == "status":  # `status --stale` notes each provider it judged; the others hold nothing
        return []
    if command == "transform":
        return ["all"]
    names = list(getattr(args, "providers", None) or [p for p in [getattr(args, "provider", None)] if p])
    return list(PROVIDERS) if "all" in names else names
