"""Fast questions (issue 30): a question asked before in the same context is answered from its kept
SQL through DuckDB's own driver, importing neither dlt, dbt nor MetricFlow, and prints what the
question through dbt prints; a question new to a kept parse needs MetricFlow but neither dbt nor
dlt. The SQL reads the live tables, so a reload between two questions is seen; a changed setting
file, environment or project file sends the question through dlt and dbt again. Each question runs
in a process of its own (`support.questions`), on a copy of the session's loaded warehouse."""

import csv
import datetime as dt
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
from support import ROOT, today
from support.questions import ask, question_env

QUESTION = ("mrr", "--grain", "month", "--by", "account", "currency")
THROUGH_DBT = ("dbt", "dlt", "metricflow", "metricflow_semantics")


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _scaled(rows: list[dict], factor: int) -> list[dict]:
    """The rows with MRR multiplied by `factor`, formatted as `query` prints a decimal."""
    return [{**row, "mrr": format((Decimal(row["mrr"]) * factor).normalize(), "f")} for row in rows]


def _warehouse(origin: Path, path: Path, factor: int = 1) -> Path:
    """A copy of the loaded warehouse, every published metric value multiplied by `factor`."""
    shutil.copy(origin / "warehouse.duckdb", path)
    _reload(path, factor)
    return path


def _reload(path: Path, factor: int) -> None:
    """What a load and transform that changed every value would leave in the published mart."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"update metrics.fct_metric_values set value = value * {factor}")


def _credentials(workdir: Path, database: Path) -> None:
    (workdir / ".dlt").mkdir(exist_ok=True)
    (workdir / ".dlt" / "secrets.toml").write_text(f'[destination.duckdb]\ncredentials = "{database}"\n')


def test_a_question_asked_before_imports_none_of_dlt_dbt_metricflow_and_prints_the_same(loaded_duckdb_origin, tmp_path):
    _credentials(tmp_path, _warehouse(loaded_duckdb_origin, tmp_path / "a.duckdb"))
    env = question_env(tmp_path)
    cold, heavy = ask(tmp_path, env, *QUESTION, "--csv")
    assert set(heavy) == set(THROUGH_DBT) and len(_rows(cold)) >= 4
    assert ask(tmp_path, env, *QUESTION, "--csv") == (cold, [])
    printed = {}
    for style in ("--json", "--log-level=WARNING"):  # JSON and the table as printed through dbt (another context)
        printed[style], heavy = ask(tmp_path, {**env, "METRICSYNC_ANOTHER_SHELL": style}, *QUESTION, style)
        assert set(heavy) == set(THROUGH_DBT)
        assert ask(tmp_path, env, *QUESTION, style) == (printed[style], [])
    assert json.loads(printed["--json"]) == _rows(cold)
    assert printed["--log-level=WARNING"].split("\n")[0].split() == list(_rows(cold)[0])  # the table's heading

    # a question new to the kept parse: MetricFlow writes its SQL, without dbt or dlt
    new = ("net_revenue", "--grain", "month", "--csv")
    first, heavy = ask(tmp_path, env, *new)
    assert sorted(heavy) == ["metricflow", "metricflow_semantics"] and _rows(first)
    assert ask(tmp_path, {**env, "METRICSYNC_ANOTHER_SHELL": "2"}, *new)[0] == first
    assert ask(tmp_path, env, *new) == (first, [])

    # a kept question or context that does not read back whole is not trusted
    kept = tmp_path / ".metricsync" / "dbt" / "target" / "semantic-cache"
    for record in [*(kept / "questions").glob("*.json"), *(kept / "contexts").glob("*.json")]:
        record.write_text(record.read_text()[:-20])
    again, heavy = ask(tmp_path, env, *QUESTION, "--csv")
    assert set(heavy) == set(THROUGH_DBT) and again == cold
    assert ask(tmp_path, env, *QUESTION, "--csv") == (cold, [])


def test_a_reload_is_seen_and_a_changed_setting_or_project_asks_through_dbt_again(loaded_duckdb_origin, tmp_path):
    shutil.copytree(ROOT / "transform", tmp_path / "transform", ignore=shutil.ignore_patterns("target", "logs"))
    a = _warehouse(loaded_duckdb_origin, tmp_path / "a.duckdb")
    _credentials(tmp_path, a)
    env = question_env(tmp_path)
    cold, heavy = ask(tmp_path, env, *QUESTION, "--csv")
    assert set(heavy) == set(THROUGH_DBT)
    assert ask(tmp_path, env, *QUESTION, "--csv") == (cold, [])

    _reload(a, 2)  # the data changed: the same SQL, the new numbers
    assert ask(tmp_path, env, *QUESTION, "--csv") == (ask(tmp_path, env, *QUESTION, "--csv")[0], [])
    assert _rows(ask(tmp_path, env, *QUESTION, "--csv")[0]) == _scaled(_rows(cold), 2)

    # another warehouse named in .dlt/secrets.toml (the environment unchanged): dlt resolves it again
    _credentials(tmp_path, _warehouse(loaded_duckdb_origin, tmp_path / "b.duckdb", 3))
    tripled, heavy = ask(tmp_path, env, *QUESTION, "--csv")
    assert set(heavy) == set(THROUGH_DBT) and _rows(tripled) == _scaled(_rows(cold), 3)
    assert ask(tmp_path, env, *QUESTION, "--csv") == (tripled, [])

    # a file of the project edited (a description: the same SQL) is parsed again
    metrics = tmp_path / "transform" / "models" / "semantic" / "_metrics.yml"
    metrics.write_text(
        metrics.read_text().replace("Stripe monthly recurring revenue", "Edited. Stripe monthly recurring revenue", 1)
    )
    edited, heavy = ask(tmp_path, env, *QUESTION, "--csv")
    assert set(heavy) == set(THROUGH_DBT) and edited == tripled
    parses = tmp_path / "transform" / "target" / "semantic-cache"
    assert len(list(parses.glob("*.json"))) == 3  # parses kept: a, b, b edited

    # the clock moved (METRICSYNC_TODAY; the clock's shift is a var of the parse): parsed again
    moved = {**env, "METRICSYNC_TODAY": (today() + dt.timedelta(days=1)).isoformat()}
    assert set(ask(tmp_path, moved, *QUESTION, "--csv")[1]) == set(THROUGH_DBT)
    assert len(list(parses.glob("*.json"))) == 4
