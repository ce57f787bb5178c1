"""PostHog emulator: `/api/projects/{id}/groups_types/` and `.../groups_types/{index}/metrics/`.

Written from `posthog-group-type-metrics.txt` and PostHog's groups types docs, with PostHog's
Django REST framework conventions where the docs are silent: group types are a plain JSON array;
metrics page with `limit`/`offset` (default and maximum 100, setting `max_limit`) and absolute
`next`/`previous` links built from the request's host; `Authorization: Bearer <personal key>`;
errors are `{"type", "code", "detail", "attr"}` (401 bad key, 403 missing scope, 404 unknown
project, 405 other methods); a throttled request gets 429 with `Retry-After` and "Expected
available in N seconds".

Data: project 1 has group types organization (7 metrics) and company (3), project 2 one
workspace type (2); setting `projects` changes that. Settings rename (`renamed`: metric id ->
name, or `"<project>:<index>"` -> group type `name_singular`), delete (`deleted`: metric ids or
`"<project>:<index>"`), add a field to every metric (`extra_field`: [name, value]), put another
origin in `next` links (`next_origin`) and throttle the N-th request (`throttle`: {"nth": N,
"seconds": S, "header": false to leave out Retry-After}). The key `no_scope_key` has group:read
but not usage_metric:read.
"""

import threading
import uuid
from typing import Any, Optional
from urllib.parse import urlencode

from .base import Emulator
from .messages import Response, SandboxRequest

METRIC_NAMES = ("Pageviews", "Revenue", "Active users", "Seats added", "API calls", "Reports exported", "Invoices paid")
EVENTS = ("$pageview", "invoice_paid", "$identify", "seat_added", "api_call", "report_exported", "invoice_paid")
SUM_PROPERTIES = ("amount", "seats", "duration_ms")
NAMESPACE = uuid.UUID("6f1c2a8e-3b7d-4e0a-9c55-0d6a7f3e2b11")


class PostHogEmulator(Emulator):
    name = "posthog"
    prefix = "/api/projects/"
    api_key = "phx_sandbox_posthog"
    no_scope_key = "phx_sandbox_no_usage_metric_scope"
    default_settings = {
        "projects": {"1": [["organization", 7], ["company", 3]], "2": [["workspace", 2]]},
        "max_limit": 100,
        "renamed": {},
        "deleted": [],
        "extra_field": None,
        "next_origin": None,
        "throttle": None,
    }

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self._lock = threading.Lock()
        self._handled = 0

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._handled = 0

    def demo_settings(self, sandbox_url: str) -> dict:
        return {"api_key": self.api_key, "base_url": sandbox_url, "project_id": [1, 2], "page_size": 5}

    # -- the data --------------------------------------------------------------------------
    def group_types(self, project: str) -> list[dict]:
        """What `groups_types/` returns for `project`, after renames and deletions."""
        renamed, deleted = self.settings["renamed"], set(self.settings["deleted"])
        rows = []
        for index, (kind, _) in enumerate(self.settings["projects"].get(str(project), [])):
            key = f"{project}:{index}"
            if key in deleted:
                continue
            singular = renamed.get(key, kind.title())
            rows.append(
                {
                    "group_type": kind,
                    "group_type_index": index,
                    "name_singular": singular,
                    "name_plural": f"{singular}s" if index == 0 else None,
                    "detail_dashboard": 40 + index if index == 0 else None,
                    "default_columns": ["name", "$group_key"] if index == 1 else None,
                    "created_at": f"2024-0{index + 1}-15T09:30:00Z",
                }
            )
        return rows

    def metric(self, project: str, index: int, n: int) -> dict:
        """The n-th metric defined on group type `index` of `project`, before renames."""
        is_sum = n % 3 == 1
        prop = SUM_PROPERTIES[(n // 3) % len(SUM_PROPERTIES)] if is_sum else None
        suffix = f" {n // len(METRIC_NAMES) + 1}" if n >= len(METRIC_NAMES) else ""
        event = EVENTS[n % len(EVENTS)]
        filters: dict = (
            {}
            if n == 0
            else {
                "events": [{"id": event, "name": event, "type": "events", "order": 0}],
                "properties": [{"key": "plan", "value": ["pro", "scale"], "operator": "exact", "type": "event"}]
                if n % 2
                else [],
                "filter_test_accounts": n % 2 == 0,
            }
        )
        return {
            "id": str(uuid.uuid5(NAMESPACE, f"{project}/{index}/{n}")),
            "name": METRIC_NAMES[n % len(METRIC_NAMES)] + suffix,
            "format": "currency" if prop == "amount" else "numeric",
            "interval": (7, 30, 14, 90)[n % 4],
            "display": "sparkline" if n % 2 else "number",
            "filters": filters,
            "math": "sum" if is_sum else "count",
            "math_property": "" if n == 2 else prop,  # PostHog accepts a blank property with count
        }

    def metrics(self, project: str, index: int) -> list[dict]:
        """What `groups_types/{index}/metrics/` lists for `project` (all pages), after the settings."""
        types = self.settings["projects"].get(str(project), [])
        count = types[index][1] if 0 <= index < len(types) else 0
        renamed, deleted, extra = self.settings["renamed"], set(self.settings["deleted"]), self.settings["extra_field"]
        rows = []
        for n in range(count):
            row = self.metric(str(project), index, n)
            if row["id"] in deleted:
                continue
            row["name"] = renamed.get(row["id"], row["name"])
            if extra:
                row[extra[0]] = extra[1]
            rows.append(row)
        return rows

    # -- HTTP ------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, kind: str, code: str, detail: str, headers: Optional[dict] = None) -> Response:
        return Response(status, {"type": kind, "code": code, "detail": detail, "attr": None}, headers or {})

    def _auth(self, request: SandboxRequest, needs_metrics_scope: bool) -> Optional[Response]:
        header = request.header("authorization")
        if not header:
            return self._error(
                401, "authentication_error", "not_authenticated", "Authentication credentials were not provided."
            )
        if header == f"Bearer {self.no_scope_key}":
            if needs_metrics_scope:
                return self._error(
                    403,
                    "authentication_error",
                    "permission_denied",
                    "API key missing required scope 'usage_metric:read'",
                )
            return None
        if header != f"Bearer {self.api_key}":
            return self._error(
                401,
                "authentication_error",
                "authentication_failed",
                "Personal API key found in request Authorization header is invalid.",
            )
        return None

    def _throttle(self) -> Optional[Response]:
        rule = self.settings["throttle"]
        if not rule:
            return None
        with self._lock:
            self._handled += 1
            nth = self._handled
        if nth != int(rule["nth"]):
            return None
        seconds = float(rule["seconds"])
        headers = {"Retry-After": f"{seconds:g}"} if rule.get("header", True) else {}
        return self._error(
            429,
            "throttled_error",
            "throttled",
            f"Request was throttled. Expected available in {seconds:g} seconds.",
            headers,
        )

    def handle(self, request: SandboxRequest, base_url: str) -> Response:
        parts = request.path[len(self.prefix) :].strip("/").split("/")
        is_metrics = len(parts) == 4 and parts[1] == "groups_types" and parts[3] == "metrics"
        denied = self._auth(request, is_metrics) or self._throttle()
        if denied:
            return denied
        if request.method != "GET":
            return self._error(405, "invalid_request", "method_not_allowed", f'Method "{request.method}" not allowed.')
        if parts[0] not in self.settings["projects"]:
            return self._error(404, "invalid_request", "not_found", "Not found.")
        if parts[1:] == ["groups_types"]:
            return Response(200, self.group_types(parts[0]))
        if is_metrics and parts[2].isdigit():
            return self._metrics(request, base_url, parts[0], int(parts[2]))
        return self._error(404, "invalid_request", "not_found", "Not found.")

    @staticmethod
    def _int_arg(request: SandboxRequest, name: str, default: int) -> int:
        value = request.arg(name, "")
        return int(value) if value.isdigit() else default

    def _metrics(self, request: SandboxRequest, base_url: str, project: str, index: int) -> Response:
        """One limit/offset page, links as DRF's LimitOffsetPagination builds them."""
        rows = self.metrics(project, index)
        limit = min(self._int_arg(request, "limit", 100) or 100, int(self.settings["max_limit"]))
        offset = self._int_arg(request, "offset", 0)
        origin = (self.settings["next_origin"] or base_url).rstrip("/")

        def link(at: int) -> str:
            query = {"limit": limit, "offset": at} if at > 0 else {"limit": limit}
            return f"{origin}{request.path}?{urlencode(query)}"

        return Response(
            200,
            {
                "count": len(rows),
                "next": link(offset + limit) if offset + limit < len(rows) else None,
                "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "results": rows[offset : offset + limit],
            },
        )
