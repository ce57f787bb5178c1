"""Accounts loaded together (`pipelines/batched.py`): a nightly of several Whop accounts is one load,
not one per account; accounts loaded by one pipeline per account (the runner before groups) go on
from their own state; each account's state is its own (`status`, `verify --accounts`); and runs of
different account groups at once, in processes of their own, land every account exactly."""

import datetime as dt
import json
import os
import subprocess
import sys

from support import configure, duckdb_only, today
from support.accounts import cli, first_day_asked, loaded, wallet_truth
from support.processes import child_process, run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=20)
NAMES = [f"grp{i}" for i in range(6)]
EARLIER = NAMES[:2]  # loaded first by a run of their own pipeline each, as before groups
QUERY = {"name": "daily_all", "group_by": "day"}


def biz(name: str) -> str:
    return f"biz_together_{name}"


def setup(monkeypatch, sandbox) -> None:
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=[QUERY],
        metric_queries=[],
        accounts=[{"name": n, "account_id": biz(n)} for n in NAMES],
    )


def loads(warehouse) -> int:
    return warehouse.query("select count(*) from whop._dlt_loads")[0][0]


def test_accounts_load_together_after_runs_of_their_own(sandbox, warehouse, monkeypatch, isolated, capsys):
    from metricsync.accounts import Account
    from metricsync.runner import run_provider

    setup(monkeypatch, sandbox)
    for name in EARLIER:  # the warehouse as one pipeline per account left it
        result = run_provider(
            "whop",
            warehouse.name,
            pipelines_dir=str(isolated / "old"),
            account=Account(name, {"account_id": biz(name)}),
        )
        assert result.ok, result.message
    before = loads(warehouse)
    sandbox.clear_log()
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop")
    assert code == 0, out + err
    assert f"whop: {len(NAMES)} of {len(NAMES)} accounts loaded" in out
    assert loads(warehouse) == before + 1  # six accounts, one load
    asked = first_day_asked(sandbox)
    assert set(asked) == {biz(n) for n in NAMES}
    for name in NAMES:  # the earlier ones go on from their own state: the lookback only
        assert (asked[biz(name)] == START) == (name not in EARLIER), (name, asked[biz(name)])
    assert loaded(warehouse) == {name: truth(sandbox, name) for name in NAMES}

    code, out, err = cli(capsys, isolated, warehouse, "status", "whop", "--json")
    assert code == 0, err
    windowed = {e["account"]: e for e in json.loads(out) if e["query"] == "daily_all"}
    assert set(windowed) == set(NAMES)
    for name, entry in windowed.items():
        assert entry["loaded_through"] == TODAY.isoformat(), entry
        assert entry["rows"] == len(truth(sandbox, name)), entry

    sandbox.clear_log()  # each account's requests are its own: they add up to what the API saw
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop", "--json")
    assert code == 0, out + err
    results = json.loads(out)
    assert sorted(r["account"] for r in results) == NAMES
    assert sum(r["requests"] for r in results) == len(sandbox.seen("/api/")), results
    assert all(r["requests"] >= 1 for r in results), results

    code, out, err = cli(capsys, isolated, warehouse, "verify", "whop", "--accounts", NAMES[3], "--json")
    assert code == 0, out + err
    checked = [e for e in json.loads(out) if e.get("query") == "daily_all"]
    assert [e["account"] for e in checked] == [NAMES[3]] and checked[0]["clean"], checked
    assert checked[0]["windows"] >= 1 and checked[0]["rows_compared"] >= 1, checked


def test_two_groups_at_once(sandbox, warehouse, monkeypatch, isolated, capsys):
    """Two `run` processes at once, each with half the accounts (and one of them `--parallel 2`):
    every account's rows exact, each account's state its own."""
    setup(monkeypatch, sandbox)
    base = [sys.executable, "-m", "metricsync", "run", "whop", "--destination", warehouse.name]
    base += ["--pipelines-dir", str(isolated / "pipelines")]
    halves = (["--accounts", *NAMES[:3], "--parallel", "2"], ["--accounts", *NAMES[3:]])
    pipes = {"cwd": isolated, "env": dict(os.environ), "text": True}
    with child_process([*base, *halves[0]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **pipes) as first:
        other = run_command([*base, *halves[1]], timeout=240, capture_output=True, **pipes)
        out, err = first.communicate(timeout=240)
    assert first.returncode == 0, out + err
    assert other.returncode == 0, other.stdout + other.stderr
    assert loaded(warehouse) == {name: truth(sandbox, name) for name in NAMES}
    code, out, err = cli(capsys, isolated, warehouse, "status", "whop", "--json")
    windowed = {e["account"]: e for e in json.loads(out) if e["query"] == "daily_all"}
    assert {name: entry["loaded_through"] for name, entry in windowed.items()} == dict.fromkeys(
        NAMES, TODAY.isoformat()
    )


@duckdb_only
def test_groups_in_spawned_processes_each_land_their_accounts(sandbox, warehouse, monkeypatch, isolated, capsys):
    """52 accounts are two groups when a group holds 50 (50 and 2); `--parallel 2` loads them at
    once, one in this process and one in a spawned worker (fanout's pool): every account's rows
    exact, the summary counting all 52."""
    from metricsync import batched

    monkeypatch.setattr(batched, "GROUP_SIZE", 50)  # the groups are cut here, in this process
    names = [f"pool{i:02d}" for i in range(52)]
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=[QUERY],
        metric_queries=[],
        accounts=[{"name": n, "account_id": biz(n)} for n in names],
    )
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop", "--parallel", "2")
    assert code == 0, out + err
    assert "whop: 52 of 52 accounts loaded" in out, out + err  # on stdout when every account landed
    assert loaded(warehouse) == {name: truth(sandbox, name) for name in names}


def test_groups_hold_a_hundred_accounts_whatever_the_count():
    """A process's memory is one group's, so a group's size does not follow the count or
    `--parallel` (which says how many groups run at once): 240 accounts are 100, 100 and 40."""
    from metricsync.accounts import Account
    from metricsync.batched import groups

    accounts = [Account(f"a{i:03d}", {"account_id": f"biz_{i}"}) for i in range(240)]
    split = groups(accounts)
    assert [len(group) for group in split] == [100, 100, 40]
    assert [account for group in split for account in group] == accounts
    assert [len(group) for group in groups(accounts[:7])] == [7]


def truth(sandbox, name: str) -> dict:
    return wallet_truth(sandbox, START, TODAY, biz(name))


def test_a_tables_resource_yields_every_accounts_rows_and_names_the_one_that_fails():
    """A group's resource of a table (`pipelines/together.py`) drives each account's resource in
    turn: their rows come as one item, each given its account; an account whose rows fail is
    named by the exception dlt raises (what `batched` fails that account alone by)."""
    import dlt
    import pytest
    from metricsync.together import blamed, table_resource

    def rows(value: int):
        yield [{"x": value}]

    def refused():
        yield [{"x": 0}]
        raise ValueError("refused")

    parts = [("north", dlt.resource(rows(1), name="t")), ("east", dlt.resource(rows(2), name="t"))]
    assert list(table_resource(parts[0][1], parts)) == [{"x": 1, "account": "north"}, {"x": 2, "account": "east"}]

    parts = [("north", dlt.resource(rows(1), name="t")), ("south", dlt.resource(refused(), name="t"))]
    with pytest.raises(Exception) as caught:
        list(table_resource(parts[0][1], parts))
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert [blamed(exc) for exc in chain if blamed(exc)] == ["south"], chain
