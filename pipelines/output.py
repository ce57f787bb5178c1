"""`--json`: exactly one JSON document on stdout, whatever else the command does. While a command
runs with `--json`, everything written to stdout (a command's human lines, dbt's log, a library's
print) goes to stderr instead; only `document(...)` writes to the real stdout:

    with json_mode(args.json):
        ...                                    # print(...) lands on stderr
        document([{"provider": "whop", ...}])  # the one document, on stdout
"""

import json
import sys
from contextlib import contextmanager, redirect_stdout
from typing import Any, Iterator, Optional, TextIO

_stdout: list[TextIO] = []  # the real stdout while a --json command runs


@contextmanager
def json_mode(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    _stdout.append(sys.stdout)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _stdout.pop()


def real_stdout() -> TextIO:
    """Where the document goes: stdout as it was before `json_mode`."""
    return _stdout[-1] if _stdout else sys.stdout


def document(value: Any, out: Optional[TextIO] = None) -> None:
    """`value` as indented JSON on the real stdout (or `out`)."""
    stream = out or real_stdout()
    stream.write(json.dumps(value, indent=2, default=str) + "\n")
    stream.flush()
