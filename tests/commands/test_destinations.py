"""Destinations: exact loads into DuckDB, Postgres and MariaDB (dlt's sqlalchemy destination),
refusal of destinations that cannot merge, the md: guard, dataset and pipeline names."""

import datetime as dt
import importlib.util
import os
import shutil

import dlt
import pytest
from support import configure, period_floor
from support.whop import KEY, METRIC_QUERIES, START, TODAY, WALLET_QUERIES, expected_metric, expected_wallet


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


QUERIES = {"wallet_queries": WALLET_QUERIES[:2], "metric_queries": METRIC_QUERIES[:1]}


def setup_whop(monkeypatch, sandbox, **overrides):
    configure(
        monkeypatch,
        "whop",
        **{
            "api_key": KEY,
            "base_url": f"{sandbox.url}/api/v1",
            "start_date": START.isoformat(),
            "lookback_days": 3,
            **QUERIES,
            **overrides,
        },
    )


def loaded(warehouse, dataset, metrics=True):
    wallet = {}
    for name, period, currency, amount in warehouse.query(
        f"select query_name, period, currency, amount from {dataset}.wallet_time_series"
    ):
        wallet.setdefault(name, {})[(period, currency)] = amount
    metric = {}
    for name, period, key, value in (
        warehouse.query(f"select query_name, period, breakdown_key, value from {dataset}.metric_results")
        if metrics
        else []
    ):
        metric.setdefault(name, {})[(period, key)] = value
    return wallet, metric


def assert_exact(warehouse, sandbox, dataset):
    emulator = sandbox.by_name["whop"]
    wallet, metric = loaded(warehouse, dataset)
    for query in QUERIES["wallet_queries"]:
        expected = {k: amount for k, (amount, _count) in expected_wallet(emulator, query).items()}
        assert {k: v for k, v in wallet[query["name"]].items()} == expected, query["name"]
    for query in QUERIES["metric_queries"]:
        assert metric[query["name"]] == expected_metric(emulator, query), query["name"]


def test_two_runs_exact_with_history_and_state_restored(sandbox, sql_warehouse, run, monkeypatch, isolated):
    """Every tested warehouse: exact data after a revision, scd2 history of definitions, and a
    fresh machine (no local pipeline folder) resuming from the state kept in the warehouse."""
    setup_whop(monkeypatch, sandbox)
    dataset = sql_warehouse.dataset("whop")
    first = run("whop", sql_warehouse)
    assert first.ok, first.message
    assert_exact(sql_warehouse, sandbox, dataset)

    sandbox.revise(days=2)
    sandbox.by_name["whop"].settings.update(renamed={"fees": "Platform fees"}, deleted=["disputes"])
    shutil.rmtree(isolated / "pipelines")
    sandbox.clear_log()
    second = run("whop", sql_warehouse)
    assert second.ok, second.message
    assert_exact(sql_warehouse, sandbox, dataset)
    starts = {dt.date.fromisoformat(r.arg("from")) for r in sandbox.seen("/api/v1/stats/time_series")}
    assert min(starts) >= period_floor(TODAY - dt.timedelta(days=3), "week"), "state was not restored"

    current = dict(
        sql_warehouse.query(
            f"select `key`, name from {dataset}.wallet_groupings where _dlt_valid_to is null"
            if sql_warehouse.name == "sqlalchemy"
            else f"select key, name from {dataset}.wallet_groupings where _dlt_valid_to is null"
        )
    )
    assert current["fees"] == "Platform fees" and "disputes" not in current and len(current) == 4
    closed = sql_warehouse.query(f"select name from {dataset}.wallet_groupings where _dlt_valid_to is not null")
    assert sorted(r[0] for r in closed) == ["Disputes", "Fees"]


@pytest.mark.parametrize(
    "destination, fragment",
    [
        pytest.param("filesystem", "delete-insert", id="filesystem-only-upserts"),
        pytest.param("no_such_warehouse", "not available", id="unknown"),
        pytest.param(
            "bigquery",
            'pip install "dlt[bigquery]"',
            id="client-library-missing",
            marks=pytest.mark.skipif(installed("google.cloud.bigquery"), reason="google-cloud-bigquery is installed"),
        ),
    ],
)
def test_unusable_destination_is_refused_before_any_request(sandbox, monkeypatch, capsys, destination, fragment):
    from metricsync.cli import main

    setup_whop(monkeypatch, sandbox)
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", "file:///tmp/nowhere")
    code = main(["run", "whop", "--destination", destination])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0] and err[0].startswith("whop:"), err
    assert sandbox.seen("/api/v1/stats") == []


def test_md_path_goes_to_motherduck_and_never_names_a_file(monkeypatch, isolated):
    from metricsync.warehouse.destinations import make_destination

    token = "secret_md_token_123"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", f"md:analytics?motherduck_token={token}")
    factory = make_destination("duckdb", "whop")
    assert factory.destination_type.endswith("motherduck") and factory.destination_name == "motherduck"
    # a named DuckDB destination with an md: path is refused with a pointer to motherduck
    monkeypatch.setenv("DESTINATION__LAKE__DESTINATION_TYPE", "duckdb")
    monkeypatch.setenv("DESTINATION__LAKE__CREDENTIALS", f"md:analytics?motherduck_token={token}")
    from metricsync.sources._common.errors import ConfigError

    with pytest.raises(ConfigError, match="motherduck") as refused:
        make_destination("lake", "whop")
    assert token not in str(refused.value)  # no file is made from the path: run end to end in test_readme_behaviours


@pytest.mark.parametrize(
    "destination, env, formats",
    [
        pytest.param(
            "duckdb",
            {"DESTINATION__DUCKDB__CREDENTIALS": "md:analytics?motherduck_token=tok_123456"},
            {"parquet", "insert_values"},
            id="motherduck",
        ),
        pytest.param(
            "bigquery",
            {"DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID": "acme", "DESTINATION__BIGQUERY__LOCATION": "EU"},
            {"parquet", "jsonl"},
            id="bigquery",
        ),
        pytest.param(
            "snowflake",
            {"DESTINATION__SNOWFLAKE__CREDENTIALS": "snowflake://loader:pw@acme/analytics"},
            {"parquet", "jsonl"},
            id="snowflake",
        ),
    ],
)
def test_cloud_warehouses_are_configured_without_network(sandbox, monkeypatch, isolated, destination, env, formats):
    """The source builds and extracts/normalizes for the warehouse; only `load` would connect."""
    from metricsync.sources._common.load.progress import RunControl
    from metricsync.sources.whop import whop_source
    from metricsync.warehouse.destinations import apply_loader_format, dataset_name, make_destination, pipeline_name

    setup_whop(monkeypatch, sandbox, metric_queries=None, wallet_queries=QUERIES["wallet_queries"][:1])
    monkeypatch.setenv("DATASET_PREFIX", "metrics_")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    factory = make_destination(destination, dataset_name("whop"))
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name("whop", factory.destination_name),
        destination=factory,
        dataset_name=dataset_name("whop"),
        pipelines_dir=str(isolated / "pipelines"),
    )
    assert pipeline.dataset_name == "metrics_whop"
    assert pipeline.pipeline_name == f"whop__{factory.destination_name}"
    pipeline.extract(apply_loader_format(whop_source(control=RunControl()), factory))
    info = pipeline.normalize()
    used = {job.job_file_info.file_format for package in info.load_packages for job in package.jobs["new_jobs"]}
    assert used and used <= formats | {"reference"}, used
    assert info.row_counts["wallet_time_series"] > 0 and info.row_counts["wallet_groupings"] == 5


def test_dataset_name_per_provider(sandbox, run, monkeypatch, isolated):
    from support import Warehouse

    setup_whop(monkeypatch, sandbox, metric_queries=None, dataset_name="whop_raw")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "w.duckdb"))
    monkeypatch.setenv("DATASET_PREFIX", "ignored_when_the_provider_names_its_own_")
    assert run("whop").ok
    assert "wallet_time_series" in Warehouse("duckdb", str(isolated / "w.duckdb")).tables("whop_raw")

    monkeypatch.setenv("DATASET_NAME", "everything")  # dlt's global name would mix providers: refused
    sandbox.clear_log()
    refused = run("whop")
    assert refused.exit_code == 2 and "SOURCES__WHOP__DATASET_NAME" in refused.message
    assert sandbox.seen("/api/v1/stats") == []


def test_each_destination_keeps_its_own_state(sandbox, monkeypatch, isolated):
    """Two warehouses (duckdb, and a second DuckDB configured as a named destination): the second
    run is a full first load there, not an increment of the first warehouse's state."""
    from metricsync.cli import main
    from support import Warehouse

    setup_whop(monkeypatch, sandbox, metric_queries=None)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "first.duckdb"))
    monkeypatch.setenv("DESTINATION__SECOND__DESTINATION_TYPE", "duckdb")
    monkeypatch.setenv("DESTINATION__SECOND__CREDENTIALS", str(isolated / "second.duckdb"))
    pipelines = str(isolated / "pipelines")
    assert main(["run", "whop", "--pipelines-dir", pipelines]) == 0  # duckdb by default
    sandbox.clear_log()
    monkeypatch.setenv("METRICSYNC_DESTINATION", "second")  # the destination from config, not the command line
    assert main(["run", "whop", "--pipelines-dir", pipelines]) == 0
    starts = {dt.date.fromisoformat(r.arg("from")) for r in sandbox.seen("/api/v1/stats/time_series")}
    assert min(starts) == min(period_floor(START, q["group_by"]) for q in QUERIES["wallet_queries"])
    assert {"whop__duckdb", "whop__second"} <= set(os.listdir(pipelines))
    for path in ("first.duckdb", "second.duckdb"):
        wallet, _ = loaded(Warehouse("duckdb", str(isolated / path)), "whop", metrics=False)
        assert wallet["daily_all"] == {
            k: a for k, (a, _c) in expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0]).items()
        }
