"""Runs a provider's accounts: in groups loaded together (batched.py: Whop, Stripe), or one
after another; `--parallel N` groups (or accounts) at once in separate processes on this machine.
A failing account does not stop the others; the summary line names it."""

import concurrent.futures as cf
import logging
import multiprocessing
import shlex
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Optional, Sequence

from metricsync.sources._common.errors import MetricSyncError

from .accounts import Account, configured_accounts, select_accounts
from .batched import BATCHED, groups, run_group
from .interrupts import received
from .logs import configure_logging
from .runner import ProviderResult, run_provider
from .warehouse.destinations import destination_name

logger = logging.getLogger("metricsync.fanout")


def _child_init(log_level: str) -> None:
    configure_logging(log_level)


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
        return _dispatch(provider, _run_group, jobs, [job["accounts"] for job in jobs], parallel, log_level)
    jobs = [{"provider": provider, "account": account, **where} for account in accounts]
    return _dispatch(provider, _run_one, jobs, [[account] for account in accounts], parallel, log_level)


def _dispatch(
    provider: str, work: Callable, jobs: list[dict], members: list[list[Account]], parallel: int, log_level: str
) -> list[ProviderResult]:
    """`work(job)` for each job (its accounts: `members`), one after another, or `parallel` at once
    in spawned processes (a fresh interpreter each: dlt's config and state are per process). A pool
    a worker died in (killed, out of memory) is broken: the jobs it was running fail, the jobs not
    started yet go on in a fresh pool."""
    results: list[ProviderResult] = []
    if parallel <= 1 or len(jobs) == 1:
        for job in jobs:
            results += work(job)
            if received():  # Ctrl-C / SIGTERM: the jobs not started are left for the re-run
                break
        return results
    waiting = deque(enumerate(zip(jobs, members)))
    done: dict[int, list[ProviderResult]] = {}
    while waiting and not received():
        _in_one_pool(provider, work, waiting, done, min(parallel, len(waiting)), log_level)
    return [result for index in sorted(done) for result in done[index]]


def _in_one_pool(provider: str, work: Callable, waiting: deque, done: dict, workers: int, log_level: str) -> None:
    """Jobs taken from `waiting` (`(index, (job, accounts))`), `workers` at a time (no more
    submitted than run, so that a broken pool fails only the jobs it was running), their results
    into `done[index]`, until none is left or the pool breaks."""
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_child_init, initargs=(log_level,)) as pool:
        running: dict[cf.Future, tuple[int, dict, list[Account]]] = {}
        broken = False
        while True:
            while waiting and len(running) < workers and not broken and not received():
                index, (job, accounts) = waiting.popleft()
                try:
                    running[pool.submit(work, job)] = (index, job, accounts)
                except BrokenProcessPool as exc:  # a worker died between two jobs
                    done[index], broken = _failed(provider, accounts, job, exc), True
            if not running:
                return
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                index, job, accounts = running.pop(future)
                try:
                    done[index] = future.result()
                except Exception as exc:  # the child process died: this job's accounts fail, the others go on
                    done[index] = _failed(provider, accounts, job, exc)
                    broken = broken or isinstance(exc, BrokenProcessPool)


def _failed(provider: str, accounts: list[Account], job: dict, exc: Exception) -> list[ProviderResult]:
    """A failure line per account of a job whose worker process failed, with the command to load it."""
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
