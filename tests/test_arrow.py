"""Row dicts to Arrow: stable types page to page, exact money, numbers as text parsed, type changes refused."""

from decimal import Decimal

import pyarrow as pa
import pytest

from sources._common.load.arrow import MONEY, TypeDrift, to_arrow


@pytest.mark.parametrize(
    "values, arrow_type, loaded",
    [
        pytest.param([1, 2], MONEY, [Decimal("1"), Decimal("2")], id="ints-are-decimal"),
        pytest.param([Decimal("14550.35"), 3], MONEY, [Decimal("14550.35"), Decimal("3")], id="money-exact"),
        pytest.param([Decimal("0.1234567891234")], MONEY, [Decimal("0.123456789")], id="decimal-rounded-to-scale"),
        pytest.param([0.12345678901234, 1], pa.float64(), [0.12345678901234, 1.0], id="json-doubles-are-double"),
        pytest.param(["a", 1], pa.string(), ["a", "1"], id="mixed-is-text"),
        pytest.param([{"b": 1}, None], pa.string(), ['{"b": 1}', None], id="nested-is-json-text"),
    ],
)
def test_inferred_column_types(values, arrow_type, loaded):
    table = to_arrow([{"v": v} for v in values])
    assert table.schema.field("v").type == arrow_type
    assert table.column("v").to_pylist() == loaded


def test_existing_type_is_kept_numeric_text_parsed_exactly_and_misfits_refused():
    table = to_arrow([{"v": 1.5}, {"v": "123.456789"}, {"v": " 7 "}], existing={"v": "decimal"})
    assert table.schema.field("v").type == MONEY
    assert table.column("v").to_pylist() == [Decimal("1.5"), Decimal("123.456789"), Decimal("7")]
    assert table.column_names == ["v"]
    with pytest.raises(TypeDrift) as drift:
        to_arrow([{"v": 1.5}, {"v": "n/a"}], existing={"v": "decimal"})
    assert (drift.value.column, drift.value.value) == ("v", "n/a")


def test_key_columns_are_not_null_and_names_are_normalised():
    table = to_arrow([{"metricName": "m"}], required=["metric_name"], normalize=lambda n: "metric_name")
    assert table.schema.field("metric_name").nullable is False
