"""`make demo`, as the Makefile runs it (the README's first command on a fresh machine): the
sandbox loaded into a DuckDB file, an old restatement found and repaired by `verify`, the marts
built, the semantic layer queried, and the HTML report written. Only the DuckDB file's path differs (a test folder)."""

import os
import re
import sys

from support import ROOT, Warehouse
from support.processes import run_command


def demo_command(duckdb_path: str) -> list[str]:
    """The Makefile's `demo` recipe, with this venv's Python and the file in a test folder."""
    recipe = re.search(r"^demo:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    words = recipe.split()
    assert words[:1] == ["$(PY)"] and words[-2:] == ["--duckdb", "demo.duckdb"], recipe
    return [sys.executable, *words[1:-1], duckdb_path]


def test_make_demo_runs_as_written(isolated):
    path = str(isolated / "demo.duckdb")
    done = run_command(
        demo_command(path),
        timeout=280,
        cwd=isolated,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for provider in ("whop", "stripe_analytics", "posthog", "statsig"):
        assert re.search(rf"^{provider}: ok - ", out, re.M), provider
    found, repaired = out.split("$ metricsync verify whop --all\n")[1].split(
        "$ metricsync verify whop --all --repair\n"
    )
    assert re.search(r"^whop: \d+ windows checked, \d+ rows compared, [1-9]\d* periods drifted", found, re.M), found
    assert "re-verify clean" in repaired
    assert "transform: ok - " in out
    marts = out.split("metrics.fct_mrr_monthly")[1]
    assert marts.splitlines()[1].split(" | ") == [
        "  account",
        "month",
        "currency",
        "series",
        "as_of",
        "mrr",
        "is_complete",
    ]
    assert "$ metricsync query mrr --grain month --by account currency\nmonth " in out
    warehouse = Warehouse("duckdb", path)
    complete = warehouse.query("select count(*) from metrics.fct_mrr_monthly where is_complete")[0][0]
    running = warehouse.query("select count(*) from metrics.fct_mrr_monthly where not is_complete")[0][0]
    assert complete > 0 and running > 0  # past months, and the month still running marked as such
    recorded = warehouse.query("select provider, exit_code from metricsync_history.runs order by provider")
    assert recorded == [(p, 0) for p in sorted(("whop", "stripe_analytics", "posthog", "statsig"))]
    report = isolated / "demo-report.html"  # the day ends with the HTML report, beside the file
    assert out.rstrip().endswith(f"the report: {report}")
    page = report.read_text()
    assert "Monthly recurring revenue (Stripe)" in page and "Runs over the period" in page and "<script" not in page
    assert done.stderr == ""  # no warning a user could not act on
    printed = {shape(line) for line in out.splitlines()}
    shown = [line for line in readme_example() if shape(line) not in printed]
    assert shown == []  # every line README.md shows of this run is one it printed, numbers and paths aside


def shape(line: str) -> str:
    """A line with its numbers, dates and file paths blanked and its spacing collapsed; which dbt project
    ran (the repository's own copy from its root, the packaged one in a test's folder) left out."""
    line = re.sub(r"; dbt project .*$", "; dbt project ...", line)
    return " ".join(re.sub(r"\d+(\.\d+)?", "N", re.sub(r"/\S+/demo\.duckdb", "PATH", line)).split())


def readme_example() -> list[str]:
    """The lines of the README's example run, less its elisions and the `make demo` prompt."""
    block = re.search(r"```console\n\$ make demo\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line.strip() not in ("", "...")]
