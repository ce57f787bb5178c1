"""One `verify` of one provider's pipeline (one account's, with accounts): plan the windows of
what its loads covered, compare the API's answer with the stored rows and the definition tables
with the API's lists, and with `--repair` reload what drifted through the runner (same lock,
delete-insert and state rules as `run`), then check it again; with `--fill-gaps`, load the
ranges never loaded.

    job = Verification("whop", "duckdb", None, Selection(), Scope(sample=20, seed=1))
    job.prepare()          # windows to fetch (no request yet); job.gaps: ranges never loaded
    job.check()            # list of QueryDrift / DefinitionDrift; job.clean
    job.repair()           # reload + re-check; job.clean again
    job.fill_gaps()        # load job.gaps
"""

import datetime as dt
import logging
from typing import Any, Optional

from dlt.common.schema import Schema
from metricsync.accounts import Account
from metricsync.catalog import DEFINITIONS, WINDOWED, Selection
from metricsync.runner import run_provider
from metricsync.sources._common.http.client import request_stats
from metricsync.verification import api, definitions
from metricsync.verification.choose import Scope, cap, choose
from metricsync.verification.compare import QueryDrift
from metricsync.verification.loaded import Loaded, from_state
from metricsync.verification.stored import StoredRows, record
from metricsync.warehouse.reads import Warehouse

logger = logging.getLogger("metricsync.verify")


class Verification:
    def __init__(
        self,
        provider: str,
        destination: str,
        account: Optional[Account],
        selection: Selection,
        scope: Scope,
        pipelines_dir: Optional[str] = None,
    ) -> None:
        self.provider, self.destination, self.account = provider, destination, account
        self.selection, self.scope, self.pipelines_dir = selection, scope, pipelines_dir
        self.windows: dict = {}  # (resource, query) -> windows to check
        self.tables: list[str] = []  # definition tables to check
        self.keys: dict = {}  # resource -> api.TableKeys
        self.loaded: dict = {}  # (resource, query) -> Loaded
        self.gaps: dict = {}  # (resource, query) -> [(first, last)] never loaded, between loaded ones
        self.stored = True  # False: the provider's dataset does not exist (nothing loaded yet)
        self.state: Optional[dict] = None  # the stored pipeline state (what loads learnt and covered)
        self.candidates = 0  # windows chosen before --max-requests
        self.drifts: list = []
        self.found: list = []  # what the first check found (kept through a repair)
        self.requests = 0
        self.repair_loads = 0
        self.fill_loads = 0

    @property
    def label(self) -> str:
        return f"{self.provider} (account {self.account.name})" if self.account else self.provider

    @property
    def account_name(self) -> Optional[str]:
        return self.account.name if self.account else None

    @property
    def planned(self) -> int:
        return sum(len(w) for w in self.windows.values())

    @property
    def clean(self) -> bool:
        return all(d.clean for d in self.drifts)

    def _warehouse(self) -> Any:
        return Warehouse(self.destination, self.provider)

    def prepare(self) -> int:
        """Pick the windows and definition tables to check (no API request); returns how many windows."""
        chosen = self.selection.resources
        resources = [r for r in (chosen or WINDOWED[self.provider]) if r in WINDOWED[self.provider]]
        with self._warehouse() as warehouse:
            self.stored = warehouse.has_dataset()
            if not self.stored:
                return 0
            self.state = (
                warehouse.state(warehouse.pipeline_name(self.account_name)) if self.account else warehouse.state()
            )
            if not self.scope.ranged:  # definitions have no dates
                self.tables = [t for t in (chosen or DEFINITIONS[self.provider]) if t in DEFINITIONS[self.provider]]
        if not resources:
            return 0
        planner = api.Planner(self.provider, self.account, resources, self.selection.queries, self.state)
        self.keys = planner.keys
        with self._warehouse() as warehouse:
            self.loaded = self._loaded(StoredRows(warehouse, self.account_name))
        # each query planned from its own first loaded day, as its loads were
        plans = planner.plan(
            {key: max(loaded.first, self.scope.date_from or loaded.first) for key, loaded in self.loaded.items()}
        )
        gaps = {
            key: self.loaded[key].gaps(windows, self.scope.date_from, self.scope.date_to)
            for key, windows in plans.items()
        }
        self.gaps = {key: found for key, found in gaps.items() if found}
        picked = choose(plans, self.loaded, self.scope, f"{self.provider}|{self.account_name}")
        self.candidates = sum(len(w) for w in picked.values())
        self.windows = cap(picked, self.scope.max_requests)
        logger.info("%s: %d windows of %d queries to verify", self.label, self.planned, len(self.windows))
        return self.planned

    def _loaded(self, stored: StoredRows) -> dict:
        """(resource, query) -> what its loads covered (state) and where rows are stored."""
        covered = {(r, q): days for r in self.keys for q, days in from_state(self.state, self.provider, r).items()}
        periods = {(r, q): found for r in self.keys for q, found in stored.periods(r, self.keys[r]).items()}
        selected = self.selection.queries
        return {
            key: Loaded(covered.get(key, []), periods.get(key, set()))
            for key in sorted({*covered, *periods})
            if selected is None or key[1] in selected
        }

    def check(self, windows: Optional[dict] = None, tables: Optional[list] = None, repaired: bool = False) -> list:
        """Fetch `windows` and `tables` (default: the prepared ones) and compare them with the
        stored rows; the result is recorded for `status`."""
        windows = self.windows if windows is None else windows
        tables = self.tables if tables is None else tables
        drifts: dict = {key: QueryDrift(self.provider, self.account_name, *key) for key in windows}
        stats = request_stats(self.provider)
        stats.reset()
        with self._warehouse() as warehouse:
            stored = StoredRows(warehouse, self.account_name)
            answers = api.answers(self.provider, self.account, windows, self.state) if windows else ()
            for resource, query, window, rows in answers:
                keys = self.keys[resource]  # compared window by window, as the answers come
                drifts[(resource, query)].add_window(
                    window,
                    rows,
                    stored.rows(resource, keys, query, window),
                    keys.key,
                    keys.period,
                    self.loaded[(resource, query)].day,
                )
            for key, drift in drifts.items():
                drift.windows = list(windows[key])  # as planned (adjacent ones may have come back as one)
            found = sorted(drifts.values(), key=lambda d: (d.resource, d.query)) + self._definitions(warehouse, tables)
            self.requests += stats.requests
            self.drifts = found
            if not repaired:
                self.found = found
            record(warehouse, found, repaired=repaired, when=_now())
        return found

    def _definitions(self, warehouse: Any, tables: list) -> list:
        rows = definitions.api_rows(self.provider, self.account, tables) if tables else {}
        stored_schema = warehouse.schema() if tables else None
        schema = Schema.from_dict(stored_schema) if stored_schema else None
        found = []
        for table in tables:
            drift = definitions.DefinitionDrift(self.provider, self.account_name, table)
            drift.compare(
                [definitions.shaped(schema, table, row) for row in rows[table]],
                definitions.stored_rows(warehouse, table, self.account_name),
            )
            found.append(drift)
        return found

    def repair(self) -> list:
        """Reload every drifted window through the runner, as backfills of the drifted queries over
        their drifted periods (adjacent windows joined; queries drifted over the same days share
        one backfill), and the drifted definition tables as a run of those tables; then check
        them again. Returns the runner's results; stops at the first failed load."""
        drifted = {
            (d.resource, d.query): d.drifted_windows for d in self.drifts if isinstance(d, QueryDrift) and not d.clean
        }
        tables = [d for d in self.drifts if isinstance(d, definitions.DefinitionDrift) and not d.clean]
        results = self._reload(_by_range({key: _ranges(entries) for key, entries in drifted.items()}))
        if tables and all(r.ok for r in results):
            results.append(self._reload_definitions(tables))
        self.repair_loads += sum(r.loads for r in results)
        if all(r.ok for r in results):
            self.check(
                {key: [window for window, _first, _last in entries] for key, entries in drifted.items()},
                [d.resource for d in tables],
                repaired=True,
            )
        return results

    def _reload_definitions(self, drifts: list) -> Any:
        """Close the current rows edited in place or duplicated, then load the tables' snapshots."""
        with self._warehouse() as warehouse:
            for drift in drifts:
                definitions.retire(warehouse, drift.resource, self.account_name, drift.retire, _now())
        return self._run(None, Selection([drift.resource for drift in drifts]))

    def fill_gaps(self) -> list:
        """Load the ranges never loaded (`gaps`), as backfills of their queries. Returns the
        runner's results; stops at the first failed load."""
        results = self._reload(_by_range(self.gaps))
        self.fill_loads += sum(r.loads for r in results)
        return results

    def _reload(self, by_range: dict) -> list:
        results: list = []
        for days, pairs in sorted(by_range.items()):
            resources = sorted({resource for resource, _query in pairs})
            queries = {query for resource, query in pairs if self.keys[resource].query} or None
            results.append(self._run(days, Selection(resources, queries)))
            if not results[-1].ok:
                break
        return results

    def _run(self, days: Optional[tuple], selection: Selection) -> Any:
        return run_provider(
            self.provider, self.destination, days, self.pipelines_dir, selection=selection, account=self.account
        )


def _by_range(ranges: dict) -> dict:
    """(first, last) -> the (resource, query) pairs to load over those days."""
    by_range: dict = {}
    for key, found in ranges.items():
        for days in found:
            by_range.setdefault(days, set()).add(key)
    return by_range


def _ranges(entries: list) -> list[tuple[dt.date, dt.date]]:
    """Drifted windows `(window, first drifted period, last drifted period)`, their periods as
    (first, last) days to reload, adjacent windows joined."""
    ranges: list = []
    previous: Any = None
    for window, first, last in sorted(entries):
        if ranges and previous.end == window.start:
            ranges[-1] = (ranges[-1][0], last)
        else:
            ranges.append((first, last))
        previous = window
    return ranges


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
