"""The dbt semantic layer (`transform/models/semantic/`) and `metricsync query`, on DuckDB and
Postgres, over one loaded and transformed warehouse per destination with the sandbox's demo
queries (DuckDB: a copy of the session's shared warehouse; Postgres: loaded once for the module):
`dbt parse` / `mf validate-configs` must pass and `metricsync query` must return what hand-written
SQL over the raw tables says: MRR by month and account (a level: the month's last complete period,
not a sum; currencies kept apart), Whop net revenue by month, and a Statsig metric by day."""

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import loaded_settings, postgres_database, ROOT, today, Warehouse

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
BIN = Path(sys.executable).parent


def _load_postgres(box, workdir: Path, credentials: str) -> None:
    """`run whop stripe_analytics statsig --transform` into Postgres with the demo queries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(loaded_settings(box), RUNTIME__DLTHUB_TELEMETRY="false", PYTHONPATH=str(ROOT),
               DESTINATION__POSTGRES__CREDENTIALS=credentials, DLT_DATA_DIR=str(workdir / "dlt_data"),
               DBT_TARGET_PATH=str(workdir / "target"), DBT_LOG_PATH=str(workdir / "logs"))
    done = subprocess.run([sys.executable, "-m", "pipelines", "run", "whop", "stripe_analytics", "statsig",
                           "--destination", "postgres", "--transform", "--progress", "none"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr + done.stdout


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request, sandbox_server, tmp_path_factory):
    """A warehouse with Whop, Stripe and Statsig loaded from the sandbox's demo queries and
    transformed, once per destination for the whole module."""
    workdir = tmp_path_factory.mktemp(f"semantic_{request.param}")
    if request.param == "duckdb":
        origin = request.getfixturevalue("loaded_duckdb_origin")
        shutil.copy(origin / "warehouse.duckdb", workdir / "warehouse.duckdb")
        yield Warehouse("duckdb", str(workdir / "warehouse.duckdb"))
        return
    with postgres_database("ms_semantic") as credentials:
        sandbox_server.reset()
        _load_postgres(sandbox_server, workdir, credentials)
        yield Warehouse("postgres", credentials)


def query(built, monkeypatch, capsys, *argv: str) -> list[dict]:
    """`metricsync query ARGV... --json` on the built warehouse, in this process."""
    from pipelines.cli import main

    monkeypatch.setenv(f"DESTINATION__{built.name.upper()}__CREDENTIALS", built.credentials)
    code = main(["query", *argv, "--destination", built.name])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out) if "--json" in argv else out


def raw(built, sql: str) -> list[tuple]:
    """Rows of hand-written SQL; DuckDB opened as dbt (in this process, after a query) holds it."""
    if built.name != "duckdb":
        return built.query(sql)
    import duckdb

    with duckdb.connect(built.credentials) as conn:
        return conn.execute(sql).fetchall()


def mrr_month_end(built) -> tuple[dict, dict]:
    """Hand-computed from the raw rows: ({(series, currency, day): MRR summed over prices},
    {(month, account, series, currency): MRR of the series' last complete period in the month}).
    Both queries are in UTC and loaded now: a period is complete when it ended before today."""
    loaded = raw(built, "select query_name, lower(currency), period, interval, value from stripe_analytics.metric_results "
                        "where name = 'mrr_minor_units'")
    by_period: dict = {}
    for series, currency, period, interval, value in loaded:
        if period + dt.timedelta(days=6 if interval == "week" else 0) >= TODAY:
            continue
        by_period.setdefault((series, currency, period), Decimal(0))
        by_period[(series, currency, period)] += Decimal(value) / 100  # usd and eur: 2 decimals
    month_end: dict = {}
    for (series, currency, period), value in by_period.items():
        key = (period.replace(day=1).isoformat(), "", series, currency)
        if key not in month_end or period > month_end[key][0]:
            month_end[key] = (period, value)
    return by_period, {key: value for key, (_period, value) in month_end.items()}


def test_dbt_parse_mf_validate_configs_and_mf_query_as_the_readme_shows(built, monkeypatch, capsys, tmp_path):
    project = tmp_path / "transform"
    shutil.copytree(ROOT / "transform", project, ignore=shutil.ignore_patterns("target", "logs", "profiles.yml"))
    written = query(built, monkeypatch, capsys, "--write-profile", str(project))
    assert written.startswith(f"query: wrote {project / 'profiles.yml'} ({built.name})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    out = tmp_path / "mrr.csv"
    readme_query = built.name == "duckdb"  # the README's `mf query`, on one destination (each mf start is slow)
    commands = [["dbt", "parse"], ["mf", "validate-configs"]] + readme_query * [[
        "mf", "query", "--metrics", "mrr", "--group-by", "metric_time__month,account,series,metric_value__currency",
        "--csv", str(out)]]
    for command in commands:
        done = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    if not readme_query:
        return
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    _by_period, expected = mrr_month_end(built)
    got = {(r["metric_time__month"][:10], r["account"], r["series"], r["metric_value__currency"]): float(r["mrr"])
           for r in rows}
    assert got == pytest.approx({key: float(value) for key, value in expected.items()})  # mf prints floats


def test_mrr_by_month_and_account_is_the_month_end_level_with_currencies_kept_apart(built, monkeypatch, capsys):
    rows = query(built, monkeypatch, capsys, "mrr", "--grain", "month", "--by", "account", "--json")
    got = {(r["month"], r["account"], r["series"], r["currency"]): Decimal(r["mrr"]) for r in rows}
    by_period, expected = mrr_month_end(built)
    assert got == expected

    # currencies are kept apart although not asked for; last month (loaded from at least its 9 last
    # days on) is the value of its last day, not a sum of its days
    assert {r["currency"] for r in rows} == {"usd", "eur"}
    last_month = TODAY.replace(day=1) - dt.timedelta(days=1)
    daily = [v for (s, _c, p), v in by_period.items() if s == "mrr_by_price" and p.replace(day=1) == last_month.replace(day=1)]
    assert len(daily) >= 9
    level = got[(last_month.replace(day=1).isoformat(), "", "mrr_by_price", "usd")]
    assert level == by_period[("mrr_by_price", "usd", last_month)] and level != sum(daily)


def test_whop_net_revenue_by_month(built, monkeypatch, capsys):
    rows = query(built, monkeypatch, capsys, "net_revenue", "--grain", "month", "--json")
    loaded = raw(built, "select query_name, period, lower(currency), amount from whop.wallet_time_series "
                        "where reporting_category = 'net_income'")
    expected: dict = {}
    for series, period, currency, amount in loaded:
        key = (period.replace(day=1).isoformat(), series, currency)
        expected[key] = expected.get(key, Decimal(0)) + Decimal(amount)
    assert {(r["month"], r["series"], r["currency"]): Decimal(r["net_revenue"]) for r in rows} == expected
    assert {r["series"] for r in rows} == {"monthly_net"}  # daily_all (every category) is not net revenue


def test_statsig_metric_by_day_and_list(built, monkeypatch, capsys):
    rows = query(built, monkeypatch, capsys, "statsig_value", "--where", "series = 'Checkout Revenue'", "--json")
    loaded = raw(built, "select date, unit_type, value from statsig.metric_values "
                        f"where metric_name = 'Checkout Revenue' and date < '{TODAY}'")  # today is partial
    assert len(loaded) >= 2 * 30  # userID and stableID, every complete day
    assert {(r["day"], r["dimension_value"]): float(r["statsig_value"]) for r in rows} == {
        (day.isoformat(), unit): value for day, unit, value in loaded}
    if built.name == "duckdb":  # the list does not depend on the warehouse
        listed = query(built, monkeypatch, capsys, "--list")
        assert [line.split(":")[0] for line in listed.splitlines()] == [
            "mrr", "active_subscriptions", "discounts", "usage_revenue", "wallet_amount", "wallet_line_count",
            "net_revenue", "statsig_value", "statsig_total"]


@pytest.mark.parametrize("argv, message", [
    (["mrrr"], "query: unknown metric mrrr - metricsync query --list shows mrr, active_subscriptions, "),
    (["mrr", "--by", "country"], "query: --by country is not a dimension - use one of account, currency, "),
    (["mrr"], "query: the duckdb warehouse refused the query: "),
], ids=["unknown-metric", "unknown-dimension", "mart-not-built"])
def test_a_query_that_cannot_run_fails_in_one_line(monkeypatch, capsys, tmp_path, argv, message):
    from pipelines.cli import main

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "empty.duckdb"))  # nothing loaded
    assert main(["query", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and len(err.splitlines()) == 1
    if argv == ["mrr"]:
        assert err.rstrip().endswith("- the metrics mart is not built - run `metricsync transform --destination duckdb` "
                                     "first")
