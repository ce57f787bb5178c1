"""The dbt project in `transform/`, run as users run it (`python -m metricsync transform`, and
`run ... --transform`) on warehouses loaded from the sandbox: `metrics.fct_metric_values` must
equal the sandbox's own truth after two runs with an upstream revision in between, and a broken
row must fail a dbt test and the command, naming the test."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from metricsync.sandbox.data import utc_now
from support import configure, period_floor
from support.transform import MRR, START, STRIPE_QUERIES, TODAY, cli, configure_all
from support.warehouses import duckdb_query


def mart(warehouse, provider: str, series: str, metric: str) -> dict:
    rows = warehouse.query(
        "select period_start, dimension_value, value, currency from metrics.fct_metric_values "
        f"where provider = '{provider}' and series = '{series}' and metric = '{metric}'"
    )
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def stripe_truth(box, query: dict, first_day: dt.date) -> dict:
    """{(day the bucket starts in the query's zone, group value): (value in major units, currency)},
    up to the end of the machine's today in the query's zone (the loader's horizon)."""
    zone = ZoneInfo(query.get("timezone") or "UTC")
    horizon = min(utc_now(), dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(), zone))
    exponent = {"usd": 2, "jpy": 0}
    truth = {}
    for row in box.by_name["stripe_analytics"].expected(query, first_day, horizon):
        day = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).astimezone(zone).date()
        group = next(iter((row["dimensions"] or {"": ""}).values()))
        result = row["results"][0]
        currency = result["currency"]
        value = Decimal(result["value"]).scaleb(-exponent[currency]) if currency else Decimal(result["value"])
        truth[(day, group)] = (value, currency)
    return truth


def transform_on(warehouse, tmp_path, capsys) -> tuple[int, str, str]:
    """`metricsync transform --destination <warehouse>`: (exit code, stdout, stderr). On Postgres in
    this process (dbt's adapter holds nothing after it); on DuckDB a child process, as the adapter
    would keep the file open in this process, which the test then reads read-only."""
    if warehouse.name != "postgres":
        done = cli("transform", "--destination", warehouse.name, tmp_path=tmp_path)
        return done.returncode, done.stdout, done.stderr
    from metricsync.cli import main

    code = main(["transform", "--destination", warehouse.name])
    out, err = capsys.readouterr()
    return code, out, err


def test_fct_metric_values_equals_sandbox_truth_after_a_revision(
    sandbox, warehouse, run, monkeypatch, tmp_path, capsys
):
    configure_all(monkeypatch, sandbox)
    for provider in ("whop", "stripe_analytics", "posthog", "statsig"):
        assert run(provider, warehouse).ok
    sandbox.revise(3)
    for provider in ("whop", "stripe_analytics", "posthog", "statsig"):
        result = run(provider, warehouse)
        assert result.ok, result.message

    # the loader leaves its merge staging empty, and every Arrow row names its load
    for table in (
        "whop_staging.wallet_time_series",
        "stripe_analytics_staging.metric_results",
        "statsig_staging.metric_values",
    ):
        assert warehouse.query(f"select count(*) from {table}") == [(0,)], table
    assert warehouse.query("select count(*) from stripe_analytics.metric_results where _dlt_load_id is null") == [(0,)]

    code, out, err = transform_on(warehouse, tmp_path, capsys)
    assert code == 0, err + out
    assert "transform: ok" in out

    # Whop wallet: amount per day and currency, exact
    wallet = sandbox.by_name["whop"].wallet_totals(START, TODAY, "day")
    assert mart(warehouse, "whop", "daily_all", "amount") == {
        (day, currency): (amount, currency) for (day, currency), (amount, _count) in wallet.items()
    }
    assert mart(warehouse, "whop", "daily_all", "line_count") == {
        (day, currency): (Decimal(count), None) for (day, currency), (_amount, count) in wallet.items()
    }

    # Whop metric results: gross revenue per day and country (the breakdown is the dimension)
    gross = sandbox.by_name["whop"].metric_totals(
        "receipts:gross_revenue", "daily", ["country"], START, TODAY + dt.timedelta(days=1)
    )
    assert mart(warehouse, "whop", "gross_by_country", "value") == {
        (day, combo[0]): (value, None) for (day, combo), value in gross.items()
    }

    # Stripe: MRR per day and price in dollars; weekly active subscriptions; Tokyo months in yen
    for query in STRIPE_QUERIES:
        metric = "mrr" if query["metrics"][0]["id"] == MRR else "active_subscriptions"
        loaded = mart(warehouse, "stripe_analytics", query["name"], metric)
        # truth from the start_date's own period (weeks start on Monday), not from where the rows begin
        first = period_floor(START, query["interval"])
        assert loaded == stripe_truth(sandbox, query, first), query["name"]
        assert min(day for day, _group in loaded) == first, query["name"]  # the first bucket is there
    tokyo = mart(warehouse, "stripe_analytics", "mrr_tokyo_monthly", "mrr")
    assert {day.day for day, _group in tokyo} == {1} and START in {day for day, _group in tokyo}
    stamps = warehouse.query(
        "select min(timestamp) from stripe_analytics.metric_results where query_name = 'mrr_tokyo_monthly'"
    )
    assert stamps[0][0].astimezone(dt.timezone.utc).day != 1  # the UTC bucket start is the day before

    # Statsig: value per date, metric and unit type
    statsig = sandbox.by_name["statsig"]
    truth = {
        (day, item["metricName"], item["unitType"]): item["value"]
        for day in (TODAY - dt.timedelta(days=n) for n in range(7))
        for item in statsig.values_for(day)
    }
    rows = warehouse.query(
        "select period_start, series, dimension_value, value from metrics.fct_metric_values "
        "where provider = 'statsig' and metric = 'value' and grain = 'day'"
    )
    assert {(r[0], r[1], r[2]) for r in rows} == set(truth)
    for day, name, unit, value in rows:
        assert float(value) == pytest.approx(truth[(day, name, unit)], rel=1e-12, abs=1e-12)

    # every row knows when its load landed; definitions of all four providers are in the dimension
    assert warehouse.query("select count(*) from metrics.fct_metric_values where loaded_at is null") == [(0,)]
    providers = warehouse.query("select distinct provider from metrics.dim_metric_definitions where is_current")
    assert {r[0] for r in providers} == {"posthog", "statsig", "whop", "stripe_analytics"}

    # the renamed marts' old names are views of them; where an earlier release published one as a
    # table (and no view of a user's reads it), the next publish makes it the view
    warehouse.execute("drop view metrics.mrr_monthly")
    warehouse.execute("create table metrics.mrr_monthly as select * from metrics.fct_mrr_monthly where 1 = 0")
    code, out, err = transform_on(warehouse, tmp_path, capsys)
    assert code == 0, err + out
    old = "('mrr_monthly', 'whop_wallet_net_revenue_monthly', 'metric_series')"
    kinds = warehouse.query(
        f"select table_name, table_type from information_schema.tables where table_schema = 'metrics' and table_name in {old}"
    )
    assert sorted(kinds) == [
        ("metric_series", "VIEW"),
        ("mrr_monthly", "VIEW"),
        ("whop_wallet_net_revenue_monthly", "VIEW"),
    ]
    monthly = sorted(warehouse.query("select * from metrics.fct_mrr_monthly"), key=repr)
    assert monthly and sorted(warehouse.query("select * from metrics.mrr_monthly"), key=repr) == monthly


def test_a_broken_row_fails_a_dbt_test_and_the_command(sandbox, run, monkeypatch, tmp_path, capsys):
    path = str(tmp_path / "broken.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    configure(
        monkeypatch,
        "stripe_analytics",
        api_key=sandbox.by_name["stripe_analytics"].api_key,
        base_url=sandbox.url,
        start_date=(TODAY - dt.timedelta(days=5)).isoformat(),
        queries=STRIPE_QUERIES[:1],
        requests_per_second=100,
    )
    # only one provider loaded; --json: one document on stdout, dbt's verbose log and the human lines on stderr
    loaded = cli("run", "stripe_analytics", "--transform", "--json", "--log-level", "INFO", tmp_path=tmp_path)
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout
    *loads, transformed = json.loads(loaded.stdout)
    assert [(r["step"], r["provider"], r["ok"]) for r in loads] == [("load", "stripe_analytics", True)]
    assert (transformed["step"], transformed["ok"], transformed["exit_code"]) == ("transform", True, 0)
    assert transformed["nodes"] > 0 and "transform: ok" in loaded.stderr

    import duckdb

    # a load brings a currency without an ISO exponent (its units are unknown): a nightly's tests read
    # the new loads' days, so they see it
    with duckdb.connect(path) as conn:
        conn.execute(
            "insert into stripe_analytics.metric_results (query_name, timestamp, metric, name, value, "
            "currency, dimension_name, dimension_value, period, timezone, _dlt_load_id) "
            "select query_name, timestamp, metric, name, value, 'zzz', dimension_name, 'price_broken', "
            "period, timezone, '9999999999.1' from stripe_analytics.metric_results limit 1"
        )
        conn.execute(
            "insert into stripe_analytics._dlt_loads (load_id, schema_name, status, inserted_at, schema_version_hash) "
            "select '9999999999.1', schema_name, status, inserted_at, schema_version_hash "
            "from stripe_analytics._dlt_loads limit 1"
        )
    code, err = transform_here(capsys)  # nothing reads the warehouse after it (see transform_here)
    assert code == 7, err
    failed = [line for line in err.splitlines() if line.startswith("transform: dbt ")]
    assert any("not_null_stg_stripe_analytics__metric_results_currency_exponent" in line for line in failed), failed
    artifacts = tmp_path / "dbt_target" / "run_results.json"  # this run's DBT_TARGET_PATH, where dbt wrote
    assert artifacts.exists() and all(f"- see {artifacts}; fix the data" in line for line in failed), failed


@pytest.mark.parametrize(
    "own_copy, target_path, named",
    [
        pytest.param(True, None, "transform/target/run_results.json", id="default-in-the-own-copy"),
        pytest.param(True, "ci_target", "transform/ci_target/run_results.json", id="relative-to-the-own-copy"),
        pytest.param(False, None, ".metricsync/dbt/target/run_results.json", id="default-packaged"),
        pytest.param(False, "ci_target", ".metricsync/dbt/ci_target/run_results.json", id="relative-packaged"),
        pytest.param(False, "/var/dbt/target", "/var/dbt/target/run_results.json", id="absolute"),
    ],
)
def test_a_failed_node_names_the_run_results_where_dbt_wrote_them(monkeypatch, isolated, own_copy, target_path, named):
    """In the project's own copy (`./transform`) as dbt places them; for the packaged project, in
    `.metricsync/dbt/` here (never in the installed package)."""
    from types import SimpleNamespace

    from metricsync.dbt.invocation import failures

    if own_copy:
        (isolated / "transform").mkdir()
        (isolated / "transform" / "dbt_project.yml").write_text("name: mine\n")
    if target_path is None:
        monkeypatch.delenv("DBT_TARGET_PATH")
    else:
        monkeypatch.setenv("DBT_TARGET_PATH", target_path)
    failed = SimpleNamespace(
        status="fail",
        message="Got 1 result, configured to fail if != 0",
        node=SimpleNamespace(resource_type="test", name="not_null_x"),
    )
    assert failures(SimpleNamespace(results=[failed])) == [
        "transform: dbt test not_null_x fail: Got 1 result, configured to fail if != 0 - "
        f"see {named}; fix the data or the model and run again"
    ]


@pytest.mark.parametrize(
    "destination, credentials, expected",
    [
        pytest.param(
            "duckdb",
            {"database": "/data/metrics.duckdb"},
            {"type": "duckdb", "path": "/data/metrics.duckdb", "schema": "metrics"},
            id="duckdb-file",
        ),
        pytest.param(
            "postgres",
            {
                "host": "db",
                "port": 6543,
                "username": "loader",
                "password": "s3cret",
                "database": "analytics",
                "query": {"sslmode": "require"},
            },
            {
                "type": "postgres",
                "host": "db",
                "port": 6543,
                "user": "loader",
                "dbname": "analytics",
                "sslmode": "require",
                "password": "{{ env_var('METRICSYNC_DBT_PASSWORD', '') }}",
            },
            id="postgres-password-from-env",
        ),
    ],
)
def test_profile_comes_from_the_dlt_credentials_without_secrets(destination, credentials, expected):
    from types import SimpleNamespace

    from metricsync.dbt.profiles import profile

    output = profile(destination, SimpleNamespace(**credentials))["metricsync"]["outputs"][destination]
    assert {k: output[k] for k in expected} == expected
    assert "s3cret" not in repr(output)


def transform_here(capsys, *args: str) -> tuple[int, str]:
    """`metricsync transform ...` in this process (no child process paying dbt's imports): its exit
    code and stderr. On DuckDB, dbt's adapter keeps the file open in this process afterwards, so only
    where nothing reads it in another way later (a read-only connection, a child process)."""
    from metricsync.cli import main

    capsys.readouterr()
    code = main(["transform", *args])
    return code, capsys.readouterr().err


def test_source_freshness_from_dlt_loads(sandbox, run, monkeypatch, tmp_path, capsys):
    """Last loaded 40 h ago: a warning, exit 0; 80 h ago: an error, exit 8 naming the command (one
    load; the second transform of the same warehouse, in this process, reuses dbt's parse)."""
    path = str(tmp_path / "stale.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    configure(
        monkeypatch,
        "stripe_analytics",
        api_key=sandbox.by_name["stripe_analytics"].api_key,
        base_url=sandbox.url,
        start_date=(TODAY - dt.timedelta(days=3)).isoformat(),
        queries=STRIPE_QUERIES[:1],
        requests_per_second=100,
    )
    assert run("stripe_analytics").ok

    import duckdb

    for hours_ago, code, line in [
        (40, 0, "transform: stripe_analytics was last loaded 40 h ago (warn)"),
        (
            80,
            8,
            "transform: stripe_analytics was last loaded 80 h ago (error) - run `metricsync run "
            "stripe_analytics --destination duckdb`",
        ),
    ]:
        with duckdb.connect(path) as conn:  # the configuration dbt's adapter opened it with
            conn.execute(f"update stripe_analytics._dlt_loads set inserted_at = now() - interval '{hours_ago} hours'")
        done, err = transform_here(capsys)
        assert done == code, err
        assert line in err, err


def test_nothing_loaded_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "empty.duckdb"))
    code, err = transform_here(capsys)
    assert code == 2, err
    assert err.strip() == (
        "transform: no provider is loaded in the duckdb warehouse - run `metricsync run all "
        "--destination duckdb` first (or check DESTINATION__DUCKDB__CREDENTIALS)"
    )


def test_a_warehouse_without_a_dbt_adapter_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", "mysql+pymysql://root@127.0.0.1:3306/test")
    code, err = transform_here(capsys, "--destination", "sqlalchemy")
    assert code == 2, err
    assert err.strip() == (
        "transform: the sqlalchemy warehouse (sqlalchemy) has no dbt adapter here - "
        "transform runs on duckdb and postgres; query the loaded tables directly or "
        "install that dbt adapter"
    )


def test_configured_dataset_names_reach_the_dbt_sources(sandbox, monkeypatch, tmp_path, capsys):
    """`run whop --transform` in this process; the warehouse read as dbt's adapter, which keeps it
    open here, opened it (not read-only)."""
    from metricsync.cli import main

    path = tmp_path / "prefixed.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    monkeypatch.setenv("DATASET_PREFIX", "acme_")
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=(TODAY - dt.timedelta(days=5)).isoformat(),
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
    )
    assert main(["run", "whop", "--transform"]) == 0, capsys.readouterr().err
    raw = duckdb_query(path, "select count(*) from acme_whop.wallet_time_series")[0][0]
    mart_rows = duckdb_query(
        path,
        "select count(*) from metrics.fct_metric_values where provider = 'whop' "
        "and series = 'daily_all' and metric = 'amount'",
    )[0][0]
    assert raw > 0 and mart_rows == raw
