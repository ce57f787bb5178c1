"""No secret is ever printed or stored: a distinct secret is planted in every credential slot (each
provider's API key, a Statsig account's own key, the Postgres password, a MotherDuck token, a
password in a malformed destination URL), the real CLI runs (in subprocesses against a sandbox that
accepts the planted keys, DuckDB and Postgres; read-only commands and the one-line failures in
process), and every output, log line, `--json`, file written under the test's folders (dlt's
pipeline folders and traces, lock files, the DuckDB file) and every row of the warehouses, dlt's
compressed state included, is searched for each secret. dbt's `target/` and `logs/` after a
Postgres `transform` are searched for the password in test_hints.py (its one `transform`)."""

import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from metricsync.sandbox import Sandbox
from support import ROOT, postgres_database, today
from support.config import write_toml
from support.processes import run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
SLOTS = ("whop", "stripe_analytics", "posthog", "statsig", "statsig_account", "postgres", "motherduck", "malformed")
SECRETS = {slot: f"planted{slot.replace('_', '')}{uuid.uuid4().hex[:10]}" for slot in SLOTS}


@pytest.fixture(scope="module")
def planted_sandbox():
    """A sandbox of this module's own that accepts only the planted keys."""
    box = Sandbox().start()
    for emulator in box.emulators:
        emulator.api_key = SECRETS[emulator.name]
    box.by_name["statsig"].second_api_key = SECRETS["statsig_account"]
    yield box
    box.stop()


def settings(box: Sandbox, providers=("whop", "stripe_analytics", "posthog", "statsig")) -> dict:
    """`SOURCES__*` for `providers` against `box`, three days of history; Statsig in two accounts,
    the second with its own key."""
    variables = {}
    for emulator in box.emulators:
        if emulator.name not in providers:
            continue
        values = emulator.demo_settings(box.url)
        if "start_date" in values:
            values["start_date"] = (TODAY - dt.timedelta(days=3)).isoformat()
        if emulator.name == "statsig":
            values["accounts"] = [{"name": "main"}, {"name": "second", "api_key": SECRETS["statsig_account"]}]
        for key, value in values.items():
            text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
            variables[f"SOURCES__{emulator.name.upper()}__{key.upper()}"] = text
    return variables


def cli(folder: Path, env: dict, *args: str) -> str:
    """The CLI in a subprocess; its stdout and stderr, checked to have exited 0."""
    done = run_command(
        [sys.executable, "-m", "metricsync", *args, "--pipelines-dir", str(folder / "pipelines")],
        timeout=300,
        capture_output=True,
        cwd=folder,
        env=env,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def in_process(capfd, monkeypatch, env: dict, *args: str) -> str:
    """A command run in this process (as fast as a read-only command gets); its output, checked to exit 0."""
    from metricsync.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capfd.readouterr()
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    return out + err


def files_text(folder: Path) -> dict:
    """Every file written under `folder` (binary ones too: traces are pickles), as bytes; not the
    configuration in `.dlt/` that holds the secrets."""
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and ".dlt" not in path.parts}


def leaks(texts: dict) -> list[str]:
    """`<secret slot> in <where>` for every planted secret found."""
    found = []
    for where, text in texts.items():
        data = text if isinstance(text, bytes) else str(text).encode()
        found += [f"{slot} in {where}" for slot, secret in SECRETS.items() if secret.encode() in data]
    return found


def warehouse_text(rows: list) -> str:
    """Every value of every row, dlt's compressed state decompressed."""
    from dlt.common.versioned_state import decompress_state

    values = []
    for row in rows:
        for value in row:
            values.append(str(value))
            if isinstance(value, str) and len(value) > 40:
                try:
                    values.append(json.dumps(decompress_state(value)))
                except Exception:  # noqa: BLE001 - not a compressed state
                    pass
    return "\n".join(values)


def duckdb_rows(path: Path) -> list:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute("select table_schema, table_name from information_schema.tables").fetchall()
        return [
            row
            for schema, table in tables
            for row in connection.execute(f'select * from "{schema}"."{table}"').fetchall()
        ]


def postgres_rows(url: str) -> list:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema')"
        )
        rows = []
        for schema, table in cursor.fetchall():
            cursor.execute(f'select * from "{schema}"."{table}"')
            rows += cursor.fetchall()
        return rows


def test_no_planted_secret_is_printed_or_stored(planted_sandbox, isolated, capfd, monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        settings(planted_sandbox), PYTHONPATH=str(ROOT), DESTINATION__DUCKDB__CREDENTIALS=str(isolated / "w.duckdb")
    )
    # one key from secrets.toml, as the README's set-up keeps them
    write_toml(
        isolated / ".dlt" / "secrets.toml", f'[sources.posthog]\napi_key = "{env.pop("SOURCES__POSTHOG__API_KEY")}"\n'
    )
    outputs = {
        "run all": cli(isolated, env, "run", "all", "--json", "--log-level", "DEBUG"),
        "verify all": in_process(capfd, monkeypatch, env, "verify", "all", "--json", "--log-level", "DEBUG"),
        "status": in_process(capfd, monkeypatch, env, "status", "--json", "--log-level", "DEBUG"),
        "check all": in_process(capfd, monkeypatch, env, "check", "all", "--log-level", "DEBUG"),
        "describe statsig": in_process(capfd, monkeypatch, env, "describe", "statsig"),
    }
    assert all(f"{p}: " in outputs["run all"] for p in ("whop", "stripe_analytics", "posthog")), outputs["run all"]
    assert "statsig (account second): ok" in outputs["run all"], outputs["run all"]
    assert '"account": "second"' in outputs["status"] and '"provider": "whop"' in outputs["status"], outputs["status"]
    with postgres_database() as url:
        user, host = url.split("://", 1)[1].split("@")
        password_url = f"postgresql://{user.split(':')[0]}:{SECRETS['postgres']}@{host}"
        pg_env = {**env, **settings(planted_sandbox, ("whop",)), "DESTINATION__POSTGRES__CREDENTIALS": password_url}
        outputs["run whop (postgres)"] = cli(
            isolated, pg_env, "run", "whop", "--json", "--destination", "postgres", "--log-level", "DEBUG"
        )
        stored = {"postgres rows": warehouse_text(postgres_rows(url))}
    stored["duckdb rows"] = warehouse_text(duckdb_rows(isolated / "w.duckdb"))
    assert leaks({**outputs, **stored, **files_text(isolated)}) == []


MALFORMED = {  # destination -> a credentials value whose password a parser would quote
    "postgres": f"postgres:{SECRETS['malformed']}@127.0.0.1/db",
    "sqlalchemy": f"mysql+pymysql:{SECRETS['malformed']}@127.0.0.1/db",
}
FIXES = {
    "postgres": "write it as postgresql://user:password@host:5432/database",
    "sqlalchemy": "fix it (scheme://user:password@host:port/database)",
}


COMMANDS = ["run whop", "check whop", "status whop", "verify whop", "transform", "reset whop", "query mrr", "report"]


@pytest.mark.parametrize(
    "destination, command",
    [("postgres", c) for c in COMMANDS]  # the other: one check
    + [("sqlalchemy", c) for c in ("run whop", "transform")],
)
def test_a_malformed_destination_url_is_exit_2_in_one_line_without_the_password(
    planted_sandbox, capfd, monkeypatch, isolated, command, destination
):
    from metricsync.cli import main

    for name, value in settings(planted_sandbox, ("whop",)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(f"DESTINATION__{destination.upper()}__CREDENTIALS", MALFORMED[destination])
    code = main(
        [
            *command.split(),
            *(["--yes"] if command.startswith("reset") else []),
            "--destination",
            destination,
            "--pipelines-dir",
            "pipelines",
        ]
    )
    out, err = capfd.readouterr()
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if " WARNING " not in line]
    label = {"transform": "transform", "query": "query", "report": "metrics"}.get(command.split()[0], "whop")
    assert lines == [f"{label}: DESTINATION__{destination.upper()}__CREDENTIALS has no scheme - {FIXES[destination]}"]
    assert leaks({"output": out + err, **files_text(isolated)}) == []


def test_check_of_a_motherduck_path_never_shows_its_token(planted_sandbox, capfd, monkeypatch, isolated):
    from metricsync.cli import main

    for name, value in settings(planted_sandbox, ("whop",)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", f"md:metricsync?motherduck_token={SECRETS['motherduck']}")
    code = main(["check", "whop", "--log-level", "DEBUG", "--pipelines-dir", "pipelines"])
    out, err = capfd.readouterr()
    assert code != 0 and "whop: " in err, out + err  # no MotherDuck here: it fails, naming no token
    assert leaks({"output": out + err, **files_text(isolated)}) == []


@pytest.mark.parametrize("where", ["environment", "secrets.toml"])
def test_every_configured_credential_is_masked_from_the_start(planted_sandbox, capfd, monkeypatch, isolated, where):
    """Registered when the command starts, wherever it is set: what any later message quotes is masked."""
    from metricsync.cli import main
    from metricsync.sources._common.http.redaction import redact

    token, key = f"tok{uuid.uuid4().hex}", f"key{uuid.uuid4().hex}"
    accounts = json.dumps([{"name": "north", "api_key": key}])
    url = f"md:warehouse?motherduck_token={token}"
    if where == "environment":
        monkeypatch.setenv("SOURCES__STATSIG__ACCOUNTS", accounts)
        monkeypatch.setenv("DESTINATION__MOTHERDUCK__CREDENTIALS", url)
    else:
        write_toml(
            isolated / ".dlt" / "secrets.toml",
            f"[sources.statsig]\naccounts = '{accounts}'\n[destination.motherduck]\ncredentials = \"{url}\"\n",
        )
    assert main(["describe", "whop"]) == 0
    capfd.readouterr()
    assert redact(f"{url} {key}") == "md:warehouse?motherduck_token=*** ***"
