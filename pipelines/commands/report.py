"""`report`: one self-contained HTML file of sync health and the headline metrics
(`pipelines/html_report/`), for a person to look at, a cron job to publish or an email to carry:

    $ metricsync report --out report.html --since 2026-11-01
    report: wrote /srv/metricsync/report.html
"""

import argparse
import sys

from metricsync.commands._options import _date, add_command


def register(commands) -> None:
    report = add_command(
        commands,
        "report",
        "metricsync report",
        "metricsync report --out metricsync.html --since 2026-11-01",
        "metricsync report --accounts north south --out north-south.html",
    )
    report.add_argument("--out", default="report.html", help="the HTML file to write (default report.html)")
    report.add_argument("--since", help="only runs and periods from this date (YYYY-MM-DD, UTC)")
    report.add_argument("--accounts", nargs="+", metavar="A", help="only these accounts (default: every one)")


def main(args: argparse.Namespace) -> int:
    from metricsync.html_report import write_report  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; altair and dlt load when the command runs
    from metricsync.runner import describe_failure  # noqa: PLC0415 - start-up time (imports dlt)

    since = _date(args.since, "--since")
    try:
        written = write_report(args.destination, args.out, since, args.accounts or ())
    except Exception as exc:  # noqa: BLE001 - one line, as every command
        code, line = describe_failure("report", exc, args.destination)
        print(line, file=sys.stderr)
        return code
    for line in written.problems:  # shown on the page too; the report is still written
        print(line, file=sys.stderr)
    print(f"report: wrote {written.path}")
    return 0
