"""Issue 31 item 3, the Dagster recipe's fan-out as documented in `deploy/dagster/definitions.py`:
with `deploy/dagster/dagster.yaml` in DAGSTER_HOME (Dagster's run queue, at most 4 runs at once),
`dagster-daemon run` and `dagster job backfill ... -j whop_nightly` materialize every configured
account partition of Whop, one run per account in processes of their own, against the sandbox; every
account's rows in the warehouse are its own sandbox truth, and no more than 4 runs ever overlapped.

Each run is a Dagster run worker and a step process that load the definitions, about 10 s of CPU:
`FANOUT_ACCOUNTS` accounts (default 50) take minutes on 2 cores, more than `make test` has room
for, so this file runs in `make test-dagster-fanout` (CI, after `make test`) with
METRICSYNC_DAGSTER_FANOUT=1, and skips elsewhere."""

import os
import subprocess
import time

import pytest
from support import ROOT, Warehouse, configure
from support.dagster import COMMANDS, SETUP, dagster_instance, shell_env
from support.processes import run_shell, shell_process
from support.whop import KEY, START, WALLET_QUERIES, expected_wallet

if os.environ.get("METRICSYNC_DAGSTER_FANOUT") != "1":
    pytest.skip("the fan-out run takes minutes: `make test-dagster-fanout` (CI) runs it", allow_module_level=True)

DAEMON = next(c for c in COMMANDS if c.startswith("dagster-daemon run"))
FANOUT = next(c for c in COMMANDS if c.startswith("dagster job backfill"))
ACCOUNTS = int(os.environ.get("FANOUT_ACCOUNTS", "50"))
LIMIT = 4  # run_queue.max_concurrent_runs in deploy/dagster/dagster.yaml


def overlap(runs: list) -> int:
    """The most runs that were running at one moment (from their start and end times)."""
    edges = sorted([(r.start_time, 1) for r in runs] + [(r.end_time, -1) for r in runs], key=lambda e: (e[0], e[1]))
    most = running = 0
    for _when, step in edges:
        running += step
        most = max(most, running)
    return most


@pytest.mark.timeout(1800)
def test_a_backfill_runs_every_account_partition_four_at_a_time(sandbox, monkeypatch, tmp_path):
    import dagster

    assert f"max_concurrent_runs: {LIMIT}" in (ROOT / "deploy/dagster/dagster.yaml").read_text()
    accounts = [{"name": f"acct_{i:02d}", "account_id": f"biz_acct_{i:02d}"} for i in range(ACCOUNTS)]
    configure(
        monkeypatch,
        "whop",
        api_key=KEY,
        base_url=f"{sandbox.url}/api/v1",
        start_date=START.isoformat(),
        wallet_queries=WALLET_QUERIES[:1],
        accounts=accounts,
    )
    warehouse = Warehouse("duckdb", str(tmp_path / "dagster.duckdb"))
    env = shell_env(tmp_path, warehouse)
    home = tmp_path / ".dagster"
    log = tmp_path / "daemon.log"
    started = time.monotonic()
    with (
        log.open("w") as out,
        shell_process(f"{SETUP}\n{DAEMON}", env, stdout=out, stderr=subprocess.STDOUT) as daemon,
    ):
        while "Instance is configured with the following daemons" not in log.read_text():  # its storage made
            assert daemon.poll() is None and time.monotonic() - started < 600, log.read_text()[-3000:]
            time.sleep(1)
        done = run_shell(f"{SETUP}\n{FANOUT}", env)
        assert done.returncode == 0, done.stdout[-3000:]
        with dagster_instance(home) as instance:
            deadline = time.monotonic() + 1500
            while True:
                assert daemon.poll() is None, log.read_text()[-3000:]
                runs = instance.get_runs(dagster.RunsFilter(job_name="whop_nightly"))
                if len(runs) == ACCOUNTS and all(r.is_finished for r in runs):
                    break
                assert time.monotonic() < deadline, f"{sum(r.is_finished for r in runs)} of {ACCOUNTS} runs finished"
                time.sleep(2)
            records = instance.get_run_records(dagster.RunsFilter(job_name="whop_nightly"))
    print(f"fan-out: {ACCOUNTS} account partitions in {time.monotonic() - started:.0f} s")
    assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(a["name"] for a in accounts)
    assert {r.status for r in runs} == {dagster.DagsterRunStatus.SUCCESS}
    most = overlap(records)
    assert 2 <= most <= LIMIT, most  # side by side, never more than the queue allows
    loaded = warehouse.query("select account, period, currency, amount from whop.wallet_time_series")
    for account in accounts:
        truth = expected_wallet(sandbox.by_name["whop"], WALLET_QUERIES[0], account["account_id"])
        rows = {(p, c): a for name, p, c, a in loaded if name == account["name"]}
        assert rows == {k: a for k, (a, _c) in truth.items()}, account["name"]
