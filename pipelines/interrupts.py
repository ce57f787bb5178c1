"""Ctrl-C and SIGTERM during `run`: the first stops the whole command within seconds (loads
already committed stay; the rest is resumed by the next run), the second exits at once.

    with handled():          # `run` installs it for its providers
        ...                  # a signal raises Interrupted(signum) in the main thread
    exit code 128 + signum:  130 for SIGINT, 143 for SIGTERM

dlt's own interception of these signals while it normalizes or loads is turned off for the block
(`RUNTIME__INTERCEPT_SIGNALS`): it forgets a signal whose load then ends normally, so the run would
go on. A load cut short stays pending in the pipeline folder and the next run loads it first.
"""

import os
import signal
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)
DLT_INTERCEPT = "RUNTIME__INTERCEPT_SIGNALS"
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by `signum`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, _frame: Any) -> None:
    if _received:  # the second one: at once
        sys.stderr.flush()
        os._exit(128 + signum)
    _received.append(signum)
    raise Interrupted(signum)


@contextmanager
def handled() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` in the main thread for the block."""
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    intercept = os.environ.get(DLT_INTERCEPT)
    os.environ[DLT_INTERCEPT] = "false"
    _received.clear()
    for s in SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if intercept is None:
            os.environ.pop(DLT_INTERCEPT, None)
        else:
            os.environ[DLT_INTERCEPT] = intercept


def received() -> Optional[int]:
    """The signal that interrupted this process's run, if any."""
    return _received[0] if _received else None


def signal_of(exc: Optional[BaseException]) -> Optional[int]:
    """The signal behind a failure (ours, dlt's `SignalReceivedException`, a bare Ctrl-C), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, Interrupted):
            return exc.signum
        if type(exc).__name__ == "SignalReceivedException":
            signum = int(getattr(exc, "signal_code", signal.SIGINT))
            _received.append(signum)
            return signum
        if isinstance(exc, KeyboardInterrupt):
            return signal.SIGINT
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    return None
