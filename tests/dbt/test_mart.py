"""The mart end to end, on DuckDB and Postgres: two accounts each of Whop, Stripe and Statsig loaded
from the sandbox (each account has its own numbers there), an upstream rename, delete and revision,
a second load, then ONE `transform` per warehouse shared by the module. The mart must equal each
account's own sandbox truth; Stripe money must match literal amounts (JPY, ISK, KWD, USD, MGA);
`fct_mrr_monthly` must take the month-end value of a complete period; two Statsig metric types of one
name, huge and tiny Statsig values and NULL breakdowns must survive; every definition has one
current row; and a build that fails a test publishes nothing (the last test: it breaks the data).
"""

import datetime as dt
import json
import os
import sys
from decimal import Decimal

import pytest
from metricsync.sandbox.data import utc_now
from support import _warehouse, today
from support.processes import run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = (TODAY.replace(day=1) - dt.timedelta(days=40)).replace(day=1)  # first of the month before last
SHORT = TODAY - dt.timedelta(days=6)
MRR, SUBSCRIPTIONS = "metric_61Sud3n5oAGVCWiSr5", "metric_61SubCnt7QwErTyUi9"
LITERALS = {
    "jpy": (100, Decimal("100")),
    "isk": (99013, Decimal("990.13")),
    "kwd": (1000, Decimal("1.000")),
    "usd": (12345, Decimal("123.45")),
    "mga": (4321, Decimal("4321")),
}
STRIPE_QUERIES = [
    {"name": "mrr_daily", "metrics": [{"id": MRR}], "interval": "day", "currency": "eur", "group_by": ["price"]},
    {"name": "mrr_weekly", "metrics": [{"id": MRR}], "interval": "week", "currency": "eur"},
    {"name": "mrr_monthly_q", "metrics": [{"id": MRR}], "interval": "month", "currency": "eur"},
    {"name": "subscriptions_daily", "metrics": [{"id": SUBSCRIPTIONS}], "interval": "day"},
    *({"name": f"literal_{c}", "metrics": [{"id": MRR}], "interval": "day", "currency": c} for c in LITERALS),
]
ACCOUNTS = {
    "whop": [{"name": "north", "account_id": "biz_north"}, {"name": "east", "company_id": "biz_east"}],
    "stripe_analytics": [{"name": "a", "stripe_account": "acct_a"}, {"name": "b", "stripe_account": "acct_b"}],
    "statsig": [{"name": "a"}, {"name": "b", "api_key": "console-sandbox-statsig-2"}],
}
HUGE, TINY = 1e21, 1.234567890123456e-10


def _configure(mp, box) -> None:
    from support import configure

    configure(
        mp,
        "whop",
        api_key=box.by_name["whop"].api_key,
        base_url=f"{box.url}/api/v1",
        start_date=SHORT.isoformat(),
        accounts=ACCOUNTS["whop"],
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
        metric_queries=[
            {
                "name": "gross_by_country_plan",
                "resource": "receipts:gross_revenue",
                "granularity": "daily",
                "breakdowns": ["country", "plan"],
            },
            {"name": "users_weekly", "resource": "members:new_users", "granularity": "weekly"},
        ],
    )
    configure(
        mp,
        "stripe_analytics",
        api_key=box.by_name["stripe_analytics"].api_key,
        base_url=box.url,
        start_date=START.isoformat(),
        queries=STRIPE_QUERIES,
        requests_per_second=100,
        accounts=ACCOUNTS["stripe_analytics"],
    )
    configure(
        mp,
        "statsig",
        api_key=box.by_name["statsig"].api_key,
        base_url=box.url,
        start_date=SHORT.isoformat(),
        accounts=ACCOUNTS["statsig"],
    )


def _run_all(kind: str, pipelines_dir: str) -> None:
    from metricsync.cli import main

    for provider in ACCOUNTS:
        assert main(["run", provider, "--destination", kind, "--pipelines-dir", pipelines_dir]) == 0, provider


def transform(warehouse, workdir, capsys=None) -> tuple[int, str, str]:
    """`metricsync transform` in `workdir`, dbt's target there: (exit code, stdout, stderr). DuckDB:
    a child process (dbt's adapter would keep the file open in this process, which the module's tests
    then read read-only); Postgres: in this process (nothing held after it), its lines from `capsys`
    when given (else in the set-up's captured output)."""
    env = {
        "DBT_TARGET_PATH": str(workdir / "dbt_target"),
        "DBT_LOG_PATH": str(workdir / "dbt_logs"),
        f"DESTINATION__{warehouse.name.upper()}__CREDENTIALS": warehouse.credentials,
    }
    argv = ["transform", "--destination", warehouse.name]
    if warehouse.name != "postgres":
        done = run_command(
            [sys.executable, "-m", "metricsync", *argv],
            cwd=workdir,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=900,
        )
        return done.returncode, done.stdout, done.stderr
    from metricsync.cli import main

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(workdir)
        code = main(argv)
    out, err = capsys.readouterr() if capsys else ("", "")
    return code, out, err


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request, sandbox_server, tmp_path_factory):
    """(warehouse, sandbox, workdir): both loads and one transform, shared by the module's tests."""
    workdir = tmp_path_factory.mktemp(f"mart_{request.param}")
    box = sandbox_server
    box.reset()
    box.latency, box.max_in_flight, box.clock = 0.0, None, utc_now
    box.by_name["whop"].settings.update(breakdown_values={"country": ["DE", None], "plan": ["DE", None]})
    box.by_name["stripe_analytics"].settings.update(fixed_values={c: minor for c, (minor, _) in LITERALS.items()})
    box.by_name["statsig"].settings.update(
        extra_metrics=[["subscriptions", "MRR", "mean", ["accountID"], "mean", "mrr"]],
        fixed_values={"Time On Page::mean": HUGE, "Page Views::count": TINY},
    )
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("SOURCES__", "DESTINATION__"))]:
            mp.delenv(name)
        mp.chdir(workdir)
        mp.setenv("DLT_DATA_DIR", str(workdir / "dlt_data"))
        mp.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        for warehouse in _warehouse(request.param, workdir, mp):
            _configure(mp, box)
            _run_all(warehouse.name, str(workdir / "pipelines"))
            # upstream: a Stripe metric renamed, a Whop grouping and a Statsig metric deleted, days restated
            box.by_name["stripe_analytics"].settings.update(result_names={SUBSCRIPTIONS: "subscriptions_active"})
            box.by_name["whop"].settings.update(deleted=["disputes"])
            box.by_name["statsig"].settings.update(deleted=["Failed Checkouts::count"])
            box.revise(2)
            _run_all(warehouse.name, str(workdir / "pipelines"))
            code, out, err = transform(warehouse, workdir)
            assert code == 0, err + out
            yield warehouse, box, workdir
            box.reset()


def fct(warehouse, where: str) -> list[tuple]:
    return warehouse.query(f"select * from metrics.fct_metric_values where {where}")


def rows_of(warehouse, columns: str, where: str) -> list[tuple]:
    return warehouse.query(f"select {columns} from metrics.fct_metric_values where {where}")


def stripe_truth(box, query: dict, account: str) -> dict:
    """{(period start, group): value in major units} of `account` (EUR: 2 decimals; counts as is),
    from the start of the period holding START (the loader asks for whole periods)."""
    horizon = utc_now()
    first = START - dt.timedelta(days=START.weekday()) if query["interval"] == "week" else START
    truth = {}
    for row in box.by_name["stripe_analytics"].expected(query, first, horizon, account):
        day = dt.date.fromisoformat(row["timestamp"][:10])
        result = row["results"][0]
        value = Decimal(result["value"]).scaleb(-2) if result["currency"] else Decimal(result["value"])
        truth[(day, next(iter((row["dimensions"] or {"": ""}).values())))] = value
    return truth


@pytest.mark.parametrize("provider", list(ACCOUNTS))
def test_each_accounts_mart_rows_equal_that_accounts_sandbox_truth(built, provider):
    warehouse, box, _ = built
    truths = {}
    for entry in ACCOUNTS[provider]:
        name = entry["name"]
        if provider == "whop":
            biz = entry.get("account_id") or entry.get("company_id")
            wallet = box.by_name["whop"].wallet_totals(SHORT, TODAY, "day", account=biz)
            truth = {
                ("daily_all", "amount", day, "currency", cur): amount for (day, cur), (amount, _n) in wallet.items()
            }
            gross = box.by_name["whop"].metric_totals(
                "receipts:gross_revenue", "daily", ["country", "plan"], SHORT, TODAY + dt.timedelta(days=1), account=biz
            )
            truth.update(
                {
                    ("gross_by_country_plan", "value", day, "country,plan", ",".join(v or "" for v in combo)): value
                    for (day, combo), value in gross.items()
                }
            )
            loaded = rows_of(
                warehouse,
                "series, metric, period_start, dimension_name, dimension_value, value",
                f"provider = 'whop' and account = '{name}' and metric in ('amount', 'value') "
                "and series in ('daily_all', 'gross_by_country_plan')",
            )
        elif provider == "stripe_analytics":
            truth = {}
            for query in STRIPE_QUERIES[:3]:
                truth.update(
                    {
                        (query["name"], day, group): v
                        for (day, group), v in stripe_truth(box, query, entry["stripe_account"]).items()
                    }
                )
            loaded = rows_of(
                warehouse,
                "series, period_start, dimension_value, value",
                f"provider = 'stripe_analytics' and account = '{name}' and series like 'mrr_%'",
            )
        else:
            days = [SHORT + dt.timedelta(days=n) for n in range((TODAY - SHORT).days + 1)]
            truth = {
                (day, f"{v['metricName']}::{v['metricType']}", v["unitType"]): v["value"]
                for day in days
                for v in box.by_name["statsig"].values_for(day, entry.get("api_key"))
            }
            loaded = rows_of(
                warehouse,
                "period_start, metric_id, dimension_value, value_double",
                f"provider = 'statsig' and account = '{name}'",
            )
        loaded = {tuple(r[:-1]): r[-1] for r in loaded}
        assert loaded == truth and truth, (provider, name)
        truths[name] = truth
    first, second = truths.values()
    assert first != second  # the accounts' data differ, so rows filed under the wrong account would fail


@pytest.mark.parametrize("currency", list(LITERALS))
def test_stripe_money_in_stripes_own_minor_units(built, currency):
    """100 JPY minor = 100 JPY; 99,013 ISK minor = 990.13 ISK (Stripe counts ISK in hundredths);
    1,000 KWD minor = 1.000 KWD; 12,345 USD minor = 123.45 USD; 4,321 MGA minor = 4,321 MGA."""
    warehouse, _, _ = built
    minor, major = LITERALS[currency]
    raw = warehouse.query(
        f"select distinct value from stripe_analytics.metric_results where query_name = 'literal_{currency}'"
    )
    values = rows_of(warehouse, "distinct value", f"series = 'literal_{currency}'")
    assert raw == [(minor,)] and values == [(major,)], (raw, values)


def _expected_monthly(periods: dict) -> dict:
    """{month: (as_of, mrr, is_complete)} by the rule: the complete period covering the month's
    last day, else (incomplete) the latest complete period overlapping the month."""
    months = {start.replace(day=1) for start in periods} | {
        end.replace(day=1) for end, _v in periods.values() if end < TODAY
    }  # a complete period's last month
    expected = {}
    for month in months:
        month_end = _month_end(month)
        done = sorted((s, e, v) for s, (e, v) in periods.items() if e < TODAY and s <= month_end and e >= month)
        start, end, value = done[-1] if done else (None, None, None)
        expected[month] = (start, value, bool(end and end >= month_end))
    return expected


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


@pytest.mark.parametrize("series, days", [("mrr_daily", 1), ("mrr_weekly", 7), ("mrr_monthly_q", None)])
def test_mrr_monthly_takes_the_month_end_of_a_complete_period(built, series, days):
    warehouse, box, _ = built
    query = next(q for q in STRIPE_QUERIES if q["name"] == series)
    for account in ACCOUNTS["stripe_analytics"]:
        totals: dict = {}
        for (start, _group), value in stripe_truth(box, query, account["stripe_account"]).items():
            totals[start] = totals.get(start, Decimal(0)) + value
        periods = {
            start: (start + dt.timedelta(days=days - 1) if days else _month_end(start), value)
            for start, value in totals.items()
        }
        rows = warehouse.query(
            "select month, as_of, mrr, is_complete from metrics.fct_mrr_monthly "
            f"where series = '{series}' and account = '{account['name']}'"
        )
        assert {r[0]: tuple(r[1:]) for r in rows} == _expected_monthly(periods), account["name"]
        last_month = TODAY.replace(day=1) - dt.timedelta(days=1)
        complete = {r[0]: r for r in rows}[last_month.replace(day=1)]
        if series == "mrr_daily":  # last month is over: its MRR is its last day's, summed over prices
            assert complete[1:] == (last_month, totals[last_month], True)
        if series == "mrr_monthly_q":  # a monthly query: the month's own value
            assert complete[1:] == (last_month.replace(day=1), totals[last_month.replace(day=1)], True)
        this_month = {r[0]: r for r in rows}[TODAY.replace(day=1)]
        assert this_month[3] is False  # a month still running is never complete


def test_a_partial_period_is_not_complete(built):
    warehouse, _, _ = built
    rows = rows_of(warehouse, "distinct is_complete", f"series = 'mrr_daily' and period_start = '{TODAY}'")
    assert rows == [(False,)]
    rows = rows_of(
        warehouse, "distinct is_complete", f"series = 'mrr_daily' and period_start = '{TODAY - dt.timedelta(days=2)}'"
    )
    assert rows == [(True,)]


def test_two_statsig_metric_types_of_one_name_and_huge_and_tiny_values(built):
    warehouse, _, _ = built
    ids = rows_of(warehouse, "distinct metric_id", "provider = 'statsig' and series = 'MRR'")
    assert sorted(r[0] for r in ids) == ["MRR::mean", "MRR::sum"]
    huge = rows_of(
        warehouse, "distinct value, value_double", "provider = 'statsig' and metric_id = 'Time On Page::mean'"
    )
    tiny = rows_of(warehouse, "distinct value_double", "provider = 'statsig' and metric_id = 'Page Views::count'")
    assert huge == [(None, HUGE)] and tiny == [(TINY,)]


def test_the_semantic_layer_keeps_two_statsig_metric_types_of_one_name_apart(built):
    """`statsig_value` of MRR (a `sum` and a `mean` of one name): one answer per type and unit, each
    its own day's value, never the two added."""
    warehouse, _, workdir = built
    if warehouse.name != "duckdb":
        pytest.skip("the guard is the metric definitions', the same on every warehouse")
    env = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": warehouse.credentials}  # a process: DuckDB is not held
    done = run_command(
        [
            sys.executable,
            "-m",
            "metricsync",
            "query",
            "statsig_value",
            "--where",
            "series = 'MRR'",
            "--json",
            "--destination",
            "duckdb",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    got = {
        (r["day"], r["statsig_metric_type"], r["dimension_value"]): Decimal(r["statsig_value"])
        for r in json.loads(done.stdout)
    }
    truth: dict = {}  # accounts add up (two Statsig projects' MRR), types and units do not
    for day, metric_id, unit, value in rows_of(
        warehouse,
        "period_start, metric_id, dimension_value, value",
        "provider = 'statsig' and series = 'MRR' and is_complete",
    ):
        key = (day.isoformat(), metric_id.split("::")[1], unit)
        truth[key] = truth.get(key, Decimal(0)) + value
    assert {t for _d, t, _u in got} == {"mean", "sum"} and got == truth


def test_null_breakdowns_stay_apart(built):
    """(DE, null), (null, DE), (null, null) and (DE, DE) are four groups, never merged."""
    warehouse, _, _ = built
    groups = rows_of(warehouse, "distinct dimension_name, dimension_value", "series = 'gross_by_country_plan'")
    assert sorted(groups) == [("country,plan", v) for v in (",", ",DE", "DE,", "DE,DE")]
    # a query without breakdowns in the same raw table has none (not the other query's columns)
    assert rows_of(warehouse, "distinct dimension_name, dimension_value", "series = 'users_weekly'") == [("", "")]


def test_one_current_row_per_definition_after_a_rename_and_a_delete(built):
    warehouse, _, _ = built
    dim = "metrics.dim_metric_definitions"
    counts = warehouse.query(
        f"select provider, kind, account, scope, definition_id, count(*) from {dim} "
        "where is_current group by provider, kind, account, scope, definition_id having count(*) > 1"
    )
    assert counts == []
    renamed = warehouse.query(
        f"select account, name, is_current, valid_to is null from {dim} "
        f"where provider = 'stripe_analytics' and definition_id = '{SUBSCRIPTIONS}'"
    )
    assert sorted(renamed) == [
        (a, n, current, current)
        for a in ("a", "b")
        for n, current in (("active_subscriptions", False), ("subscriptions_active", True))
    ]
    deleted = warehouse.query(
        f"select account, is_current from {dim} where provider = 'whop' "
        "and kind = 'wallet_grouping' and definition_id = 'disputes'"
    )
    assert sorted(deleted) == [("east", False), ("north", False)]
    statsig = warehouse.query(
        f"select account, is_current from {dim} where provider = 'statsig' and kind = 'metric' "
        "and definition_id = 'Failed Checkouts::count'"
    )
    assert sorted(statsig) == [("a", False), ("b", False)]


def test_the_published_mart_keeps_the_contracts_not_null_columns(built):
    warehouse, _, _ = built
    rows = warehouse.query(
        "select column_name, is_nullable from information_schema.columns where table_schema = "
        "'metrics' and table_name = 'fct_metric_values'"
    )
    nullable = {c: n for c, n in rows}
    assert nullable["account"] == nullable["metric_id"] == nullable["is_complete"] == "NO", nullable
    assert nullable["value"] == nullable["currency"] == "YES", nullable


def test_a_failing_build_publishes_nothing_and_the_previous_mart_stays(built, capsys):
    """Runs last: a load brings a broken raw row (a currency Stripe does not have), so a dbt test
    fails (a nightly's tests read the new loads' days: they see it)."""
    warehouse, _, workdir = built
    before = warehouse.query("select count(*), sum(value) from metrics.fct_metric_values")
    monthly = warehouse.query("select count(*) from metrics.fct_mrr_monthly")
    _execute(
        warehouse,
        "insert into stripe_analytics.metric_results (account, query_name, timestamp, metric, name, "
        "value, currency, dimension_name, dimension_value, period, timezone, _dlt_load_id) "
        "select account, query_name, timestamp, metric, name, value, 'zzz', dimension_name, 'broken', "
        "period, timezone, '9999999999.1' from stripe_analytics.metric_results "
        "where query_name = 'mrr_daily' limit 1",
    )
    _execute(
        warehouse,
        "insert into stripe_analytics._dlt_loads (load_id, schema_name, status, inserted_at, schema_version_hash) "
        "select '9999999999.1', schema_name, status, inserted_at, schema_version_hash "
        "from stripe_analytics._dlt_loads limit 1",
    )
    code, out, err = transform(warehouse, workdir, capsys)
    assert code == 7, err + out
    assert "transform: nothing published - metrics keeps the previous mart" in err
    assert warehouse.query("select count(*), sum(value) from metrics.fct_metric_values") == before
    assert warehouse.query("select count(*) from metrics.fct_mrr_monthly") == monthly


def _execute(warehouse, sql: str) -> None:
    if warehouse.name == "duckdb":
        import duckdb

        with duckdb.connect(warehouse.credentials) as conn:
            conn.execute(sql)
        return
    import psycopg2

    conn = psycopg2.connect(warehouse.credentials)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def test_a_dev_target_builds_in_its_own_schemas_and_a_disabled_provider_has_no_sources(tmp_path):
    """`dbt ls --target dev` with only Stripe enabled: the marts go to `<target.schema>_metrics`
    (never over production's `metrics`), and the other providers' sources (freshness included)
    are not there."""
    import json as _json

    from metricsync.dbt.project import packaged

    (tmp_path / "profiles.yml").write_text(
        _json.dumps(
            {
                "metricsync": {
                    "target": "dev",
                    "outputs": {"dev": {"type": "duckdb", "path": str(tmp_path / "dev.duckdb"), "schema": "dbt_alice"}},
                }
            }
        )
    )
    disabled = {f"metricsync_{p}_enabled": False for p in ("whop", "posthog", "statsig")}
    env = {**os.environ, "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")}
    done = run_command(
        [
            os.path.join(os.path.dirname(sys.executable), "dbt"),
            "ls",
            "--quiet",
            "--project-dir",
            str(packaged()),
            "--profiles-dir",
            str(tmp_path),
            "--vars",
            _json.dumps(disabled),
            "--output",
            "json",
            "--output-keys",
            "name",
            "resource_type",
            "schema",
            "source_name",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    nodes = [_json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    schemas = {n["name"]: n.get("schema") for n in nodes if n["resource_type"] == "model"}
    assert schemas["fct_metric_values"] == "dbt_alice_metrics"
    assert schemas["stg_stripe_analytics__metric_results"] == "dbt_alice_metrics_staging"
    assert {n["source_name"] for n in nodes if n["resource_type"] == "source"} == {"stripe_analytics"}
