"""Whop end to end: real pipeline runs against the sandbox into DuckDB and Postgres."""

import datetime as dt
import json
import shutil

import pytest
from support import duckdb_only, period_floor
from support.whop import (
    KEY,
    METRIC_QUERIES,
    TODAY,
    WALLET_QUERIES,
    expected_metric,
    expected_wallet,
    loaded_metric,
    loaded_wallet,
    setup_whop,
)


def assert_exact(warehouse, sandbox):
    emulator = sandbox.by_name["whop"]
    for query in WALLET_QUERIES:
        assert loaded_wallet(warehouse, query["name"]) == expected_wallet(emulator, query), query["name"]
    for query in METRIC_QUERIES:
        assert loaded_metric(warehouse, query["name"]) == expected_metric(emulator, query), query["name"]
    dupes = warehouse.query(
        "select query_name, period, currency, count(*) from whop.wallet_time_series "
        "group by 1, 2, 3 having count(*) > 1"
    )
    assert dupes == []
    dupes = warehouse.query(
        "select query_name, period, breakdown_key, count(*) from whop.metric_results "
        "group by 1, 2, 3 having count(*) > 1"
    )
    assert dupes == []


def wallet_requests(sandbox):
    return [r for r in sandbox.seen("/api/v1/stats/time_series")]


def test_two_runs_exact_after_upstream_revision(sandbox, warehouse, run, monkeypatch):
    setup_whop(monkeypatch, sandbox)
    first = run("whop", warehouse)
    assert first.ok, first.message
    assert_exact(warehouse, sandbox)

    sandbox.revise(days=2)
    sandbox.clear_log()
    second = run("whop", warehouse)
    assert second.ok, second.message
    assert_exact(warehouse, sandbox)

    # run 2 asks only for the recent window: last loaded day minus lookback, aligned to the period
    for request in wallet_requests(sandbox):
        group_by = request.arg("group_by")
        assert dt.date.fromisoformat(request.arg("from")) == period_floor(TODAY - dt.timedelta(days=3), group_by)
    for request in sandbox.seen("/api/v1/stats/metric"):
        g = {"daily": "day", "weekly": "week", "monthly": "month"}[request.arg("granularity")]
        assert request.arg("from") == f"{period_floor(TODAY - dt.timedelta(days=3), g)}T00:00:00Z"


def test_requests_cover_whole_periods_and_send_filters(sandbox, run, monkeypatch):
    first = TODAY - dt.timedelta(days=200)  # three 92-day windows for the daily query
    setup_whop(monkeypatch, sandbox, metric_queries=None, start_date=first.isoformat())
    assert run("whop").ok
    by_query = {}
    for request in wallet_requests(sandbox):
        start = dt.date.fromisoformat(request.arg("from"))
        assert start == period_floor(start, request.arg("group_by")), "a window starts mid-period"
        assert dt.date.fromisoformat(request.arg("to")) <= TODAY
        assert request.header("authorization") == f"Bearer {KEY}"
        by_query.setdefault(request.arg("group_by"), set()).add((start, dt.date.fromisoformat(request.arg("to"))))
    # each grouping's windows (`to` = the window's end day, exclusive, or today) run from start_date's
    # period to today, each starting where the one before ended
    assert set(by_query) == {"day", "week", "month"} and len(by_query["day"]) == 3
    for group_by, spans in by_query.items():
        spans = sorted(spans)
        assert spans[0][0] == period_floor(first, group_by) and spans[-1][1] == TODAY, spans
        assert all(later[0] == earlier[1] for earlier, later in zip(spans, spans[1:])), spans
    refunds = [r for r in wallet_requests(sandbox) if r.args("grouping")]
    assert refunds and refunds[0].query["grouping[]"] == ["payments", "refunds"]


@duckdb_only
@pytest.mark.parametrize(
    "row_format", [pytest.param("arrays", id="array-rows"), pytest.param("objects", id="object-rows")]
)
def test_metric_rows_as_arrays_or_objects(sandbox, warehouse, run, monkeypatch, row_format):
    sandbox.by_name["whop"].settings.update(row_format=row_format, metric_page_size=7)
    setup_whop(monkeypatch, sandbox, wallet_queries=None)
    result = run("whop", warehouse)
    assert result.ok, result.message
    emulator = sandbox.by_name["whop"]
    for query in METRIC_QUERIES:
        assert loaded_metric(warehouse, query["name"]) == expected_metric(emulator, query)
    cursors = [r.arg("cursor") for r in sandbox.seen("/api/v1/stats/metric") if r.arg("cursor")]
    assert len(cursors) > 10  # several pages per window were followed


def test_new_metric_column_is_added(sandbox, warehouse, run, monkeypatch):
    setup_whop(monkeypatch, sandbox, wallet_queries=None)
    assert run("whop", warehouse).ok
    assert "refund_value" not in {
        c
        for (c,) in warehouse.query(
            "select column_name from information_schema.columns where table_schema='whop' and table_name='metric_results'"
        )
    }
    sandbox.by_name["whop"].settings["extra_column"] = "refund_value"
    result = run("whop", warehouse)
    assert result.ok, result.message
    # the rows fetched again (the lookback from today) carry it, as the API sent it: a tenth of the value
    rows = warehouse.query("select query_name, period, value, refund_value from whop.metric_results")
    recent = {
        "gross_by_country": TODAY - dt.timedelta(days=3),
        "users_weekly": period_floor(TODAY - dt.timedelta(days=3), "week"),
        "gross_monthly_plan": period_floor(TODAY - dt.timedelta(days=3), "month"),
    }
    assert {(name, period >= recent[name]) for name, period, _v, extra in rows if extra is not None} == {
        (name, True) for name in recent
    }
    assert all(extra is not None for name, period, _v, extra in rows if period >= recent[name])
    assert all(
        abs(float(extra) - float(value) / 10) <= 0.005 + 1e-9 for _n, _p, value, extra in rows if extra is not None
    )


def test_a_frozen_schema_refuses_a_new_column(sandbox, run, monkeypatch):
    setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=METRIC_QUERIES[1:2], schema_contract="freeze")
    assert run("whop").ok
    sandbox.by_name["whop"].settings["extra_column"] = "refund_value"
    result = run("whop")
    assert result.exit_code == 3
    assert "'refund_value'" in result.message and "schema_contract" in result.message


def test_state_is_restored_from_the_destination(sandbox, warehouse, run, monkeypatch, isolated):
    setup_whop(monkeypatch, sandbox, metric_queries=None)
    assert run("whop", warehouse).ok
    shutil.rmtree(isolated / "pipelines")  # a fresh machine: no local pipeline folder
    sandbox.clear_log()
    result = run("whop", warehouse)
    assert result.ok, result.message
    starts = {dt.date.fromisoformat(r.arg("from")) for r in wallet_requests(sandbox)}
    # the lookback (3 days) widened to whole periods: the earliest is that of the coarsest grain
    # that begins first (a week that began in the month before, on a month's first days)
    floor = min(period_floor(TODAY - dt.timedelta(days=3), q["group_by"]) for q in WALLET_QUERIES)
    assert min(starts) >= floor
    assert_exact_wallet = {q["name"]: expected_wallet(sandbox.by_name["whop"], q) for q in WALLET_QUERIES}
    for name, expected in assert_exact_wallet.items():
        assert loaded_wallet(warehouse, name) == expected


def test_chunked_loads_commit_separately(sandbox, warehouse, run, monkeypatch):
    setup_whop(
        monkeypatch,
        sandbox,
        windows_per_load=1,
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
        metric_queries=None,
        start_date=(TODAY - dt.timedelta(days=200)).isoformat(),
    )
    result = run("whop", warehouse)
    assert result.ok, result.message
    assert result.loads >= 3
    loads = warehouse.query("select count(*) from whop._dlt_loads")
    assert loads[0][0] == result.loads


def test_schema_definitions_keep_history(sandbox, warehouse, run, monkeypatch):
    setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=None)
    assert run("whop", warehouse).ok
    current = warehouse.query("select key, name from whop.wallet_groupings where _dlt_valid_to is null order by key")
    assert [k for k, _ in current] == ["disputes", "fees", "payments", "refunds", "withdrawals"]

    sandbox.by_name["whop"].settings.update(renamed={"fees": "Platform fees"}, deleted=["disputes"])
    assert run("whop", warehouse).ok
    current = dict(warehouse.query("select key, name from whop.wallet_groupings where _dlt_valid_to is null"))
    assert current["fees"] == "Platform fees" and "disputes" not in current and len(current) == 4
    history = warehouse.query(
        "select key, name from whop.wallet_groupings where _dlt_valid_to is not null order by key"
    )
    assert history == [("disputes", "Disputes"), ("fees", "Fees")]
    # the schema endpoint needs no auth: the key is not sent there
    assert all(not r.header("authorization") for r in sandbox.seen("/api/v1/stats/schema"))


def test_backfill_is_idempotent_and_keeps_the_nightly_cursor(sandbox, warehouse, run, monkeypatch):
    setup_whop(
        monkeypatch,
        sandbox,
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
        metric_queries=None,
        start_date=(TODAY - dt.timedelta(days=10)).isoformat(),
    )
    assert run("whop", warehouse).ok
    old = (TODAY - dt.timedelta(days=120), TODAY - dt.timedelta(days=90))
    for _ in range(2):
        result = run("whop", warehouse, backfill=old)
        assert result.ok, result.message
    rows = warehouse.query("select min(period), max(period), count(*) from whop.wallet_time_series")
    assert rows[0][0] == old[0]
    assert rows[0][2] == 3 * (31 + 11)  # 3 currencies x (31 backfilled days + 11 nightly days)
    sandbox.clear_log()
    assert run("whop", warehouse).ok  # the nightly run still starts near today
    starts = {dt.date.fromisoformat(r.arg("from")) for r in wallet_requests(sandbox)}
    assert starts == {TODAY - dt.timedelta(days=3)}


@duckdb_only
def test_cursor_parameter_is_configurable(sandbox, warehouse, run, monkeypatch):
    sandbox.by_name["whop"].settings.update(cursor_param="after", metric_page_size=5)
    setup_whop(monkeypatch, sandbox, wallet_queries=None)
    stuck = run("whop", warehouse)
    assert stuck.exit_code == 3 and "cursor_param" in stuck.message
    setup_whop(monkeypatch, sandbox, wallet_queries=None, cursor_param="after")
    result = run("whop", warehouse)
    assert result.ok, result.message
    assert loaded_metric(warehouse, "users_weekly") == expected_metric(sandbox.by_name["whop"], METRIC_QUERIES[1])


@pytest.mark.parametrize(
    "settings, code, expected",
    [
        pytest.param({"api_key": "wrong_key_123456"}, 4, ["whop", "HTTP 401", "API key was rejected"], id="401"),
        pytest.param({"api_key": "whop_no_permission"}, 4, ["HTTP 403", "company:balance:read"], id="403"),
        pytest.param(
            {"metric_queries": [{"name": "bad", "resource": "nope:nothing"}], "wallet_queries": None},
            3,
            ["HTTP 400", "unknown metric resource", "request_id req_sandbox_400"],
            id="400",
        ),
    ],
)
def test_api_errors_are_one_line_without_the_key(sandbox, run, monkeypatch, settings, code, expected):
    setup_whop(monkeypatch, sandbox, **settings)
    result = run("whop")
    assert result.exit_code == code
    for text in expected:
        assert text in result.message
    assert "\n" not in result.message
    assert settings.get("api_key", KEY) not in result.message
    sent = [
        (r.path, json.dumps(r.query, sort_keys=True))
        for r in sandbox.seen("/api/v1/stats/t") + sandbox.seen("/api/v1/stats/m")
    ]
    assert sent and len(sent) == len(set(sent))  # no request was retried
