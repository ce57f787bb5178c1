"""CPU seconds per test file: `METRICSYNC_CPU_REPORT=cpu.txt .venv/bin/python -m pytest -n 2 --dist loadfile`
writes a table of the files, most CPU first, to `cpu.txt` (tests/conftest.py registers this plugin when
the variable is set).

A file's CPU is the change, over each of its tests (set-up, call and teardown: a module's fixtures
included), in `getrusage` of the process running it (`RUSAGE_SELF`) plus its children that ended and
were waited for (`RUSAGE_CHILDREN`: dbt and CLI subprocesses). A grandchild whose parent did not wait
for it (a daemon, a process group killed at the end) is not counted, nor a server started elsewhere
(Postgres, MariaDB). A session fixture's work (`loaded_duckdb`, `built_once`) counts for the file
whose test built it. Wall seconds are the file's own, as its worker saw them (the load of the machine
included). Each process that runs tests rewrites its rows in `<path>.<worker>.json` after every test
(so a run stopped early still tells what it measured: `python tests/support/cpu_report.py <path>`
writes the table from them); the controller (or the only process) writes the table at the end.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ENV = "METRICSYNC_CPU_REPORT"


def cpu_seconds() -> float:
    """User + system seconds of this process and of its waited-for children so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuReport:
    """The plugin: `{file: [cpu, wall, tests]}` in each process that runs tests, a table at the end."""

    def __init__(self, path: str, worker: str) -> None:
        self.path = Path(path).resolve()  # the tests change the working directory
        self.rows = self.path.with_name(f"{self.path.name}.{worker}.json")
        self.files: dict[str, list[float]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        cpu, wall = cpu_seconds(), time.perf_counter()
        yield
        row = self.files.setdefault(str(item.path.relative_to(item.config.rootpath)), [0.0, 0.0, 0])
        row[0] += cpu_seconds() - cpu
        row[1] += time.perf_counter() - wall
        row[2] += 1
        partial = self.rows.with_suffix(".part")
        partial.write_text(json.dumps(self.files))
        partial.replace(self.rows)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput"):
            write_table(self.path)


def write_table(path: Path) -> None:
    """The table of every process's rows (`<path>.*.json`) into `path`."""
    files: dict[str, list[float]] = {}
    for rows in sorted(path.parent.glob(f"{path.name}.*.json")):
        files.update(json.loads(rows.read_text()))
    path.write_text(table(files))


def table(files: dict[str, list[float]]) -> str:
    """The rows, most CPU first, and the totals."""
    lines = [f"{'cpu s':>8} {'wall s':>8} {'tests':>5}  file"]
    for name, (cpu, wall, tests) in sorted(files.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"{cpu:8.1f} {wall:8.1f} {int(tests):5d}  {name}")
    cpu_total = sum(row[0] for row in files.values())
    wall_total = sum(row[1] for row in files.values())
    tests_total = sum(int(row[2]) for row in files.values())
    lines.append(f"{cpu_total:8.1f} {wall_total:8.1f} {tests_total:5d}  total ({len(files)} files)")
    return "\n".join(lines) + "\n"


def register(config: pytest.Config) -> None:
    """Adds the plugin when `METRICSYNC_CPU_REPORT` names the table's file."""
    path = os.environ.get(ENV)
    if not path:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if worker == "main":  # a new run: no rows of an earlier one (the workers start after this)
        for rows in Path(path).resolve().parent.glob(f"{Path(path).name}.*.json"):
            rows.unlink()
    config.pluginmanager.register(CpuReport(path, worker), "metricsync_cpu_report")


if __name__ == "__main__":  # the table of a run stopped early
    write_table(Path(sys.argv[1]).resolve())
