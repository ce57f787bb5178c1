"""Errors raised by the shared machinery.

Every `MetricSyncError` carries a one-line message meant for the person running the sync: it names
the provider and says what to do, and it never contains a secret (see `redaction`).
"""

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
        super().__init__(provider, endpoint, None, f"cannot reach {host}",
                         hint=f"check sources.{provider}.base_url")

    def _format(self) -> str:
        return f"{self.provider}: cannot reach {self.host} - {self.hint}"


class TransientError(Exception):
    """Internal: one attempt failed in a way that a retry may fix."""

    def __init__(self, reason: str, status: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.unreachable = False
