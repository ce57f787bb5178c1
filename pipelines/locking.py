"""One run at a time per pipeline on this machine: an exclusive, non-blocking file lock."""

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

from sources._common.errors import MetricSyncError


class RunInProgress(MetricSyncError):
    exit_code = 6


@contextmanager
def pipeline_lock(provider: str, pipelines_dir: str) -> Iterator[None]:
    os.makedirs(pipelines_dir, exist_ok=True)
    path = os.path.join(pipelines_dir, f"{provider}.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(
                f"{provider}: another run of this pipeline is in progress (lock {path}) - wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
