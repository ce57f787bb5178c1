"""`python -m metricsync transform`: the dbt project in `transform/` against the warehouse the runner
loads (`pipelines/dbt/build.py`: build in an audit schema, publish when every node passed, then
source freshness), its lines printed: warnings and failures on stderr."""

import sys
from typing import Any

from metricsync.commands._options import add_command
from metricsync.operations import tell


def register(commands) -> None:
    add_command(
        commands,
        "transform",
        "metricsync transform",
        "metricsync transform --destination postgres",
        "metricsync transform --full-refresh",
    ).add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental marts from every load (a nightly run rebuilds the periods loaded since)",
    )


def transform_and_report(args: Any) -> Any:
    """`run_transform` with its lines printed (warnings and failures on stderr); its `TransformResult`."""
    from metricsync.dbt.build import run_transform  # dbt and dlt load when the command runs (start-up time)  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    result = run_transform(
        args.destination,
        verbose=args.log_level.upper() in ("INFO", "DEBUG"),
        full_refresh=getattr(args, "full_refresh", False),  # `run --transform` has no such flag
    )
    for line in result.warnings:
        print(line, file=sys.stderr, flush=True)
    print(result.message, file=sys.stdout if result.ok else sys.stderr, flush=True)
    tell("transform", "all", None, result.exit_code, result.message)
    return result


def main(args: Any) -> int:
    return transform_and_report(args).exit_code
