"""The dbt profile, generated at run time from the same dlt destination credentials the runner
uses (`destination.<name>.credentials`), so there is no second profile to maintain; a Postgres
password reaches dbt through an environment variable (`PASSWORD_ENV`), never a file."""

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dlt
from metricsync.providers import PROVIDERS
from metricsync.sources._common.errors import ConfigError
from metricsync.warehouse.destinations import dataset_name, make_destination

PROFILE = "metricsync"
PASSWORD_ENV = "METRICSYNC_DBT_PASSWORD"
TARGET_SCHEMA = "metrics"
ADAPTERS = ("duckdb", "postgres")  # destination types whose dbt adapter is installed (pyproject)


def datasets() -> dict:
    """The dataset (schema) of each provider, as the runner names it (`dataset_name`, `dataset_prefix`)."""
    return {provider: dataset_name(provider) for provider in PROVIDERS}


def warehouse(destination: str, workdir: str, label: str = "transform") -> tuple[str, Any]:
    """The destination's dbt adapter type and a dlt pipeline on it (its SQL client, its locks); a
    destination without an installed dbt adapter, or misconfigured, is refused in one line
    starting with `label` (the command)."""
    try:
        factory = make_destination(destination, TARGET_SCHEMA)
    except ConfigError as exc:  # named after the dataset it was asked for: the command's name is clearer here
        text = str(exc)
        raise ConfigError(
            f"{label}: {text[len(TARGET_SCHEMA) + 2 :]}" if text.startswith(f"{TARGET_SCHEMA}: ") else text
        ) from None
    kind = factory.destination_type.rsplit(".", 1)[-1]
    if kind not in ADAPTERS:
        raise ConfigError(
            f"transform: the {destination} warehouse ({kind}) has no dbt adapter here - transform runs "
            f"on {' and '.join(ADAPTERS)}; query the loaded tables directly or install that dbt adapter"
        )
    pipeline = dlt.pipeline(
        pipeline_name="metricsync_transform",
        destination=factory,
        dataset_name=TARGET_SCHEMA,
        pipelines_dir=os.path.join(workdir, "pipelines"),
    )
    return kind, pipeline


def credentials(pipeline: Any) -> Any:
    """The pipeline's resolved dlt destination credentials."""
    return pipeline.destination_client().config.credentials


def profile(destination: str, credentials: Any) -> dict:
    """profiles.yml content for the dlt credentials (the password as an env_var reference)."""
    if destination == "duckdb":
        output = {"type": "duckdb", "path": str(credentials.database), "schema": TARGET_SCHEMA, "threads": 4}
    else:
        output = {
            "type": "postgres",
            "host": credentials.host,
            "port": int(credentials.port or 5432),
            "user": credentials.username,
            "password": "{{ env_var('%s', '') }}" % PASSWORD_ENV,
            "dbname": credentials.database,
            "schema": TARGET_SCHEMA,
            "threads": 4,
        }
        query = dict(credentials.query or {})
        for key in ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout"):
            if query.get(key):
                output[key] = int(query[key]) if key == "connect_timeout" else query[key]
    return {PROFILE: {"target": destination, "outputs": {destination: output}}}


def write_profile(kind: str, credentials: Any, workdir: str) -> None:
    """`workdir/profiles.yml` for this process's dbt, the password in `PASSWORD_ENV` (`forget_password`)."""
    with open(os.path.join(workdir, "profiles.yml"), "w") as handle:
        json.dump(profile(kind, credentials), handle)  # JSON is YAML
    password = getattr(credentials, "password", None)
    if password:
        os.environ[PASSWORD_ENV] = str(password)


def forget_password() -> None:
    os.environ.pop(PASSWORD_ENV, None)


def write_prod_profile(destination: str, directory: str) -> tuple[Path, bool]:
    """DIR/profiles.yml for the destination, as `transform` generates it (a Postgres password as
    an `env_var` reference), for running `dbt parse` and `mf` by hand in transform/: the path,
    and whether the password must be set in `PASSWORD_ENV`."""
    workdir = tempfile.mkdtemp(prefix="metricsync-profile-")
    try:
        kind, pipeline = warehouse(destination, workdir, "query")
        resolved = credentials(pipeline)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    # target `prod`: the project names a production target's schemas as given (the published
    # `metrics`), any other target's with its schema as prefix (generate_schema_name)
    output = profile(kind, resolved)[PROFILE]["outputs"][kind]
    path = Path(directory, "profiles.yml")
    path.write_text(json.dumps({PROFILE: {"target": "prod", "outputs": {"prod": output}}}, indent=2) + "\n")
    return path, bool(getattr(resolved, "password", None))
