"""Stripe Analytics: real pipeline runs against the sandbox's metric_query emulator, asserting on the
warehouse rows (equal to the emulator's values) and on the requests the sandbox saw."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from metricsync.sandbox.data import utc_now
from metricsync.sandbox.stripe import parse_form
from support import configure, duckdb_only
from support.stripe import (
    CREDITS,
    DAILY_BY_PRICE,
    KEY,
    MONTHLY_NY,
    MRR,
    PRICES,
    PROVIDER,
    SUBSCRIPTIONS,
    TODAY,
    USAGE,
    UTC,
    WEEKLY,
    aligned,
    expected,
    loaded,
    setup,
)


def bodies(sandbox, status=200):
    """Parsed request bodies (JSON or form) the endpoint answered with `status`."""
    out = []
    for request in sandbox.seen("/v2/data/analytics/metric_query"):
        if request.status == status:
            form = "json" not in request.header("content-type")
            out.append(parse_form(request.body.decode()) if form else request.json())
    return out


def instant(text):
    return dt.datetime.fromisoformat(text)


# -- configuration is checked before any request ------------------------------------------------
def query(**changes):
    return {**DAILY_BY_PRICE, **changes}


@pytest.mark.parametrize(
    "settings, message",
    [
        pytest.param({"queries": [query(metrics=[])]}, "at least one metric", id="no-metrics"),
        pytest.param(
            {"queries": [{k: v for k, v in DAILY_BY_PRICE.items() if k != "metrics"}]},
            "at least one metric",
            id="metrics-missing",
        ),
        pytest.param({"queries": [query(metrics=[{}])]}, "without an id or a name", id="metric-without-id-or-name"),
        pytest.param({"queries": [query(metrics=[{"id": ""}])]}, "without an id or a name", id="metric-empty-id"),
        pytest.param(
            {"queries": [query(metrics=[{"slug": "mrr"}])]}, 'with "id" and/or "name"', id="metric-unknown-key"
        ),
        pytest.param(
            {"queries": [query(interval="hour")]},
            "interval 'hour' - use one of day, week, month, year",
            id="interval-not-in-enum",
        ),
        pytest.param(
            {"queries": [{k: v for k, v in DAILY_BY_PRICE.items() if k != "interval"}]},
            "interval None",
            id="interval-missing",
        ),
        pytest.param(
            {"queries": [query(group_by=["price", "customer"])]},
            "groups by 2 dimensions - the API allows at most 1",
            id="group-by-two",
        ),
        pytest.param(
            {"queries": [query(filters={"price": PRICES, "customer": ["cus_1001"], "product": ["prod_pro"]})]},
            "filters on 3 dimensions - the API allows at most 2",
            id="filters-three-keys",
        ),
        pytest.param(
            {"queries": [query(filters={"customer": [f"cus_{i}" for i in range(11)]})]},
            "filters 'customer' on 11 values - the API allows at most 10",
            id="filter-eleven-values",
        ),
        pytest.param({"queries": [query(filters={"price": []})]}, "not a non-empty list", id="filter-no-values"),
        pytest.param(
            {"queries": [query(timezone="America/" + "X" * 60)]}, "longer than 64 characters", id="timezone-too-long"
        ),
        pytest.param(
            {"queries": [query(timezone="Mars/Olympus_Mons")]}, "is not an IANA time zone", id="timezone-unknown"
        ),
        pytest.param({"queries": [query(currency="dollars")]}, "three-letter ISO code", id="currency-not-iso"),
        pytest.param({"queries": [query(granularity="daily")]}, "unknown keys ['granularity']", id="unknown-query-key"),
        pytest.param({"queries": [query(), query()]}, "two queries named", id="duplicate-names"),
        pytest.param(
            {"body_encoding": "xml"},
            "body_encoding 'xml' - set SOURCES__STRIPE_ANALYTICS__BODY_ENCODING to json or form",
            id="body-encoding",
        ),
        pytest.param({"max_periods": {"hour": 3}}, "max_periods must be an object", id="max-periods-key"),
        pytest.param({"max_periods": {"day": 0}}, "max_periods.day 0 is out of range", id="max-periods-zero"),
        pytest.param(
            {"default_timezone": "Nowhere/Land"},
            "default_timezone 'Nowhere/Land' is not an IANA",
            id="default-timezone",
        ),
        pytest.param({"api_key": ""}, "no API key", id="no-key"),
    ],
)
def test_config_errors_stop_before_any_request(sandbox, run, monkeypatch, settings, message):
    setup(monkeypatch, sandbox, [DAILY_BY_PRICE])
    configure(monkeypatch, PROVIDER, **settings)
    result = run(PROVIDER)
    assert result.exit_code == 2, result.message
    assert message in result.message
    assert result.message.startswith("stripe_analytics:") and "\n" not in result.message
    assert sandbox.seen("/v2") == []


# -- incremental loads -----------------------------------------------------------------------------
def test_two_runs_load_exactly_the_sandbox_values(sandbox, run, warehouse, monkeypatch):
    queries = [DAILY_BY_PRICE, WEEKLY, MONTHLY_NY]
    setup(monkeypatch, sandbox, queries, days=75, lookback_days=3)
    first_day = TODAY - dt.timedelta(days=75)

    first = run(PROVIDER, warehouse)
    assert first.ok, first.message
    for q in queries:
        assert loaded(warehouse, q["name"]) == expected(sandbox, q, first_day), q["name"]
    before = loaded(warehouse, DAILY_BY_PRICE["name"])
    requests = sandbox.seen("/v2")
    assert {r.header("stripe-version") for r in requests} == {""}  # not sent unless set, as in the docs
    assert {r.header("authorization") for r in requests} == {f"Bearer {KEY}"}
    assert all("json" in r.header("content-type") for r in requests)

    sandbox.revise(2)
    sandbox.clear_log()
    second = run(PROVIDER, warehouse)
    assert second.ok, second.message
    for q in queries:
        assert loaded(warehouse, q["name"]) == expected(sandbox, q, first_day), q["name"]
    after = loaded(warehouse, DAILY_BY_PRICE["name"])
    assert len(after) == len(before) and after != before  # revised buckets replaced, none added
    duplicates = warehouse.query(
        'select query_name, "timestamp", metric, dimension_value from stripe_analytics.metric_results '
        "group by 1, 2, 3, 4 having count(*) > 1"
    )
    assert duplicates == []

    recent = TODAY - dt.timedelta(days=3)
    requested = {b["interval"]: b for b in bodies(sandbox)}
    assert len(bodies(sandbox)) == 3  # one request per query: only the recent window
    assert instant(requested["day"]["starts_at"]) == dt.datetime.combine(recent, dt.time(), UTC)
    assert instant(requested["week"]["starts_at"]) == dt.datetime.combine(aligned(recent, "week"), dt.time(), UTC)
    ny_midnight = dt.datetime.combine(aligned(recent, "month"), dt.time(), ZoneInfo("America/New_York"))
    assert instant(requested["month"]["starts_at"]) == ny_midnight
    for body in requested.values():
        assert instant(body["ends_at"]) <= utc_now()


@duckdb_only
def test_backfill_longer_than_the_api_maximum_is_split(sandbox, run, warehouse, monkeypatch):
    sandbox.by_name[PROVIDER].settings["max_range_days"]["day"] = 40
    setup(monkeypatch, sandbox, [DAILY_BY_PRICE], max_periods={"day": 120})
    first, last = TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1)

    result = run(PROVIDER, warehouse, backfill=(first, last))
    assert result.ok, result.message
    end = dt.datetime.combine(TODAY, dt.time(), UTC)
    assert loaded(warehouse, DAILY_BY_PRICE["name"]) == expected(sandbox, DAILY_BY_PRICE, first, end)
    # 100 days: rejected, two halves of 50 rejected, four quarters of 25 loaded
    assert sorted(r.status for r in sandbox.seen("/v2")) == [200] * 4 + [400] * 3
    ranges = sorted((instant(b["starts_at"]), instant(b["ends_at"])) for b in bodies(sandbox))
    assert all(stop - start <= dt.timedelta(days=40) for start, stop in ranges)
    assert ranges[0][0] == dt.datetime.combine(first, dt.time(), UTC) and ranges[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, no overlap


def test_one_period_over_the_maximum_is_an_error(sandbox, run, monkeypatch):
    sandbox.by_name[PROVIDER].settings["max_range_days"]["week"] = 3
    setup(monkeypatch, sandbox, [WEEKLY], days=20)
    result = run(PROVIDER)
    assert result.exit_code == 3
    assert "query 'revenue_weekly'" in result.message and "metric_invalid_time_range" in result.message
    assert "exceeds the maximum allowed" in result.message


# -- request shape: pagination, form encoding ------------------------------------------------------
@duckdb_only
@pytest.mark.parametrize("encoding", ["json", "form"])
def test_pages_are_followed(sandbox, run, warehouse, monkeypatch, encoding):
    sandbox.by_name[PROVIDER].settings.update(pagination=True, page_size=7)
    setup(monkeypatch, sandbox, [DAILY_BY_PRICE], days=20, body_encoding=encoding)
    result = run(PROVIDER, warehouse)
    assert result.ok, result.message
    rows = expected(sandbox, DAILY_BY_PRICE, TODAY - dt.timedelta(days=20))
    assert len(rows) == 21 * 3
    assert loaded(warehouse, DAILY_BY_PRICE["name"]) == rows
    requests = sandbox.seen("/v2")
    assert len(requests) == 9  # 63 rows, 7 per page
    tokens = [b.get("page") for b in bodies(sandbox)]
    assert tokens[0] is None and all(tokens[1:]) and len(set(tokens[1:])) == 8
    assert all(r.arg("page") == t for r, t in zip(requests[1:], tokens[1:]))


@duckdb_only
def test_form_encoding_sends_nested_keys(sandbox, run, warehouse, monkeypatch):
    filtered = {**DAILY_BY_PRICE, "name": "filtered", "filters": {"price": PRICES, "customer": ["cus_1001"]}}
    setup(monkeypatch, sandbox, [filtered], days=10, body_encoding="form", stripe_version="2025-09-30.preview")
    result = run(PROVIDER, warehouse)
    assert result.ok, result.message
    (request,) = sandbox.seen("/v2")
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert request.header("stripe-version") == "2025-09-30.preview"
    body = request.body.decode()
    for pair in (
        f"metrics%5B0%5D%5Bid%5D={MRR}",
        f"filters%5Bprice%5D%5B1%5D={PRICES[1]}",
        "filters%5Bcustomer%5D%5B0%5D=cus_1001",
        "group_by%5B0%5D=price",
        "interval=day",
        "limit=1000",
    ):
        assert pair in body
    rows = loaded(warehouse, "filtered")
    assert rows == expected(sandbox, filtered, TODAY - dt.timedelta(days=10))
    assert {r[3] for r in rows} == set(PRICES)


# -- throttling and errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        "metric_query_rate_limit_exceeded",
        "metric_query_concurrency_limit_exceeded",
        "metric_query_metric_rate_limit_exceeded",
        "metric_query_metric_concurrency_limit_exceeded",
    ],
)
def test_429_codes_are_retried_with_backoff(sandbox, run, monkeypatch, code):
    sandbox.by_name[PROVIDER].settings["throttle"] = [code]
    setup(monkeypatch, sandbox, [WEEKLY], days=20)
    result = run(PROVIDER)
    assert result.ok, result.message
    first, retry = sandbox.seen("/v2")
    assert (first.status, retry.status) == (429, 200)
    assert retry.started - first.started >= 0.2  # backed off (no Retry-After to follow)


def test_concurrency_stays_within_the_limit(sandbox, run, monkeypatch):
    emulator = sandbox.by_name[PROVIDER]
    emulator.settings.update(max_concurrent=2, latency=0.05)
    setup(monkeypatch, sandbox, [DAILY_BY_PRICE, WEEKLY], days=60, max_concurrency=2, max_periods={"day": 10})
    result = run(PROVIDER)
    assert result.ok, result.message
    assert len(sandbox.seen("/v2")) >= 8
    assert {r.status for r in sandbox.seen("/v2")} == {200}
    assert emulator.peak_in_flight == 2  # the cap, and reached: two queries were in flight at once


@pytest.mark.parametrize(
    "changes, code, parts",
    [
        pytest.param(
            {"metrics": [{"id": CREDITS}]}, 4, ["metric_inaccessible", "HTTP 403", "permissions"], id="403-inaccessible"
        ),
        pytest.param(
            {"metrics": [{"id": "metric_61Nope"}]},
            3,
            ["missing_resource", "HTTP 404", "No such metric"],
            id="404-unknown-metric",
        ),
        pytest.param(
            {"metrics": [{"id": USAGE}]},
            3,
            ["missing_resource", "HTTP 400", "only accessible in live mode"],
            id="400-live-only",
        ),
        pytest.param(
            {"metrics": [{"id": MRR}, {"id": SUBSCRIPTIONS}]},
            3,
            ["metric_invalid_parameter_use", "same namespace"],
            id="400-namespaces",
        ),
        pytest.param(
            {"metrics": [{"id": MRR, "name": "revenue.discounts"}]},
            3,
            ["refer to different metrics"],
            id="400-id-name-mismatch",
        ),
        pytest.param({"group_by": ["country"]}, 3, ["missing_resource", "'country' doesn't exist"], id="400-dimension"),
        pytest.param(
            {"filters": {"price": ["price_unknown"]}},
            3,
            ["missing_resource", "isn't a valid value"],
            id="400-filter-value",
        ),
        pytest.param(
            {"metrics": [{"id": SUBSCRIPTIONS}], "group_by": []},
            3,
            ["metric_invalid_parameter_use", "no monetary measures"],
            id="400-currency-non-monetary",
        ),
    ],
)
def test_api_errors_are_one_line_naming_the_query(sandbox, run, monkeypatch, changes, code, parts):
    setup(monkeypatch, sandbox, [query(**changes)], days=10)
    result = run(PROVIDER)
    assert result.exit_code == code, result.message
    assert result.message.startswith("stripe_analytics: query 'mrr_by_price' failed")
    assert "\n" not in result.message
    for part in parts:
        assert part in result.message
    assert len(sandbox.seen("/v2")) == 1  # client errors are not retried


def test_invalid_key_is_reported_without_the_key(sandbox, run, monkeypatch):
    secret = "sk_test_51NotTheRightKeyAtAll"
    setup(monkeypatch, sandbox, [DAILY_BY_PRICE], days=10, api_key=secret)
    result = run(PROVIDER)
    assert result.exit_code == 4
    assert "HTTP 401" in result.message and "API key was rejected" in result.message
    assert "SOURCES__STRIPE_ANALYTICS__API_KEY" in result.message
    assert secret not in result.message
