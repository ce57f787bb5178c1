"""`alerts --test`: send a test message to every `alerts.urls` target (Apprise URLs).

    $ metricsync alerts --test
    alerts: test message delivered to 1 URL

Exit 0 when delivered, 2 when no URL is configured, 5 when a target could not be reached.
"""

import argparse
import socket
import sys

from metricsync import alerts
from metricsync.commands._options import add_command
from metricsync.exits import USAGE_ERROR

NOT_DELIVERED = 5


def register(commands) -> None:
    alerts = add_command(
        commands,
        "alerts",
        "metricsync alerts --test",
    )
    alerts.add_argument("--test", action="store_true", help="send a test message to every alerts.urls target")


def main(args: argparse.Namespace) -> int:
    from metricsync.sources._common.errors import ConfigError  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

    try:
        targets = alerts.urls()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return USAGE_ERROR
    if not targets:
        print(
            'alerts: no alerts.urls configured - set [alerts] urls = ["json://..."] in .dlt/config.toml '
            "or ALERTS__URLS",
            file=sys.stderr,
        )
        return USAGE_ERROR
    if not args.test:
        print(f"alerts: {alerts.describe(targets)} configured - metricsync alerts --test sends a test message")
        return 0
    if alerts.send(*alerts.test_message(socket.gethostname()), kind="info", targets=targets):
        print(f"alerts: test message delivered to {alerts.describe(targets)}")
        return 0
    print(
        "alerts: the test message could not be delivered to every alerts.urls target - check the URLs "
        "(Apprise's syntax) and that the services are reachable",
        file=sys.stderr,
    )
    return NOT_DELIVERED
