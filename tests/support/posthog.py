"""PostHog's definition fields and the sandbox's truth for them, as the warehouse holds them."""

import datetime as dt
import json

DATASET = "posthog"


METRIC_FIELDS = (
    "project_id",
    "group_type_index",
    "id",
    "name",
    "format",
    "interval",
    "display",
    "filters",
    "math",
    "math_property",
)


GROUP_TYPE_FIELDS = (
    "project_id",
    "group_type_index",
    "group_type",
    "name_singular",
    "name_plural",
    "detail_dashboard",
    "default_columns",
    "created_at",
)


JSON_FIELDS = {"filters", "default_columns"}


def _sort_key(row):
    return json.dumps(row, sort_keys=True)


def _normal(field, value):
    if field in JSON_FIELDS and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _rows(warehouse, table, fields, where="_dlt_valid_to is null"):
    columns = ", ".join(f'"{f}"' for f in fields)
    rows = warehouse.query(f"select {columns} from {DATASET}.{table} where {where}")
    return sorted(({f: _normal(f, v) for f, v in zip(fields, row)} for row in rows), key=_sort_key)


def expected_group_types(emulator, projects=(1, 2)):
    rows = [{"project_id": p, **t} for p in projects for t in emulator.group_types(str(p))]
    return sorted(rows, key=_sort_key)


def expected_metrics(emulator, projects=(1, 2)):
    rows = [
        {"project_id": p, "group_type_index": t["group_type_index"], **m}
        for p in projects
        for t in emulator.group_types(str(p))
        for m in emulator.metrics(str(p), t["group_type_index"])
    ]
    return sorted(rows, key=_sort_key)
