"""Drive the contenders against the replay server (`metricsync.bench.replay`, its own process, pages from
memory): each scenario first runs metricsync once with no latency to render its pages and record
the exact requests (replayed by the floor), then times each contender in a child process
(`metricsync.bench.child`) with the API's latency and limits on."""

import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional

from metricsync.sandbox import Sandbox
from metricsync.sources._common.load.windows import utc_today

from . import rowheavy, shared_budget, startup
from .scenarios import CRASH, RATE_LIMITED, ROW_HEAVY, SCENARIOS, Scenario, retry_after_paths, source_settings
from .server import REPO, ReplayServer

logger = logging.getLogger("bench")
PG_ADMIN = "dbname=postgres user=postgres password=postgres host=127.0.0.1 port=5432 connect_timeout=3"
RSS_DAYS = {"short": (182, 10), "long": (730, 20)}  # (full, quick) Statsig days for the RSS check


def env_for(settings_by_provider: dict, extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(PYTHONPATH=REPO, RUNTIME__DLTHUB_TELEMETRY="false", RUNTIME__LOG_LEVEL="WARNING")
    for provider, values in settings_by_provider.items():
        for key, value in values.items():
            if value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            env[f"SOURCES__{provider.upper()}__{key.upper()}"] = text
    env.update(extra)
    return env


def child_command(spec: dict) -> list:
    return [sys.executable, "-m", "metricsync.bench.child", json.dumps(spec)]


def run_child(spec: dict, env: dict, cwd: str) -> dict:
    done = subprocess.run(child_command(spec), env=env, cwd=cwd, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    raise RuntimeError(f"{spec['kind']} failed: {' | '.join(tail)}")


def postgres_available() -> bool:
    try:
        import psycopg2  # noqa: PLC0415 - only the Postgres runs need it

        psycopg2.connect(PG_ADMIN).close()
        return True
    except Exception:  # any failure means: skip Postgres, with a note
        return False


def pg_admin(sql: str) -> None:
    import psycopg2  # noqa: PLC0415 - only the Postgres runs need it

    con = psycopg2.connect(PG_ADMIN)
    con.autocommit = True
    con.cursor().execute(sql)
    con.close()


class Bench:
    def __init__(self, latency: float, concurrency: int, quick: bool, postgres: bool, only: Optional[list]) -> None:
        self.latency, self.concurrency, self.quick = latency, concurrency, quick
        self.postgres = postgres and postgres_available()
        self.postgres_note = (
            ""
            if self.postgres
            else ("skipped (--no-postgres)" if not postgres else "skipped: Postgres at 127.0.0.1:5432 unreachable")
        )
        self.only = only
        self.root = tempfile.mkdtemp(prefix="metricsync-bench-")
        self.emulators = Sandbox(log_requests=False).by_name  # for demo settings only (never started)
        self.server: Optional[ReplayServer] = None

    def wanted(self, name: str) -> bool:
        return not self.only or name in self.only

    # -- plumbing ----------------------------------------------------------------------------
    def settings(self, scenario: Scenario, chunked: bool = False, **extra) -> dict:
        values = source_settings(
            self.emulators[scenario.provider], self.server.url, scenario, self.concurrency, chunked
        )
        values.update(extra)
        return {scenario.provider: values}

    def metricsync_spec(
        self, providers: dict, workdir: str, destination: str = "duckdb", backfill=None, db: str = "ms.duckdb"
    ) -> tuple[dict, dict]:
        os.makedirs(workdir, exist_ok=True)
        extra = {"DESTINATION__DUCKDB__CREDENTIALS": os.path.join(workdir, db)}
        if destination == "postgres":
            extra["DESTINATION__POSTGRES__CREDENTIALS"] = db
        spec = {
            "kind": "metricsync",
            "providers": list(providers),
            "destination": destination,
            "backfill": [d.isoformat() for d in backfill] if backfill else None,
            "pipelines_dir": os.path.join(workdir, "pipelines"),
        }
        return spec, env_for(providers, extra)

    def metricsync(
        self, providers: dict, workdir: str, destination: str = "duckdb", backfill=None, db: str = "ms.duckdb"
    ) -> dict:
        spec, env = self.metricsync_spec(providers, workdir, destination, backfill, db)
        return run_child(spec, env, workdir)

    def timed(self, run) -> dict:
        self.server.take()
        outcome = run()
        outcome.update(self.server.take())
        return outcome

    def limits(self, rate: Optional[float] = None, row_heavy: Optional[dict] = None, render_each: bool = False) -> None:
        self.server.configure(
            latency=self.latency,
            cap=self.concurrency,
            rate=rate,
            record=False,
            retry_after_paths=retry_after_paths(),
            row_heavy=row_heavy,
            render_each=render_each,
        )

    def capture(self, providers: dict, workdir: str, backfill, requests_file: str) -> int:
        """Run metricsync once with no latency and no limits: renders every page it will ask for
        and records its requests (those answered 200) for the floor."""
        self.server.configure(latency=0, cap=None, rate=None, record=True, row_heavy=None, render_each=False)
        self.server.clear_log()
        self.metricsync(providers, workdir, backfill=backfill)
        count = self.server.save_log(requests_file)
        self.server.configure(record=False)
        return count

    def floor(self, requests_file: str, workdir: str) -> dict:
        os.makedirs(workdir, exist_ok=True)
        return run_child(
            {
                "kind": "floor",
                "requests_file": requests_file,
                "base_url": self.server.url,
                "concurrency": self.concurrency,
                "workdir": workdir,
            },
            env_for({}, {}),
            workdir,
        )

    # -- the three API scenarios -------------------------------------------------------------
    def scenario(self, scenario: Scenario) -> dict:
        span = scenario.span(self.quick)
        work = os.path.join(self.root, scenario.name)
        record = {
            "scenario": scenario.name,
            "provider": scenario.provider,
            "from": span[0].isoformat(),
            "to": span[1].isoformat(),
            "days": (span[1] - span[0]).days + 1,
            "contenders": {},
        }
        contenders = record["contenders"]
        requests_file = os.path.join(work, "requests.json")
        logger.info("%s: rendering pages and capturing metricsync's requests", scenario.name)
        record["pages"] = self.capture(self.settings(scenario), os.path.join(work, "capture"), span, requests_file)
        record["ideal_s"] = record["pages"] * self.latency / self.concurrency
        self.limits(render_each=scenario.server_renders)

        logger.info("%s: metricsync -> duckdb", scenario.name)
        contenders["metricsync_duckdb"] = self.timed(
            lambda: self.metricsync(self.settings(scenario), os.path.join(work, "ms_duckdb"), backfill=span)
        )
        if scenario.server_renders:  # metricsync and the floor on the same requests, nothing more
            logger.info("%s: floor (bare httpx + arrow + duckdb)", scenario.name)
            contenders["floor"] = self.timed(lambda: self.floor(requests_file, os.path.join(work, "floor")))
            return record
        logger.info("%s: metricsync -> duckdb, default windows_per_load", scenario.name)
        contenders["metricsync_duckdb_default_chunks"] = self.timed(
            lambda: self.metricsync(
                self.settings(scenario, chunked=True), os.path.join(work, "ms_chunked"), backfill=span
            )
        )
        if self.postgres:
            logger.info("%s: metricsync -> postgres", scenario.name)
            database = f"bench_{scenario.name}_{os.getpid()}"
            pg_admin(f"drop database if exists {database}")
            pg_admin(f"create database {database}")
            try:
                contenders["metricsync_postgres"] = self.timed(
                    lambda: self.metricsync(
                        self.settings(scenario),
                        os.path.join(work, "ms_pg"),
                        "postgres",
                        span,
                        f"postgresql://postgres:postgres@127.0.0.1:5432/{database}",
                    )
                )
            finally:
                pg_admin(f"drop database if exists {database} with (force)")

        logger.info("%s: floor (bare httpx + arrow + duckdb)", scenario.name)
        contenders["floor"] = self.timed(lambda: self.floor(requests_file, os.path.join(work, "floor")))

        record["rest_api_note"] = scenario.rest_api_note
        if scenario.rest_api:
            logger.info("%s: dlt rest_api", scenario.name)
            rest_dir = os.path.join(work, "rest")
            os.makedirs(rest_dir)
            query = (scenario.overrides.get("metric_queries") or [{}])[0]
            emulator = self.emulators[scenario.provider]
            base_url = self.settings(scenario)[scenario.provider]["base_url"]
            contenders["rest_api"] = self.timed(
                lambda: run_child(
                    {
                        "kind": "rest_api",
                        "flavour": scenario.rest_api,
                        "api_key": emulator.api_key,
                        "base_url": base_url,
                        "backfill": [d.isoformat() for d in span],
                        "query": query,
                        "workdir": rest_dir,
                        "pipelines_dir": os.path.join(rest_dir, "pipelines"),
                    },
                    env_for({}, {}),
                    rest_dir,
                )
            )
        return record

    # -- rate-limited: Statsig, the server accepting R requests/s --------------------------------
    def rate_limited(self) -> dict:
        scenario, rate = RATE_LIMITED, RATE_LIMITED.rate
        span = scenario.span(self.quick)
        work = os.path.join(self.root, scenario.name)
        requests_file = os.path.join(work, "requests.json")
        logger.info("%s: rendering pages", scenario.name)
        pages = self.capture(self.settings(scenario), os.path.join(work, "capture"), span, requests_file)
        self.limits(rate=rate)
        out = {
            "scenario": scenario.name,
            "days": (span[1] - span[0]).days + 1,
            "rate": rate,
            "pages": pages,
            "contenders": {},
        }
        for label, told in (("told", rate), ("not_told", None)):
            logger.info("%s: metricsync %s the rate", scenario.name, label.replace("_", " "))
            out["contenders"][label] = self.timed(
                lambda: self.metricsync(
                    self.settings(scenario, requests_per_second=told), os.path.join(work, label), backfill=span
                )
            )
        return out

    # -- crash cost: kill -9 at 60% of a long backfill, then the same command again -------------
    def crash_cost(self) -> dict:
        scenario = CRASH
        span = scenario.span(self.quick)
        work = os.path.join(self.root, scenario.name)
        requests_file = os.path.join(work, "requests.json")
        pages = self.capture(self.settings(scenario), os.path.join(work, "capture"), span, requests_file)
        self.limits(rate=scenario.rate)
        settings = self.settings(scenario, chunked=True, checkpoint_seconds=scenario.checkpoint_seconds)
        spec, env = self.metricsync_spec(settings, os.path.join(work, "run"), backfill=span)
        self.server.take()
        child = subprocess.Popen(
            child_command(spec),
            env=env,
            cwd=os.path.join(work, "run"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        killed_at = None
        while child.poll() is None:
            sent = self.server.stats()["requests"]
            if sent >= 0.6 * pages:
                os.kill(child.pid, signal.SIGKILL)
                killed_at = sent
                break
            time.sleep(0.02)
        child.wait()
        first = self.server.take()["requests"]
        logger.info("%s: killed after %s of %d requests; running again", scenario.name, killed_at, pages)
        self.server.configure(record=True)
        self.server.clear_log()
        rerun = self.timed(lambda: run_child(spec, env, os.path.join(work, "run")))
        refetched = sum(1 for r in self.server.log() if r["path"].endswith("/metrics/values"))
        self.server.configure(record=False)
        values = sum(1 for r in json.load(open(requests_file)) if r["path"].endswith("/metrics/values"))
        return {
            "scenario": scenario.name,
            "days": (span[1] - span[0]).days + 1,
            "pages": pages,
            "checkpoint_seconds": scenario.checkpoint_seconds,
            "rate": scenario.rate,
            "killed_at_requests": killed_at,
            "first_run_requests": first,
            "value_pages": values,
            "refetched_value_pages": refetched,
            "rerun": rerun,
        }

    # -- row-heavy: Stripe daily by 5,000 customers -------------------------------------------
    def row_heavy(self) -> dict:
        scenario = ROW_HEAVY
        customers = scenario.quick_customers if self.quick else scenario.customers
        out = {"scenario": scenario.name, "customers": customers, "contenders": {}}
        heavy = {"customers": customers}
        for label, days in (
            ("long", scenario.quick_days if self.quick else scenario.days),
            ("short", scenario.quick_short_days if self.quick else scenario.short_days),
        ):
            last = utc_today() - dt.timedelta(days=1)
            span = (last - dt.timedelta(days=days - 1), last)
            work = os.path.join(self.root, f"{scenario.name}_{label}")
            os.makedirs(work, exist_ok=True)
            requests_file = os.path.join(work, "requests.json")
            query = scenario.overrides["queries"][0]
            with open(requests_file, "w") as f:
                json.dump(rowheavy.requests_for(query, span, customers, self.emulators["stripe_analytics"].api_key), f)
            self.server.configure(latency=0, cap=None, rate=None, record=False, row_heavy=heavy)
            logger.info("%s %s: rendering pages (floor, untimed)", scenario.name, label)
            self.floor(requests_file, os.path.join(work, "warm"))
            self.limits(row_heavy=heavy)
            logger.info("%s %s: metricsync -> duckdb", scenario.name, label)
            out["contenders"][f"metricsync_{label}"] = self.timed(
                lambda: self.metricsync(self.settings(scenario), os.path.join(work, "ms"), backfill=span)
            )
            out["contenders"][f"metricsync_{label}"]["days"] = days
            if label == "long":
                out["days"] = days
                with open(requests_file) as f:
                    out["pages"] = len(json.load(f))
                logger.info("%s: floor", scenario.name)
                out["contenders"]["floor"] = self.timed(lambda: self.floor(requests_file, os.path.join(work, "floor")))
                logger.info("%s: dlt with a dict per row", scenario.name)
                out["contenders"]["dlt_dicts"] = self.timed(
                    lambda: run_child(
                        {
                            "kind": "dlt_dicts",
                            "requests_file": requests_file,
                            "base_url": self.server.url,
                            "concurrency": self.concurrency,
                            "workdir": work,
                            "pipelines_dir": os.path.join(work, "dd"),
                        },
                        env_for({}, {}),
                        work,
                    )
                )
        self.server.configure(row_heavy=None)
        return out

    # -- memory by length and the nightly sync -----------------------------------------------
    def rss_by_length(self) -> dict:
        statsig = next(s for s in SCENARIOS if s.provider == "statsig")
        self.limits()
        out = {}
        for label, (full, quick) in RSS_DAYS.items():
            days = quick if self.quick else full
            last = utc_today() - dt.timedelta(days=1)
            span = (last - dt.timedelta(days=days - 1), last)
            logger.info("rss: statsig %d days", days)
            result = self.timed(
                lambda: self.metricsync(self.settings(statsig), os.path.join(self.root, f"rss_{label}"), backfill=span)
            )
            out[label] = {"days": days, **result}
        return out

    def nightly(self) -> dict:
        settings = {name: e.demo_settings(self.server.url) for name, e in self.emulators.items()}
        work = os.path.join(self.root, "nightly")
        logger.info("nightly: first run (untimed), then the incremental run")
        self.limits()
        self.metricsync(settings, work)
        return self.timed(lambda: self.metricsync(settings, work))

    def run_all(self) -> dict:
        self.server = ReplayServer()
        try:
            results = {
                "settings": {
                    "latency_s": self.latency,
                    "concurrency": self.concurrency,
                    "quick": self.quick,
                    "postgres": self.postgres_note or "on",
                },
                "scenarios": [self.scenario(s) for s in SCENARIOS if self.wanted(s.name)],
            }
            if self.wanted(RATE_LIMITED.name):
                results["rate_limited"] = self.rate_limited()
            if self.wanted(ROW_HEAVY.name):
                results["row_heavy"] = self.row_heavy()
            if self.wanted(CRASH.name):
                results["crash_cost"] = self.crash_cost()
            if self.wanted("rss"):
                results["rss_by_length"] = self.rss_by_length()
            if self.wanted("nightly"):
                results["nightly"] = self.nightly()
            if self.wanted("startup"):
                results["startup"] = startup.scenario(self.quick)
            if self.wanted("shared_rate_budget"):
                results["shared_rate_budget"] = shared_budget.scenario(self.server, self.quick, self.latency)
        finally:
            self.server.stop()
            shutil.rmtree(self.root, ignore_errors=True)
        return results
