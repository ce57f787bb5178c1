"""Errors raised by the shared machinery.

Every `MetricSyncError` carries a one-line message meant for the person running the sync: it names
the provider and says what to do, and it never contains a secret (see `redaction`).
"""

import math
from decimal import Decimal
from typing import Optional


class MetricSyncError(Exception):
    """A failure with a one-line, secret-free message for the user."""

    exit_code = 1


class ConfigError(MetricSyncError):
    """Bad configuration or arguments: nothing was requested or loaded."""

    exit_code = 2


class ApiError(MetricSyncError):
    """The API answered with an error that retrying will not fix (400/401/403/404, ...)."""

    exit_code = 3

    def __init__(
        self,
        provider: str,
        endpoint: str,
        status: Optional[int],
        message: str,
        *,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.status = status
        self.api_message = message
        self.code = code
        self.request_id = request_id
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        status = f"HTTP {self.status}" if self.status else "no response"
        text = f"{self.provider}: {self.endpoint} failed ({status}"
        if self.code:
            text += f", {self.code}"
        text += f"): {self.api_message}"
        if self.request_id:
            text += f" [request_id {self.request_id}]"
        if self.hint:
            text += f" - {self.hint}"
        return " ".join(text.split())


class AuthError(ApiError):
    """401/403: the key is missing, invalid or lacks a permission."""

    exit_code = 4


class RetriesExhausted(ApiError):
    """A transient fault (429, 5xx, timeout, bad body) outlasted the retry budget."""

    exit_code = 5


class Unreachable(RetriesExhausted):
    """The host refused the connection or does not resolve (after retries)."""

    def __init__(self, provider: str, endpoint: str, host: str) -> None:
        self.host = host
        super().__init__(provider, endpoint, None, f"cannot reach {host}", hint=f"check sources.{provider}.base_url")

    def _format(self) -> str:
        return f"{self.provider}: cannot reach {self.host} - {self.hint}"


class TransientError(Exception):
    """Internal: one attempt failed in a way that a retry may fix."""

    def __init__(
        self,
        reason: str,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
        answer: Optional[str] = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.unreachable = False
        self.answer = answer  # a 2xx body unlike the docs (its start): exit 3 if every attempt gets one


def shown(value: object, limit: int = 40) -> str:
    """`value` as the API sent it, cut short for a one-line message: text quoted (a lone surrogate
    shows as its escape), numbers as JSON writes them (`2.9`, `NaN`, `Infinity`)."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    else:
        text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class BadAnswer(ApiError):
    """A 200 answer that breaks the documented format (a value its column cannot hold exactly, a
    date that does not exist, a field with the name of one of our columns, two rows with one key):
    nothing of the window is stored, exit 3. One line naming provider, query, period, field, value:

        whop: query 'daily' period 2026-01-05 failed (HTTP 200): field 'amount' is 'NaN': not a finite
        number - nothing of this window was stored; report it with this line
    """

    def __init__(self, provider: str, where: str, period: object, field: str, value: object, problem: str) -> None:
        """`where`: what was asked, e.g. "query 'daily'", "table metrics"."""
        self.where, self.period, self.field, self.value, self.problem = where, period, field, value, problem
        if period is not None:
            where += f" period {period}"
        super().__init__(
            provider,
            where,
            200,
            f"field {field!r} is {shown(value)}: {problem}",
            hint="nothing of this window was stored; report it with this line",
        )
