"""The CPU report of docs/development.md (`METRICSYNC_CPU_REPORT`, tests/support/cpu_report.py), run
as written there on two small files of the suite under pytest-xdist: one row per file with its tests
counted, the workers' rows in one table, most CPU first, and the total of the rows."""

import os
import re
import shlex
import sys

from support import ROOT
from support.processes import run_command

FILES = ("tests/codebase/test_layout.py", "tests/codebase/test_dlt_internals.py")
ROW = re.compile(r"^ *(\d+\.\d) +(\d+\.\d) +(\d+)  (\S+)$")


def documented() -> str:
    """docs/development.md's line that writes the report."""
    (line,) = [
        line.strip()
        for line in (ROOT / "docs" / "development.md").read_text().splitlines()
        if "METRICSYNC_CPU_REPORT=" in line
    ]
    return line


def test_the_documented_line_writes_cpu_seconds_per_file(isolated):
    line = documented()
    assert line.startswith("METRICSYNC_CPU_REPORT=cpu.txt .venv/bin/python -m pytest -q -n 2 --dist loadfile"), line
    setting, python, *argv = shlex.split(line)
    assert (setting, python) == ("METRICSYNC_CPU_REPORT=cpu.txt", ".venv/bin/python")
    report = isolated / "cpu.txt"
    env = {**os.environ, "METRICSYNC_CPU_REPORT": str(report)}
    done = run_command(
        [sys.executable, *argv, "-p", "no:cacheprovider", *FILES],
        timeout=280,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    passed = int(re.search(r"(\d+) passed", done.stdout)[1])
    *rows, total = report.read_text().splitlines()[1:]
    found = [ROW.match(row).groups() for row in rows]
    assert sorted(name for *_, name in found) == sorted(FILES)
    assert [float(cpu) for cpu, *_ in found] == sorted((float(cpu) for cpu, *_ in found), reverse=True)
    assert all(float(cpu) > 0 and float(wall) > 0 for cpu, wall, *_ in found), rows
    assert sum(int(tests) for _c, _w, tests, _n in found) == passed
    assert total.split()[2:] == [str(passed), "total", "(2", "files)"], total
    assert abs(float(total.split()[0]) - sum(float(cpu) for cpu, *_ in found)) < 0.2, total

    # a run stopped early: the table from the workers' rows, by the documented line
    table = report.read_text()
    report.unlink()
    (again,) = [
        line.strip()
        for line in (ROOT / "docs" / "development.md").read_text().splitlines()
        if "cpu_report.py cpu.txt" in line
    ]
    words = shlex.split(again.split("`")[1])
    assert words == [".venv/bin/python", "tests/support/cpu_report.py", "cpu.txt"], again
    script = str(ROOT / words[1])  # from the repository's root, where the report would be
    done = run_command([sys.executable, script, "cpu.txt"], timeout=60, cwd=isolated, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert report.read_text() == table
