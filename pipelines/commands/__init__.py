"""One module per CLI command, each with `register(subparsers)` (its arguments) and `main(args)`
(its exit code). The order here is the order of `metricsync --help`."""

COMMANDS = (
    "init",
    "run",
    "transform",
    "query",
    "check",
    "status",
    "verify",
    "reset",
    "history",
    "report",
    "alerts",
    "describe",
    "sandbox",
    "demo",
)
