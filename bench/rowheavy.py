"""Stripe Analytics pages for the row-heavy scenario: daily MRR grouped by `customers` customers,
1,000 rows a page (one row per day x customer, `next_page_url` carrying an offset token), made
up on the fly instead of by the sandbox's emulator (which sums every price x customer per day and
would be the bottleneck). Values are deterministic, so every contender loads the same rows.

    {"object": "v2.data.analytics.metric_query", "livemode": false, "refreshed_at": "...",
     "next_page_url": "/v2/data/analytics/metric_query?page=MjAyNS0wMS0wMXwxMDAw", "previous_page_url": null,
     "data": [{"id": "row_2025-01-01_cus_00001", "timestamp": "2025-01-01T00:00:00Z",
               "dimensions": {"customer": "cus_00001"},
               "results": [{"metric": "metric_61Sud3n5oAGVCWiSr5", "name": "mrr_minor_units",
                            "currency": "usd", "value": 10234}]}]}
"""

import base64
import datetime as dt
import json

from metricsync.sandbox.data import utc_now as served_now

ENDPOINT = "/v2/data/analytics/metric_query"
METRIC = "metric_61Sud3n5oAGVCWiSr5"
PAGE_SIZE = 1000


class RowHeavyStripe:
    def __init__(self, customers: int = 5000) -> None:
        self.customers = [f"cus_{n:05d}" for n in range(1, customers + 1)]

    @staticmethod
    def handles(target: str) -> bool:
        return target.startswith(ENDPOINT)

    @staticmethod
    def key(body: bytes) -> tuple:
        """What a page depends on (not how the client spaced its JSON)."""
        params = json.loads(body or b"{}")
        return "row_heavy", params.get("starts_at"), params.get("ends_at"), params.get("page"), params.get("limit")

    def page(self, body: bytes) -> tuple[int, dict, bytes]:
        params = json.loads(body or b"{}")
        start = dt.date.fromisoformat(params["starts_at"][:10])
        end = dt.date.fromisoformat(params["ends_at"][:10])
        days = (end - start).days
        total = days * len(self.customers)
        offset = int(base64.urlsafe_b64decode(params["page"]).decode().split("|")[1]) if params.get("page") else 0
        size = min(PAGE_SIZE, int(params.get("limit") or PAGE_SIZE))
        data = []
        for index in range(offset, min(total, offset + size)):
            day = start + dt.timedelta(days=index // len(self.customers))
            customer = self.customers[index % len(self.customers)]
            stamp = f"{day.isoformat()}T00:00:00Z"
            data.append(
                {
                    "id": f"row_{day}_{customer}",
                    "timestamp": stamp,
                    "dimensions": {"customer": customer},
                    "results": [
                        {
                            "metric": METRIC,
                            "name": "mrr_minor_units",
                            "currency": "usd",
                            "value": (day.toordinal() * 7919 + index) % 100_000,
                        }
                    ],
                }
            )
        more = offset + size < total
        token = base64.urlsafe_b64encode(f"{start}|{offset + size}".encode()).decode()
        payload = {
            "object": "v2.data.analytics.metric_query",
            "livemode": False,
            "refreshed_at": f"{served_now().date()}T00:00:00Z",
            "next_page_url": f"{ENDPOINT}?page={token}" if more else None,
            "previous_page_url": None,
            "data": data,
        }
        return 200, {}, json.dumps(payload).encode()


def requests_for(query: dict, span: tuple, customers: int, api_key: str) -> list:
    """Every page request metricsync makes for `query` over `span` (its windows, each page's
    token), in the floor's request-file format."""
    from metricsync.sources._common.load.windows import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        plan_windows,
        utc_now,
        utc_today,
    )
    from metricsync.sources.stripe_analytics import (  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)
        helpers,
        settings,
    )

    query = {"timezone": "UTC", **query}
    headers = {
        "authorization": f"Bearer {api_key}",
        "content-type": "application/json",
        **({"stripe-version": settings.STRIPE_VERSION} if settings.STRIPE_VERSION else {}),
    }
    now = utc_now()
    out = []
    for window in plan_windows(span[0], span[1], "day", 30, utc_today()):
        body = helpers.metric_request(query, window, now, "json").json
        total = (window.end - window.start).days * customers
        for offset in range(0, total, PAGE_SIZE):
            page = dict(body)
            query_string = {}
            if offset:
                token = base64.urlsafe_b64encode(f"{window.start}|{offset}".encode()).decode()
                page["page"], query_string = token, {"page": [token]}
            out.append(
                {
                    "method": "POST",
                    "path": ENDPOINT,
                    "query": query_string,
                    "headers": headers,
                    "body": json.dumps(page),
                }
            )
    return out
