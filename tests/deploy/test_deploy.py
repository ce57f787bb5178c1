"""Deployments under deploy/: Dagster assets materialized in-process against the sandbox (the
`dagster` extra is installed by `make test`) and the GitHub Actions workflow (the Airflow DAG:
test_airflow.py)."""

import datetime as dt

from support import ROOT, Warehouse, configure, require_module, today
from support.deploy import load
from support.processes import run_command
from support.whop import KEY, START, WALLET_QUERIES, expected_wallet


def test_dagster_materializes_two_account_partitions(sandbox, monkeypatch, isolated):
    dagster = require_module("dagster", "METRICSYNC_REQUIRE_DAGSTER", "the dagster extra (make test installs it)")
    configure(
        monkeypatch,
        "whop",
        api_key=KEY,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=WALLET_QUERIES[:1],
        accounts=[{"name": "north", "account_id": "biz_north"}, {"name": "east", "account_id": "biz_east"}],
    )
    warehouse = Warehouse("duckdb", str(isolated / "dagster.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", warehouse.credentials)
    module = load("deploy/dagster/definitions.py", "metricsync_dagster")
    defs = module.build_definitions(["whop"], "duckdb")
    assets = defs.get_assets_def("dlt_whop_wallet_time_series")
    assert set(assets.partitions_def.get_partition_keys()) == {"north", "east"}

    instance = dagster.DagsterInstance.ephemeral()
    for account in ("north", "east"):
        result = dagster.materialize([assets], partition_key=account, instance=instance)
        assert result.success
    for account in ("north", "east"):  # each partition's rows are that account's own data
        expected = {
            k: a for k, (a, _c) in expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0], f"biz_{account}").items()
        }
        rows = warehouse.query(
            f"select period, currency, amount from whop.wallet_time_series where account = '{account}'"
        )
        assert {(p, c): a for p, c, a in rows} == expected, account

    # the nightly schedule asks for one run per account partition
    schedule = defs.get_schedule_def("whop_nightly_schedule")
    context = dagster.build_schedule_context(
        instance=instance,
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=dt.datetime(2026, 1, 2, 3, 15),
    )
    requests = list(schedule.evaluate_tick(context).run_requests)
    assert sorted(r.partition_key for r in requests) == ["east", "north"]

    # a backfill run drives --from/--to: only the range is requested
    sandbox.clear_log()
    config = {"ops": {"whop": {"config": {"date_from": START.isoformat(), "date_to": START.isoformat()}}}}
    assert dagster.materialize([assets], partition_key="north", instance=instance, run_config=config).success
    assert {r.arg("from") for r in sandbox.seen("/api/v1/stats/time_series")} == {START.isoformat()}


def test_github_actions_workflow_runs_nightly_with_secrets(sandbox, monkeypatch, isolated):
    """The workflow parsed as YAML, then its sync step's script run by bash as written (the
    sandbox for the APIs, a Postgres database for the secret's warehouse), with a backfill input."""
    import os

    import yaml
    from support import _warehouse

    workflow = yaml.safe_load((ROOT / "deploy/github-actions/nightly.yml").read_text())
    [cron] = [entry["cron"] for entry in workflow[True]["schedule"]]  # YAML reads the key `on` as True
    assert len(cron.split()) == 5 and set(workflow[True]["workflow_dispatch"]["inputs"]) == {"from", "to"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = workflow["jobs"]["sync"]
    for name in (
        "SOURCES__WHOP__API_KEY",
        "SOURCES__STRIPE_ANALYTICS__API_KEY",
        "SOURCES__POSTHOG__API_KEY",
        "SOURCES__STATSIG__API_KEY",
        "DESTINATION__POSTGRES__CREDENTIALS",
    ):
        assert job["env"][name] == "${{ secrets.%s }}" % name
    [sync] = [step for step in job["steps"] if step.get("name") == "sync"]

    day = today() - dt.timedelta(days=3)
    (isolated / ".venv").symlink_to(ROOT / ".venv")
    for emulator in sandbox.emulators:
        configure(monkeypatch, emulator.name, **emulator.demo_settings(sandbox.url))
    for warehouse in _warehouse("postgres", isolated, monkeypatch):
        done = run_command(
            ["bash", "-e", "-c", sync["run"]],
            cwd=isolated,
            capture_output=True,
            text=True,
            env={**os.environ, "BACKFILL_FROM": str(day), "BACKFILL_TO": str(day)},
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        daily = [r for r in sandbox.seen("/api/v1/stats/time_series") if r.arg("group_by") == "day"]
        assert {(r.arg("from"), r.arg("to")) for r in daily} == {(str(day), str(day + dt.timedelta(days=1)))}
        assert warehouse.query(
            "select distinct period from whop.wallet_time_series where query_name = 'daily_all'"
        ) == [(day,)]
