"""dlt's own log records in metricsync's one-line format, or at debug level where they are noise.

dlt logs through the `dlt` logger; its multi-line warnings are cut to their first line and
prefixed `metricsync: dlt:`, and warnings that are expected in metricsync's use of dlt (a
throw-away pipeline reading a dataset, a destination switched with `--destination`) are demoted to
DEBUG, shown with `--log-level DEBUG`.
"""

import logging

NOISE = (
    "in state differs from destination",  # switching --destination: metricsync keeps one state per destination
    "The state staging destination",
)


class DltRecordFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and any(text in message for text in NOISE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger("metricsync").isEnabledFor(logging.DEBUG)
        first = (message.strip().splitlines() or [""])[0]
        record.msg, record.args = f"metricsync: dlt: {first}", None
        return True


def install_dlt_log_format() -> None:
    """Attach the filter to dlt's logger and to every handler dlt installs on it."""
    dlt_logger = logging.getLogger("dlt")
    if not any(isinstance(f, DltRecordFilter) for f in dlt_logger.filters):
        dlt_logger.addFilter(DltRecordFilter())
