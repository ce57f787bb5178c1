"""Memory freed by a load's extract handed back to the operating system before the warehouse
load, the largest moment of a run (DuckDB reads and merges the load there): Arrow's pool and the C
library's heaps keep freed memory for reuse otherwise, so a long backfill's footprint would hold
every earlier peak."""

import ctypes
import functools
from typing import Any, Optional


@functools.cache
def _malloc_trim() -> Optional[Any]:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS): looked up in
    the symbols the process already has (`find_library` would run `ldconfig` on every run)."""
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def release_freed_memory() -> None:
    import pyarrow as pa  # noqa: PLC0415 - start-up time (imports pyarrow)

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
