"""PostHog requests and row shaping (no dlt here)."""

import json
from typing import Any

import pyarrow as pa

from .._common import ApiClient, ApiError, ConfigError, Request
from .._common.http.paginators import Paginator
from .._common.load.answers import exact, one_per_key, own_fields, present
from . import settings


def project_ids(value: Any) -> list[int]:
    """The configured projects: one id, a list, `1,2` or a JSON list `[1, 2]`; each once, in order."""
    items = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                raise ConfigError(
                    f"posthog: project_id {text!r} is not a JSON list - use e.g. [12345, 67890] or 12345,67890"
                ) from None
        else:
            items = text.split(",")
    if not isinstance(items, (list, tuple)):
        items = [items]
    ids: list[int] = []
    for item in items:
        text = "" if item is None else str(item).strip()
        if not text:
            continue
        if isinstance(item, bool) or not text.isdigit():
            raise ConfigError(
                f"posthog: project_id {text!r} is not a numeric project id - set "
                f"{settings.PROJECT_SETTING} to ids from your project settings, e.g. 12345 or 12345,67890"
            )
        if int(text) not in ids:
            ids.append(int(text))
    if not ids:
        raise ConfigError(
            f"posthog: no project - set {settings.PROJECT_SETTING} to a project id (see your project "
            "settings) or a list of ids"
        )
    return ids


def listed_items(body: Any) -> list:
    """The objects of a listing: a plain JSON array, a page's `results`, or one bare object (the
    group types docs show one object as the example response)."""
    if isinstance(body, list):
        return body
    if isinstance(body.get("results"), list):
        return body["results"]
    return [body]


def is_group_types_body(body: Any) -> bool:
    if not isinstance(body, (list, dict)):
        return False
    if isinstance(body, dict) and "results" not in body and "group_type_index" not in body:
        return False
    return all(isinstance(item, dict) and "group_type_index" in item for item in listed_items(body))


def is_metrics_body(body: Any) -> bool:
    if isinstance(body, dict) and not isinstance(body.get("results"), list):
        return False
    return isinstance(body, (list, dict)) and all(isinstance(item, dict) for item in listed_items(body))


def group_type_rows(project_id: int, body: Any) -> list[dict]:
    """Group types of one project, each with `project_id`.

    [{"group_type": "organization", "group_type_index": 0, "name_singular": "Organization",
      "name_plural": "Organizations", "detail_dashboard": null, "default_columns": null,
      "created_at": "2024-01-15T09:30:00Z"}]
    """
    where = f"project {project_id} group types"
    for item in listed_items(body):
        present(item, ("group_type_index",), "posthog", where)
    rows = [
        {
            **own_fields(item, ("project_id",), "posthog", where),
            "project_id": project_id,
            "group_type_index": exact(item.get("group_type_index"), pa.int64(), "posthog", where, "group_type_index"),
        }
        for item in listed_items(body)
    ]
    return one_per_key(rows, lambda row: row["group_type_index"], "posthog", where)


def integers(columns: dict) -> dict:
    """The declared bigint columns of a definition table, as Arrow types (checked exactly before loading)."""
    return {name: pa.int64() for name, column in columns.items() if column["data_type"] == "bigint"}


def metric_rows(project_id: int, group_type_index: int, body: Any) -> list[dict]:
    """The metrics of one page, each with `project_id` and `group_type_index`.

    {"count": 7, "next": "https://us.posthog.com/api/projects/1/groups_types/0/metrics/?limit=3&offset=3",
     "previous": null,
     "results": [{"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "name": "Revenue", "format": "currency",
                  "interval": 30, "display": "sparkline", "filters": {"events": [...]}, "math": "sum",
                  "math_property": "amount"}]}
    """
    where = f"project {project_id} group type {group_type_index} metrics"
    return [
        {
            **own_fields(item, ("project_id", "group_type_index"), "posthog", where),
            "project_id": project_id,
            "group_type_index": group_type_index,
        }
        for item in listed_items(body)
    ]


def fetch_group_types(client: ApiClient, paginator: Paginator, project_id: int) -> list[dict]:
    """All group types of a project; a 404 means the project does not exist for this key."""
    path = settings.GROUP_TYPES_PATH.format(project_id=project_id)
    rows: list[dict] = []
    try:
        for body in client.pages(Request("GET", path), paginator, endpoint=f"GET {path}", check=is_group_types_body):
            rows.extend(group_type_rows(project_id, body))
    except ApiError as exc:
        if exc.status == 404:
            raise ConfigError(
                f"posthog: project {project_id} not found (404) - check {settings.PROJECT_SETTING} "
                "and that SOURCES__POSTHOG__BASE_URL is your PostHog app host"
            ) from None
        raise
    return rows


def fetch_metrics(
    client: ApiClient, paginator: Paginator, project_id: int, group_type_index: int, page_size: int
) -> list[dict]:
    """Every metric of one group type, page by page in order, each id once (an offset listing can
    repeat an item when the list changes between pages: kept once; two different rows with one id fail)."""
    path = settings.METRICS_PATH.format(project_id=project_id, group_type_index=group_type_index)
    request = Request("GET", path, params={"limit": page_size})
    rows: list[dict] = []
    for body in client.pages(request, paginator, endpoint=f"GET {path}", check=is_metrics_body):
        rows.extend(metric_rows(project_id, group_type_index, body))
    return one_per_key(rows, lambda row: row.get("id", id(row)), "posthog", f"GET {path}")


def probe(client: Any, values: dict) -> str:
    """`check`: the group types of the first project (one page: scope group:read), then one metric
    of its first group type (scope usage_metric:read)."""
    projects = project_ids(values["project_id"])
    path = settings.GROUP_TYPES_PATH.format(project_id=projects[0])
    try:
        body = client.request(Request("GET", path), endpoint=f"GET {path}", check=is_group_types_body)
    except ApiError as exc:
        if exc.status == 404:
            raise ConfigError(
                f"posthog: project {projects[0]} not found (404) - check {settings.PROJECT_SETTING}"
            ) from None
        raise
    group_types = group_type_rows(projects[0], body)
    if group_types:
        path = settings.METRICS_PATH.format(project_id=projects[0], group_type_index=group_types[0]["group_type_index"])
        client.request(Request("GET", path, params={"limit": 1}), endpoint=f"GET {path}", check=is_metrics_body)
    return f"{len(projects)} project(s)"
