"""Dagster deployment: one `dagster-dlt` multi-asset per provider (one asset per table),
partitioned by account, downstream of them the dbt project as assets (`dagster-dbt`, group
`transform`), nightly schedules, a backfill job that drives `--from/--to`, and checks.

Configuration is metricsync's own (`.dlt/config.toml`, `.dlt/secrets.toml`, `SOURCES__...` and
`DESTINATION__...` env vars, read in the working directory). A provider's partitions are the names
of its configured `accounts` (`north` and `south` in the "Many accounts" example of
docs/scaling-out.md), or `default` when it lists none; an unknown name fails with one line naming
the configured ones. Each partition runs metricsync's runner for that account: the same chunked
loads, state in the warehouse and one-line failures as the CLI. `METRICSYNC_DESTINATION` picks the
destination (default: `destination` under `[metricsync]` in config, else duckdb). From the
repository's root, with the accounts of that example configured:

    pip install -e ".[dagster]"
    mkdir -p ~/.dagster && export DAGSTER_HOME=~/.dagster   # runs and schedules kept across restarts
    cp deploy/dagster/dagster.yaml ~/.dagster/   # the run queue: at most 4 runs at once

Without a daemon, a run in this process: the nightly increment of one account partition, a
backfill of a date range for another, then the dbt project (`metricsync transform`'s build,
tests and publication, one asset per model, its data tests as asset checks):

    dagster asset materialize -f deploy/dagster/definitions.py --select 'group:whop' --partition north
    dagster asset materialize -f deploy/dagster/definitions.py --select 'group:whop' --partition south \
        --config-json '{"ops": {"whop": {"config": {"date_from": "2026-01-01", "date_to": "2026-01-31"}}}}'
    dagster asset materialize -f deploy/dagster/definitions.py --select 'group:transform'

Schedules load STOPPED (Dagster's default): turn each on with the toggle on the UI's Automation
page, or here (`--start-all` for every one); the daemon then runs them:

    dagster schedule start -f deploy/dagster/definitions.py whop_nightly_schedule

With the UI and the daemon (schedules, queued runs): `dagster dev` serves http://127.0.0.1:3000
and runs the daemon; in another shell with the same `DAGSTER_HOME`, a launched run is queued and
the daemon starts it:

    dagster dev -f deploy/dagster/definitions.py
    dagster job launch -f deploy/dagster/definitions.py -j whop_backfill --tags '{"dagster/partition": "north"}' \
        --config-json '{"ops": {"whop": {"config": {"date_from": "2026-01-01", "date_to": "2026-01-31"}}}}'

(`dagster job launch` without a running daemon only queues the run.) Every account at once,
without the UI: the daemon alone, and a backfill of the nightly job over every partition, one run
per account, at most 4 running at a time (`dagster.yaml` above), each in its own processes:

    dagster-daemon run -f deploy/dagster/definitions.py
    dagster job backfill -f deploy/dagster/definitions.py -j whop_nightly --noprompt

tests/deploy/test_dagster_cli.py and tests/deploy/test_dagster_fanout.py run these commands.

`verify` runs as an asset check (`verify`) on each provider's windowed tables: it samples stored
windows (weighted toward older data), compares them with the API and fails the check on drift;
with `repair` it reloads what drifted (see docs/commands.md, `verify`). Runs that load (the nightly and
backfill jobs, `dagster asset materialize`) leave it out; the `<provider>_weekly_verify` job runs
it weekly (`<provider>_verify_schedule`, `METRICSYNC_VERIFY_CRON`, default Sunday 04:30) with
`sample` 50 and `repair` on.

Each materialization is recorded in metricsync's run history and alerts as the CLI does (see the
docs/operations.md), with the run's counts as metadata; a `fresh` check on each windowed table is
`metricsync status --stale`, run hourly by `<provider>_freshness_schedule` (`METRICSYNC_FRESHNESS_CRON`).
"""

import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path
from typing import Optional

import dagster as dg
import dlt
from dagster_dlt import DagsterDltTranslator, dlt_assets
from metricsync.accounts import configured_accounts
from metricsync.catalog import WINDOWED, Selection
from metricsync.operations import record_results, run_id
from metricsync.providers import PROVIDERS, provider_module, source_factory
from metricsync.runner import ProviderResult, run_provider
from metricsync.sources._common.load import windows
from metricsync.sources._common.load.progress import RunControl
from metricsync.sources._common.load.windows import utc_today
from metricsync.staleness import max_ages, outcome, stale
from metricsync.verification.choose import Scope
from metricsync.verification.holdings import provider_status
from metricsync.verification.job import Verification
from metricsync.warehouse.destinations import dataset_name, destination_name

NIGHTLY_CRON = os.environ.get("METRICSYNC_NIGHTLY_CRON", "15 3 * * *")
VERIFY_CRON = os.environ.get("METRICSYNC_VERIFY_CRON", "30 4 * * 0")
FRESHNESS_CRON = os.environ.get("METRICSYNC_FRESHNESS_CRON", "0 * * * *")
TRANSFORM_CRON = os.environ.get("METRICSYNC_TRANSFORM_CRON", "15 4 * * *")
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


class LoadTranslator(DagsterDltTranslator):
    """dagster-dlt's asset per table, without its default upstream key (`<source>_<table>`, an
    asset nothing defines, which Dagster would show as a stray asset in the group `default`)."""

    def get_asset_spec(self, data):
        return super().get_asset_spec(data).replace_attributes(deps=[])


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


class AccountPartitions(dg.StaticPartitionsDefinition):
    """A provider's configured account names as partitions (`default` without accounts). A name that
    is not one of them is refused in one line naming them (a `click` error: the `dagster` CLI prints
    it as `Error: <line>`, exit 1, where Dagster's own check would end in a traceback)."""

    def __init__(self, provider: str, names: list):
        super().__init__(names or [SINGLE])
        self.provider = provider

    def validate_partition_key(self, partition_key: str, context) -> None:
        if not self.has_partition_key(partition_key):
            import click  # noqa: PLC0415 - only when a partition is refused

            names = list(self.get_partition_keys())
            if names == [SINGLE]:
                fix = f"it lists no accounts (sources.{self.provider}.accounts), so its one partition is {SINGLE}"
            else:
                fix = "the partitions are the configured accounts: " + ", ".join(names)
            raise click.ClickException(f"{self.provider}: no account named {partition_key} - {fix}")


def provider_assets(provider: str, destination: str) -> tuple:
    """The provider's assets, partitioned by account, and its nightly and backfill jobs."""
    accounts = {a.name: a for a in configured_accounts(provider)}
    partitions = AccountPartitions(provider, list(accounts))

    @dlt_assets(
        dlt_source=_spec_source(provider),
        dlt_pipeline=_spec_pipeline(provider, destination),
        name=provider,
        group_name=provider,
        partitions_def=partitions,
        dagster_dlt_translator=LoadTranslator(),
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
    (`METRICSYNC_VERIFY_CRON`, default Sunday 04:30), with `--sample 50 --repair` as in docs/getting-started.md."""
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


def dbt_manifest() -> str:
    """The dbt project's `manifest.json` (`dbt parse`, every provider enabled), kept in a folder named
    by a digest of the project's files, the datasets and dbt's version: parsed once, not by every
    run's process."""

    from dbt.version import __version__ as dbt_version  # noqa: PLC0415 - dbt loads when the dbt assets are built
    from metricsync.dbt.invocation import Dbt  # noqa: PLC0415 - dbt loads when the dbt assets are built
    from metricsync.dbt.profiles import datasets, profile  # noqa: PLC0415 - dbt loads when the dbt assets are built
    from metricsync.dbt.project import dbt_project  # noqa: PLC0415 - dbt loads when the dbt assets are built

    project, digest = dbt_project().path, hashlib.sha256(json.dumps([dbt_version, datasets()], sort_keys=True).encode())
    for path in sorted(project.rglob("*")):
        if path.is_file() and not {"target", "logs"} & set(path.relative_to(project).parts):
            digest.update(str(path.relative_to(project)).encode() + path.read_bytes())
    folder = Path(tempfile.gettempdir()) / "metricsync-dagster-dbt" / digest.hexdigest()[:16]
    if not (folder / "manifest.json").exists():
        work = Path(tempfile.mkdtemp(prefix="metricsync-dbt-parse-"))
        (work / "profiles.yml").write_text(json.dumps(profile("duckdb", types.SimpleNamespace(database=":memory:"))))
        parsed = Dbt("duckdb", str(work), False, target=work / "target").invoke("parse")
        if parsed.success:
            folder.parent.mkdir(parents=True, exist_ok=True)
            if not folder.exists():  # another process may have parsed it meanwhile
                os.replace(work / "target", folder)
        shutil.rmtree(work, ignore_errors=True)
        if not parsed.success:
            raise dg.DagsterInvariantViolationError(f"dagster: dbt parse of {project} failed: {parsed.exception}")
    return str(folder / "manifest.json")


def mart_assets(destination: str, loads: dict) -> tuple:
    """The dbt project (`transform`) as assets downstream of the loads (`dagster-dbt`; its data
    tests as asset checks): its sources are the tables the load assets write ({(provider, table):
    key}). A run builds and tests in the audit schema, then publishes as `metricsync transform`
    does; a `transform_nightly` job and its schedule (`METRICSYNC_TRANSFORM_CRON`, default 04:15)."""

    from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets  # noqa: PLC0415 - dbt loads when the dbt assets are built
    from metricsync.dbt.build import dbt_ready, publish_marts  # noqa: PLC0415 - dbt loads when the dbt assets are built
    from metricsync.dbt.project import dbt_project  # noqa: PLC0415 - dbt loads when the dbt assets are built

    class MartTranslator(DagsterDbtTranslator):
        """dbt sources as the load assets that write them; the deps on any other source (a
        provider's `_dlt_loads`, written by each of its loads, or a provider not in these
        definitions) are left out, so no stray asset appears in the group `default`."""

        unowned: set = set()

        def get_asset_key(self, props):
            if props["resource_type"] != "source":
                return super().get_asset_key(props)
            if (props["source_name"], props["name"]) in loads:
                return loads[(props["source_name"], props["name"])]
            key = super().get_asset_key(props)
            self.unowned.add(key)
            return key

        def get_asset_spec(self, manifest, unique_id, project):
            spec = super().get_asset_spec(manifest, unique_id, project)
            return spec.replace_attributes(deps=[d for d in spec.deps if d.asset_key not in self.unowned])

        def get_group_name(self, props):
            return "transform"

    @dbt_assets(manifest=dbt_manifest(), dagster_dbt_translator=MartTranslator(), name="transform")
    def marts(context: dg.AssetExecutionContext):
        with dbt_ready(destination) as (dbt, pipeline):
            options = dict(zip(dbt.common[::2], dbt.common[1::2]))  # the profile, target and vars of `transform`
            executable = Path(sys.executable).with_name("dbt")
            cli = DbtCliResource(
                project_dir=str(dbt_project().path),
                profiles_dir=options["--profiles-dir"],
                target=options["--target"],
                dbt_executable=str(executable) if executable.exists() else "dbt",
            )
            where = Path(options["--profiles-dir"])
            args = ["build", "--vars", options["--vars"], "--log-path", str(where)]
            invocation = cli.cli(args, context=context, raise_on_error=False, target_path=where / "target")
            yield from invocation.stream()
            if not invocation.is_successful():
                raise dg.Failure(
                    description="transform: dbt build failed - nothing published, metrics keeps the previous "
                    "mart; see this run's failed dbt nodes and checks"
                )
            context.log.info(f"transform: published {', '.join(publish_marts(pipeline))}")

    @dg.asset(
        deps=[marts],
        group_name="transform",
        description="The HTML report after the mart: sync health and the headline metrics (docs/report.md); "
        "its file is METRICSYNC_REPORT_PATH (default report.html in the working directory)",
    )
    def metricsync_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from metricsync.html_report import write_report  # noqa: PLC0415 - altair loads when the report is written

        written = write_report(destination, os.environ.get("METRICSYNC_REPORT_PATH", "report.html"))
        for line in written.problems:
            context.log.warning(line)
        return dg.MaterializeResult(
            metadata={"path": dg.MetadataValue.path(str(written.path)), "problems": len(written.problems)}
        )

    job = dg.define_asset_job("transform_nightly", selection=dg.AssetSelection.assets(marts, metricsync_report))
    schedule = dg.ScheduleDefinition(name="transform_schedule", cron_schedule=TRANSFORM_CRON, job=job)
    return (marts, metricsync_report), job, schedule


def build_definitions(providers=None, destination: Optional[str] = None, marts: bool = True) -> dg.Definitions:
    """Every provider's loads (or `providers`'), their checks, jobs and schedules, and with `marts`
    the dbt project downstream of them."""
    destination = destination or destination_name(os.environ.get("METRICSYNC_DESTINATION"))
    assets, jobs, schedules, checks = [], [], [], []
    providers = providers or list(PROVIDERS)
    for provider in providers:
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
    if marts:
        loads = {(p, key.path[-1].removeprefix(f"dlt_{p}_")): key for p, a in zip(providers, assets) for key in a.keys}
        mart, job, schedule = mart_assets(destination, loads)
        assets.extend(mart)
        jobs.append(job)
        schedules.append(schedule)
    return dg.Definitions(assets=assets, jobs=jobs, schedules=schedules, asset_checks=checks)


defs = build_definitions()
