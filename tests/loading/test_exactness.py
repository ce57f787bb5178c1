"""Exact against the APIs as documented: a window's answer replaces its periods (rows revised away
upstream disappear), Stripe answers cut at `limit` are split and re-asked, keys tell every row the
API returns apart, and the sandbox's docs-literal defaults and their plausible alternatives both
load exactly. Each test checks the warehouse row for row against the sandbox's own truth."""

import datetime as dt
import logging
import time

import pytest
import support.stripe as stripe
import support.whop as whop
from metricsync.sources._common.load.progress import RunControl
from metricsync.sources._common.load.windows import Window
from metricsync.sources.whop.helpers import metric_request
from support import Warehouse, today
from support.statsig import days, expected_values, warehouse_values
from support.statsig import setup as setup_statsig

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
BY_CUSTOMER = {
    "name": "mrr_by_customer",
    "metrics": [{"id": stripe.MRR}],
    "interval": "day",
    "currency": "usd",
    "group_by": ["customer"],
}


# -- rows revised away upstream disappear -----------------------------------------------------------
def _whop(sandbox, monkeypatch):
    query = whop.METRIC_QUERIES[0]  # daily gross revenue by country
    whop.setup_whop(
        monkeypatch, sandbox, wallet_queries=[{"name": "daily_all", "group_by": "day"}], metric_queries=[query]
    )
    emulator = sandbox.by_name["whop"]

    def truth(warehouse):
        return (
            whop.loaded_metric(warehouse, query["name"]),
            whop.expected_metric(emulator, query),
            whop.loaded_wallet(warehouse, "daily_all"),
            whop.expected_wallet(emulator, {"group_by": "day"}),
        )

    return "whop", emulator, truth


def _stripe(sandbox, monkeypatch):
    stripe.setup(monkeypatch, sandbox, [BY_CUSTOMER], days=40, lookback_days=3)
    first_day = TODAY - dt.timedelta(days=40)

    def truth(warehouse):
        return stripe.loaded(warehouse, BY_CUSTOMER["name"]), stripe.expected(sandbox, BY_CUSTOMER, first_day)

    return "stripe_analytics", sandbox.by_name["stripe_analytics"], truth


def _statsig(sandbox, monkeypatch):
    first = setup_statsig(monkeypatch, sandbox, 20, lookback_days=3)
    emulator = sandbox.by_name["statsig"]

    def truth(warehouse):
        return warehouse_values(warehouse), expected_values(emulator, days(first))

    return "statsig", emulator, truth


@pytest.mark.parametrize(
    "provider_setup",
    [
        pytest.param(_whop, id="whop-breakdowns-and-currencies"),
        pytest.param(_stripe, id="stripe-grouped-by-customer"),
        pytest.param(_statsig, id="statsig-values"),
    ],
)
def test_rows_deleted_upstream_disappear(sandbox, warehouse, run, monkeypatch, provider_setup):
    provider, emulator, truth = provider_setup(sandbox, monkeypatch)
    emulator.settings["revision_deletes"] = True
    first = run(provider, warehouse)
    assert first.ok, first.message
    loaded, expected, *more = truth(warehouse)
    assert loaded == expected
    before = len(loaded)

    sandbox.revise(days=3)  # the last 3 days are restated: some of their rows vanish upstream
    second = run(provider, warehouse)
    assert second.ok, second.message
    loaded, expected, *more = truth(warehouse)
    assert len(expected) < before  # the revision really deleted rows ...
    assert loaded == expected  # ... and the warehouse lost exactly those, row for row
    if more:
        assert more[0] == more[1]


# -- Stripe: answers cut at `limit` -----------------------------------------------------------------
@pytest.mark.parametrize(
    "pagination", [pytest.param(False, id="docs-literal-no-pages"), pytest.param(True, id="next-page-url-present")]
)
def test_stripe_300_customers_daily_backfill_is_exact(sandbox, run, monkeypatch, pagination, tmp_path):
    emulator = sandbox.by_name["stripe_analytics"]
    emulator.settings.update(customers=300, pagination=pagination)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    first_day = TODAY - dt.timedelta(days=100)
    stripe.setup(monkeypatch, sandbox, [BY_CUSTOMER], days=100)
    result = run("stripe_analytics", None, (first_day, TODAY))
    assert result.ok, result.message
    warehouse = Warehouse("duckdb", str(tmp_path / "w.duckdb"))
    loaded, expected = stripe.loaded(warehouse, BY_CUSTOMER["name"]), stripe.expected(sandbox, BY_CUSTOMER, first_day)
    assert len(expected) == 101 * 300
    assert loaded == expected
    spans = [
        dt.datetime.fromisoformat(r.json()["ends_at"]) - dt.datetime.fromisoformat(r.json()["starts_at"])
        for r in sandbox.seen("/v2")
        if not r.json().get("page")
    ]
    if not pagination:  # 30-day windows hold 9,000 rows: each was cut at 1,000 and split until it fit
        assert min(spans) <= dt.timedelta(days=3) and max(spans) == dt.timedelta(days=30)


def test_stripe_pages_ending_on_a_full_page_are_not_split(sandbox, run, monkeypatch, tmp_path):
    """An API that paginates ends with a null link: a full last page is then just full."""
    sandbox.by_name["stripe_analytics"].settings.update(customers=100, pagination=True)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    first_day = TODAY - dt.timedelta(days=29)  # one 30-day window: 3,000 rows, three full pages
    stripe.setup(monkeypatch, sandbox, [BY_CUSTOMER], days=29)
    result = run("stripe_analytics", None, (first_day, TODAY))
    assert result.ok, result.message
    assert len(sandbox.seen("/v2")) == 3
    loaded = stripe.loaded(Warehouse("duckdb", str(tmp_path / "w.duckdb")), BY_CUSTOMER["name"])
    assert len(loaded) == 3000 and loaded == stripe.expected(sandbox, BY_CUSTOMER, first_day)


def test_stripe_single_period_over_the_limit_fails_loudly(sandbox, run, monkeypatch, tmp_path):
    emulator = sandbox.by_name["stripe_analytics"]
    emulator.settings.update(customers=1200)  # 1200 rows a day: more than one answer can hold
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    stripe.setup(monkeypatch, sandbox, [BY_CUSTOMER], days=2)
    result = run("stripe_analytics")
    assert result.exit_code == 3
    assert result.message.startswith("stripe_analytics: query 'mrr_by_customer'")
    assert "maximum of 1000 rows" in result.message and "filters" in result.message
    assert len(result.message.splitlines()) == 1
    day_requests = [r.json() for r in sandbox.seen("/v2")]
    assert any(
        dt.datetime.fromisoformat(b["ends_at"]) - dt.datetime.fromisoformat(b["starts_at"]) <= dt.timedelta(days=1)
        for b in day_requests
    )  # it split down to one period before failing


# -- keys tell every row apart --------------------------------------------------------------------
def test_whop_per_currency_rows_without_a_breakdown_do_not_collide(sandbox, warehouse, run, monkeypatch):
    sandbox.by_name["whop"].settings["currency_column"] = True
    query = {"name": "gross_daily", "resource": "receipts:gross_revenue", "granularity": "daily"}
    whop.setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=[query])
    assert run("whop", warehouse).ok
    rows = warehouse.query("select period, breakdown_key, currency, value from whop.metric_results")
    totals = sandbox.by_name["whop"].metric_totals(query["resource"], "daily", [], whop.START, TODAY + dt.timedelta(1))
    expected = sorted((p, f'{{"currency": "{c}"}}', c, v) for (p, (c,)), v in totals.items())
    assert sorted((p, k, c, v.normalize() if hasattr(v, "normalize") else v) for p, k, c, v in rows) == [
        (p, k, c, v.normalize()) for p, k, c, v in expected
    ]
    assert len({r[2] for r in rows}) == 3  # usd, eur, gbp: three rows per day, none overwritten


def test_whop_breakdown_answered_under_another_name_never_duplicates(sandbox, warehouse, run, monkeypatch):
    query = whop.METRIC_QUERIES[0]  # daily gross revenue by country
    whop.setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=[query])
    assert run("whop", warehouse).ok
    sandbox.by_name["whop"].settings["breakdown_alias"] = {"country": "country_code"}
    assert run("whop", warehouse).ok  # re-reads the last days: their keys now name `country_code`
    per_day = warehouse.query("select period, count(*) from whop.metric_results group by 1")
    assert per_day and {n for _p, n in per_day} == {4}  # one row per country and day, never two
    renamed = warehouse.query("select count(*) from whop.metric_results where breakdown_key like '%country_code%'")
    assert renamed[0][0] > 0


def test_statsig_metric_listed_under_two_sources_keeps_both(sandbox, warehouse, run, monkeypatch):
    sandbox.by_name["statsig"].settings["shared_ratio"] = True
    setup_statsig(monkeypatch, sandbox, 2)
    for _ in range(2):
        assert run("statsig", warehouse).ok
    rows = warehouse.query(
        "select metric_source_name, _dlt_valid_to from statsig.metric_source_metrics "
        "where id = 'Checkout Conversion::ratio'"
    )
    assert sorted(rows) == [("checkout_events", None), ("page_views", None)]  # both, and no flip-flop versions
    versions = warehouse.query(
        "select count(*), count(distinct metric_source_name || id) from statsig.metric_source_metrics"
    )
    assert versions[0][0] == versions[0][1]


# -- periods the API labels differently -------------------------------------------------------------
def test_stripe_buckets_labelled_at_utc_midnight_land_in_their_local_period(sandbox, warehouse, run, monkeypatch):
    sandbox.by_name["stripe_analytics"].settings["bucket_labels"] = "utc"
    tokyo = {
        "name": "tokyo_monthly",
        "metrics": [{"id": stripe.SUBSCRIPTIONS}],
        "interval": "month",
        "timezone": "Asia/Tokyo",
    }
    stripe.setup(monkeypatch, sandbox, [tokyo, stripe.MONTHLY_NY], days=70)
    assert run("stripe_analytics", warehouse).ok
    for query in (tokyo, stripe.MONTHLY_NY):
        periods = warehouse.query(
            f"select distinct period from stripe_analytics.metric_results "
            f"where query_name = '{query['name']}' order by 1"
        )
        first = (TODAY - dt.timedelta(days=70)).replace(day=1)
        months = sorted({(first + dt.timedelta(days=i)).replace(day=1) for i in range((TODAY - first).days + 1)})
        assert [p[0] for p in periods] == months, query["name"]


def test_whop_weeks_labelled_from_sunday_are_learned_and_overwrite_nothing(
    sandbox, warehouse, run, monkeypatch, caplog
):
    sandbox.by_name["whop"].settings["week_start"] = "sunday"
    whop.setup_whop(monkeypatch, sandbox, wallet_queries=[{"name": "weekly", "group_by": "week"}], metric_queries=None)
    with caplog.at_level(logging.INFO, logger="metricsync"):
        assert run("whop", warehouse).ok
    periods = [r[0] for r in warehouse.query("select distinct period from whop.wallet_time_series")]
    assert periods and all(p.weekday() == 6 for p in periods)  # kept under the API's own Sunday labels
    messages = [r.getMessage() for r in caplog.records]
    assert any("the API labels weeks from Sunday; windows are cut on that day from now on" in m for m in messages)


# -- requests in UTC ----------------------------------------------------------------------------
def test_whop_metric_window_starting_now_sends_no_request_with_to_before_from():
    midnight = dt.datetime.combine(TODAY, dt.time(), dt.timezone.utc)
    query = {"name": "q", "resource": "receipts:gross_revenue", "granularity": "daily"}
    assert metric_request(query, Window(TODAY, TODAY + dt.timedelta(days=1)), midnight, "brackets") is None
    request = metric_request(
        query, Window(TODAY, TODAY + dt.timedelta(days=1)), midnight + dt.timedelta(hours=1), "brackets"
    )
    assert request.params["from"] < request.params["to"]


def test_windows_are_planned_in_utc_on_a_machine_ahead_of_utc(monkeypatch):
    monkeypatch.setenv("TZ", "Etc/GMT-14")  # UTC+14: its local date is tomorrow for ten hours a day
    time.tzset()
    try:
        assert RunControl().today == today()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("form", ["rows", "arrow-pages", "compact-arrow-pages"])
@pytest.mark.parametrize("clash", ["first-and-last", "null-dimension"])
def test_two_rows_with_one_key_in_an_answer_fail_loudly(form, clash):
    import pyarrow as pa
    from metricsync.sources._common.errors import ApiError
    from metricsync.sources._common.load.arrow import to_arrow
    from metricsync.sources._common.load.resource import WindowedTable

    table = WindowedTable("stripe_analytics", "metric_results", ("query_name", "period", "metric", "dimension_value"))
    day = dt.date(2026, 3, 1)
    twin = "price_1" if clash == "first-and-last" else None
    # the clashing pair apart, among rows that differ in each key column
    rows = [{"query_name": "q", "period": day, "metric": "m", "dimension_value": twin, "value": 1}]
    rows += [
        {
            "query_name": "q",
            "period": day + dt.timedelta(days=n % 3),
            "metric": f"m{n % 2}",
            "dimension_value": f"price_{n + 10}",
            "value": n,
        }
        for n in range(6)
    ]
    rows += [{**rows[0], "value": 2}]

    def check(some: list) -> None:
        if form == "rows":
            table.check_unique(some, "q")
        else:
            table.check_unique_table(
                to_arrow(some, compact=form == "compact-arrow-pages")
                if form.startswith("compact")
                else pa.Table.from_pylist(some),
                "q",
            )

    with pytest.raises(ApiError, match=rf"returned 2 rows for the same key .*'dimension_value': {twin!r}"):
        check(rows)
    check(rows[:-1])  # no clash, no error
    check(rows[-1:])
