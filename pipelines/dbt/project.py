"""Which dbt project `transform` and `query` run, and where dbt writes.

The project metricsync ships is package data, `metricsync.transform`, found with `importlib.resources`
wherever metricsync is installed. A project's own copy, `transform/` in the working directory with a
`dbt_project.yml` (what `metricsync init --with-dbt` writes), wins when present.

dbt writes its artifacts (`target/`) and logs (`logs/`) beside the project's own copy, as dbt does;
for the packaged project, in `.metricsync/dbt/` in the working directory, never into the installed
package (read-only or shared in site-packages). `DBT_TARGET_PATH` / `DBT_LOG_PATH` move them:
absolute, or relative to that folder (the own copy, or `.metricsync/dbt/`).
"""

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

OWN_COPY = "transform"  # in the working directory
WORK_FOLDER = Path(".metricsync", "dbt")  # in the working directory: the packaged project's target/ and logs/


@dataclass(frozen=True)
class DbtProject:
    path: Path
    own: bool  # the project's own copy (./transform), not the packaged one

    @property
    def home(self) -> Path:
        """The folder dbt's relative target and log paths start from."""
        return self.path if self.own else WORK_FOLDER.resolve()

    @property
    def target(self) -> Path:
        return self.home / (os.environ.get("DBT_TARGET_PATH") or "target")  # an absolute value replaces home

    @property
    def logs(self) -> Path:
        return self.home / (os.environ.get("DBT_LOG_PATH") or "logs")

    def describe(self) -> str:
        """e.g. `dbt project transform (this project's own copy), artifacts in transform/target`."""
        which = "this project's own copy" if self.own else "packaged with metricsync"
        return f"dbt project {shown(self.path)} ({which}), artifacts in {shown(self.target)}"


def packaged() -> Path:
    """The dbt project installed with metricsync (a folder: wheels install unzipped)."""
    return Path(str(importlib.resources.files("metricsync.transform")))


def dbt_project() -> DbtProject:
    """The project's own copy when the working directory has one, else the packaged project."""
    local = Path(OWN_COPY).resolve()
    if (local / "dbt_project.yml").is_file():
        return DbtProject(local, own=True)
    return DbtProject(packaged(), own=False)


def shown(path: Path) -> str:
    """A path relative to the working directory when inside it, else in full."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_results() -> str:
    """Where this run's `run_results.json` is (`dbt_project()` places dbt's target): in full when
    `DBT_TARGET_PATH` is absolute, else named from the working directory when inside it
    (`transform/target/run_results.json`, `.metricsync/dbt/target/run_results.json`)."""
    path = dbt_project().target / "run_results.json"
    return str(path) if os.path.isabs(os.environ.get("DBT_TARGET_PATH") or "") else shown(path)
