"""Which dbt project runs, and where dbt writes what it ran."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2] / "transform"  # the dbt project metricsync ships


def project_dir() -> Path:
    """`transform/` in the working directory when it holds a dbt project (a project's own copy,
    `metricsync init --with-dbt`), else the one metricsync ships."""
    local = Path("transform").resolve()
    return local if (local / "dbt_project.yml").exists() else PROJECT_DIR


def run_results() -> str:
    """Where this run's `run_results.json` is, as dbt places it: in `DBT_TARGET_PATH` (relative to
    the project) when set, else in the project's `target/`; named from the repository's root when
    inside it (`transform/target/run_results.json`), else in full."""
    path = project_dir() / (os.environ.get("DBT_TARGET_PATH") or "target") / "run_results.json"
    try:
        return str(path.relative_to(project_dir().parent))
    except ValueError:
        return str(path)
