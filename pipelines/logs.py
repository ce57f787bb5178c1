"""Logging set-up for every command: one line per record, secrets redacted, and dlt's own records in
metricsync's format, or at debug level where they are noise.

dlt logs through the `dlt` logger with its own handler; `install_dlt_log_format` gives that
handler metricsync's format and level (`RUNTIME__LOG_FORMAT` / `RUNTIME__LOG_LEVEL`, unless set),
cuts multi-line messages to their first line, and demotes warnings that are expected in
metricsync's use of dlt (a destination switched with `--destination`: each destination keeps its
own state) to DEBUG, shown with `--log-level DEBUG`:

    2026-11-23 17:04:28 WARNING dlt: <first line of dlt's warning>
"""

import logging
import os
import sys
import warnings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DLT_LOG_FORMAT = "{asctime} {levelname} {name}: {message}"  # the same, in the `{` style dlt's handler uses

NOISE = (
    "in state differs from destination",  # switching --destination: metricsync keeps one state per destination
    "The state staging destination",
    "dlt ignores `merge_key`",  # a window's delete is scoped by its merge key (pipelines/warehouse/merges.py)
)
# Python warnings raised inside dlt's own code that no user can act on (dlt's sqlalchemy merge SQL)
PYTHON_WARNING_NOISE = ("implicitly coercing SELECT object to scalar subquery",)


class DltRecordFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and any(text in message for text in NOISE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger("metricsync").isEnabledFor(logging.DEBUG)
        lines = message.strip().splitlines()
        if len(lines) > 1:
            record.msg, record.args = lines[0], None
        return True


def install_dlt_log_format(level: str) -> None:
    """dlt's handler in our format and level; dlt's records through `DltRecordFilter`."""
    os.environ.setdefault("RUNTIME__LOG_FORMAT", DLT_LOG_FORMAT)
    os.environ["RUNTIME__LOG_LEVEL"] = level.upper()
    dlt_logger = logging.getLogger("dlt")
    if not any(isinstance(f, DltRecordFilter) for f in dlt_logger.filters):
        dlt_logger.addFilter(DltRecordFilter())


def configure_logging(level: str) -> None:
    """Root logging at `level` on stderr, secrets redacted, dlt's handler in the same format."""
    from metricsync.sources._common.http.redaction import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        RedactingFilter,
        install_log_redaction,
    )

    logging.basicConfig(level=getattr(logging, level.upper(), logging.WARNING), stream=sys.stderr, format=LOG_FORMAT)
    install_log_redaction()
    for name in ("dlt", "metricsync"):
        logging.getLogger(name).addFilter(RedactingFilter())
    install_dlt_log_format(level)
    for text in PYTHON_WARNING_NOISE:
        warnings.filterwarnings("ignore", message=text)
