"""Keeps secrets out of every message: a process-wide registry of secret strings, a logging
filter that masks them in every record, whatever logger or level emits it, and `redacted_output`,
which masks them in everything a command writes to stdout and stderr."""

import logging
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, TextIO

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
_configured: set[str] = set()  # the configuration's credentials, as last read (`masking`)


def register_secret(secret: str) -> None:
    """Remember `secret` so that `redact` and the log filter mask it from now on."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def set_configured_secrets(secrets: Iterable[str]) -> None:
    """The credentials found in the configuration: they replace those found by the previous read
    (a process that reads another configuration, e.g. a test, no longer masks the old ones)."""
    global _configured
    with _lock:
        _configured = {s for s in secrets if s and len(s) >= 4}


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Return `text` with every registered secret (and any in `extra`) masked."""
    with _lock:
        secrets = sorted(_secrets.union(_configured, (s for s in extra if s)), key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks registered secrets in a record's final message (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_redaction() -> None:
    """Attach the filter to every handler of the root logger (call after logging is configured)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class RedactingStream:
    """A text stream (stdout, stderr) that masks registered secrets in every write; anything else
    (`isatty`, `fileno`, `flush`, ...) is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """`sys.stdout` and `sys.stderr` masked for the block (a command's whole run)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
