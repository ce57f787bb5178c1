"""Row dicts to Arrow tables with stable column types, so pages load through dlt's fast path.

Known columns get their declared type; others are typed from their values: integers and
`Decimal`s (money parsed exactly) become decimal(38, 9), stable whether a page
holds ints or fractions; binary floats (JSON doubles) become double; text stays text, dates and
datetimes keep their type, nested values become JSON text.

A column already in the destination keeps its type: a number that arrives as a numeric string
(`"123.45"`) is parsed into it exactly, and a value that cannot be (`"n/a"` in a number column)
raises `TypeDrift`, so no variant column (`<name>__v_<type>`) ever appears and no value is lost.

Every value is checked against its column's type (declared, existing or inferred) as the page
becomes Arrow (`cells.py`), one layer for every provider: a value the column cannot hold exactly raises
`BadValue` (`NaN`/`Infinity`, text or `true` where a number belongs, a fraction in an integer
column, a number beyond decimal(38, 9) or with more than 9 decimal places, text that is not valid
Unicode, two fields that dlt names alike, a field named as dlt's own `_dlt_*` columns):

    >>> try:
    ...     to_arrow([{"line_count": 2.9}], {"line_count": pa.int64()})
    ... except BadValue as exc:
    ...     print(exc)
    field 'line_count' is 2.9: a fraction where an integer belongs
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from metricsync.sources._common.errors import shown
from metricsync.sources._common.load.cells import NUMERIC_TEXT, BadValue, converter, text

MONEY = pa.decimal128(38, 9)
TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW_OF = {
    "text": pa.string(),
    "decimal": MONEY,
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": TIMESTAMP,
    "json": pa.string(),
}


class TypeDrift(BadValue):
    """A value that does not fit its column's type in the destination (`column`, `value`, `data_type`)."""

    def __init__(self, column: str, value: Any, data_type: str, row: Optional[int] = None) -> None:
        self.data_type = data_type
        super().__init__(column, value, f"column {column!r} is {data_type} in the warehouse", row)

    def describe(self) -> str:
        return f"column {self.column!r} is {self.data_type} in the warehouse but the API sent {shown(self.value)}"


_NUMBERS = ("decimal", "double", "bigint")


def _parsed(value: Any, data_type: str) -> Any:
    """A numeric string as the number it spells, exactly, when the column holds numbers."""
    if data_type not in _NUMBERS or not isinstance(value, str) or not NUMERIC_TEXT.fullmatch(value.strip()):
        return value
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    return int(number) if data_type == "bigint" and number == number.to_integral_value() else number


def _kind(value: Any) -> str:
    """The dlt data type a single value would get from this module."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "double"
    if isinstance(value, (int, Decimal)):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def _fits(value: Any, data_type: str) -> bool:
    kind = _kind(value)
    if data_type in ("text", "json"):
        return True
    if data_type in ("decimal", "double"):
        return kind in ("decimal", "double")
    if data_type == "bigint":
        return kind == "decimal" and isinstance(value, int)
    return kind == data_type


def _infer(values: list) -> Optional[str]:
    kinds = {_kind(v) for v in values if v is not None}
    if not kinds:
        return None
    if kinds == {"decimal", "double"}:
        return "double"
    return kinds.pop() if len(kinds) == 1 else "text"


_REPEATS = 8  # a timestamp column with at most 1/8 distinct values converts each once
# the value types (and their subclasses, e.g. pendulum's dates) Arrow converts in C (no Python call
# per value) to each kind, exactly, and those it must not take (a bool is an int; a datetime a date);
# a failure, NaN included, is judged value by value, naming the value
_AS_IS = (
    (pa.types.is_string, (str,), ()),
    (pa.types.is_integer, (int,), (bool,)),
    (pa.types.is_floating, (float, int), (bool,)),
    (pa.types.is_boolean, (bool,), ()),
    (pa.types.is_timestamp, (dt.datetime,), ()),
    (pa.types.is_date, (dt.date,), (dt.datetime,)),
    (pa.types.is_decimal, (Decimal, int), (bool,)),
)  # Arrow refuses a decimal it cannot hold exactly


def _fast(values: list, kind: pa.DataType) -> Optional[pa.Array]:
    """The column converted in C, when every value already has a type Arrow converts exactly."""
    allowed, refused = next(((types, not_these) for check, types, not_these in _AS_IS if check(kind)), (None, ()))
    found = set(map(type, values)) - {type(None)}
    if allowed is None or not all(issubclass(t, allowed) and not issubclass(t, refused) for t in found):
        return None
    try:
        array = pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None  # e.g. a lone surrogate, an inexact decimal: judged value by value
    if pa.types.is_floating(kind) and pc.any(pc.or_(pc.is_nan(array), pc.is_inf(array))).as_py():
        return None
    return array


def _column(values: list, kind: pa.DataType, compact: bool = False, name: str = "") -> pa.Array:
    """Arrow converts a column whose values already have the type in C (no Python call per
    value); a column that needs shaping (JSON text, exact decimals, numbers as text) goes value
    by value, each checked (`BadValue`). Datetimes repeated down a column (a bucket's label on
    every row of a page) are converted once each (Arrow's per-value time zone lookup is slow).
    With `compact`, text that is the same on every row (a query's name, metric, currency on each
    row of a page) is held once, as a dictionary (`expand` makes it plain text again)."""
    if (
        compact
        and kind == pa.string()
        and values
        and isinstance(values[0], str)
        and values.count(values[0]) == len(values)
    ):
        return pa.DictionaryArray.from_arrays(
            pa.nulls(len(values), pa.int8()).fill_null(0), pa.array([text(values[0], name, 0)], pa.string())
        )
    if pa.types.is_timestamp(kind) and len(values) > _REPEATS:
        distinct = dict.fromkeys(values)
        if len(distinct) * _REPEATS <= len(values) and all(type(v) is dt.datetime or v is None for v in distinct):
            index = {value: position for position, value in enumerate(distinct)}
            return _column(list(distinct), kind).take(pa.array([index[v] for v in values], pa.int32()))
    array = _fast(values, kind)
    if array is not None:
        return array
    cell = converter(kind)
    return pa.array([None if v is None else cell(v, name, row) for row, v in enumerate(values)], type=kind)


def to_arrow(
    rows: Sequence[Mapping[str, Any]],
    types: Optional[Mapping[str, pa.DataType]] = None,
    required: Iterable[str] = (),
    existing: Optional[Mapping[str, str]] = None,
    normalize: Callable[[str], str] = str,
    compact: bool = False,
    period: Optional[str] = None,
) -> pa.Table:
    """Build a table from `rows`; columns named by `normalize` in first-seen order, all-null unknown
    columns dropped, `required` columns (the merge key) not null as dlt declares them. `existing`
    maps the destination's column names to their dlt data types; `period` names the column whose
    value a `BadValue` reports (the row's period)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return columns_to_arrow(
        {name: [row.get(name) for row in rows] for name in names}, types, required, existing, normalize, compact, period
    )


def columns_to_arrow(
    columns: Mapping[str, list],
    types: Optional[Mapping[str, pa.DataType]] = None,
    required: Iterable[str] = (),
    existing: Optional[Mapping[str, str]] = None,
    normalize: Callable[[str], str] = str,
    compact: bool = False,
    period: Optional[str] = None,
) -> pa.Table:
    """`to_arrow` of rows given as columns (name -> values, all of one length, in column order):
    the same table, without building a dict per row."""
    types, required, existing = dict(types or {}), set(required), dict(existing or {})
    arrays: dict[str, pa.Array] = {}
    try:
        for name, values in columns.items():
            column = _column_name(name, normalize, arrays)
            array = _typed(name, column, values, types, existing, compact)
            if array is not None:
                arrays[column] = array
    except BadValue as exc:
        if period and exc.row is not None and period in columns:
            exc.period = columns[period][exc.row]
        raise
    fields = [pa.field(n, a.type, nullable=n not in required) for n, a in arrays.items()]
    return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))


def _column_name(name: str, normalize: Callable[[str], str], taken: Mapping[str, Any]) -> str:
    """The column dlt names `name`; a field whose name is not valid Unicode, is dlt's own
    (`_dlt_id`, ...) or is named like another field of the page (`unitType`, `unit_type`) is refused."""
    if isinstance(name, str):
        text(name, name, 0)
    column = normalize(name)
    if column.startswith("_dlt"):
        raise BadValue(name, name, "a field named like one of dlt's own columns")
    if column in taken:
        raise BadValue(name, name, f"a second field named {column!r} in dlt's naming")
    return column


def _typed(
    name: str, column: str, values: list, types: Mapping, existing: Mapping, compact: bool
) -> Optional[pa.Array]:
    """One column as Arrow: its declared type, the destination's, or one inferred from its values
    (None for a column of nulls the destination does not know)."""
    if name in types or column in types:
        return _column(values, types.get(name) or types[column], compact, column)
    data_type = existing.get(column) if existing.get(column) in _ARROW_OF else _infer(values)
    if data_type is None:
        return None
    if column in existing:
        values = [_parsed(v, data_type) for v in values]
        misfit = next((row for row, v in enumerate(values) if v is not None and not _fits(v, data_type)), None)
        if misfit is not None:
            raise TypeDrift(column, values[misfit], data_type, misfit)
    return _column(values, _ARROW_OF[data_type], compact, column)


@dataclass(frozen=True)
class Converter:
    """A resource's rows to Arrow as of the current load: its declared types and required
    columns, the destination's column types and dlt's naming. Called with rows (dicts), or
    `columns(...)` with the same rows as columns. `compact`: text the same on every row of a page
    as a dictionary (tables held ahead of their load; `expand` them before they reach dlt)."""

    types: Mapping[str, pa.DataType]
    required: tuple
    existing: Mapping[str, str]
    normalize: Callable[[str], str] = str
    compact: bool = False
    period: Optional[str] = None

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        return to_arrow(rows, self.types, self.required, self.existing, self.normalize, self.compact, self.period)

    def columns(self, columns: Mapping[str, list]) -> pa.Table:
        return columns_to_arrow(
            columns, self.types, self.required, self.existing, self.normalize, self.compact, self.period
        )


def _plain(field: pa.Field) -> pa.Field:
    return field.with_type(field.type.value_type) if pa.types.is_dictionary(field.type) else field


def expand(table: pa.Table, names: Optional[set] = None) -> pa.Table:
    """`table` with its dictionary columns (`compact`; only those in `names`, when given) as plain
    ones, names and nullability kept."""
    chosen = [f.name for f in table.schema if pa.types.is_dictionary(f.type) and (names is None or f.name in names)]
    if not chosen:
        return table
    return table.cast(
        pa.schema([_plain(f) if f.name in chosen else f for f in table.schema], metadata=table.schema.metadata)
    )


def concat(tables: list) -> pa.Table:
    """Tables as one (a column compact in some and plain in others is made plain in all); tables
    with no rows have no columns and are left out."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return pa.table({})
    kinds: dict = {}
    for table in tables:
        for f in table.schema:
            kinds.setdefault(f.name, set()).add(pa.types.is_dictionary(f.type))
    mixed = {name for name, seen in kinds.items() if len(seen) > 1}
    return pa.concat_tables([expand(t, mixed) for t in tables] if mixed else tables, promote_options="permissive")
