"""`make demo`: start the sandbox, load every provider into a DuckDB file, show what landed."""

import json
import os
import shutil
import sys
import tempfile

from .providers import PROVIDERS


def _show(path: str, datasets: list[str]) -> None:
    import duckdb

    out = sys.stdout
    with duckdb.connect(path, read_only=True) as conn:
        for dataset in datasets:
            tables = [r[0] for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_name not like '\\_dlt%' escape '\\' order by 1", [dataset]).fetchall()]
            for table in tables:
                count = conn.execute(f'select count(*) from "{dataset}"."{table}"').fetchone()[0]
                out.write(f"\n{dataset}.{table}: {count} rows\n")
                cursor = conn.execute(f'select * from "{dataset}"."{table}" limit 3')
                names = [d[0] for d in cursor.description if not d[0].startswith("_dlt")]
                index = [i for i, d in enumerate(cursor.description) if not d[0].startswith("_dlt")]
                out.write("  " + " | ".join(names)[:160] + "\n")
                for row in cursor.fetchall():
                    out.write("  " + " | ".join(str(row[i]) for i in index)[:160] + "\n")


def run_demo(duckdb_path: str) -> int:
    from sandbox import Sandbox

    from .runner import run_provider

    box = Sandbox(log_requests=False).start()
    pipelines_dir = tempfile.mkdtemp(prefix="metricsync-demo-")
    path = os.path.abspath(duckdb_path)
    for suffix in ("", ".wal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = path
    loaded, code = [], 0
    try:
        print(f"sandbox on {box.url}; loading into {path}", flush=True)
        for provider in PROVIDERS:
            settings = box.by_name[provider].demo_settings(box.url)
            if not settings:
                continue
            for key, value in settings.items():
                os.environ[f"SOURCES__{provider.upper()}__{key.upper()}"] = (
                    json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value))
            result = run_provider(provider, "duckdb", None, pipelines_dir)
            print(result.message, flush=True)
            if result.ok:
                loaded.append(provider)
            else:
                code = result.exit_code
    finally:
        box.stop()
        shutil.rmtree(pipelines_dir, ignore_errors=True)
    if loaded:
        _show(path, loaded)
    return code
