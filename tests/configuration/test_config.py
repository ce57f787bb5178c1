"""Strict configuration through the real CLI: an unknown, malformed or out-of-range setting (from
env vars or TOML files, read through dlt's own providers) or flag fails with exit 2 and one line naming
the setting and the fix, before any request; every layout dlt resolves is accepted; a provider
with nothing to load warns; Postgres URLs follow libpq's rules."""

import datetime as dt
import inspect
import os
import sys
from typing import Optional

import pytest
from metricsync.cli import main
from metricsync.providers import PROVIDERS, source_factory
from metricsync.sources._common.config import spec
from metricsync.sources._common.config.strict import source_parameters
from support import configure, today
from support.config import write_toml
from support.processes import run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = (TODAY - dt.timedelta(days=10)).isoformat()
KEYS = {
    "whop": "whop_sandbox_key",
    "stripe_analytics": "sk_test_sandbox_stripe",
    "posthog": "phx_sandbox_posthog",
    "statsig": "console-sandbox-statsig",
}


def setup(monkeypatch, sandbox, provider: str, **overrides) -> None:
    """A valid configuration of `provider` against the sandbox, then `overrides` (None: unset)."""
    settings = {
        "whop": {
            "base_url": f"{sandbox.url}/api/v1",
            "start_date": START,
            "wallet_queries": [{"name": "daily", "group_by": "day"}],
        },
        "stripe_analytics": {
            "base_url": sandbox.url,
            "start_date": START,
            "requests_per_second": 1000,
            "queries": [
                {"name": "mrr", "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}], "interval": "day", "currency": "usd"}
            ],
        },
        "posthog": {"base_url": sandbox.url, "project_id": "1"},
        "statsig": {"base_url": sandbox.url, "start_date": START},
    }[provider]
    configure(monkeypatch, provider, **{"api_key": KEYS[provider], "max_attempts": 2, **settings, **overrides})


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", *args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


BAD = [
    # unknown keys, in every place dlt reads them from
    pytest.param(
        "whop",
        {"wallet_querys": [{"name": "d", "group_by": "day"}]},
        {},
        [],
        "whop: unknown setting wallet_querys (SOURCES__WHOP__WALLET_QUERYS) - did you mean wallet_queries?",
        id="unknown-env-key",
    ),
    pytest.param(
        "statsig",
        {"lookback_day": 10},
        {},
        [],
        "statsig: unknown setting lookback_day (SOURCES__STATSIG__LOOKBACK_DAY) - did you mean lookback_days?",
        id="unknown-env-key-statsig",
    ),
    pytest.param(
        "whop",
        {"whop__lookback_day": 10},
        {},
        [],
        "unknown setting lookback_day (SOURCES__WHOP__WHOP__LOOKBACK_DAY) - did you mean lookback_days?",
        id="unknown-env-key-source-section",
    ),
    pytest.param(
        "whop",
        {},
        {".dlt/config.toml": "[sources.whop]\nwallet_querys = []\n"},
        [],
        "whop: unknown setting wallet_querys (sources.whop.wallet_querys in config.toml) - did you mean "
        "wallet_queries?",
        id="unknown-toml-key",
    ),
    pytest.param(
        "whop",
        {},
        {".dlt/config.toml": "[sources.whop.whop]\nmax_concurency = 2\n"},
        [],
        "unknown setting max_concurency (sources.whop.whop.max_concurency in config.toml) - did you mean "
        "max_concurrency?",
        id="unknown-toml-key-source-section",
    ),
    pytest.param(
        "whop",
        {},
        {".dlt/secrets.toml": '[sources.whop]\napikey = "x"\n'},
        [],
        "unknown setting apikey (sources.whop.apikey in secrets.toml) - did you mean api_key?",
        id="unknown-secrets-key",
    ),
    pytest.param(
        "whop",
        {},
        {".dlt/config.toml": "[whop.sources.whop]\nlookbak_days = 1\n"},
        [],
        "unknown setting lookbak_days (whop.sources.whop.lookbak_days in config.toml) - did you mean lookback_days?",
        id="unknown-key-pipeline-section",
    ),
    # numbers: not a number, or out of range
    pytest.param(
        "whop",
        {"max_concurrency": "zero"},
        {},
        [],
        "whop: max_concurrency 'zero' is not an integer - set SOURCES__WHOP__MAX_CONCURRENCY to an integer "
        "from 1 to 64",
        id="max-concurrency-zero",
    ),
    pytest.param(
        "whop",
        {"timeout": "abc"},
        {},
        [],
        "whop: timeout 'abc' is not a number - set SOURCES__WHOP__TIMEOUT to a number from 0.1 to 3600",
        id="timeout-abc",
    ),
    pytest.param(
        "statsig",
        {"lookback_days": -1},
        {},
        [],
        "statsig: lookback_days '-1' is out of range - set "
        "SOURCES__STATSIG__LOOKBACK_DAYS to an integer from 0 to 3650",
        id="lookback-negative",
    ),
    pytest.param(
        "whop",
        {"windows_per_load": 0},
        {},
        [],
        "whop: windows_per_load '0' is out of range - set SOURCES__WHOP__WINDOWS_PER_LOAD to an integer from 1",
        id="windows-per-load-zero",
    ),
    pytest.param(
        "whop",
        {"max_attempts": "2.5"},
        {},
        [],
        "whop: max_attempts '2.5' is not an integer",
        id="max-attempts-fraction",
    ),
    pytest.param(
        "posthog",
        {"max_retry_wait": -5},
        {},
        [],
        "posthog: max_retry_wait '-5' is out of range - set "
        "SOURCES__POSTHOG__MAX_RETRY_WAIT to a number from 0 to 86400",
        id="max-retry-wait-negative",
    ),
    pytest.param(
        "stripe_analytics",
        {"requests_per_second": 0},
        {},
        [],
        "stripe_analytics: requests_per_second '0' "
        "is out of range - set SOURCES__STRIPE_ANALYTICS__REQUESTS_PER_SECOND to a number from 0.01",
        id="requests-per-second-zero",
    ),
    pytest.param(
        "statsig",
        {"page_size": 101},
        {},
        [],
        "statsig: page_size '101' is out of range - set SOURCES__STATSIG__PAGE_SIZE to an integer from 1 to 100",
        id="page-size-above-api-max",
    ),
    pytest.param(
        "posthog",
        {},
        {".dlt/config.toml": "[sources.posthog]\npage_size = 0\n"},
        [],
        "posthog: page_size 0 is out of range - set sources.posthog.page_size in config.toml to an integer",
        id="page-size-toml",
    ),
    pytest.param(
        "stripe_analytics",
        {"max_periods": {"day": 0}},
        {},
        [],
        "stripe_analytics: max_periods.day 0 is out "
        "of range - set SOURCES__STRIPE_ANALYTICS__MAX_PERIODS to an integer from 1 to 1000",
        id="max-periods-value",
    ),
    pytest.param(
        "whop",
        {},
        {},
        ["--windows-per-load", "-1"],
        "metricsync: --windows-per-load '-1' is out of range - set --windows-per-load to an integer from 1 to 100000",
        id="flag-windows-per-load-negative",
    ),
    pytest.param(
        "whop",
        {},
        {},
        ["--windows-per-load", "0"],
        "--windows-per-load '0' is out of range",
        id="flag-windows-per-load-zero",
    ),
    pytest.param(
        "whop",
        {},
        {},
        ["--windows-per-load", "many"],
        "--windows-per-load 'many' is not an integer",
        id="flag-windows-per-load-text",
    ),
    # malformed values
    pytest.param(
        "whop",
        {"wallet_queries": '[{"name": '},
        {},
        [],
        "whop: wallet_queries (SOURCES__WHOP__WALLET_QUERIES) is not valid JSON",
        id="malformed-json",
    ),
    pytest.param(
        "stripe_analytics",
        {"max_periods": "{day: 3}"},
        {},
        [],
        "stripe_analytics: max_periods (SOURCES__STRIPE_ANALYTICS__MAX_PERIODS) is not valid JSON",
        id="malformed-json-object",
    ),
    pytest.param(
        "whop",
        {"wallet_queries": ""},
        {},
        [],
        "whop: wallet_queries (SOURCES__WHOP__WALLET_QUERIES) is not valid JSON",
        id="empty-json",
    ),
    pytest.param(
        "whop",
        {"wallet_queries": {"name": "d", "group_by": "day"}},
        {},
        [],
        "whop: wallet_queries (SOURCES__WHOP__WALLET_QUERIES) must be a list, got dict",
        id="object-not-list",
    ),
    pytest.param(
        "whop",
        {},
        {".dlt/config.toml": '[sources.whop]\nmetric_queries = "daily"\n'},
        [],
        "whop: metric_queries (sources.whop.metric_queries in config.toml) is not valid JSON",
        id="toml-string-not-list",
    ),
    pytest.param(
        "whop", {"requests_per_second": ""}, {}, [], "whop: requests_per_second '' is not a number", id="empty-number"
    ),
    pytest.param(
        "whop",
        {"allow_insecure_http": "maybe"},
        {},
        [],
        "whop: allow_insecure_http (SOURCES__WHOP__ALLOW_INSECURE_HTTP) cannot be read as bool - use true or false",
        id="bool-not-bool",
    ),
]


@pytest.mark.parametrize("provider, settings, files, flags, message", BAD)
def test_bad_setting_fails_in_one_line_before_any_request(
    sandbox, capsys, monkeypatch, isolated, provider, settings, files, flags, message
):
    setup(monkeypatch, sandbox, provider, **settings)
    for name, text in files.items():
        write_toml(isolated / name, text)
    code, out, err = cli(capsys, provider, *flags)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert KEYS[provider] not in out + err
    assert sandbox.seen("/") == []


GOOD = [
    pytest.param({"whop__lookback_days": 5}, {}, id="env-source-section"),
    pytest.param(
        {},
        {".dlt/config.toml": "[sources.whop.whop]\nlookback_days = 5\nmax_concurrency = 2\n"},
        id="toml-source-section",
    ),
    pytest.param({}, {".dlt/config.toml": "[whop.sources.whop]\nlookback_days = 5\n"}, id="toml-pipeline-section"),
    pytest.param({"schema_contract": "freeze"}, {}, id="runner-setting"),
    pytest.param({}, {".dlt/secrets.toml": "[sources.whop]\ntimeout = 20\n"}, id="secrets-toml"),
]


@pytest.mark.parametrize("settings, files", GOOD)
def test_layouts_dlt_resolves_are_accepted(sandbox, capsys, monkeypatch, isolated, settings, files):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "ok.duckdb"))
    setup(monkeypatch, sandbox, "whop", **settings)
    for name, text in files.items():
        write_toml(isolated / name, text)
    code, out, err = cli(capsys, "whop")
    assert code == 0, err
    assert sandbox.seen("/api/v1/stats/time_series")


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_every_numeric_parameter_has_a_declared_range(provider):
    """A new numeric source parameter must get a range in `spec` (strict config checks it)."""
    for name, param in source_parameters(source_factory(provider)).items():
        hint = str(param.annotation)
        if param.annotation in (int, float) or hint in ("typing.Optional[int]", "typing.Optional[float]"):
            assert spec.range_of(provider, name), f"{provider}.{name} has no range in sources/_common/config/spec.py"
    assert inspect.signature(source_factory(provider)).parameters  # the factory keeps its signature


@pytest.mark.parametrize(
    "provider, settings, warning, requested",
    [
        pytest.param(
            "whop",
            {"wallet_queries": None},
            "whop: no wallet_queries or metric_queries are set, so only definitions (the wallet schema) are loaded",
            "/api/v1/stats/schema",
            id="whop-no-queries",
        ),
        pytest.param(
            "stripe_analytics",
            {"queries": None, "start_date": None},
            "stripe_analytics: no queries are set, so nothing is loaded",
            None,
            id="stripe-no-queries",
        ),
    ],
)
def test_api_key_with_nothing_to_load_warns(sandbox, monkeypatch, isolated, provider, settings, warning, requested):
    """In a real process: the warning is the one line on stderr (logging's own handler)."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "defs.duckdb"))
    setup(monkeypatch, sandbox, provider, **settings)
    done = run_command(
        [sys.executable, "-m", "metricsync", "run", provider, "--pipelines-dir", "p"],
        cwd=isolated,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and warning in lines[0], done.stderr
    assert done.stdout.startswith(f"{provider}: ok")
    assert {r.path for r in sandbox.seen("/")} == ({requested} if requested else set())


# -- Postgres ---------------------------------------------------------------------------------
def _without_password(url: str, monkeypatch) -> str:
    """The URL without its password; the password (if any) goes to PGPASSWORD, as libpq allows."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        monkeypatch.setenv("PGPASSWORD", parts.password)
    netloc = f"{parts.username}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_url_without_password_loads(sandbox, capsys, monkeypatch, warehouse):
    url = _without_password(warehouse.credentials, monkeypatch)
    assert ":" not in url.split("//", 1)[1].split("@", 1)[0]
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
    setup(monkeypatch, sandbox, "whop")
    code, out, err = cli(capsys, "whop", "--destination", "postgres")
    assert code == 0, err
    days = warehouse.query("select count(distinct period) from whop.wallet_time_series where query_name = 'daily'")
    assert days == [(11,)]


def _postgres_url(database: Optional[str] = None, user: Optional[str] = None, port: Optional[int] = None) -> str:
    from urllib.parse import urlsplit

    from support import POSTGRES_ADMIN

    parts = urlsplit(POSTGRES_ADMIN)
    return (
        f"postgresql://{user or parts.username}:pw_secret_123@{parts.hostname}:{port or parts.port or 5432}"
        f"/{database or parts.path.lstrip('/')}"
    )


@pytest.mark.parametrize(
    "url, code, message",
    [
        pytest.param(_postgres_url(port=9), 5, "whop: cannot reach Postgres postgresql://", id="unreachable"),
        pytest.param(
            _postgres_url(database="no_such_db_ms"), 2, 'database "no_such_db_ms" does not exist', id="no-database"
        ),
        pytest.param(_postgres_url(user="no_such_role_ms"), 2, 'role "no_such_role_ms" does not exist', id="no-role"),
    ],
)
def test_postgres_connection_failure_is_one_line_without_password(sandbox, capsys, monkeypatch, url, code, message):
    from support import require_postgres

    if code == 2:
        require_postgres()
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    setup(monkeypatch, sandbox, "whop")
    exit_code, out, err = cli(capsys, "whop", "--destination", "postgres")
    assert exit_code == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "DESTINATION__POSTGRES__CREDENTIALS" in lines[0], err
    assert "pw_secret_123" not in out + err
    assert sandbox.seen("/") == []
    assert os.environ.get("PGPASSWORD") is None


@pytest.mark.parametrize(
    "env, files, expected",
    [
        pytest.param({"SOURCES__WHOP__SCHEMA_CONTRACT": "freeze"}, {}, "freeze", id="env"),
        pytest.param({"SOURCES__WHOP__WHOP__SCHEMA_CONTRACT": "freeze"}, {}, "freeze", id="env-source-section"),
        pytest.param(
            {},
            {".dlt/config.toml": '[sources.whop.whop]\nschema_contract = "discard_row"\n'},
            "discard_row",
            id="toml-source-section",
        ),
        pytest.param(
            {"SOURCES__WHOP__SCHEMA_CONTRACT": "freeze"},
            {".dlt/config.toml": '[sources.whop]\nschema_contract = "discard_row"\n'},
            "freeze",
            id="env-wins-over-toml",
        ),
        pytest.param(
            {},
            {
                ".dlt/config.toml": '[sources.whop]\nschema_contract = "freeze"\n'
                '[sources.whop.whop]\nschema_contract = "discard_value"\n'
            },
            "discard_value",
            id="source-section-wins",
        ),
    ],
)
def test_runner_settings_are_read_in_every_layout(monkeypatch, isolated, env, files, expected):
    """A runner setting accepted by strict config is also used, whichever layout it is in."""
    from metricsync.runner import schema_contract

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name, text in files.items():
        write_toml(isolated / name, text)
    contract = schema_contract("whop")
    assert contract["columns"] == expected


@pytest.fixture
def password_refusing_postgres():
    """A loopback server speaking just enough of the Postgres protocol to ask for a cleartext
    password and refuse it as a real server does (SQLSTATE 28P01), for the wrong-password case
    (the test server here trusts every local connection). Yields its port and the passwords it saw."""
    import socket
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[str] = []

    def read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    while True:  # SSL/GSS requests are declined with "N", then the startup message
                        length, code = struct.unpack("!ii", read(conn, 8))
                        read(conn, length - 8)
                        if code in (80877103, 80877104):
                            conn.sendall(b"N")
                            continue
                        break
                    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
                    read(conn, 1)  # "p": PasswordMessage
                    length = struct.unpack("!i", read(conn, 4))[0]
                    seen.append(read(conn, length - 4).rstrip(b"\0").decode())
                    fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "loader"\0\0'
                    conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
                except (ConnectionError, OSError):
                    pass

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], seen
    listener.close()


def test_postgres_wrong_password_is_one_line_without_it(sandbox, capsys, monkeypatch, password_refusing_postgres):
    port, seen = password_refusing_postgres
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", f"postgresql://loader:pw_secret_123@127.0.0.1:{port}/db")
    setup(monkeypatch, sandbox, "whop")
    code, out, err = cli(capsys, "whop", "--destination", "postgres")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'password authentication failed for user "loader"' in lines[0], err
    assert f"postgresql://loader@127.0.0.1:{port}/db" in lines[0] and "DESTINATION__POSTGRES__CREDENTIALS" in lines[0]
    assert "pw_secret_123" not in out + err
    assert seen and set(seen) == {"pw_secret_123"}  # it went to the server only (the run, then its history row)
    assert sandbox.seen("/") == []
