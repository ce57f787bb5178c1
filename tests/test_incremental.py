"""Issue 30: a nightly `transform` costs what changed. `fct_metric_values` is incremental: a nightly
build takes only the loads it has not seen and rebuilds the periods they replaced or emptied;
`transform --full-refresh` rebuilds everything. After loads with an upstream revision and a
deletion (a window that comes back empty), both give the same published marts, and the deleted
rows are gone from both."""

import datetime as dt

import pytest
from conftest import configure, today
from test_transform import cli, configure_all

TODAY = today()
WALLET = "/api/v1/stats/time_series"
MARTS = {  # the published marts, each as a set of rows in a fixed column order
    "fct_metric_values": "provider, account, series, metric_id, metric, grain, period_start, period_end, "
    "dimension_name, dimension_value, value, value_double, currency, is_complete, loaded_at, load_id",
    "mrr_monthly": "month, account, currency, series, as_of, mrr, is_complete",
    "whop_wallet_net_revenue_monthly": "account, series, month, currency, net_revenue, line_count, is_complete",
}


def marts(warehouse) -> dict:
    return {name: set(warehouse.query(f"select {columns} from metrics.{name}")) for name, columns in MARTS.items()}


def load_ids(warehouse) -> set:
    return {
        row[0]
        for provider in ("whop", "stripe_analytics", "statsig")
        for row in warehouse.query(f"select load_id from {provider}._dlt_loads")
    }


def transform(warehouse, tmp_path, *flags: str) -> None:
    done = cli("transform", "--destination", warehouse.name, *flags, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_nightly_transform_equals_a_full_refresh_after_a_revision_and_a_deletion(
    sandbox, warehouse, run, monkeypatch, tmp_path
):
    configure_all(monkeypatch, sandbox)
    configure(monkeypatch, "whop", lookback_days=3)
    for provider in ("whop", "stripe_analytics", "statsig"):
        assert run(provider, warehouse).ok
    transform(warehouse, tmp_path)  # the first build: every row
    first = load_ids(warehouse)
    wallet_days = "select count(*) from metrics.fct_metric_values where provider = 'whop' and series = 'daily_all' "
    recent = f"and period_start >= '{TODAY - dt.timedelta(days=3)}'"
    assert warehouse.query(wallet_days + recent)[0][0] > 0

    sandbox.revise(3)  # Stripe and Statsig revise their last days
    sandbox.tamper(WALLET, empty=True)  # Whop's wallet now has nothing in the lookback window
    for provider in ("whop", "stripe_analytics", "statsig"):
        assert run(provider, warehouse).ok
    new = load_ids(warehouse) - first
    assert new

    transform(warehouse, tmp_path)  # nightly
    batch = {r[0] for r in warehouse.query("select load_id from metrics__audit.fct_metric_values__batch_loads")}
    assert batch and batch <= new  # only the new loads' rows were computed
    logged = warehouse.query("select count(*) from metrics__audit.fct_metric_values__changes")
    assert logged == [(0,)]  # the published periods' log is emptied by the publish
    nightly = marts(warehouse)
    assert warehouse.query(wallet_days + recent)[0][0] == 0  # the emptied days are gone
    assert warehouse.query(wallet_days)[0][0] > 0  # and only they
    revised = warehouse.query(
        "select count(*) from metrics.fct_metric_values where provider = 'statsig' "
        f"and load_id in ({', '.join(repr(i) for i in new)})"
    )
    assert revised[0][0] > 0  # the revised days come from the new loads

    transform(warehouse, tmp_path, "--full-refresh")
    batch = {r[0] for r in warehouse.query("select load_id from metrics__audit.fct_metric_values__batch_loads")}
    assert batch - new  # every load's rows were computed again
    assert marts(warehouse) == nightly
