"""Whop emulator: `/stats/time_series` (wallet), `/stats/metric` and `/stats/schema`.

Written from `whop-wallet-stats.txt` and `whop-stats-metric.txt`. Where the docs are silent the
emulator picks one reading and the source accepts others: `to` is an inclusive date on the wallet
endpoint; periods are labelled by their start even when the range cuts them (so a request that
starts mid-week returns a partial sum for that week); the metric cursor goes back as `cursor`
(setting `cursor_param`); data rows are arrays matching `columns` (setting `row_format`).

Switches for other plausible readings: `week_start` ("sunday": weeks run Sunday to Saturday and
are labelled by their Sunday; any other weekday likewise), `currency_column` (metric rows come per currency, in a `currency`
column nobody asked for), `breakdown_alias` (a breakdown answered under another column name),
`breakdown_values` (a breakdown's values, e.g. with nulls),
`revision_deletes` (a revised day loses the currencies and breakdown
values whose hash says so: a country whose sales were reversed disappears), `numbers_as_text`
(metric values come as JSON strings).

Accounts: each `account_id` (wallet) / `company_id` (metrics) has numbers of its own; a request
without one gets the default data.
"""

import base64
import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import product
from typing import Optional

from .base import Emulator
from .data import DATA_START, number
from .messages import Response, SandboxRequest

LINE_CATEGORIES = {
    # line category: (grouping, reporting categories, sign)
    "payment_gross": ("payments", ("gross_income", "gtv", "net_activity", "net_income"), 1),
    "payment_refund": ("refunds", ("net_activity", "net_income"), -1),
    "processing_fee": ("fees", ("payment_processing_fees", "net_activity", "net_income"), -1),
    "dispute_loss": ("disputes", ("net_activity", "net_income"), -1),
    "withdrawal": ("withdrawals", ("net_activity",), -1),
}
CURRENCIES = ("usd", "eur", "gbp")
USD_RATES = {"usd": Decimal("1"), "eur": Decimal("1.08"), "gbp": Decimal("1.27")}
METRIC_RESOURCES = {"receipts:gross_revenue": "money", "members:new_users": "count", "payments:count": "count"}
BREAKDOWN_VALUES = {"country": ("US", "DE", "GB", "FR"), "plan": ("plan_basic", "plan_pro")}
CENT = Decimal("0.01")


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _salt(account: Optional[str]) -> tuple:
    """Extra hash parts that give an account its own numbers; none for no account (the default data)."""
    return (account,) if account else ()


def _period_start(day: dt.date, group_by: str, week_start: str = "monday") -> dt.date:
    if group_by == "week":
        return day - dt.timedelta(days=(day.weekday() - WEEKDAYS.index(week_start)) % 7)
    if group_by == "month":
        return day.replace(day=1)
    return day


def _parse_instant(text: str) -> Optional[dt.datetime]:
    try:
        if text.replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(text), dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


class WhopEmulator(Emulator):
    name = "whop"
    prefix = "/api/v1/stats/"
    api_key = "whop_sandbox_key"
    default_settings = {
        "row_format": "arrays",
        "cursor_param": "cursor",
        "metric_page_size": 100,
        "extra_column": None,
        "extra_text": None,  # the extra column's values become this text (a type change)
        "renamed": {},
        "deleted": [],
        "time_column": "period",
        "echo_key": False,  # a careless API that repeats the bad key in its error message
        "week_start": "monday",
        "currency_column": False,
        "revision_deletes": False,
        "breakdown_alias": {},  # breakdown column -> the name the API answers it under
        "breakdown_values": {},  # breakdown -> its values, replacing BREAKDOWN_VALUES' (null included)
        "numbers_as_text": False,  # metric values sent as JSON strings ("123.45")
    }

    def _gone(self, *parts: object, day: dt.date, account: Optional[str] = None) -> bool:
        """With `revision_deletes`, whether this currency or breakdown combination vanished on a revised day."""
        revision = self.revision(day)
        return (
            bool(self.settings["revision_deletes"] and revision)
            and number("gone", *parts, day, revision, *_salt(account), modulo=3) == 0
        )

    def demo_settings(self, sandbox_url: str) -> dict:
        return {
            "api_key": self.api_key,
            "base_url": f"{sandbox_url}/api/v1",
            "start_date": "2026-01-01",
            "wallet_queries": [
                {"name": "daily_all", "group_by": "day"},
                {"name": "weekly_usd", "group_by": "week", "convert_currency": "usd"},
                {"name": "monthly_gross", "group_by": "month", "reporting_category": "gross_income"},
                {"name": "monthly_net", "group_by": "month", "reporting_category": "net_income"},
            ],
            "metric_queries": [
                {
                    "name": "gross_by_country",
                    "resource": "receipts:gross_revenue",
                    "granularity": "daily",
                    "breakdowns": ["country"],
                },
                {"name": "new_users_weekly", "resource": "members:new_users", "granularity": "weekly"},
            ],
        }

    # -- the data --------------------------------------------------------------------------
    def breakdown_values(self, breakdown: str) -> tuple:
        return tuple(self.settings["breakdown_values"].get(breakdown, BREAKDOWN_VALUES.get(breakdown, ())))

    def line_cents(self, line: str, currency: str, day: dt.date, account: Optional[str] = None) -> int:
        """Amount in minor units of one line category, currency and day (of `account`: the
        `account_id` / `company_id` asked for; None = no account, the default data)."""
        sign = LINE_CATEGORIES[line][2]
        scale = 1_000_000 if line == "payment_gross" else 90_000
        return sign * number("whop", line, currency, day, self.revision(day), *_salt(account), modulo=scale)

    def line_count(self, line: str, currency: str, day: dt.date, account: Optional[str] = None) -> int:
        return number("whop-count", line, currency, day, self.revision(day), *_salt(account), modulo=40)

    @staticmethod
    def converted(cents: int, currency: str, target: str) -> Decimal:
        amount = Decimal(cents) / 100 * USD_RATES[currency] / USD_RATES[target]
        return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)

    def wallet_totals(
        self,
        first: dt.date,
        last: dt.date,
        group_by: str = "month",
        lines=None,
        currency: Optional[str] = None,
        convert: Optional[str] = None,
        account: Optional[str] = None,
    ) -> dict:
        """{(period start, currency): (amount, line_count)} over the days of [first, last] of
        `account` (the `account_id` sent; None = the default data)."""
        lines = list(lines or LINE_CATEGORIES)
        currencies = [currency] if currency else list(CURRENCIES)
        totals: dict[tuple, tuple] = {}
        day = max(first, DATA_START)
        while day <= min(last, self.today):
            period = _period_start(day, group_by, self.settings["week_start"])
            for cur, line in product(currencies, lines):
                if self._gone(cur, day=day, account=account):
                    continue
                key = (period, convert or cur)
                amount, count = totals.get(key, (Decimal(0), 0))
                cents = self.line_cents(line, cur, day, account)
                amount += self.converted(cents, cur, convert) if convert else Decimal(cents) / 100
                totals[key] = (amount, count + self.line_count(line, cur, day, account))
            day += dt.timedelta(days=1)
        return totals

    def wallet_series(
        self,
        first: dt.date,
        last: dt.date,
        group_by: str = "month",
        lines=None,
        currency: Optional[str] = None,
        convert: Optional[str] = None,
        account: Optional[str] = None,
    ) -> list[dict]:
        """What `/stats/time_series` returns for the inclusive range [first, last]."""
        rows = []
        totals = self.wallet_totals(first, last, group_by, lines, currency, convert, account)
        for (period, cur), (amount, count) in sorted(totals.items()):
            row = {"period": period.isoformat(), "amount": float(amount), "line_count": count}
            if not convert:
                row["currency"] = cur
            rows.append(row)
        return rows

    def metric_value(self, resource: str, day: dt.date, combo: tuple, account: Optional[str] = None) -> Decimal:
        raw = number("whop-metric", resource, day, combo, self.revision(day), *_salt(account), modulo=500_000)
        return Decimal(raw) / 100 if METRIC_RESOURCES[resource] == "money" else Decimal(raw % 97)

    def metric_totals(
        self,
        resource: str,
        granularity: str,
        breakdowns: list,
        start: dt.date,
        end: dt.date,
        account: Optional[str] = None,
    ) -> dict:
        """{(period start, breakdown values): value} over the days of [start, end) of `account`
        (the `company_id` sent; None = the default data); with `currency_column`, the last value
        of each combination is its currency."""
        group_by = {"daily": "day", "weekly": "week", "monthly": "month"}[granularity]
        dimensions = [self.breakdown_values(b) for b in breakdowns]
        if self.settings["currency_column"]:
            dimensions.append(CURRENCIES)
        combos = list(product(*dimensions)) or [()]
        totals: dict[tuple, Decimal] = {}
        day = max(start, DATA_START)
        while day < end and day <= self.today:
            period = _period_start(day, group_by, self.settings["week_start"])
            for combo in combos:
                if self._gone(resource, combo, day=day, account=account):
                    continue
                value = self.metric_value(resource, day, combo, account)
                totals[(period, combo)] = totals.get((period, combo), Decimal(0)) + value
            day += dt.timedelta(days=1)
        return totals

    def metric_rows(
        self,
        resource: str,
        granularity: str,
        breakdowns: list,
        start: dt.date,
        end: dt.date,
        account: Optional[str] = None,
    ) -> list[list]:
        """Rows [period, *breakdown values, value] for days in [start, end)."""
        totals = self.metric_totals(resource, granularity, breakdowns, start, end, account)
        ordered = sorted(totals.items(), key=lambda item: (item[0][0], [(v is not None, v or "") for v in item[0][1]]))
        return [[f"{p.isoformat()}T00:00:00Z", *combo, float(v)] for (p, combo), v in ordered]

    # -- HTTP ------------------------------------------------------------------------------
    def _error(self, status: int, message: str) -> Response:
        return Response(
            status,
            {
                "error": {"message": message, "type": "invalid_request"},
                "debug": {"request_id": f"req_sandbox_{status}"},
            },
        )

    def _auth(self, request: SandboxRequest) -> Optional[Response]:
        header = request.header("authorization")
        if header == "Bearer whop_no_permission":
            return self._error(403, "API key lacks company:balance:read permission")
        if header != f"Bearer {self.api_key}":
            echoed = f": {header}" if self.settings["echo_key"] else ""
            return self._error(401, f"Missing or invalid API key{echoed}")
        return None

    def handle(self, request: SandboxRequest, base_url: str) -> Response:
        endpoint = request.path[len(self.prefix) :].strip("/")
        if endpoint == "schema":
            return self._schema(request)
        denied = self._auth(request)
        if denied:
            return denied
        if endpoint == "time_series":
            return self._time_series(request)
        if endpoint == "metric":
            return self._metric(request)
        return self._error(404, f"unknown endpoint {request.path}")

    def _time_series(self, request: SandboxRequest) -> Response:
        if request.arg("resource_type") != "wallet":
            return self._error(400, "resource_type is required and must be wallet")
        try:
            first = dt.date.fromisoformat(request.arg("from", ""))
            last = dt.date.fromisoformat(request.arg("to", ""))
        except ValueError:
            return self._error(400, "from and to must be ISO 8601 dates")
        group_by = request.arg("group_by", "month")
        if group_by not in ("day", "week", "month"):
            return self._error(400, f"invalid group_by {group_by}")
        lines = set(LINE_CATEGORIES)
        category = request.arg("reporting_category")
        if category:
            lines = {k for k in lines if category in LINE_CATEGORIES[k][1]}
        if request.args("grouping"):
            lines = {k for k in lines if LINE_CATEGORIES[k][0] in request.args("grouping")}
        if request.args("line_category"):
            lines &= set(request.args("line_category"))
        currency, convert = request.arg("currency"), request.arg("convert_currency")
        for code in (currency, convert):
            if code and code not in CURRENCIES:
                return self._error(400, f"unsupported currency {code}")
        rows = self.wallet_series(first, last, group_by, sorted(lines), currency, convert, request.arg("account_id"))
        metadata = {
            "wallet_id": "ldgr_sandbox",
            "from": first.isoformat(),
            "to": last.isoformat(),
            "group_by": group_by,
            "timezone": request.arg("timezone", "UTC"),
        }
        if convert:
            metadata["convert_currency"] = convert
        return Response(200, {"data": rows, "metadata": metadata})

    def _metric(self, request: SandboxRequest) -> Response:
        resource = request.arg("resource")
        if resource not in METRIC_RESOURCES:
            return self._error(400, f"unknown metric resource {resource!r}")
        granularity = request.arg("granularity") or "daily"
        if granularity not in ("daily", "weekly", "monthly"):
            return self._error(400, f"invalid granularity {granularity}")
        breakdowns = request.args("breakdowns")
        unknown = [b for b in breakdowns if not self.breakdown_values(b)]
        if unknown:
            return self._error(400, f"cannot break down by {unknown}")
        start, end = _parse_instant(request.arg("from", "")), _parse_instant(request.arg("to", ""))
        if not start or not end:
            return self._error(400, "from and to are required date-times")
        # a day counts when it starts before `to`: `to` = now includes today so far
        last_day = (end - dt.timedelta(microseconds=1)).date()
        rows = self.metric_rows(
            resource, granularity, breakdowns, start.date(), last_day + dt.timedelta(days=1), request.arg("company_id")
        )
        aliases = self.settings["breakdown_alias"]
        columns = [
            self.settings["time_column"],
            *(aliases.get(b, b) for b in breakdowns),
            *(["currency"] if self.settings["currency_column"] else []),
            "value",
        ]
        if self.settings["extra_column"]:
            columns.append(self.settings["extra_column"])
            text = self.settings["extra_text"]
            rows = [row + [text if text else round(row[-1] / 10, 2)] for row in rows]
        if self.settings["numbers_as_text"]:
            rows = [[str(c) if isinstance(c, (int, float, Decimal)) else c for c in row] for row in rows]
        cursor = request.arg(self.settings["cursor_param"])
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()[2:]) if cursor else 0
        size = int(self.settings["metric_page_size"])
        page = rows[offset : offset + size]
        next_cursor = (
            base64.urlsafe_b64encode(f"o:{offset + size}".encode()).decode() if offset + size < len(rows) else None
        )
        if self.settings["row_format"] == "objects":
            page = [dict(zip(columns, row)) for row in page]
        return Response(
            200,
            {
                "columns": columns,
                "data": page,
                "node": resource.replace(":", "."),
                "typename": "Result",
                "pagination": {"next_cursor": next_cursor},
                "debug": {"engine": "sandbox", "request_id": f"req_{len(self.sandbox.requests)}", "sql": "select 1"},
            },
        )

    def schema(self) -> dict:
        """The wallet taxonomy, after any renames or deletions set in the settings."""
        renamed, deleted = self.settings["renamed"], set(self.settings["deleted"])

        def entry(key: str, **extra) -> dict:
            return {
                "key": key,
                "name": renamed.get(key, key.replace("_", " ").title()),
                "description": f"All {key.replace('_', ' ')} activity",
                **extra,
            }

        reports = sorted({r for _, rs, _ in LINE_CATEGORIES.values() for r in rs})
        groupings = sorted({g for g, _, _ in LINE_CATEGORIES.values()})
        return {
            "reporting_categories": [
                entry(r, line_categories=[k for k, v in LINE_CATEGORIES.items() if r in v[1]])
                for r in reports
                if r not in deleted
            ],
            "groupings": [
                entry(g, line_categories=[k for k, v in LINE_CATEGORIES.items() if v[0] == g])
                for g in groupings
                if g not in deleted
            ],
            "line_categories": [
                entry(k, grouping=v[0], reporting_categories=list(v[1]))
                for k, v in LINE_CATEGORIES.items()
                if k not in deleted
            ],
        }

    def _schema(self, request: SandboxRequest) -> Response:
        if request.arg("resource_type") != "wallet":
            return self._error(400, "resource_type is required and must be wallet")
        return Response(200, self.schema())
