"""Machinery shared by every metricsync source: HTTP client, paginators, windows, progress."""

from .arrow import MONEY, to_arrow
from .concurrency import run_concurrently
from .errors import ApiError, AuthError, ConfigError, MetricSyncError, RetriesExhausted
from .http import ApiClient, Request, RetryPolicy, build_client
from .limits import RequestLimiter
from .paginators import (
    BodyCursorPaginator,
    NextUrlPaginator,
    PageNumberPaginator,
    PageTokenPaginator,
    SinglePage,
    dig,
)
from .progress import QueryProgress, RunControl
from .windows import Window, canonical_granularity, period_start, plan_windows, to_date

__all__ = [
    "MONEY", "to_arrow", "run_concurrently", "ApiError", "AuthError", "ConfigError", "MetricSyncError",
    "RetriesExhausted", "ApiClient", "build_client", "Request", "RetryPolicy", "RequestLimiter", "BodyCursorPaginator",
    "NextUrlPaginator", "PageNumberPaginator", "PageTokenPaginator", "SinglePage", "dig", "QueryProgress",
    "RunControl", "Window", "canonical_granularity", "period_start", "plan_windows", "to_date",
]
