"""Every hint works as written: an error that advises a setting ("set X", "unset X", "give X ...",
"X has no scheme - write it as ...") or a command ("run `metricsync ...`") is produced, the advice
is read from the message itself and done, and the command that failed then succeeds.

Hints performed elsewhere: `set SOURCES__STATSIG__LOCK_WAIT_SECONDS` (test_warehouse_lock.py),
`re-run to resume` (test_interrupts.py), did-you-mean names (test_operator_cli.py, test_operator_edges.py),
a new `dataset_name` for accounts (test_operator_edges.py), `metricsync run <provider> --accounts <name>` for
an account whose worker process died (tests/concurrency/test_account_workers.py).
"""

import datetime as dt
import json
import re
import shlex
import sys
import uuid
from decimal import Decimal

import psycopg2
import pytest
from metricsync.cli import main
from support import configure, postgres_database, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = (TODAY - dt.timedelta(days=3)).isoformat()
NAME = r"(?:SOURCES__|DESTINATION__)[A-Z0-9_]+|DATASET_[A-Z]+|sources\.[a-z0-9_.]+"
ADVICE = re.compile(rf"\b(?P<verb>unset|set|give) (?P<name>{NAME})|(?P<subject>{NAME}) has [^-]* - write it as")
COMMAND = re.compile(r"run `(metricsync [^`]+)`")
ACCOUNT = '[{"name": "north", "account_id": "biz_north"}]'
METRIC = {"name": "users_weekly", "resource": "members:new_users", "granularity": "weekly"}
PASSWORD = f"planted{uuid.uuid4().hex}"


def advice(message: str) -> list[tuple[str, str]]:
    """(verb, environment variable) for each setting the message tells to set or unset; a TOML path
    (`metricsync.sources.whop.base_url`) as its variable (`SOURCES__WHOP__BASE_URL`).

    >>> advice("x - unset DATASET_NAME and set sources.whop.dataset_name")
    [('unset', 'DATASET_NAME'), ('set', 'SOURCES__WHOP__DATASET_NAME')]
    """
    found = []
    for match in ADVICE.finditer(message):
        verb, name = (
            ("unset", match["name"]) if match["verb"] == "unset" else ("set", match["name"] or match["subject"])
        )
        found.append((verb, name.replace(".", "__").upper()))
    return found


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def whop(monkeypatch, sandbox, **settings) -> None:
    emulator = sandbox.by_name["whop"]
    configure(
        monkeypatch,
        "whop",
        **{
            "api_key": emulator.api_key,
            "base_url": f"{sandbox.url}/api/v1",
            "start_date": START,
            "wallet_queries": [{"name": "daily", "group_by": "day"}],
            **settings,
        },
    )


# id: (settings that break it: None unsets, the command, the message's start, {advised variable: the value
# given, `{sandbox}` and `{whop_key}` filled in})
SETTINGS = {
    "no-api-key": (
        {"SOURCES__WHOP__API_KEY": None},
        "check whop",
        "whop: missing configuration api_key",
        {"SOURCES__WHOP__API_KEY": "{whop_key}"},
    ),
    "no-start-date": (
        {"SOURCES__WHOP__START_DATE": None},
        "check whop",
        "whop: start_date is not set",
        {"SOURCES__WHOP__START_DATE": START},
    ),
    "out-of-range": (
        {"SOURCES__WHOP__MAX_CONCURRENCY": "0"},
        "check whop",
        "whop: max_concurrency '0' is out of",
        {"SOURCES__WHOP__MAX_CONCURRENCY": "1"},
    ),
    "base-url": (
        {"SOURCES__WHOP__BASE_URL": "ftp://example.com"},
        "check whop",
        "whop: base_url 'ftp://example",
        {"SOURCES__WHOP__BASE_URL": "{sandbox}/api/v1"},
    ),
    "schema-contract": (
        {"SOURCES__WHOP__SCHEMA_CONTRACT": "evolv"},
        "check whop",
        "whop: schema_contract 'evolv'",
        {"SOURCES__WHOP__SCHEMA_CONTRACT": "evolve"},
    ),
    "global-dataset-name": (
        {"DATASET_NAME": "everything"},
        "check whop",
        "whop: a global dataset_name",
        {"DATASET_NAME": None, "SOURCES__WHOP__DATASET_NAME": "whop_own"},
    ),
    "accounts-json": (
        {"SOURCES__WHOP__ACCOUNTS": "[{name: north}]"},
        "check whop",
        "whop: accounts is not valid JSON",
        {"SOURCES__WHOP__ACCOUNTS": ACCOUNT},
    ),
    "accounts-missing": (
        {},
        "run whop --accounts north",
        "whop: --accounts given but no accounts are configured",
        {"SOURCES__WHOP__ACCOUNTS": ACCOUNT},
    ),
    "duckdb-file-named-like-dataset": (
        {"DESTINATION__DUCKDB__CREDENTIALS": "whop.duckdb"},
        "check whop",
        "whop: the DuckDB file whop.duckdb is named like the dataset",
        {"DESTINATION__DUCKDB__CREDENTIALS": "warehouse.duckdb"},
    ),
    "posthog-project": (
        {"SOURCES__POSTHOG__PROJECT_ID": None},
        "check posthog",
        "posthog: no project",
        {"SOURCES__POSTHOG__PROJECT_ID": "1"},
    ),
    "posthog-project-not-numeric": (
        {"SOURCES__POSTHOG__PROJECT_ID": "my-project"},
        "check posthog",
        "posthog: project_id 'my-project' is not a numeric project id",
        {"SOURCES__POSTHOG__PROJECT_ID": "1"},
    ),
}
POSTGRES = {
    "no-credentials": ({"DESTINATION__POSTGRES__CREDENTIALS": None}, "whop: no postgres credentials"),
    "no-scheme": (
        {"DESTINATION__POSTGRES__CREDENTIALS": "{plain}"},
        "whop: DESTINATION__POSTGRES__CREDENTIALS has no scheme",
    ),
    "bad-port": (
        {"DESTINATION__POSTGRES__CREDENTIALS": "{url_port}"},
        "whop: DESTINATION__POSTGRES__CREDENTIALS has a port that is not a number",
    ),
}


def apply(monkeypatch, settings: dict, values: dict) -> None:
    for name, value in settings.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            for key, text in values.items():
                value = value.replace("{%s}" % key, text)
            monkeypatch.setenv(name, value)


def fails_then_works(
    capsys, monkeypatch, command: str, start: str, fixes: dict, values: dict, exit_code: int = 2
) -> None:
    """`command` fails with `exit_code` in one line starting `start`; the settings that line advises
    are exactly `fixes`' variables, and with them as given the command exits 0."""
    code, out, err = cli(capsys, *shlex.split(command))
    assert code == exit_code, out + err
    assert err.startswith(start) and len(err.strip().splitlines()) == 1, err
    advised = advice(err)
    assert {name for _, name in advised} == set(fixes), err
    for verb, name in advised:
        assert (verb == "unset") == (fixes[name] is None), (verb, name)
    apply(monkeypatch, fixes, values)
    code, out, err = cli(capsys, *shlex.split(command))
    assert code == 0, out + err


@pytest.mark.parametrize("broken, command, start, fixes", SETTINGS.values(), ids=SETTINGS.keys())
def test_a_setting_the_message_advises_makes_the_command_work(
    sandbox, capsys, monkeypatch, isolated, broken, command, start, fixes
):
    whop(monkeypatch, sandbox)
    configure(monkeypatch, "posthog", **sandbox.by_name["posthog"].demo_settings(sandbox.url))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "warehouse.duckdb")
    apply(monkeypatch, broken, {})
    values = {"sandbox": sandbox.url, "whop_key": sandbox.by_name["whop"].api_key}
    fails_then_works(capsys, monkeypatch, f"{command} --pipelines-dir pipelines", start, fixes, values)


def test_postgres_credentials_missing_or_malformed_are_fixed_as_the_message_says(
    sandbox, capsys, monkeypatch, isolated
):
    whop(monkeypatch, sandbox)
    with postgres_database() as url:
        scheme, rest = url.split("://", 1)
        host, database = rest.rsplit("@", 1)[1].split("/")
        values = {
            "plain": rest,
            "url_port": f"{scheme}://{rest.rsplit('@', 1)[0]}@{host.split(':')[0]}:54x2/{database}",
        }
        for broken, start in POSTGRES.values():
            apply(monkeypatch, broken, values)
            fails_then_works(
                capsys,
                monkeypatch,
                "check whop --destination postgres --pipelines-dir pipelines",
                start,
                {"DESTINATION__POSTGRES__CREDENTIALS": url},
                values,
            )


def test_a_frozen_schema_accepts_a_new_column_once_set_as_the_message_says(sandbox, capsys, monkeypatch, isolated):
    whop(monkeypatch, sandbox, wallet_queries=None, schema_contract="freeze", metric_queries=[METRIC])
    assert cli(capsys, "run", "whop", "--pipelines-dir", "pipelines")[0] == 0
    sandbox.by_name["whop"].settings["extra_column"] = "refund_value"
    fails_then_works(
        capsys,
        monkeypatch,
        "run whop --pipelines-dir pipelines",
        "whop: the API sent column 'refund_value'",
        {"SOURCES__WHOP__SCHEMA_CONTRACT": "evolve"},
        {},
        exit_code=3,
    )
    import duckdb

    with duckdb.connect("metricsync.duckdb", read_only=True) as connection:
        assert connection.execute("select count(refund_value) from whop.metric_results").fetchone()[0] > 0


@pytest.mark.parametrize(
    "provider, value",
    [
        ("whop", '[{"name": "daily", "group_by": "day"}]'),
        ("stripe_analytics", '[{"name": "mrr", "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}], "interval": "day"}]'),
    ],
    ids=["whop", "stripe_analytics"],
)
def test_nothing_to_load_warns_until_the_advised_queries_are_set(
    sandbox, capsys, caplog, monkeypatch, isolated, provider, value
):
    settings = sandbox.by_name[provider].demo_settings(sandbox.url)
    configure(
        monkeypatch,
        provider,
        **{**settings, "start_date": START, "wallet_queries": None, "metric_queries": None, "queries": None},
    )
    assert cli(capsys, "run", provider, "--pipelines-dir", "pipelines")[0] == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and " - set SOURCES__" in warnings[0], warnings
    variable = re.search(r" - set (SOURCES__\w+)", warnings[0])[1]  # the first one it names
    monkeypatch.setenv(variable, value)
    caplog.clear()
    code, out, err = cli(capsys, "run", provider, "--pipelines-dir", "pipelines")
    # no warning but the schema-change note of the table the new query brought (the history's, told once)
    told = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert code == 0 and all(" - the schema evolved " in m for m in told), out + err
    assert re.search(r"rows: \w+ [1-9]", out), out


# -- the advice for moving a provider to accounts: `reset <provider> --drop-rows`, then `transform` --------------------
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)  # a view on the tables blocks a drop only there
def test_moving_to_accounts_works_by_the_reset_the_refusal_advises(sandbox, warehouse, capsys, monkeypatch, isolated):
    """Also the planted-secret check of dbt (test_secrets.py): the Postgres password (any: the test
    server trusts) is in no output and no file of dbt's `target/` and `logs/`."""
    whop(monkeypatch, sandbox)
    user, rest = warehouse.credentials.split("://", 1)[1].split("@", 1)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", f"postgresql://{user.split(':')[0]}:{PASSWORD}@{rest}")
    outputs: list = []

    def command(*args: str) -> tuple[int, str, str]:
        outputs.append(cli(capsys, *args))
        return outputs[-1]

    assert command("run", "whop", "--destination", "postgres")[0] == 0
    with psycopg2.connect(warehouse.credentials) as connection:  # as dbt's staging views are built on the tables
        connection.cursor().execute(
            "create schema marts; create view marts.daily as select * from whop.wallet_time_series"
        )
    configure(monkeypatch, "whop", accounts=[{"name": "north", "account_id": "biz_north"}])
    code, out, err = command("run", "whop", "--destination", "postgres")
    assert code == 2 and err.startswith(
        "whop (account north): accounts are configured but dataset whop was loaded without them"
    ), err
    advised = COMMAND.findall(err)
    assert advised == ["metricsync reset whop --drop-rows --destination postgres"], err
    code, reset, err = command(*shlex.split(advised[0])[1:])
    assert (code, err) == (0, ""), reset
    assert reset.splitlines()[0] == (
        "whop (loaded without accounts): reset wallet_groupings, wallet_line_categories, wallet_reporting_categories, "
        "wallet_time_series (state forgotten, rows deleted) - the next run loads each account from start_date; views "
        "built on them were dropped (marts.daily): run `metricsync transform --destination postgres` after that run"
    )
    code, out, err = command("run", "whop", "--destination", "postgres")
    assert code == 0, err
    rows = warehouse.query("select account, period, currency, amount from whop.wallet_time_series")
    truth = sandbox.by_name["whop"].wallet_totals(dt.date.fromisoformat(START), TODAY, "day", account="biz_north")
    assert {(p, c): a for _, p, c, a in rows} == {k: amount for k, (amount, _n) in truth.items()}
    assert {r[0] for r in rows} == {"north"}
    advised = COMMAND.findall(reset)
    assert advised == ["metricsync transform --destination postgres"]
    code, out, err = command(*shlex.split(advised[0])[1:])
    assert code == 0, out + err
    assert warehouse.query("select distinct account from metrics.fct_metric_values where provider = 'whop'") == [
        ("north",)
    ]
    assert (isolated / "dbt_target" / "run_results.json").exists() and any((isolated / "dbt_logs").iterdir())
    written = [path.read_bytes() for path in isolated.rglob("*") if path.is_file()]
    printed = [f"{code} {out} {err}".encode() for code, out, err in outputs]
    assert not [text for text in written + printed if PASSWORD.encode() in text]


def test_the_docstring_samples_hold():
    import doctest

    from metricsync.sources._common.http import masking
    from metricsync.warehouse import urls

    for module in (urls, masking, sys.modules[__name__]):
        assert doctest.testmod(module).failed == 0, module.__name__


# -- the advice of `transform` and `query` on a warehouse not built yet ------------------------------------------------
def test_an_empty_warehouse_is_built_by_the_commands_transform_and_query_advise(sandbox, monkeypatch, isolated, capsys):
    """`transform` on an empty warehouse advises `run all`; `query` before any transform advises
    `transform`: each advised command, run as written (in this process, as the other hints here:
    `metricsync` as a console script is tests/commands/test_cli.py's), makes the next one work."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "fresh.duckdb"))
    whop(monkeypatch, sandbox)

    def command(line: str) -> tuple[int, str, str]:
        words = shlex.split(line)
        assert words[0] == "metricsync", line
        return cli(capsys, *words[1:])

    code, _, err = command("metricsync transform")
    assert code == 2 and COMMAND.findall(err) == ["metricsync run all --destination duckdb"], err
    assert command(COMMAND.findall(err)[0])[0] == 0
    code, _, err = command("metricsync query wallet_amount --grain day")
    assert code == 2 and COMMAND.findall(err) == ["metricsync transform --destination duckdb"], err
    assert command(COMMAND.findall(err)[0])[0] == 0
    code, out, err = command("metricsync query wallet_amount --grain day --json")
    assert code == 0, err
    answered = {(row["day"], row["currency"]): Decimal(row["wallet_amount"]) for row in json.loads(out)}
    truth = sandbox.by_name["whop"].wallet_totals(dt.date.fromisoformat(START), TODAY, "day")
    assert answered == {(p.isoformat(), c): amount for (p, c), (amount, _n) in truth.items()}
