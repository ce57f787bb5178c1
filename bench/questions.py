"""Questions to the semantic layer (`make bench`'s `questions` scenario): `metricsync demo` builds
the demo warehouse (untimed), then `metricsync query mrr --grain month --by account currency` runs
from process start to exit: once cold (nothing kept: dlt, `dbt parse`, MetricFlow), then `RUNS` times
warm (the question asked before: its SQL kept, run through DuckDB's driver without dlt, dbt or
MetricFlow, `pipelines/dbt/kept.py`), and questions new to the kept parse (MetricFlow writes their
SQL, without dbt or dlt), each in its own process, with its CPU time beside its wall. The warm
answers must equal the cold one.

Target: a warm question within 2 s of wall (issue 30), the cold one reported beside it.

    python -m metricsync.bench.questions [--quick]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .startup import cpu_of_children

RUNS = 7
TARGET_S = 2.0
QUESTION = ["query", "mrr", "--grain", "month", "--by", "account", "currency", "--csv"]
NEW = [  # asked once each after QUESTION: new to the kept parse
    ["query", "net_revenue", "--grain", "month", "--csv"],
    ["query", "mrr", "--grain", "quarter", "--by", "currency", "--csv"],
    ["query", "mrr", "--grain", "week", "--csv"],
    ["query", "statsig_value", "--by", "series", "--csv"],
    ["query", "mrr", "--grain", "year", "--by", "account", "--csv"],
]


def ask(env: dict, cwd: str, question: list = QUESTION) -> tuple[float, float, str]:
    """(wall, CPU) seconds and the output of one question in its own process."""
    before, started = cpu_of_children(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "metricsync", *question, "--destination", "duckdb"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, cpu_of_children() - before, done.stdout


def scenario(quick: bool) -> dict:
    work = tempfile.mkdtemp(prefix="metricsync-questions-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "DBT_"))}
    env.update(
        RUNTIME__DLTHUB_TELEMETRY="false",
        DLT_DATA_DIR=os.path.join(work, "dlt_data"),
        DESTINATION__DUCKDB__CREDENTIALS=os.path.join(work, "demo.duckdb"),
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "metricsync", "demo", "--duckdb", "demo.duckdb"],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        shutil.rmtree(os.path.join(work, ".metricsync"), ignore_errors=True)  # the demo's own question kept its parse
        cold_wall, cold_cpu, answer = ask(env, work)
        warm = [ask(env, work) for _ in range(3 if quick else RUNS)]
        new = [ask(env, work, question) for question in NEW[: 2 if quick else len(NEW)]]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "cold": {"seconds": cold_wall, "cpu_s": cold_cpu},
        "warm": {
            "seconds": statistics.median(w for w, _c, _o in warm),
            "cpu_s": statistics.median(c for _w, c, _o in warm),
            "runs": len(warm),
        },
        "new": {
            "seconds": statistics.median(w for w, _c, _o in new),
            "cpu_s": statistics.median(c for _w, c, _o in new),
            "runs": len(new),
        },
        "same_answer": all(out == answer for _w, _c, out in warm),
        "rows": len(answer.splitlines()) - 1,
    }


def report(result: dict) -> tuple[list, list]:
    cold, warm, new = result["cold"], result["warm"], result["new"]
    lines = [
        "",
        f"Questions to the semantic layer on the demo warehouse (`metricsync {' '.join(QUESTION)}`, "
        f"{result['rows']} rows; from process start to exit; warm: the median of {warm['runs']}; new: "
        f"the median of {new['runs']} other questions, each asked once):",
        "",
        "| question | wall s | CPU s |",
        "|---|---:|---:|",
        f"| cold (dlt, dbt parse, MetricFlow) | {cold['seconds']:.2f} | {cold['cpu_s']:.2f} |",
        f"| warm (asked before: the SQL kept, DuckDB's driver) | {warm['seconds']:.2f} | {warm['cpu_s']:.2f} |",
        f"| new question, the parse kept (MetricFlow, no dbt or dlt) | {new['seconds']:.2f} | {new['cpu_s']:.2f} |",
    ]
    met = warm["seconds"] <= TARGET_S and result["same_answer"]
    targets = [
        f"| a warm question <= {TARGET_S:g} s, the same answer as cold | {warm['seconds']:.2f} s, "
        f"same: {result['same_answer']} | {'met' if met else '**missed**'} |"
    ]
    return lines, targets


if __name__ == "__main__":  # this scenario alone: python -m metricsync.bench.questions
    print("\n".join(sum(report(scenario("--quick" in sys.argv)), [])))
