"""A command line that argparse refuses (an unknown flag, a missing value, a bad choice) exits 2
like any usage error, and a recorded command's refusal is a row of the run history too, with
argparse's one line as its message, e.g. `metricsync run: error: argument --progress: invalid
choice: 'fast' (choose from 'auto', 'bar', 'log', 'none')`. What the refused line still tells
(command, providers, `--destination`) is read leniently from the words given."""

import argparse
import logging
from types import SimpleNamespace
from typing import Optional, Sequence

from metricsync import operations
from metricsync.commands._options import global_options
from metricsync.exits import USAGE_ERROR
from metricsync.providers import PROVIDERS

logger = logging.getLogger("metricsync.operations")


class ParseError(Exception):
    """argparse's refusal: its one `line` and the `usage` lines it prints before it."""

    def __init__(self, line: str, usage: str):
        super().__init__(line)
        self.line, self.usage = line, usage


class Parser(argparse.ArgumentParser):
    """An ArgumentParser (and, through `add_subparsers`, every subcommand's) whose usage errors are
    raised as `ParseError` instead of exiting, so that `cli.main` records them; `--help` exits 0 as ever."""

    def error(self, message: str):
        raise ParseError(f"{self.prog}: error: {message}", self.format_usage())


def read_leniently(argv: Sequence[str]) -> Optional[SimpleNamespace]:
    """What a refused command line asked for, or None when its command is not recorded.

    >>> read_leniently(["run", "whop", "--progress", "fast"]).providers
    ['whop']
    """
    lenient = Parser(add_help=False)
    global_options(lenient, suppress=False)
    try:
        known, rest = lenient.parse_known_args(list(argv))
    except ParseError:  # a global option itself refused (`--destination` without a value)
        known, rest = lenient.parse_known_args([])[0], list(argv)
    words = [w for w in rest if not w.startswith("-")]
    command = words[0] if words else None
    if command not in operations.RECORDED and not (command == "status" and "--stale" in rest):
        return None
    named = [w for w in words[1:] if w in PROVIDERS or w == "all"]
    providers = ["all"] if command == "transform" or not named else list(PROVIDERS) if "all" in named else named
    return SimpleNamespace(
        command=command,
        providers=providers,
        destination=known.destination,
        pipelines_dir=known.pipelines_dir,
        metrics_file=known.metrics_file,
        log_level=known.log_level,
    )


def record(argv: Sequence[str], asked: SimpleNamespace, line: str) -> None:
    """One history row (exit 2, argparse's line) per provider asked for, and their alerts (never raises)."""
    from metricsync.sources._common.errors import ConfigError  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
    from metricsync.warehouse.destinations import (  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)
        destination_name,
    )

    try:
        asked.destination = destination_name(asked.destination)
    except ConfigError as exc:
        logger.warning("history: the refused command line is not recorded: %s", exc)
        return
    context = operations.start(asked.command, argv, asked)
    for provider in asked.providers:
        operations.tell(asked.command, provider, None, USAGE_ERROR, line)
    operations.finish(context, asked, USAGE_ERROR, line)
