"""Fixed costs: a command line imports only what its command uses (the timings are in `make bench`,
bench/startup.py; here, what is imported)."""

import json
import subprocess
import sys

import pytest
from support import ROOT

HEAVY = ("dlt", "pyarrow", "dbt", "duckdb", "httpx", "pendulum", "metricflow", "sqlalchemy")
PROBE = """
import json, sys
from metricsync.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(%r)))))
"""


def imported_by(*argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % json.dumps(HEAVY), *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [("--help",), ("status", "--help"), ("--destination", "duckdb", "history", "--help")])
def test_parsing_a_command_line_imports_none_of_the_heavy_libraries(argv):
    assert imported_by(*argv) == []


def test_the_command_a_line_names_is_registered_in_full_and_the_others_listed():
    def usage(*argv: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "metricsync", *argv], capture_output=True, text=True, cwd=ROOT
        ).stdout

    own = "one JSON object per (provider, account, resource, query)"  # the help of status's --json
    assert own in " ".join(usage("--log-level", "INFO", "status", "--help").split())
    listed = " ".join(usage("--help").split())
    assert "status what the destination holds" in listed and own not in listed
