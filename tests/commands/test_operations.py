"""Operations: the run history in the warehouse, `history`, alerts through Apprise (`json://` to a
loopback HTTP server), `--metrics-file`, against the sandbox and real warehouses."""

import datetime as dt
import http.server
import json
import threading

import pytest
from metricsync.cli import main
from support import Warehouse, configure, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
DAILY = [{"name": "daily", "group_by": "day"}]
BAD_KEY = "revoked_key_4711"


class Hooks(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    """A loopback JSON webhook; `alerts.urls` points at it; yields the list of bodies received."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALERTS__URLS", json.dumps([f"json://127.0.0.1:{server.server_port}/hook"]))
    yield server.received
    server.shutdown()
    server.server_close()


def whop(monkeypatch, sandbox, **settings):
    configure(
        monkeypatch,
        "whop",
        **{
            "api_key": sandbox.by_name["whop"].api_key,
            "base_url": f"{sandbox.url}/api/v1",
            "start_date": (TODAY - dt.timedelta(days=3)).isoformat(),
            "wallet_queries": DAILY,
            "metric_queries": [],
            **settings,
        },
    )


def cli(capsys, *args):
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


def runs(warehouse) -> list[tuple]:
    return warehouse.query(
        "select command, provider, exit_code, outcome, message, table_rows, arguments "
        "from metricsync_history.runs order by finished_at"
    )


def test_failures_are_recorded_and_alerted_once_per_streak_and_the_recovery_once(
    sandbox, warehouse, webhook, monkeypatch, capsys
):
    whop(monkeypatch, sandbox, api_key=BAD_KEY)
    for night in (1, 2):
        code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
        assert code == 4, err
    assert len(webhook) == 1  # the streak's first failure only
    assert webhook[0]["title"] == "metricsync: whop failed (exit 4, authentication or permission)"
    assert "provider whop, account -, command run, exit 4" in webhook[0]["message"]
    assert BAD_KEY not in json.dumps(webhook)
    code, out, err = cli(capsys, "status", "whop", "--destination", warehouse.name)
    assert out.splitlines()[1].startswith("  no success recorded, last failure ") and "(run, exit 4): whop: " in out
    whop(monkeypatch, sandbox)
    code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
    assert code == 0, err
    assert [w["title"] for w in webhook] == [
        "metricsync: whop failed (exit 4, authentication or permission)",
        "metricsync: whop recovered",
    ]
    assert "failing since" in webhook[1]["message"]
    stored = runs(warehouse)
    assert [r[:4] for r in stored] == [("run", "whop", 4, "authentication or permission")] * 2 + [
        ("run", "whop", 0, "ok")
    ]
    loaded = warehouse.query("select count(*) from whop.wallet_time_series")[0][0]
    assert stored[2][4] == out.strip() and json.loads(stored[2][5])["wallet_time_series"] == loaded > 0
    assert stored[0][4] == err.strip() or stored[0][4].startswith("whop: ")
    assert all(BAD_KEY not in " ".join(map(str, r)) for r in stored)
    assert stored[0][6] == f"run whop --destination {warehouse.name} --pipelines-dir pipelines"

    code, out, err = cli(capsys, "history", "whop", "--limit", "3", "--destination", warehouse.name)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split("  ")[1].strip() for line in lines] == [
        "ok",
        "exit 4 authentication or permission",
        "exit 4 authentication or permission",
    ]
    assert lines[0].endswith(stored[2][4])
    code, out, err = cli(capsys, "history", "--failed", "--limit", "1", "--json", "--destination", warehouse.name)
    assert code == 0, err
    assert [(r["provider"], r["exit_code"]) for r in json.loads(out)] == [("whop", 4)]


def test_status_stale_exits_8_naming_the_query_alerts_once_and_max_age_allows_it(
    sandbox, webhook, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    whop(monkeypatch, sandbox, wallet_queries=DAILY + [{"name": "monthly", "group_by": "month"}])
    assert cli(capsys, "run", "whop")[0] == 0
    code, out, err = cli(capsys, "status", "whop", "--stale")
    assert (code, err) == (0, "")
    assert f"  last success {TODAY:%Y-%m-%d}" in out
    later = TODAY + dt.timedelta(days=5)  # nothing ran for five days
    monkeypatch.setenv("METRICSYNC_TODAY", later.isoformat())  # the one clock
    for _ in (1, 2):
        code, out, err = cli(capsys, "status", "whop", "--stale")
        assert code == 8, err
        assert err.strip() == (
            f"whop: stale - wallet_time_series / daily loaded through {TODAY}, 5 days old "
            "(allowed 2) - run metricsync run whop, or see metricsync history whop"
        )
    assert [w["title"] for w in webhook] == ["metricsync: whop is stale (exit 8, stale)"]
    configure(monkeypatch, "whop", max_age={"daily": 5})
    code, out, err = cli(capsys, "status", "whop", "--stale", "--metrics-file", "metrics.prom")
    assert (code, err) == (0, "")
    assert [w["title"] for w in webhook][1:] == ["metricsync: whop recovered"]
    configure(monkeypatch, "whop", max_age={"daily": "soon"})
    code, out, err = cli(capsys, "status", "whop", "--stale")
    assert code == 2 and "max_age.daily 'soon' is not a whole number of days" in err


def test_metrics_file_holds_each_providers_newest_outcome(sandbox, monkeypatch, capsys, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    whop(monkeypatch, sandbox)
    assert cli(capsys, "run", "whop")[0] == 0
    configure(
        monkeypatch,
        "statsig",
        api_key=BAD_KEY,
        base_url=sandbox.url,
        start_date=(TODAY - dt.timedelta(days=2)).isoformat(),
    )
    assert cli(capsys, "run", "statsig", "--metrics-file", "metrics.prom")[0] == 4
    found = {
        (s.name, s.labels["provider"]): s.value
        for family in text_string_to_metric_families((tmp_path / "metrics.prom").read_text())
        for s in family.samples
    }
    stored = dict(
        Warehouse("duckdb", str(tmp_path / "w.duckdb")).query(
            "select provider, epoch(finished_at) from metricsync_history.runs"
        )
    )
    assert found[("metricsync_last_exit_code", "whop")] == 0 and found[("metricsync_last_exit_code", "statsig")] == 4
    assert found[("metricsync_last_success_timestamp_seconds", "whop")] == pytest.approx(stored["whop"], abs=1e-3)
    assert found[("metricsync_last_failure_timestamp_seconds", "statsig")] == pytest.approx(stored["statsig"], abs=1e-3)
    assert ("metricsync_last_success_timestamp_seconds", "statsig") not in found
    assert found[("metricsync_requests", "whop")] == len(sandbox.seen("/api/v1/"))
    assert found[("metricsync_rows", "whop")] > 0

    sandbox.clear_log()  # verify and reset are recorded too, one row per provider
    assert cli(capsys, "verify", "whop", "--sample", "1", "--seed", "1")[0] == 0
    assert cli(capsys, "reset", "whop", "--queries", "daily", "--yes")[0] == 0
    rows = Warehouse("duckdb", str(tmp_path / "w.duckdb")).query(
        "select command, provider, exit_code, requests, message from metricsync_history.runs order by finished_at"
    )
    assert [r[:3] for r in rows[-2:]] == [("verify", "whop", 0), ("reset", "whop", 0)]
    assert rows[-2][3] == len(sandbox.seen("/api/v1/")) > 0 and rows[-2][4].startswith("whop: 1 window checked")
    assert (
        rows[-1][4] == "whop: reset wallet_time_series/daily (state forgotten, rows kept) - the next run reloads "
        "from start_date"
    )


def test_an_unreachable_warehouse_keeps_the_row_in_a_local_file_until_the_next_run_reaches_it(
    sandbox, monkeypatch, capsys, isolated
):
    from support import postgres_database

    whop(monkeypatch, sandbox)
    with postgres_database() as url:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://postgres@127.0.0.1:1/nowhere")
        code, out, err = cli(capsys, "run", "whop", "--destination", "postgres")
        assert code == 5, err
        pending = isolated / "pipelines" / ".history-pending-postgres.jsonl"
        assert [json.loads(line)["exit_code"] for line in pending.read_text().splitlines()] == [5]
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
        code, out, err = cli(capsys, "run", "whop", "--destination", "postgres")
        assert code == 0, err
        stored = Warehouse("postgres", url).query(
            "select exit_code, message from metricsync_history.runs order by finished_at"
        )
        assert [r[0] for r in stored] == [5, 0] and stored[0][1].startswith("whop: ")
        assert not pending.exists()


def test_alerts_test_sends_one_message_and_a_failing_alert_changes_no_exit_code(
    sandbox, webhook, monkeypatch, capsys, tmp_path, caplog
):
    code, out, err = cli(capsys, "alerts", "--test")
    assert (code, out.strip()) == (0, "alerts: test message delivered to 1 URL")
    assert [w["title"] for w in webhook] == ["metricsync: test alert"]
    monkeypatch.setenv("ALERTS__URLS", '["json://127.0.0.1:1/closed"]')
    code, out, err = cli(capsys, "alerts", "--test")
    assert code == 5 and "could not be delivered" in err
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    whop(monkeypatch, sandbox, api_key=BAD_KEY)
    code, out, err = cli(capsys, "run", "whop")
    assert code == 4, err
    said = [r.getMessage() for r in caplog.records if r.name == "metricsync.alerts"]
    assert (
        said[-1].startswith(
            "alerts: 'metricsync: whop failed (exit 4, authentication or permission)' could not be delivered"
        )
        and "127.0.0.1:1" not in said[-1]
    )
    monkeypatch.setenv("ALERTS__URLS", '["json://127.0.0.1:1/closed"')
    code, out, err = cli(capsys, "alerts", "--test")
    assert (code, err) == (
        2,
        'alerts: alerts.urls (ALERTS__URLS) is not valid JSON - write it as a list, ["json://host/path", ...]\n',
    )
    monkeypatch.delenv("ALERTS__URLS")
    code, out, err = cli(capsys, "alerts", "--test")
    assert code == 2 and "no alerts.urls configured" in err


def test_a_new_column_is_told_once_recorded_and_alerted(sandbox, webhook, monkeypatch, capsys, tmp_path, caplog):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    configure(
        monkeypatch,
        "statsig",
        api_key=sandbox.by_name["statsig"].api_key,
        base_url=sandbox.url,
        start_date=(TODAY - dt.timedelta(days=2)).isoformat(),
    )
    assert cli(capsys, "run", "statsig")[0] == 0  # a first load: every table is new, nothing told
    sandbox.by_name["statsig"].settings["extra_field"] = "experimentalScore"
    caplog.clear()
    code, out, err = cli(capsys, "run", "statsig")
    assert code == 0, err
    added = [
        ("metric_source_metrics", "text"),
        ("metric_sources", "text"),
        ("metric_values", "double"),
        ("metrics", "text"),
    ]  # the sandbox adds the field to every object it serves
    told = [f"new column {table}.experimental_score ({kind})" for table, kind in added]
    assert out.strip().endswith("; schema: " + ", ".join(told))
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "schema evolved" in r.getMessage()]
    assert [w.split(" - ")[0] for w in warned] == [f"statsig: {t}" for t in told]
    stored = Warehouse("duckdb", str(tmp_path / "w.duckdb")).query(
        "select schema_changes from metricsync_history.runs order by finished_at"
    )
    assert [json.loads(r[0]) for r in stored] == [
        [],
        [{"table": table, "column": "experimental_score", "type": kind} for table, kind in added],
    ]
    assert [w["title"] for w in webhook] == ["metricsync: statsig schema changed"]
    assert webhook[0]["message"].startswith("\n".join(told))
    assert cli(capsys, "run", "statsig")[0] == 0
    assert len(webhook) == 1


def test_rows_that_fall_by_more_than_half_are_told_recorded_and_alerted(
    sandbox, webhook, monkeypatch, capsys, tmp_path
):
    from metricsync.sandbox.statsig import SOURCES

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    configure(
        monkeypatch,
        "statsig",
        api_key=sandbox.by_name["statsig"].api_key,
        base_url=sandbox.url,
        start_date=(TODAY - dt.timedelta(days=2)).isoformat(),
    )
    for _ in (1, 2):
        code, out, err = cli(capsys, "run", "statsig")
        assert code == 0 and "fell" not in out, err
    usual = json.loads(
        Warehouse("duckdb", str(tmp_path / "w.duckdb")).query("select table_rows from metricsync_history.runs")[0][0]
    )
    sandbox.by_name["statsig"].settings["deleted"] = list(SOURCES)  # every metric source is gone
    code, out, err = cli(capsys, "run", "statsig")
    assert code == 0, err
    assert usual["metric_sources"] == len(SOURCES) and usual["metric_source_metrics"] > 0
    fell = [
        f"metric_source_metrics 0 (usually {usual['metric_source_metrics']})",
        f"metric_sources 0 (usually {len(SOURCES)})",
    ]
    assert "; rows fell by more than half: " + ", ".join(fell) in out
    kept = Warehouse("duckdb", str(tmp_path / "w.duckdb")).query(
        "select vanished from metricsync_history.runs order by finished_at desc limit 1"
    )[0][0]
    assert {"table": "metric_sources", "rows": 0, "usual": len(SOURCES)} in json.loads(kept)
    assert [w["title"] for w in webhook] == ["metricsync: statsig rows fell by more than half"]
    assert f"metric_sources: 0 rows, usually {len(SOURCES)}" in webhook[0]["message"]
    assert Warehouse("duckdb", str(tmp_path / "w.duckdb")).query(  # what the API says is still stored
        "select count(*) from statsig.metric_sources where _dlt_valid_to is null"
    ) == [(0,)]


EMPTIED = "a window that held rows came back empty"


@pytest.mark.parametrize("first_empty", [pytest.param(False, id="held-rows"), pytest.param(True, id="was-empty")])
def test_a_window_that_held_rows_and_comes_back_empty_is_told_recorded_and_alerted(
    sandbox, webhook, monkeypatch, capsys, tmp_path, first_empty
):
    """Issue 28 item 6, per window: the second run asks for the first run's window again (the
    lookback reaches the start date) and the sandbox answers it with no rows. It exits 0 and stores
    what the API said (the window's rows are gone); a window that held rows is named in the closing
    line, the history row and one alert; a window that was empty already says nothing."""
    wallet, path = "/api/v1/stats/time_series", str(tmp_path / "w.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    whop(monkeypatch, sandbox, lookback_days=10)
    if first_empty:
        sandbox.tamper(wallet, empty=True)
    code, out, err = cli(capsys, "run", "whop")
    assert code == 0 and EMPTIED not in out, err
    duck = Warehouse("duckdb", path)
    held = duck.query("select count(*) from whop.wallet_time_series where query_name = 'daily'")[0][0]
    assert (held == 0) == first_empty
    sandbox.clear_log()
    sandbox.tamper(wallet, empty=True)
    code, out, err = cli(capsys, "run", "whop")
    assert code == 0, err
    asked = [(r.arg("from"), r.arg("to")) for r in sandbox.seen(wallet)]
    window = f"{TODAY - dt.timedelta(days=3)}..{TODAY}"
    assert asked == [(str(TODAY - dt.timedelta(days=3)), str(TODAY))]  # the same window as the first run's
    assert duck.query("select count(*) from whop.wallet_time_series")[0][0] == 0  # what the API says
    kept = json.loads(
        duck.query("select vanished from metricsync_history.runs order by finished_at desc limit 1")[0][0]
    )
    told = [entry for entry in kept if "window" in entry]
    if first_empty:
        assert EMPTIED not in out and told == [] and webhook == []
        return
    assert out.strip().endswith(f"; {EMPTIED}: wallet_time_series/daily {window} (held {held})")
    assert told == [{"table": "wallet_time_series", "query": "daily", "window": window, "rows": 0, "usual": held}]
    assert len(webhook) == 1 and EMPTIED in webhook[0]["title"]
    assert f"wallet_time_series/daily {window}: 0 rows, held {held}" in webhook[0]["message"]


def test_dagster_records_each_materialization_alerts_once_and_checks_freshness(sandbox, webhook, monkeypatch, isolated):
    from support import require_module
    from support.deploy import load

    dagster = require_module("dagster", "METRICSYNC_REQUIRE_DAGSTER", "the dagster extra (make test installs it)")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "dagster.duckdb"))
    whop(monkeypatch, sandbox, api_key=BAD_KEY)
    defs = load("deploy/dagster/definitions.py", "metricsync_dagster_ops").build_definitions(["whop"], "duckdb")
    assets = defs.get_assets_def("dlt_whop_wallet_time_series")
    instance = dagster.DagsterInstance.ephemeral()
    assert not dagster.materialize([assets], partition_key="default", instance=instance, raise_on_error=False).success
    assert [w["title"] for w in webhook] == ["metricsync: whop failed (exit 4, authentication or permission)"]
    whop(monkeypatch, sandbox)
    done = dagster.materialize([assets], partition_key="default", instance=instance)
    assert [w["title"] for w in webhook][1:] == ["metricsync: whop recovered"]
    stored = Warehouse("duckdb", str(isolated / "dagster.duckdb")).query(
        "select run_id, exit_code, arguments, requests from metricsync_history.runs order by finished_at"
    )
    assert [r[1:3] for r in stored] == [
        (4, "dagster whop --partition default"),
        (0, "dagster whop --partition default"),
    ]
    metadata = done.asset_materializations_for_node("whop")[0].metadata
    assert metadata["requests"].value == stored[1][3] == len(sandbox.seen("/api/v1/stats/time_series"))
    assert metadata["run_id"].value == stored[1][0]

    fresh = defs.resolve_job_def("whop_freshness")
    checks = fresh.execute_in_process(instance=instance).get_asset_check_evaluations()
    assert {c.asset_key.path[-1]: c.passed for c in checks} == {
        "dlt_whop_wallet_time_series": True,
        "dlt_whop_metric_results": True,
    }
    monkeypatch.setenv("METRICSYNC_TODAY", (TODAY + dt.timedelta(days=5)).isoformat())  # the one clock
    checks = {
        c.asset_key.path[-1]: c
        for c in fresh.execute_in_process(instance=instance, raise_on_error=False).get_asset_check_evaluations()
    }
    assert {name: c.passed for name, c in checks.items()} == {
        "dlt_whop_wallet_time_series": False,
        "dlt_whop_metric_results": True,
    }  # no query of it
    assert (
        checks["dlt_whop_wallet_time_series"]
        .metadata["stale"]
        .value.startswith(f"whop: stale - wallet_time_series / daily loaded through {TODAY}, 5 days old (allowed 2)")
    )
    assert [w["title"] for w in webhook][2:] == ["metricsync: whop is stale (exit 8, stale)"]


def test_airflow_task_callbacks_record_and_alert_as_the_cli(sandbox, webhook, monkeypatch, isolated):
    """The DAG's `on_failure_callback` / `on_success_callback` (`make test-airflow` runs the DAG
    itself), given what Airflow passes: the task's exception, here dlt's own from a revoked key."""
    from types import SimpleNamespace

    import dlt
    from metricsync.operations import task_callback
    from metricsync.providers import source_factory
    from metricsync.sources._common.load.progress import RunControl

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "airflow.duckdb"))
    whop(monkeypatch, sandbox, api_key=BAD_KEY)
    pipeline = dlt.pipeline(
        pipeline_name="whop__duckdb",
        destination="duckdb",
        dataset_name="whop",
        pipelines_dir=str(isolated / "pipelines"),
    )
    with pytest.raises(Exception) as failed:
        pipeline.run(source_factory("whop")(control=RunControl()))
    task = SimpleNamespace(dag_id="metricsync_nightly", task_id="whop__duckdb.whop")
    for _ in (1, 2):
        task_callback("whop", None, "duckdb", {"task_instance": task, "exception": failed.value})
    task_callback("whop", None, "duckdb", {"task_instance": task})
    assert [w["title"] for w in webhook] == [
        "metricsync: whop failed (exit 4, authentication or permission)",
        "metricsync: whop recovered",
    ]
    stored = Warehouse("duckdb", str(isolated / "airflow.duckdb")).query(
        "select exit_code, arguments, message from metricsync_history.runs order by finished_at"
    )
    assert [r[:2] for r in stored] == [(4, "airflow metricsync_nightly whop__duckdb.whop")] * 2 + [
        (0, "airflow metricsync_nightly whop__duckdb.whop")
    ]
    assert "the API key was rejected" in stored[0][2] and BAD_KEY not in stored[0][2]


def test_a_history_table_of_an_earlier_version_gains_the_new_columns(monkeypatch, capsys, tmp_path):
    import duckdb
    from metricsync.history import COLUMNS

    path = str(tmp_path / "w.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    older = {name: kind for name, kind in COLUMNS.items() if name not in ("schema_changes", "vanished")}
    with duckdb.connect(path) as conn:
        conn.execute("create schema metricsync_history")
        conn.execute(f"create table metricsync_history.runs ({', '.join(f'{n} {k}' for n, k in older.items())})")
    assert cli(capsys, "run", "whop")[0] == 2  # no key: fails before any request, still recorded
    assert cli(capsys, "run", "whop")[0] == 2
    code, out, err = cli(capsys, "history", "--json")
    assert [(r["exit_code"], r["vanished"]) for r in json.loads(out)] == [(2, "[]"), (2, "[]")]


def test_a_command_line_argparse_refuses_is_recorded_and_alerted_once_and_help_is_not(
    sandbox, webhook, monkeypatch, capsys, tmp_path
):
    import duckdb

    duckdb.connect(str(tmp_path / "w.duckdb")).close()  # a warehouse that exists: rows go straight in
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    whop(monkeypatch, sandbox)
    key = sandbox.by_name["whop"].api_key
    refused = [  # (command line, argparse's line as stored: the configured key masked, provider)
        (
            ["run", "whop", "--progress", "fast"],
            "metricsync run: error: argument --progress: invalid choice: 'fast' "
            "(choose from 'auto', 'bar', 'log', 'none')",
            "whop",
        ),
        (["verify", "whop", "--seed"], "metricsync verify: error: argument --seed: expected one argument", "whop"),
        (["run", "whop", "--api-key", key], "metricsync: error: unrecognized arguments: --api-key ***", "whop"),
        (["transform", "--select", "x"], "metricsync: error: unrecognized arguments: --select x", "all"),
        (["status", "--stale", "--bogus"], "metricsync: error: unrecognized arguments: --bogus", "all"),
    ]
    for argv, line, provider in refused:
        code, out, err = cli(capsys, *argv)
        assert (code, out) == (2, ""), err
        prog = line.split(": error:")[0]  # argparse's usage lines of the (sub)parser that refused, then its line
        assert err.startswith(f"usage: {prog} ") and err.endswith(f"\n{line}\n"), err
    for argv in (["run", "whop", "--help"], ["-h"]):  # help: exit 0, no row
        with pytest.raises(SystemExit) as done:
            cli(capsys, *argv)
        assert done.value.code == 0
    assert cli(capsys, "status", "--bogus")[0] == 2  # plain `status` is not recorded: no row
    stored = runs(Warehouse("duckdb", str(tmp_path / "w.duckdb")))
    assert [r[:4] for r in stored] == [
        (argv[0], provider, 2, "bad arguments or configuration") for argv, _, provider in refused
    ]
    assert [r[4] for r in stored] == [line for _, line, _ in refused]
    assert [r[6] for r in stored[:3]] == [
        "run whop --progress fast --pipelines-dir pipelines",
        "verify whop --seed --pipelines-dir pipelines",
        "run whop --api-key *** --pipelines-dir pipelines",
    ]
    assert key not in json.dumps([list(map(str, r)) for r in stored]) + json.dumps(webhook)
    failed = "failed (exit 2, bad arguments or configuration)"  # once per streak: provider, account and command
    assert [(w["title"], w["message"].split(", exit")[0].split("command ")[1]) for w in webhook] == [
        (f"metricsync: whop {failed}", "run"),
        (f"metricsync: whop {failed}", "verify"),
        (f"metricsync: all {failed}", "transform"),
        (f"metricsync: all {failed}", "status"),
    ]
