"""Many accounts of one provider loaded together: a group of accounts (at most `GROUP_SIZE`) is one
dlt pipeline with one extract, normalize and load per chunk, instead of a pipeline run per account.

The group's source has one resource per table (together.py) that yields every account's rows,
scoped by `account` as one account's run scopes them (`accounts.scope_to_account`), each account
with its own `RunControl` (its plan, its tally) and its resource state kept under
`<resource>__<account>`. Each account's state stays its own pipeline's, `<provider>__<account>__<destination>` in `_dlt_pipeline_state`, the rows a run of that
one account writes: read from there before the group's first chunk, written there in the same
write turn as each load, so `status`, `verify`, `reset --accounts` and a run of that account alone
read it unchanged, and a warehouse loaded one pipeline per account goes on where each account stood.

A failure of a chunk loads nothing of that chunk. When one account's resource raised it (its key
revoked, an answer refused: its exception names it, together.py), that account fails with its own line and the
group's other unfinished accounts load together again; any other failure (the warehouse, say) runs
them one by one (`run_provider`). Either way the failing account is named and the others land. The
states are written just after the load, in its write turn: a crash between the two loses that
chunk's progress, and the next run fetches its windows again (a window replaces its periods, so
the rows stay exact).
"""

import contextlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import dlt
import pendulum
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.schema.utils import normalize_table_identifiers, pipeline_state_table
from dlt.common.versioned_state import compress_state, decompress_state, generate_state_version_hash
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed
from metricsync.sources._common.config.shared import arguments_seen, source_again
from metricsync.sources._common.http.client import RequestStats, request_stats
from metricsync.warehouse.destinations import apply_loader_format, one_connection, pipeline_name
from metricsync.warehouse.merges import scope_merge_deletes

from .accounts import Account, refuse_tables_without_account, scope_to_account
from .interrupts import received, signal_of
from .locks import dataset_turn, pipeline_lock
from .memory import release_freed_memory
from .providers import source_factory
from .runner import (
    ProviderResult,
    Target,
    finish,
    prepare,
    record_failure,
    run_provider,
    schema_contract,
    start_control,
)
from .together import blamed, table_resource

logger = logging.getLogger("metricsync.batched")

GROUP_SIZE = 100  # accounts per group, whatever the count: a process's memory (a fetcher per account) is bounded by it
BATCHED = frozenset({"whop", "stripe_analytics"})  # providers whose accounts load in groups
STATE_TABLE = "_dlt_pipeline_state"
# a state row as dlt's load writes it, in its order (tests/codebase/test_dlt_internals.py checks it is dlt's)
STATE_COLUMNS = (
    "version",
    "engine_version",
    "pipeline_name",
    "state",
    "created_at",
    "version_hash",
    "_dlt_load_id",
    "_dlt_id",
)


@dataclass
class _Member:
    """One account of the group: its result, its run's control and its own pipeline's state."""

    account: Account
    result: ProviderResult
    control: Any
    name: str = ""  # its own pipeline's name, under which its state is kept
    state: dict = field(default_factory=dict)  # its pipeline state as stored (empty: none yet)
    pending: Optional[list] = None  # the resources with windows for another load (None: all selected)
    done: bool = False


def groups(accounts: list[Account]) -> list[list[Account]]:
    """The accounts in groups of `GROUP_SIZE` (the last one holds the rest): a process holds one
    group at a time, so its memory is the same at 100 accounts as at 1,000; `--parallel N` runs
    N groups at once."""
    return [accounts[i : i + GROUP_SIZE] for i in range(0, len(accounts), GROUP_SIZE)]


def run_group(
    provider: str,
    destination: str,
    accounts: list[Account],
    backfill: Optional[tuple] = None,
    pipelines_dir: Optional[str] = None,
    windows_per_load: Optional[int] = None,
    selection: Any = None,
) -> list[ProviderResult]:
    """Load `accounts` of `provider` together (results per account, in their order); when a chunk
    fails, the accounts not finished run one by one instead."""
    pipelines_dir = pipelines_dir or get_dlt_pipelines_dir()
    started = time.monotonic()
    members = [_member(provider, account, backfill, selection) for account in accounts]
    answers: dict = {}  # what every account asks alike (Whop's wallet schema), asked once a group
    for member in members:
        member.control.shared = answers
    try:
        _load_group(provider, destination, members, pipelines_dir, windows_per_load, selection)
    except (Exception, KeyboardInterrupt) as exc:  # the chunk in flight is lost; loads committed stay
        if signal_of(exc) or received():
            for member in members:
                record_failure(member.result, exc, destination)
        else:
            _recover(provider, destination, members, exc, (backfill, pipelines_dir, windows_per_load, selection))
    finally:
        for member in members:
            member.control.close(wait=not received())
    seconds = time.monotonic() - started
    for member in members:
        if member.result.seconds == 0:
            member.result.seconds = seconds
            finish(member.result, member.control.stats)
    return [member.result for member in members]


def _member(provider: str, account: Account, backfill: Optional[tuple], selection: Any) -> _Member:
    result = ProviderResult(provider, backfill=backfill, account=account.name)
    control = start_control(provider, result, selection, None)
    control.start_together = True
    control.state_suffix = f"__{account.name}"  # its resources' state, as batched.py reads and writes it
    control.stats = RequestStats(also=request_stats(provider))  # its own requests, counted for the provider too
    return _Member(account, result, control)


def _recover(provider: str, destination: str, members: list[_Member], exc: BaseException, where: tuple) -> None:
    """A chunk failed, so nothing of it loaded. When one account's resource raised it, that account
    fails with its own line and the group's other unfinished accounts load together again;
    otherwise (the warehouse, say) they run one by one, each as its own pipeline."""
    for member in members:
        member.control.close(wait=True)
    rest = [member for member in members if not member.done]
    culprit = _culprit(exc, rest)
    logger.debug("%s: a load of %d accounts together failed: %r", provider, len(rest), exc, exc_info=exc)
    if culprit is None:
        _fall_back(provider, destination, rest, exc, where)
        return
    record_failure(culprit.result, exc, destination)
    others = [member for member in rest if member is not culprit]
    if others:
        for member, result in zip(others, run_group(provider, destination, [m.account for m in others], *where)):
            member.result = result


def _culprit(exc: Optional[BaseException], members: list[_Member]) -> Optional[_Member]:
    """The account whose generator raised `exc` (it carries the name, together.py), or None."""
    seen: set = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = blamed(exc)
        found = [member for member in members if member.account.name == name]
        if found:
            return found[0]
        inner = getattr(exc, "exception", None) if isinstance(exc, PipelineStepFailed) else None
        exc = inner or exc.__cause__ or exc.__context__
    return None


def _fall_back(provider: str, destination: str, rest: list[_Member], exc: BaseException, where: tuple) -> None:
    """The accounts not finished run one by one, each as its own pipeline."""
    label = _fail_line(provider, destination, exc)
    logger.warning(
        "%s: a load of %d accounts together failed (%s); loading them one by one", provider, len(rest), label
    )
    backfill, pipelines_dir, windows_per_load, selection = where
    for member in rest:
        member.result = run_provider(
            provider, destination, backfill, pipelines_dir, windows_per_load, selection, account=member.account
        )
        if received():
            break


def _fail_line(provider: str, destination: str, exc: BaseException) -> str:
    probe = ProviderResult(provider)
    record_failure(probe, exc, destination)
    return probe.message.removeprefix(f"{provider}: ")


def _load_group(
    provider: str,
    destination: str,
    members: list[_Member],
    pipelines_dir: str,
    windows_per_load: Optional[int],
    selection: Any,
) -> None:
    """The group's pipeline (its own folder, thrown away after: the state that matters is each
    account's), the accounts' own locks on this machine, their states restored, then the chunks."""
    target = prepare(provider, destination, windows_per_load, members[0].control, None)
    for member in members:
        member.control.windows_per_load = members[0].control.windows_per_load
        member.name = pipeline_name(provider, target.factory.destination_name, member.account.name)
    os.makedirs(pipelines_dir, exist_ok=True)
    folder = tempfile.mkdtemp(prefix=f"{provider}-accounts-", dir=pipelines_dir)
    try:
        with contextlib.ExitStack() as held:
            for member in members:  # the lock a run of that account alone takes: never both at once
                held.enter_context(pipeline_lock(member.name, pipelines_dir, provider, target.wait, target.owner))
            pipeline = dlt.pipeline(
                pipeline_name=pipeline_name(provider, target.factory.destination_name, "accounts"),
                destination=target.factory,
                dataset_name=target.dataset,
                pipelines_dir=folder,
            )
            pipeline.config.restore_from_destination = False  # its own state is not stored: each account's is
            turn = lambda: dataset_turn(pipeline, provider, target.wait, target.owner)  # noqa: E731
            _restore(pipeline, target, turn, provider, destination, members)
            _chunks(pipeline, target, turn, provider, members, selection)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _restore(
    pipeline: Any, target: Target, turn: Callable, provider: str, destination: str, members: list[_Member]
) -> None:
    """In one write turn: accounts refused on a dataset loaded without them, the group pipeline's
    schema restored, and each account's stored state read into the group's state under its
    resources' names."""
    with turn(), one_connection(target.factory):
        with pipeline.sql_client() as client:
            refuse_tables_without_account(provider, target.dataset, client.execute_sql, destination)
            stored = _stored_states(client, [member.name for member in members])
        with pipeline.managed_state(extract_state=False) as state:  # the provider's stored schema is restored
            state.update(schema_names=[provider], default_schema_name=provider)
        pipeline.sync_destination()
    resources: dict = {}
    for member in members:
        member.state = stored.get(member.name) or {}
        own = member.state.get("sources", {}).get(provider, {}).get("resources", {})
        resources.update({f"{name}__{member.account.name}": value for name, value in own.items()})
    with pipeline.managed_state(extract_state=False) as state:
        state.setdefault("sources", {})[provider] = {"resources": resources}


def _stored_states(client: Any, names: list[str]) -> dict:
    """{pipeline name: its newest state committed by a finished load} for `names`."""
    if not names or not client.has_dataset():
        return {}
    state, loads = client.make_qualified_table_name(STATE_TABLE), client.make_qualified_table_name("_dlt_loads")
    exists = client.execute_sql(
        "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
        client.dataset_name,
        STATE_TABLE,
    )
    if not exists or not exists[0][0]:
        return {}
    rows = client.execute_sql(  # the newest row of each only: a year of nightlies holds hundreds each
        f"select s.pipeline_name, s.state from {state} s join (select t.pipeline_name, max(t._dlt_load_id) "
        f"as load_id from {state} t join {loads} l on l.load_id = t._dlt_load_id where l.status = 0 and "
        f"t.pipeline_name in ({', '.join(['%s'] * len(names))}) group by t.pipeline_name) newest "
        "on newest.pipeline_name = s.pipeline_name and newest.load_id = s._dlt_load_id order by s.version desc",
        *names,
    )
    found: dict = {}
    for name, text in rows or []:
        found.setdefault(str(name), text)
    return {name: decompress_state(text) for name, text in found.items()}


def _chunks(
    pipeline: Any, target: Target, turn: Callable, provider: str, members: list[_Member], selection: Any
) -> None:
    """One extract, normalize and load for the accounts with windows left, until none has."""
    contract = schema_contract(provider)
    selected = selection.resources if selection else None
    while True:
        loading = [member for member in members if not member.done]
        source = _group_source(provider, loading, selected, target)
        pipeline.extract(source, schema_contract=contract)
        pipeline.normalize()
        release_freed_memory()
        with turn(), one_connection(target.factory), contextlib.ExitStack() as quiet:
            for member in loading:
                quiet.enter_context(member.control.quiet())
            info = pipeline.load()
            _write_states(pipeline, provider, loading, info.loads_ids[-1] if info.loads_ids else None)
        _after_load(loading)
        if all(member.done for member in members):
            return


def _group_source(provider: str, loading: list[_Member], selected: Optional[list], target: Target) -> Any:
    """One dlt source holding a resource per table for every loading account (together.py), with
    the hints of an account's resource scoped to accounts and to the destination."""
    factory = source_factory(provider)
    parts: dict[str, list] = {}  # resource name -> [(account, its resource)], in the accounts' order
    templates: dict = {}  # resource name -> an account's resource with the hints every account's has
    first: Any = None
    resolved: dict = {}
    for member in loading:
        source = _account_source(factory, member, resolved)
        wanted = member.pending if member.pending is not None else selected
        if wanted is not None:  # selected in place: a source of its own (`with_resources` copies its schema)
            source.resources.select(*wanted)
        resources = list(source.selected_resources.values())
        if not all(resource.name in templates for resource in resources):
            _scope(source, member.account.name, target)
            templates.update({r.name: r for r in resources if r.name not in templates})
        first = first or source
        for resource in resources:
            parts.setdefault(resource.name, []).append((member.account.name, resource))
    schema = first.schema  # with dlt's state table, created by the load when the dataset has none yet
    schema.update_table(normalize_table_identifiers(pipeline_state_table(add_dlt_id=True), schema.naming))
    return DltSource(schema, first.section, [table_resource(templates[name], each) for name, each in parts.items()])


def _account_source(factory: Callable, member: _Member, resolved: dict) -> Any:
    """An account's source. Called through dlt's decorator, a source has its settings resolved (each
    looked up in every layout dlt knows) and a new schema made, a few milliseconds; the group does
    that for its first account of each set of account parameters (`resolved`, by their names) and
    calls the function again for the next accounts with what dlt resolved, only their own
    parameters and control changed (`source_again`)."""
    params = member.account.params
    key = frozenset(params)
    if key in resolved:
        first, arguments = resolved[key]
        return source_again(first, {**arguments, **params, "control": member.control})
    with arguments_seen() as seen:
        source = factory(control=member.control, **params)
    resolved[key] = (source, dict(seen))
    return source


def _scope(source: Any, account: str, target: Target) -> None:
    """An account's resources scoped to it and given the destination's file format and delete
    scope (`scope_to_account`, `apply_loader_format`, `scope_merge_deletes`): the same hints for
    every account, so the group's resource of a table takes them from one account's."""
    scope_to_account(source, account)
    scope_merge_deletes(apply_loader_format(source, target.factory), target.factory)


def _write_states(pipeline: Any, provider: str, loading: list[_Member], load_id: Optional[str]) -> None:
    """Each account's state, as its own pipeline's, committed with the group's load `load_id`
    (only those that changed)."""
    if load_id is None:
        return
    resources = pipeline.state.get("sources", {}).get(provider, {}).get("resources", {})
    template = {k: v for k, v in pipeline.state.items() if k not in ("_local", "sources")}
    rows = []
    for member in loading:
        suffix = f"__{member.account.name}"
        own = {name.removesuffix(suffix): value for name, value in resources.items() if name.endswith(suffix)}
        state = {**template, **{k: v for k, v in member.state.items() if k != "sources"}}
        state.update(
            pipeline_name=member.name, sources={**member.state.get("sources", {}), provider: {"resources": own}}
        )
        state["_version_hash"] = generate_state_version_hash(state)
        if state["_version_hash"] == member.state.get("_version_hash"):
            continue
        state["_state_version"] = int(member.state.get("_state_version") or 0) + 1
        member.state = state
        rows.append(
            (
                state["_state_version"],
                state["_state_engine_version"],
                member.name,
                compress_state(state),
                _created_at(pipeline),
                state["_version_hash"],
                load_id,
                uuid.uuid4().hex[:14],
            )
        )
    if rows:
        _insert_states(pipeline, rows)


def _created_at(pipeline: Any) -> Any:
    """Now, in UTC: with its zone, but naive where the column holds no zone (SQLAlchemy's MySQL and
    MariaDB refuse an offset)."""
    now = pendulum.now("UTC")
    return now.naive() if pipeline.destination.destination_type.endswith("sqlalchemy") else now


def _insert_states(pipeline: Any, rows: list[tuple]) -> None:
    with pipeline.sql_client() as client:
        names = ", ".join(client.escape_column_name(column) for column in STATE_COLUMNS)
        marks = "(" + ", ".join(["%s"] * len(STATE_COLUMNS)) + ")"
        client.execute_sql(
            f"insert into {client.make_qualified_table_name(STATE_TABLE)} ({names}) values "
            + ", ".join([marks] * len(rows)),
            *[value for row in rows for value in row],
        )


def _after_load(loading: list[_Member]) -> None:
    """Each account's load counted; the accounts whose plan holds more windows go on."""
    for member in loading:
        member.result.loads += 1
        control = member.control
        if control.pending:
            member.pending, control.pending = sorted(control.pending), set()
            control.loads += 1
        else:
            member.done = True
