"""What a run says when a provider is done: one closing line, or a JSON object (`run --json`).

    whop: ok - incremental 2026-01-01..2026-11-23, 21 windows, 49 requests (2 retried, 1 429), rows: \
wallet_time_series 969, metric_results 1464, wallet_groupings 3; 1 load, 2.4s
    statsig: ok - backfill 2025-01-01..2025-06-30 resumed from 2025-04-11, 81 windows, ...
"""

from typing import Any

from metricsync.evolution import describe


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def covered(result: Any) -> str:
    tally = result.tally
    if tally.first_day is None:
        return "definitions only" if result.rows else "nothing to load"
    if tally.resumed_from:  # the range of the whole backfill, and where this run took it up
        first = min(result.backfill[0], tally.first_day)
        return f"backfill {first}..{tally.last_day} resumed from {tally.resumed_from}"
    return f"{'backfill' if result.backfill else 'incremental'} {tally.first_day}..{tally.last_day}"


def closing_line(result: Any) -> str:
    """`<provider>: ok - <range>, <windows>, <requests>, rows: <per table>; <loads>, <seconds>`."""
    retried = [f"{result.retries} retried"] if result.retries else []
    if result.throttled:
        retried.append(f"{result.throttled} 429")
    requests = _plural(result.requests, "request") + (f" ({', '.join(retried)})" if retried else "")
    rows = ", ".join(f"{table} {count}" for table, count in sorted(result.rows.items())) or "none"
    parts = [covered(result)]
    if result.tally.windows_total:
        parts.append(_plural(result.tally.windows_total, "window"))
    parts.append(requests)
    parts.append(f"rows: {rows}; {_plural(result.loads, 'load')}, {result.seconds:.1f}s")
    learned = f" ({result.throttling})" if result.throttling else ""
    return f"{result.provider}: ok - " + ", ".join(parts) + learned + widened(result.tally) + evolved(result)


def evolved(result: Any) -> str:
    """`; schema: new column metrics.experimental_score (double)`: what the run added to the schema."""

    changes = getattr(result, "schema_changes", None) or []
    return "; schema: " + ", ".join(map(describe, changes)) if changes else ""


def widened(tally: Any) -> str:
    """`; --to 2025-06-15 widened to 2025-06-30 for monthly_gross, ...`: a backfill covers whole periods."""
    said = [f"{change} for {', '.join(dict.fromkeys(names))}" for change, names in tally.widenings.items()]
    return "; " + "; ".join(said) if said else ""


def as_json(result: Any) -> dict:
    """One provider's outcome for orchestrators (`run --json` prints a list of these)."""
    tally = result.tally
    day = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "step": "load",
        "provider": result.provider,
        "account": result.account,
        "ok": result.ok,
        "exit_code": result.exit_code,
        "message": result.message,
        "kind": "backfill" if result.backfill else "incremental",
        "from": day(tally.first_day),
        "to": day(tally.last_day),
        "resumed_from": day(tally.resumed_from),
        "widened": {change: sorted(set(names)) for change, names in tally.widenings.items()},
        "windows": tally.windows_total,
        "windows_done": tally.windows_done,
        "requests": result.requests,
        "throttling": result.throttling,
        "retries": result.retries,
        "throttled": result.throttled,
        "rows": dict(result.rows),
        "loads": result.loads,
        "seconds": round(result.seconds, 3),
        "schema_changes": list(getattr(result, "schema_changes", None) or []),
        "vanished": list(getattr(result, "vanished", None) or []),
    }


def transform_json(result: Any) -> dict:
    """`run --transform --json`: the transform's outcome, the list's last object (`result` None:
    not run, because a load failed or the run was interrupted)."""
    if result is None:
        return {
            "step": "transform",
            "ran": False,
            "ok": False,
            "exit_code": None,
            "message": "transform: not run - not every load succeeded",
            "nodes": 0,
            "warnings": [],
        }
    return {
        "step": "transform",
        "ran": True,
        "ok": result.ok,
        "exit_code": result.exit_code,
        "message": result.message,
        "nodes": result.nodes,
        "warnings": list(result.warnings),
    }
