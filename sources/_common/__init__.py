"""Machinery shared by every metricsync source: HTTP client, paginators, windows, progress.

The names below are imported on first use (PEP 562), so that importing one of the submodules
(`metricsync.sources._common.http.masking` by the CLI, `errors` by a command) does not import
the HTTP client, Arrow and dlt with it."""

import importlib
from typing import Any

_WHERE = {
    "metricsync.sources._common.http.client": ("ApiClient", "Request", "RetryPolicy", "build_client"),
    "metricsync.sources._common.http.concurrency": ("run_concurrently",),
    "metricsync.sources._common.http.limits": ("RequestLimiter",),
    "metricsync.sources._common.http.paginators": (
        "BodyCursorPaginator",
        "NextUrlPaginator",
        "PageNumberPaginator",
        "PageTokenPaginator",
        "SinglePage",
        "dig",
    ),
    "metricsync.sources._common.load.arrow": ("MONEY", "to_arrow"),
    "metricsync.sources._common.load.progress": ("QueryProgress", "RunControl"),
    "metricsync.sources._common.load.windows": (
        "Window",
        "canonical_granularity",
        "period_start",
        "plan_windows",
        "to_date",
    ),
    "metricsync.sources._common.errors": (
        "ApiError",
        "AuthError",
        "ConfigError",
        "MetricSyncError",
        "RetriesExhausted",
    ),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = list(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
