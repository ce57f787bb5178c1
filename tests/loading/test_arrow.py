"""Row dicts to Arrow: stable types page to page, exact money, numbers as text parsed, type changes refused."""

from decimal import Decimal

import pyarrow as pa
import pytest
from metricsync.sources._common.load.arrow import MONEY, TypeDrift, to_arrow


@pytest.mark.parametrize(
    "values, arrow_type, loaded",
    [
        pytest.param([1, 2], MONEY, [Decimal("1"), Decimal("2")], id="ints-are-decimal"),
        pytest.param([Decimal("14550.35"), 3], MONEY, [Decimal("14550.35"), Decimal("3")], id="money-exact"),
        pytest.param(
            [Decimal("1.2E+20"), Decimal("1E-9")],
            MONEY,
            [Decimal("1.2E+20"), Decimal("1E-9")],
            id="decimal-exact-to-its-precision",
        ),
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


def test_compact_pages_hold_repeated_text_once_and_expand_to_the_plain_table():
    from metricsync.sources._common.load.arrow import concat, expand

    rows = [
        {
            "query_name": "mrr_by_customer",
            "metric": "metric_61Sud3n5oAGVCWiSr5",
            "currency": "usd",
            "dimension_value": f"cus_{n:05d}",
            "value": n,
        }
        for n in range(1000)
    ]
    plain = to_arrow(rows, required=["query_name", "dimension_value"])
    compact = to_arrow(rows, required=["query_name", "dimension_value"], compact=True)
    assert {f.name for f in compact.schema if pa.types.is_dictionary(f.type)} == {"query_name", "metric", "currency"}
    assert compact.nbytes < plain.nbytes / 2  # the three repeated columns were 2/3 of the bytes
    assert expand(compact).equals(plain)  # names, types and not-null kept
    assert not compact.schema.field("query_name").nullable

    # a window's pages and tombstones: a column repeated on one page and not on another, or
    # compact on one and plain on the other (a one-row page of plain rows), is plain text in all
    other = to_arrow(
        [{**rows[0], "metric": m} for m in ("a", "b")], required=["query_name", "dimension_value"], compact=True
    )
    single = to_arrow(rows[:1], required=["query_name", "dimension_value"])
    whole = concat([compact, pa.table({}), other, single])
    assert whole.schema.field("metric").type == pa.string()
    assert pa.types.is_dictionary(whole.schema.field("query_name").type) is False
    assert expand(whole).to_pylist() == rows + [{**rows[0], "metric": m} for m in ("a", "b")] + rows[:1]
