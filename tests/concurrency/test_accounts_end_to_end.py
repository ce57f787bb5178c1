"""Accounts in the operator commands: `reset --accounts` refuses an account not configured, `check`
proves each account's key and `describe` lists them. `status` and `reset --accounts` of loaded
accounts, on DuckDB and Postgres: tests/concurrency/test_many_accounts.py."""

import datetime as dt

from support import configure, today
from support.accounts import cli

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=5)
ACCOUNTS = [{"name": "north", "account_id": "biz_north"}, {"name": "east", "company_id": "biz_east"}]


def test_reset_of_an_unknown_account_is_refused_in_one_line(sandbox, monkeypatch, isolated, capsys):
    from support import Warehouse

    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        accounts=ACCOUNTS,
    )
    warehouse = Warehouse("duckdb", str(isolated / "x.duckdb"))
    code, out, err = cli(capsys, isolated, warehouse, "reset", "whop", "--accounts", "west", "--yes")
    assert code == 2 and err.strip() == "whop: no account named 'west' - configured: north, east", (out, err)


def test_check_proves_each_accounts_key_and_describe_lists_the_accounts(sandbox, monkeypatch, isolated, capsys):
    from support import Warehouse

    accounts = [
        {"name": "north", "account_id": "biz_north"},
        {"name": "south", "account_id": "biz_south", "api_key": "whop_revoked_key"},
    ]
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        accounts=accounts,
    )
    warehouse = Warehouse("duckdb", str(isolated / "x.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", warehouse.credentials)
    code, out, err = cli(capsys, isolated, warehouse, "check", "whop")
    assert code != 0
    assert out.startswith("whop (account north): ok - key accepted"), out
    assert err.startswith("whop (account south): ") and len(err.strip().splitlines()) == 1, err
    assert "whop_revoked_key" not in out + err
    assert {r.arg("account_id") for r in sandbox.seen("/api/v1/stats/time_series")} == {"biz_north", "biz_south"}

    code, out, err = cli(capsys, isolated, warehouse, "describe", "whop")
    assert code == 0, err
    assert "    north: account_id='biz_north'" in out and "    south: account_id='biz_south', api_key=(set)" in out
    assert "whop_revoked_key" not in out
