"""What dbt's manifest describes against what a built warehouse holds: every column of every model,
seed and source has a description, and every described column exists (tests/dbt/test_column_docs.py).

Two declared exceptions, both read from the manifest:
- a source table with `meta: {api_columns: true}` (Whop's metric results: one column per column the
  API returns) may hold columns it does not list;
- a staging view with `meta: {columns_from_source: <source>.<table>}` (the scd2 definition views)
  passes the raw table's own columns through: such a column is described on that source table.
A source column named `account` exists only when the provider is loaded with accounts.
"""

from collections.abc import Iterable, Mapping

Columns = Mapping[tuple[str, str], set[str]]


def warehouse_columns(rows: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], set[str]]:
    """{(schema, table): {column, ...}} from `information_schema.columns` rows (names lower-cased)."""
    found: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        found.setdefault((schema.lower(), table.lower()), set()).add(column.lower())
    return found


def _described(node: Mapping) -> set[str]:
    return {name.lower() for name, column in node.get("columns", {}).items() if column.get("description", "").strip()}


def _listed(node: Mapping) -> set[str]:
    return {name.lower() for name in node.get("columns", {})}


def _source_columns(manifest: Mapping) -> dict[str, set[str]]:
    """{"<source>.<table>": described columns}"""
    return {f"{s['source_name']}.{s['name']}": _described(s) for s in manifest["sources"].values()}


def undescribed_and_missing(manifest: Mapping, built: Columns, published: Mapping[str, str]) -> list[str]:
    """One line per problem: a built column without a description, a described column not built, a
    node not in the warehouse. `published`: {schema dbt builds in: schema its tables are published to}
    (write-audit-publish: the published tables are what users read)."""
    problems: list[str] = []
    sources = _source_columns(manifest)
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed"):
            continue
        schema = published.get(node["schema"], node["schema"])
        have = built.get((schema.lower(), (node.get("alias") or node["name"]).lower()))
        if have is None:
            problems.append(f"{node['name']} is not in the warehouse ({schema})")
            continue
        passed = sources.get(node["config"].get("meta", {}).get("columns_from_source", ""), set())
        for column in sorted(have - _described(node) - passed):
            problems.append(f"{node['name']}.{column} has no description")
        for column in sorted(_listed(node) - have):
            problems.append(f"{node['name']}.{column} is described but {node['name']} has no such column")
    for source in manifest["sources"].values():
        have = built.get((source["schema"].lower(), source["identifier"].lower()))
        name = f"{source['source_name']}.{source['name']}"
        if have is None:
            problems.append(f"source {name} is not in the warehouse")
            continue
        if not source.get("meta", {}).get("api_columns"):
            problems += [f"source {name}.{c} has no description" for c in sorted(have - _described(source))]
        missing = _listed(source) - have - {"account"}
        problems += [f"source {name}.{c} is described but the table has no such column" for c in sorted(missing)]
    return problems
