"""The benchmark's scenarios: one time-series backfill per provider, sized by `--quick`.

Each scenario names the provider, the `sources.<provider>.*` settings layered over the emulator's
`demo_settings(url)`, the backfill range, and (where practical) the dlt `rest_api` config a user
would write for the same endpoint.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from metricsync.sources._common.load.windows import utc_today

WINDOWS_PER_LOAD = 100_000  # one dlt load per backfill: the bench measures fetching, not chunking
STRIPE_UNPACED = 10_000


@dataclass
class Scenario:
    name: str
    provider: str
    days: int
    quick_days: int
    overrides: dict
    rest_api: Optional[str]  # why not, when None
    rest_api_note: str = ""
    server_renders: bool = False  # the server renders every page again (a slower server sharing the CPU)

    def span(self, quick: bool, today: Optional[dt.date] = None) -> tuple[dt.date, dt.date]:
        last = (today or utc_today()) - dt.timedelta(days=1)
        return last - dt.timedelta(days=(self.quick_days if quick else self.days) - 1), last


@dataclass
class RateLimited(Scenario):
    rate: int = 40  # requests the server accepts in any sliding second


@dataclass
class RowHeavy(Scenario):
    customers: int = 5000
    quick_customers: int = 300
    short_days: int = 91
    quick_short_days: int = 10


@dataclass
class Crash(Scenario):
    checkpoint_seconds: float = 2.0
    rate: int = 40  # a slow API (the rate-limited server), so the backfill is long in time


SCENARIOS = [
    Scenario(
        "statsig_values",
        "statsig",
        days=730,
        quick_days=20,
        overrides={},
        rest_api="statsig",
        rest_api_note="a plain `dates` resource resolved into `/metrics/values?date=` (one child request "
        "chain per date, rest_api's default sequential resolution), `json_link` on `pagination.nextPage`",
    ),
    Scenario(
        "statsig_values_slow_server",
        "statsig",
        days=730,
        quick_days=20,
        overrides={},
        rest_api=None,
        rest_api_note="skipped (the same requests as statsig_values)",
        server_renders=True,
    ),
    Scenario(
        "stripe_daily_by_price_customer",
        "stripe_analytics",
        days=365,
        quick_days=30,
        overrides={
            "queries": [
                {
                    "name": "mrr_by_price",
                    "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}],
                    "interval": "day",
                    "currency": "usd",
                    "group_by": ["price"],
                },
                {
                    "name": "mrr_by_customer",
                    "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}],
                    "interval": "day",
                    "currency": "usd",
                    "group_by": ["customer"],
                },
            ]
        },
        rest_api=None,
        rest_api_note="skipped: POST with the time window and page token in the JSON body; rest_api has no "
        "way to split a range into windows the API accepts (max range per interval)",
    ),
    Scenario(
        "whop_daily_by_country",
        "whop",
        days=1095,
        quick_days=30,
        overrides={
            "wallet_queries": [],
            "metric_queries": [
                {
                    "name": "gross_by_country",
                    "resource": "receipts:gross_revenue",
                    "granularity": "daily",
                    "breakdowns": ["country"],
                }
            ],
        },
        rest_api="whop",
        rest_api_note="one resource for the whole range with the `cursor` paginator (what the docs allow: no "
        "maximum range), rows zipped from `columns`/`data` by an `add_yield_map`",
    ),
]


STATSIG_VALUES = SCENARIOS[0]
RATE_LIMITED = RateLimited("rate_limited_statsig", "statsig", days=365, quick_days=60, overrides={}, rest_api=None)
ROW_HEAVY = RowHeavy(
    "row_heavy_stripe_by_customer",
    "stripe_analytics",
    days=365,
    quick_days=30,
    overrides={
        "queries": [
            {
                "name": "mrr_by_customer",
                "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}],
                "interval": "day",
                "currency": "usd",
                "group_by": ["customer"],
            }
        ]
    },
    rest_api=None,
)
CRASH = Crash("crash_cost_statsig", "statsig", days=1095, quick_days=200, overrides={}, rest_api=None)


def retry_after_paths() -> list:
    """Whop and PostHog send `Retry-After` with their 429s; Stripe and Statsig do not."""
    return ["/api/v1", "/api/projects"]


def source_settings(emulator, url: str, scenario: Optional[Scenario], concurrency: int, chunked: bool = False) -> dict:
    """`sources.<provider>.*` for a run: demo settings, the scenario's overrides, the cap; one
    load for the whole backfill unless `chunked` (the provider's default `windows_per_load`)."""
    values = dict(emulator.demo_settings(url))
    values.update(scenario.overrides if scenario else {})
    # not told a rate: the server's cap is the API's limit (Stripe's default 5/s, kept for the real
    # preview API, is lifted so that the bench measures the client, not that setting)
    values.update(
        max_concurrency=concurrency, requests_per_second=STRIPE_UNPACED if emulator.name == "stripe_analytics" else None
    )
    if scenario and not chunked:
        values["windows_per_load"] = WINDOWS_PER_LOAD
    return values
