"""Run independent units of work (windows, dates, queries) on a bounded thread pool."""

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_concurrently(
    fn: Callable[[Item], Result], items: Iterable[Item], max_workers: int
) -> Iterator[tuple[Item, Result]]:
    """Yield (item, fn(item)) in completion order, with at most `2 * max_workers` units started
    and not yet consumed, so memory stays bounded however many items there are. The first
    failure cancels what has not started and is raised."""
    workers = max(1, int(max_workers))
    source = iter(items)
    if workers == 1:
        for item in source:
            yield item, fn(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metricsync")
    running: dict[Future, Item] = {}
    try:
        for item in source:
            running[pool.submit(fn, item)] = item
            if len(running) >= 2 * workers:
                break
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                result = future.result()
                next_item = next(source, _END)
                if next_item is not _END:
                    running[pool.submit(fn, next_item)] = next_item  # type: ignore[arg-type,assignment]  # _END is the only non-item
                yield item, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()
