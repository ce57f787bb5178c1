"""Drive the contenders: one sandbox with latency and a concurrency cap for every timed run, one
logging sandbox (no latency) to capture the exact requests metricsync sends, each contender in a
child process (`bench.child`)."""

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Optional

from sandbox import Sandbox

from .scenarios import SCENARIOS, Scenario, source_settings

logger = logging.getLogger("bench")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN = "dbname=postgres user=postgres password=postgres host=127.0.0.1 port=5432 connect_timeout=3"
RSS_DAYS = {"short": (182, 10), "long": (730, 20)}  # (full, quick) Statsig days for the RSS check


class CountingSandbox:
    """The timed sandbox, counting the requests (and 429s) each contender makes."""

    def __init__(self, latency: float, concurrency: int) -> None:
        self.sandbox = Sandbox(latency=latency, max_in_flight=concurrency, log_requests=False)
        self.requests = self.throttled = 0
        self._lock = threading.Lock()
        dispatch = self.sandbox.dispatch

        def counted(request, host):
            response = dispatch(request, host)
            with self._lock:
                self.requests += 1
                self.throttled += bool(response is not None and response.status == 429)
            return response

        self.sandbox.dispatch = counted
        self.sandbox.start()

    def take(self) -> tuple[int, int]:
        with self._lock:
            counts, self.requests, self.throttled = (self.requests, self.throttled), 0, 0
        return counts


def env_for(settings_by_provider: dict, extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(PYTHONPATH=REPO, RUNTIME__DLTHUB_TELEMETRY="false", RUNTIME__LOG_LEVEL="WARNING")
    for provider, values in settings_by_provider.items():
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            env[f"SOURCES__{provider.upper()}__{key.upper()}"] = text
    env.update(extra)
    return env


def run_child(spec: dict, env: dict, cwd: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.child", json.dumps(spec)], env=env, cwd=cwd,
                          capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    raise RuntimeError(f"{spec['kind']} failed: {' | '.join(tail)}")


def postgres_available() -> bool:
    try:
        import psycopg2

        psycopg2.connect(PG_ADMIN).close()
        return True
    except Exception:  # any failure means: skip Postgres, with a note
        return False


def pg_admin(sql: str) -> None:
    import psycopg2

    con = psycopg2.connect(PG_ADMIN)
    con.autocommit = True
    con.cursor().execute(sql)
    con.close()


class Bench:
    def __init__(self, latency: float, concurrency: int, quick: bool, postgres: bool, only: Optional[list]) -> None:
        self.latency, self.concurrency, self.quick = latency, concurrency, quick
        self.postgres = postgres and postgres_available()
        self.postgres_note = "" if self.postgres else ("skipped (--no-postgres)" if not postgres
                                                       else "skipped: Postgres at 127.0.0.1:5432 unreachable")
        self.scenarios = [s for s in SCENARIOS if not only or s.name in only]
        self.root = tempfile.mkdtemp(prefix="metricsync-bench-")

    # -- one contender -----------------------------------------------------------------------
    def metricsync(self, sandbox: Sandbox, providers: dict, workdir: str, destination: str = "duckdb",
                   backfill=None, db: str = "ms.duckdb") -> dict:
        os.makedirs(workdir, exist_ok=True)
        extra = {"DESTINATION__DUCKDB__CREDENTIALS": os.path.join(workdir, db)}
        if destination == "postgres":
            extra["DESTINATION__POSTGRES__CREDENTIALS"] = db
        spec = {"kind": "metricsync", "providers": list(providers), "destination": destination,
                "backfill": [d.isoformat() for d in backfill] if backfill else None,
                "pipelines_dir": os.path.join(workdir, "pipelines")}
        return run_child(spec, env_for(providers, extra), workdir)

    def timed(self, counting: CountingSandbox, run) -> dict:
        counting.take()
        outcome = run()
        outcome["requests"], outcome["throttled"] = counting.take()
        return outcome

    # -- the scenarios -----------------------------------------------------------------------
    def scenario(self, scenario: Scenario, counting: CountingSandbox, capture: Sandbox) -> dict:
        span = scenario.span(self.quick)
        work = os.path.join(self.root, scenario.name)
        url = counting.sandbox.url
        emulator = counting.sandbox.by_name[scenario.provider]
        timed_settings = {scenario.provider: source_settings(emulator, url, scenario, self.concurrency)}
        record = {"scenario": scenario.name, "provider": scenario.provider, "from": span[0].isoformat(),
                  "to": span[1].isoformat(), "days": (span[1] - span[0]).days + 1, "contenders": {}}
        contenders = record["contenders"]

        logger.info("%s: capturing metricsync's requests", scenario.name)
        capture.clear_log()
        capture_settings = {scenario.provider: source_settings(
            capture.by_name[scenario.provider], capture.url, scenario, self.concurrency)}
        self.metricsync(capture, capture_settings, os.path.join(work, "capture"), backfill=span)
        requests_file = os.path.join(work, "requests.json")
        with open(requests_file, "w") as f:
            json.dump([{"method": r.method, "path": r.path, "query": r.query, "headers": r.headers,
                        "body": r.body.decode()} for r in capture.requests if r.status == 200], f)

        logger.info("%s: metricsync -> duckdb", scenario.name)
        contenders["metricsync_duckdb"] = self.timed(counting, lambda: self.metricsync(
            counting.sandbox, timed_settings, os.path.join(work, "ms_duckdb"), backfill=span))
        logger.info("%s: metricsync -> duckdb, default windows_per_load", scenario.name)
        chunked = {scenario.provider: source_settings(emulator, url, scenario, self.concurrency, chunked=True)}
        contenders["metricsync_duckdb_default_chunks"] = self.timed(counting, lambda: self.metricsync(
            counting.sandbox, chunked, os.path.join(work, "ms_chunked"), backfill=span))
        if self.postgres:
            logger.info("%s: metricsync -> postgres", scenario.name)
            database = f"bench_{scenario.name}_{os.getpid()}"
            pg_admin(f"drop database if exists {database}")
            pg_admin(f"create database {database}")
            try:
                contenders["metricsync_postgres"] = self.timed(counting, lambda: self.metricsync(
                    counting.sandbox, timed_settings, os.path.join(work, "ms_pg"), "postgres", span,
                    f"postgresql://postgres:postgres@127.0.0.1:5432/{database}"))
            finally:
                pg_admin(f"drop database if exists {database} with (force)")

        logger.info("%s: floor (bare httpx + arrow + duckdb)", scenario.name)
        floor_dir = os.path.join(work, "floor")
        os.makedirs(floor_dir)
        contenders["floor"] = self.timed(counting, lambda: run_child(
            {"kind": "floor", "requests_file": requests_file, "base_url": url, "concurrency": self.concurrency,
             "workdir": floor_dir}, env_for({}, {}), floor_dir))

        record["rest_api_note"] = scenario.rest_api_note
        if scenario.rest_api:
            logger.info("%s: dlt rest_api", scenario.name)
            rest_dir = os.path.join(work, "rest")
            os.makedirs(rest_dir)
            query = (scenario.overrides.get("metric_queries") or [{}])[0]
            contenders["rest_api"] = self.timed(counting, lambda: run_child(
                {"kind": "rest_api", "flavour": scenario.rest_api, "api_key": emulator.api_key,
                 "base_url": timed_settings[scenario.provider]["base_url"],
                 "backfill": [d.isoformat() for d in span], "query": query, "workdir": rest_dir,
                 "pipelines_dir": os.path.join(rest_dir, "pipelines")}, env_for({}, {}), rest_dir))
        return record

    def rss_by_length(self, counting: CountingSandbox) -> dict:
        statsig = next(s for s in SCENARIOS if s.provider == "statsig")
        emulator = counting.sandbox.by_name["statsig"]
        settings = {"statsig": source_settings(emulator, counting.sandbox.url, statsig, self.concurrency)}
        out = {}
        for label, (full, quick) in RSS_DAYS.items():
            days = quick if self.quick else full
            last = dt.date.today() - dt.timedelta(days=1)
            span = (last - dt.timedelta(days=days - 1), last)
            logger.info("rss: statsig %d days", days)
            result = self.timed(counting, lambda: self.metricsync(
                counting.sandbox, settings, os.path.join(self.root, f"rss_{label}"), backfill=span))
            out[label] = {"days": days, **result}
        return out

    def nightly(self, counting: CountingSandbox) -> dict:
        url = counting.sandbox.url
        settings = {e.name: e.demo_settings(url) for e in counting.sandbox.emulators}
        work = os.path.join(self.root, "nightly")
        logger.info("nightly: first run (untimed), then the incremental run")
        self.metricsync(counting.sandbox, settings, work)
        return self.timed(counting, lambda: self.metricsync(counting.sandbox, settings, work))

    def run_all(self) -> dict:
        counting = CountingSandbox(self.latency, self.concurrency)
        capture = Sandbox(latency=0, log_requests=True).start()
        try:
            results = {"settings": {"latency_s": self.latency, "concurrency": self.concurrency, "quick": self.quick,
                                    "postgres": self.postgres_note or "on"},
                       "scenarios": [self.scenario(s, counting, capture) for s in self.scenarios]}
            results["rss_by_length"] = self.rss_by_length(counting)
            results["nightly"] = self.nightly(counting)
        finally:
            counting.sandbox.stop()
            capture.stop()
            shutil.rmtree(self.root, ignore_errors=True)
        return results
