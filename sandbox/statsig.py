"""Statsig console API emulator: metric sources, their metrics, all metrics and daily values.

Written from `statsig-console-metric-source-metrics.txt` and the console docs' list conventions:
`STATSIG-API-KEY` header (a bad key gets 401 `{"status": 401, "message": ...}` echoing the key,
as Statsig does), `page` from 1 and `limit` <= 100 (more is a 400; default 10), and
`pagination.nextPage` as a path such as `/console/v1/metrics/values?date=2024-02-04&page=2&limit=5`
(setting `next_page_style`: `path`, `url` or `number`), null on the last page.

Data: three warehouse-native metric sources with their metrics, plus cloud metrics that only
`/metrics/list` shows. `/metrics/values?date=` returns one row per metric x unit type, a
deterministic function of the date and its revision; dates before `DATA_START` or after today
return an empty list, a missing or malformed date a 400. Settings rename a metric (`renamed`:
id -> name), delete metrics or sources (`deleted`: ids or source names), add a field to every
object (`extra_field`) and list sources whose metrics then 404 (`ghost_sources`). Values are
history: a rename or deletion only shows on dates restated after it (revision > 0); older dates
keep the names they were computed with. A second project's key (`second_api_key`) sees the same
definitions and values of its own; `extra_metrics` and `fixed_values` add metrics (a second type
of one name) and pin values (1e21, 1.234567890123456e-10).
"""

import datetime as dt
from typing import Any, Optional
from urllib.parse import unquote, urlencode

from .base import Emulator
from .data import DATA_START, number
from .messages import Response, SandboxRequest

OWNER = {"ownerID": "user_7fa2", "ownerType": "USER", "ownerName": "Dana Reyes", "ownerEmail": "dana@example.com"}
SOURCES = {
    "checkout_events": {
        "description": "Checkout events from the payments service",
        "tags": ["revenue"],
        "sql": "SELECT user_id, stable_id, ts, amount_usd, status FROM analytics.checkout_events",
        "timestampColumn": "ts",
        "timestampAsDay": False,
        "sourceType": "query",
        "idTypeMapping": [
            {"statsigUnitID": "userID", "column": "user_id"},
            {"statsigUnitID": "stableID", "column": "stable_id"},
        ],
        "customFieldMapping": [{"key": "amount_usd_cents", "formula": "amount_usd * 100"}],
    },
    "page_views": {
        "description": "One row per page view",
        "tags": ["engagement", "web"],
        "sql": "",
        "timestampColumn": "viewed_at",
        "timestampAsDay": False,
        "sourceType": "table",
        "tableName": "analytics.page_views",
        "datePartitionColumn": "ds",
        "idTypeMapping": [{"statsigUnitID": "stableID", "column": "stable_id"}],
    },
    "subscriptions": {
        "description": "Daily subscription snapshots",
        "tags": [],
        "sql": "SELECT account_id, user_id, ds, plan, mrr FROM billing.subscriptions_daily",
        "timestampColumn": "ds",
        "timestampAsDay": True,
        "sourceType": "query",
        "idTypeMapping": [
            {"statsigUnitID": "userID", "column": "user_id"},
            {"statsigUnitID": "accountID", "column": "account_id"},
        ],
    },
}
# (source or None for a cloud metric, name, type, unit types, aggregation, value column)
METRICS = [
    ("checkout_events", "Checkout Revenue", "sum", ["userID", "stableID"], "sum", "amount_usd"),
    ("checkout_events", "Checkout Conversion", "ratio", ["userID"], "count", None),
    ("checkout_events", "Failed Checkouts", "count", ["userID"], "count", None),
    ("page_views", "Page Views", "count", ["stableID"], "count", None),
    ("page_views", "Time On Page", "mean", ["stableID"], "mean", "seconds_on_page"),
    ("subscriptions", "Paid Accounts", "count_distinct", ["accountID", "userID"], "count_distinct", "account_id"),
    ("subscriptions", "MRR", "sum", ["accountID"], "sum", "mrr"),
    (None, "Page Loads", "event_count_custom", ["overall", "stableID", "userID"], None, None),
    (None, "Add To Cart DAU", "event_dau", ["userID"], None, None),
]
CREATED = 1716230400


def _criteria(column: str, values: list) -> list:
    return [{"type": "value", "column": column, "condition": "in", "values": values, "nullVacuousOverride": False}]


class StatsigEmulator(Emulator):
    name = "statsig"
    prefix = "/console/v1/"
    api_key = "console-sandbox-statsig"
    second_api_key = "console-sandbox-statsig-2"  # a second project's key: values of its own
    default_settings = {
        "renamed": {},
        "deleted": [],
        "extra_field": None,
        "max_page_size": 100,  # items per page the server returns at most (below `limit` to force paging)
        "next_page_style": "path",
        "missing_unit_type": False,  # omit `unitType` on the "overall" value rows
        "ghost_sources": [],  # listed, but their metrics 404 (deleted between the list and the read)
        "shared_ratio": False,  # the ratio metric's denominator comes from page_views: listed under both sources
        "revision_deletes": False,  # a restated date loses the value rows whose hash says so
        "extra_metrics": [],  # more METRICS entries, e.g. ["subscriptions", "MRR", "mean", ["accountID"], "mean", "mrr"]
        "fixed_values": {},  # metric id (name::type) -> the value every row of it has (e.g. 1e21)
    }

    def demo_settings(self, sandbox_url: str) -> dict:
        return {
            "api_key": self.api_key,
            "base_url": sandbox_url,
            "start_date": (self.today - dt.timedelta(days=90)).isoformat(),
        }

    # -- definitions -----------------------------------------------------------------------
    def _extra(self, item: dict) -> dict:
        field = self.settings["extra_field"]
        return {**item, field: f"sandbox-{field}"} if field else item

    def metric_sources(self) -> list[dict]:
        """What `/metrics/metric_source/list` returns, in order."""
        deleted = set(self.settings["deleted"])
        listed = [
            self._extra(
                {
                    "name": name,
                    **spec,
                    "owner": OWNER,
                    "isReadOnly": False,
                    "isVerified": name != "subscriptions",
                    "team": "growth",
                    "teamID": "team_growth",
                }
            )
            for name, spec in SOURCES.items()
            if name not in deleted
        ]
        return listed + [
            {"name": name, "description": "", "sql": "", "timestampColumn": "ts", "idTypeMapping": []}
            for name in self.settings["ghost_sources"]
        ]

    def _metric(self, source: Optional[str], name: str, kind: str, units: list, aggregation, column) -> dict:
        metric_id, event = f"{name}::{kind}", name.lower().replace(" ", "_")
        item = {
            "id": metric_id,
            "name": self.settings["renamed"].get(metric_id, name),
            "type": kind,
            "description": f"{name} per unit",
            "directionality": "decrease" if name.startswith("Failed") else "increase",
            "isVerified": source is not None,
            "isReadOnly": False,
            "isHidden": False,
            "isPermanent": False,
            "unitTypes": units,
            "tags": ["core"] if source else [],
            "team": "growth",
            "teamID": "team_growth",
            "creatorName": "Dana Reyes",
            "creatorEmail": "dana@example.com",
            "createdTime": CREATED + 3600 * len(name),
            "lastModifiedTime": CREATED + 86400 * len(name),
            "owner": {"name": "Dana Reyes", **OWNER},
            "lineage": {"events": [] if source else [event], "metrics": []},
            "metricEvents": [] if source else [{"name": event, "type": "count", "criteria": []}],
            "metricComponentMetrics": [],
        }
        if source:
            item["rollupTimeWindow"] = "custom" if kind == "ratio" else "latest"
            item["warehouseNative"] = {
                "aggregation": aggregation,
                "metricSourceName": source,
                "valueColumn": column,
                "criteria": _criteria("status", ["completed"]) if source == "checkout_events" else [],
                "waitForCohortWindow": False,
                "metricDimensionColumns": [],
                "winsorizationHigh": 0.999,
                "winsorizationLow": 0.001,
                "allowNullRatioDenominator": kind == "ratio",
            }
            if kind == "ratio":
                denominator_source = "page_views" if self.settings["shared_ratio"] else source
                item["warehouseNative"].update(
                    {
                        "denominatorAggregation": "count",
                        "denominatorMetricSourceName": denominator_source,
                        "denominatorCriteria": _criteria("status", ["started"]),
                    }
                )
        return self._extra(item)

    def metrics(self, source: Optional[str] = None) -> list[dict]:
        """All metrics (`/metrics/list`), or one source's (`/metric_source/{name}/metrics`)."""
        deleted = set(self.settings["deleted"])
        return [
            self._metric(*spec)
            for spec in self._specs()
            if f"{spec[1]}::{spec[2]}" not in deleted
            and spec[0] not in deleted
            and (source is None or source in self._sources_of(spec))
        ]

    def _sources_of(self, spec: tuple) -> set:
        """The sources that list a metric: its own, and with `shared_ratio` a ratio's denominator source."""
        listed = {spec[0]}
        if self.settings["shared_ratio"] and spec[2] == "ratio":
            listed.add("page_views")
        return listed

    def _specs(self) -> list[tuple]:
        return METRICS + [tuple(spec) for spec in self.settings["extra_metrics"]]

    # -- values ----------------------------------------------------------------------------
    def values_for(self, day: dt.date, key: Optional[str] = None) -> list[dict]:
        """What `/metrics/values?date=day` returns, every page, in order, to the project of API
        `key` (None or `api_key`: the default data; `second_api_key`: another project's)."""
        if not DATA_START <= day <= self.today:
            return []
        revision = self.revision(day)
        restated = revision > 0
        salt = (key,) if key and key != self.api_key else ()
        rows = []
        for _source, name, kind, units, _agg, _col in self._specs():
            metric_id = f"{name}::{kind}"
            if restated and metric_id in self.settings["deleted"]:
                continue
            shown = self.settings["renamed"].get(metric_id, name) if restated else name
            for unit in units:
                if (
                    self.settings["revision_deletes"]
                    and restated
                    and number("gone", name, unit, day, revision, modulo=3) == 0
                ):
                    continue
                rows.append(self._value_row(shown, kind, unit, day, revision, salt))
        return rows

    def _value_row(self, name: str, kind: str, unit: str, day: dt.date, revision: int, salt: tuple = ()) -> dict:
        seed = ("statsig", name, kind, unit, day, revision, *salt)
        numerator = denominator = None
        if kind == "ratio":
            numerator = number(*seed, "n", modulo=5_000) + 1
            denominator = numerator + number(*seed, "d", modulo=20_000)
            value: float = numerator / denominator
        elif kind == "mean":
            value = number(*seed, modulo=10_000_000) / 1000
        elif kind == "sum":
            value = number(*seed, modulo=100_000_000) / 100
        else:
            value = number(*seed, modulo=50_000)
        value = self.settings["fixed_values"].get(f"{name}::{kind}", value)
        row: dict[str, Any] = {
            "value": value,
            "unitType": unit,
            "numerator": numerator,
            "denominator": denominator,
            "metricName": name,
            "metricType": kind,
        }
        if unit == "overall" and self.settings["missing_unit_type"]:
            del row["unitType"]
        if self.settings["extra_field"]:
            row[self.settings["extra_field"]] = number(*seed, "x", modulo=1_000_000) / 7
        return row

    # -- HTTP ------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, message: str) -> Response:
        return Response(status, {"status": status, "message": message})

    def _auth(self, request: SandboxRequest) -> Optional[Response]:
        key = request.header("statsig-api-key")
        if key == "console-no-permission":
            return self._error(403, "Forbidden resource: this key cannot read metrics")
        if key not in (self.api_key, self.second_api_key):
            return self._error(
                401, f"This endpoint only accepts an active CONSOLE key, but an invalid key was sent. Key: {key}"
            )
        return None

    def handle(self, request: SandboxRequest, base_url: str) -> Response:
        denied = self._auth(request)
        if denied:
            return denied
        parts = request.path[len(self.prefix) :].strip("/").split("/")
        if request.method != "GET":
            return self._error(405, "only GET is emulated")
        if parts == ["metrics", "metric_source", "list"]:
            return self._page(request, base_url, self.metric_sources(), "Metric sources listed successfully.")
        if len(parts) == 4 and parts[:2] == ["metrics", "metric_source"] and parts[3] == "metrics":
            source = unquote(parts[2])
            if source not in SOURCES or source in self.settings["deleted"]:
                return self._error(404, f"Metric source {source} not found")
            return self._page(request, base_url, self.metrics(source), "Metrics read successfully.")
        if parts == ["metrics", "list"]:
            return self._page(request, base_url, self.metrics(), "Metrics listed successfully.")
        if parts == ["metrics", "values"]:
            return self._values(request, base_url)
        return self._error(404, f"Cannot GET {request.path}")

    def _values(self, request: SandboxRequest, base_url: str) -> Response:
        try:
            day = dt.date.fromisoformat(request.arg("date") or "")
        except ValueError:
            return self._error(400, "date: Expected valid date in the form of YYYY-MM-DD")
        rows = self.values_for(day, request.header("statsig-api-key"))
        for field in ("metricName", "metricType"):
            if request.arg(field):
                rows = [r for r in rows if r.get(field) == request.arg(field)]
        return self._page(request, base_url, rows, "Metric values listed successfully.")

    def _page(self, request: SandboxRequest, base_url: str, items: list, message: str) -> Response:
        try:
            page, limit = int(request.arg("page") or 1), int(request.arg("limit") or 10)
        except ValueError:
            return self._error(400, "page and limit must be integers")
        if page < 1 or not 1 <= limit <= 100:
            return self._error(400, "page must be >= 1 and limit between 1 and 100")
        size = min(limit, int(self.settings["max_page_size"]))
        start = (page - 1) * size
        more = start + size < len(items)
        return Response(
            200,
            {
                "message": message,
                "data": items[start : start + size],
                "pagination": {
                    "itemsPerPage": size,
                    "pageNumber": page,
                    "totalItems": len(items),
                    "nextPage": self._link(request, base_url, page + 1, size) if more else None,
                    "previousPage": self._link(request, base_url, page - 1, size) if page > 1 else None,
                    "all": self._link(request, base_url, None, None),
                },
            },
        )

    def _link(self, request: SandboxRequest, base_url: str, page: Optional[int], limit: Optional[int]) -> Any:
        style = self.settings["next_page_style"]
        if style == "number" and page is not None:
            return page
        params = {k: v[-1] for k, v in request.query.items() if k not in ("page", "limit")}
        if page is not None:
            params.update(page=page, limit=limit)
        path = f"{request.path}?{urlencode(params)}" if params else request.path
        return base_url + path if style == "url" else path
