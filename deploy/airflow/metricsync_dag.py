"""Airflow DAG: the nightly sync of every configured provider and account, with dlt's
`PipelineTasksGroup` (one task group per provider account, each its own dlt pipeline and state).

Install metricsync with its `airflow` extra (`pip install -e ".[airflow]"` in the repository's
root: Airflow 3.3.2, pinned) and put this file in the DAGs folder. Configuration is read as by the CLI:
`.dlt/` in the working directory of the workers, or `SOURCES__...` / `DESTINATION__...` environment
variables (Airflow connections or secrets backends can set them); it is checked strictly when the
DAG is parsed, so a misspelt setting is an import error of the DAG, not a silent default.
`METRICSYNC_DESTINATION` picks the destination. To try it from the repository's root:

    export AIRFLOW_HOME=~/airflow AIRFLOW__CORE__DAGS_FOLDER=$PWD/deploy/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False
    airflow db migrate
    airflow dags test metricsync_nightly

Each task runs one dlt load per account: on a nightly schedule that covers the increment (the
last `lookback_days` plus any new days, up to `windows_per_load` windows per query; a longer gap
is caught up over the next nights). Run long backfills with the CLI (`--from/--to`) or Dagster.
tests/test_airflow.py runs the commands above (`make test-airflow`, in CI). Each task's outcome
goes to the run history and sends the same alerts as the CLI (`on_failure_callback` and
`on_success_callback`: `pipelines.operations.task_callback`).
"""

import functools
import os

import dlt
import pendulum
from airflow.sdk import dag
from dlt.helpers.airflow_helper import PipelineTasksGroup

from pipelines.accounts import configured_accounts, scope_to_account
from pipelines.operations import task_callback
from pipelines.warehouse.destinations import apply_loader_format, dataset_name, destination_name, make_destination, pipeline_name
from pipelines.providers import PROVIDERS, is_configured, source_factory
from pipelines.runner import schema_contract
from sources._common.config.strict import check_settings
from sources._common.load.progress import RunControl

NIGHTLY_CRON = os.environ.get("METRICSYNC_NIGHTLY_CRON", "15 3 * * *")


@dag(dag_id="metricsync_nightly", schedule=NIGHTLY_CRON, start_date=pendulum.datetime(2024, 1, 1), catchup=False,
     max_active_runs=1, default_args={"retries": 0}, tags=["metricsync", "dlt"])
def metricsync_nightly():
    destination = destination_name(os.environ.get("METRICSYNC_DESTINATION"))
    for provider in (p for p in PROVIDERS if is_configured(p)):
        check_settings(provider, source_factory(provider))
        for account in configured_accounts(provider) or [None]:
            factory = make_destination(destination, dataset_name(provider))
            name = pipeline_name(provider, factory.destination_name, account.name if account else None)
            tasks = PipelineTasksGroup(name, use_data_folder=False, wipe_local_data=True)
            pipeline = dlt.pipeline(pipeline_name=name, destination=factory, dataset_name=dataset_name(provider))
            source = source_factory(provider)(control=RunControl(), **(account.params if account else {}))
            if account:
                scope_to_account(source, account.name)
            # the run history and alerts (one per failing streak, one on recovery), as the CLI's
            told = functools.partial(task_callback, provider, account.name if account else None, destination)
            tasks.add_run(pipeline, apply_loader_format(source, factory), decompose="none",
                          schema_contract=schema_contract(provider), trigger_rule="all_done", retries=0,
                          on_failure_callback=told, on_success_callback=told)


dag = metricsync_nightly()
