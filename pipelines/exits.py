"""Exit codes shared by every command (docs/getting-started.md's table) and the usage error the commands raise."""

from typing import Sequence

OK = 0
MIXED_FAILURES = 1
USAGE_ERROR = 2  # bad arguments or configuration; also `transform` / `query` before anything is loaded or built
API_REFUSED = 3  # `ApiError` (sources/_common/errors.py: the source layer keeps its own numbers, equal to these)
AUTH_FAILED = 4  # `AuthError`
UNREACHABLE = 5  # `RetriesExhausted`, a warehouse that cannot be reached
LOCKED = 6  # `RunInProgress`: another run holds a lock (pipelines/locks/)
DBT_FAILED = 7  # `transform`: a seed, model or test failed, or dbt could not run; `query`: the warehouse refused
STALE = 8  # `transform` / `status --stale`: a provider's last load is older than its freshness threshold
DRIFT_FOUND = 9  # `verify`: the warehouse differs from the API (and was not repaired)


class UsageError(Exception):
    """A command line that cannot run as given: printed in one line, exit 2."""


def exit_code(codes: Sequence[int]) -> int:
    """0 when all succeeded, the one failure's code, or 1 for mixed failures."""
    failed = {c for c in codes if c}
    if not failed:
        return OK
    return failed.pop() if len(failed) == 1 else MIXED_FAILURES


MEANINGS = {
    OK: "ok",
    MIXED_FAILURES: "mixed or unexpected failure",
    USAGE_ERROR: "bad arguments or configuration",
    API_REFUSED: "the API refused a request",
    AUTH_FAILED: "authentication or permission",
    UNREACHABLE: "the API or the warehouse could not be reached",
    LOCKED: "another run holds the lock",
    DBT_FAILED: "dbt failed",
    STALE: "stale",
    DRIFT_FOUND: "drift found",
    130: "interrupted (Ctrl-C)",
    143: "stopped (SIGTERM)",
}


def meaning(code: int) -> str:
    """The docs' meaning of an exit code, in a few words (the history's `outcome`, alerts)."""
    return MEANINGS.get(code, f"exit {code}")
