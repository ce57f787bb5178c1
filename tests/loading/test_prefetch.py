"""The prefetcher that fetches the next chunk's windows while dlt loads the previous one: bounded
by requests in flight and by the bytes of results held, so memory stays flat however long the
backfill. Waits are for the pool to settle (bounded polls), never timing assertions."""

import threading
import time

import pyarrow as pa
from metricsync.sources._common.load.prefetch import Prefetcher, note

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


def test_windows_in_flight_count_their_pages_so_far_and_pause_at_max_bytes():
    """Eight long windows at once, each 8 pages of 128 KB noted as they arrive (as Stripe's
    windows are paged): with a 2 MB budget the pages alive - in running fetches and in results not
    taken - stay within the budget plus the two windows the load takes next and a page per thread,
    instead of every window running at once (8 x 1 MB); the load still gets every window, whole and
    once, and closing with windows paused returns."""
    lock, alive, peak, calls = threading.Lock(), [0], [0], []
    page, bound = MB // 8, 2 * MB + 2 * MB + 8 * MB // 8

    def fetch(unit):
        calls.append(unit)
        pages = []
        for _ in range(8):
            pages.append(pa.table({"x": pa.Array.from_buffers(pa.uint8(), page, [None, pa.py_buffer(bytes(page))])}))
            with lock:
                alive[0] += page
                peak[0] = max(peak[0], alive[0])
            note(page)
        return pa.concat_tables(pages)

    def stalled() -> None:
        """Wait (bounded) until the bytes held and in flight stop changing."""
        seen, quiet = -1, 0
        for _ in range(200):
            now = prefetcher._held + prefetcher._flight
            quiet = quiet + 1 if now == seen else 0
            if quiet >= 6:
                return
            seen = now
            time.sleep(0.05)

    def take(unit) -> None:
        table = prefetcher.take(unit)
        assert table.num_rows == MB
        with lock:
            alive[0] -= table.num_rows

    units = [({"name": "q"}, n) for n in range(16)]
    prefetcher = Prefetcher(fetch, workers=8, ahead=12, max_bytes=2 * MB)
    try:
        prefetcher.expect(units)
        stalled()
        assert 2 * MB <= alive[0] <= bound  # paused at the budget, not at 8 windows
        for unit in units[:6]:
            take(unit)
        stalled()
        started = sorted(unit[1] for unit in calls)
        assert started == list(range(len(calls))) and len(calls) < len(units)  # in order, the rest not yet started
        for unit in units[6:]:
            take(unit)
        assert sorted(unit[1] for unit in calls) == list(range(16)) and peak[0] <= bound
    finally:
        prefetcher.close()
    prefetcher = Prefetcher(fetch, workers=8, ahead=12, max_bytes=2 * MB)
    prefetcher.expect(units)
    stalled()
    prefetcher.close()  # returns although fetches are paused


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


def test_a_spooled_windows_pages_leave_memory_and_read_back_as_they_were():
    from metricsync.sources._common.load.arrow import to_arrow
    from metricsync.sources._common.load.spool import Spool

    def page(start: int) -> pa.Table:  # ~1 MB of Arrow: a compact query name, 1,000-character values
        return to_arrow(
            [
                {"query_name": "q", "dimension_value": f"{n:06d}" + "x" * 1000, "value": n}
                for n in range(start, start + 1000)
            ],
            compact=True,
        )

    expected = [row for start in (0, 1000, 2000, 3000) for row in page(start).to_pylist()]
    before = pa.total_allocated_bytes()
    spool, halves = Spool(), [Spool(), Spool()]
    for start in (0, 1000):
        spool.add(page(start))
    for half, start in zip(halves, (2000, 3000)):
        half.add(page(start))
    spool = Spool.join([spool, *halves])
    # four pages of ~1 MB each were added; Arrow holds none of them while they wait
    assert spool.num_rows == 4000 and spool.nbytes > 4 * 10**6
    assert pa.total_allocated_bytes() - before < 10**6
    table = spool.read()
    assert table.to_pylist() == expected


def test_page_chains_wait_while_the_warehouse_loads_and_go_on_after():
    """While quiet (the runner's warehouse load), fetches that note their pages stop before their
    next page, all but the window the load takes first; afterwards every page is fetched."""
    pages_noted = []

    def fetch(unit):
        for _ in range(20):
            pages_noted.append(unit[1])
            note(1000)
            time.sleep(0.01)
        return pa.table({"x": [unit[1]]})

    prefetcher = Prefetcher(fetch, workers=4, max_bytes=10**9)
    try:
        units = [({"name": "q"}, n) for n in range(4)]
        prefetcher.quiet(True)
        prefetcher.expect(units)
        for _ in range(200):  # bounded: until the first window is done and the others have stopped
            if prefetcher.ready(units[0]):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        stopped = {n: pages_noted.count(n) for n in range(1, 4)}
        time.sleep(0.3)
        assert pages_noted.count(0) == 20  # the window the load takes first never waits
        assert all(count <= 1 for count in stopped.values())  # each stopped at its first page
        assert {n: pages_noted.count(n) for n in range(1, 4)} == stopped  # and stayed there
        prefetcher.quiet(False)
        assert [prefetcher.take(unit).column("x")[0].as_py() for unit in units] == [0, 1, 2, 3]
        assert sorted(pages_noted) == sorted(list(range(4)) * 20)
    finally:
        prefetcher.close()


def test_the_loaders_duckdb_connection_caps_its_memory(monkeypatch, tmp_path):
    from metricsync.warehouse.destinations import make_destination, one_connection

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "capped.duckdb"))
    for configured, shown in ((None, "190.7 MiB"), ("1GB", "953.6 MiB")):  # DuckDB shows bytes in MiB
        if configured:
            monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", configured)
        factory = make_destination("duckdb", "whop")
        with one_connection(factory):
            connection = factory.config_params["credentials"]
            assert connection.execute("select current_setting('memory_limit')").fetchone()[0] == shown
