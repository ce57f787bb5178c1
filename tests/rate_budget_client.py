"""A process of the shared-rate-budget tests (tests/test_rate_budget.py): `count` requests to the
sandbox's Whop API under one key, `threads` at a time, through `build_client` (the client every
source builds, with its limiter), told the API's rate; prints "ready" once its client is built,
starts on a line on stdin (so that the processes start together), and prints one JSON line of what
it saw.

    python tests/rate_budget_client.py URL COUNT THREADS RATE [RATE_STORE]
"""

import json
import sys

from metricsync.sources._common.http.client import Request, build_client, request_stats
from metricsync.sources._common.http.concurrency import run_concurrently

KEY = "whop_sandbox_key"


def main(url: str, count: int, threads: int, rate: float, store: str = "") -> None:
    client = build_client(
        "whop",
        url,
        {"Authorization": f"Bearer {KEY}"},
        secret=KEY,
        max_concurrency=threads,
        requests_per_second=rate,
        timeout=10,
        max_attempts=30,
        max_retry_wait=30,
        rate_store=store or None,
    )
    print("ready", flush=True)
    sys.stdin.readline()
    request = Request("GET", "/api/v1/stats/schema", params={"resource_type": "wallet"})
    answered = sum(
        1 for _ in run_concurrently(lambda _n: client.request(request, endpoint="schema"), range(count), threads)
    )
    stats = request_stats("whop")
    print(json.dumps({"answered": answered, "requests": stats.requests, "throttled": stats.throttled}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), *sys.argv[5:])
