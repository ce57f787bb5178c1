"""The report's charts: Vega-Lite specs written with altair, rendered to SVG by vl-convert (no
browser, no network), inlined in the page. Colours are chosen to read on light and dark; the
page's CSS recolours the text and grid lines for a dark scheme (SVG attributes yield to CSS)."""

import datetime as dt
import logging
from collections import Counter
from typing import Any

import altair
import vl_convert

logger = logging.getLogger("metricsync.report")

OUTCOME_COLOURS = {"ok": "#2e9e5b", "failed": "#d64545"}
WIDTH = 480
DATA = "rows"  # the one dataset of a chart (`svg`)
POINTS_UP_TO = 60  # a line of more periods is drawn without a mark on each
MIN_DAYS = 7  # the timeline spans at least a week
MAX_LEGEND = 12  # more lines than this: no legend (the table beside the chart names them)


def svg(chart: Any, data: list[dict]) -> str:
    """The chart (whose data is `DATA`) as an SVG element, its XML declaration dropped, transparent
    behind. The rows join the spec after altair wrote it: its checks of every value cost more than
    the rendering."""

    configured = chart.configure(background="transparent", font="sans-serif").configure_view(stroke=None)
    spec = configured.to_dict(validate=False)
    spec["datasets"] = {DATA: data}
    text = vl_convert.vegalite_to_svg(spec)
    return text[text.index("<svg") :]


def _alt() -> Any:

    altair.data_transformers.disable_max_rows()  # a year of 100 accounts: the data stays in the spec
    return altair


def _days(daily: list[dict]) -> tuple[list[dict], Any]:
    """The rows with ISO days, and the x scale: the period's days, at least `MIN_DAYS` of them (a
    single day's bar is a day wide, not the whole chart)."""

    alt = _alt()
    first, last = min(d["day"] for d in daily), max(d["day"] for d in daily)
    first = min(first, last - dt.timedelta(days=MIN_DAYS - 1))
    domain = [first.isoformat(), (last + dt.timedelta(days=1)).isoformat()]
    return [{**d, "day": d["day"].isoformat()} for d in daily], alt.Scale(domain=domain)


def _keys(daily: list[dict]) -> set:
    return {(d["day"], d["provider"]) for d in daily}


def timeline(daily: list[dict]) -> Any:
    """SVG: runs per day (UTC) by outcome, a row per provider; under them the seconds spent running and
    the rows landed per day, a line per provider."""
    alt = _alt()
    data, days = _days(daily)
    x = alt.X("day:T", title="day (UTC)", timeUnit="utcyearmonthdate", scale=days, axis=alt.Axis(format="%b %d"))
    outcome = alt.Color(
        "outcome:N",
        title="outcome",
        scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())),
    )
    most = max(sum(d["runs"] for d in daily if (d["day"], d["provider"]) == key) for key in _keys(daily))
    ticks = sorted({0, most // 2, most})  # whole runs only
    runs = (
        alt.Chart(alt.NamedData(DATA), width=WIDTH, height=50)
        .mark_bar()
        .encode(x=x, y=alt.Y("sum(runs):Q", title="runs", axis=alt.Axis(values=ticks, format="d")), color=outcome)
        .facet(row=alt.Row("provider:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .properties(title="runs per day, by outcome")
    )
    totals = [
        alt.Chart(alt.NamedData(DATA), width=WIDTH, height=130, title=title)
        .mark_line(point=len(_keys(daily)) <= POINTS_UP_TO * 4)
        .encode(x=x, y=alt.Y(f"sum({field}):Q", title=unit), color=alt.Color("provider:N", title="provider"))
        for field, title, unit in (
            ("seconds", "time spent running per day", "seconds"),
            ("rows", "rows landed per day", "rows"),
        )
    ]
    return svg(alt.vconcat(runs, *totals).resolve_scale(color="independent"), data)


def series(rows: list[dict], y_title: str, time_title: str, monthly: bool) -> Any:
    """SVG: a line per account and series over the periods; a hollow ring marks an incomplete period."""
    alt = _alt()
    data = [
        {
            "period": r["period"].isoformat(),
            "line": " / ".join(p for p in (r["account"], r["series"]) if p),
            "value": float(r["value"]),
            "period complete": "complete" if r["complete"] else "incomplete (running or not loaded)",
        }
        for r in rows
    ]
    many = len({d["line"] for d in data}) > MAX_LEGEND
    dots = alt.OverlayMarkDef(filled=True, size=40) if _longest(data, "line") <= POINTS_UP_TO else False
    lines = (
        alt.Chart(alt.NamedData(DATA), width=WIDTH, height=200)
        .mark_line(point=dots)
        .encode(
            x=alt.X(
                "period:T",
                title=time_title,
                timeUnit="utcyearmonthdate",
                axis=alt.Axis(format="%b %Y" if monthly else "%b %d", labelAngle=-40),
            ),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color("line:N", title="account / series", legend=None if many else alt.Legend()),
        )
    )
    rings = (
        alt.Chart(alt.NamedData(DATA))
        .transform_filter(alt.datum["period complete"] != "complete")
        .mark_point(size=90, shape="circle", filled=False, strokeWidth=2, color="#e08a00")
        .encode(
            x=alt.X("period:T", timeUnit="utcyearmonthdate"),
            y="value:Q",
            shape=alt.Shape("period complete:N", title=None),
        )
    )
    return svg(lines + rings, data)


def _longest(data: list[dict], line: str) -> int:
    """The most periods one line has."""

    return max(Counter(d[line] for d in data).values(), default=0)


def small_multiples(rows: list[dict], y_title: str) -> Any:
    """SVG: one small chart per metric (`key`), each with its own scale."""
    alt = _alt()
    data = [
        {
            "period": r["period"].isoformat(),
            "metric": r["key"],
            "account": r["account"] or "(no account)",
            "line": f"{r['key']} {r['account']}",
            "value": float(r["value"]),
        }
        for r in rows
    ]
    many = len({d["account"] for d in data}) > MAX_LEGEND
    dots = _longest(data, "line") <= POINTS_UP_TO
    chart = (
        alt.Chart(alt.NamedData(DATA), width=240, height=120)
        .mark_line(point=dots)
        .encode(
            x=alt.X("period:T", title="period start (UTC)", timeUnit="utcyearmonthdate"),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color("account:N", title="account", legend=None if many else alt.Legend()),
        )
        .facet(facet=alt.Facet("metric:N", title=None), columns=2)
        .resolve_scale(y="independent")
    )
    return svg(chart, data)
