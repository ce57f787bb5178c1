"""Accounts loaded one pipeline each (PostHog, Statsig) in spawned worker processes (`--parallel`):
every account's rows and state its own; a worker killed mid-load fails the accounts its pool was
running, each with the command that loads it (performed here as written), while the accounts not
started yet load in a fresh pool."""

import contextlib
import datetime as dt
import json
import re
import shlex
import signal
import threading
import time

import pytest
from support import configure, duckdb_only, today
from support.accounts import cli

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=3)
COMMAND = re.compile(r"run `(metricsync [^`]+)`")


def statsig_truth(sandbox, key: str) -> dict:
    days = [START + dt.timedelta(days=n) for n in range((TODAY - START).days + 1)]
    values = sandbox.by_name["statsig"].values_for
    return {(day, v["metricName"], v["unitType"]): v["value"] for day in days for v in values(day, key)}


@duckdb_only
def test_statsig_accounts_load_in_worker_processes(sandbox, warehouse, monkeypatch, isolated, capsys):
    emulator = sandbox.by_name["statsig"]
    keys = {"east": emulator.api_key, "west": emulator.second_api_key}  # each project's own values
    configure(
        monkeypatch,
        "statsig",
        **{**emulator.demo_settings(sandbox.url), "start_date": START.isoformat()},
        accounts=[{"name": name, "api_key": key} for name, key in keys.items()],
    )
    code, out, err = cli(capsys, isolated, warehouse, "run", "statsig", "--parallel", "2")
    assert code == 0, out + err
    assert "statsig: 2 of 2 accounts loaded" in out, out + err
    rows = warehouse.query("select account, date, metric_name, unit_type, value from statsig.metric_values")
    for name, key in keys.items():
        loaded = {(d, m, u): v for account, d, m, u, v in rows if account == name}
        assert loaded == statsig_truth(sandbox, key) and loaded, name
    code, out, err = cli(capsys, isolated, warehouse, "status", "statsig", "--json")
    assert code == 0, err
    windowed = {e["account"]: e for e in json.loads(out) if e["query"] == "metric_values"}
    assert set(windowed) == set(keys), out
    for name, entry in windowed.items():  # each account's own state
        assert (entry["loaded_through"], entry["rows"]) == (TODAY.isoformat(), len(statsig_truth(sandbox, keys[name])))


# -- a worker killed mid-load ------------------------------------------------------------------------------------------
# `--parallel 3`: this process and two spawned workers take north, east and south, whose first requests the sandbox holds;
# a worker is killed, so its pool's jobs fail; west, not started yet, loads (in a fresh pool or here)
PROJECTS = {"north": 1, "east": 2, "south": 3, "west": 4}
HELD = ("north", "east", "south")


def posthog_truth(sandbox, project: int) -> set:
    emulator = sandbox.by_name["posthog"]
    return {
        m["id"]
        for t in emulator.group_types(str(project))
        for m in emulator.metrics(str(project), t["group_type_index"])
    }


def held_by(sandbox) -> dict:
    """{account: client port} of the requests the sandbox holds."""
    ports = {}
    for name in HELD:
        held = [r.client_port for r in sandbox.seen(f"/api/projects/{PROJECTS[name]}/") if r.fault == "hang"]
        if held:
            ports[name] = held[0]
    return ports


def kill_a_worker(sandbox, killed: list, workers: dict) -> None:
    """Once every held account's request is held, SIGKILL the child process of this one that sent
    one of them (its account into `killed`; each child's accounts into `workers`), then let the held
    requests go: this process's own is answered on its retry. If none is found in 120 s the held
    requests go anyway (the run ends, the test fails: nothing killed)."""
    import psutil  # as tests/support/processes.py: only the tests that look at processes need it

    deadline = time.monotonic() + 120
    try:
        while not killed and time.monotonic() < deadline:
            ports = held_by(sandbox)
            if len(ports) == len(HELD):
                children = {}
                for child in psutil.Process().children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # one gone or a zombie (an earlier test's)
                        for connection in child.net_connections(kind="tcp"):
                            if connection.laddr:
                                children[connection.laddr.port] = child
                workers.update({name: children[port].pid for name, port in ports.items() if port in children})
                if len(workers) == len(HELD) - 1:  # this process holds the third
                    name = sorted(workers)[0]
                    psutil.Process(workers[name]).send_signal(signal.SIGKILL)
                    killed.append(name)
            time.sleep(0.1)
    finally:
        sandbox.release()


def metric_ids(warehouse) -> dict:
    """Each account's PostHog metric ids in the warehouse."""
    found: dict = {name: set() for name in PROJECTS}
    for account, metric in warehouse.query("select account, id from posthog.group_type_metrics"):
        found[account].add(metric)
    return found


# on Postgres: the hint names the destination (not the default), and the command is run as written
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_killed_worker_fails_its_accounts_with_the_command_that_loads_them(
    sandbox, warehouse, monkeypatch, isolated, capsys
):
    from metricsync.cli import main  # as support.accounts.cli: after the test's settings are set

    emulator = sandbox.by_name["posthog"]
    emulator.settings["projects"] = {**emulator.settings["projects"], "3": [["team", 2]], "4": [["team", 2]]}
    # a request held past the client's timeout would be retried (and answered): held until the kill
    settings = {**emulator.demo_settings(sandbox.url), "project_id": None, "timeout": 900}
    configure(monkeypatch, "posthog", **settings, accounts=[{"name": n, "project_id": p} for n, p in PROJECTS.items()])
    for name in HELD:  # no answer: each process busy with its account until the kill
        sandbox.add_fault("hang", count=1, path=f"/api/projects/{PROJECTS[name]}/", delay=600)
    killed: list = []
    workers: dict = {}
    killer = threading.Thread(target=kill_a_worker, args=(sandbox, killed, workers))
    killer.start()
    try:
        code, out, err = cli(capsys, isolated, warehouse, "run", "posthog", "--parallel", "3")
    finally:
        killer.join()
        sandbox.release()
    assert len(killed) == 1 and len(workers) == 2, (killed, workers, out + err)
    assert code == 1, out + err
    lines = {
        name: [line for line in err.splitlines() if line.startswith(f"posthog (account {name}): ")] for name in PROJECTS
    }
    # the pool's jobs fail with the worker killed (the other one is stopped with it, unless it finished first);
    # this process's loads; west loads in a fresh pool, or fails too when it was handed to the pool just as it broke
    # (the pool's results are read before its broken worker is: a race, so both are allowed here)
    here = next(name for name in HELD if name not in workers)
    failed = sorted(name for name in PROJECTS if lines[name])
    assert killed[0] in failed and here not in failed and set(failed) <= {*workers, "west"}, (failed, workers, err)
    loaded = [name for name in PROJECTS if name not in failed]
    summary = f"posthog: {len(loaded)} of 4 accounts loaded - failed: "
    assert summary + ", ".join(f"{name} (exit 1)" for name in PROJECTS if name in failed) in err, err
    pipelines = str(isolated / "pipelines")
    for name in failed:
        assert len(lines[name]) == 1 and "the worker process failed (BrokenProcessPool)" in lines[name][0], err
        assert COMMAND.findall(lines[name][0]) == [
            f"metricsync run posthog --accounts {name} --destination postgres --pipelines-dir {pipelines}"
        ], lines[name]
    truth = {name: posthog_truth(sandbox, project) for name, project in PROJECTS.items()}
    assert metric_ids(warehouse) == {name: set() if name in failed else truth[name] for name in PROJECTS}
    for name in failed:  # each hinted command, as written
        words = shlex.split(COMMAND.findall(lines[name][0])[0])
        capsys.readouterr()
        assert main(words[1:]) == 0, capsys.readouterr()
    assert metric_ids(warehouse) == truth
    code, out, err = cli(capsys, isolated, warehouse, "status", "posthog", "--json")
    assert code == 0, err
    assert {e["account"] for e in json.loads(out)} == set(PROJECTS), out
