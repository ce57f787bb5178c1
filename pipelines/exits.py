"""Exit codes shared by every command (the README's table) and the usage error the commands raise."""

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
