"""TOML config files in a test's folder, and forgetting them (dlt caches the providers it read; conftest's
`forget_toml_files` reloads them after every test)."""

from pathlib import Path


def reload_config() -> None:
    """dlt reads the TOML files once per process: make it read them again."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    Container()[PluggableRunContext].reload_providers()


def write_toml(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    reload_config()
