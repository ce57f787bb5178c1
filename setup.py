"""Packaging: the repository's folders installed under one import name, `metricsync` (the folders keep
their names; pyproject.toml holds everything else). A user's environment gets no generic top-level name
such as `sources` or `pipelines`:

    pipelines/  -> metricsync            (the CLI, the runner, the warehouse layer)
    sources/    -> metricsync.sources    (one folder per provider)
    sandbox/    -> metricsync.sandbox    (the emulated APIs, for tests, the demo and `init`'s try-out)
    bench/      -> metricsync.bench      (`make bench`)
    transform/  -> metricsync.transform  (the dbt project and semantic models, as package data)

setup.py only because the mapping of several folders, each with its subpackages, cannot be written in
pyproject.toml's `packages.find` (one `where` for all).
"""

from pathlib import Path

from setuptools import find_packages, setup

FOLDERS = {
    "metricsync": "pipelines",
    "metricsync.sources": "sources",
    "metricsync.sandbox": "sandbox",
    "metricsync.bench": "bench",
}
DBT_PROJECT = "transform"
DBT_BUILD_OUTPUT = ("target", "logs", "dbt_packages")  # dbt's own output, never shipped


def _packages() -> list[str]:
    found = []
    for name, folder in FOLDERS.items():
        found += [name, *(f"{name}.{sub}" for sub in find_packages(folder))]
    return found


def _dbt_files() -> list[str]:
    root = Path(DBT_PROJECT)
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and p.relative_to(root).parts[0] not in DBT_BUILD_OUTPUT
        and p.name not in ("profiles.yml", "package-lock.yml")
        and "__pycache__" not in p.parts
    )


setup(
    packages=[*_packages(), "metricsync.transform"],
    package_dir={**FOLDERS, "metricsync.transform": DBT_PROJECT},
    package_data={"metricsync.transform": _dbt_files(), "metricsync.html_report": ["page.html.j2"]},
)
