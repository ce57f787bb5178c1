"""Command line (`python -m metricsync`, or `metricsync`): parses, sets up logging and hands over to
the command's module in `pipelines/commands/`. Exit codes are listed in docs/getting-started.md."""

import argparse
import importlib
import os
import sys
from types import ModuleType
from typing import Optional, Sequence

from metricsync.sources._common.http.masking import register_configured_secrets
from metricsync.sources._common.http.redaction import redacted_output

from . import interrupts, operations
from .commands import COMMANDS
from .commands import _refusals as refusals
from .commands._options import VALUE_OPTIONS, global_options, settle_destination
from .exits import USAGE_ERROR, UsageError
from .logs import configure_logging
from .output import json_mode

PROG = "metricsync"


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"metricsync.commands.{name}")


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for `argv`: every command listed with its line of help, but only the command
    `argv` names registered in full (its module imported), so `--help` imports no command."""
    parser = refusals.Parser(
        prog=PROG,
        description="metricsync: SaaS metrics (Whop, Stripe Analytics, PostHog, Statsig) into your warehouse",
        epilog="examples:\n  metricsync check all\n  metricsync run all --progress log\n"
        "  metricsync status --json\n  metricsync run whop --from 2024-01-01 --to 2024-12-31",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    chosen = _command_named(argv)
    for name, help_text in COMMANDS.items():
        if name == chosen:
            _module(name).register(commands)
        else:
            commands.add_parser(name, help=help_text)
    return parser


def _command_named(argv: Sequence[str]) -> Optional[str]:
    """The command `argv` names: its first word that is a command and not the value of a global
    option (`--destination run` names none)."""
    after_option = False
    for token in argv:
        if after_option:
            after_option = False
        elif token.startswith("--") and "=" not in token:
            after_option = any(option.startswith(token) for option in VALUE_OPTIONS)
        elif token in COMMANDS:
            return token
    return None


def _recorded(args: argparse.Namespace) -> bool:
    return args.command in operations.RECORDED or (args.command == "status" and getattr(args, "stale", False))


def _check_clock() -> None:
    """A `METRICSYNC_TODAY` that is not a date stops every command before it starts (exit 2)."""
    if not os.environ.get("METRICSYNC_TODAY"):
        return  # (sources is not imported for nothing: ~0.7 s)
    from metricsync.sources._common.errors import ConfigError  # noqa: PLC0415 - start-up time (only with METRICSYNC_TODAY)
    from metricsync.sources._common.load.windows import clock_date  # noqa: PLC0415 - start-up time (imports pendulum)

    try:
        clock_date()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser(argv).parse_args(argv)
    except refusals.ParseError as exc:
        return _refused(argv, exc)
    configure_logging(args.log_level)
    settles_itself = getattr(_module(args.command), "SETTLES_ITSELF", False)  # `query`: when it needs dlt
    if not settles_itself:
        register_configured_secrets()  # before anything parses a credential (and may quote it in an error)
    with redacted_output():
        context = operations.start(args.command, argv, args) if _recorded(args) else None
        code, message = 1, ""
        try:
            _check_clock()
            if hasattr(args, "destination") and not settles_itself:
                settle_destination(args)
            with json_mode(bool(getattr(args, "json", False))):  # one JSON document on stdout, the rest on stderr
                code = _module(args.command).main(args)
        except UsageError as exc:
            print(str(exc), file=sys.stderr)
            code, message = USAGE_ERROR, str(exc)
        finally:  # the history row, alerts and metrics of every outcome (an unexpected error: exit 1)
            if context:
                operations.finish(context, args, code, message)
        return code


def _refused(argv: list, refusal: refusals.ParseError) -> int:
    """argparse's usage lines and one-line error on stderr, as argparse prints them (secrets
    masked), and for a recorded command its history row and alert; exit 2."""
    asked = refusals.read_leniently(argv)
    configure_logging(asked.log_level if asked else "WARNING")
    register_configured_secrets()
    with redacted_output():
        sys.stderr.write(refusal.usage)
        print(refusal.line, file=sys.stderr)
        if asked:
            refusals.record(argv, asked, refusal.line)
    return USAGE_ERROR


def main_exit() -> None:
    """The `metricsync` console script. After Ctrl-C or SIGTERM the process exits as soon as the
    closing lines are out, not after requests still in flight."""
    code = main()
    if interrupts.received():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
