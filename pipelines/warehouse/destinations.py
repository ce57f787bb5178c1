"""Where a run loads: any dlt destination that can replace a window's periods exactly
(`delete-insert` merge) and keep definition history (`scd2`), configured the dlt way
(`DESTINATION__<NAME>__CREDENTIALS`, or a named destination with `destination.<name>.destination_type`).

Names derived here:
* dataset per provider: `sources.<provider>.dataset_name`, else `dataset_prefix` + provider;
* local pipeline name: `<provider>[__<account>]__<destination>`, so runs into two warehouses (or
  for two accounts) never share local state or traces.
"""

import copy
import importlib
import logging
import os
import sys
import types
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import dlt
from dlt.common.destination import Destination
from metricsync.sources._common.errors import ConfigError
from metricsync.warehouse.postgres import credentials
from metricsync.warehouse.urls import URL_DESTINATIONS, check_url

logger = logging.getLogger("metricsync.destinations")

DUCKDB_DEFAULT = "metricsync.duckdb"
REQUIRED_STRATEGIES = {
    "delete-insert": "replace a window's periods exactly (merge strategy delete-insert)",
    "scd2": "keep definition history (merge strategy scd2)",
}
SQL_HINT = "use a SQL warehouse such as duckdb, motherduck, postgres, bigquery, snowflake, clickhouse or sqlalchemy"


DESTINATION_ENV = "METRICSYNC_DESTINATION"
DESTINATION_SETTING = "metricsync.destination"  # `destination` under `[metricsync]` in .dlt/config.toml


def destination_name(cli_value: Optional[str] = None) -> str:
    """`--destination`, else `METRICSYNC_DESTINATION`, else `[metricsync] destination` in
    `.dlt/config.toml` (also `METRICSYNC__DESTINATION`), else duckdb. dlt's own global
    `destination_name` / `destination_type` are refused: dlt warns about them on every pipeline."""
    for legacy in ("destination_name", "destination_type"):
        if dlt.config.get(legacy):
            raise ConfigError(
                f"metricsync: {legacy} ({legacy.upper()}) is dlt's setting, not metricsync's - "
                f"set {DESTINATION_ENV}={dlt.config.get(legacy)} or destination under [metricsync] "
                "in .dlt/config.toml, and remove it"
            )
    for value in (cli_value, os.environ.get(DESTINATION_ENV), dlt.config.get(DESTINATION_SETTING)):
        if value and str(value).strip():
            return str(value).strip()
    return "duckdb"


def dataset_name(provider: str) -> str:
    """`sources.<provider>.dataset_name`, else `dataset_prefix` + the provider's name."""
    if dlt.config.get("dataset_name"):  # dlt's global DATASET_NAME would put every provider in one dataset
        raise ConfigError(
            f"{provider}: a global dataset_name (DATASET_NAME) is not used - unset DATASET_NAME and set "
            f"SOURCES__{provider.upper()}__DATASET_NAME, or DATASET_PREFIX for every provider"
        )
    explicit = dlt.config.get(f"sources.{provider}.dataset_name")
    if explicit and str(explicit).strip():
        return str(explicit).strip()
    return f"{dlt.config.get('dataset_prefix') or ''}{provider}"


def pipeline_name(provider: str, destination: str, account: Optional[str] = None) -> str:
    return "__".join(part for part in (provider, account, destination) if part)


def _is_md(credentials: Any) -> bool:
    return isinstance(credentials, str) and credentials.strip().lower().startswith("md:")


def duckdb_path() -> str:
    """`destination.duckdb.credentials` as configured (a file, or an `md:` path), else the default file."""
    return str(dlt.config.get("destination.duckdb.credentials") or DUCKDB_DEFAULT)


def _duckdb(dataset: str) -> Any:
    """The DuckDB file, or MotherDuck for an `md:` path (which must never become a local file
    named after the token)."""
    credentials = duckdb_path()
    if _is_md(credentials):
        logger.info("%s: an md: DuckDB path loads into MotherDuck (dlt's motherduck destination)", dataset)
        return dlt.destinations.motherduck(credentials=credentials, destination_name="motherduck")
    stem = os.path.splitext(os.path.basename(credentials.split("?")[0]))[0]
    if stem == dataset:  # DuckDB names the catalog after the file: `whop.whop` would be ambiguous
        raise ConfigError(
            f"{dataset}: the DuckDB file {credentials} is named like the dataset {stem!r} - "
            "give DESTINATION__DUCKDB__CREDENTIALS another file name"
        )
    if ":" not in credentials:  # a relative file is the working directory's (dlt would resolve it
        credentials = os.path.abspath(credentials)  # against where the pipeline was first created)
    return dlt.destinations.duckdb(credentials=credentials)


URL_COMPAT = "dlt.common.libs.sql_alchemy_compat"
PLAIN_URL_DESTINATIONS = ("duckdb", "postgres", "motherduck")  # never hand a credentials URL to SQLAlchemy


class UrlCompat(types.ModuleType):
    """dlt's `sql_alchemy_compat` (how connection-string credentials are parsed and shown)
    without importing SQLAlchemy (0.2-0.5 s) when the destination never hands the URL to it:
    dlt's own port (`sql_alchemy_shims`, what dlt runs on when SQLAlchemy is not installed)
    while SQLAlchemy is not imported, SQLAlchemy's URL once it is."""

    def __getattr__(self, name: str) -> Any:
        if "sqlalchemy" in sys.modules:
            return getattr(importlib.import_module("sqlalchemy.engine"), name)
        return getattr(importlib.import_module("dlt.common.libs.sql_alchemy_shims"), name)


def plain_urls(destination: str) -> None:
    """`UrlCompat` for duckdb, postgres and motherduck runs; any other destination may pass the
    URL to SQLAlchemy (dlt's `sqlalchemy` destination), so SQLAlchemy is imported for it."""
    if destination in PLAIN_URL_DESTINATIONS:
        if URL_COMPAT not in sys.modules:
            sys.modules[URL_COMPAT] = UrlCompat(URL_COMPAT)
        return
    try:
        importlib.import_module("sqlalchemy.engine")
    except ImportError:  # dlt uses its port then
        pass


def make_destination(destination: str, dataset: str) -> Any:
    """The dlt destination factory for `destination` (a destination type such as `bigquery`, or
    the name of one configured with `destination.<name>.destination_type`), refused before any
    request when it cannot merge the way metricsync loads."""
    plain_urls(destination)
    if destination == "duckdb":
        factory = _duckdb(dataset)
    elif destination == "postgres":  # libpq's rules: the password may come from .pgpass or PGPASSWORD
        factory = dlt.destinations.postgres(credentials=credentials(dataset))
    else:
        try:
            factory = Destination.from_reference(destination)
        except Exception as exc:  # unknown module, missing extra (`pip install dlt[bigquery]`), bad reference
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"{dataset}: destination {destination!r} is not available ({detail[:160]}) - "
                f"{SQL_HINT}, with its dlt extra installed"
            ) from None
        check_credentials_url(factory, destination, dataset)
        if factory.destination_type.endswith(".duckdb") and _is_md(
            dlt.config.get(f"destination.{destination}.credentials")
        ):
            raise ConfigError(
                f"{dataset}: destination {destination!r} is a DuckDB file with an md: path - "
                f"set destination.{destination}.destination_type to motherduck (dlt's MotherDuck destination)"
            )
    cache_capabilities(factory)
    strategies = set(factory.capabilities().supported_merge_strategies or ())
    missing = [why for strategy, why in REQUIRED_STRATEGIES.items() if strategy not in strategies]
    if missing:
        raise ConfigError(f"{dataset}: destination {destination!r} cannot {missing[0]} - {SQL_HINT}")
    return factory


def check_credentials_url(factory: Any, destination: str, dataset: str) -> None:
    """A connection URL in `destination.<name>.credentials` is checked before dlt parses it (dlt's
    error would quote it, password included)."""

    kind = factory.destination_type.rsplit(".", 1)[-1]
    value = dlt.secrets.get(f"destination.{destination}.credentials")
    if kind in URL_DESTINATIONS and isinstance(value, str) and value.strip():
        check_url(dataset, destination, value, required=URL_DESTINATIONS[kind])


def cache_capabilities(factory: Any) -> None:
    """dlt asks the destination for its capabilities dozens of times a load, resolving the whole
    destination configuration each time (a few ms each: about a quarter of a nightly run's CPU);
    a run's configuration does not change, so each naming convention's answer is computed once per
    factory and handed out as a copy (dlt adjusts what it gets)."""
    compute, answers = factory.capabilities, {}

    def capabilities(config: Any = None, naming: Any = None) -> Any:
        if config is not None:
            return compute(config, naming)
        key = None if naming is None else (type(naming), naming.max_length)
        if key not in answers:
            answers[key] = compute(None, naming)
        return copy.copy(answers[key])

    factory.capabilities = capabilities


def require_client(factory: Any, destination: str, dataset: str) -> None:
    """Refuse, before any request, a destination whose client library is not installed."""
    try:
        factory.client_class  # noqa: B018 - the attribute imports the client library
    except ImportError as exc:
        kind = factory.destination_type.rsplit(".", 1)[-1]
        raise ConfigError(
            f'{dataset}: the {destination} destination needs its client library ({exc}) - pip install "dlt[{kind}]"'
        ) from None


def loader_format(destination_type: str) -> Optional[str]:
    """Postgres loads through COPY (csv) rather than INSERT statements; other destinations pick
    their preferred format for Arrow pages themselves."""
    return "csv" if destination_type == "postgres" else None


def apply_loader_format(source: Any, factory: Any) -> Any:
    """`loader_format` for every resource that does not name its own `file_format` (passing it to
    `run` would override those too: e.g. definitions load as INSERTs into Postgres, because its
    CSV COPY reads an empty string in a nullable column as NULL). A resource's own format that the
    destination cannot load (INSERTs into BigQuery or sqlalchemy) falls back to the destination's."""
    caps = factory.capabilities()
    fmt = loader_format(factory.destination_type.rsplit(".", 1)[-1])
    for resource in source.selected_resources.values():
        dynamic = resource.has_dynamic_table_name or resource.has_other_dynamic_hints
        own = None if dynamic else resource.compute_table_schema().get("file_format")
        if own and own not in caps.supported_loader_file_formats:
            resource.apply_hints(file_format=caps.preferred_loader_file_format)
        elif fmt and not own:
            resource.apply_hints(file_format=fmt)
    return source


# what DuckDB keeps in memory while it loads (its buffer cache; it spills to disk beyond): a load
# holds at most `LOAD_ROWS` rows, so its merge needs no more, however large the table has grown
DUCKDB_MEMORY_LIMIT = "200MB"


def duckdb_memory_limit() -> str:
    """`destination.duckdb.memory_limit` (DuckDB's own syntax, e.g. `1GB`), else `DUCKDB_MEMORY_LIMIT`."""
    return str(dlt.config.get("destination.duckdb.memory_limit") or DUCKDB_MEMORY_LIMIT)


@contextmanager
def one_connection(factory: Any) -> Iterator[None]:
    """A local DuckDB file opened once for a warehouse turn: every dlt client of the turn (state
    restore, the load's schema update, its jobs, its completion) works on a cursor of this
    connection, instead of opening and checkpointing the file four or five times per provider.
    It is closed (and checkpointed) when the turn ends, before the turn's lock is released,
    so another process's turn opens the file as before; its memory is capped at
    `duckdb_memory_limit()`. Other destinations: nothing changes. The runner holds the
    file's write turn (`pipelines/locks/scopes.py:dataset_turn`) around it."""
    path = factory.config_params.get("credentials") if factory is not None else None
    if not isinstance(path, str) or not factory.destination_type.endswith(".duckdb") or ":" in path:
        yield
        return
    import duckdb  # noqa: PLC0415 - start-up time (imports duckdb)

    connection = duckdb.connect(path, config={"memory_limit": duckdb_memory_limit()})
    factory.config_params["credentials"] = connection
    try:
        yield
    finally:
        factory.config_params["credentials"] = path
        connection.close()
