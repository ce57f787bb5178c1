"""Sandbox fault modes per provider: real pipeline runs that must end with exactly the emulator's
data, after the faulted requests were retried. Every mode runs for Whop; the other providers share
the same HTTP client and retry code, so they run one mode per kind of fault: a 429 with
`Retry-After` (throttling), a garbage body (a bad answer) and a connection reset (transport).

Each case injects two faults on the provider's data endpoint and asserts: the run succeeds, the
warehouse holds exactly the emulator's values with no duplicate keys, and every faulted request
was followed by a successful retry of the same request (same path, query and body) — for a 429
with `Retry-After: 1`, not sooner than one second later. The full matrix runs on DuckDB; a 503
burst per provider runs on Postgres. Faults that outlast `max_attempts` fail the run with exit
code 5 and commit nothing, and a failed second run leaves the nightly cursor where it was.
"""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Callable, NamedTuple

import pytest
from metricsync.sandbox.server import FAULT_MODES
from metricsync.sandbox.whop import LINE_CATEGORIES
from support import Warehouse, configure, today
from support.posthog import METRIC_FIELDS
from support.statsig import days, expected_values

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
DAYS = 10
FIRST = TODAY - dt.timedelta(days=DAYS)
LOOKBACK = 3
UTC = dt.timezone.utc


# -- per provider: configuration, data endpoint, expected and loaded rows ------------------------
WHOP_QUERIES = [
    {"name": "daily", "group_by": "day"},
    {"name": "daily_usd", "group_by": "day", "convert_currency": "usd"},
]


def setup_whop(monkeypatch, sandbox, **settings):
    configure(
        monkeypatch,
        "whop",
        api_key="whop_sandbox_key",
        base_url=f"{sandbox.url}/api/v1",
        start_date=FIRST.isoformat(),
        wallet_queries=WHOP_QUERIES,
        lookback_days=LOOKBACK,
        **settings,
    )


def expected_whop(sandbox):
    emulator, rows = sandbox.by_name["whop"], []
    for query in WHOP_QUERIES:
        lines, convert = sorted(LINE_CATEGORIES), query.get("convert_currency")
        totals = emulator.wallet_totals(FIRST, TODAY, "day", lines, None, convert)
        rows += [(query["name"], period, cur, amount, count) for (period, cur), (amount, count) in totals.items()]
    return sorted(rows)


def loaded_whop(warehouse):
    rows = warehouse.query("select query_name, period, currency, amount, line_count from whop.wallet_time_series")
    return sorted((q, p, c, Decimal(a), n) for q, p, c, a, n in rows)


MRR = "metric_61Sud3n5oAGVCWiSr5"
STRIPE_QUERIES = [
    {"name": "mrr_by_price", "metrics": [{"id": MRR}], "interval": "day", "currency": "usd", "group_by": ["price"]},
    {"name": "mrr", "metrics": [{"id": MRR}], "interval": "day", "currency": "usd"},
]


def setup_stripe(monkeypatch, sandbox, **settings):
    configure(
        monkeypatch,
        "stripe_analytics",
        api_key="sk_test_sandbox_stripe",
        base_url=sandbox.url,
        queries=STRIPE_QUERIES,
        requests_per_second=1000,
        start_date=FIRST.isoformat(),
        lookback_days=LOOKBACK,
        **settings,
    )


def expected_stripe(sandbox):
    rows = []
    for query in STRIPE_QUERIES:
        for item in sandbox.by_name["stripe_analytics"].expected(query, FIRST):
            dimensions = item["dimensions"] or {}
            for result in item["results"]:
                rows.append(
                    (
                        query["name"],
                        dt.datetime.fromisoformat(item["timestamp"]),
                        result["metric"],
                        ",".join(dimensions),
                        ",".join(dimensions.values()),
                        result["value"],
                        result["currency"],
                    )
                )
    return sorted(rows)


def loaded_stripe(warehouse):
    rows = warehouse.query(
        'select query_name, "timestamp", metric, dimension_name, dimension_value, value, currency '
        "from stripe_analytics.metric_results"
    )
    return sorted((q, ts.astimezone(UTC), *rest) for q, ts, *rest in rows)


def setup_posthog(monkeypatch, sandbox, **settings):
    configure(
        monkeypatch,
        "posthog",
        **{
            "api_key": "phx_sandbox_posthog",
            "base_url": sandbox.url,
            "project_id": "1,2",
            "page_size": 3,
            "max_concurrency": 2,
            "max_retry_wait": 30,
            **settings,
        },
    )


def expected_posthog(sandbox):
    emulator = sandbox.by_name["posthog"]
    rows = [
        {"project_id": p, "group_type_index": t["group_type_index"], **m}
        for p in (1, 2)
        for t in emulator.group_types(str(p))
        for m in emulator.metrics(str(p), t["group_type_index"])
    ]
    types = [(p, t["group_type_index"], t["group_type"]) for p in (1, 2) for t in emulator.group_types(str(p))]
    return sorted(json.dumps(r, sort_keys=True) for r in rows), sorted(types)


def loaded_posthog(warehouse):
    columns = ", ".join(f'"{f}"' for f in METRIC_FIELDS)
    rows = []
    for row in warehouse.query(f"select {columns} from posthog.group_type_metrics where _dlt_valid_to is null"):
        item = dict(zip(METRIC_FIELDS, row))
        if isinstance(item["filters"], str):
            item["filters"] = json.loads(item["filters"])
        rows.append(json.dumps(item, sort_keys=True))
    types = warehouse.query(
        "select project_id, group_type_index, group_type from posthog.group_types where _dlt_valid_to is null"
    )
    return sorted(rows), sorted(types)


def setup_statsig(monkeypatch, sandbox, **settings):
    configure(
        monkeypatch,
        "statsig",
        api_key="console-sandbox-statsig",
        base_url=sandbox.url,
        start_date=FIRST.isoformat(),
        lookback_days=LOOKBACK,
        **settings,
    )


STATSIG_COLUMNS = ("date", "metric_name", "metric_type", "unit_type", "value", "numerator", "denominator")


def expected_statsig(sandbox):
    statsig = sandbox.by_name["statsig"]
    return expected_values(statsig, days(FIRST, FIRST + dt.timedelta(days=DAYS))), len(statsig.metrics())


def loaded_statsig(warehouse):
    values = sorted(warehouse.query(f"select {', '.join(STATSIG_COLUMNS)} from statsig.metric_values"))
    metrics = warehouse.query("select count(*) from statsig.metrics where _dlt_valid_to is null")[0][0]
    return values, metrics


class Provider(NamedTuple):
    name: str
    setup: Callable
    path: str  # the data endpoint faults are injected on
    expected: Callable
    loaded: Callable
    table: str  # the table that endpoint fills
    keys: str  # its key columns: no duplicates allowed
    starts: Callable  # the first day a data request asks for


def _stripe_start(request):
    return dt.datetime.fromisoformat(request.json()["starts_at"]).date()


PROVIDERS = {
    "whop": Provider(
        "whop",
        setup_whop,
        "/api/v1/stats/time_series",
        expected_whop,
        loaded_whop,
        "whop.wallet_time_series",
        "query_name, period, currency",
        lambda r: dt.date.fromisoformat(r.arg("from")),
    ),
    "stripe_analytics": Provider(
        "stripe_analytics",
        setup_stripe,
        "/v2/data/analytics/metric_query",
        expected_stripe,
        loaded_stripe,
        "stripe_analytics.metric_results",
        '"timestamp", query_name, metric, dimension_value',
        _stripe_start,
    ),
    "posthog": Provider(
        "posthog",
        setup_posthog,
        "/api/projects/",
        expected_posthog,
        loaded_posthog,
        "posthog.group_type_metrics",
        "project_id, group_type_index, id, _dlt_valid_to",
        None,
    ),
    "statsig": Provider(
        "statsig",
        setup_statsig,
        "/console/v1/metrics/values",
        expected_statsig,
        loaded_statsig,
        "statsig.metric_values",
        "date, metric_name, metric_type, unit_type",
        lambda r: dt.date.fromisoformat(r.arg("date")),
    ),
}


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def duck(tmp_path: Path, monkeypatch) -> Warehouse:
    """A DuckDB file for this test (the matrix runs on DuckDB only)."""
    path = str(tmp_path / "faults.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    return Warehouse("duckdb", path)


def row_count(warehouse: Warehouse, table: str) -> int:
    """Rows in `schema.table`; 0 when the table (or the DuckDB file) does not exist."""
    if warehouse.name == "duckdb" and not Path(warehouse.credentials).exists():
        return 0
    schema, name = table.split(".")
    if name not in warehouse.tables(schema):
        return 0
    return warehouse.query(f"select count(*) from {table}")[0][0]


def assert_exact(provider: Provider, warehouse: Warehouse, sandbox) -> None:
    assert provider.loaded(warehouse) == provider.expected(sandbox)
    dupes = warehouse.query(
        f"select {provider.keys}, count(*) from {provider.table} group by {provider.keys} having count(*) > 1"
    )
    assert dupes == []


def same(request):
    return request.method, request.path, json.dumps(request.query, sort_keys=True), request.body


def assert_retried(sandbox, provider: Provider, mode: str, count: int = 2, min_wait: float = 0.0) -> None:
    """`count` requests got the fault; each was repeated later, and the last try of each succeeded."""
    requests = sorted(sandbox.seen(provider.path), key=lambda r: r.started)
    faulted = [r for r in requests if r.fault == mode]
    assert len(faulted) == count, [(r.path, r.fault, r.status) for r in requests]
    assert not [r for r in requests if r.fault not in (None, mode)]
    for bad in faulted:
        later = [r for r in requests if same(r) == same(bad) and r.started > bad.started]
        assert later, f"{mode}: {bad.path} {bad.query} was not retried"
        assert later[0].started - bad.started >= min_wait
        assert later[-1].fault is None and later[-1].status == 200


# -- the matrix ---------------------------------------------------------------------------------
SAMPLED_MODES = ("429", "garbage", "reset")
MATRIX = [
    pytest.param(p, mode, id=f"{p}-{mode}")
    for p in PROVIDERS
    for mode in (FAULT_MODES if p == "whop" else SAMPLED_MODES)
]


@pytest.mark.parametrize("name, mode", MATRIX)
def test_fault_is_retried_to_exact_data(sandbox, run, duck, monkeypatch, name, mode):
    provider = PROVIDERS[name]
    provider.setup(monkeypatch, sandbox, timeout=0.5, max_attempts=4)
    sandbox.add_fault(mode, count=2, path=provider.path, retry_after=1, delay=1.0)

    result = run(name, duck)

    assert result.ok, result.message
    assert_exact(provider, duck, sandbox)
    assert_retried(sandbox, provider, mode, min_wait=1.0 if mode == "429" else 0.0)


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
@pytest.mark.parametrize("name", list(PROVIDERS))
def test_503_burst_on_postgres(sandbox, run, warehouse, monkeypatch, name):
    provider = PROVIDERS[name]
    provider.setup(monkeypatch, sandbox, max_attempts=4)
    sandbox.add_fault("503", count=3, path=provider.path)

    result = run(name, warehouse)

    assert result.ok, result.message
    assert_exact(provider, warehouse, sandbox)
    assert_retried(sandbox, provider, "503", count=3)


# -- retries exhausted ---------------------------------------------------------------------------
def fail_once(run, sandbox, duck, provider: Provider, monkeypatch) -> None:
    """One request at a time, so three 503s hit the same request: two attempts, both 503, exit 5."""
    configure(monkeypatch, provider.name, max_attempts=2, max_concurrency=1)
    sandbox.add_fault("503", count=3, path=provider.path)
    sandbox.clear_log()
    result = run(provider.name, duck)
    assert result.exit_code == 5, result.message
    assert result.message.startswith(f"{provider.name}: ") and "\n" not in result.message
    assert "gave up after 2 attempts" in result.message and "HTTP 503" in result.message
    faulted = [r for r in sandbox.seen(provider.path) if r.fault == "503"]
    assert len(faulted) == 2 and same(faulted[0]) == same(faulted[1])
    sandbox.faults.clear()  # the third fault is never reached
    configure(monkeypatch, provider.name, max_attempts=None, max_concurrency=None)


@pytest.mark.parametrize("name", [p for p in PROVIDERS if PROVIDERS[p].starts])
def test_exhausted_retries_commit_nothing_and_keep_the_cursor(sandbox, run, duck, monkeypatch, name):
    provider = PROVIDERS[name]
    provider.setup(monkeypatch, sandbox)
    fail_once(run, sandbox, duck, provider, monkeypatch)
    assert row_count(duck, provider.table) == 0  # a failed first run commits nothing

    assert run(name, duck).ok
    assert_exact(provider, duck, sandbox)
    before = provider.loaded(duck)

    sandbox.revise(2)
    fail_once(run, sandbox, duck, provider, monkeypatch)
    assert provider.loaded(duck) == before  # nothing of the failed second run landed

    sandbox.clear_log()
    result = run(name, duck)
    assert result.ok, result.message
    assert_exact(provider, duck, sandbox)
    # the cursor is still the first run's: the clean run starts at its end minus the lookback
    starts = {provider.starts(r) for r in sandbox.seen(provider.path)}
    assert min(starts) == TODAY - dt.timedelta(days=LOOKBACK)


def test_posthog_exhausted_retries_commit_nothing_and_keep_definitions(sandbox, run, duck, monkeypatch):
    provider = PROVIDERS["posthog"]
    provider.setup(monkeypatch, sandbox)
    fail_once(run, sandbox, duck, provider, monkeypatch)
    assert row_count(duck, "posthog.group_types") == row_count(duck, provider.table) == 0

    assert run("posthog", duck).ok
    assert_exact(provider, duck, sandbox)
    before = provider.loaded(duck)
    emulator = sandbox.by_name["posthog"]
    renamed = emulator.metric("1", 0, 2)["id"]
    emulator.settings.update(renamed={renamed: "Weekly active users"})

    fail_once(run, sandbox, duck, provider, monkeypatch)
    assert provider.loaded(duck) == before  # no definition was closed or versioned

    result = run("posthog", duck)
    assert result.ok, result.message
    assert_exact(provider, duck, sandbox)
    names = duck.query(f"select name from posthog.group_type_metrics where id = '{renamed}' order by _dlt_valid_from")
    assert names == [("Active users",), ("Weekly active users",)]
