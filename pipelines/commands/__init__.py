"""One module per CLI command, each with `register(subparsers)` (its arguments) and `main(args)`
(its exit code). The order here is the order of `metricsync --help`, with each command's line of help:
`metricsync --help` imports no command module, and a command line imports only its command's."""

COMMANDS = {
    "init": (
        "start a project: .dlt/config.toml with every setting explained, a secrets.toml "
        "template, .env.example, .gitignore, a crontab example (and the dbt project)"
    ),
    "run": "load providers (nightly incremental, or a --from/--to backfill)",
    "transform": "dbt build + source freshness of transform/ on the warehouse the runner loads",
    "query": "metrics from the dbt semantic layer (MetricFlow) on the loaded warehouse",
    "check": (
        "validate config, prove each API key with at most two cheap requests, connect to the destination; loads nothing"
    ),
    "status": "what the destination holds: last load, loaded_through and unfinished backfills per query, row counts",
    "verify": "compare stored periods with the API, row for row (exit 9 on drift); --repair reloads what drifted",
    "reset": "forget loaded state so the next run reloads from start_date (re-sync); --drop-rows also deletes the rows",
    "history": "the recorded runs, newest first (outcome, when, how long, rows, the closing line)",
    "report": "one self-contained HTML page: sync health per provider and account, and the headline metrics",
    "alerts": "alerts through Apprise URLs (alerts.urls): --test sends a test message",
    "describe": "resources, tables, keys, columns, settings and queries of each provider",
    "sandbox": "serve the provider emulator on loopback and print the settings that point metricsync at it",
    "demo": "start the sandbox and load every provider into a DuckDB file",
}
