"""Many accounts of one provider (issue 31): the nightly of 100 and 1,000 Whop accounts (quick: 5 and
20), one daily wallet query over 60 days each, as `metricsync run whop --parallel 8`, against the replay
server at 20 ms per request. A first run (untimed, no latency) renders the pages and loads the
backfill; the timed run is the nightly after it. Measured: wall against the API's bound (requests x
latency / cap: this server has no rate limit), CPU per account, and peak RSS from the smaller count
to the larger (a worker process's, the largest of them)."""

import datetime as dt
import logging
import os
import shutil
import tempfile

from metricsync.sandbox import Sandbox
from metricsync.sources._common.load.windows import utc_today

from .runs import env_for, run_child
from .scenarios import source_settings
from .server import ReplayServer

logger = logging.getLogger("bench")

COUNTS, QUICK_COUNTS = (100, 1000), (5, 20)
LATENCY = 0.02  # seconds per request, whatever `--latency` the other scenarios use
DAYS = 60
PARALLEL = 8
TARGET_SLACK, TARGET_EXTRA_S = 1.5, 3.0  # wall <= 1.5 x the API's bound + 3 s
TARGET_CPU_PER_ACCOUNT_S = 0.025
FLAT = 1.15


def settings(server: ReplayServer, concurrency: int, count: int) -> dict:
    """`sources.whop.*`: the emulator's key and URL, one daily wallet query from 60 days ago, `count` accounts."""
    values = source_settings(Sandbox(log_requests=False).by_name["whop"], server.url, None, concurrency)
    start = utc_today() - dt.timedelta(days=DAYS)
    values.update(
        start_date=start.isoformat(),
        wallet_queries=[{"name": "daily_all", "group_by": "day"}],
        metric_queries=[],
        accounts=[{"name": f"a{i:04d}", "account_id": f"biz_bench{i:04d}"} for i in range(count)],
    )
    return {"whop": values}


def nightly(server: ReplayServer, concurrency: int, root: str, count: int) -> dict:
    """One count: the first run untimed, then the nightly timed with the API's latency and cap."""
    work = os.path.join(root, f"accounts_{count}")
    os.makedirs(work, exist_ok=True)
    spec = {
        "kind": "accounts",
        "provider": "whop",
        "destination": "duckdb",
        "pipelines_dir": os.path.join(work, "pipelines"),
        "parallel": PARALLEL,
    }
    env = env_for(
        settings(server, concurrency, count), {"DESTINATION__DUCKDB__CREDENTIALS": os.path.join(work, "ms.duckdb")}
    )
    server.configure(latency=0, cap=None, rate=None, record=False, row_heavy=None, render_each=False)
    logger.info("accounts: %d whop accounts, first run (untimed)", count)
    run_child(spec, env, work)
    server.configure(latency=LATENCY, cap=concurrency)
    logger.info("accounts: %d whop accounts, the nightly", count)
    server.take()
    result = run_child(spec, env, work)
    result.update(server.take())
    result["accounts"] = count
    result["bound_s"] = result["requests"] * LATENCY / concurrency
    return result


def scenario(quick: bool, concurrency: int) -> dict:
    """Both counts against a replay server of their own (as `reload` runs apart from the others)."""
    server, root = ReplayServer(), tempfile.mkdtemp(prefix="metricsync-bench-accounts-")
    try:
        runs = [nightly(server, concurrency, root, n) for n in (QUICK_COUNTS if quick else COUNTS)]
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return {"latency_s": LATENCY, "parallel": PARALLEL, "days": DAYS, "runs": runs}


def report(result: dict, lines: list, targets: list) -> None:
    """The accounts table and its three targets (wall, CPU per account, flat memory)."""
    runs = result["runs"]
    lines += [
        "",
        f"Many accounts: Whop nightly, one daily wallet query over {result['days']} days per account, "
        f"`--parallel {result['parallel']}`, {result['latency_s'] * 1000:.0f} ms per request:",
        "",
        "| accounts | wall s | API bound s | wall / bound | CPU s | CPU per account ms | requests | 429s "
        "| peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        per_account = run["cpu_s"] / run["accounts"] * 1000
        lines.append(
            f"| {run['accounts']} | {run['seconds']:.1f} | {run['bound_s']:.2f} | "
            f"{run['seconds'] / run['bound_s']:.1f}x | {run['cpu_s']:.1f} | {per_account:.0f} | "
            f"{run['requests']} | {run['throttled']} | {run['peak_rss_mb']:.0f} |"
        )
    small, large = runs[0], runs[-1]
    allowed = TARGET_SLACK * large["bound_s"] + TARGET_EXTRA_S
    per_account = large["cpu_s"] / large["accounts"]
    growth = large["peak_rss_mb"] / small["peak_rss_mb"]
    targets += [
        f"| {large['accounts']} accounts nightly <= {TARGET_SLACK:g} x API bound + {TARGET_EXTRA_S:g} s "
        f"({allowed:.1f} s) | {large['seconds']:.1f}s | {'met' if large['seconds'] <= allowed else '**missed**'} |",
        f"| CPU per account <= {TARGET_CPU_PER_ACCOUNT_S * 1000:.0f} ms | {per_account * 1000:.0f} ms | "
        f"{'met' if per_account <= TARGET_CPU_PER_ACCOUNT_S else '**missed**'} |",
        f"| peak RSS flat ({large['accounts']} vs {small['accounts']} accounts) | {growth:.2f}x | "
        f"{'met' if growth <= FLAT else '**missed**'} |",
    ]
