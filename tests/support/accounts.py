"""What the tests of many Whop accounts in one run share (tests/concurrency/test_many_accounts.py,
test_accounts_together.py): the CLI called in this process, each account's daily wallet rows in the
warehouse, the sandbox's truth for an account, and the first day the sandbox was asked for, per account."""

import datetime as dt

SERIES = "/api/v1/stats/time_series"


def cli(capsys, isolated, warehouse, *args) -> tuple[int, str, str]:
    """`metricsync <args>` in this process against `warehouse`: (exit code, stdout, stderr)."""
    from metricsync.cli import main  # noqa: PLC0415 - each test's settings are set before dlt reads them

    capsys.readouterr()
    code = main([*args, "--destination", warehouse.name, "--pipelines-dir", str(isolated / "pipelines")])
    out, err = capsys.readouterr()
    return code, out, err


def loaded(warehouse) -> dict:
    """Every account's daily wallet rows in the warehouse: {account: {(period, currency): amount}}."""
    rows = warehouse.query(
        "select account, period, currency, amount from whop.wallet_time_series where query_name = 'daily_all'"
    )
    found: dict = {}
    for account, period, currency, amount in rows:
        found.setdefault(account, {})[(period, currency)] = amount
    return found


def wallet_truth(sandbox, start: dt.date, end: dt.date, account_id: str) -> dict:
    """The sandbox's daily wallet totals of one account: {(period, currency): amount}."""
    totals = sandbox.by_name["whop"].wallet_totals(start, end, "day", account=account_id)
    return {key: amount for key, (amount, _n) in totals.items()}


def first_day_asked(sandbox) -> dict:
    """The earliest `from` the sandbox was asked for, per account it was asked about."""
    asked: dict = {}
    for request in sandbox.seen(SERIES):
        account, day = request.arg("account_id"), dt.date.fromisoformat(request.arg("from"))
        asked[account] = min(day, asked.get(account, day))
    return asked
