"""One rate budget per API key, shared by processes through a rate store (Redis): real processes
against the sandbox enforcing a server rate limit, counted from the sandbox's own request log."""

import datetime as dt
import time

import duckdb
import httpx
import pytest
from metricsync.bench.budget_client import run_together
from metricsync.cli import main
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.http.budget import STATE_EVERY, SharedBudget
from metricsync.sources._common.http.client import Request, build_client
from metricsync.sources._common.http.limits import RequestLimiter, forget
from support import configure, require, today

STORE = "redis://127.0.0.1:6379/14"  # a database of its own: the tests flush it
SERVER_RATE, PROCESSES, ACCOUNTS, WINDOWS, THREADS = 20, 4, 8, 5, 4
TOLD = 0.9 * SERVER_RATE  # each process is told about the API's rate (a margin for a busy test machine's jitter)
EACH = ACCOUNTS // PROCESSES * WINDOWS


@pytest.fixture
def store():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(STORE, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        require("METRICSYNC_REQUIRE_REDIS", f"{type(exc).__name__}: {exc}", "Redis at 127.0.0.1:6379")
    yield client
    client.flushdb()
    client.close()


def test_processes_sharing_a_key_share_its_rate_through_the_store(sandbox, store):
    """`PROCESSES` client processes of one key, started together, `WINDOWS` requests for each of
    their accounts: a round with the store, then one without (each process pacing itself at the
    API's whole rate)."""
    httpx.post(f"{sandbox.url}/_sandbox/rate", json={"per_second": SERVER_RATE}).raise_for_status()
    sandbox.clear_log()
    (_, shared), (_, alone) = run_together(sandbox.url, PROCESSES, ACCOUNTS, WINDOWS, THREADS, TOLD, [STORE, ""])
    httpx.post(f"{sandbox.url}/_sandbox/rate", json={"per_second": None}).raise_for_status()
    statuses = [r.status for r in sandbox.seen("/api/v1")]
    with_store, without_store = (
        statuses[: sum(r["requests"] for r in shared)],
        statuses[sum(r["requests"] for r in shared) :],
    )
    assert [r["answered"] for r in shared] == [r["answered"] for r in alone] == [EACH] * PROCESSES
    assert len(without_store) == sum(r["requests"] for r in alone)
    assert with_store.count(429) <= 0.05 * len(with_store), with_store.count(429)  # the bench's target: 2%
    assert without_store.count(429) >= max(5, 5 * with_store.count(429)), without_store.count(429)


def test_a_rate_cut_one_process_learnt_is_adopted_by_the_others_of_the_key(store):
    first, second = (
        RequestLimiter(4, None, provider="whop", budget=SharedBudget("whop", "whop_sandbox_key", STORE))
        for _ in range(2)
    )
    for limiter in (first, second):  # 10 successes each: 20 of the key in the last second
        for _ in range(10):
            with limiter.slot() as started:
                limiter.succeeded(started)
    with first.slot() as started:
        first.throttled(started)
    assert first.rate.limit == pytest.approx(0.85 * 20, abs=1.0)  # cut from the key's 20, not its own 10
    assert second.rate.limit is None  # not paced yet: it has not asked the store since
    time.sleep(STATE_EVERY)  # how long a process goes without reading the store's pause and cuts
    with second.slot() as started:
        second.succeeded(started)
    assert second.rate.limit == pytest.approx(first.rate.limit, rel=0.05)


def whop_client(store_url: str, url: str):
    return build_client(
        "whop",
        url,
        {"Authorization": "Bearer whop_sandbox_key"},
        secret="whop_sandbox_key",
        max_concurrency=1,
        requests_per_second=None,
        timeout=5,
        max_attempts=3,
        max_retry_wait=5,
        rate_store=store_url,
    )


SCHEMA = Request("GET", "/api/v1/stats/schema", params={"resource_type": "wallet"})


def test_a_retry_after_one_process_got_holds_back_the_others_of_the_key(sandbox, store):
    sandbox.add_fault("429", count=1, path="/api/v1", retry_after=1)
    whop_client(STORE, sandbox.url).request(SCHEMA, endpoint="schema")  # 429, waits 1 s, then 200
    forget("whop")  # another process: its own limiter, the same store
    whop_client(STORE, sandbox.url).request(SCHEMA, endpoint="schema")
    forget("whop")
    throttled, retried, other = sandbox.seen("/api/v1")
    assert (throttled.status, retried.status, other.status) == (429, 200, 200)
    assert other.started - throttled.started >= 0.95  # the other limiter waited for the pause too


def test_an_unreachable_store_fails_in_one_line_naming_the_setting(sandbox):
    with pytest.raises(ConfigError) as failure:
        whop_client("redis://:s3cret-pass@127.0.0.1:1/0", sandbox.url)
    message = str(failure.value)
    assert message.startswith("whop: the rate store redis://127.0.0.1:1/0 does not answer (ConnectionError)")
    assert "SOURCES__WHOP__RATE_STORE (sources.whop.rate_store)" in message and "\n" not in message
    assert "s3cret-pass" not in message


def whop_settings(monkeypatch, sandbox, store_url: str) -> None:
    configure(
        monkeypatch,
        "whop",
        api_key="whop_sandbox_key",
        base_url=f"{sandbox.url}/api/v1",
        start_date=(today() - dt.timedelta(days=10)).isoformat(),
        wallet_queries=[{"name": "daily", "group_by": "day"}],
        metric_queries=[],
        rate_store=store_url,
    )


def test_a_run_with_the_store_loads_every_row(sandbox, store, monkeypatch, capsys):
    whop_settings(monkeypatch, sandbox, STORE)  # (the next test shows the setting reaches the budget)
    assert main(["run", "whop", "--pipelines-dir", "pipelines"]) == 0
    with duckdb.connect("metricsync.duckdb", read_only=True) as con:
        days = con.execute("select count(distinct period) from whop.wallet_time_series").fetchone()[0]
    assert days == 11  # start_date (10 days back) through today, one period each
    forget("whop")


def test_a_run_whose_store_does_not_answer_fails_in_one_line_before_any_request_until_unset(
    sandbox, monkeypatch, capsys
):
    whop_settings(monkeypatch, sandbox, "redis://127.0.0.1:1/0")
    code = main(["run", "whop", "--pipelines-dir", "pipelines"])
    err = capsys.readouterr().err
    assert code == 2
    assert "whop: the rate store redis://127.0.0.1:1/0 does not answer (ConnectionError) - start it" in err
    assert not sandbox.seen("/api/v1/stats/time_series")
    configure(monkeypatch, "whop", rate_store=None)  # the message's last way out: unset it
    assert main(["run", "whop", "--pipelines-dir", "pipelines"]) == 0
