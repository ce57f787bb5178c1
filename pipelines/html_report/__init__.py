"""`metricsync report`: one self-contained HTML file of sync health (`health.py`, from the run
history and the stored state) and the headline metrics (`figures.py`, from the published marts),
each chart (`charts.py`, altair rendered to SVG) with the table of its numbers (`page.py`).

`write_report` is what the command, `make demo` and a Dagster asset call:

    from metricsync.html_report import write_report
    write_report("duckdb", "report.html").path
"""

import datetime as dt
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, Sequence

from metricsync.operations import _version as version
from metricsync.providers import PROVIDERS
from metricsync.sources._common.load.windows import utc_now

from . import charts, figures, health, page

logger = logging.getLogger("metricsync.report")

MAX_LINES = 12  # lines a chart draws (and its table lists): a year of 100 accounts stays readable and small
MAX_SMALL = 4  # lines in each small multiple (Statsig's metrics)


def _version() -> str:

    return version()


def _verified(entry: dict) -> str:
    found = entry.get("last_verified")
    if not found:
        return "never"
    said = "clean" if found["clean"] else f"{found['drifted_periods']} periods drifted"
    return f"{found['at'][:16].replace('T', ' ')} UTC: {said}{', after repair' if found['repaired'] else ''}"


def _number(value: Any) -> str:
    """A stored number as `metricsync query` prints it: an exact decimal, no exponent, no trailing zeros."""

    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _numbers(rows: list[dict], key_name: str, value_name: str) -> dict:
    """The table beside a chart: period, account, series, the key (grain, metric), complete, value;
    a column with one value all down (no accounts; the chart's currency, in the value's heading) left out."""
    columns = ["period", "account", "series", key_name, "complete", value_name]
    table = [
        (r["period"], r["account"], r["series"], r["key"], "yes" if r["complete"] else "no", _number(r["value"]))
        for r in rows
    ]
    keep = [i for i in range(len(columns)) if i in (0, 4, 5) or len({row[i] for row in table}) > 1]
    return {"columns": [columns[i] for i in keep], "table": [tuple(row[i] for i in keep) for row in table]}


def _charted(rows: list[dict], per_key: bool) -> tuple[list[dict], str]:
    """At most `MAX_LINES` lines (account and series; per metric for a small multiple): the largest
    at their newest period, with a note saying so (the rest: `metricsync query --csv`)."""
    lines: dict = {}
    for row in rows:
        line = (row["key"] if per_key else "", row["account"], row["series"])
        if line not in lines or row["period"] >= lines[line]["period"]:
            lines[line] = row
    groups: dict = {}
    for line, newest in lines.items():
        groups.setdefault(line[0], []).append((abs(newest["value"] or 0), line))
    most = MAX_SMALL if per_key else MAX_LINES
    kept = {line for group in groups.values() for _, line in sorted(group, reverse=True)[:most]}
    if len(kept) == len(lines):
        return rows, ""
    note = (
        f"{len(kept)} of {len(lines)} lines charted and tabled here: the largest at their newest period "
        f"({most} a chart); metricsync query gives every one (--by account series --csv)."
    )
    return [r for r in rows if (r["key"] if per_key else "", r["account"], r["series"]) in kept], note


def _figure_context(figure: Any) -> list[dict]:
    """A figure's charts: one per currency for money (its axis names the currency), else one."""

    keyed = figure.unit == "currency"
    groups: dict = {}
    for row in figure.rows:
        groups.setdefault(row["key"].upper() if keyed else "", []).append(row)
    out = []
    for currency, every in sorted(groups.items()):
        rows, note = _charted(every, per_key=figure.name == "statsig")
        title = figure.title + (f", {currency}" if currency else "")
        if figure.name == "statsig":
            chart = charts.small_multiples(rows, "value (the metric's own unit)")
        else:
            unit = f"{figure.name.replace('_', ' ')} ({currency}, major units)" if keyed else figure.unit
            time = "month" if keyed else "period start (UTC)"
            chart = charts.series(rows, unit if keyed else f"active {figure.unit}", time, monthly=keyed)
        newest = figures.last_complete(figures.Figure(figure.name, title, figure.unit, rows))
        key_name = "currency" if keyed else ("metric" if figure.name == "statsig" else "grain")
        out.append(
            {
                "title": title,
                "note": note,
                "svg": chart,
                "headlines": [
                    f"{' / '.join(p for p in (r['account'], r['series']) if p)}: {_number(r['value'])}"
                    f"{' ' + currency if currency else ''} in {r['period']:%Y-%m} (last complete)"
                    for r in newest.values()
                ]
                if keyed
                else [],
                **_numbers(rows, key_name, f"{figure.name.replace('_', ' ')} ({currency})" if keyed else "value"),
            }
        )
    return out


def _timeline(daily: list[dict]) -> str:

    return charts.timeline(daily) if daily else ""


@dataclass
class Written:
    path: str  # absolute
    problems: list[str]  # what the page could not show and what to do, one line each (also on the page)


def build(
    destination: str,
    since: Optional[dt.date] = None,
    accounts: Sequence[str] = (),
    providers: Optional[Sequence[str]] = None,
) -> tuple[str, list[str]]:
    """The report's HTML over `destination`'s warehouse, and its problems' lines."""

    found = health.gather(destination, list(providers or PROVIDERS), since, accounts)
    metrics, missing = figures.read(destination, since, accounts)
    for entry in found.entries:
        entry["verified"] = _verified(entry)
    daily = health.daily(found.runs)
    problems = found.problems + missing
    html = page.render(
        generated=f"{utc_now():%Y-%m-%d %H:%M}",
        version=_version(),
        warehouse=found.warehouse or destination,
        since=since,
        accounts=list(accounts),
        problems=problems,
        accounts_health=health.per_account(found.runs),
        timeline=_timeline(daily),
        daily=daily,
        entries=found.entries,
        figures=[context for figure in metrics if figure.rows for context in _figure_context(figure)],
    )
    return html, problems


def write_report(
    destination: str,
    out: str = "report.html",
    since: Optional[dt.date] = None,
    accounts: Sequence[str] = (),
    providers: Optional[Sequence[str]] = None,
) -> Written:
    """Write the report to `out` (through a temporary file beside it, so a reader never sees half
    a page)."""
    html, problems = build(destination, since, accounts, providers)
    path = os.path.abspath(out)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(html)
    os.replace(partial, path)
    logger.info("report: wrote %s (%d bytes)", path, len(html))
    return Written(path, problems)
