"""`run --progress`: a bar per provider on a terminal (rich, which dlt already installs), or a
log line every `interval` seconds for cron, on stderr. Both show windows done/total, requests,
retries and 429s, rows fetched and an ETA:

    2026-11-23 17:40:02 whop: 14/21 windows, 33 requests (1 retried, 0 429s), 1620 rows, ETA 2s
"""

import logging
import sys
import threading
import time
from typing import Any, Optional

from metricsync.operations import run_id

MODES = ("auto", "bar", "log", "none")
logger = logging.getLogger("metricsync.progress")


def _eta(result: Any, elapsed: float) -> str:
    tally = result.tally
    if not tally.windows_done or not tally.windows_total:
        return "ETA ?"
    left = elapsed / tally.windows_done * (tally.windows_total - tally.windows_done)
    return f"ETA {left:.0f}s"


def status_text(result: Any, elapsed: float) -> str:
    tally = result.tally
    return (
        f"{result.provider}: {tally.windows_done}/{tally.windows_total} windows, {result.requests} requests "
        f"({result.retries} retried, {result.throttled} 429s), {tally.rows} rows, {_eta(result, elapsed)}"
    )


class Display:
    """No progress (`none`): the base of the two others."""

    def start(self, provider: str) -> None:
        pass

    def update(self, result: Any) -> None:
        pass

    def finish(self, result: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def closing(self, line: str) -> str:
        """A provider's closing line as printed."""
        return line


class LogDisplay(Display):
    """A line every `interval` seconds while a provider runs (a run shorter than that prints
    only its closing line, so a failure stays one line on stderr)."""

    def __init__(self, interval: float = 10.0, stamped: bool = False) -> None:
        self.interval, self.stamped = interval, stamped
        self._current: Optional[Any] = None
        self._started = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        self._thread = threading.Thread(target=self._tick, name="progress-log", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._current is not None:
                    logger.info(status_text(self._current, time.monotonic() - self._started))

    def start(self, provider: str) -> None:
        with self._lock:
            self._started, self._current = time.monotonic(), None

    def update(self, result: Any) -> None:
        with self._lock:
            self._current = result

    def finish(self, result: Any) -> None:
        with self._lock:
            self._current = None

    def close(self) -> None:
        self._stop.set()

    def closing(self, line: str) -> str:
        """With `--progress log` (cron): `2026-12-07 03:15:09 UTC run 4f1c2a9e0b7d5a13 whop: ok - ...`, the run id
        the history row carries."""
        from metricsync.sources._common.load.windows import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
            utc_now,  # the one clock, as the history row's times
        )

        if not self.stamped:
            return line
        stamp = utc_now().strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{stamp} run {run_id()} {line}" if run_id() else f"{stamp} {line}"


class BarDisplay(Display):
    """One rich progress bar per provider."""

    def __init__(self) -> None:
        from rich.console import Console  # noqa: PLC0415 - start-up time (imports rich)
        from rich.progress import (  # noqa: PLC0415 - start-up time (imports rich)
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("windows"),
            TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
        )
        self._progress.start()
        self._task: Optional[int] = None

    def start(self, provider: str) -> None:
        self._task = self._progress.add_task(provider, total=None, detail="")

    def update(self, result: Any) -> None:
        tally = result.tally
        detail = f"{result.requests} req, {result.retries} retried, {result.throttled} 429s, {tally.rows} rows"
        self._progress.update(
            self._task, total=tally.windows_total or None, completed=tally.windows_done, detail=detail
        )

    def finish(self, result: Any) -> None:
        self.update(result)
        if result.ok:  # a failed provider's bar stays where it stopped
            total = result.tally.windows_total
            self._progress.update(self._task, total=total, completed=total)

    def close(self) -> None:
        self._progress.stop()


def make_display(mode: str, interval: float = 10.0) -> Display:
    """`log` asked for (a cron line) also stamps each closing line with the time and run id."""
    if mode == "auto":
        return BarDisplay() if sys.stderr.isatty() else LogDisplay(interval)
    if mode == "bar":
        return BarDisplay()
    if mode == "log":
        return LogDisplay(interval, stamped=True)
    return Display()
