"""Many accounts in one run (issue 31): ten Whop accounts into DuckDB and Postgres, each one's rows
equal to the sandbox's truth and each one's state its own (`status`, text and --json); one
account's revoked key names that account while the others land (exit 4); a re-run after upstream
revisions fetches only the lookback of the loaded accounts and the whole range of the one that
failed; `reset --accounts` of one account drops only its rows (definitions too) and state, and its
re-run reloads exactly it.

Ten, not the thousand the feature is for: each account is a pipeline run of its own today (about
0.4 s of CPU), and the suite's time is counted; the count is one constant."""

import datetime as dt
import json

from support import configure, today
from support.accounts import cli, first_day_asked, loaded, wallet_truth

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=20)
COUNT, FAILING, RESET, COMPANY_ONLY = 10, "acc07", "acc03", "acc05"
NAMES = [f"acc{i:02d}" for i in range(COUNT)]
QUERY = {"name": "daily_all", "group_by": "day"}


def biz(name: str) -> str:
    return f"biz_many_{name}"


def accounts(revoked: bool) -> list[dict]:
    """One account scoped by `company_id` alone (which scopes both), one with a revoked key of its own."""
    return [
        {
            "name": n,
            ("company_id" if n == COMPANY_ONLY else "account_id"): biz(n),
            **({"api_key": "whop_revoked_key"} if revoked and n == FAILING else {}),
        }
        for n in NAMES
    ]


def setup(monkeypatch, sandbox, revoked: bool) -> None:
    configure(
        monkeypatch,
        "whop",
        api_key=sandbox.by_name["whop"].api_key,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=[QUERY],
        metric_queries=[],
        accounts=accounts(revoked),
    )


def groupings(warehouse) -> dict:
    rows = warehouse.query("select account, count(*) from whop.wallet_groupings group by account")
    return dict(rows)


def states(warehouse) -> set:
    return {name for (name,) in warehouse.query("select distinct pipeline_name from whop._dlt_pipeline_state")}


def test_ten_accounts_in_one_run_failure_rerun_status_and_reset(sandbox, warehouse, monkeypatch, isolated, capsys):
    setup(monkeypatch, sandbox, revoked=True)
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop")
    assert code == 4, out + err
    assert f"whop: {COUNT - 1} of {COUNT} accounts loaded - failed: {FAILING} (exit 4)" in err
    assert [line for line in err.splitlines() if line.startswith(f"whop (account {FAILING}): ")], err
    assert "whop_revoked_key" not in out + err
    found = loaded(warehouse)
    assert set(found) == set(NAMES) - {FAILING}
    for name in set(NAMES) - {FAILING}:
        assert found[name] == truth(sandbox, name), name
    assert states(warehouse) == {f"whop__{n}__{warehouse.name}" for n in NAMES if n != FAILING}

    # upstream revises the last two days; the key is fixed: only what changed, and what failed, is fetched
    sandbox.revise(days=2)
    setup(monkeypatch, sandbox, revoked=False)
    sandbox.clear_log()
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop")
    assert code == 0, out + err
    asked = first_day_asked(sandbox)
    assert set(asked) == {biz(n) for n in NAMES}
    assert asked.pop(biz(FAILING)) == START  # its first load: from start_date
    assert all(TODAY - dt.timedelta(days=3) <= day <= TODAY for day in asked.values()), asked  # the lookback only
    assert loaded(warehouse) == {name: truth(sandbox, name) for name in NAMES}
    assert states(warehouse) == {f"whop__{n}__{warehouse.name}" for n in NAMES}
    status_per_account(capsys, isolated, warehouse, sandbox)

    before, definitions = loaded(warehouse), groupings(warehouse)
    code, out, err = cli(capsys, isolated, warehouse, "reset", "whop", "--accounts", RESET, "--drop-rows", "--yes")
    assert code == 0, out + err
    assert out.startswith(f"whop (account {RESET}): reset "), out
    assert loaded(warehouse) == {n: rows for n, rows in before.items() if n != RESET}
    assert groupings(warehouse) == {n: rows for n, rows in definitions.items() if n != RESET}
    code, out, _ = cli(capsys, isolated, warehouse, "status", "whop", "--json")
    entries = json.loads(out)
    assert [e for e in entries if e["account"] == RESET and e["query"]] == []  # its state is forgotten
    assert {e["account"] for e in entries if e["query"] == "daily_all"} == set(NAMES) - {RESET}
    sandbox.clear_log()
    code, out, err = cli(capsys, isolated, warehouse, "run", "whop", "--accounts", RESET)
    assert code == 0, out + err
    assert first_day_asked(sandbox) == {biz(RESET): START}
    assert loaded(warehouse) == before


def status_per_account(capsys, isolated, warehouse, sandbox) -> None:
    """`status` shows each account's own state and rows, in --json and in text."""
    code, out, err = cli(capsys, isolated, warehouse, "status", "whop", "--json")
    assert code == 0, err
    windowed = {e["account"]: e for e in json.loads(out) if e["query"] == "daily_all"}
    assert set(windowed) == set(NAMES)
    for name, entry in windowed.items():
        assert entry["loaded_through"] == TODAY.isoformat() and entry["last_loaded_at"], entry
        assert entry["rows"] == len(truth(sandbox, name)), entry
    code, text, _ = cli(capsys, isolated, warehouse, "status", "whop")
    for name in NAMES:
        assert f"  account {name}: last load " in text, text
    rows = len(truth(sandbox, FAILING))
    assert f"    wallet_time_series / daily_all: loaded through {TODAY}, {rows} rows" in text, text


def truth(sandbox, name: str) -> dict:
    return wallet_truth(sandbox, START, TODAY, biz(name))
