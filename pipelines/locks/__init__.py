"""One writer per dataset, whatever runs: runs, accounts, hosts, orchestrator tasks and
`transform`s against one warehouse take these locks, named by what they cover (`scopes.py`):
`pipeline_lock` (a pipeline, on this machine), `warehouse_lock` (a pipeline's run, in the
warehouse), `dataset_turn` / `duckdb_file_turn` (one writer of a dataset at a time) and
`transform_lock` (one `transform` per mart). A holder is an `Owner`; a refusal is `RunInProgress`
(exit 6)."""

from metricsync.locks.kinds import Owner, RunInProgress
from metricsync.locks.scopes import (
    dataset_turn,
    duckdb_file_turn,
    pipeline_lock,
    transform_lock,
    warehouse_lock,
)

__all__ = [
    "Owner",
    "RunInProgress",
    "dataset_turn",
    "duckdb_file_turn",
    "pipeline_lock",
    "transform_lock",
    "warehouse_lock",
]
