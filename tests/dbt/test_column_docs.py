"""Every column of every model, seed and source of `transform/` is described, and every described
column exists: dbt's manifest (written by the session's `run all --transform`) against the columns
the built DuckDB warehouse really holds (`information_schema`), so a column added to a model without
a description, or a description left behind by a renamed column, fails here. The rules and their two
declared exceptions are in `tests/support/column_docs.py`."""

import copy
import json
import shutil

import duckdb
import pytest
from support.column_docs import undescribed_and_missing, warehouse_columns

SCHEMAS = ("metrics", "metrics_staging", "whop", "stripe_analytics", "posthog", "statsig")
PUBLISHED = {"metrics__audit": "metrics"}  # the marts are built in the audit schema, read where published


@pytest.fixture(scope="module")
def built(loaded_duckdb_origin, tmp_path_factory) -> tuple[dict, dict]:
    """(the manifest, {(schema, table): columns}) of the session's loaded and transformed warehouse."""
    manifest = json.loads((loaded_duckdb_origin / "dbt_target" / "manifest.json").read_text())
    copied = tmp_path_factory.mktemp("column_docs") / "warehouse.duckdb"
    shutil.copy(loaded_duckdb_origin / "warehouse.duckdb", copied)
    with duckdb.connect(str(copied), read_only=True) as connection:
        rows = connection.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            f" where table_schema in ({', '.join('?' for _ in SCHEMAS)})",
            list(SCHEMAS),
        ).fetchall()
    return manifest, warehouse_columns(rows)


def test_every_built_column_is_described_and_every_described_column_exists(built):
    manifest, columns = built
    kinds = sorted({n["resource_type"] for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")})
    assert kinds == ["model", "seed"] and len(manifest["sources"]) >= 14  # it reads the whole project
    assert undescribed_and_missing(manifest, columns, PUBLISHED) == []


def _node(manifest: dict, name: str) -> dict:
    return next(n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name)


def _source(manifest: dict, source: str, table: str) -> dict:
    return next(s for s in manifest["sources"].values() if (s["source_name"], s["name"]) == (source, table))


@pytest.mark.parametrize(
    "change, expected",
    [
        (  # a column the model outputs loses its description
            lambda m, c: _node(m, "fct_mrr_monthly")["columns"]["as_of"].update(description=" "),
            ["fct_mrr_monthly.as_of has no description"],
        ),
        (  # a description left behind by a renamed column
            lambda m, c: _node(m, "fct_metric_values")["columns"].update(value_minor={"description": "minor"}),
            ["fct_metric_values.value_minor is described but fct_metric_values has no such column"],
        ),
        (  # the model outputs a column nobody described
            lambda m, c: c[("metrics", "fct_whop_wallet_net_revenue_monthly")].add("gross_revenue"),
            ["fct_whop_wallet_net_revenue_monthly.gross_revenue has no description"],
        ),
        (  # a definition view's passed-through column is described on its source table, or nowhere
            lambda m, c: _source(m, "statsig", "metrics")["columns"].pop("directionality"),
            [
                "source statsig.metrics.directionality has no description",
                "stg_statsig__metrics.directionality has no description",
                "stg_statsig__metrics_history.directionality has no description",
            ],
        ),
        (  # a raw column nobody described
            lambda m, c: c[("stripe_analytics", "metric_results")].add("unit"),
            ["source stripe_analytics.metric_results.unit has no description"],
        ),
        (  # a model the warehouse does not have
            lambda m, c: c.pop(("metrics_staging", "int_metric_values")),
            ["int_metric_values is not in the warehouse (metrics_staging)"],
        ),
        (  # ... except the API's own columns of Whop's metric results
            lambda m, c: c[("whop", "metric_results")].add("net_revenue"),
            [],
        ),
    ],
    ids=["undescribed", "renamed", "new-column", "passed-through", "raw", "not-built", "api-columns"],
)
def test_the_check_finds_each_kind_of_gap(built, change, expected):
    manifest, columns = copy.deepcopy(built[0]), copy.deepcopy(built[1])
    change(manifest, columns)
    assert sorted(undescribed_and_missing(manifest, columns, PUBLISHED)) == expected
