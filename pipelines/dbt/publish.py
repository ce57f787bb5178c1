"""Write-audit-publish of the dbt marts: `transform` builds and tests every model with the marts
in an audit schema (`metrics__audit`), and only when every node passed copies the audited mart
tables into the published ones (`metrics`) in one transaction. A failed build publishes nothing:
the previous mart stays whole and queryable, and the failed build stays in the audit schema for
inspection.

    published = publish(client, "metrics__audit", "metrics")  # ["dim_metric_definitions", ...]

A published table is kept, not re-created, whenever its columns are unchanged: its rows are
replaced inside the transaction, so what users added to it (a `GRANT`, a view on it) survives
every publish. An incremental mart (`fct_metric_values`) replaces only the periods its change log
(`<table>__changes` in the audit schema, `transform/macros/incremental.sql`) names, found by their
day (on Postgres the published table is indexed by `period_start`, as the audited one), and the log
is emptied in the same transaction. Only when a mart's columns changed is the table re-created; a
user's view on it then stops the publish (`PublishBlocked`, exit 7, naming the view) rather than
being dropped. The grants dbt applied in the audit schema (the project's `grants` config) are
given on the published table and its schema too.

A view in the audit schema (a renamed mart's old name kept for a release, `transform/models/deprecated/`:
`select * from` the one mart it reads) is published as a view of the published mart, with its grants.
When a previous release published that name as a table, the table becomes the view, unless a user's
view depends on it (Postgres): then the table is kept and its rows replaced, so that view keeps working.
"""

import logging
import re
from typing import Any

logger = logging.getLogger("metricsync.transform")

AUDIT_SUFFIX = "__audit"
CHANGES_SUFFIX = "__changes"  # an incremental mart's periods rebuilt since the last publish
PERIOD_KEY = ("provider", "account", "series", "grain", "period_start")


class PublishBlocked(Exception):
    """A published table must be re-created and an object the project does not own depends on it."""


def audit_schema(published: str) -> str:
    """Where the marts are built and tested before publishing: `metrics` -> `metrics__audit`."""
    return published + AUDIT_SUFFIX


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_postgres(client: Any) -> bool:
    return "postgres" in type(client).__module__


def _columns(client: Any, schema: str, kind: str = "BASE TABLE") -> dict:
    """{table: [(column, type, nullable), ...] in order} of the base tables (or views) of `schema`."""
    rows = client.execute_sql(
        "select c.table_name, c.column_name, c.data_type, c.is_nullable from information_schema.columns c "
        "join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name "
        f"where c.table_schema = {_literal(schema)} and t.table_type = {_literal(kind)} "
        "order by c.table_name, c.ordinal_position"
    )
    found: dict = {}
    for table, column, kind, nullable in rows or []:
        found.setdefault(table, []).append((column, kind.lower(), nullable))
    return found


def _dependent_views(client: Any, schema: str, table: str) -> list[str]:
    """The views (of any schema) that read `schema.table` (Postgres keeps them bound to the table)."""
    if not _is_postgres(client):
        return []  # DuckDB binds a view to its tables by name when it is read
    rows = client.execute_sql(
        "select distinct view_ns.nspname || '.' || view_class.relname from pg_depend d "
        "join pg_rewrite r on r.oid = d.objid "
        "join pg_class view_class on view_class.oid = r.ev_class "
        "join pg_namespace view_ns on view_ns.oid = view_class.relnamespace "
        "join pg_class t on t.oid = d.refobjid join pg_namespace ns on ns.oid = t.relnamespace "
        f"where ns.nspname = {_literal(schema)} and t.relname = {_literal(table)} and view_class.oid <> t.oid"
    )
    return sorted(row[0] for row in rows or [])


def _blockers(client: Any, schema: str, table: str, own: set[str]) -> tuple[list[str], list[str]]:
    """The views in the way of re-creating `schema.table`: (users' views, our own published views).
    Our views (`own`, names in `schema`) are dropped and published again; a user's view on them blocks."""
    ours, users = [], set()
    for view in _dependent_views(client, schema, table):
        view_schema, _, name = view.partition(".")
        if view_schema == schema and name in own:
            ours.append(name)
            users.update(_dependent_views(client, schema, name))
        else:
            users.add(view)
    return sorted(users), ours


def _grants(client: Any, audit: str, published: str, table: str) -> None:
    """Give on `published.table` (and its schema) the privileges dbt granted on the audited table."""
    if not _is_postgres(client):
        return
    rows = client.execute_sql(
        "select distinct grantee, privilege_type from information_schema.role_table_grants "
        f"where table_schema = {_literal(audit)} and table_name = {_literal(table)} and grantee <> current_user"
    )
    for grantee, privilege in rows or []:
        client.execute_sql(f"grant usage on schema {_quoted(published)} to {_quoted(grantee)}")
        client.execute_sql(f"grant {privilege} on {_quoted(published)}.{_quoted(table)} to {_quoted(grantee)}")


def _recreate(client: Any, audit: str, published: str, table: str, columns: list, existed: bool, own: set) -> None:
    """Drop (when it `existed`) and create `published.table` from the audited one, its not null columns again.
    Our own views on it (`own`) are dropped with it and published again after the tables."""
    target, source = f"{_quoted(published)}.{_quoted(table)}", f"{_quoted(audit)}.{_quoted(table)}"
    if existed:
        views, ours = _blockers(client, published, table, own)
        if views:
            raise PublishBlocked(
                f"transform: {published}.{table} changed its columns and must be re-created, but "
                f"{', '.join(views)} {'depend' if len(views) > 1 else 'depends'} on it - drop "
                f"{'them' if len(views) > 1 else 'it'} (`drop view {views[0]}`), run `metricsync transform` "
                f"again, then re-create {'them' if len(views) > 1 else 'it'}; nothing was published"
            )
        for view in ours:
            client.execute_sql(f"drop view if exists {_quoted(published)}.{_quoted(view)}")
        client.execute_sql(f"drop table {target}")
    client.execute_sql(f"create table {target} as select * from {source}")
    for column, _kind, nullable in columns:
        if nullable == "NO":  # the contract's not null columns, declared again on the copy
            client.execute_sql(f"alter table {target} alter column {_quoted(column)} set not null")


def _day_index(client: Any, published: str, table: str, logs: set[str]) -> None:
    """Postgres: an incremental mart's published copy indexed by `period_start` (its publish replaces
    a few days), made when the table is (a full publish) or, for a table published before, once."""
    if _is_postgres(client) and table + CHANGES_SUFFIX in logs:
        name = _quoted(table + "__period_start")
        client.execute_sql(f"create index if not exists {name} on {_quoted(published)}.{_quoted(table)} (period_start)")


def _changed_periods(client: Any, audit: str, table: str, logs: set[str]) -> Any:
    """The change log's periods (a `select` of PERIOD_KEY), or None when the whole table is to be
    copied: no log, or the log says the table was built in full."""
    log = table + CHANGES_SUFFIX
    if log not in logs:
        return None
    source = f"{_quoted(audit)}.{_quoted(log)}"
    if client.execute_sql(f"select count(*) from {source} where rebuilt_in_full")[0][0]:
        return None
    return f"select {', '.join(PERIOD_KEY)} from {source}"


def _replace_rows(client: Any, audit: str, published: str, table: str, changed: Any) -> None:
    """Replace the rows of `published.table` by the audited ones: all, or those of the `changed` periods."""
    target, source = f"{_quoted(published)}.{_quoted(table)}", f"{_quoted(audit)}.{_quoted(table)}"
    if changed is None:
        client.execute_sql(f"delete from {target}")
        client.execute_sql(f"insert into {target} select * from {source}")
        return
    match = " and ".join(f"c.{k} = {{t}}.{k}" for k in PERIOD_KEY)
    days = f"period_start in (select period_start from ({changed}) d)"  # the day first: both are indexed by it
    client.execute_sql(
        f"delete from {target} where {days} and exists (select 1 from ({changed}) c where {match.format(t=target)})"
    )
    client.execute_sql(
        f"insert into {target} select s.* from {source} s where s.{days} and exists (select 1 from ({changed}) c "
        f"where {match.format(t='s')})"
    )


def _view_sources(client: Any, audit: str, tables: list[str]) -> dict[str, str]:
    """{view: the audited table it reads} for the views of the audit schema (each `select * from` one mart)."""
    if _is_postgres(client):
        sql = f"select viewname, definition from pg_views where schemaname = {_literal(audit)}"
    else:
        sql = (
            "select view_name, sql from duckdb_views() where database_name = current_database() "
            f"and schema_name = {_literal(audit)}"
        )
    found = {}
    for view, definition in client.execute_sql(sql) or []:
        read = [t for t in tables if re.search(rf'"?{re.escape(audit)}"?\s*\.\s*"?{re.escape(t)}\b', definition)]
        if len(read) != 1:
            raise ValueError(
                f"transform: the view {audit}.{view} reads {len(read)} marts - a view in the marts must be "
                "`select * from` one mart (a renamed mart's old name, transform/models/deprecated/)"
            )
        found[view] = read[0]
    return found


def _publish_view(client: Any, published: str, view: str, table: str, current: Any, columns: list) -> None:
    """`published.view` as `select * from published.table`; a table of that name (a previous release's
    mart, `current`: its columns, or None) becomes the view, or, when a user's view depends on
    it (Postgres), is kept with its rows replaced."""
    target, source = f"{_quoted(published)}.{_quoted(view)}", f"{_quoted(published)}.{_quoted(table)}"
    if current is not None:
        users = _dependent_views(client, published, view)
        if users and [c[:2] for c in current] == [c[:2] for c in columns]:
            client.execute_sql(f"delete from {target}")
            client.execute_sql(f"insert into {target} select * from {source}")
            return
        if users:
            raise PublishBlocked(
                f"transform: {published}.{view} is now a view of {published}.{table}, but "
                f"{', '.join(users)} depends on the table of that name - drop it (`drop view {users[0]}`), "
                "run `metricsync transform` again, then re-create it; nothing was published"
            )
        client.execute_sql(f"drop table {target}")
    client.execute_sql(f"create or replace view {target} as select * from {source}")


def publish(client: Any, audit: str, published: str) -> list[str]:
    """Publish the mart tables (and views) of `audit` to `published` (dlt sql client `client`), all in one
    transaction: readers see the old mart or the new one, never a mix. Returns the tables and views.
    Raises PublishBlocked (nothing published) when a user's view stands in the way."""
    audited = _columns(client, audit)
    logs = {name for name in audited if name.endswith(CHANGES_SUFFIX)}
    tables = sorted(name for name in audited if "__" not in name)  # not the logs, nor dbt's leftovers
    views = _view_sources(client, audit, tables)
    with client.begin_transaction():
        client.execute_sql(f"create schema if not exists {_quoted(published)}")
        current = _columns(client, published)
        for table in tables:
            same = [c[:2] for c in current.get(table, [])] == [c[:2] for c in audited[table]]
            if same:
                _replace_rows(client, audit, published, table, _changed_periods(client, audit, table, logs))
            else:
                _recreate(client, audit, published, table, audited[table], table in current, set(views))
            _day_index(client, published, table, logs)
            _grants(client, audit, published, table)
        for view, table in sorted(views.items()):
            _publish_view(client, published, view, table, current.get(view), audited[table])
            _grants(client, audit, published, view)
        for log in sorted(logs):
            client.execute_sql(f"delete from {_quoted(audit)}.{_quoted(log)}")
    logger.info("transform: published %s from %s to %s", ", ".join(tables + sorted(views)), audit, published)
    return tables + sorted(views)
