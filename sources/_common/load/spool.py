"""A window's pages kept on disk until its load takes them.

A backfill fetches several windows at once, and an API that pages by cursor (Stripe's
`metric_query`) gives each window one page chain: held in memory, the pages of every window in
flight would all be there when the warehouse load (a run's largest moment) begins, so a long
backfill would peak higher than a short one. Spooled, what a fetching thread holds is the page
at hand; the load reads a window back when it takes it.

The file is an unlinked temporary file (gone with the process, however it ends); each page is
one Arrow IPC stream in it, so pages keep their own schema (a column compact on one page and
plain on another; `arrow.concat` reconciles them as it reads).

>>> import pyarrow as pa
>>> spool = Spool()
>>> spool.add(pa.table({"a": [1, 2]})); spool.add(pa.table({"a": [3]}))
>>> spool.num_rows, spool.read().column("a").to_pylist()
(3, [1, 2, 3])
"""

import tempfile
from typing import IO, Iterable, Optional

import pyarrow as pa
from metricsync.sources._common.load.arrow import concat


class Spool:
    """Pages in the order they were added: `num_rows` and `nbytes` (their Arrow size) as they
    were added; `read()` returns them as one table and frees the file."""

    def __init__(self) -> None:
        self._file: Optional[IO[bytes]] = None
        self._parts: list = []  # (file, size) of each page's stream, in order
        self.num_rows = self.nbytes = 0

    def add(self, page: pa.Table) -> None:
        if not page.num_rows:  # an empty page has no columns
            return
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, page.schema) as writer:
            writer.write_table(page)
        data = sink.getvalue()
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="metricsync-window-")
        self._file.write(data)
        self._parts.append((self._file, data.size))
        self.num_rows += page.num_rows
        self.nbytes += page.nbytes

    @classmethod
    def join(cls, spools: Iterable["Spool"]) -> "Spool":
        """The pages of `spools`, in order (a window fetched as halves)."""
        joined = cls()
        for spool in spools:
            joined._parts.extend(spool._parts)
            joined.num_rows += spool.num_rows
            joined.nbytes += spool.nbytes
        return joined

    def read(self) -> pa.Table:
        pages, opened = [], []  # a joined spool reads each half's file from its start
        for file, size in self._parts:
            if file not in opened:
                file.seek(0)
                opened.append(file)
            pages.append(pa.ipc.open_stream(file.read(size)).read_all())
        for file in opened:
            file.close()
        self._parts = []
        return concat(pages)
