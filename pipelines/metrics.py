"""`--metrics-file PATH`: the newest outcome of each provider and account as a Prometheus
node-exporter textfile (written atomically by `prometheus_client`), for the node exporter's
`--collector.textfile.directory`:

    metricsync_last_success_timestamp_seconds{account="",provider="whop"} 1.7965e+09
    metricsync_last_exit_code{account="",provider="whop"} 0.0
    metricsync_requests{account="",provider="whop"} 49.0
"""

import re
from typing import Optional

GAUGES = {  # name: (help, value of the newest row of a provider and account)
    "metricsync_last_exit_code": ("exit code of the newest command", lambda r: r["exit_code"]),
    "metricsync_last_duration_seconds": ("seconds the newest command took", lambda r: r["seconds"]),
    "metricsync_requests": ("API requests of the newest command", lambda r: r["requests"]),
    "metricsync_throttled_requests": ("requests answered 429 in the newest command", lambda r: r["throttled"]),
    "metricsync_retried_requests": ("requests retried in the newest command", lambda r: r["retries"]),
    "metricsync_rows": ("rows loaded by the newest command", lambda r: r["rows_total"]),
    "metricsync_learnt_rate_requests_per_second": (
        "request rate learnt after throttling (newest command)",
        lambda r: learnt_rate(r["learnt_rate"]),
    ),
}
LEARNT = re.compile(r"learned rate ([0-9.]+) requests/s")


def learnt_rate(text: Optional[str]) -> Optional[float]:
    found = LEARNT.search(text or "")
    return float(found.group(1)) if found else None


def write_textfile(path: str, latest: dict) -> None:
    """`latest`: (provider, account) -> {"last", "success", "failure"} rows (`history.latest`)."""
    from prometheus_client import (  # noqa: PLC0415 - start-up time (imports prometheus_client)
        CollectorRegistry,
        Gauge,
        write_to_textfile,
    )

    registry = CollectorRegistry()
    labels = ("provider", "account")
    success = Gauge(
        "metricsync_last_success_timestamp_seconds", "end of the newest successful command", labels, registry=registry
    )
    failure = Gauge(
        "metricsync_last_failure_timestamp_seconds", "end of the newest failed command", labels, registry=registry
    )
    gauges = {name: Gauge(name, text, labels, registry=registry) for name, (text, _) in GAUGES.items()}
    for (provider, account), rows in sorted(latest.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        names = (provider, account or "")
        for gauge, key in ((success, "success"), (failure, "failure")):
            if key in rows:
                gauge.labels(*names).set(rows[key]["finished_at"].timestamp())
        for name, (_, value) in GAUGES.items():
            number = value(rows["last"])
            if number is not None:
                gauges[name].labels(*names).set(number)
    write_to_textfile(path, registry)
