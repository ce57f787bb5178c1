"""Hostile answers: a 200 answer of an endpoint, edited after its emulator wrote it (tests of what
the sources refuse; `Sandbox.tamper`, or `POST /_sandbox/tamper` with the same fields).

    Tamper("/api/v1/stats/schema", replace={"status": "maintenance"})   # a 200 without the lists
    Tamper("/api/v1/stats/time_series", merge={"amount": float("nan")})  # the first row's amount
    Tamper("/console/v1/metrics/values", merge={"value": 2.5}, duplicate=True)  # a second row, same key
    Tamper("/v2/data/analytics/metric_query", at="data.results", merge={"value": "12abc"})
    Tamper("/api/v1/stats/time_series", empty=True)  # a 200 whose rows list is empty

`at` is the dotted path of the answer's rows (`data`; `data.results`: the results of every data
row; `results`; `` for an answer that is a list); `merge` sets fields on the first row
(`rows="all"`: on every row); `duplicate` appends a copy of the first row, `merge` applied to the
copy only; `empty` empties the lists of rows instead. `count` answers are edited (None: every one).
"""

import copy
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Tamper:
    path: str
    replace: Any = None
    merge: dict = field(default_factory=dict)
    duplicate: bool = False
    empty: bool = False
    at: str = "data"
    rows: str = "first"
    count: Optional[int] = None
    edited: int = 0

    def matches(self, path: str) -> bool:
        return path.startswith(self.path) and (self.count is None or self.edited < self.count)

    def apply(self, body: Any) -> Any:
        """`body` edited; the answer is left alone when it has no rows to edit."""
        self.edited += 1
        if self.replace is not None:
            return copy.deepcopy(self.replace)
        body = copy.deepcopy(body)  # never the emulator's own objects
        if self.empty:
            for rows in _lists(body, self.at):
                rows.clear()
            return body
        rows = _rows(body, self.at)
        if not rows:
            return body
        if self.duplicate:
            twin = {**copy.deepcopy(rows[0]), **copy.deepcopy(self.merge)}
            _parent(body, self.at, rows[0]).append(twin)
            return body
        for row in rows if self.rows == "all" else rows[:1]:
            row.update(copy.deepcopy(self.merge))
        return body


def _lists(body: Any, at: str) -> list[list]:
    """The lists of rows at the dotted path `at` ("data.results": each data row's results)."""
    found = [body]
    for part in filter(None, at.split(".")):
        found = [item for value in found for item in (value if isinstance(value, list) else [value])]
        found = [value.get(part) for value in found if isinstance(value, dict)]
    return [value for value in found if isinstance(value, list)]


def _rows(body: Any, at: str) -> list[dict]:
    return [row for rows in _lists(body, at) for row in rows if isinstance(row, dict)]


def _parent(body: Any, at: str, row: dict) -> list:
    return next(rows for rows in _lists(body, at) if any(r is row for r in rows))
