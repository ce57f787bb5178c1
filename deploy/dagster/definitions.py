"""Dagster deployment: one `dagster-dlt` multi-asset per provider (one asset per table),
partitioned by account, a nightly schedule and a backfill job that drives `--from/--to`.

Configuration is metricsync's own (`.dlt/config.toml`, `.dlt/secrets.toml`, `SOURCES__...` and
`DESTINATION__...` env vars, read in the working directory). Each partition (one account, or the
provider's single pipeline, `default`, when it lists no accounts) runs metricsync's runner for that
account: the same chunked loads, state in the warehouse and one-line failures as the CLI. Dagster's
executors fan partitions out over processes or a cluster; `METRICSYNC_DESTINATION` picks the
destination (default: `destination` under `[metricsync]` in config, else duckdb). From the repository's root:

    pip install -e ".[dagster]"
    mkdir -p ~/.dagster && export DAGSTER_HOME=~/.dagster   # runs and schedules kept across restarts

Without a daemon, a run in this process: the nightly increment of one account partition, then a
backfill of a date range for another:

    dagster asset materialize -f deploy/dagster/definitions.py --select 'group:whop' --partition north
    dagster asset materialize -f deploy/dagster/definitions.py --select 'group:whop' --partition east \
        --config-json '{"ops": {"whop": {"config": {"date_from": "2026-01-01", "date_to": "2026-01-31"}}}}'

With the UI and the daemon (schedules, queued runs): `dagster dev` serves http://127.0.0.1:3000
and runs the daemon; in another shell with the same `DAGSTER_HOME`, a launched run is queued and
the daemon starts it:

    dagster dev -f deploy/dagster/definitions.py
    dagster job launch -f deploy/dagster/definitions.py -j whop_backfill --tags '{"dagster/partition": "north"}' \
        --config-json '{"ops": {"whop": {"config": {"date_from": "2026-01-01", "date_to": "2026-01-31"}}}}'

(`dagster job launch` without a running daemon only queues the run.) tests/deploy/test_dagster_cli.py runs
these commands.

`verify` runs as an asset check (`verify`) on each provider's windowed tables: it samples stored
windows (weighted toward older data), compares them with the API and fails the check on drift;
with `repair` it reloads what drifted (see the README, `verify`). Runs that load (the nightly and
backfill jobs, `dagster asset materialize`) leave it out; the `<provider>_weekly_verify` job runs
it weekly (`<provider>_verify_schedule`, `METRICSYNC_VERIFY_CRON`, default Sunday 04:30) with
`sample` 50 and `repair` on.

Each materialization is recorded in metricsync's run history and alerts as the CLI does (see the
README, Operations), with the run's counts as metadata; a `fresh` check on each windowed table is
`metricsync status --stale`, run hourly by `<provider>_freshness_schedule` (`METRICSYNC_FRESHNESS_CRON`).
"""

import datetime as dt
import os
import tempfile
from typing import Optional

import dagster as dg
import dlt
from dagster_dlt import dlt_assets
from metricsync.accounts import configured_accounts
from metricsync.catalog import WINDOWED, Selection
from metricsync.operations import record_results, run_id
from metricsync.providers import PROVIDERS, provider_module, source_factory
from metricsync.runner import run_provider
from metricsync.sources._common.load.progress import RunControl
from metricsync.sources._common.load.windows import utc_today
from metricsync.warehouse.destinations import dataset_name, destination_name

NIGHTLY_CRON = os.environ.get("METRICSYNC_NIGHTLY_CRON", "15 3 * * *")
VERIFY_CRON = os.environ.get("METRICSYNC_VERIFY_CRON", "30 4 * * 0")
FRESHNESS_CRON = os.environ.get("METRICSYNC_FRESHNESS_CRON", "0 * * * *")
SINGLE = "default"  # the partition of a provider without accounts

SPEC_KEY = "asset-specs-only"


class SyncConfig(dg.Config):
    """Empty for the nightly increment; both dates (YYYY-MM-DD) for a backfill."""

    date_from: str = ""
    date_to: str = ""


def run_metadata(result) -> dict:
    """What `--metrics-file` says of a run, on each materialization."""
    return {
        "loads": result.loads,
        "requests": result.requests,
        "retries": result.retries,
        "throttled_429": result.throttled,
        "seconds": round(result.seconds, 3),
        "learnt_rate": result.throttling or "",
        "run_id": run_id() or "",
    }


def _spec_source(provider: str):
    return source_factory(provider)(
        api_key=SPEC_KEY, control=RunControl(), **provider_module(provider, "settings").SPEC_ARGS
    )


def _spec_pipeline(provider: str, destination: str):
    folder = os.path.join(tempfile.gettempdir(), "metricsync-dagster-specs")
    return dlt.pipeline(
        pipeline_name=f"{provider}__{destination}",
        destination=destination_type(destination),
        dataset_name=dataset_name(provider),
        pipelines_dir=folder,
    )


def destination_type(destination: str) -> str:
    configured = dlt.config.get(f"destination.{destination}.destination_type")
    return str(configured or destination)


def _backfill(config: SyncConfig) -> Optional[tuple]:
    if not config.date_from:
        return None
    today = utc_today()
    last = dt.date.fromisoformat(config.date_to) if config.date_to else today
    return dt.date.fromisoformat(config.date_from), min(last, today)


def provider_assets(provider: str, destination: str) -> tuple:
    """The provider's assets, partitioned by account, and its nightly and backfill jobs."""
    accounts = {a.name: a for a in configured_accounts(provider)}
    partitions = dg.StaticPartitionsDefinition(list(accounts) or [SINGLE])

    @dlt_assets(
        dlt_source=_spec_source(provider),
        dlt_pipeline=_spec_pipeline(provider, destination),
        name=provider,
        group_name=provider,
        partitions_def=partitions,
    )
    def assets(context: dg.AssetExecutionContext, config: SyncConfig):
        account = accounts.get(context.partition_key)
        result = run_provider(provider, destination, _backfill(config), account=account)
        # the run history, the alert on a failure (one per streak) or a recovery, as the CLI's
        record_results("run", [result], destination, f"dagster {provider} --partition {context.partition_key}")
        context.log.info(result.message)
        if not result.ok:
            raise dg.Failure(description=result.message, allow_retries=result.exit_code == 5)
        for key in context.selected_asset_keys:
            table = key.path[-1].removeprefix(f"dlt_{provider}_")
            yield dg.MaterializeResult(
                asset_key=key, metadata={"rows": result.rows.get(table, 0), **run_metadata(result)}
            )

    loads = dg.AssetSelection.assets(assets).without_checks()  # `verify` runs weekly, on its own
    nightly = dg.define_asset_job(f"{provider}_nightly", selection=loads, partitions_def=partitions)
    backfill = dg.define_asset_job(f"{provider}_backfill", selection=loads, partitions_def=partitions)

    @dg.schedule(name=f"{provider}_nightly_schedule", cron_schedule=NIGHTLY_CRON, job=nightly)
    def schedule(context: dg.ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for key in partitions.get_partition_keys():
            yield dg.RunRequest(run_key=f"{key}-{stamp}", partition_key=key)

    return assets, [nightly, backfill], schedule


class VerifyConfig(dg.Config):
    """Windows per query to sample (weighted toward older data), and whether to repair drift."""

    sample: int = 20
    repair: bool = False


def verify_checks(provider: str, destination: str, assets: dg.AssetsDefinition, accounts: dict) -> list:
    """`verify` as one asset check per windowed table of the provider, over every account."""
    from metricsync.verification.choose import Scope
    from metricsync.verification.job import Verification

    tables = {key.path[-1].removeprefix(f"dlt_{provider}_"): key for key in assets.keys}
    tables = {table: key for table, key in tables.items() if table in WINDOWED[provider]}
    if not tables:
        return []
    specs = [
        dg.AssetCheckSpec("verify", asset=key, description="the stored rows equal the API's (metricsync verify)")
        for key in tables.values()
    ]

    @dg.multi_asset_check(specs=specs, name=f"{provider}_verify", can_subset=True)
    def verify(context: dg.AssetCheckExecutionContext, config: VerifyConfig):
        if provider in {node.name for node in context.op_execution_context.job_def.nodes}:  # a load run
            context.log.info(f"{provider}: verify is not run with loads - run the {provider}_weekly_verify job")
            return  # no evaluation: not "passed"
        for table, key in tables.items():
            checked = []
            for account in list(accounts.values()) or [None]:
                job = Verification(provider, destination, account, Selection([table]), Scope(sample=config.sample))
                job.prepare()
                job.check()
                if config.repair and not job.clean:
                    failed = [r for r in job.repair() if not r.ok]
                    if failed:
                        raise dg.Failure(description=failed[0].message)
                checked.append(job)
            drifted = [d.line() for job in checked for d in job.found if not d.clean]
            for line in drifted:
                context.log.warning(line)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="verify",
                passed=all(job.clean for job in checked),
                metadata={
                    "windows": sum(job.planned for job in checked),
                    "rows_compared": sum(d.rows_compared for job in checked for d in job.found),
                    "drift": "\n".join(drifted) or "none",
                    "repaired": bool(config.repair and drifted),
                },
            )

    return [verify]


def verify_schedule(provider: str, assets: dg.AssetsDefinition) -> tuple:
    """The `<provider>_weekly_verify` job (the checks alone, every account) and its weekly schedule
    (`METRICSYNC_VERIFY_CRON`, default Sunday 04:30), with `--sample 50 --repair` as in the README."""
    job = dg.define_asset_job(
        f"{provider}_weekly_verify",
        selection=dg.AssetSelection.checks_for_assets(assets),
        config={"ops": {f"{provider}_verify": {"config": {"sample": 50, "repair": True}}}},
    )
    schedule = dg.ScheduleDefinition(name=f"{provider}_verify_schedule", cron_schedule=VERIFY_CRON, job=job)
    return job, schedule


def freshness_checks(provider: str, destination: str, assets: dg.AssetsDefinition) -> tuple:
    """`status --stale` as a `fresh` asset check on each windowed table (every account), its
    `<provider>_freshness` job and an hourly schedule (`METRICSYNC_FRESHNESS_CRON`): it reads only
    the warehouse, so it fails when the loads stop. Each evaluation is recorded and alerted as
    `status --stale` is (one alert per stale streak)."""
    from metricsync.commands.status import provider_status
    from metricsync.runner import ProviderResult
    from metricsync.sources._common.load import windows
    from metricsync.staleness import max_ages, outcome, stale

    tables = {key.path[-1].removeprefix(f"dlt_{provider}_"): key for key in assets.keys}
    tables = {table: key for table, key in tables.items() if table in WINDOWED[provider]}
    specs = [
        dg.AssetCheckSpec(
            "fresh",
            asset=key,
            description="every query's newest loaded period is as recent "
            "as its grain allows (metricsync status --stale)",
        )
        for key in tables.values()
    ]

    @dg.multi_asset_check(specs=specs, name=f"{provider}_fresh", can_subset=True)
    def fresh(context: dg.AssetCheckExecutionContext):
        _summary, *entries = provider_status(provider, destination)
        today, ages, found = windows.utc_today(), max_ages(provider), {}
        for account in dict.fromkeys(e["account"] for e in entries) or [None]:
            found[account] = stale([e for e in entries if e["account"] == account], today, ages)
        record_results(
            "status",
            [ProviderResult(provider, account, *outcome(provider, account, said)) for account, said in found.items()],
            destination,
            f"dagster {provider} fresh",
        )
        lines = [line for said in found.values() for line in said]
        for table, key in tables.items():
            said = [line for line in lines if f": stale - {table} / " in line]
            for line in said:
                context.log.warning(line)
            yield dg.AssetCheckResult(
                asset_key=key, check_name="fresh", passed=not said, metadata={"stale": "\n".join(said) or "none"}
            )

    job = dg.define_asset_job(f"{provider}_freshness", selection=dg.AssetSelection.checks(fresh))
    schedule = dg.ScheduleDefinition(name=f"{provider}_freshness_schedule", cron_schedule=FRESHNESS_CRON, job=job)
    return fresh, job, schedule


def build_definitions(providers=None, destination: Optional[str] = None) -> dg.Definitions:
    destination = destination or destination_name(os.environ.get("METRICSYNC_DESTINATION"))
    assets, jobs, schedules, checks = [], [], [], []
    for provider in providers or list(PROVIDERS):
        provider_asset, provider_jobs, schedule = provider_assets(provider, destination)
        provider_checks = verify_checks(
            provider, destination, provider_asset, {a.name: a for a in configured_accounts(provider)}
        )
        if provider_checks:
            checks.extend(provider_checks)
            verify_job, verify_weekly = verify_schedule(provider, provider_asset)
            jobs.append(verify_job)
            schedules.append(verify_weekly)
            fresh, fresh_job, fresh_hourly = freshness_checks(provider, destination, provider_asset)
            checks.append(fresh)
            jobs.append(fresh_job)
            schedules.append(fresh_hourly)
        assets.append(provider_asset)
        jobs.extend(provider_jobs)
        schedules.append(schedule)
    return dg.Definitions(assets=assets, jobs=jobs, schedules=schedules, asset_checks=checks)


defs = build_definitions()
