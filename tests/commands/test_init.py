"""`metricsync init`: a project folder whose three printed next commands run as written (keys put
in the generated secrets.toml, as the printed step says; the APIs are the sandbox's), a refusal
to overwrite without --force, and the one destination setting every command uses
(`METRICSYNC_DESTINATION`, `[metricsync] destination`, `--destination` over both; dlt's own
`DESTINATION_NAME` refused in one line)."""

import datetime as dt
import os
import sys

import pytest
from metricsync.cli import main
from support import ROOT, today
from support.config import write_toml
from support.processes import run_command

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
WALLET = "/api/v1/stats/time_series"


def init(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["init", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def readme_example() -> tuple[list[str], list[str]]:
    """The docs' `metricsync init` example (docs/commands.md): its arguments and what it prints."""
    text = (ROOT / "docs" / "commands.md").read_text()
    block = text[text.index("$ metricsync init ") :].split("```")[0].strip().splitlines()
    return block[0].split()[3:], block[1:]


def test_init_then_the_three_printed_commands_load_the_project(sandbox, isolated, capsys, monkeypatch):
    argv, printed = readme_example()
    code, out, err = init(capsys, *argv)
    assert code == 0, err
    assert out.splitlines() == printed  # as the README shows it
    commands = [line[2:] for line in out.splitlines() if line.startswith("  ")]
    assert commands == ["cd analytics", "metricsync check all", "metricsync run all"], out
    project = isolated / "analytics"
    assert (project / "transform" / "dbt_project.yml").exists() and not (project / "transform" / "target").exists()
    assert ".dlt/secrets.toml" in (project / ".gitignore").read_text().splitlines()
    secrets = project / ".dlt" / "secrets.toml"
    assert "[sources.statsig]" not in secrets.read_text()  # only the chosen providers
    # "put each provider's API key in .dlt/secrets.toml"
    secrets.write_text(secrets.read_text().replace('api_key = ""', f'api_key = "{sandbox.by_name["whop"].api_key}"'))
    monkeypatch.setenv("SOURCES__WHOP__BASE_URL", f"{sandbox.url}/api/v1")  # the sandbox, not the real APIs
    monkeypatch.setenv("SOURCES__WHOP__WALLET_QUERIES", '[{"name": "daily", "group_by": "day"}]')
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    done = run_command(
        ["bash", "-ec", "\n".join(commands)], cwd=isolated, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    warehouse = project / "metricsync.duckdb"
    assert f"destination duckdb:{warehouse} (dataset whop" in done.stdout, done.stdout
    assert "WARNING" not in done.stderr, done.stderr
    starts = {dt.date.fromisoformat(r.arg("from")) for r in sandbox.seen(WALLET)}
    assert min(starts) == TODAY - dt.timedelta(days=30)  # the generated start_date
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        days = conn.execute("select count(distinct period) from whop.wallet_time_series").fetchone()[0]
    assert days == 31
    monkeypatch.chdir(project)  # `transform` in the project builds its own copy (--with-dbt), not the packaged one
    from metricsync.dbt.invocation import Dbt

    assert Dbt("duckdb", str(isolated), verbose=False).common[:2] == ["--project-dir", str(project / "transform")]


def test_init_refuses_to_overwrite_without_force(isolated, capsys):
    assert init(capsys, "--providers", "posthog")[0] == 0
    config = isolated / ".dlt" / "config.toml"
    config.write_text(config.read_text() + "# mine\n")
    code, out, err = init(capsys)
    assert (code, out) == (2, "") and len(err.strip().splitlines()) == 1, err
    assert err.startswith("metricsync init: .dlt/config.toml already exists - use --force to overwrite these 5 files")
    assert config.read_text().endswith("# mine\n")
    assert init(capsys, "--force", "--destination", "postgres")[0] == 0
    assert 'destination = "postgres"' in config.read_text() and "# mine" not in config.read_text()


SECOND = '[destination.second]\ndestination_type = "duckdb"\n'  # a named destination (its file: below)


@pytest.mark.parametrize(
    "env, toml, argv, where",
    [
        pytest.param({"METRICSYNC_DESTINATION": "second"}, SECOND, [], "second.duckdb", id="env"),
        pytest.param({}, '[metricsync]\ndestination = "second"\n' + SECOND, [], "second.duckdb", id="config-toml"),
        pytest.param(
            {"METRICSYNC_DESTINATION": "second"},
            SECOND,
            ["--destination", "duckdb"],
            "metricsync.duckdb",
            id="flag-overrides",
        ),
    ],
)
def test_one_destination_setting_for_every_command(sandbox, isolated, capsys, monkeypatch, env, toml, argv, where):
    """`check` and `status` name the warehouse they read; `run` loads into it."""
    monkeypatch.setenv("SOURCES__STATSIG__API_KEY", sandbox.by_name["statsig"].api_key)
    monkeypatch.setenv("SOURCES__STATSIG__BASE_URL", sandbox.url)
    monkeypatch.setenv("SOURCES__STATSIG__START_DATE", (TODAY - dt.timedelta(days=2)).isoformat())
    monkeypatch.setenv("DESTINATION__SECOND__CREDENTIALS", str(isolated / "second.duckdb"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_toml(isolated / ".dlt" / "config.toml", toml)
    assert main(["check", "statsig", *argv]) == 0
    assert f"destination duckdb:{isolated / where} (dataset statsig" in capsys.readouterr().out
    assert main(["run", "statsig", "--progress", "none", "--pipelines-dir", "p", *argv]) == 0
    capsys.readouterr()
    assert main(["status", "statsig", *argv]) == 0
    assert f"dataset statsig in duckdb:{isolated / where})" in capsys.readouterr().out.splitlines()[0]
    assert (isolated / where).exists() and len(list(isolated.glob("*.duckdb"))) == 1


def test_dlt_destination_name_is_refused_in_one_line(monkeypatch, capsys):
    """dlt's `DESTINATION_NAME` (dlt warns about it on every pipeline) names the setting to use instead."""
    monkeypatch.setenv("DESTINATION_NAME", "postgres")
    assert main(["status"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        "metricsync: destination_name (DESTINATION_NAME) is dlt's setting, not "
        "metricsync's - set METRICSYNC_DESTINATION=postgres or destination under "
        "[metricsync] in .dlt/config.toml, and remove it"
    ]
