"""CPU seconds per test file: `METRICSYNC_CPU_REPORT=cpu.txt .venv/bin/python -m pytest -n 2 --dist loadfile`
writes a table of the files, most CPU first, to `cpu.txt` (tests/conftest.py registers this plugin when
the variable is set).

A file's CPU is the change, over each of its tests (set-up, call and teardown: a module's fixtures
included), in `getrusage` of the process running it (`RUSAGE_SELF`) plus its children that ended and
were waited for (`RUSAGE_CHILDREN`: dbt and CLI subprocesses). A grandchild whose parent did not wait
for it (a daemon, a process group killed at the end) is not counted, nor a server started elsewhere
(Postgres, MariaDB). A session fixture's work (`loaded_duckdb`, `built_once`) counts for the file
whose test built it. Wall seconds are the file's own, as its worker saw them (the load of the machine
included); under pytest-xdist each worker measures its files and the controller writes the table.
"""

import os
import resource
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

ENV = "METRICSYNC_CPU_REPORT"
WORKER_KEY = "cpu_per_file"  # a worker's rows, handed to the controller in `workeroutput`


def cpu_seconds() -> float:
    """User + system seconds of this process and of its waited-for children so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuReport:
    """The plugin: `{file: [cpu, wall, tests]}` in each process that runs tests, a table at the end."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).resolve()  # the tests change the working directory
        self.files: dict[str, list[float]] = {}
        self.worker_rows: list[dict[str, list[float]]] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        cpu, wall = cpu_seconds(), time.perf_counter()
        yield
        row = self.files.setdefault(str(item.path.relative_to(item.config.rootpath)), [0.0, 0.0, 0])
        row[0] += cpu_seconds() - cpu
        row[1] += time.perf_counter() - wall
        row[2] += 1

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.worker_rows.append(node.workeroutput.get(WORKER_KEY, {}))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        if hasattr(config, "workerinput"):
            config.workeroutput[WORKER_KEY] = self.files
            return
        merged = dict(self.files)
        for rows in self.worker_rows:
            merged.update(rows)
        self.path.write_text(table(merged))


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
    if path:
        config.pluginmanager.register(CpuReport(path), "metricsync_cpu_report")
