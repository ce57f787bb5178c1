"""`make bench`'s `report` scenario: `metricsync report` in a process of its own (as a cron line runs
it), timed from start to exit, interpreter start-up included, over

- the demo's warehouse (`metricsync demo`, untimed), target under 5 s;
- a year of 100 accounts: a run history of four providers x 100 accounts x 365 nights (146,000 rows,
  some failed, some throttled) and the marts with 100 accounts' months of MRR and net revenue, a
  year of daily active subscriptions and of nine daily Statsig metrics (about 400,000 rows), written
  straight into DuckDB (no API is asked), target under 30 s. Its providers have no stored state, so
  the freshness table is empty: the state of 400 account pipelines is not part of this figure.

    python -m metricsync.bench.htmlreport
"""

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import duckdb
from metricsync import history

logger = logging.getLogger("bench")
ACCOUNTS, DAYS = 100, 365
TARGETS = {"demo": 5.0, "year_100_accounts": 30.0}

HISTORY = """
insert into metricsync_history.runs
select substr(md5(p.provider || a.range || d.range), 1, 16), 'run', 'run all --progress log --transform', p.provider,
       'acct' || lpad(a.range::varchar, 3, '0'), 'bench', 4242, '0.1.0',
       (current_date - d.range::integer) + interval 3 hour, (current_date - d.range::integer) + interval 183 minute,
       case when (a.range * 7 + d.range) % 97 = 0 then 4 else 0 end,
       case when (a.range * 7 + d.range) % 97 = 0 then 'authentication or permission' else 'ok' end,
       p.provider || ': ok - incremental', 'incremental', current_date - d.range::integer,
       current_date - d.range::integer, 3, 24, 0, case when d.range % 50 = 0 then 2 else 0 end, null, '{{}}', 1200, 1,
       38.5, '[]', '[]'
from range({days}) d, range({accounts}) a, (values ('whop'), ('stripe_analytics'), ('posthog'), ('statsig')) p(provider)
"""
MARTS = """
create schema metrics;
create table metrics.fct_mrr_monthly as
select date_trunc('month', current_date - to_months(m.range::integer))::date as month,
       'acct' || lpad(a.range::varchar, 3, '0') as account, 'usd' as currency, 'mrr_by_price' as series,
       date_trunc('month', current_date - to_months(m.range::integer))::date as as_of,
       (1000 + a.range * 37 + m.range * 11)::decimal(38, 9) as mrr, m.range > 0 as is_complete
from range(12) m, range({accounts}) a;
create table metrics.fct_whop_wallet_net_revenue_monthly as
select 'acct' || lpad(a.range::varchar, 3, '0') as account, 'monthly_net' as series,
       date_trunc('month', current_date - to_months(m.range::integer))::date as month, 'usd' as currency,
       (5000 + a.range * 13 - m.range * 7)::decimal(38, 9) as net_revenue, 40::bigint as line_count,
       m.range > 0 as is_complete
from range(12) m, range({accounts}) a;
create table metrics.fct_metric_values as
select 'stripe_analytics' as provider, 'acct' || lpad(a.range::varchar, 3, '0') as account,
       'subscriptions_daily' as series, 'metric_1' as metric_id, 'active_subscriptions' as metric, 'day' as grain,
       (current_date - d.range::integer) as period_start,
       (current_date - d.range::integer) as period_end, '' as dimension_name, '' as dimension_value,
       (200 + a.range + d.range % 7)::decimal(38, 9) as value, '' as currency, d.range > 0 as is_complete
from range({days}) d, range({accounts}) a
union all
select 'statsig', 'acct' || lpad(a.range::varchar, 3, '0'), 'metric_' || s.range, 'metric_' || s.range || '::sum',
       'value', 'day', (current_date - d.range::integer), (current_date - d.range::integer),
       '', '', (a.range * 3 + s.range * 100 + d.range % 11)::decimal(38, 9), '', d.range > 0
from range({days}) d, range({accounts}) a, range(9) s;
"""


def year_of_accounts(path: str) -> None:
    """The history and the marts of `ACCOUNTS` accounts over `DAYS` days, written into `path`."""

    columns = ", ".join(f'"{name}" {kind}' for name, kind in history.COLUMNS.items())
    with duckdb.connect(path) as conn:
        conn.execute("create schema metricsync_history")
        conn.execute(f"create table metricsync_history.runs ({columns})")
        conn.execute(HISTORY.format(days=DAYS, accounts=ACCOUNTS))
        conn.execute(MARTS.format(days=DAYS, accounts=ACCOUNTS))


def timed_report(path: str, out: str) -> dict:
    """`metricsync report` over the DuckDB file `path`: wall and CPU seconds, the page's size."""
    env = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": path}
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "metricsync", "report", "--out", out], env=env, capture_output=True, text=True
    )
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"report failed: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "bytes": os.path.getsize(out)}


def scenario() -> dict:
    work = tempfile.mkdtemp(prefix="metricsync-bench-report-")
    try:
        demo = os.path.join(work, "demo.duckdb")
        subprocess.run([sys.executable, "-m", "metricsync", "demo", "--duckdb", demo], check=True, capture_output=True)
        results = {"demo": timed_report(demo, os.path.join(work, "demo.html"))}
        year = os.path.join(work, "year.duckdb")
        year_of_accounts(year)
        results["year_100_accounts"] = timed_report(year, os.path.join(work, "year.html"))
        for name, found in results.items():
            found["target_seconds"] = TARGETS[name]
            logger.info("report %s: %s", name, found)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    print(json.dumps(scenario()))
