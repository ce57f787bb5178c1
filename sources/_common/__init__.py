"""Machinery shared by every metricsync source: HTTP client, paginators, windows, progress."""

from metricsync.sources._common.http.client import ApiClient, Request, RetryPolicy, build_client
from metricsync.sources._common.http.concurrency import run_concurrently
from metricsync.sources._common.http.limits import RequestLimiter
from metricsync.sources._common.http.paginators import (
    BodyCursorPaginator,
    NextUrlPaginator,
    PageNumberPaginator,
    PageTokenPaginator,
    SinglePage,
    dig,
)
from metricsync.sources._common.load.arrow import MONEY, to_arrow
from metricsync.sources._common.load.progress import QueryProgress, RunControl
from metricsync.sources._common.load.windows import Window, canonical_granularity, period_start, plan_windows, to_date

from .errors import ApiError, AuthError, ConfigError, MetricSyncError, RetriesExhausted

__all__ = [
    "MONEY",
    "to_arrow",
    "run_concurrently",
    "ApiError",
    "AuthError",
    "ConfigError",
    "MetricSyncError",
    "RetriesExhausted",
    "ApiClient",
    "build_client",
    "Request",
    "RetryPolicy",
    "RequestLimiter",
    "BodyCursorPaginator",
    "NextUrlPaginator",
    "PageNumberPaginator",
    "PageTokenPaginator",
    "SinglePage",
    "dig",
    "QueryProgress",
    "RunControl",
    "Window",
    "canonical_granularity",
    "period_start",
    "plan_windows",
    "to_date",
]
