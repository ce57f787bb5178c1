"""`metricsync init [DIR] [--providers ...] [--destination ...] [--with-dbt] [--force]`: start a
project, as `dlt init` does for its sources. Writes into DIR (default: here):

    .dlt/config.toml      the warehouse, then every setting of each chosen provider, commented with
                          its meaning, range and default (from the one declaration of settings)
    .dlt/secrets.toml     the API keys to fill in (git-ignored)
    .env.example          the same settings as environment variables (for cron and CI)
    .gitignore            secrets, .env, DuckDB files, dbt's artifacts
    crontab.example       a nightly run and a weekly verify, for this folder
    transform/            with --with-dbt: a copy of the dbt project, which `transform` (run in DIR)
                          builds instead of the packaged one

An existing file is never overwritten without `--force` (exit 2). Then it prints the next three
commands, e.g.

    metricsync init: wrote analytics/.dlt/config.toml, ... - put each provider's API key in
    analytics/.dlt/secrets.toml, then run:
      cd analytics
      metricsync check all
      metricsync run all
"""

import datetime as dt
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from metricsync.commands._options import add_command
from metricsync.exits import UsageError
from metricsync.providers import PROVIDERS

START_DAYS = 30  # a new project's start_date: this many days before today (UTC)
DBT_IGNORED = ("target", "logs", "dbt_packages", "package-lock.yml", "profiles.yml", "__pycache__")
GITIGNORE = [
    ".dlt/secrets.toml",
    ".env",
    "*.duckdb",
    "*.duckdb.wal",
    "*.duckdb.*.lock",
    "transform/target/",
    "transform/logs/",
    "transform/dbt_packages/",
    "transform/package-lock.yml",
    ".metricsync/",
]


def next_commands(folder: str) -> list[str]:
    """The three commands `init` tells the user to run next."""
    return [f"cd {shlex.quote(folder)}", "metricsync check all", "metricsync run all"]


def _files(args: Any) -> dict[str, str]:
    from metricsync.commands._project_files import (  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)
        config_toml,
        crontab,
        env_example,
        secrets_toml,
    )
    from metricsync.sources._common.load.windows import (  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)
        utc_today,
    )

    start = utc_today() - dt.timedelta(days=START_DAYS)
    folder = os.path.abspath(args.directory)
    return {
        ".dlt/config.toml": config_toml(args.providers, args.destination, start),
        ".dlt/secrets.toml": secrets_toml(args.providers, args.destination),
        ".env.example": env_example(args.providers, args.destination),
        ".gitignore": "\n".join(GITIGNORE) + "\n",
        "crontab.example": crontab(folder, shlex.quote(os.path.join(os.path.dirname(sys.executable), "metricsync"))),
    }


def _refuse_existing(folder: Path, names: list[str], force: bool) -> None:
    existing = [name for name in names if (folder / name).exists()]
    if existing and not force:
        raise UsageError(
            f"metricsync init: {folder / existing[0]} already exists - use --force to overwrite "
            f"{'it' if len(existing) == 1 else f'these {len(existing)} files'}, or another folder"
        )


def init_project(args: Any) -> list[str]:
    """Write the project; the paths written, relative to its folder."""
    from metricsync.dbt.project import packaged  # noqa: PLC0415 - start-up time: the CLI imports this module for --help; dlt and dbt load when the command runs

    folder = Path(args.directory)
    files = _files(args)
    _refuse_existing(folder, [*files, *(["transform"] if args.with_dbt else [])], args.force)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / ".dlt" / "secrets.toml").chmod(0o600)
    written = list(files)
    if args.with_dbt:
        shutil.copytree(
            packaged(), folder / "transform", ignore=shutil.ignore_patterns(*DBT_IGNORED), dirs_exist_ok=True
        )
        written.append("transform/")
    return written


def register(commands) -> None:
    init = add_command(
        commands,
        "init",
        "metricsync init analytics",
        "metricsync init analytics --providers whop statsig --destination postgres --with-dbt",
    )
    init.add_argument("directory", nargs="?", default=".", metavar="DIR", help="the project folder (default: here)")
    init.add_argument(
        "--providers",
        nargs="+",
        choices=list(PROVIDERS),
        default=list(PROVIDERS),
        metavar="P",
        help=f"the providers to configure: {', '.join(PROVIDERS)} (default: all)",
    )
    init.add_argument(
        "--with-dbt",
        action="store_true",
        help="also copy the dbt project to DIR/transform/, to own and extend (transform run in DIR builds it)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that exist")


def main(args: Any) -> int:
    args.providers = list(dict.fromkeys(args.providers))
    written = init_project(args)
    folder = args.directory
    print(
        f"metricsync init: wrote {', '.join(os.path.join(folder, name) for name in written)} - put each "
        f"provider's API key in {os.path.join(folder, '.dlt', 'secrets.toml')}, then run:"
    )
    for command in next_commands(folder):
        print(f"  {command}")
    return 0
