"""`metricsync query` in a process of its own, with what it imported: a question asked before must
load neither dlt, dbt nor MetricFlow (`pipelines/dbt/kept.py`).

    answer, heavy = ask(workdir, env, "mrr", "--grain", "month", "--csv")
    assert heavy == []
"""

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("dlt", "dbt", "metricflow", "metricflow_semantics")
PROBE = """
import json, sys
from metricsync.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("imported:" + json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(%r)))), file=sys.stderr)
sys.exit(code)
"""


def question_env(workdir: Path) -> dict:
    """The environment of a question in `workdir`: no warehouse or dbt setting inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "DBT_"))}
    env.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=str(workdir / "dlt_data"))
    return env


def ask(workdir: Path, env: dict, *argv: str) -> tuple[str, list[str]]:
    """(stdout, the heavy libraries imported) of `metricsync query ARGV... --destination duckdb`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE % json.dumps(HEAVY), "query", *argv, "--destination", "duckdb"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    [imported] = [line for line in done.stderr.splitlines() if line.startswith("imported:")]
    return done.stdout, json.loads(imported[len("imported:") :])
