"""Runs a provider's accounts: in groups loaded together (batched.py: Whop, Stripe), or one
after another; `--parallel N` groups (or accounts) at once, in this process and N-1 spawned ones
on this machine (groups: at most one process per core).
A failing account does not stop the others; the summary line names it."""

import concurrent.futures as cf
import logging
import multiprocessing
import os
import shlex
import threading
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Optional, Sequence

from metricsync.sources._common.errors import MetricSyncError
from metricsync.sources._common.http import limits

from .accounts import Account, configured_accounts, select_accounts
from .batched import BATCHED, groups, run_group
from .interrupts import received
from .logs import configure_logging
from .runner import ProviderResult, run_provider
from .warehouse.destinations import destination_name

logger = logging.getLogger("metricsync.fanout")


def _child_init(log_level: str, processes: int) -> None:
    configure_logging(log_level)
    limits.share_among(processes)  # the processes together keep to each provider's max_concurrency


def _run_one(job: dict) -> list[ProviderResult]:
    """One account, its own pipeline run."""
    return [run_provider(**job)]


def _run_group(job: dict) -> list[ProviderResult]:
    """A group of accounts loaded together (batched.py)."""
    return run_group(**job)


def run_accounts(
    provider: str,
    destination: str,
    backfill: Optional[tuple] = None,
    pipelines_dir: Optional[str] = None,
    windows_per_load: Optional[int] = None,
    names: Optional[Sequence[str]] = None,
    parallel: int = 1,
    log_level: str = "WARNING",
    selection: Any = None,
) -> Optional[list[ProviderResult]]:
    """Results per account, or None when `provider` has no accounts configured (then the caller
    runs it as one pipeline)."""
    try:
        accounts = select_accounts(provider, configured_accounts(provider), names)
    except MetricSyncError as exc:
        return [ProviderResult(provider, exit_code=exc.exit_code, message=str(exc))]
    if not accounts:
        return None
    where: dict[str, Any] = {"destination": destination, "backfill": backfill, "pipelines_dir": pipelines_dir}
    where.update(windows_per_load=windows_per_load, selection=selection)
    if provider in BATCHED:
        jobs = [{"provider": provider, "accounts": group, **where} for group in groups(accounts)]
        processes = min(parallel, cores())
        return _dispatch(provider, _run_group, jobs, [job["accounts"] for job in jobs], processes, log_level)
    jobs = [{"provider": provider, "account": account, **where} for account in accounts]
    return _dispatch(provider, _run_one, jobs, [[account] for account in accounts], parallel, log_level)


def cores() -> int:
    """The CPU cores this process may run on. Groups of accounts run in at most that many processes
    whatever `--parallel` asks: a group fetches its accounts' windows on threads of its own, so a
    process more than the cores adds only its start-up (about a second of CPU: dlt, Arrow, DuckDB
    imported again) and its share of the same cores."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _dispatch(
    provider: str, work: Callable, jobs: list[dict], members: list[list[Account]], parallel: int, log_level: str
) -> list[ProviderResult]:
    """`work(job)` for each job (its accounts: `members`), one after another, or `parallel` at once:
    this process and `parallel - 1` spawned ones (a fresh interpreter each: dlt's config and state
    are per process), each taking the next job when it is free."""
    results: list[ProviderResult] = []
    if parallel <= 1 or len(jobs) == 1:
        for job in jobs:
            results += work(job)
            if received():  # Ctrl-C / SIGTERM: the jobs not started are left for the re-run
                break
        return results
    processes = min(parallel, len(jobs))
    queue = _Jobs(len(jobs))
    here: dict[int, list[ProviderResult]] = {}  # job index -> results of the jobs run in this process
    futures: dict[int, cf.Future] = {}  # job index -> a spawned process's
    limits.share_among(processes)
    try:
        feeder = threading.Thread(target=_feed, args=(processes - 1, work, jobs, queue, futures, log_level))
        feeder.start()
        try:
            while (index := queue.take()) is not None:
                here[index] = work(jobs[index])
        finally:
            queue.stop()
            feeder.join()
    finally:
        limits.share_among(1)
    for index, (job, accounts) in enumerate(zip(jobs, members)):
        if index in here:
            results += here[index]
        elif index in futures:
            results += _outcomes(provider, accounts, job, futures[index])
    return results


class _Jobs:
    """The index of the next job not started, for this process and the pool's feeder (None once
    all are, or after an interrupt: the jobs not started are left for the re-run)."""

    def __init__(self, count: int) -> None:
        self.count, self.next, self.stopped = count, 0, False
        self.lock = threading.Lock()

    def take(self) -> Optional[int]:
        with self.lock:
            if self.stopped or received() or self.next >= self.count:
                return None
            self.next += 1
            return self.next - 1

    def stop(self) -> None:
        with self.lock:
            self.stopped = True


def _feed(workers: int, work: Callable, jobs: list[dict], queue: _Jobs, futures: dict, log_level: str) -> None:
    """Keeps `workers` spawned processes on a job each until none is left. A pool a worker died in
    (killed, out of memory) is broken: the jobs it was running fail, and the jobs not started yet go
    on in a fresh pool (one submitted while the pool reads the last results before it sees the dead
    worker fails with it: its line names the command that loads it)."""
    context = multiprocessing.get_context("spawn")
    broken = True
    while broken:
        with cf.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_child_init, initargs=(log_level, workers + 1)
        ) as pool:
            broken = _feed_pool(pool, workers, work, jobs, queue, futures)


def _feed_pool(pool: cf.Executor, workers: int, work: Callable, jobs: list[dict], queue: _Jobs, futures: dict) -> bool:
    """Submits no more jobs than the pool has workers (so that a broken pool fails only the jobs it
    was running); True when the pool broke with jobs maybe left."""
    running: set = set()
    broken = False
    while True:
        while not broken and len(running) < workers and (index := queue.take()) is not None:
            try:
                futures[index] = pool.submit(work, jobs[index])
            except BrokenProcessPool as exc:  # a worker died between two jobs
                futures[index] = cf.Future()
                futures[index].set_exception(exc)
                broken = True
            else:
                running.add(futures[index])
        if not running:
            return broken
        done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        broken = broken or any(isinstance(future.exception(), BrokenProcessPool) for future in done)


def _outcomes(provider: str, accounts: list[Account], job: dict, future: cf.Future) -> list[ProviderResult]:
    try:
        return future.result()
    except Exception as exc:  # the child process died (killed, out of memory): the other jobs go on
        logger.debug("%s accounts %s: worker failed", provider, [a.name for a in accounts], exc_info=exc)
        return [
            ProviderResult(
                provider,
                account=account.name,
                exit_code=1,
                message=f"{provider} (account {account.name}): the worker process failed ({type(exc).__name__}) - "
                f"run `{_rerun_command(provider, account.name, job)}` to load it",
            )
            for account in accounts
        ]


def _rerun_command(provider: str, account: str, job: dict) -> str:
    """The `metricsync run` of one account with what the failed run was asked (dates, selection,
    loads, destination and pipelines folder when not the defaults)."""
    parts = ["metricsync", "run", provider, "--accounts", account]
    if job["backfill"]:
        parts += ["--from", job["backfill"][0].isoformat(), "--to", job["backfill"][1].isoformat()]
    selection = job["selection"]
    if selection is not None and selection.resources is not None:
        parts += ["--resources", *selection.resources]
    if selection is not None and selection.queries:
        parts += ["--queries", *sorted(selection.queries)]
    if job["windows_per_load"]:
        parts += ["--windows-per-load", str(job["windows_per_load"])]
    if job["destination"] != destination_name(None):
        parts += ["--destination", job["destination"]]
    if job["pipelines_dir"]:
        parts += ["--pipelines-dir", job["pipelines_dir"]]
    return shlex.join(parts)


def summary(provider: str, results: list[ProviderResult]) -> str:
    """One line for a multi-account run, naming the accounts that failed."""
    failed = [r for r in results if not r.ok]
    done = len(results) - len(failed)
    line = f"{provider}: {done} of {len(results)} accounts loaded"
    if failed:
        line += " - failed: " + ", ".join(f"{r.account} (exit {r.exit_code})" for r in failed)
    return line
