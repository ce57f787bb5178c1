"""Issue 30: a nightly `transform` costs what changed. `fct_metric_values` is incremental: a nightly
build takes only the loads it has not seen and rebuilds the periods they replaced or emptied;
`transform --full-refresh` rebuilds everything. After loads with an upstream revision and a
deletion (a window that comes back empty), both give the same published marts (and the marts and
exports built from it), on DuckDB and Postgres, and the deleted rows are gone from both (a bad row
a load brings still fails a nightly's tests, which read only the changed days: test_mart's last test).

Publishing keeps what users add (Postgres): a reader role declared in the project (dbt
`grants`) reads the published marts after every publish, and a
user's view on a mart survives; when a mart must be re-created (its columns changed), the view
stops the publish with exit 7 naming it, and nothing is published."""

import datetime as dt
import shutil
import uuid

import pytest
from metricsync.dbt.project import packaged
from support import POSTGRES_ADMIN, Warehouse, configure, today
from support.transform import cli, configure_all

TODAY = today()
WALLET = "/api/v1/stats/time_series"
MARTS = {  # the published marts, each as a set of rows in a fixed column order
    "fct_metric_values": "provider, account, series, metric_id, metric, grain, period_start, period_end, "
    "dimension_name, dimension_value, value, value_double, currency, is_complete, loaded_at, load_id",
    "fct_mrr_monthly": "month, account, currency, series, as_of, mrr, is_complete",
    "fct_whop_wallet_net_revenue_monthly": "account, series, month, currency, net_revenue, line_count, is_complete",
    "dim_metric_series": "series_key, provider, account, series, reporting_category, statsig_metric_type, is_additive",
    "rpt_mrr_by_account_currency_monthly": "month, account, series, currency, mrr, as_of, is_complete",
    "rpt_whop_net_revenue_monthly": "month, series, currency, net_revenue, is_complete",
    "rpt_statsig_daily": "day, series, statsig_metric_type, dimension_value, is_additive, value",
}


def marts(warehouse) -> dict:
    return {name: set(warehouse.query(f"select {columns} from metrics.{name}")) for name, columns in MARTS.items()}


def load_ids(warehouse) -> set:
    return {
        row[0]
        for provider in ("whop", "stripe_analytics", "statsig")
        for row in warehouse.query(f"select load_id from {provider}._dlt_loads")
    }


def transform(warehouse, capsys, tmp_path, *flags: str) -> None:
    """`metricsync transform`: on Postgres in this process (nothing held after it; no child process
    paying dbt's imports), on DuckDB a child process (dbt's adapter would keep the file open here)."""
    if warehouse.name == "duckdb":
        done = cli("transform", "--destination", warehouse.name, *flags, tmp_path=tmp_path)
        assert done.returncode == 0, done.stderr + done.stdout
        return
    from metricsync.cli import main  # after the test's settings are set

    code = main(["transform", "--destination", warehouse.name, *flags])
    out, err = capsys.readouterr()
    assert code == 0, err + out


def project_with_reader(tmp_path, role: str) -> None:
    """The project's own copy in the working directory (as `init --with-dbt` makes), its marts' `grants`
    naming a reader role (the same line declares the deprecated old names' and the exports'; all are replaced)."""
    local = tmp_path / "transform"
    shutil.copytree(packaged(), local, ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
    config = local / "dbt_project.yml"
    text = config.read_text()
    declared = "+grants: \"{{ {'select': var('metricsync_reader_roles')}"
    assert text.count(declared) == 3  # the marts, the old names' views and the exports (rpt_*), each its line
    line = next(line for line in text.splitlines() if declared in line)
    config.write_text(text.replace(line, f"      +grants: {{select: [{role}]}}"))


def as_role(warehouse, role: str, sql: str) -> list:
    """`sql` run by `role` itself (a login role, trust authentication)."""
    return Warehouse("postgres", warehouse.credentials.replace("postgres:postgres@", f"{role}@")).query(sql)


@pytest.fixture
def reader():
    """A login role on the Postgres server, dropped with what it holds after the test."""
    role = f"reader_{uuid.uuid4().hex[:8]}"
    Warehouse("postgres", POSTGRES_ADMIN).execute(f"create role {role} login")
    yield role


def drop_role(warehouse, role: str) -> None:
    for url in (warehouse.credentials, POSTGRES_ADMIN):
        Warehouse("postgres", url).execute(f"drop owned by {role}")
    Warehouse("postgres", POSTGRES_ADMIN).execute(f"drop role {role}")


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_nightly_transform_equals_a_full_refresh_and_publishing_keeps_grants_and_views(
    sandbox, warehouse, run, monkeypatch, tmp_path, reader, capsys
):
    try:
        nightly_then_full_refresh(sandbox, warehouse, run, monkeypatch, tmp_path, reader, capsys)
    finally:
        drop_role(warehouse, reader)


def load_all(run, warehouse) -> None:
    for provider in ("whop", "stripe_analytics", "statsig"):
        assert run(provider, warehouse).ok


def first_build(sandbox, warehouse, run, monkeypatch, tmp_path, capsys) -> set:
    """Every provider loaded and transformed (the first build: every row); the load ids."""
    configure_all(monkeypatch, sandbox)
    configure(monkeypatch, "whop", lookback_days=3)
    load_all(run, warehouse)
    transform(warehouse, capsys, tmp_path)
    return load_ids(warehouse)


def restated(sandbox, warehouse, run, first: set) -> set:
    """Stripe and Statsig revise their last days, Whop's wallet empties its lookback window, all
    loaded again: the new load ids."""
    sandbox.revise(3)
    sandbox.tamper(WALLET, empty=True)
    load_all(run, warehouse)
    new = load_ids(warehouse) - first
    assert new
    return new


def nightly_transform(warehouse, capsys, tmp_path, new: set) -> dict:
    """The nightly transform: only the new loads taken, the log emptied by the publish, the emptied
    days gone and only they, the revised days from the new loads. The published marts."""
    transform(warehouse, capsys, tmp_path)
    batch = {r[0] for r in warehouse.query("select load_id from metrics__audit.fct_metric_values__batch_loads")}
    assert batch and batch <= new  # only the new loads' rows were computed
    logged = warehouse.query("select count(*) from metrics__audit.fct_metric_values__changes")
    assert logged == [(0,)]  # the published periods' log is emptied by the publish
    assert warehouse.query(WALLET_DAYS + RECENT)[0][0] == 0  # the emptied days are gone
    assert warehouse.query(WALLET_DAYS)[0][0] > 0  # and only they
    revised = warehouse.query(
        "select count(*) from metrics.fct_metric_values where provider = 'statsig' "
        f"and load_id in ({', '.join(repr(i) for i in new)})"
    )
    assert revised[0][0] > 0  # the revised days come from the new loads
    return marts(warehouse)


def full_refresh(warehouse, capsys, tmp_path, new: set) -> dict:
    transform(warehouse, capsys, tmp_path, "--full-refresh")
    batch = {r[0] for r in warehouse.query("select load_id from metrics__audit.fct_metric_values__batch_loads")}
    assert batch - new  # every load's rows were computed again
    return marts(warehouse)


WALLET_DAYS = "select count(*) from metrics.fct_metric_values where provider = 'whop' and series = 'daily_all' "
RECENT = f"and period_start >= '{TODAY - dt.timedelta(days=3)}'"


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_a_nightly_transform_equals_a_full_refresh_on_duckdb(sandbox, warehouse, run, monkeypatch, tmp_path, capsys):
    first = first_build(sandbox, warehouse, run, monkeypatch, tmp_path, capsys)
    assert warehouse.query(WALLET_DAYS + RECENT)[0][0] > 0
    new = restated(sandbox, warehouse, run, first)
    nightly = nightly_transform(warehouse, capsys, tmp_path, new)
    assert full_refresh(warehouse, capsys, tmp_path, new) == nightly


def nightly_then_full_refresh(sandbox, warehouse, run, monkeypatch, tmp_path, reader, capsys) -> None:
    project_with_reader(tmp_path, reader)
    first = first_build(sandbox, warehouse, run, monkeypatch, tmp_path, capsys)
    user = warehouse.query  # the warehouse's owner, as a user adding a view of their own
    warehouse.execute(
        "create view public.my_mrr as select month, sum(mrr) as mrr from metrics.fct_mrr_monthly group by month; "
        "create view public.my_facts as select provider, count(*) as n from metrics.fct_metric_values group by provider; "
        # on the deprecated old name (a view of fct_mrr_monthly), and on the table a previous release
        # published under an old name (now a view, kept a table while a user's view depends on it)
        "create view public.my_old_mrr as select count(*) as n from metrics.mrr_monthly; "
        "drop view metrics.metric_series; "
        "create table metrics.metric_series as select * from metrics.dim_metric_series where false; "
        "create view public.my_series as select count(*) as n from metrics.metric_series"
    )
    count = "select count(*) from metrics.fct_metric_values"
    assert as_role(warehouse, reader, count) == user(count)  # the declared grant reached the published mart
    assert warehouse.query(WALLET_DAYS + RECENT)[0][0] > 0

    new = restated(sandbox, warehouse, run, first)
    nightly = nightly_transform(warehouse, capsys, tmp_path, new)

    views = "select (select sum(n) from public.my_facts), (select count(*) from public.my_mrr)"
    assert user(views) == user(f"select ({count}), (select count(distinct month) from metrics.fct_mrr_monthly)")
    assert as_role(warehouse, reader, "select count(*) from metrics.fct_mrr_monthly") == user(
        "select count(*) from metrics.fct_mrr_monthly"
    )
    old_names = "select (select n from public.my_old_mrr), (select n from public.my_series)"
    renamed = "select (select count(*) from metrics.fct_mrr_monthly), (select count(*) from metrics.dim_metric_series)"
    assert user(old_names) == user(renamed) and min(user(renamed)[0]) > 0
    assert as_role(warehouse, reader, "select count(*) from metrics.mrr_monthly") == user(
        "select count(*) from metrics.fct_mrr_monthly"
    )

    assert full_refresh(warehouse, capsys, tmp_path, new) == nightly
    assert user(views) == user(f"select ({count}), (select count(distinct month) from metrics.fct_mrr_monthly)")
    assert user(old_names) == user(renamed)
    assert as_role(warehouse, reader, count) == user(count)

    # a mart whose columns changed is re-created: the user's view stops it, named, exit 7
    warehouse.execute("alter table metrics.fct_mrr_monthly add column note text")
    done = cli("transform", "--destination", warehouse.name, tmp_path=tmp_path)
    assert done.returncode == 7, done.stderr + done.stdout
    # the user's views on it and on its deprecated old name (a view of it that must be dropped too)
    assert "public.my_mrr, public.my_old_mrr depend on it" in done.stderr, done.stderr
    assert "drop view public.my_mrr" in done.stderr
    assert "Traceback" not in done.stderr
    assert user("select count(*) from information_schema.columns where column_name = 'note'") == [(1,)]
    assert marts(warehouse) == nightly  # nothing published
