"""The command line on bad input: one line naming the provider and what to do, a documented exit
code, no secret in any output, and nothing already loaded lost."""

import datetime as dt
import json
import os
import sys

import pytest
from metricsync.cli import main
from support import ROOT, configure, today
from support.processes import run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
KEY = "whop_sandbox_key"


def whop_ok(monkeypatch, sandbox, **overrides):
    settings = {
        "api_key": KEY,
        "base_url": f"{sandbox.url}/api/v1",
        "start_date": (TODAY - dt.timedelta(days=20)).isoformat(),
        "wallet_queries": [{"name": "daily", "group_by": "day"}],
        "max_attempts": 2,
    }
    settings.update(overrides)
    configure(monkeypatch, "whop", **settings)


def cli(capsys, *args):
    code = main(["run", *args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


BAD_INPUT = [
    pytest.param(["nosuch"], {}, 2, "unknown provider 'nosuch'", id="unknown-provider"),
    pytest.param(
        ["whop"],
        {"api_key": None},
        2,
        "whop: missing configuration api_key - set SOURCES__WHOP__API_KEY",
        id="missing-key",
    ),
    pytest.param(
        ["whop"],
        {"start_date": "2024-13-45"},
        2,
        "whop: start_date '2024-13-45' is not an ISO date",
        id="malformed-start-date",
    ),
    pytest.param(
        ["whop"], {"start_date": "2999-01-01"}, 2, "whop: start_date 2999-01-01 is in the future", id="future-start"
    ),
    pytest.param(
        ["whop", "--from", "2025-02-01", "--to", "2025-01-01"],
        {},
        2,
        "--to 2025-01-01 is before --from 2025-02-01",
        id="to-before-from",
    ),
    pytest.param(["whop", "--from", "yesterday"], {}, 2, "--from 'yesterday' is not an ISO date", id="malformed-from"),
    pytest.param(["whop", "--from", "2999-01-01"], {}, 2, "--from 2999-01-01 is in the future", id="future-from"),
    pytest.param(
        ["whop"],
        {"wallet_queries": [{"name": "x", "group_by": "day", "groupby": "day"}]},
        2,
        "whop: query 'x' in wallet_queries has unknown keys ['groupby']",
        id="unknown-query-key",
    ),
    pytest.param(
        ["whop"],
        {"wallet_queries": [{"name": "x", "group_by": "hour"}]},
        2,
        "whop: wallet query 'x' has group_by 'hour'",
        id="bad-group-by",
    ),
    pytest.param(
        ["whop"], {"wallet_queries": [{"group_by": "day"}]}, 2, "needs a non-empty name", id="query-without-name"
    ),
    pytest.param(
        ["whop"],
        {"base_url": "ftp://example.com/api"},
        2,
        "whop: base_url 'ftp://example.com/api' is not an http(s) URL",
        id="base-url-not-http",
    ),
    pytest.param(
        ["whop"],
        {"base_url": "http://api.example.com/api/v1"},
        2,
        "uses plain http to a non-loopback host",
        id="insecure-http",
    ),
    pytest.param(["whop"], {"api_key": "bad_key_0000"}, 4, "whop: GET /stats/time_series failed (HTTP 401", id="401"),
    pytest.param(["whop"], {"api_key": "whop_no_permission"}, 4, "company:balance:read", id="403-permission"),
    pytest.param(
        ["whop"],
        {"base_url": "http://127.0.0.1:9/api/v1"},
        5,
        "whop: cannot reach 127.0.0.1 - check sources.whop.base_url",
        id="unreachable-host",
    ),
]


@pytest.mark.parametrize("args, settings, code, message", BAD_INPUT)
def test_bad_input_fails_in_one_line_and_loses_nothing(
    sandbox, loaded_duckdb, capsys, monkeypatch, args, settings, code, message
):
    """On a copy of the session's loaded warehouse: the bad run changes none of its rows."""

    def loaded():
        return loaded_duckdb.query("select * from whop.wallet_time_series order by all")

    before = loaded()
    assert before
    whop_ok(monkeypatch, sandbox, **settings)
    exit_code, out, err = cli(capsys, *args)
    assert exit_code == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert KEY not in out + err and "bad_key_0000" not in out + err
    assert loaded() == before


def test_all_runs_only_configured_providers(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "all.duckdb"))
    assert cli(capsys, "all")[0] == 2
    whop_ok(monkeypatch, sandbox)
    code, out, err = cli(capsys, "all")
    assert code == 0, err
    assert out.startswith("whop: ok")


def test_no_secret_in_any_output_at_debug_level(sandbox, isolated):
    """A failing run at DEBUG, against an API that echoes the bad key back: scan everything printed."""
    secret = "whop_secret_ABCDEF123456"
    sandbox.by_name["whop"].settings["echo_key"] = True
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SOURCES__WHOP__API_KEY": secret,
            "SOURCES__WHOP__BASE_URL": f"{sandbox.url}/api/v1",
            "SOURCES__WHOP__START_DATE": "2025-01-01",
            "SOURCES__WHOP__WALLET_QUERIES": json.dumps([{"name": "d", "group_by": "day"}]),
            "RUNTIME__LOG_LEVEL": "DEBUG",
            "DESTINATION__DUCKDB__CREDENTIALS": str(isolated / "s.duckdb"),
        }
    )
    done = run_command(
        [
            sys.executable,
            "-m",
            "metricsync",
            "--log-level",
            "DEBUG",
            "run",
            "whop",
            "--pipelines-dir",
            str(isolated / "p"),
        ],
        cwd=isolated,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4
    printed = done.stdout + done.stderr
    assert "Missing or invalid API key" in printed  # the API's message came through...
    assert secret not in printed  # ...with the key masked
    assert any(secret in r.header("authorization") for r in sandbox.seen("/api/v1/stats/"))


def test_duckdb_file_named_like_its_dataset_is_refused(sandbox, capsys, monkeypatch, isolated):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "whop.duckdb"))
    whop_ok(monkeypatch, sandbox)
    code, out, err = cli(capsys, "whop")
    assert code == 2 and "is named like the dataset 'whop'" in err
    assert sandbox.seen("/") == []
