"""Airflow DAG: the nightly sync of every configured provider and account: one task per provider,
mapped over its accounts (dynamic task mapping, `.expand`: one task instance per account, named by
it in the UI; a provider without accounts maps to one instance), each instance calling metricsync's
runner for its account (its own dlt pipeline and state): the same locks as the CLI (one run per
pipeline, the dataset written by one run at a time), so the instances run in parallel on as many
workers as Airflow gives them (`max_active_tis_per_dagrun`, pools), the same chunked loads and
one-line failures (a failed instance's log ends with it).

Install metricsync with its `airflow` extra (`pip install -e ".[airflow]"` in the repository's
root: Airflow 3.3.2, pinned) and put this file in the DAGs folder. Configuration is read as dlt reads it
on Airflow (as its `PipelineTasksGroup` sets it up): `.dlt/` in the DAGs folder, or `SOURCES__...` /
`DESTINATION__...` environment variables (Airflow connections or secrets backends can set them); it
is checked strictly when the DAG is parsed, so a misspelt setting is an import error of the DAG, not
a silent default.
`METRICSYNC_DESTINATION` picks the destination. To try it from the repository's root (the last
setting makes Airflow read this file anew on every command: it keeps the DAG it stored for 30 s
otherwise, so accounts added within 30 s of the last parse are out of range for `--map-index`):

    export AIRFLOW_HOME=~/airflow AIRFLOW__CORE__DAGS_FOLDER=$PWD/deploy/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL=0
    airflow db migrate
    airflow dags test metricsync_nightly

One account's instance alone (`--map-index`: its place in the provider's `accounts`, from 0; the
task is named after the provider's pipeline, `whop__duckdb`), while another runs beside it:

    airflow tasks test metricsync_nightly whop__duckdb --map-index 1

Each instance is the nightly increment of one account (the last `lookback_days` plus any new days, in
as many loads as it needs), as `metricsync run <provider> --accounts <account>` would run it. Run
long backfills with the CLI (`--from/--to`) or Dagster.
tests/deploy/test_airflow.py runs the commands above (`make test-airflow`, in CI). Each task's outcome
goes to the run history and sends the same alerts as the CLI (`on_failure_callback` and
`on_success_callback`: `metricsync.operations.task_callback`).
"""

import functools
import logging
import os

import pendulum
from airflow.configuration import conf
from airflow.sdk import dag, task
from metricsync.accounts import configured_accounts
from metricsync.operations import task_callback
from metricsync.providers import PROVIDERS, is_configured, source_factory
from metricsync.sources._common.config.strict import check_settings
from metricsync.sources._common.errors import MetricSyncError
from metricsync.warehouse.destinations import dataset_name, destination_name, make_destination, pipeline_name

NIGHTLY_CRON = os.environ.get("METRICSYNC_NIGHTLY_CRON", "15 3 * * *")
os.environ.setdefault("DLT_PROJECT_DIR", conf.get("core", "dags_folder"))  # dlt's `.dlt/` on Airflow
logger = logging.getLogger("metricsync.airflow")


class TaskFailed(MetricSyncError):
    """The run's one line and exit code, as the history and alerts take them."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@task(retries=0, map_index_template="{{ task.op_kwargs['account_name'] or 'all' }}")
def load(provider: str, account_name: str, destination: str) -> None:
    """One provider account's run through the runner; a failure fails the instance with its one line."""
    from metricsync.runner import run_provider  # noqa: PLC0415 - parse time: Airflow parses this file often; the runner loads in the task

    account = next((a for a in configured_accounts(provider) or [] if a.name == account_name), None)
    result = run_provider(provider, destination, account=account)
    if not result.ok:
        raise TaskFailed(result.exit_code, result.message)
    logger.info("%s", result.message)


def told(provider: str, destination: str, context: dict) -> None:
    """The run history and alerts (one per failing streak, one on recovery) of one mapped instance,
    as the CLI's: its account is the instance's `account_name`."""
    task_callback(provider, context["task"].op_kwargs["account_name"] or None, destination, context)


@dag(
    dag_id="metricsync_nightly",
    schedule=NIGHTLY_CRON,
    start_date=pendulum.datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0},
    tags=["metricsync", "dlt"],
)
def metricsync_nightly():
    destination = destination_name(os.environ.get("METRICSYNC_DESTINATION"))
    for provider in (p for p in PROVIDERS if is_configured(p)):
        check_settings(provider, source_factory(provider))
        where = make_destination(destination, dataset_name(provider)).destination_name
        callback = functools.partial(told, provider, destination)
        load.override(
            task_id=pipeline_name(provider, where), on_failure_callback=callback, on_success_callback=callback
        ).partial(provider=provider, destination=destination).expand(
            account_name=[account.name for account in configured_accounts(provider) or []] or [""]
        )


dag = metricsync_nightly()
