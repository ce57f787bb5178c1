"""Accounts in the operator commands, on DuckDB and Postgres: `status` (text and --json) shows each
account's own state and rows, and `reset --accounts` resets only the named accounts' state and
rows, after which a run reloads exactly that account's data."""

import datetime as dt
import json

from support import configure, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=5)
ACCOUNTS = [{"name": "north", "account_id": "biz_north"}, {"name": "east", "company_id": "biz_east"}]
BIZ = {"north": "biz_north", "east": "biz_east"}


def cli(capsys, isolated, warehouse, *args):
    from metricsync.cli import main

    capsys.readouterr()
    code = main([*args, "--destination", warehouse.name, "--pipelines-dir", str(isolated / "pipelines")])
    out, err = capsys.readouterr()
    return code, out, err


def wallet(warehouse, account):
    rows = warehouse.query(
        "select period, currency, amount from whop.wallet_time_series "
        f"where account = '{account}' and query_name = 'daily_all'"
    )
    return {(p, c): a for p, c, a in rows}


def truth(sandbox, account):
    totals = sandbox.by_name["whop"].wallet_totals(START, TODAY, "day", account=BIZ[account])
    return {k: amount for k, (amount, _n) in totals.items()}


def count(warehouse, table, account):
    return warehouse.query(f"select count(*) from whop.{table} where account = '{account}'")[0][0]


def test_status_and_reset_per_account(sandbox, warehouse, monkeypatch, isolated, capsys):
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        accounts=ACCOUNTS,
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
    )
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop")
    assert code == 0, out + err
    for account in BIZ:
        assert wallet(warehouse, account) == truth(sandbox, account), account

    code, out, err = cli(capsys, isolated, warehouse, "status", "whop", "--json")
    assert code == 0, err
    windowed = {e["account"]: e for e in json.loads(out) if e["query"] == "daily_all"}
    assert set(windowed) == {"north", "east"}
    for account, entry in windowed.items():
        assert entry["loaded_through"] == TODAY.isoformat() and entry["last_loaded_at"]
        assert entry["rows"] == len(truth(sandbox, account)), entry
    code, text, _ = cli(capsys, isolated, warehouse, "status", "whop")
    assert "  account north: last load " in text and "  account east: last load " in text, text
    assert f"    wallet_time_series / daily_all: loaded through {TODAY}, {len(truth(sandbox, 'east'))} rows" in text

    east_before = wallet(warehouse, "east")
    groupings_before = count(warehouse, "wallet_groupings", "east")
    code, out, err = cli(capsys, isolated, warehouse, "reset", "whop", "--accounts", "north", "--drop-rows", "--yes")
    assert code == 0, out + err
    assert out.startswith("whop (account north): reset "), out
    assert wallet(warehouse, "north") == {} and count(warehouse, "wallet_groupings", "north") == 0
    assert wallet(warehouse, "east") == east_before and count(warehouse, "wallet_groupings", "east") == groupings_before
    code, out, _ = cli(capsys, isolated, warehouse, "status", "whop", "--json")
    entries = json.loads(out)
    assert [e for e in entries if e["account"] == "north" and e["query"]] == []  # north's state is forgotten
    assert {e["account"] for e in entries if e["query"] == "daily_all"} == {"east"}

    sandbox.clear_log()
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop", "--accounts", "north")
    assert code == 0, out + err
    assert {r.arg("from") for r in sandbox.seen("/api/v1/stats/time_series")} == {START.isoformat()}  # from start_date
    assert wallet(warehouse, "north") == truth(sandbox, "north")
    assert wallet(warehouse, "east") == east_before


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
