"""One contender, run in its own process: `python -m metricsync.bench.child '<json spec>'` prints one JSON line
with wall seconds, CPU seconds (user + sys, all threads), rows, requests and the process's peak
RSS (`ru_maxrss`, its own and its children's, so a contender is measured alone and the sandbox's
memory is never counted).

Kinds: `metricsync` (the runner's backfill or nightly sync), `accounts` (a provider's accounts, as
`run --parallel N`), `floor` (the captured requests replayed with a bare httpx thread pool into DuckDB
via Arrow), `rest_api` (dlt's declarative source), `dlt_dicts` (the row-heavy pages through dlt as a
Python dict per row).
"""

import datetime as dt
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (all threads)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # KiB on Linux


def run_metricsync(spec: dict) -> dict:
    from metricsync.runner import run_provider

    backfill = tuple(dt.date.fromisoformat(d) for d in spec["backfill"]) if spec.get("backfill") else None
    totals = {"rows": 0, "loads": 0, "per_provider": {}}
    for provider in spec["providers"]:
        result = run_provider(provider, spec["destination"], backfill=backfill, pipelines_dir=spec["pipelines_dir"])
        if not result.ok:
            raise SystemExit(result.message)
        rows = sum(result.rows.values())
        totals["rows"] += rows
        totals["loads"] += result.loads
        totals["per_provider"][provider] = {"rows": rows, "seconds": round(result.seconds, 3)}
    return totals


def run_accounts(spec: dict) -> dict:
    """A provider's accounts (`sources.<provider>.accounts`), as `metricsync run <provider> --parallel N`."""
    from metricsync.fanout import run_accounts as fan_out

    results = fan_out(
        spec["provider"], spec["destination"], pipelines_dir=spec["pipelines_dir"], parallel=spec["parallel"]
    )
    failed = [r.message for r in results or [] if not r.ok]
    if not results or failed:
        raise SystemExit(failed[0] if failed else f"{spec['provider']}: no accounts configured")
    return {"rows": sum(sum(r.rows.values()) for r in results), "loads": sum(r.loads for r in results)}


def page_rows(body: Any) -> list:
    """The rows of one page: `data` as objects, or as arrays named by `columns` (Whop)."""
    if not isinstance(body, dict):
        return body if isinstance(body, list) else []
    data = body.get("data")
    if not isinstance(data, list):
        return []
    columns = body.get("columns")
    if data and isinstance(data[0], list) and isinstance(columns, list):
        return [dict(zip(columns, row)) for row in data]
    return [row for row in data if isinstance(row, dict)]


def flat(row: dict) -> dict:
    """Nested values as JSON text, as metricsync's JSON columns."""
    return {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}


def replay(spec: dict, shape) -> Any:
    """Send the captured requests with a bare httpx thread pool at the cap; yield (path,
    shape(body)) as pages arrive."""
    import httpx

    with open(spec["requests_file"]) as f:
        captured = json.load(f)
    client = httpx.Client(
        base_url=spec["base_url"], timeout=60, limits=httpx.Limits(max_connections=spec["concurrency"])
    )

    def fetch(item: dict) -> tuple:
        headers = {k: v for k, v in item["headers"].items() if k not in HOP_HEADERS}
        params = [(k, v) for k, values in item["query"].items() for v in values]
        response = client.request(
            item["method"],
            item["path"],
            params=params,
            headers=headers,
            content=item["body"].encode() if item["body"] else None,
        )
        response.raise_for_status()
        return item["path"], shape(response.json())

    with ThreadPoolExecutor(spec["concurrency"]) as pool:
        yield from pool.map(fetch, captured)


class ArrowSink:
    """Arrow tables into DuckDB, one table per endpoint, inserted in batches (memory stays flat)."""

    BATCH_ROWS = 200_000

    def __init__(self, path: str) -> None:
        import duckdb

        self.con = duckdb.connect(path)
        self.pending: dict = {}
        self.names: dict = {}
        self.created: set = set()
        self.loaded = 0

    def add(self, key: str, table) -> None:
        batch = self.pending.setdefault(key, [])
        batch.append(table)
        if sum(t.num_rows for t in batch) >= self.BATCH_ROWS:
            self.flush(key)

    def flush(self, key: str) -> None:
        import pyarrow as pa

        batch = [t for t in self.pending.pop(key, []) if t.num_rows]
        if not batch:
            return
        arrow_table = pa.concat_tables(batch, promote_options="permissive")  # noqa: F841 - read by DuckDB
        name = self.names.setdefault(key, f"t{len(self.names)}")
        if name not in self.created:
            self.con.execute(f"create table {name} as select * from arrow_table")
            self.created.add(name)
        else:
            existing = {r[0] for r in self.con.execute(f"describe {name}").fetchall()}
            for field in arrow_table.schema:
                if field.name not in existing:
                    self.con.execute(f'alter table {name} add column "{field.name}" varchar')
            self.con.execute(f"insert into {name} by name select * from arrow_table")
        self.loaded += arrow_table.num_rows

    def close(self) -> int:
        for key in list(self.pending):
            self.flush(key)
        self.con.close()
        return self.loaded


def run_floor(spec: dict) -> dict:
    """Parse + Arrow + insert: each page's rows to an Arrow table in the fetching thread, batches
    inserted into DuckDB."""
    import pyarrow as pa

    sink = ArrowSink(os.path.join(spec["workdir"], "floor.duckdb"))
    for path, table in replay(spec, lambda body: pa.Table.from_pylist([flat(r) for r in page_rows(body)])):
        sink.add(path, table)
    return {"rows": sink.close()}


def stripe_dicts(body: dict) -> list:
    """A Stripe page as metricsync's rows, one Python dict per row (the dict-per-row path)."""
    rows = []
    for item in body.get("data") or []:
        dimensions = item.get("dimensions") or {}
        for result in item.get("results") or []:
            rows.append(
                {
                    "query_name": "mrr_by_customer",
                    "timestamp": item["timestamp"],
                    "metric": result["metric"],
                    "name": result["name"],
                    "value": result["value"],
                    "currency": result["currency"],
                    "dimension_name": ",".join(dimensions),
                    "dimension_value": ",".join(dimensions.values()),
                    "interval": "day",
                    "livemode": body.get("livemode"),
                    "refreshed_at": body.get("refreshed_at"),
                }
            )
    return rows


def run_dlt_dicts(spec: dict) -> dict:
    """The same pages through dlt as a Python dict per row, loaded as parquet (dlt's default for
    dicts into DuckDB, INSERT statements, is slower still: minutes for 100k rows)."""
    import dlt

    @dlt.resource(name="metric_results", write_disposition="append")
    def pages():
        for _path, rows in replay(spec, stripe_dicts):
            yield rows

    pipeline = dlt.pipeline(
        pipeline_name="dicts",
        pipelines_dir=spec["pipelines_dir"],
        dataset_name="dicts",
        destination=dlt.destinations.duckdb(os.path.join(spec["workdir"], "dict_rows.duckdb")),
    )
    pipeline.run(pages(), loader_file_format="parquet")
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"rows": sum(v for k, v in counts.items() if not k.startswith("_dlt"))}


def statsig_rest_api(spec: dict):
    import dlt
    from dlt.sources.rest_api import rest_api_source

    first, last = (dt.date.fromisoformat(d) for d in spec["backfill"])

    @dlt.resource(selected=False)
    def dates():
        yield [{"date": (first + dt.timedelta(days=n)).isoformat()} for n in range((last - first).days + 1)]

    return rest_api_source(
        {
            "client": {
                "base_url": spec["base_url"],
                "auth": {
                    "type": "api_key",
                    "name": "STATSIG-API-KEY",
                    "api_key": spec["api_key"],
                    "location": "header",
                },
                "headers": {"STATSIG-API-VERSION": "20240601"},
            },
            "resources": [
                dates,
                {
                    "name": "metric_values",
                    "endpoint": {
                        "path": "console/v1/metrics/values",
                        "data_selector": "data",
                        "params": {"date": "{resources.dates.date}", "limit": 100},
                        "paginator": {"type": "json_link", "next_url_path": "pagination.nextPage"},
                    },
                    "include_from_parent": ["date"],
                },
            ],
        },
        name="statsig_rest",
    )


def whop_rest_api(spec: dict):
    from dlt.sources.rest_api import rest_api_source

    first, last = spec["backfill"]
    query = spec["query"]
    source = rest_api_source(
        {
            "client": {"base_url": spec["base_url"], "auth": {"type": "bearer", "token": spec["api_key"]}},
            "resources": [
                {
                    "name": "metric_rows",
                    "endpoint": {
                        "path": "stats/metric",
                        "data_selector": "$",
                        "params": {
                            "resource": query["resource"],
                            "granularity": query["granularity"],
                            "breakdowns[]": query["breakdowns"],
                            "from": first,
                            "to": last,
                        },
                        "paginator": {
                            "type": "cursor",
                            "cursor_path": "pagination.next_cursor",
                            "cursor_param": "cursor",
                        },
                    },
                }
            ],
        },
        name="whop_rest",
    )
    source.resources["metric_rows"].add_yield_map(page_rows)
    return source


def run_rest_api(spec: dict) -> dict:
    import dlt

    source = {"statsig": statsig_rest_api, "whop": whop_rest_api}[spec["flavour"]](spec)
    pipeline = dlt.pipeline(
        pipeline_name=f"rest_{spec['flavour']}",
        pipelines_dir=spec["pipelines_dir"],
        destination=dlt.destinations.duckdb(os.path.join(spec["workdir"], "rest_api_bench.duckdb")),
        dataset_name="rest",
    )
    pipeline.run(source)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"rows": sum(v for k, v in counts.items() if not k.startswith("_dlt"))}


def warm_imports() -> None:
    """Every contender imports the same libraries before its clock starts (and its RSS baseline
    is the same): the bench times the work, not Python's start-up."""
    import dlt  # noqa: F401
    import duckdb  # noqa: F401
    import httpx  # noqa: F401
    import metricsync.runner  # noqa: F401
    import pyarrow  # noqa: F401
    from dlt.sources.rest_api import rest_api_source  # noqa: F401


def main() -> None:
    spec = json.loads(sys.argv[1])
    warm_imports()
    kind = {
        "metricsync": run_metricsync,
        "accounts": run_accounts,
        "floor": run_floor,
        "rest_api": run_rest_api,
        "dlt_dicts": run_dlt_dicts,
    }[spec["kind"]]
    started, cpu, began = time.perf_counter(), cpu_seconds(), time.monotonic()
    outcome = kind(spec)
    outcome["seconds"] = time.perf_counter() - started
    outcome["began_at"], outcome["ended_at"] = began, time.monotonic()  # the server's clock (CLOCK_MONOTONIC)
    outcome["cpu_s"] = cpu_seconds() - cpu
    outcome["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write("BENCH-RESULT " + json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
