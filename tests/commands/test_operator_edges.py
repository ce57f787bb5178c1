"""What an operator does that the APIs never show: backfills cut mid-period, ranges before the data
starts, misspelt provider sections and keys. Each case runs the real command against the sandbox
and checks the warehouse against the sandbox's own truth."""

import datetime as dt
from decimal import Decimal

import pytest
import support.stripe as stripe
from metricsync.cli import main
from metricsync.sandbox.whop import LINE_CATEGORIES
from support import configure
from support import today as clock_today

MONTHLY_GROSS = {"name": "monthly_gross", "group_by": "month", "reporting_category": "gross_income"}
WEEKLY = {"name": "weekly", "group_by": "week"}
GROSS_LINES = sorted(k for k, v in LINE_CATEGORIES.items() if "gross_income" in v[1])


def cli(capsys, *args):
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


def whop_setup(monkeypatch, sandbox, **settings):
    configure(
        monkeypatch,
        "whop",
        **{
            "api_key": "whop_sandbox_key",
            "base_url": f"{sandbox.url}/api/v1",
            "wallet_queries": [MONTHLY_GROSS, WEEKLY],
            **settings,
        },
    )


def whop_loaded(warehouse, name):
    rows = warehouse.query(
        f"select period, currency, amount, line_count from whop.wallet_time_series where query_name = '{name}'"
    )
    return {(r[0], r[1]): (Decimal(r[2]), r[3]) for r in rows}


# -- 1: a backfill cut inside a period is widened to whole periods -------------------------------------
def test_whop_backfill_ending_mid_period_keeps_whole_periods(sandbox, warehouse, capsys, monkeypatch):
    whop_setup(monkeypatch, sandbox)
    emulator = sandbox.by_name["whop"]
    code, out, err = cli(
        capsys, "run", "whop", "--from", "2025-05-01", "--to", "2025-07-31", "--destination", warehouse.name
    )
    assert code == 0, err
    code, out, err = cli(
        capsys, "run", "whop", "--from", "2025-05-01", "--to", "2025-06-15", "--destination", warehouse.name
    )
    assert code == 0, err
    assert "--to 2025-06-15 widened to 2025-06-30 for monthly_gross" in out
    assert "--to 2025-06-15 widened to 2025-06-15" not in out
    # 2025-06-15 is a Sunday: the weekly query's week ends there, nothing to widen
    assert "for monthly_gross, weekly" not in out
    june = dt.date(2025, 6, 1)
    truth = emulator.wallet_totals(dt.date(2025, 5, 1), dt.date(2025, 7, 31), "month", GROSS_LINES)
    loaded = whop_loaded(warehouse, "monthly_gross")
    assert loaded == truth
    assert {k for k in loaded if k[0] == june}  # June is there, whole
    code, out, err = cli(
        capsys, "run", "whop", "--from", "2025-05-14", "--to", "2025-06-18", "--destination", warehouse.name
    )
    assert code == 0, err
    assert "--from 2025-05-14 widened to 2025-05-01 for monthly_gross" in out
    assert "--from 2025-05-14 widened to 2025-05-12 for weekly" in out
    assert "--to 2025-06-18 widened to 2025-06-22 for weekly" in out
    assert whop_loaded(warehouse, "monthly_gross") == truth
    assert whop_loaded(warehouse, "weekly") == emulator.wallet_totals(dt.date(2025, 4, 28), dt.date(2025, 8, 3), "week")


def test_stripe_weekly_backfill_ending_mid_week_keeps_whole_weeks(sandbox, warehouse, capsys, monkeypatch):
    stripe.setup(monkeypatch, sandbox, [stripe.WEEKLY])
    code, out, err = cli(
        capsys, "run", "stripe_analytics", "--from", "2025-05-05", "--to", "2025-06-29", "--destination", warehouse.name
    )
    assert code == 0, err
    code, out, err = cli(
        capsys, "run", "stripe_analytics", "--from", "2025-05-07", "--to", "2025-06-18", "--destination", warehouse.name
    )
    assert code == 0, err
    assert (
        "--from 2025-05-07 widened to 2025-05-05 for revenue_weekly; --to 2025-06-18 widened to 2025-06-22 "
        "for revenue_weekly" in out
    )
    end = dt.datetime(2025, 6, 30, tzinfo=dt.timezone.utc)
    assert stripe.loaded(warehouse, "revenue_weekly") == stripe.expected(
        sandbox, stripe.WEEKLY, dt.date(2025, 5, 5), end
    )


# -- 5: a range with no data loads nothing and exits 0, for every provider ------------------------------
WINDOWED = {
    "whop": ("wallet_time_series", "metric_results"),
    "stripe_analytics": ("metric_results",),
    "statsig": ("metric_values",),
}


def test_a_backfill_before_the_data_starts_loads_nothing_and_exits_0(sandbox, warehouse, capsys, monkeypatch):
    from support.operator import point_all_at_sandbox

    point_all_at_sandbox(monkeypatch, sandbox)
    code, out, err = cli(
        capsys,
        "run",
        "all",
        "--from",
        "2021-11-01",
        "--to",
        "2021-12-26",  # a Sunday: no week reaches 2022
        "--destination",
        warehouse.name,
    )
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == ["whop", "stripe_analytics", "posthog", "statsig"]
    for provider, tables in WINDOWED.items():
        present = warehouse.tables(provider)
        for table in tables:
            assert table not in present or warehouse.query(f"select count(*) from {provider}.{table}") == [(0,)]
    assert sandbox.seen("/v2/data/analytics/metric_query")  # the range was asked for, and answered empty


# -- 4: a misspelt provider section or a missing key fails, never skips silently ---------------------------
@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    "variable, message",
    [
        (
            "SOURCES__STRIPE__API_KEY",
            "metricsync: unknown provider stripe in SOURCES__STRIPE__API_KEY - did you mean stripe_analytics?",
        ),
        (
            "SOURCES__STATSIGG__API_KEY",
            "metricsync: unknown provider statsigg in SOURCES__STATSIGG__API_KEY - did you mean statsig?",
        ),
    ],
)
def test_a_misspelt_provider_section_exits_2_with_a_did_you_mean(
    sandbox, capsys, monkeypatch, command, variable, message
):
    stripe.setup(monkeypatch, sandbox, [stripe.WEEKLY], api_key=None)
    monkeypatch.setenv(variable, stripe.KEY)
    code, out, err = cli(capsys, command, "all")
    assert (code, out, err.strip()) == (2, "", message)
    assert sandbox.seen("/") == []


def test_a_misspelt_section_in_toml_exits_2(sandbox, capsys, isolated):
    from support.config import reload_config, write_toml

    write_toml(isolated / ".dlt" / "config.toml", "[sources.posthgo]\nproject_id = [1]\n")
    try:
        code, out, err = cli(capsys, "run", "all")
    finally:
        (isolated / ".dlt" / "config.toml").unlink()
        reload_config()
    assert code == 2
    assert (
        err.strip()
        == "metricsync: unknown provider posthgo in [sources.posthgo] in config.toml - did you mean posthog?"
    )


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_provider_with_settings_but_no_key_fails_all_in_one_line(sandbox, capsys, monkeypatch, command):
    whop_setup(monkeypatch, sandbox, start_date="2026-11-01")
    stripe.setup(monkeypatch, sandbox, [stripe.WEEKLY], api_key=None)
    code, out, err = cli(capsys, command, "all")
    assert code == 2
    assert out.startswith("whop: ok")
    assert err.strip().splitlines() == [
        "stripe_analytics: missing configuration api_key - set SOURCES__STRIPE_ANALYTICS__API_KEY"
    ]
    assert not [r for r in sandbox.seen("/") if r.path.startswith("/v2/")]


# -- 10: a column keeps its type across loads ----------------------------------------------------------
def test_whop_values_sent_as_text_load_exactly_into_the_same_column(sandbox, warehouse, run, monkeypatch):
    import support.whop as whop

    query = whop.METRIC_QUERIES[0]  # daily gross revenue by country
    whop.setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=[query])
    emulator = sandbox.by_name["whop"]
    emulator.settings["extra_column"] = "refund_value"
    assert run("whop", warehouse).ok
    emulator.settings["numbers_as_text"] = True  # "123.45" from now on
    sandbox.revise(days=2)
    result = run("whop", warehouse)
    assert result.ok, result.message
    assert whop.loaded_metric(warehouse, query["name"]) == whop.expected_metric(emulator, query)
    columns = {
        r[0]
        for r in warehouse.query(
            "select column_name from information_schema.columns where "
            "table_schema = 'whop' and table_name = 'metric_results'"
        )
    }
    assert {"value", "refund_value"} <= columns and not [c for c in columns if "__v_" in c]
    assert warehouse.query("select count(*) from whop.metric_results where refund_value is null") == [(0,)]


def test_a_value_that_is_no_number_fails_the_query_naming_the_column(sandbox, warehouse, run, monkeypatch):
    import support.whop as whop

    whop.setup_whop(monkeypatch, sandbox, wallet_queries=None, metric_queries=whop.METRIC_QUERIES[1:2])
    emulator = sandbox.by_name["whop"]
    emulator.settings["extra_column"] = "refund_value"
    assert run("whop", warehouse).ok
    before = warehouse.query("select period, value, refund_value from whop.metric_results order by period")
    emulator.settings["extra_text"] = "n/a"
    sandbox.revise(days=1)
    result = run("whop", warehouse)
    assert result.exit_code == 3
    assert result.message.startswith("whop: query 'users_weekly' period ")
    assert (
        " failed (HTTP 200): table metric_results: column 'refund_value' is decimal in the warehouse but the API "
        "sent 'n/a'" in result.message
    )
    assert warehouse.query("select period, value, refund_value from whop.metric_results order by period") == before


# -- 9: check and status name the dataset that run writes ------------------------------------------------
@pytest.mark.parametrize(
    "settings, dataset",
    [
        pytest.param({"DATASET_PREFIX": "metrics_"}, "metrics_statsig", id="dataset-prefix"),
        pytest.param({"SOURCES__STATSIG__DATASET_NAME": "product_stats"}, "product_stats", id="dataset-name"),
    ],
)
def test_check_and_status_name_the_dataset_run_writes(sandbox, warehouse, capsys, monkeypatch, settings, dataset):
    from support.statsig import setup as setup_statsig

    setup_statsig(monkeypatch, sandbox, 3)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    code, out, err = cli(capsys, "check", "statsig", "--destination", warehouse.name)
    assert code == 0, err
    assert out.rstrip().endswith(f"(dataset {dataset} not created yet)")
    code, out, err = cli(capsys, "status", "statsig", "--destination", warehouse.name)
    assert out.rstrip().endswith(f"(dataset {dataset})")
    code, out, err = cli(capsys, "run", "statsig", "--destination", warehouse.name)
    assert code == 0, err
    code, out, err = cli(capsys, "check", "statsig", "--destination", warehouse.name)
    assert out.rstrip().endswith(f"(dataset {dataset})")
    code, out, err = cli(capsys, "status", "statsig", "--destination", warehouse.name)
    head, *entries = out.splitlines()
    assert f", dataset {dataset} in {warehouse.name}:" in head and head.endswith(")")  # and which warehouse
    loaded = warehouse.query(f"select count(*) from {dataset}.metric_values")[0][0]
    assert "  metric_values / metric_values: loaded through " in entries[0] and entries[0].endswith(f", {loaded} rows")


# -- 8: accounts added to a provider that already has a dataset ------------------------------------------
def test_accounts_added_to_a_dataset_loaded_without_them_are_refused(sandbox, warehouse, capsys, monkeypatch):
    whop_setup(monkeypatch, sandbox, start_date="2026-10-01")
    code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
    assert code == 0, err
    before = warehouse.query("select query_name, period, currency, amount from whop.wallet_time_series")
    configure(monkeypatch, "whop", accounts=[{"name": "north", "account_id": "biz_north"}])
    refusal = (
        "accounts are configured but dataset whop was loaded without them (table wallet_groupings has no "
        "account column) - set sources.whop.dataset_name to a new dataset, or run `metricsync reset whop "
        f"--drop-rows --destination {warehouse.name}` first"
    )
    code, out, err = cli(capsys, "check", "whop", "--destination", warehouse.name)
    assert (code, err.strip()) == (2, f"whop (account north): {refusal}")
    sandbox.clear_log()
    code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
    assert code == 2
    assert err.splitlines()[0] == f"whop (account north): {refusal}"
    assert not sandbox.seen("/api/v1/stats/time_series")
    assert warehouse.query("select query_name, period, currency, amount from whop.wallet_time_series") == before
    monkeypatch.setenv("SOURCES__WHOP__DATASET_NAME", "whop_accounts")  # the first way out
    code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
    assert code == 0, err
    assert warehouse.query("select distinct account from whop_accounts.wallet_time_series") == [("north",)]


# -- 11: a normal run prints only its closing lines -----------------------------------------------------
@pytest.mark.parametrize("sql_warehouse", ["duckdb", "mariadb"], indirect=True)
def test_a_normal_run_of_all_four_providers_prints_only_the_closing_lines(
    sandbox, sql_warehouse, isolated, monkeypatch
):
    """Whop with two accounts (whose pages used to make dlt warn about column hints), on DuckDB and
    on MariaDB (which used to print a SQLAlchemy warning; Postgres logs as DuckDB does), in a
    process of its own as cron runs it."""
    import os
    import subprocess
    import sys

    from support import ROOT
    from support.operator import point_all_at_sandbox

    point_all_at_sandbox(
        monkeypatch,
        sandbox,
        whop={"accounts": [{"name": "north", "account_id": "biz_north"}, {"name": "south", "account_id": "biz_south"}]},
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "metricsync",
            "run",
            "all",
            "--progress",
            "none",
            "--destination",
            sql_warehouse.name,
            "--pipelines-dir",
            str(isolated / "pipelines"),
        ],
        cwd=isolated,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [
        "whop (account north)",
        "whop (account south)",
        "whop",
        "stripe_analytics",
        "posthog",
        "statsig",
    ]


# -- 2: weeks as the API labels them ---------------------------------------------------------------------
def test_sunday_weeks_are_learned_from_the_first_answer_and_loaded_whole(sandbox, warehouse, run, monkeypatch):
    emulator = sandbox.by_name["whop"]
    emulator.settings["week_start"] = "sunday"
    whop_setup(monkeypatch, sandbox, wallet_queries=[WEEKLY])
    today = clock_today()
    first = today - dt.timedelta(days=400)
    result = run("whop", warehouse, backfill=(first, today))
    assert result.ok, result.message
    sunday = first - dt.timedelta(days=(first.weekday() + 1) % 7)
    assert whop_loaded(warehouse, "weekly") == emulator.wallet_totals(sunday, today, "week")
    asked = [dt.date.fromisoformat(r.arg("from")) for r in sandbox.seen("/api/v1/stats/time_series")]
    mondays = [day for day in asked if day.weekday() == 0]  # cut before the first answer came: not loaded
    assert len(mondays) <= 4 and sorted(set(asked) - set(mondays))[0] == sunday
    assert {day.weekday() for day in asked} == {0, 6}
    sandbox.clear_log()
    sandbox.revise(days=2)
    nightly = run("whop", warehouse, backfill=(today - dt.timedelta(days=20), today))
    assert nightly.ok, nightly.message
    assert {dt.date.fromisoformat(r.arg("from")).weekday() for r in sandbox.seen("/api/v1/stats/time_series")} == {6}
    assert whop_loaded(warehouse, "weekly") == emulator.wallet_totals(sunday, today, "week")


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_a_week_labelled_neither_monday_nor_sunday_fails_the_query(sandbox, warehouse, run, monkeypatch):
    sandbox.by_name["whop"].settings["week_start"] = "wednesday"
    whop_setup(monkeypatch, sandbox, wallet_queries=[WEEKLY], start_date="2026-09-01")
    result = run("whop", warehouse)
    assert result.exit_code == 3
    assert "query 'weekly' failed (HTTP 200): a week is labelled " in result.message
    assert "neither a Monday nor a Sunday" in result.message


def test_the_widening_sample_in_the_docstring_holds():
    import doctest

    from metricsync.sources._common.load import windows

    assert doctest.testmod(windows).failed == 0


@pytest.mark.parametrize(
    "sent, loads",
    [
        pytest.param("9000", 9000, id="integer-as-text"),
        pytest.param(9000.0, 9000, id="integral-float"),
        pytest.param("12.5", None, id="fraction-of-a-minor-unit"),
        pytest.param("n/a", None, id="no-number"),
    ],
)
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)  # a source's conversion, before any warehouse
def test_stripe_values_keep_their_integer_type(sandbox, warehouse, run, monkeypatch, sent, loads):
    """Stripe values are integers (minor units, counts): text or an integral float loads exactly; a
    fraction is never truncated and no number is never guessed - the query fails with exit 3."""
    stripe.setup(monkeypatch, sandbox, [stripe.DAILY_BY_PRICE], days=5)
    sandbox.by_name["stripe_analytics"].settings["fixed_values"] = {"usd": sent}
    result = run("stripe_analytics", warehouse)
    if loads is None:
        assert result.exit_code == 3
        assert result.message.startswith("stripe_analytics: query 'mrr_by_price' period ")
        assert f" failed (HTTP 200): field 'value' is {sent!r}: " in result.message
        return
    assert result.ok, result.message
    assert warehouse.query("select distinct value from stripe_analytics.metric_results") == [(loads,)]
