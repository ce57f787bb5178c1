"""The operator's commands against the sandbox: check, status, reset, describe, run selection,
progress, the JSON summary, the sandbox banner, did-you-mean and the unreachable-host message."""

import datetime as dt
import json
import os
import re
import shlex
import shutil

import pytest
from metricsync.cli import main
from support import ROOT, Warehouse
from support.operator import START, TODAY, WALLET, point_all_at_sandbox
from support.processes import run_command


def cli(capsys, *args):
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


def dataset_exists(warehouse, name: str) -> bool:
    if warehouse.name == "duckdb":
        return os.path.exists(warehouse.credentials)
    return bool(warehouse.query(f"select 1 from information_schema.schemata where schema_name = '{name}'"))


# -- check ----------------------------------------------------------------------------------------
PROBES = {  # provider -> the (path, method) of the requests `check` sends: at most two, cheap
    "whop": [("/api/v1/stats/time_series", "GET"), ("/api/v1/stats/metric", "GET")],
    "stripe_analytics": [("/v2/data/analytics/metric_query", "POST")],
    "posthog": [("/api/projects/1/groups_types/", "GET"), ("/api/projects/1/groups_types/0/metrics/", "GET")],
    "statsig": [("/console/v1/metrics/list", "GET")],
}


def test_check_with_good_keys_proves_each_key_with_one_request_and_creates_nothing(
    sandbox, warehouse, capsys, monkeypatch
):
    point_all_at_sandbox(monkeypatch, sandbox)
    code, out, err = cli(capsys, "check", "all", "--destination", warehouse.name)
    assert code == 0, err
    *lines, dbt = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == list(PROBES)
    # no ./transform here: the packaged dbt project, its artifacts in .metricsync/dbt/ (DBT_TARGET_PATH: the test's)
    assert (
        dbt == f"transform: ok - dbt project {ROOT / 'transform'} (packaged with metricsync), artifacts in dbt_target"
    )
    assert lines[0].startswith(f"whop: ok - key accepted, 2 wallet + 2 metric queries, destination {warehouse.name}:")
    assert all(" ok - key accepted" in line for line in lines)
    for provider, probes in PROBES.items():
        seen = [r for r in sandbox.seen("/") if sandbox.by_name[provider].handles(r.path)]
        assert [(r.path, r.method, r.status) for r in seen] == [(*probe, 200) for probe in probes], provider
    assert sandbox.seen("/console/v1/metrics/list")[0].arg("limit") == "1"
    assert sandbox.seen("/api/projects/1/groups_types/0/metrics/")[0].arg("limit") == "1"
    wallet = sandbox.seen("/api/v1/stats/time_series")[0]
    yesterday = TODAY - dt.timedelta(days=1)
    assert (wallet.arg("from"), wallet.arg("group_by")) == (yesterday.isoformat(), "day")
    assert not any(dataset_exists(warehouse, p) for p in PROBES)


@pytest.mark.parametrize("provider", list(PROBES))
def test_check_with_a_bad_key_exits_4_in_one_line_and_creates_nothing(
    sandbox, warehouse, capsys, monkeypatch, provider
):
    point_all_at_sandbox(monkeypatch, sandbox, **{provider: {"api_key": "wrong_key_123456"}})
    code, out, err = cli(capsys, "check", provider, "--destination", warehouse.name)
    assert code == 4, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{provider}: ") and "401" in lines[0], err
    assert "wrong_key_123456" not in out + err
    assert [(r.path, r.method) for r in sandbox.seen("/")] == PROBES[provider][:1]  # stopped at the first
    assert not dataset_exists(warehouse, provider)


def test_check_proves_the_permissions_the_run_needs(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "c.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox, posthog={"api_key": sandbox.by_name["posthog"].no_scope_key})
    code, out, err = cli(capsys, "check", "posthog")
    assert code == 4 and "usage_metric:read" in err and len(err.strip().splitlines()) == 1, err
    assert [r.status for r in sandbox.seen("/")] == [200, 403]


def test_check_reports_bad_config_before_any_request(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "c.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox, whop={"wallet_queries": [{"name": "x", "group_by": "hour"}]})
    code, out, err = cli(capsys, "check", "whop")
    assert code == 2 and "whop: wallet query 'x' has group_by 'hour'" in err
    assert sandbox.seen("/") == []


# -- status ---------------------------------------------------------------------------------------
def status_json(capsys, *args):
    code, out, err = cli(capsys, "status", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_status_json_after_runs_and_on_a_machine_without_the_pipeline_folder(
    sandbox, warehouse, capsys, monkeypatch, isolated
):
    point_all_at_sandbox(monkeypatch, sandbox)
    code, out, err = cli(capsys, "run", "whop", "statsig", "--destination", warehouse.name)
    assert code == 0, err
    entries = status_json(capsys, "whop", "statsig", "--destination", warehouse.name)
    by_key = {(e["provider"], e["resource"], e["query"]): e for e in entries}
    daily = by_key[("whop", "wallet_time_series", "daily")]
    assert daily["loaded_through"] == TODAY.isoformat() and daily["backfill"] is None
    assert (
        daily["rows"]
        == warehouse.query("select count(*) from whop.wallet_time_series where query_name = 'daily'")[0][0]
        > 0
    )
    loaded_on = dt.datetime.now(dt.timezone.utc).date()  # dlt stamps a load by the real clock, not METRICSYNC_TODAY
    assert dt.datetime.fromisoformat(daily["last_loaded_at"]).date() == loaded_on
    values = by_key[("statsig", "metric_values", "metric_values")]
    assert values["rows"] == warehouse.query("select count(*) from statsig.metric_values")[0][0]
    definitions = {(p, r) for p, r, q in by_key if q is None}
    assert {("whop", "wallet_groupings"), ("statsig", "metrics"), ("statsig", "metric_sources")} <= definitions
    assert set(entries[0]) == {
        "provider",
        "account",
        "resource",
        "query",
        "loaded_through",
        "granularity",
        "backfill",
        "rows",
        "last_loaded_at",
        "last_verified",
        "warehouse",
    }
    assert daily["granularity"] == "day" and by_key[("whop", "wallet_time_series", "weekly")]["granularity"] == "week"
    assert {e["account"] for e in entries} == {None}  # no accounts configured

    shutil.rmtree(isolated / "pipelines")  # a fresh machine: only the destination knows
    assert status_json(capsys, "whop", "statsig", "--destination", warehouse.name) == entries
    assert not (isolated / "pipelines").exists()


def duckdb_rows(path, sql: str) -> list:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_a_relative_duckdb_file_is_the_working_directorys_for_run_and_status(sandbox, capsys, monkeypatch, isolated):
    """dlt resolves a relative DuckDB path against the folder the pipeline was first created in;
    run and status both use the working directory's file."""
    point_all_at_sandbox(monkeypatch, sandbox)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "rel.duckdb")
    pipelines = str(isolated / "pipelines")
    for folder in ("first", "second"):
        (isolated / folder).mkdir()
        monkeypatch.chdir(isolated / folder)
        assert main(["run", "posthog", "--pipelines-dir", pipelines]) == 0
        capsys.readouterr()
        assert (isolated / folder / "rel.duckdb").exists()
        assert json.loads(cli(capsys, "status", "posthog", "--json")[1])[0]["rows"] == 3


def test_status_shows_an_interrupted_backfill_and_the_rerun_says_where_it_resumed(
    sandbox, capsys, monkeypatch, isolated
):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "b.duckdb"))
    point_all_at_sandbox(
        monkeypatch, sandbox, whop={"wallet_queries": WALLET[:1], "max_concurrency": 1, "max_attempts": 1}
    )
    first, last = TODAY - dt.timedelta(days=400), TODAY - dt.timedelta(days=30)
    sandbox.add_fault("500", count=1000, path="/api/v1/stats/time_series", after=3)  # reset below
    code, out, err = cli(
        capsys,
        "run",
        "whop",
        "--resources",
        "wallet_time_series",
        "--from",
        first.isoformat(),
        "--to",
        last.isoformat(),
        "--windows-per-load",
        "1",
        "--progress",
        "none",
    )
    assert code == 5, out + err
    sandbox.reset()
    [entry] = status_json(capsys, "whop")
    backfill = entry["backfill"]
    assert (backfill["from"], backfill["to"]) == (first.isoformat(), last.isoformat())
    done = dt.date.fromisoformat(backfill["done_through"])
    assert first < done < last
    days = "select count(*), count(distinct period), max(period) from whop.wallet_time_series"
    assert entry["loaded_through"] is None and entry["rows"] == duckdb_rows(isolated / "b.duckdb", days)[0][0]
    assert duckdb_rows(isolated / "b.duckdb", days)[0][1:] == ((done - first).days + 1, done)

    code, out, err = cli(
        capsys,
        "run",
        "whop",
        "--resources",
        "wallet_time_series",
        "--from",
        first.isoformat(),
        "--to",
        last.isoformat(),
        "--progress",
        "none",
    )
    assert code == 0, err
    assert f"whop: ok - backfill {first}..{last} resumed from {done + dt.timedelta(days=1)}, " in out
    [entry] = status_json(capsys, "whop")
    assert entry["backfill"] is None and entry["rows"] == duckdb_rows(isolated / "b.duckdb", days)[0][0]
    assert duckdb_rows(isolated / "b.duckdb", days)[0][1:] == ((last - first).days + 1, last)


# -- reset ----------------------------------------------------------------------------------------
def test_reset_forgets_a_query_so_the_next_run_reloads_it_from_start_date(sandbox, warehouse, capsys, monkeypatch):
    point_all_at_sandbox(monkeypatch, sandbox)
    assert cli(capsys, "run", "whop", "--destination", warehouse.name)[0] == 0
    daily = "select period, currency, amount from whop.wallet_time_series where query_name = 'daily' order by 1, 2"
    loaded = warehouse.query(daily)
    code, out, err = cli(
        capsys, "reset", "whop", "--queries", "daily", "--drop-rows", "--yes", "--destination", warehouse.name
    )
    assert code == 0, err
    assert out.startswith("whop: reset wallet_time_series/daily (state forgotten, rows deleted)")
    assert warehouse.query("select count(*) from whop.wallet_time_series where query_name = 'daily'") == [(0,)]
    assert [
        e["query"]
        for e in status_json(capsys, "whop", "--destination", warehouse.name)
        if e["resource"] == "wallet_time_series"
    ] == ["weekly"]

    sandbox.clear_log()
    assert cli(capsys, "run", "whop", "--destination", warehouse.name)[0] == 0
    starts = {r.arg("group_by"): r.arg("from") for r in sandbox.seen("/api/v1/stats/time_series")}
    assert starts["day"] == START.isoformat()  # reloaded from start_date
    assert starts["week"] > START.isoformat()  # the other query: only its lookback
    assert warehouse.query(daily) == loaded


def test_reset_of_an_unknown_query_suggests_the_closest(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "r.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox)
    assert cli(capsys, "run", "whop")[0] == 0
    code, out, err = cli(capsys, "reset", "whop", "--queries", "daly", "--yes")
    assert code == 2 and err.strip() == "whop: no loaded query 'daly' - did you mean 'daily'?"


# -- run: selection, progress, JSON ---------------------------------------------------------------
SELECTIONS = [
    pytest.param(["--queries", "weekly"], {"week"}, False, {"wallet_time_series"}, id="one-query"),
    pytest.param(["--resources", "wallet_groupings"], set(), True, {"wallet_groupings"}, id="one-definition"),
    pytest.param(
        ["--resources", "wallet_time_series"],
        {"day", "week"},
        False,
        {"wallet_time_series"},
        id="one-windowed-resource",
    ),
]


@pytest.mark.parametrize("args, group_bys, schema_fetched, tables", SELECTIONS)
def test_run_loads_only_the_selected_resources_and_queries(
    sandbox, capsys, monkeypatch, isolated, args, group_bys, schema_fetched, tables
):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "s.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox)
    code, out, err = cli(capsys, "run", "whop", *args, "--json")
    assert code == 0, err
    [summary] = json.loads(out)
    assert set(summary["rows"]) == tables
    assert {r.arg("group_by") for r in sandbox.seen("/api/v1/stats/time_series")} == group_bys
    assert bool(sandbox.seen("/api/v1/stats/schema")) == schema_fetched
    assert sandbox.seen("/api/v1/stats/metric") == []


def test_run_json_summary_and_closing_line(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "j.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox)
    sandbox.add_fault("429", count=1, path="/console/v1/metrics/values", retry_after=0)
    code, out, err = cli(capsys, "run", "statsig", "--json")
    assert code == 0, err
    [summary] = json.loads(out)
    seen = sandbox.seen("/")
    assert summary["requests"] == len(seen) and summary["retries"] == 1 and summary["throttled"] == 1
    assert (summary["kind"], summary["from"], summary["to"]) == ("incremental", START.isoformat(), TODAY.isoformat())
    assert summary["windows"] == summary["windows_done"] == 21
    # the 429 paces the run, and a paced run may land its first windows early: as many loads as landed
    landed = Warehouse("duckdb", str(isolated / "j.duckdb")).query("select count(*) from statsig._dlt_loads")[0][0]
    assert summary["loads"] == landed >= 1 and summary["ok"] and summary["exit_code"] == 0
    assert summary["rows"]["metric_values"] == sum(
        len(sandbox.by_name["statsig"].values_for(START + dt.timedelta(days=d))) for d in range(21)
    )

    code, out, err = cli(capsys, "run", "statsig")
    assert re.fullmatch(
        rf"statsig: ok - incremental {TODAY - dt.timedelta(days=3)}\.\.{TODAY}, 4 windows, "
        r"\d+ requests, rows: .*metric_values \d+.*; 1 load, \d+\.\ds\n",
        out,
    ), out


def test_progress_log_mode_writes_status_lines(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "p.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox, statsig={"max_concurrency": 1})
    sandbox.latency = 0.05
    code, out, err = cli(capsys, "run", "statsig", "--progress", "log", "--progress-interval", "0.1")
    assert code == 0, err
    lines = err.strip().splitlines()
    pattern = (
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d statsig: (\d+)/21 windows, \d+ requests "
        r"\(\d+ retried, \d+ 429s\), \d+ rows, ETA (\d+s|\?)"
    )
    assert lines and all(re.fullmatch(pattern, line) for line in lines), err
    done = [int(re.fullmatch(pattern, line).group(1)) for line in lines]
    assert done == sorted(done)


# -- describe, sandbox banner, options ------------------------------------------------------------
def test_describe_lists_tables_settings_env_names_and_queries(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "d.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox)
    assert cli(capsys, "run", "whop")[0] == 0
    code, out, err = cli(capsys, "describe", "whop", "stripe_analytics")
    assert code == 0, err
    assert re.search(
        r"wallet_time_series: merge( \(delete-insert\))?, key query_name, period, currency"
        r"(, merge key query_name, period)?; queries: daily, weekly\n",
        out,
    ), out
    assert re.search(r"columns: .*amount decimal", out)
    assert "wallet_groupings: merge (scd2)" in out
    assert re.search(r"lookback_days\s+-\s+3\s+SOURCES__WHOP__LOOKBACK_DAYS", out)
    assert re.search(r"api_key\s+\(set\)", out) and "whop_sandbox_key" not in out
    assert re.search(
        r"metric_results: merge( \(delete-insert\))?, key query_name, [a-z_, ]+, not in the destination "
        r"yet; queries: "
        r"mrr_by_price, revenue_weekly, subscriptions_monthly_ny",
        out,
    )


def test_sandbox_command_prints_its_url_keys_and_an_export_block_that_works(capsys, monkeypatch, isolated):
    """`sandbox` in its own process: its export block, pasted into the environment, makes
    `check all` pass against it."""
    import signal
    import socket
    import subprocess
    import sys

    from metricsync.sandbox import Sandbox
    from support import ROOT, clock_env
    from support.processes import child_process

    with socket.socket() as probe:  # a free port (the command takes 1-65535)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with child_process(
        [sys.executable, "-m", "metricsync", "sandbox", "--port", str(port)],
        cwd=isolated,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **clock_env()},
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        lines = [server.stdout.readline().rstrip("\n") for _ in range(4)]  # url, keys, hint, empty
        url = f"http://127.0.0.1:{port}"
        assert lines[0] == f"sandbox listening on {url} (Ctrl-C to stop)"
        assert all(e.api_key in lines[1] for e in Sandbox().emulators)
        exports: list = []
        while not exports or exports[-1]:  # the block ends with an empty line
            exports.append(server.stdout.readline().strip())
        exports = exports[:-1]
        for line in exports:
            assert line.startswith("export ")
            name, _, value = line[len("export ") :].partition("=")
            monkeypatch.setenv(name, shlex.split(value)[0])
        assert {line.split("__")[1] for line in exports} == {"WHOP", "STRIPE_ANALYTICS", "POSTHOG", "STATSIG"}
        assert all(url in line for line in exports if "BASE_URL" in line)
        code, out, err = cli(capsys, "check", "all")
        assert code == 0, err
        assert len(out.strip().splitlines()) == 5  # the four providers, then the dbt project

        server.send_signal(signal.SIGTERM)  # as a service manager stops it
        assert server.wait(timeout=60) == 0


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--log-level", "INFO", "--destination", "duckdb", "status", "whop"], id="before"),
        pytest.param(["status", "whop", "--log-level", "INFO", "--destination", "duckdb"], id="after"),
    ],
)
def test_global_options_before_or_after_the_command(capsys, isolated, monkeypatch, argv):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "none.duckdb"))
    assert main(argv) == 0
    assert "whop: nothing loaded yet" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "query", "check", "status", "reset", "describe", "sandbox", "demo"])
def test_every_command_has_help_with_an_example(capsys, command):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert re.search(rf"examples:\n  metricsync {command}\b", out), out


MISTAKES = [
    pytest.param(
        ["run", "stripe"], "metricsync: unknown provider 'stripe' - did you mean 'stripe_analytics'?", id="provider"
    ),
    pytest.param(
        ["check", "posthgo"], "metricsync: unknown provider 'posthgo' - did you mean 'posthog'?", id="provider-in-check"
    ),
    pytest.param(
        ["run", "whop", "--queries", "weekley"], "whop: no query 'weekley' - did you mean 'weekly'?", id="query"
    ),
    pytest.param(
        ["run", "whop", "--resources", "wallet_timeseries"],
        "whop: no resource 'wallet_timeseries' - did you mean 'wallet_time_series'?",
        id="resource",
    ),
]


@pytest.mark.parametrize("argv, message", MISTAKES)
def test_a_misspelt_name_suggests_the_closest(sandbox, capsys, monkeypatch, isolated, argv, message):
    point_all_at_sandbox(monkeypatch, sandbox)
    code, out, err = cli(capsys, *argv)
    assert code == 2 and err.strip() == message
    assert sandbox.seen("/") == []


@pytest.mark.parametrize(
    "base_url, host",
    [
        pytest.param("http://127.0.0.1:9/api/v1", "127.0.0.1", id="refused"),
        pytest.param("https://no-such-host.invalid/api/v1", "no-such-host.invalid", id="dns"),
    ],
)
@pytest.mark.parametrize("command", ["run", "check"])
def test_an_unreachable_host_is_named_with_the_setting_to_check(
    sandbox, capsys, monkeypatch, isolated, base_url, host, command
):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "u.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox, whop={"base_url": base_url, "max_attempts": 2})
    code, out, err = cli(capsys, command, "whop")
    assert code == 5
    assert err.strip() == f"whop: cannot reach {host} - check sources.whop.base_url"


def test_the_readme_cron_line_works_as_written(sandbox, isolated):
    """The README's crontab command, run by /bin/sh from a folder holding `.env` (made from
    `.env.example` with the sandbox's settings) and the project's `.venv`."""
    from support import ROOT, clock_env, require

    script = ROOT / ".venv" / "bin" / "metricsync"
    require(
        "METRICSYNC_REQUIRE_VENV",
        None if script.exists() else f"no {script}",
        "the console script `make install` puts in .venv",
    )
    line = re.search(r"```cron\n(.+?)\n```", (ROOT / "docs" / "getting-started.md").read_text(), re.S).group(1)
    command = line.split(None, 5)[5]  # after the five schedule fields
    workdir = isolated / "opt"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    env_file = [line for line in (ROOT / ".env.example").read_text().splitlines() if not line.startswith("SOURCES__")]
    for emulator in sandbox.emulators:
        settings = emulator.demo_settings(sandbox.url)
        if "start_date" in settings:
            settings["start_date"] = START.isoformat()
        for key, value in settings.items():
            text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
            env_file.append(f"SOURCES__{emulator.name.upper()}__{key.upper()}={shlex.quote(text)}")
    (workdir / ".env").write_text("\n".join(env_file) + "\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(isolated),
        "DLT_DATA_DIR": str(isolated / "dlt_data"),
        "DBT_TARGET_PATH": os.environ["DBT_TARGET_PATH"],
        "DBT_LOG_PATH": os.environ["DBT_LOG_PATH"],  # not the repo's
        **clock_env(),
    }  # a cron line's environment, but on the suite's date
    done = run_command(
        ["/bin/sh", "-c", command.replace("/opt/metricsync", str(workdir))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = (workdir / "sync.log").read_text()
    assert done.returncode == 0, log
    assert [line.split(" - ")[0] for line in log.splitlines() if " ok - " in line][-1] == "transform: ok"
    stamped = [
        re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC run ([0-9a-f]{16}) (\w+): ok - ", line)
        for line in log.splitlines()
        if " ok - " in line
    ][:-1]
    assert [m.group(3) for m in stamped if m] == ["whop", "stripe_analytics", "posthog", "statsig"], log
    assert all(dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").date() >= START for m in stamped)
    recorded = Warehouse("duckdb", str(workdir / "metricsync.duckdb")).query(
        "select distinct run_id from metricsync_history.runs where command = 'run'"
    )
    assert {m.group(2) for m in stamped} == {r[0] for r in recorded}  # one run id, the history's
    assert (workdir / "metricsync.duckdb").exists()
    report = workdir / "report.html"  # refreshed after the transform (docs/report.md)
    assert f"report: wrote {report}" in log.splitlines()
    assert "Monthly recurring revenue (Stripe)" in report.read_text() and 'class="failed"' not in report.read_text()


def test_switching_destination_leaves_no_state_warning(sandbox, capsys, monkeypatch, isolated):
    """dlt warns that the destination in the local state differs after `--destination` changes;
    that is expected here (one state per destination), so it only shows at DEBUG, in our format.
    Separate processes, as a scheduler runs them (dlt sets its logger up once per process)."""
    import subprocess
    import sys

    from support import ROOT, postgres_database

    with postgres_database() as credentials:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", credentials)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "w.duckdb"))
        point_all_at_sandbox(monkeypatch, sandbox)

        def run(*args: str) -> subprocess.CompletedProcess:
            return run_command(
                [sys.executable, "-m", "metricsync", "run", "posthog", "--pipelines-dir", "p", *args],
                cwd=isolated,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=300,
            )

        assert run().returncode == 0
        switched = run("--destination", "postgres")
        assert switched.returncode == 0 and switched.stderr == "", switched.stderr
        debug = run("--log-level", "DEBUG")
        assert debug.returncode == 0
        # each destination has its own pipeline (whop__duckdb, whop__postgres): no state to differ at all
        assert "in state differs" not in debug.stderr, debug.stderr[-3000:]


def test_progress_bar_mode_draws_a_bar_per_provider(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "bar.duckdb"))
    point_all_at_sandbox(monkeypatch, sandbox)
    code, out, err = cli(capsys, "run", "statsig", "posthog", "--progress", "bar")
    assert code == 0, err
    assert re.search(r"statsig .*21/21 windows \d+ req, 0 retried, 0 429s, \d+ rows", err), err
    assert re.search(r"posthog .*0/0 +windows 6 req, 0 retried, 0 429s, 0 rows", err), err
    assert [line.split(":")[0] for line in out.splitlines()] == ["statsig", "posthog"]
