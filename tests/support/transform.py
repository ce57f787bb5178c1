"""The dbt tests' shared warehouse settings (every provider at the sandbox) and `python -m metricsync` in a child process."""

import datetime as dt
import os
import subprocess
import sys

from support import configure, today
from support.processes import run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)


START = (TODAY.replace(day=1) - dt.timedelta(days=40)).replace(day=1)  # first of the month before last


MRR = "metric_61Sud3n5oAGVCWiSr5"


ACTIVE_SUBSCRIPTIONS = "metric_61SubCnt7QwErTyUi9"


STRIPE_QUERIES = [
    {"name": "mrr_by_price", "metrics": [{"id": MRR}], "interval": "day", "currency": "usd", "group_by": ["price"]},
    {"name": "subscriptions_weekly", "metrics": [{"id": ACTIVE_SUBSCRIPTIONS}], "interval": "week"},
    {
        "name": "mrr_tokyo_monthly",
        "metrics": [{"id": MRR}],
        "interval": "month",
        "currency": "jpy",
        "timezone": "Asia/Tokyo",
    },
]


def configure_all(monkeypatch, box) -> None:
    base = box.url
    configure(
        monkeypatch,
        "whop",
        api_key=box.by_name["whop"].api_key,
        base_url=f"{base}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
        metric_queries=[{"name": "gross_by_country", "resource": "receipts:gross_revenue", "breakdowns": ["country"]}],
    )
    configure(
        monkeypatch,
        "stripe_analytics",
        api_key=box.by_name["stripe_analytics"].api_key,
        base_url=base,
        start_date=START.isoformat(),
        queries=STRIPE_QUERIES,
        requests_per_second=100,
    )
    configure(monkeypatch, "posthog", **{k: v for k, v in box.by_name["posthog"].demo_settings(base).items()})
    configure(
        monkeypatch,
        "statsig",
        api_key=box.by_name["statsig"].api_key,
        base_url=base,
        start_date=(TODAY - dt.timedelta(days=6)).isoformat(),
    )


def cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """`python -m metricsync ...` in a child process, dbt's target and logs in this test's dir."""
    env = {**os.environ, "DBT_TARGET_PATH": str(tmp_path / "dbt_target"), "DBT_LOG_PATH": str(tmp_path / "dbt_logs")}
    return run_command(
        [sys.executable, "-m", "metricsync", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
