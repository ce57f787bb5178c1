"""Exit codes shared by every command (docs/getting-started.md's table) and the usage error the commands raise."""

from typing import Sequence

OK = 0
MIXED_FAILURES = 1
USAGE_ERROR = 2
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
    0: "ok",
    1: "mixed or unexpected failure",
    2: "bad arguments or configuration",
    3: "the API refused a request",
    4: "authentication or permission",
    5: "the API or the warehouse could not be reached",
    6: "another run holds the lock",
    7: "dbt failed",
    8: "stale",
    9: "drift found",
    130: "interrupted (Ctrl-C)",
    143: "stopped (SIGTERM)",
}


def meaning(code: int) -> str:
    """The docs' meaning of an exit code, in a few words (the history's `outcome`, alerts)."""
    return MEANINGS.get(code, f"exit {code}")
