"""One value as its column holds it, exactly, or `BadValue`: the checks every page goes through
as it becomes Arrow (`arrow.py`) and definitions before they load (`answers.py`).

    >>> converter(pa.decimal128(38, 9))("14550.35", "amount", 0)
    Decimal('14550.350000000')
    >>> converter(pa.int64())(2.0, "line_count", 0)
    2
    >>> try:
    ...     converter(pa.float64())(float("nan"), "value", 3)
    ... except BadValue as exc:
    ...     print(exc)
    field 'value' is NaN: not a finite number
"""

import datetime as dt
import json
import re
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Callable, Optional

import pyarrow as pa
from metricsync.sources._common.errors import shown

NUMERIC_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)  # a number sent as text


class BadValue(ValueError):
    """A value its column cannot hold exactly (`column`, `value`, `problem`); `row` is its index in
    the page and `period` its row's period, when the converter knows the period column."""

    def __init__(self, column: str, value: Any, problem: str, row: Optional[int] = None) -> None:
        self.column, self.value, self.problem, self.row = column, value, problem, row
        self.period: Any = None
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"field {self.column!r} is {shown(self.value)}: {self.problem}"


_SCALE = {scale: Decimal(1).scaleb(-scale) for scale in range(0, 39)}
_WIDE = Context(prec=80)  # room to quantize any decimal(38, 9) value (the default 28 digits are too few)
_INT64 = (-(2**63), 2**63)


def _number(value: Any, column: str, row: int) -> Decimal:
    """A JSON number, or a number sent as text, as its exact finite Decimal; BadValue otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, Decimal, str))
        or (isinstance(value, str) and not NUMERIC_TEXT.fullmatch(value.strip()))
    ):
        raise BadValue(column, value, "not a number", row)
    try:
        number = (
            value if isinstance(value, Decimal) else Decimal(value.strip() if isinstance(value, str) else str(value))
        )
    except InvalidOperation:
        raise BadValue(column, value, "not a number", row) from None
    if not number.is_finite():
        raise BadValue(column, value, "not a finite number", row)
    return number


def _exact(number: Decimal, value: Any, scale: int, column: str, row: int) -> Decimal:
    """`number` at `scale` places, when that is exactly `number` and fits decimal(38, `scale`)."""
    if number and number.adjusted() >= 38 - scale:
        raise BadValue(column, value, f"beyond the {38 - scale} digits before the point of decimal(38, {scale})", row)
    fitted = number.quantize(_SCALE[scale], context=_WIDE)
    if fitted != number:
        raise BadValue(column, value, f"more than {scale} decimal places (decimal(38, {scale}))", row)
    return fitted


def text(value: Any, column: str, row: int) -> str:
    text = (
        json.dumps(value, sort_keys=True, default=str)
        if isinstance(value, (dict, list))
        else value
        if isinstance(value, str)
        else str(value)
    )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadValue(column, value, "text that is not valid Unicode (a lone surrogate)", row) from None
    return text


def _decimal(kind: pa.DataType) -> Callable[[Any, str, int], Any]:
    def cell(value: Any, column: str, row: int) -> Any:
        return _exact(_number(value, column, row), value, kind.scale, column, row)

    return cell


def _integer(value: Any, column: str, row: int) -> int:
    number = _number(value, column, row)
    if number != number.to_integral_value():
        raise BadValue(column, value, "a fraction where an integer belongs", row)
    if not _INT64[0] <= number < _INT64[1]:
        raise BadValue(column, value, "beyond a 64-bit integer", row)
    return int(number)


def _double(value: Any, column: str, row: int) -> float:
    number = float(_number(value, column, row))
    if number in (float("inf"), float("-inf")):
        raise BadValue(column, value, "beyond a double", row)
    return number


def _instance(wanted: type) -> Callable[[Any, str, int], Any]:
    def cell(value: Any, column: str, row: int) -> Any:
        if not isinstance(value, wanted):
            raise BadValue(column, value, f"not a {wanted.__name__}", row)
        return value

    return cell


def converter(kind: pa.DataType) -> Callable[[Any, str, int], Any]:
    """`cell(value, column, row)`: a value as a column of `kind` holds it, exactly, or BadValue."""
    if kind == pa.string():
        return text
    if pa.types.is_decimal(kind):
        return _decimal(kind)
    if pa.types.is_integer(kind):
        return _integer
    if pa.types.is_floating(kind):
        return _double
    wanted = {"bool": bool, "date32[day]": dt.date, "timestamp[us, tz=UTC]": dt.datetime}.get(str(kind))
    return _instance(wanted) if wanted else (lambda value, column, row: value)
