"""Command-line pieces shared by the commands: global options, the provider selection, dates and
numeric flags range-checked like the settings they stand for."""

import argparse
import datetime as dt
from typing import Optional, Sequence

from metricsync.commands import COMMANDS
from metricsync.exits import UsageError
from metricsync.providers import PROVIDERS

PROVIDER_HELP = f"{', '.join(PROVIDERS)} or all"


VALUE_OPTIONS = (
    "--log-level",
    "--destination",
    "--pipelines-dir",
    "--metrics-file",
)  # the global options, each taking a value


def global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before or after the subcommand (after wins)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--log-level", default=default("WARNING"), help="DEBUG, INFO, WARNING (default) or ERROR")
    parser.add_argument(
        "--destination",
        default=default(None),
        help="a dlt destination (duckdb, postgres, motherduck, bigquery, snowflake, sqlalchemy, ...) or a "
        "named one from .dlt config (default: METRICSYNC_DESTINATION, else destination under "
        "[metricsync] in .dlt/config.toml, else duckdb)",
    )
    parser.add_argument(
        "--pipelines-dir",
        default=default(None),
        help="where dlt keeps local pipeline folders (default ~/.dlt/pipelines)",
    )
    parser.add_argument(
        "--metrics-file",
        default=default(None),
        metavar="PATH",
        help="write each provider's newest outcome as a Prometheus node-exporter textfile "
        "(run, verify, transform, reset, status --stale)",
    )


def settle_destination(args: argparse.Namespace) -> None:
    """`args.destination` as named (`--destination`, `METRICSYNC_DESTINATION`, `.dlt/config.toml`, else duckdb)."""
    from metricsync.sources._common.errors import ConfigError  # noqa: PLC0415 - start-up time
    from metricsync.warehouse.destinations import destination_name  # noqa: PLC0415 - start-up time (imports dlt)

    try:
        args.destination = destination_name(args.destination)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def add_command(commands, name: str, *examples: str) -> argparse.ArgumentParser:
    """The subcommand `name`, with its line of help from `COMMANDS` and `examples` in its epilog."""
    help_text = COMMANDS[name]
    sub = commands.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_options(sub, suppress=True)
    return sub


def selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resources", nargs="+", metavar="R", help="only these resources (tables)")
    parser.add_argument("--queries", nargs="+", metavar="Q", help="only these configured queries")


def providers_to_run(names: Sequence[str]) -> list[str]:
    from metricsync.catalog import provider_names  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)
    from metricsync.sources._common.errors import ConfigError  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

    try:
        return provider_names(names)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _date(text: Optional[str], flag: str) -> Optional[dt.date]:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"metricsync: {flag} {text!r} is not an ISO date - use YYYY-MM-DD") from None


def backfill_range(date_from: Optional[str], date_to: Optional[str], today: dt.date) -> Optional[tuple]:
    first, last = _date(date_from, "--from"), _date(date_to, "--to")
    if first is None and last is None:
        return None
    if first is None:
        raise UsageError("metricsync: --to needs --from - give the first day of the backfill")
    if first > today:
        raise UsageError(f"metricsync: --from {first} is in the future - use a date on or before {today}")
    last = min(last or today, today)
    if last < first:
        raise UsageError(f"metricsync: --to {last} is before --from {first} - swap them")
    return first, last


def check_numbers(args: argparse.Namespace, flags: Sequence[tuple]) -> None:
    """`(flag, attribute, Range)` flags range-checked and converted in place."""
    from metricsync.sources._common.config.spec import number  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
    from metricsync.sources._common.errors import ConfigError  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

    for flag, attr, bounds in flags:
        if getattr(args, attr) is not None:
            try:
                setattr(args, attr, number("metricsync", flag, getattr(args, attr), setting=flag, bounds=bounds))
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
