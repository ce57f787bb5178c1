"""The Dagster recipe as its docs show it: the accounts of docs/scaling-out.md, the shell lines of the definitions' docstring, a user's environment and the Dagster instance of a home folder."""

import os
import re
from contextlib import contextmanager
from pathlib import Path

from support import ROOT, Warehouse
from support.processes import user_env

DEFINITIONS = ROOT / "deploy/dagster/definitions.py"


def documented_accounts() -> list:
    """Whop's `accounts` of the "Many accounts" example in docs/scaling-out.md (the recipe's partitions)."""
    import tomllib

    text = (ROOT / "docs" / "scaling-out.md").read_text()
    section = text[text.index("## Many accounts") :]
    block = section[section.index("```toml") + len("```toml") : section.index("```", section.index("```toml") + 7)]
    return tomllib.loads(block)["sources"]["whop"]["accounts"]


ACCOUNTS = documented_accounts()


def documented_commands() -> list[str]:
    """The shell lines of the definitions' docstring (indented blocks; `\\` continues a line)."""
    text = DEFINITIONS.read_text()
    doc = text[3 : text.index('"""', 3)]
    joined = re.sub(r"\\\n\s*", "", doc)
    return [line.strip() for line in joined.splitlines() if line.startswith("    ") and line.strip()]


COMMANDS = documented_commands()


SETUP = "\n".join(c for c in COMMANDS if c.startswith(("mkdir", "cp ")))


def shell_env(home: Path, warehouse: Warehouse) -> dict:
    """A user's environment with HOME (so DAGSTER_HOME) and dlt's data dir in `home`, the venv on PATH."""
    return user_env(
        {
            **os.environ,
            "DLT_DATA_DIR": str(home / "dlt"),
            "METRICSYNC_REPORT_PATH": str(home / "report.html"),  # the report asset's file, not in the repository
            "DESTINATION__DUCKDB__CREDENTIALS": warehouse.credentials,
        },
        home,
    )


@contextmanager
def dagster_instance(home: Path):
    """The instance the documented lines use (DAGSTER_HOME `home`), read in this process."""
    import dagster

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dagster.DagsterInstance.get() as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous
