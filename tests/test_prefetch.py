"""The prefetcher that fetches the next chunk's windows while dlt loads the previous one: bounded
by requests in flight and by the bytes of results held, so memory stays flat however long the
backfill. Waits are for the pool to settle (bounded polls), never timing assertions."""

import threading
import time

import pyarrow as pa

from sources._common.load.prefetch import Prefetcher

MB = 2**20


def settle(prefetcher: Prefetcher, calls: list, seconds: float = 10.0) -> None:
    """Wait until no fetch is running and the number of calls has not changed for 0.3 s."""
    deadline, seen, quiet = time.monotonic() + seconds, -1, 0
    while time.monotonic() < deadline and quiet < 6:
        running = any(not f.done() for f in list(prefetcher._futures.values()))
        quiet = quiet + 1 if not running and len(calls) == seen else 0
        seen = len(calls)
        time.sleep(0.05)


def test_no_unit_starts_once_the_results_held_reach_max_bytes():
    calls, lock = [], threading.Lock()

    def fetch(unit):
        with lock:
            calls.append(unit)
        return pa.table({"x": pa.array(bytes(MB), type=pa.uint8())})  # 1 MB of Arrow

    units = [({"name": "q"}, day) for day in range(10)]
    prefetcher = Prefetcher(fetch, workers=1, ahead=8, max_bytes=int(2.5 * MB))
    try:
        prefetcher.expect(units)
        settle(prefetcher, calls)
        assert len(calls) == 3 and prefetcher.held_bytes() == 3 * MB  # stopped at the budget, not at `ahead`
        assert prefetcher.take(units[0]).num_rows == MB
        settle(prefetcher, calls)
        assert len(calls) == 4 and prefetcher.held_bytes() == 3 * MB  # one taken, one more fetched
        for unit in units[1:]:
            assert prefetcher.take(unit).num_rows == MB
        assert [unit for unit in calls] == units  # each unit once, in order
    finally:
        prefetcher.close()


def test_without_a_byte_budget_reached_it_fetches_up_to_ahead():
    calls = []
    prefetcher = Prefetcher(lambda unit: calls.append(unit) or [], workers=2, ahead=5)
    try:
        prefetcher.expect([({"name": "q"}, day) for day in range(20)])
        settle(prefetcher, calls)
        assert len(calls) == 5
    finally:
        prefetcher.close()


def test_while_requests_are_paced_it_fetches_ahead_what_the_api_accepts_in_five_seconds():
    """Paced at 8 requests/s, the schedule goes on through a load: 40 units ahead, not `ahead`;
    once nothing holds the requests back (pace None), `ahead` again."""
    calls, rate = [], [8.0]
    prefetcher = Prefetcher(lambda unit: calls.append(unit) or [], workers=2, ahead=4, pace=lambda: rate[0])
    try:
        units = [({"name": "q"}, day) for day in range(100)]
        prefetcher.expect(units)
        settle(prefetcher, calls)
        assert len(calls) == 40
        rate[0] = None
        for unit in units[:40]:
            prefetcher.take(unit)
        settle(prefetcher, calls)
        assert len(calls) == 44
    finally:
        prefetcher.close()
