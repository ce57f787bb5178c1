"""Many accounts: one pipeline and state per account, rows keyed by `account` in one shared
dataset, `--accounts` selection, `--parallel` processes, and failures that name the account."""

import datetime as dt

import pytest
from support import configure
from support.whop import KEY, START, TODAY, WALLET_QUERIES, expected_wallet

ACCOUNTS = [
    {"name": "north", "account_id": "biz_north"},
    {"name": "east", "account_id": "biz_east", "company_id": "biz_east", "api_key": KEY},
    {"name": "south", "account_id": "biz_south", "api_key": "whop_revoked_key"},
]
QUERIES = WALLET_QUERIES[:2]


def setup_accounts(monkeypatch, sandbox, accounts=ACCOUNTS, **overrides):
    settings = {
        "api_key": KEY,
        "base_url": f"{sandbox.url}/api/v1",
        "start_date": START.isoformat(),
        "wallet_queries": QUERIES,
        "accounts": accounts,
        **overrides,
    }
    configure(monkeypatch, "whop", **settings)


def cli(isolated, warehouse, *args):
    from metricsync.cli import main

    return main(["run", "whop", "--destination", warehouse.name, "--pipelines-dir", str(isolated / "pipelines"), *args])


def wallet_of(warehouse, account, query):
    rows = warehouse.query(
        f"select period, currency, amount from whop.wallet_time_series "
        f"where account = '{account}' and query_name = '{query}'"
    )
    return {(p, c): a for p, c, a in rows}


def test_parallel_accounts_land_and_a_failing_one_is_named(sandbox, warehouse, monkeypatch, isolated, capsys):
    setup_accounts(monkeypatch, sandbox)
    code = cli(isolated, warehouse, "--parallel", "3")
    out, err = capsys.readouterr()
    assert code == 4, (out, err)
    assert "whop: 2 of 3 accounts loaded - failed: south (exit 4)" in err
    assert [line for line in err.splitlines() if line.startswith("whop (account south): ")], err
    assert "whop_revoked_key" not in out + err
    for account, biz in (("north", "biz_north"), ("east", "biz_east")):  # each account's own data
        for query in QUERIES:
            expected = {k: a for k, (a, _c) in expected_wallet(sandbox.by_name["whop"], query, biz).items()}
            assert wallet_of(warehouse, account, query["name"]) == expected, (account, query["name"])
    assert warehouse.query("select count(*) from whop.wallet_time_series where account = 'south'") == [(0,)]
    sent = {r.arg("account_id") for r in sandbox.seen("/api/v1/stats/time_series")}
    assert sent == {"biz_north", "biz_east", "biz_south"}
    # one state per account and destination, each its own pipeline's (none for the account that failed)
    states = {name for (name,) in warehouse.query("select distinct pipeline_name from whop._dlt_pipeline_state")}
    assert states == {f"whop__{a}__{warehouse.name}" for a in ("north", "east")}


def test_an_account_snapshot_never_closes_another_accounts_definitions(sandbox, monkeypatch, isolated, capsys):
    """scd2 tables shared by accounts: account `north` sees a definition deleted upstream, `east`
    is not re-synced; only north's row is closed (incremental scd2 on the `account` merge key)."""
    from support import Warehouse

    setup_accounts(monkeypatch, sandbox, accounts=ACCOUNTS[:2], wallet_queries=None)
    warehouse = Warehouse("duckdb", str(isolated / "accounts.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", warehouse.credentials)
    assert cli(isolated, warehouse) == 0, capsys.readouterr()
    sandbox.by_name["whop"].settings.update(deleted=["disputes"])
    assert cli(isolated, warehouse, "--accounts", "north") == 0
    out = capsys.readouterr().out
    assert "whop: 1 of 1 accounts loaded" in out
    current = warehouse.query(
        "select account, key from whop.wallet_groupings where _dlt_valid_to is null and key = 'disputes'"
    )
    closed = warehouse.query("select account, key from whop.wallet_groupings where _dlt_valid_to is not null")
    assert current == [("east", "disputes")] and closed == [("north", "disputes")]
    assert warehouse.query("select count(*) from whop.wallet_groupings where _dlt_valid_to is null") == [(9,)]


@pytest.mark.parametrize(
    "accounts, args, fragment",
    [
        pytest.param(ACCOUNTS, ["--accounts", "west"], "no account named 'west'", id="unknown-selected"),
        pytest.param([{"name": "North Side"}], [], "account name 'North Side'", id="bad-name"),
        pytest.param([{"name": "a"}, {"name": "a"}], [], "two accounts are named 'a'", id="duplicate"),
        pytest.param([{"name": "a", "project_id": 1}], [], "unknown keys ['project_id']", id="unknown-key"),
        pytest.param(None, ["--accounts", "a"], "no accounts are configured", id="none-configured"),
    ],
)
def test_bad_account_settings_fail_before_any_request(sandbox, monkeypatch, isolated, capsys, accounts, args, fragment):
    from support import Warehouse

    setup_accounts(monkeypatch, sandbox, accounts=accounts)
    code = cli(isolated, Warehouse("duckdb", str(isolated / "x.duckdb")), *args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0] and err[0].startswith("whop: "), err
    assert sandbox.seen("/api/v1/stats") == []


def _sent(sandbox, path, read):
    return {read(r) for r in sandbox.seen(path)}


@pytest.mark.parametrize(
    "provider, accounts, path, read, expected",
    [
        pytest.param(
            "whop",
            [{"name": "a", "account_id": "biz_a"}, {"name": "b", "company_id": "biz_b"}],
            "/api/v1/stats/metric",
            lambda r: r.arg("company_id"),
            {"biz_a", "biz_b"},
            id="whop-company",
        ),
        pytest.param(
            "stripe_analytics",
            [{"name": "a", "stripe_account": "acct_a"}, {"name": "b", "stripe_account": "acct_b"}],
            "/v2/data/analytics",
            lambda r: r.header("stripe-account"),
            {"acct_a", "acct_b"},
            id="stripe-connect",
        ),
        pytest.param(
            "posthog",
            [{"name": "a", "project_id": [1]}, {"name": "b", "project_id": 2}],
            "/api/projects/",
            lambda r: r.path.split("/")[3],
            {"1", "2"},
            id="posthog-projects",
        ),
        pytest.param(
            "statsig",
            [{"name": "a"}, {"name": "b", "api_key": "console-sandbox-statsig-2"}],
            "/console/v1/metrics",
            lambda r: r.header("statsig-api-key"),
            {"console-sandbox-statsig", "console-sandbox-statsig-2"},
            id="statsig-key-per-project",
        ),
    ],
)
def test_every_provider_scopes_requests_and_rows_by_account(
    sandbox, monkeypatch, isolated, capsys, provider, accounts, path, read, expected
):
    from support import Warehouse

    settings = sandbox.by_name[provider].demo_settings(sandbox.url)
    if "start_date" in settings:
        settings["start_date"] = START.isoformat()
    configure(monkeypatch, provider, accounts=accounts, **settings)
    warehouse = Warehouse("duckdb", str(isolated / "all.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", warehouse.credentials)
    from metricsync.cli import main

    assert main(["run", provider, "--pipelines-dir", str(isolated / "pipelines")]) == 0, capsys.readouterr()
    assert _sent(sandbox, path, read) == expected
    seen = {}
    for table in {t for t in warehouse.tables(provider) if not t.startswith("_dlt")}:
        seen[table] = {r[0] for r in warehouse.query(f"select distinct account from {provider}.{table}")}
    assert all(accounts in ({"a", "b"}, set()) for accounts in seen.values()), seen
    assert any(accounts for accounts in seen.values()), seen
    # each account's rows are that account's own data (the sandbox gives every account different numbers)
    truths = {
        name: TRUTH[provider](sandbox, warehouse, name, entry) for name, entry in ((a["name"], a) for a in accounts)
    }
    for name, (loaded, truth) in truths.items():
        assert loaded == truth and truth, (provider, name)
    assert truths["a"][1] != truths["b"][1]


def _whop_truth(box, warehouse, name, entry):
    query = {"name": "daily_all", "group_by": "day"}
    biz = entry.get("account_id") or entry.get("company_id")
    truth = {k: a for k, (a, _c) in expected_wallet(box.by_name["whop"], query, biz).items()}
    return wallet_of(warehouse, name, "daily_all"), truth


def _stripe_truth(box, warehouse, name, entry):
    query = next(
        q for q in box.by_name["stripe_analytics"].demo_settings(box.url)["queries"] if q["name"] == "mrr_by_price"
    )
    rows = warehouse.query(
        "select period, dimension_value, value from stripe_analytics.metric_results "
        f"where account = '{name}' and query_name = 'mrr_by_price'"
    )
    truth = {}
    for row in box.by_name["stripe_analytics"].expected(query, START, account=entry["stripe_account"]):
        day = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).date()
        truth[(day, row["dimensions"]["price"])] = row["results"][0]["value"]
    return {(p, d): v for p, d, v in rows}, truth


def _posthog_truth(box, warehouse, name, entry):
    emulator = box.by_name["posthog"]
    projects = entry["project_id"] if isinstance(entry["project_id"], list) else [entry["project_id"]]
    truth = {
        m["id"]
        for p in projects
        for t in emulator.group_types(str(p))
        for m in emulator.metrics(str(p), t["group_type_index"])
    }
    rows = warehouse.query(f"select id from posthog.group_type_metrics where account = '{name}'")
    return {r[0] for r in rows}, truth


def _statsig_truth(box, warehouse, name, entry):
    emulator = box.by_name["statsig"]
    key = entry.get("api_key")
    days = [START + dt.timedelta(days=n) for n in range((TODAY - START).days + 1)]
    truth = {(day, v["metricName"], v["unitType"]): v["value"] for day in days for v in emulator.values_for(day, key)}
    rows = warehouse.query(
        f"select date, metric_name, unit_type, value from statsig.metric_values where account = '{name}'"
    )
    return {(d, m, u): v for d, m, u, v in rows}, truth


TRUTH = {"whop": _whop_truth, "stripe_analytics": _stripe_truth, "posthog": _posthog_truth, "statsig": _statsig_truth}
