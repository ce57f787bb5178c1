"""Vanishing data told: a run whose rows for a table fell below half of what the same command
line usually loads (the median of its last `RECENT` successful runs in the history, a table absent
counting as 0 rows), or one of whose windows held rows at its last answer and came back empty
(remembered per query in the load state, see progress.py), says so in its closing line, records
it (`vanished` in the history row) and alerts. It still stores what the API answered.

    whop: ok - incremental ...; 1 load, 1.2s; rows fell by more than half: wallet_time_series 0 (usually 40)
    whop: ok - ...; a window that held rows came back empty: wallet_time_series/daily 2026-12-01..2026-12-07 (held 12)
"""

import json
import statistics

RECENT = 5  # successful runs of the same command line compared with


def fell(rows: dict, earlier: list[dict]) -> list[dict]:
    """[{"table", "rows", "usual"}] for each table whose rows fell below half their usual count;
    `earlier`: the same command line's successful history rows, newest first."""
    counts = [json.loads(row["table_rows"] or "{}") for row in earlier[:RECENT]]
    found = []
    for table in sorted(set().union(*counts)) if counts else ():
        usual = statistics.median(count.get(table, 0) for count in counts)
        now = rows.get(table, 0)
        if usual > 0 and now * 2 < usual:
            found.append({"table": table, "rows": now, "usual": usual})
    return found


def same_command_line(row: dict, provider: str, account: object, arguments: str) -> bool:
    return (
        row["command"] == "run"
        and row["exit_code"] == 0
        and row["provider"] == provider
        and row["account"] == account
        and row["arguments"] == arguments
    )


def describe(found: list[dict]) -> str:
    """`; rows fell by more than half: metric_values 0 (usually 27)`, then `; a window that held
    rows came back empty: <table>/<query> <window> (held 12)` (empty when nothing vanished)."""
    fell = [f"{f['table']} {f['rows']} (usually {f['usual']:g})" for f in found if "window" not in f]
    emptied = [f"{f['table']}/{f['query']} {f['window']} (held {f['usual']:g})" for f in found if "window" in f]
    return "".join(f"; {what}: " + ", ".join(said) for what, said in zip(HEADLINES, (fell, emptied)) if said)


def headline(found: list[dict]) -> str:
    """What vanished, for an alert's title: `rows fell by more than half` and/or `a window ...`."""
    kinds = {"window" in f for f in found}
    return " and ".join(what for what, kind in zip(HEADLINES, (False, True)) if kind in kinds)


def item(found: dict) -> str:
    """One line of an alert's body."""
    if "window" in found:
        return f"{found['table']}/{found['query']} {found['window']}: 0 rows, held {found['usual']:g}"
    return f"{found['table']}: {found['rows']} rows, usually {found['usual']:g}"


HEADLINES = ("rows fell by more than half", "a window that held rows came back empty")
