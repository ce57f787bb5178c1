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
PROJECTS = {"north": 1, "east": 2, "south": 3}  # held: north (killed), east (its pool's other job); south not started


def posthog_truth(sandbox, project: int) -> set:
    emulator = sandbox.by_name["posthog"]
    return {
        m["id"]
        for t in emulator.group_types(str(project))
        for m in emulator.metrics(str(project), t["group_type_index"])
    }


def kill_the_worker_asking(sandbox, path: str, held: int, found: list) -> None:
    """Once `held` requests are held by the sandbox, SIGKILL the child process of this one whose
    connection sent the one to `path` (its pid into `found`); if none is found in 120 s, let the
    held requests go (the run ends, the test fails: nothing killed)."""
    import psutil  # as tests/support/processes.py: only the tests that look at processes need it

    deadline = time.monotonic() + 120
    try:
        while not found and time.monotonic() < deadline:
            ports = [r.client_port for r in sandbox.seen(path) if r.fault == "hang"]
            if ports and len([r for r in sandbox.seen("/api/projects/") if r.fault == "hang"]) >= held:
                for child in psutil.Process().children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # one gone or a zombie (an earlier test's)
                        if any(c.laddr and c.laddr.port == ports[0] for c in child.net_connections(kind="tcp")):
                            child.send_signal(signal.SIGKILL)
                            found.append(child.pid)
            time.sleep(0.1)
    finally:
        if not found:
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
    emulator.settings["projects"] = {**emulator.settings["projects"], "3": [["team", 2]]}
    # a request held past the client's timeout would be retried (and answered): held until the kill
    settings = {**emulator.demo_settings(sandbox.url), "project_id": None, "timeout": 900}
    configure(monkeypatch, "posthog", **settings, accounts=[{"name": n, "project_id": p} for n, p in PROJECTS.items()])
    for project in (1, 2):  # no answer: each worker busy with its account until killed
        sandbox.add_fault("hang", count=1, path=f"/api/projects/{project}/", delay=600)
    killed: list = []
    killer = threading.Thread(target=kill_the_worker_asking, args=(sandbox, "/api/projects/1/", 2, killed))
    killer.start()
    try:
        code, out, err = cli(capsys, isolated, warehouse, "run", "posthog", "--parallel", "2")
    finally:
        killer.join()
        sandbox.release()
    assert len(killed) == 1, (killed, out + err)
    assert code == 1, out + err
    lines = {
        name: [line for line in err.splitlines() if line.startswith(f"posthog (account {name}): ")] for name in PROJECTS
    }
    assert lines["south"] == [] and "posthog: 1 of 3 accounts loaded - failed: north (exit 1), east (exit 1)" in err
    pipelines = str(isolated / "pipelines")
    for name in ("north", "east"):
        assert len(lines[name]) == 1 and "the worker process failed (BrokenProcessPool)" in lines[name][0], err
        assert COMMAND.findall(lines[name][0]) == [
            f"metricsync run posthog --accounts {name} --destination postgres --pipelines-dir {pipelines}"
        ], lines[name]
    assert metric_ids(warehouse) == {"north": set(), "east": set(), "south": posthog_truth(sandbox, 3)}
    for name in ("north", "east"):  # each hinted command, as written
        words = shlex.split(COMMAND.findall(lines[name][0])[0])
        capsys.readouterr()
        assert main(words[1:]) == 0, capsys.readouterr()
    assert metric_ids(warehouse) == {name: posthog_truth(sandbox, project) for name, project in PROJECTS.items()}
    code, out, err = cli(capsys, isolated, warehouse, "status", "posthog", "--json")
    assert code == 0, err
    assert {e["account"] for e in json.loads(out)} == set(PROJECTS), out
