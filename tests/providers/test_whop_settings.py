"""Whop settings from the README that change the requests or how answers are read: `array_params`,
a metric query's `time_column`, and `account_id = global`. Request shapes: DuckDB only."""

import pytest
from support import configure, duckdb_only, today
from support.whop import METRIC_QUERIES, expected_metric, loaded_metric, setup_whop

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
WALLET = "/api/v1/stats/time_series"
METRIC = "/api/v1/stats/metric"
REFUNDS = {"name": "weekly_refunds", "group_by": "week", "grouping": ["payments", "refunds"]}


@pytest.mark.parametrize(
    "style, name",
    [pytest.param("brackets", "grouping[]", id="brackets"), pytest.param("repeat", "grouping", id="repeat")],
)
def test_array_params_style_of_list_parameters(sandbox, run, monkeypatch, style, name):
    setup_whop(monkeypatch, sandbox, wallet_queries=[REFUNDS], metric_queries=[METRIC_QUERIES[2]], array_params=style)
    result = run("whop")
    assert result.ok, result.message
    other = {"grouping[]", "grouping"} - {name}
    for request in sandbox.seen(WALLET):
        assert request.query[name] == ["payments", "refunds"] and not other & set(request.query)
    breakdowns = "breakdowns[]" if style == "brackets" else "breakdowns"
    assert {tuple(r.query[breakdowns]) for r in sandbox.seen(METRIC)} == {("country", "plan")}


@duckdb_only
def test_time_column_names_the_period_column(sandbox, warehouse, run, monkeypatch):
    """The API answers with the period under another name; `time_column` reads it, exactly."""
    sandbox.by_name["whop"].settings["time_column"] = "bucket"
    query = {**METRIC_QUERIES[1], "time_column": "bucket"}
    setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=[query])
    result = run("whop", warehouse)
    assert result.ok, result.message
    assert loaded_metric(warehouse, "users_weekly") == expected_metric(sandbox.by_name["whop"], query)


def test_a_time_column_missing_from_the_answer_fails_naming_the_setting(sandbox, run, monkeypatch):
    query = {**METRIC_QUERIES[1], "time_column": "bucket"}  # the API answers with `period`
    setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=[query])
    result = run("whop")
    assert result.exit_code == 3, result.message
    assert "no column 'bucket'" in result.message and "time_column in metric query 'users_weekly'" in result.message


def test_account_id_global_scopes_wallet_queries_only(sandbox, run, monkeypatch):
    setup_whop(monkeypatch, sandbox, wallet_queries=[REFUNDS], metric_queries=[METRIC_QUERIES[1]])
    configure(monkeypatch, "whop", account_id="global")
    result = run("whop")
    assert result.ok, result.message
    assert {r.arg("account_id") for r in sandbox.seen(WALLET)} == {"global"}
    metric = sandbox.seen(METRIC)
    assert metric and all(r.arg("company_id") is None and r.arg("account_id") is None for r in metric)
