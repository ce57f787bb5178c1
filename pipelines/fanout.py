"""Runs a provider's accounts: in groups loaded together (batched.py: Whop, Stripe), or one
after another; `--parallel N` groups (or accounts) at once in separate processes on this machine.
A failing account does not stop the others; the summary line names it."""

import concurrent.futures as cf
import logging
import multiprocessing
from typing import Any, Optional, Sequence

from metricsync.sources._common.errors import MetricSyncError

from .accounts import Account, configured_accounts, select_accounts
from .batched import BATCHED, groups, run_group
from .interrupts import received
from .logs import configure_logging
from .runner import ProviderResult, run_provider

logger = logging.getLogger("metricsync.fanout")


def _child_init(log_level: str) -> None:
    configure_logging(log_level)


def _run_one(job: dict) -> ProviderResult:
    return run_provider(**job)


def _run_group(job: dict) -> list[ProviderResult]:
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
        return _run_groups(provider, accounts, where, parallel, log_level)
    jobs = [
        {
            "provider": provider,
            "destination": destination,
            "backfill": backfill,
            "pipelines_dir": pipelines_dir,
            "windows_per_load": windows_per_load,
            "selection": selection,
            "account": account,
        }
        for account in accounts
    ]
    if parallel <= 1 or len(jobs) == 1:
        results = []
        for job in jobs:
            results.append(_run_one(job))
            if received():  # Ctrl-C / SIGTERM: the accounts not started are left for the re-run
                break
        return results
    # spawned processes: each account gets a fresh interpreter (dlt's config and state are per process)
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(
        min(parallel, len(jobs)), mp_context=context, initializer=_child_init, initargs=(log_level,)
    ) as pool:
        futures = [pool.submit(_run_one, job) for job in jobs]
        return [_outcome(provider, account, future) for account, future in zip(accounts, futures)]


def _run_groups(provider: str, accounts: list[Account], where: dict, parallel: int, log_level: str) -> list:
    """The accounts loaded together in groups (batched.py): one group after another, or
    `--parallel N` groups at once in separate processes."""
    jobs = [{"provider": provider, "accounts": group, **where} for group in groups(accounts)]
    results: list[ProviderResult] = []
    if parallel <= 1 or len(jobs) == 1:
        for job in jobs:
            results += _run_group(job)
            if received():  # Ctrl-C / SIGTERM: the groups not started are left for the re-run
                break
        return results
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(
        min(parallel, len(jobs)), mp_context=context, initializer=_child_init, initargs=(log_level,)
    ) as pool:
        futures = [pool.submit(_run_group, job) for job in jobs]
        for job, future in zip(jobs, futures):
            try:
                results += future.result()
            except Exception:  # the child process died (killed, out of memory): the other groups go on
                results += [_outcome(provider, account, future) for account in job["accounts"]]
    return results


def _outcome(provider: str, account: Account, future: cf.Future) -> ProviderResult:
    try:
        return future.result()
    except Exception as exc:  # the child process died (killed, out of memory): the others go on
        logger.debug("%s account %s: worker failed", provider, account.name, exc_info=True)
        return ProviderResult(
            provider,
            account=account.name,
            exit_code=1,
            message=f"{provider} (account {account.name}): the worker process failed "
            f"({type(exc).__name__}) - rerun this account with --accounts {account.name}",
        )


def summary(provider: str, results: list[ProviderResult]) -> str:
    """One line for a multi-account run, naming the accounts that failed."""
    failed = [r for r in results if not r.ok]
    done = len(results) - len(failed)
    line = f"{provider}: {done} of {len(results)} accounts loaded"
    if failed:
        line += " - failed: " + ", ".join(f"{r.account} (exit {r.exit_code})" for r in failed)
    return line
