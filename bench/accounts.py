"""Shared rate budget: 200 Whop accounts under one API key, split over 4 `metricsync run` processes
(each its own DuckDB file, as on 4 hosts), against the replay server accepting 40 requests in any
sliding second (429 above, with `Retry-After: 1`), each process told the API's rate. Once with
`rate_store` (one budget for the key in Redis), once without (each process paces on its own).

Target: with the store, total wall within 1.2x requests / rate and under 2% of requests answered 429.
"""

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time

from metricsync.sources._common.load.windows import utc_today

from .runs import env_for
from .server import ReplayServer

logger = logging.getLogger("bench")

ACCOUNTS, QUICK_ACCOUNTS, PROCESSES = 200, 20, 4
RATE = 40  # requests the server accepts in any sliding second
DAYS = 1095  # a daily wallet query over 3 years: 12 windows of 92 days per account
STORE = "redis://127.0.0.1:6379/13"  # a database of the bench's own: flushed before each contender


def settings(url: str, accounts: int, store: str) -> dict:
    return {
        "whop": {
            "api_key": "whop_sandbox_key",
            "base_url": f"{url}/api/v1",
            "wallet_queries": [{"name": "daily_all", "group_by": "day"}],
            "metric_queries": [],
            "requests_per_second": RATE,
            "max_concurrency": 4,
            "rate_store": store or None,
            "accounts": [{"name": f"a{n:03d}", "account_id": f"biz_{n:03d}"} for n in range(accounts)],
        }
    }


def flush_store() -> None:
    import redis

    redis.Redis.from_url(STORE, socket_connect_timeout=2).flushdb()


def run_processes(server: ReplayServer, work: str, accounts: int, store: str) -> dict:
    """The 4 processes, started together; wall from the first start to the last exit."""
    last = utc_today() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=DAYS - 1)
    names = [f"a{n:03d}" for n in range(accounts)]
    children = []
    server.take()
    started = time.perf_counter()
    for k in range(PROCESSES):
        folder = os.path.join(work, f"p{k}")
        os.makedirs(folder, exist_ok=True)
        env = env_for(settings(server.url, accounts, store), {"DESTINATION__DUCKDB__CREDENTIALS": f"{folder}/w.duckdb"})
        command = [sys.executable, "-m", "metricsync", "--pipelines-dir", f"{folder}/pipelines", "run", "whop"]
        command += ["--from", first.isoformat(), "--to", last.isoformat(), "--accounts", *names[k::PROCESSES]]
        children.append(
            subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        )
    errors = [child.communicate()[1].decode().strip().splitlines()[-1:] for child in children]
    wall = time.perf_counter() - started
    codes = [child.returncode for child in children]
    if any(codes):
        raise RuntimeError(f"accounts bench: exit codes {codes}: {errors}")
    return {"seconds": wall, **server.take()}


def scenario(server: ReplayServer, root: str, quick: bool, latency: float) -> dict:
    accounts = QUICK_ACCOUNTS if quick else ACCOUNTS
    server.configure(latency=latency, cap=None, rate=RATE, record=False, retry_after_paths=["/api/v1"])
    out = {"scenario": "shared_rate_budget", "accounts": accounts, "processes": PROCESSES, "rate": RATE}
    out["days"] = DAYS
    for label, store in (("shared", STORE), ("alone", "")):
        if store:
            flush_store()
        logger.info("shared rate budget: %d accounts over %d processes, %s", accounts, PROCESSES, label)
        out[label] = run_processes(server, os.path.join(root, f"accounts_{label}"), accounts, store)
    return out


def report(result: dict) -> tuple[list, list]:
    """Lines for the results and rows for the targets."""
    lines = [
        "",
        f"Shared rate budget: {result['accounts']} Whop accounts under one key, {result['days']} days each (a daily "
        f"wallet query), split over {result['processes']} `metricsync run` processes, the server accepting "
        f"{result['rate']} requests in any sliding second (429 above, `Retry-After: 1`), each process told the rate.",
        "",
        "| rate budget | wall s | requests | requests / R s | wall / (requests / R) | 429s | share 429 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    targets = []
    for label, words in (("shared", "shared (`rate_store`)"), ("alone", "each process its own")):
        found = result[label]
        ideal = found["requests"] / result["rate"]
        share = found["throttled"] / max(1, found["requests"])
        lines.append(
            f"| {words} | {found['seconds']:.1f} | {found['requests']} | {ideal:.1f} | "
            f"{found['seconds'] / ideal:.2f}x | {found['throttled']} | {share:.1%} |"
        )
        if label == "shared":
            ok = found["seconds"] <= 1.2 * ideal and share < 0.02
            targets.append(
                f"| shared rate budget: <= 1.2x requests / R, < 2% 429s | wall {found['seconds'] / ideal:.2f}x, "
                f"{share:.1%} | {'met' if ok else '**missed**'} |"
            )
    return lines, targets


if __name__ == "__main__":  # a run of this scenario alone: python -m metricsync.bench.accounts [--quick]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import tempfile

    replay = ReplayServer()
    try:
        found = scenario(replay, tempfile.mkdtemp(prefix="metricsync-bench-"), "--quick" in sys.argv, 0.02)
    finally:
        replay.stop()
    print("\n".join(report(found)[0] + report(found)[1]))
    print(json.dumps(found))
