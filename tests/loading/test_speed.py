"""The speed work's bookkeeping: windows handed to dlt in batches, prefetched result sizes counted
once, loads bounded in rows, destination capabilities resolved once per run. Behaviour only, no
timings: the speed targets live in `make bench`."""

import datetime as dt
import threading

import pyarrow as pa
import pytest
from metricsync.sources._common.load.batch import Batch
from metricsync.sources._common.load.prefetch import Prefetcher
from metricsync.sources._common.load.progress import Chunk, RunControl
from support import configure, today
from support.statsig import VALUES, expected_values, warehouse_values


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- Batch -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sizes, seconds_held, next_ready, due",
    [
        pytest.param([], 0, False, False, id="empty-never-due"),
        pytest.param([2, 2], 0, True, False, id="under-rows-next-ready"),
        pytest.param([2, 3], 0, True, True, id="rows-reached"),
        pytest.param([1], 0.4, False, False, id="next-in-flight-held-briefly"),
        pytest.param([1], 0.5, False, True, id="next-in-flight-held-long-enough"),
        pytest.param([1], 9.0, True, False, id="held-long-but-next-ready"),
    ],
)
def test_batch_is_due_when_full_or_when_waiting_long_enough(sizes, seconds_held, next_ready, due):
    clock = FakeClock()
    batch = Batch(max_rows=5, max_seconds=0.5, clock=clock)
    for size in sizes:
        batch.add(pa.table({"a": list(range(size))}))
    clock.now += seconds_held
    assert batch.due(next_ready) is due


def test_batch_flush_concatenates_windows_filling_missing_columns_with_nulls():
    batch = Batch(clock=FakeClock())
    batch.add(pa.table({"q": ["a"], "v": [1.5]}))
    batch.add(pa.table({"q": [], "v": pa.array([], pa.float64())}))  # no rows: left out
    batch.add(pa.table({"q": ["b"], "_tombstone": [True]}))
    flushed = batch.flush()
    assert [t.to_pylist() for t in flushed] == [
        [{"q": "a", "v": 1.5, "_tombstone": None}, {"q": "b", "v": None, "_tombstone": True}]
    ]
    assert batch.flush() == [] and batch.rows == 0


def test_batch_flush_keeps_tables_apart_when_a_column_type_differs():
    batch = Batch(clock=FakeClock())
    batch.add(pa.table({"v": ["text"]}))
    batch.add(pa.table({"v": [2.5]}))
    assert [t.to_pylist() for t in batch.flush()] == [[{"v": "text"}], [{"v": 2.5}]]


# -- Prefetcher ------------------------------------------------------------------------------------


class Result:
    """A fetched result that counts how often its size is read."""

    reads = 0
    lock = threading.Lock()

    def __init__(self, size: int) -> None:
        self.size = size

    @property
    def nbytes(self) -> int:
        with Result.lock:
            Result.reads += 1
        return self.size


def test_prefetched_sizes_are_counted_once_per_result():
    Result.reads = 0
    units = [({"name": "q"}, day) for day in range(30)]
    prefetcher = Prefetcher(lambda unit: Result(10), workers=3, ahead=6)
    try:
        prefetcher.expect(units)
        taken = [prefetcher.take(unit) for unit in units]
        assert [r.size for r in taken] == [10] * 30
        assert Result.reads <= 30  # at most once each (a result taken while running is never sized)
        assert prefetcher.held_bytes() == 0
    finally:
        prefetcher.close()


def test_ready_once_a_unit_is_fetched_and_held_bytes_drop_when_taken():
    release = threading.Event()
    done = threading.Event()

    def fetch(unit):
        if unit[1] == 1:
            release.wait(10)
        result = pa.table({"x": pa.array(bytes(1000), type=pa.uint8())})
        if unit[1] == 0:
            done.set()
        return result

    units = [({"name": "q"}, 0), ({"name": "q"}, 1)]
    prefetcher = Prefetcher(fetch, workers=2)
    try:
        prefetcher.expect(units)
        assert done.wait(10)
        for _ in range(200):  # the done-callback runs right after the result is set
            if prefetcher.ready(units[0]):
                break
            threading.Event().wait(0.01)
        assert prefetcher.ready(units[0]) and not prefetcher.ready(units[1])
        assert prefetcher.held_bytes() == 1000
        prefetcher.take(units[0])
        assert prefetcher.held_bytes() == 0 and not prefetcher.ready(units[0])
        release.set()
        assert prefetcher.take(units[1]).num_rows == 1000
    finally:
        release.set()
        prefetcher.close()


# -- loads bounded in rows (real Statsig backfills into DuckDB) ----------------------------------

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
FIRST, LAST = TODAY - dt.timedelta(days=6), TODAY - dt.timedelta(days=1)
DATES = [FIRST + dt.timedelta(days=i) for i in range(6)]


def test_a_paced_runs_first_load_ends_after_a_second_when_the_rest_takes_five_or_more():
    clock, rate = FakeClock(), [40.0]
    control = RunControl(clock=clock, pace=lambda: rate[0])
    chunk = Chunk(control, seconds=60, resource="values")
    assert not chunk.late(rest=1000)  # not a second yet
    clock.now = 1.0
    assert chunk.late(rest=200)  # 5 s of windows still to fetch at 40/s: load what it has now
    assert not chunk.late(rest=100)  # 2.5 s: one load at the end
    rate[0] = None
    assert not chunk.late(rest=1000)  # nothing holds the requests back: no early load
    rate[0], control.loads = 40.0, 1
    later = Chunk(control, seconds=60, resource="values")
    clock.now = 30.0
    assert not later.late(rest=1000)  # only the run's first load ends early
    clock.now = 61.0
    assert later.late(rest=1000)  # checkpoint_seconds, as always


@pytest.mark.parametrize(
    "load_rows, loads",
    [
        pytest.param(1, 6, id="a-load-per-date"),
        # a date is 13 rows and its tombstone: a third would cross 29
        pytest.param(29, 3, id="ends-before-a-date-would-cross"),
        pytest.param(10**9, 1, id="one-load"),
    ],
)
def test_a_load_ends_once_it_took_load_rows(monkeypatch, sandbox, run, isolated, load_rows, loads):
    from metricsync.sources._common.load import progress
    from support import Warehouse

    monkeypatch.setattr(progress, "LOAD_ROWS", load_rows)
    path = str(isolated / "speed.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    warehouse = Warehouse("duckdb", path)
    configure(
        monkeypatch,
        "statsig",
        api_key="console-sandbox-statsig",
        base_url=sandbox.url,
        start_date=FIRST.isoformat(),
        windows_per_load=365,
    )
    result = run("statsig", warehouse, backfill=(FIRST, LAST))
    assert result.ok, result.message
    assert result.loads == loads
    assert warehouse_values(warehouse) == expected_values(sandbox.by_name["statsig"], DATES)
    assert sorted(r.arg("date") for r in sandbox.seen(VALUES)) == [d.isoformat() for d in DATES]


# -- destination capabilities ----------------------------------------------------------------------


def test_capabilities_are_resolved_once_and_handed_out_as_copies(monkeypatch, isolated):
    from dlt.common.destination.reference import Destination
    from metricsync.warehouse.destinations import make_destination

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "caps.duckdb"))
    calls = []
    original = Destination.capabilities
    monkeypatch.setattr(
        Destination,
        "capabilities",
        lambda self, config=None, naming=None: calls.append(naming) or original(self, config, naming),
    )
    factory = make_destination("duckdb", "statsig")
    first, second = factory.capabilities(), factory.capabilities()
    assert len(calls) == 1 and first is not second
    first.preferred_loader_file_format = "changed"
    assert factory.capabilities().preferred_loader_file_format == "insert_values"
