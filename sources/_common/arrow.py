"""Row dicts to Arrow tables with stable column types, so pages load through dlt's fast path.

Known columns get their declared type; others are typed from their values: numbers become
decimal(38, 9) (exact for money, and stable whether a page holds ints or fractions), text stays
text, dates and datetimes keep their type, nested values become JSON text.
"""

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Iterable, Mapping, Optional

import pyarrow as pa

MONEY = pa.decimal128(38, 9)


def _infer(values: list) -> Optional[pa.DataType]:
    present = [v for v in values if v is not None]
    if not present:
        return None
    kinds = {type(v) for v in present}
    if kinds == {bool}:
        return pa.bool_()
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in present):
        return MONEY
    if kinds <= {dt.datetime}:
        return pa.timestamp("us", tz="UTC")
    if kinds <= {dt.date}:
        return pa.date32()
    return pa.string()


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if kind == pa.string():
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True, default=str)
        return value if isinstance(value, str) else str(value)
    if pa.types.is_decimal(kind) and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value


def to_arrow(
    rows: list[Mapping[str, Any]],
    types: Optional[Mapping[str, pa.DataType]] = None,
    required: Iterable[str] = (),
) -> pa.Table:
    """Build a table from `rows`; columns in first-seen order, all-null unknown columns dropped,
    `required` columns (the merge key) declared not null as dlt declares them."""
    types, required = dict(types or {}), set(required)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    arrays, fields = [], []
    for name in names:
        values = [row.get(name) for row in rows]
        kind = types.get(name) or _infer(values)
        if kind is None:
            continue
        arrays.append(pa.array([_cell(v, kind) for v in values], type=kind))
        fields.append(pa.field(name, kind, nullable=name not in required))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
