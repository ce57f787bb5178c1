"""What one query has loaded: the day ranges its loads covered (recorded in its resource state by
every load, `sources/_common/load/covered.py`) and the periods holding stored rows (a load made
before ranges were recorded, or a row typed in by hand). `verify` checks the windows holding
either; the windows between them holding neither were never loaded: reported as not loaded
(not drift), loaded by `--fill-gaps` only.

    loaded = Loaded(covered=[(dt.date(2025, 6, 1), dt.date(2025, 8, 31))], stored={dt.date(2026, 8, 1)})
    loaded.gaps(windows)   # [(first day, last day), ...] never loaded, between loaded windows
"""

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from metricsync.sources._common.load import covered as ranges
from metricsync.sources._common.load.windows import Window


@dataclass
class Loaded:
    covered: list = field(default_factory=list)  # [(first, last)] days the loads covered
    stored: set = field(default_factory=set)  # periods holding stored rows

    @property
    def first(self) -> Optional[dt.date]:
        days = [first for first, _last in self.covered] + list(self.stored)
        return min(days) if days else None

    def day(self, day: dt.date) -> bool:
        """Whether a load covered `day` (a period starting then was loaded)."""
        return ranges.contains(self.covered, day)

    def holds(self, window: Window) -> bool:
        """Whether a load covered a day of `window`, or a row is stored in it."""
        if ranges.overlaps(self.covered, window.start, window.end):
            return True
        periods = sorted(self.stored)
        at = bisect.bisect_left(periods, window.start)
        return at < len(periods) and periods[at] < window.end

    def gaps(self, windows: list, first: Optional[dt.date] = None, last: Optional[dt.date] = None) -> list:
        """The runs of `windows` (a query's plan, in order) between held ones that hold nothing,
        as (first day, last day), within [first, last] when given."""
        held = [i for i, window in enumerate(windows) if self.holds(window)]
        found: list = []
        for window in windows[held[0] : held[-1]] if held else []:
            if self.holds(window):
                continue
            start, end = max(window.start, first or window.start), min(window.last_day, last or window.last_day)
            if start > end:
                continue
            if found and found[-1][1] + dt.timedelta(days=1) == start:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))
        return found


def from_state(state: Optional[dict], provider: str, resource: str) -> dict:
    """query -> the ranges its loads covered, from the pipeline's stored state."""
    entries = (state or {}).get("sources", {}).get(provider, {}).get("resources", {}).get(resource, {}).get(
        "queries"
    ) or {}
    return {query: ranges.parse(entry.get("covered")) for query, entry in entries.items() if entry.get("covered")}
