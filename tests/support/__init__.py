"""Helpers the tests import (`from support import today, configure, Warehouse`); fixtures live in
`tests/conftest.py`, and a provider's shared expectations in `support/<provider>.py`."""

from support.clock import clock_env, period_floor, seconds_to_wait_for_midnight, today
from support.project import LOADED_DAYS, ROOT, built_once, configure, loaded_settings
from support.servers import (
    POSTGRES_ADMIN,
    _mariadb_query,
    postgres_database,
    require,
    require_module,
    require_postgres,
)
from support.warehouses import Warehouse, _warehouse, duckdb_only

__all__ = [
    "LOADED_DAYS",
    "POSTGRES_ADMIN",
    "ROOT",
    "Warehouse",
    "_mariadb_query",
    "_warehouse",
    "built_once",
    "clock_env",
    "configure",
    "duckdb_only",
    "loaded_settings",
    "period_floor",
    "postgres_database",
    "require",
    "require_module",
    "require_postgres",
    "seconds_to_wait_for_midnight",
    "today",
]
