"""Shared rate budget: 200 Whop accounts under one API key, split over 4 processes (as on 4 hosts),
against the replay server accepting 40 requests in any sliding second (429 above, with
`Retry-After: 1`), each process told the API's rate: `bench/budget_client.py`, the client every
source builds with its limiter, sending each account's wallet windows. Once with `rate_store` (one
budget for the key in Redis), once without (each process paces on its own).

Target: with the store, total wall within 1.2x requests / rate and under 2% of requests answered 429.
"""

import logging
import sys

import redis

from .budget_client import run_together
from .server import ReplayServer

logger = logging.getLogger("bench")

ACCOUNTS, QUICK_ACCOUNTS, PROCESSES = 200, 20, 4
WINDOWS = 4  # requests per account
THREADS = 4  # each process's max_concurrency
RATE = 40  # requests the server accepts in any sliding second
STORE = "redis://127.0.0.1:6379/13"  # a database of the bench's own: flushed before the run


def flush_store() -> None:
    redis.Redis.from_url(STORE, socket_connect_timeout=2).flushdb()


def scenario(server: ReplayServer, quick: bool, latency: float) -> dict:
    accounts = QUICK_ACCOUNTS if quick else ACCOUNTS
    server.configure(latency=latency, cap=None, rate=RATE, record=False, retry_after_paths=["/api/v1"])
    out = {"scenario": "shared_rate_budget", "accounts": accounts, "processes": PROCESSES, "rate": RATE}
    out["windows"] = WINDOWS
    flush_store()
    logger.info("shared rate budget: %d accounts over %d processes, with the store then without", accounts, PROCESSES)
    rounds = run_together(server.url, PROCESSES, accounts, WINDOWS, THREADS, RATE, [STORE, ""])
    for label, (seconds, outcomes) in zip(("shared", "alone"), rounds):
        sent = {name: sum(o[name] for o in outcomes) for name in ("requests", "throttled")}  # as the clients saw them
        out[label] = {"seconds": seconds, **sent}
    return out
    return out


def report(result: dict) -> tuple[list, list]:
    """Lines for the results and rows for the targets."""
    lines = [
        "",
        f"Shared rate budget: {result['accounts']} Whop accounts under one key, {result['windows']} requests each, "
        f"split over {result['processes']} processes (`bench/budget_client.py`), the server accepting "
        f"{result['rate']} requests in any sliding second (429 above, `Retry-After: 1`), each process told the rate.",
        "",
        "| rate budget | wall s | requests sent | needed / R s | wall / (needed / R) | 429s | share 429 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    targets = []
    for label, words in (("shared", "shared (`rate_store`)"), ("alone", "each process its own")):
        found = result[label]
        ideal = result["accounts"] * result["windows"] / result["rate"]  # the requests needed / R
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


if __name__ == "__main__":  # a run of this scenario alone: python -m metricsync.bench.shared_budget [--quick]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    replay = ReplayServer()
    try:
        found = scenario(replay, "--quick" in sys.argv, 0.02)
    finally:
        replay.stop()
    print("\n".join(report(found)[0] + report(found)[1]))
