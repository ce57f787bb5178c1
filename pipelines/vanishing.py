"""Vanishing data told: a run whose rows for a table fell below half of what the same command
line usually loads (the median of its last `RECENT` successful runs in the history, a table absent
counting as 0 rows: a window that held rows and came back empty) says so in its closing line,
records it (`vanished` in the history row) and alerts. It still stores what the API answered.

    whop: ok - incremental ...; 1 load, 1.2s; rows fell by more than half: wallet_time_series 0 (usually 40)
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
    return (row["command"] == "run" and row["exit_code"] == 0 and row["provider"] == provider
            and row["account"] == account and row["arguments"] == arguments)


def describe(found: list[dict]) -> str:
    """`; rows fell by more than half: metric_values 0 (usually 27)` (empty when nothing fell)."""
    said = [f"{f['table']} {f['rows']} (usually {f['usual']:g})" for f in found]
    return "; rows fell by more than half: " + ", ".join(said) if said else ""
