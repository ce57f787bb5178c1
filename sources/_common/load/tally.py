"""What one invocation planned and fetched, for the progress display and the closing line."""

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

from metricsync.sources._common.load.windows import Window


@dataclass
class RunTally:
    """Windows planned and fetched, rows fetched (per table too: the rows the API returned, which
    is what lands, whatever helper rows a table adds to its loads), the date range covered and
    where a resumed backfill took up; `on_change` (the runner's progress display) is called after
    every fetched window, from the fetching thread."""

    windows_total: int = 0
    windows_done: int = 0
    rows: int = 0
    first_day: Optional[dt.date] = None
    last_day: Optional[dt.date] = None
    resumed_from: Optional[dt.date] = None
    on_change: Optional[Callable[[], None]] = None
    table_rows: dict = field(default_factory=dict)
    widenings: dict = field(default_factory=dict)  # "--to 2025-06-15 widened to 2025-06-30" -> query names
    emptied: list = field(default_factory=list)  # windows that held rows and came back empty (progress.py)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self) -> dict:
        """Picklable (an account's result comes back from its worker process): no lock, no callback."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "on_change")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), on_change=None)

    def planned(self, plan: list[Window], resumed_from: Optional[dt.date] = None) -> None:
        self.windows_total += len(plan)
        if plan:
            self.first_day = min(self.first_day or plan[0].start, plan[0].start)
            self.last_day = max(self.last_day or plan[-1].last_day, plan[-1].last_day)
        if resumed_from:
            self.resumed_from = min(self.resumed_from or resumed_from, resumed_from)

    def widened(self, query_name: str, asked: tuple, whole: tuple) -> None:
        """A backfill's `--from`/`--to` (`asked`) moved to the edges of `query_name`'s periods (`whole`)."""
        for flag, before, after in (("--from", asked[0], whole[0]), ("--to", asked[1], whole[1])):
            if before != after:
                self.widenings.setdefault(f"{flag} {before} widened to {after}", []).append(query_name)

    def fetched(self, rows: int, table: Optional[str] = None) -> None:
        with self._lock:
            self.windows_done += 1
            self.rows += rows
            if table:
                self.table_rows[table] = self.table_rows.get(table, 0) + rows
        if self.on_change:
            self.on_change()
