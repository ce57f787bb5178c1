"""Statsig: real pipeline runs against the sandbox into DuckDB and Postgres."""

import datetime as dt
import json

import httpx
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from support import configure, duckdb_only
from support.statsig import TODAY, VALUES, days, expected_values, setup, warehouse_values

snake = NamingConvention().normalize_identifier


@pytest.fixture
def statsig(sandbox):
    return sandbox.by_name["statsig"]


def asked_dates(sandbox) -> list[str]:
    return sorted({r.arg("date") for r in sandbox.seen(VALUES)})


def columns(warehouse, table: str) -> list[str]:
    rows = warehouse.query(
        "select column_name from information_schema.columns where table_schema = 'statsig' "
        f"and table_name = '{table}' order by ordinal_position"
    )
    return [r[0] for r in rows]


def definitions(warehouse, table: str, where: str = "_dlt_valid_to is null") -> list[dict]:
    names = columns(warehouse, table)
    rows = warehouse.query(f"select {', '.join(names)} from statsig.{table} where {where}")
    return [{k: v for k, v in zip(names, row) if not k.startswith("_dlt") and v is not None} for row in rows]


def as_loaded(item: dict) -> dict:
    return {snake(k): v for k, v in item.items() if v is not None}


def assert_current(warehouse, table: str, api_items: list[dict], key: str) -> None:
    """The current rows are exactly the API's objects (nested ones as JSON)."""
    current = {row[key]: row for row in definitions(warehouse, table)}
    expected = {item[key]: as_loaded(item) for item in api_items}
    assert sorted(current) == sorted(expected)
    for name, item in expected.items():
        row = current[name]
        assert set(row) == set(item), name
        for column, value in item.items():
            got = row[column]
            if isinstance(value, (dict, list)) and isinstance(got, str):
                got = json.loads(got)
            assert got == value, (table, name, column)


def metric_rows(statsig) -> list[dict]:
    return [
        {**m, "metric_source_name": m["warehouseNative"]["metricSourceName"]}
        for m in statsig.metrics()
        if "warehouseNative" in m
    ]


def assert_definitions(warehouse, statsig) -> None:
    assert_current(warehouse, "metric_sources", statsig.metric_sources(), "name")
    assert_current(warehouse, "metric_source_metrics", metric_rows(statsig), "id")
    assert_current(warehouse, "metrics", statsig.metrics(), "id")


def test_first_run_loads_definitions_and_values_exactly(monkeypatch, sandbox, statsig, warehouse, run):
    first = setup(monkeypatch, sandbox, 60, windows_per_load=25)
    statsig.settings.update(missing_unit_type=True, max_page_size=5)

    result = run("statsig", warehouse)

    assert result.ok, result.message
    assert result.loads == 3  # 61 dates in loads of 25
    assert_definitions(warehouse, statsig)
    assert warehouse_values(warehouse) == expected_values(statsig, days(first))
    assert ("",) in warehouse.query("select unit_type from statsig.metric_values where metric_name = 'Page Loads'")
    asked = sorted(r.arg("date") for r in sandbox.seen(VALUES) if r.arg("page") == "1")
    assert asked == [d.isoformat() for d in days(first)]
    pages = [r.arg("page") for r in sandbox.seen(VALUES) if r.arg("date") == TODAY.isoformat()]
    assert pages == ["1", "2", "3"]  # 13 rows, 5 a page, following the nextPage paths
    assert all(r.header("statsig-api-key") == "console-sandbox-statsig" for r in sandbox.seen("/console/"))
    assert {r.header("statsig-api-version") for r in sandbox.seen("/console/")} == {"20240601"}
    assert {int(r.arg("limit")) for r in sandbox.seen("/console/") if r.arg("page") == "1"} == {100}


def test_rename_delete_and_restatement_between_runs(monkeypatch, sandbox, statsig, warehouse, run):
    first = setup(monkeypatch, sandbox, 40)
    assert run("statsig", warehouse).ok
    old_count = len(statsig.metrics())
    statsig.settings.update(
        renamed={"MRR::sum": "Monthly Recurring Revenue"}, deleted=["Failed Checkouts::count", "page_views"]
    )
    sandbox.revise(3)
    sandbox.clear_log()

    result = run("statsig", warehouse)

    assert result.ok, result.message
    assert asked_dates(sandbox) == [d.isoformat() for d in days(TODAY - dt.timedelta(days=3))]
    assert_definitions(warehouse, statsig)
    for table in ("metrics", "metric_source_metrics"):
        versions = warehouse.query(f"select name, _dlt_valid_to is null from statsig.{table} where id = 'MRR::sum'")
        assert sorted(versions) == [("MRR", False), ("Monthly Recurring Revenue", True)]
        deleted = warehouse.query(
            f"select count(*) from statsig.{table} where id = 'Failed Checkouts::count' and _dlt_valid_to is not null"
        )
        assert deleted == [(1,)]
        per_id = warehouse.query(
            f"select id, count(*) from statsig.{table} where _dlt_valid_to is null group by id having count(*) > 1"
        )
        assert per_id == []
    assert len(statsig.metrics()) == old_count - 3
    retired = warehouse.query("select _dlt_valid_to is null from statsig.metric_sources where name = 'page_views'")
    assert retired == [(False,)]
    assert warehouse_values(warehouse) == expected_values(statsig, days(first))
    duplicates = warehouse.query(
        "select date, metric_name, metric_type, unit_type from statsig.metric_values "
        "group by 1, 2, 3, 4 having count(*) > 1"
    )
    assert duplicates == []
    restated = warehouse.query(
        "select count(*) from statsig.metric_values where metric_name = 'Failed Checkouts' "
        f"and date >= '{TODAY - dt.timedelta(days=2)}'"
    )
    assert restated == [(0,)]


def test_new_field_becomes_a_column(monkeypatch, sandbox, statsig, warehouse, run):
    first = setup(monkeypatch, sandbox, 10)
    assert run("statsig", warehouse).ok
    statsig.settings["extra_field"] = "experimentalScore"
    sandbox.revise(2)

    assert run("statsig", warehouse).ok

    assert_definitions(warehouse, statsig)
    assert warehouse_values(warehouse) == expected_values(statsig, days(first))
    scores = warehouse.query(
        "select date, metric_name, unit_type, experimental_score from statsig.metric_values "
        "where experimental_score is not null"
    )
    expected = [
        (day, v["metricName"], v["unitType"], v["experimentalScore"])
        for day in days(TODAY - dt.timedelta(days=3))
        for v in statsig.values_for(day)
    ]
    assert sorted(scores) == sorted(expected)


@duckdb_only
@pytest.mark.parametrize(
    "style, base_suffix",
    [  # links as paths: the first test
        pytest.param("url", "/console/v1", id="next-page-url-and-base-url-with-prefix"),
        pytest.param("number", "", id="next-page-number"),
    ],
)
def test_pagination_over_several_pages(monkeypatch, sandbox, statsig, warehouse, run, style, base_suffix):
    first = setup(monkeypatch, sandbox, 4, page_size=4)
    configure(monkeypatch, "statsig", base_url=sandbox.url + base_suffix)
    statsig.settings.update(next_page_style=style, max_page_size=3)

    assert run("statsig", warehouse).ok

    assert_definitions(warehouse, statsig)
    assert warehouse_values(warehouse) == expected_values(statsig, days(first))
    pages = [int(r.arg("page")) for r in sandbox.seen(VALUES) if r.arg("date") == TODAY.isoformat()]
    assert sorted(pages) == list(range(1, 6))  # 13 rows, 3 a page
    assert max(int(r.arg("page")) for r in sandbox.seen("/console/v1/metrics/list")) == 3  # 9 metrics


def test_backfill_does_not_move_the_nightly_cursor(monkeypatch, sandbox, statsig, warehouse, run):
    first = setup(monkeypatch, sandbox, 10)
    assert run("statsig", warehouse).ok
    old = (TODAY - dt.timedelta(days=60), TODAY - dt.timedelta(days=55))
    sandbox.clear_log()

    assert run("statsig", warehouse, backfill=old).ok
    assert asked_dates(sandbox) == [d.isoformat() for d in days(*old)]
    sandbox.clear_log()
    assert run("statsig", warehouse).ok

    assert asked_dates(sandbox) == [d.isoformat() for d in days(TODAY - dt.timedelta(days=3))]
    assert warehouse_values(warehouse) == expected_values(statsig, days(*old) + days(first))


def test_concurrency_stays_within_the_limit(monkeypatch, sandbox, statsig, run):
    setup(monkeypatch, sandbox, 12, max_concurrency=2, max_attempts=1)
    sandbox.latency, sandbox.max_in_flight = 0.02, 2

    result = run("statsig")

    assert result.ok, result.message
    assert not [r for r in sandbox.seen("/console/") if r.fault]
    assert sandbox.peak_in_flight == 2  # the cap was reached, not just kept


@pytest.mark.parametrize(
    "settings, emulator, code, expected",
    [
        pytest.param(
            {"api_key": "console-wrong-secret-4242"},
            {},
            4,
            ["statsig", "HTTP 401", "API key was rejected"],
            id="invalid-key",
        ),
        pytest.param(
            {"api_key": "console-no-permission"},
            {},
            4,
            ["HTTP 403", "Console API key with read access"],
            id="no-permission",
        ),
        pytest.param(
            {},
            {"ghost_sources": ["retired_source"]},
            3,
            ["HTTP 404", "metric source 'retired_source' not found"],
            id="metric-source-404",
        ),
        pytest.param(
            {"page_size": 500}, {}, 2, ["statsig: page_size '500' is out of range", "1 to 100"], id="page-size-over-100"
        ),
        pytest.param({"start_date": None}, {}, 2, ["statsig: start_date is not set"], id="no-start-date"),
        pytest.param({"api_key": None}, {}, 2, ["statsig", "API_KEY"], id="no-key"),
    ],
)
def test_errors_are_one_line_without_the_key(monkeypatch, sandbox, statsig, run, settings, emulator, code, expected):
    setup(monkeypatch, sandbox, 3)
    configure(monkeypatch, "statsig", **settings)
    statsig.settings.update(emulator)

    result = run("statsig")

    assert result.exit_code == code, result.message
    assert "\n" not in result.message
    for text in expected:
        assert text in result.message
    assert "secret-4242" not in result.message and "console-sandbox-statsig" not in result.message


def test_custom_api_version_header(monkeypatch, sandbox, run):
    setup(monkeypatch, sandbox, 1, api_version="20250101")
    assert run("statsig").ok
    assert {r.header("statsig-api-version") for r in sandbox.seen("/console/")} == {"20250101"}


@pytest.mark.parametrize(
    "query, status",
    [
        pytest.param("date=2024-02-04&limit=101", 400, id="limit-over-100"),
        pytest.param("date=2024-02-30", 400, id="bad-date"),
        pytest.param(f"date={TODAY + dt.timedelta(days=1)}", 200, id="future-date-is-empty"),
    ],
)
def test_emulator_rejects_bad_values_requests(sandbox, query, status):
    response = httpx.get(f"{sandbox.url}{VALUES}?{query}", headers={"STATSIG-API-KEY": "console-sandbox-statsig"})
    assert response.status_code == status
    if status == 200:
        assert response.json()["data"] == [] and response.json()["pagination"]["nextPage"] is None
