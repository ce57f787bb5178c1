"""README behaviours that had no test: plain `status`, `reset` (without `--drop-rows`, by
resource, its confirmation prompt), `run all` past a failed provider and exit code 1, `--transform`
skipped after a failed load, `--progress auto`, the Whop net revenue mart and the `md:` guard end to
end.

Most start from `loaded_duckdb`: this test's copy of one warehouse loaded (and dbt built) once per
session, so each costs at most an incremental run.
"""

import datetime as dt
import os
import re
import sys

import pytest
from metricsync.cli import main
from metricsync.sandbox.whop import LINE_CATEGORIES
from support import LOADED_DAYS, ROOT, today
from support.processes import child_process, run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=LOADED_DAYS)
WALLET = "/api/v1/stats/time_series"


def cli(capsys, *args):
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


def daily_rows(warehouse) -> int:
    return warehouse.query("select count(*) from whop.wallet_time_series where query_name = 'daily_all'")[0][0]


# -- status ---------------------------------------------------------------------------------------
def test_plain_status_names_each_query_its_cursor_and_rows(loaded_duckdb, capsys):
    code, out, err = cli(capsys, "status", "whop", "statsig")
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(
        r"whop: last load \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(loaded, load id [\d.]+, dataset whop "
        rf"in duckdb:{re.escape(loaded_duckdb.credentials)}\)",
        lines[0],
    )
    rows = dict(loaded_duckdb.query("select query_name, count(*) from whop.wallet_time_series group by 1"))
    for name in ("daily_all", "weekly_usd", "monthly_gross", "monthly_net"):
        assert f"  wallet_time_series / {name}: loaded through {TODAY}, {rows[name]} rows" in lines, out
    for table in ("wallet_reporting_categories", "wallet_groupings", "wallet_line_categories"):
        count = loaded_duckdb.query(f"select count(*) from whop.{table}")[0][0]
        assert f"  {table}: {count} rows" in lines
    statsig = lines.index(next(line for line in lines if line.startswith("statsig: last load ")))
    values = loaded_duckdb.query("select count(*) from statsig.metric_values")[0][0]
    assert f"  metric_values / metric_values: loaded through {TODAY}, {values} rows" in lines[statsig:]


# -- reset ----------------------------------------------------------------------------------------
def test_reset_without_drop_rows_keeps_rows_and_the_next_run_reloads_from_start_date(loaded_duckdb, sandbox, capsys):
    before = daily_rows(loaded_duckdb)
    code, out, err = cli(capsys, "reset", "whop", "--queries", "daily_all", "--yes")
    assert (code, err) == (0, "")
    assert out.strip() == (
        "whop: reset wallet_time_series/daily_all (state forgotten, rows kept) - the next run reloads from start_date"
    )
    assert daily_rows(loaded_duckdb) == before
    code, out, err = cli(capsys, "run", "whop", "--queries", "daily_all", "--progress", "none")
    assert code == 0, err
    assert {(r.arg("from"), r.arg("to")) for r in sandbox.seen(WALLET)} == {(str(START), str(TODAY))}
    assert daily_rows(loaded_duckdb) == before  # merged again, not added twice


def test_reset_by_resource_with_drop_rows_drops_its_table(loaded_duckdb, sandbox, capsys):
    code, out, err = cli(capsys, "reset", "whop", "--resources", "wallet_time_series", "--drop-rows", "--yes")
    assert code == 0, err
    assert out.strip() == (
        "whop: reset wallet_time_series (state forgotten, rows deleted) - the next run reloads from start_date"
    )
    assert "wallet_time_series" not in loaded_duckdb.tables("whop")
    assert loaded_duckdb.query("select count(*) from whop.metric_results")[0][0] > 0  # the other resource stays
    code, out, err = cli(capsys, "run", "whop", "--resources", "wallet_time_series", "--progress", "none")
    assert code == 0, err
    assert {r.arg("from") for r in sandbox.seen(WALLET) if r.arg("group_by") == "day"} == {str(START)}
    assert daily_rows(loaded_duckdb) > 0


@pytest.mark.parametrize(
    "answer, code, reset", [pytest.param("n", 2, False, id="no"), pytest.param("y", 0, True, id="yes")]
)
def test_reset_asks_on_a_terminal(loaded_duckdb, isolated, answer, code, reset):
    """On a terminal (a pty here), `reset` without `--yes` asks, and only `y` resets."""
    import pty

    before = daily_rows(loaded_duckdb)
    primary, secondary = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "metricsync",
        "reset",
        "whop",
        "--queries",
        "daily_all",
        "--drop-rows",
        "--pipelines-dir",
        "pipelines",
    ]
    try:
        with child_process(
            command,
            cwd=isolated,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
        ) as child:
            os.close(secondary)
            seen = b""
            while b"[y/N]" not in seen:
                seen += os.read(primary, 1024)
            assert b"reset whop: wallet_time_series/daily_all (state forgotten, rows deleted)? [y/N]" in seen
            os.write(primary, f"{answer}\n".encode())
            assert child.wait(timeout=120) == code
    finally:
        os.close(primary)
    assert daily_rows(loaded_duckdb) == (0 if reset else before)


# -- run all --------------------------------------------------------------------------------------
def test_run_all_goes_on_past_failed_providers_and_exits_1_when_kinds_differ(
    loaded_duckdb, sandbox, capsys, monkeypatch
):
    monkeypatch.setenv("SOURCES__WHOP__API_KEY", "bad_key_0000")  # 401: exit 4
    monkeypatch.setenv("SOURCES__STATSIG__BASE_URL", "http://127.0.0.1:9")  # unreachable: exit 5
    monkeypatch.setenv("SOURCES__STATSIG__MAX_ATTEMPTS", "1")
    code, out, err = cli(capsys, "run", "all", "--progress", "none")
    assert code == 1
    assert [line.split(" - ")[0] for line in out.splitlines()] == ["stripe_analytics: ok", "posthog: ok"]
    failed = err.strip().splitlines()
    assert len(failed) == 2, err
    assert failed[0].startswith("whop: ") and "HTTP 401" in failed[0] and "bad_key_0000" not in err
    assert failed[1] == "statsig: cannot reach 127.0.0.1 - check sources.statsig.base_url"


def test_one_failed_provider_gives_its_own_code_and_transform_is_skipped(loaded_duckdb, sandbox, capsys, monkeypatch):
    monkeypatch.setenv("SOURCES__WHOP__API_KEY", "bad_key_0000")
    built = loaded_duckdb.query("select max(loaded_at), count(*) from metrics.fct_metric_values")
    code, out, err = cli(capsys, "run", "all", "--transform", "--progress", "none")
    assert code == 4, err
    assert "transform" not in out + err
    assert [line.split(" - ")[0] for line in out.splitlines()] == ["stripe_analytics: ok", "posthog: ok", "statsig: ok"]
    assert loaded_duckdb.query("select max(loaded_at), count(*) from metrics.fct_metric_values") == built


# -- progress -------------------------------------------------------------------------------------
def test_progress_auto_logs_lines_when_stderr_is_not_a_terminal(loaded_duckdb, sandbox, isolated):
    done = run_command(
        [sys.executable, "-m", "metricsync", "run", "statsig", "--progress", "auto", "--pipelines-dir", "pipelines"],
        cwd=isolated,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr  # no bar drawn into a log file
    assert done.stdout.startswith("statsig: ok - ")


# -- marts ----------------------------------------------------------------------------------------
def test_whop_wallet_net_revenue_monthly_is_the_net_income_lines_per_month(loaded_duckdb, sandbox):
    lines = [k for k in sorted(LINE_CATEGORIES) if "net_income" in LINE_CATEGORIES[k][1]]
    truth = sandbox.by_name["whop"].wallet_totals(START.replace(day=1), TODAY, "month", lines)
    rows = loaded_duckdb.query(
        "select series, month, currency, net_revenue, line_count from metrics.fct_whop_wallet_net_revenue_monthly"
    )
    assert {r[0] for r in rows} == {"monthly_net"}  # only the query filtered to net_income
    assert {(month, currency): (amount, count) for _s, month, currency, amount, count in rows} == truth


# -- md: --------------------------------------------------------------------------------------------
def test_an_md_path_never_becomes_a_local_file_and_its_token_is_never_printed(sandbox, isolated, monkeypatch):
    from support import loaded_settings

    token = "secret_md_token_123"
    env = {
        **os.environ,
        **loaded_settings(sandbox),
        "PYTHONPATH": str(ROOT),
        "DESTINATION__DUCKDB__CREDENTIALS": f"md:analytics?motherduck_token={token}",
    }
    done = run_command(
        [sys.executable, "-m", "metricsync", "run", "posthog", "--progress", "none", "--pipelines-dir", "pipelines"],
        cwd=isolated,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0  # no MotherDuck here: it must fail, not load into a local file
    assert token not in done.stdout + done.stderr
    named = [os.path.join(d, f) for d, dirs, files in os.walk(isolated) for f in dirs + files]
    assert named and not [path for path in named if token in path or "md:" in path or "analytics" in path]
    assert "posthog__motherduck" in os.listdir(isolated / "pipelines")
