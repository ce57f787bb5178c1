"""One process of the shared-rate-budget scenario (bench/shared_budget.py) and its test
(tests/concurrency/test_rate_budget.py): the Whop wallet windows of some accounts under one API key, through
`build_client` (the client every source builds, with its limiter), `threads` at a time, told the
API's rate. Prints "ready" once imported; then for each line on stdin (the rate store to use, or
empty for none; the processes get theirs at once, so they start together) a round of those
requests with a client of its own, and one JSON line of what it saw.

    python -m metricsync.bench.budget_client URL FIRST_ACCOUNT ACCOUNTS WINDOWS THREADS RATE
"""

import datetime as dt
import json
import subprocess
import sys
import time

from metricsync.sources._common.http.client import Request, build_client, request_stats
from metricsync.sources._common.http.concurrency import run_concurrently
from metricsync.sources._common.http.limits import forget

KEY = "whop_sandbox_key"
WINDOW_DAYS = 7  # days per request: small pages, so that the API's rate (not its work) is what limits


def requests_for(first: int, accounts: int, windows: int) -> list[Request]:
    last = dt.date(2026, 1, 1)
    out = []
    for account in range(first, first + accounts):
        for n in range(windows):
            end = last - dt.timedelta(days=n * WINDOW_DAYS)
            params = {
                "resource_type": "wallet",
                "group_by": "day",
                "from": (end - dt.timedelta(days=WINDOW_DAYS - 1)).isoformat(),
                "to": end.isoformat(),
                "account_id": f"biz_{account:03d}",
            }
            out.append(Request("GET", "/api/v1/stats/time_series", params=params))
    return out


def one_round(url: str, work: list, threads: int, rate: float, store: str) -> dict:
    forget("whop")  # a limiter of its own for each round, as a new process would have
    request_stats("whop").reset()
    client = build_client(
        "whop",
        url,
        {"Authorization": f"Bearer {KEY}"},
        secret=KEY,
        max_concurrency=threads,
        requests_per_second=rate,
        timeout=30,
        max_attempts=30,
        max_retry_wait=30,
        rate_store=store or None,
    )
    answered = sum(1 for _ in run_concurrently(lambda r: client.request(r, endpoint="time_series"), work, threads))
    stats = request_stats("whop")
    client.close()
    return {"answered": answered, "requests": stats.requests, "throttled": stats.throttled}


def main(url: str, first: int, accounts: int, windows: int, threads: int, rate: float) -> None:
    """One round per line on stdin, the line the rate store to use (empty: none)."""
    work = requests_for(first, accounts, windows)
    print("ready", flush=True)
    for line in sys.stdin:
        print(json.dumps(one_round(url, work, threads, rate, line.strip())), flush=True)


def run_together(url: str, processes: int, accounts: int, windows: int, threads: int, rate: float, stores: list):
    """`processes` of these, the accounts split between them, started together for each of `stores`
    in turn: [(seconds from the go to the last answer, each process's JSON line)] per store."""
    each = accounts // processes
    command = [sys.executable, "-m", "metricsync.bench.budget_client", url]
    children = [
        subprocess.Popen(
            command + [str(k * each), str(each), str(windows), str(threads), str(rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    try:
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a budget client did not start (exit {child.wait()})")
        return [_round(children, store) for store in stores]
    finally:
        for child in children:
            child.kill()
            child.wait()


def _round(children: list, store: str) -> tuple[float, list]:
    started = time.perf_counter()
    for child in children:
        child.stdin.write(store + "\n")
        child.stdin.flush()
    outcomes = [json.loads(child.stdout.readline()) for child in children]
    return time.perf_counter() - started, outcomes


if __name__ == "__main__":
    url, *numbers = sys.argv[1:]
    main(url, *(int(n) for n in numbers[:4]), float(numbers[4]))
