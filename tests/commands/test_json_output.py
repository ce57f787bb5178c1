"""`--json` prints exactly one JSON document on stdout, whatever other options are given (a chatty
log level, progress lines, `--transform`, a failure): every command that has `--json` runs on the
shared loaded warehouse and its stdout (captured at the file descriptor, so dbt's and any library's
output counts too) is parsed with `json.loads`. `run --json --transform` with a transform that
runs is in tests/dbt/test_transform.py."""

import json

import pytest
from metricsync.cli import main

CASES = [
    pytest.param(["status", "statsig", "--json", "--log-level", "INFO"], 0, id="status-info"),
    pytest.param(
        ["run", "statsig", "--json", "--progress", "log", "--progress-interval", "0.1", "--log-level", "INFO"],
        0,
        id="run-progress-log",
    ),
    pytest.param(
        ["run", "whop", "--json", "--transform", "--queries", "no_such_query"],
        2,
        id="run-transform-after-a-failed-load",
    ),
    pytest.param(
        ["verify", "statsig", "--sample", "1", "--seed", "3", "--json", "--log-level", "INFO"], 0, id="verify-info"
    ),
    pytest.param(["query", "--list", "--json", "--log-level", "INFO"], 0, id="query-list-dbt-verbose"),
    pytest.param(["describe", "--json-schema", "--log-level", "DEBUG"], 0, id="describe-json-schema"),
]


@pytest.mark.parametrize("argv, code", CASES)
def test_stdout_is_one_json_document(loaded_duckdb, capfd, argv, code):
    assert main([*argv, "--pipelines-dir", "pipelines"]) == code
    out, err = capfd.readouterr()
    document = json.loads(out)  # fails on anything before or after the document ("Extra data")
    if argv[0] == "run" and "--transform" in argv:
        *loads, transform = document
        assert transform["step"] == "transform" and transform["ran"] is False and transform["exit_code"] is None
        assert [(r["step"], r["provider"], r["ok"]) for r in loads] == [("load", "whop", False)]
        assert "no query 'no_such_query'" in err  # the human line, on stderr
    elif argv[0] in ("run", "status", "verify", "query"):
        assert isinstance(document, list) and document, out


def test_status_json_names_the_warehouse(loaded_duckdb, capfd):
    """`status --json` says which warehouse each entry was read from (type and where, no secret)."""
    assert main(["status", "whop", "--json"]) == 0
    entries = json.loads(capfd.readouterr().out)
    assert {e["warehouse"] for e in entries} == {f"duckdb:{loaded_duckdb.credentials}"}
