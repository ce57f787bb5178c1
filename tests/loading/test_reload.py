"""Re-loading a big window within DuckDB's memory cap, and data a failed run left pending.

A daily Whop metric broken down by 30 countries: 2,760 rows in one 92-day window. dlt's own
`delete-insert` (delete where the primary key OR the merge key matches) runs out of memory on it
under a 20 MB cap; metricsync's delete by the merge key (`pipelines/warehouse/merges.py`) does
not. The 55,200- and 500,020-row re-loads are measured by `make bench` (`reload`, bench/reload.py).
"""

import datetime as dt
import json
import logging

import pytest
from support import configure

COUNTRIES = [f"C{n:02d}" for n in range(30)]
QUERY = {"name": "by_country", "resource": "receipts:gross_revenue", "granularity": "daily", "breakdowns": ["country"]}
SMALL_CAP = "20MB"  # dlt's own delete of this window needs more (measured: out of memory at 19 MiB)
PENDING = "the data left pending by the previous run"


@pytest.fixture
def countries(sandbox, monkeypatch, tmp_path):
    """The sandbox answering 30 countries (one page a window); Whop configured for the metric
    alone; the DuckDB file of this test. Yields the backfill: one 92-day window, ending 10 days ago."""
    whop = sandbox.by_name["whop"]
    whop.settings["breakdown_values"] = {"country": COUNTRIES}
    whop.settings["metric_page_size"] = 5_000
    configure(
        monkeypatch,
        "whop",
        api_key=whop.api_key,
        base_url=f"{sandbox.url}/api/v1",
        metric_queries=[QUERY],
        wallet_queries=[],
    )
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "reload.duckdb"))
    last = sandbox.today - dt.timedelta(days=10)
    return last - dt.timedelta(days=91), last


def restate(sandbox, span) -> None:
    """Every day of `span` revised upstream: a re-load must replace each of its values."""
    sandbox.restate((span[1] - span[0]).days + 1, ago=(sandbox.today - span[1]).days)


def truth(sandbox, span) -> dict:
    totals = sandbox.by_name["whop"].metric_totals(
        QUERY["resource"], "daily", ["country"], span[0], span[1] + dt.timedelta(days=1)
    )
    return {(period, combo[0]): value for (period, combo), value in totals.items()}


def stored(tmp_path) -> dict:
    import duckdb

    with duckdb.connect(str(tmp_path / "reload.duckdb"), read_only=True) as con:
        rows = con.execute("select period, breakdown_key, value from whop.metric_results").fetchall()
    assert len(rows) == len(COUNTRIES) * 92  # no duplicate, no stale row beside its new value
    return {(period, json.loads(key)["country"]): value for period, key, value in rows}


def pending_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if PENDING in r.getMessage()]


def old_version_pipeline(isolated, span):
    """The pipeline as a version without the merge-key delete ran it, and its backfill of `span`
    (dlt's own `delete-insert`)."""
    import dlt
    from metricsync.runner import apply_loader_defaults
    from metricsync.sources._common.load.progress import RunControl
    from metricsync.sources.whop import whop_source
    from metricsync.warehouse.destinations import apply_loader_format, make_destination, pipeline_name

    apply_loader_defaults()
    factory = make_destination("duckdb", "whop")
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name("whop", "duckdb"),
        destination=factory,
        dataset_name="whop",
        pipelines_dir=str(isolated / "pipelines"),
    )
    return pipeline, apply_loader_format(whop_source(control=RunControl(backfill=span)), factory)


def test_a_package_that_fails_again_is_discarded_and_its_window_reloaded_within_the_cap(
    sandbox, countries, run, isolated, monkeypatch, caplog
):
    import dlt

    pipeline, source = old_version_pipeline(isolated, countries)
    pipeline.run(source)
    restate(sandbox, countries)
    pipeline, source = old_version_pipeline(isolated, countries)
    pipeline.extract(source)
    pipeline.normalize()  # its next run stopped before the load: the package is pending
    assert pipeline.has_pending_data
    sandbox.clear_log()

    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", SMALL_CAP)
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")  # dlt retries a failed job 5 times a second apart
    with caplog.at_level(logging.WARNING, logger="metricsync"):
        result = run("whop", backfill=countries)

    assert result.ok, result.message
    assert not dlt.attach(pipeline.pipeline_name, pipelines_dir=str(isolated / "pipelines")).has_pending_data
    [line] = pending_lines(caplog)
    assert line.startswith(
        "whop: the data left pending by the previous run failed to load again (DuckDB ran out of "
        "memory (Out of Memory Error: "
    )
    assert line.endswith("discarded it, its windows are fetched again")
    assert sandbox.seen("/api/v1/stats/metric"), "the window was fetched again"
    assert stored(isolated) == truth(sandbox, countries)


def test_a_load_that_failed_midway_is_completed_by_the_next_run(sandbox, countries, run, isolated, monkeypatch, caplog):
    import dlt
    from metricsync.warehouse.destinations import pipeline_name

    restate(sandbox, countries)
    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "1MB")  # DuckDB fails the load, after the extract
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")  # dlt retries a failed job 5 times a second apart
    failed = run("whop", backfill=countries)
    assert failed.exit_code == 1 and "\n" not in failed.message
    assert failed.message.startswith("whop: DuckDB ran out of memory (Out of Memory Error: ")
    assert failed.message.endswith(
        "- raise destination.duckdb.memory_limit (DESTINATION__DUCKDB__MEMORY_LIMIT, "
        "default 200MB) and re-run; loads already committed stay"
    )
    assert dlt.attach(pipeline_name("whop", "duckdb"), pipelines_dir=str(isolated / "pipelines")).has_pending_data

    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "200MB")  # as the line says
    with caplog.at_level(logging.WARNING, logger="metricsync"):
        result = run("whop", backfill=countries)

    assert result.ok, result.message
    assert pending_lines(caplog) == [f"whop: loaded {PENDING}"]
    assert result.loads == 2  # the pending package, then this run's own
    assert stored(isolated) == truth(sandbox, countries)


def test_the_delete_scope_sample_in_the_docstring_holds():
    import doctest

    from metricsync.warehouse import merges

    assert doctest.testmod(merges).failed == 0
