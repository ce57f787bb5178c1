"""A hostile answer never lands and never crashes (issue 27): property-based tests (Hypothesis)
over each provider's row shaping and the Arrow conversion, fed generated answers (values of every
JSON type, duplicates, missing and extra fields, huge and tiny numbers, odd dates, odd text), and
real pipeline runs against the sandbox (`Sandbox.tamper`) into DuckDB.

Every case either loads exactly (the values as sent, checked against an oracle written here) or
fails with exit 3 in one line naming provider, query, period, field and value, the warehouse as
it was before the run.
"""

import datetime as dt
import math
import re
import shutil
from decimal import Context, Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from metricsync.sources._common.errors import BadAnswer
from metricsync.sources._common.load.arrow import MONEY, BadValue, columns_to_arrow, to_arrow
from metricsync.sources._common.load.windows import Window
from metricsync.sources.statsig import helpers as statsig
from metricsync.sources.stripe_analytics import helpers as stripe
from metricsync.sources.whop import helpers as whop
from support import Warehouse, configure, today

PURE = settings(max_examples=60, deadline=None, derandomize=True, database=None)

# -- generated values ---------------------------------------------------------------------------------
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=Decimal("-1e30"), max_value=Decimal("1e30"), places=9),
    st.sampled_from(
        [
            Decimal("1.2E+20"),
            Decimal("1E-9"),
            Decimal("1E-10"),
            Decimal("99999999999999999999999999999"),
            Decimal("1E+29"),
            2**63 - 1,
            2**63,
            -(2**63),
            2.9,
            2.0,
            1e20,
            1.2e20,
            0.1,
            5e-324,
        ]
    ),
)
NUMBER_TEXT = st.one_of(
    NUMBERS.map(str),
    st.sampled_from(
        ["12abc", "NaN", "Infinity", "-inf", " 7 ", "1_000", "", "1e5", ".5", "5.", "+3", "٣", "0x10", "1e-999999"]
    ),
)
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)  # lone surrogates included
JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, NUMBER_TEXT, TEXT)
ANY_JSON = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2), st.dictionaries(TEXT, JSON_SCALARS, max_size=2))


# -- the oracle: what a column holds exactly, written from the docs' types, not from arrow.py ----------
NUMERIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def exact_number(value):
    """The number `value` stands for (a JSON number or one sent as ASCII text), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return Decimal(value.strip()) if NUMERIC.fullmatch(value.strip()) else None
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return number if number.is_finite() else None
    return None


def fits_money(number):
    if number is None or abs(number) >= Decimal(10) ** 29:
        return False
    return number == number.quantize(Decimal("1e-9"), context=Context(prec=200))


def unicode(text):
    return all(not 0xD800 <= ord(c) <= 0xDFFF for c in text)


def expected_cell(value, kind):
    """What the column stores for `value`, or BadValue when it cannot hold it exactly."""
    if value is None:
        return None
    number = exact_number(value)
    if kind == MONEY:
        return number if fits_money(number) else BadValue
    if kind == pa.int64():
        return int(number) if number is not None and number == int(number) and -(2**63) <= number < 2**63 else BadValue
    if kind == pa.float64():
        return float(number) if number is not None and math.isfinite(float(number)) else BadValue
    if isinstance(value, (dict, list)):
        return BadValue if isinstance(value, dict) and not all(map(unicode, value)) else ...  # JSON text
    text = value if isinstance(value, str) else str(value)
    return text if unicode(text) else BadValue


def assert_exact_or_refused(values, kind, column="v"):
    """The page of `values` loads each exactly, or is refused naming a value that cannot be held."""
    expected = [expected_cell(v, kind) for v in values]
    try:
        table = to_arrow([{column: v} for v in values], {column: kind})
    except BadValue as refused:
        assert refused.column == column
        assert expected[refused.row] is BadValue, (refused, values[refused.row])
        assert BadValue in expected[: refused.row + 1]
        return
    assert BadValue not in expected, (values, expected)
    for loaded, want in zip(table.column(column).to_pylist(), expected):
        if want is not ...:
            assert loaded == want and type(loaded) is type(want) or (want is None and loaded is None), (loaded, want)


def test_the_docstring_samples_hold():
    import doctest

    from metricsync.sources._common.load import answers, arrow, cells

    for module in (cells, arrow, answers):
        assert doctest.testmod(module).failed == 0, module.__name__


# -- the Arrow conversion ---------------------------------------------------------------------------
@PURE
@given(st.lists(JSON_SCALARS, min_size=1, max_size=6), st.sampled_from([MONEY, pa.int64(), pa.float64(), pa.string()]))
def test_every_value_loads_exactly_or_is_refused(values, kind):
    assert_exact_or_refused(values, kind)


@PURE
@given(st.lists(st.one_of(st.none(), NUMBERS, TEXT, st.booleans()), min_size=1, max_size=6))
def test_inferred_columns_load_exactly_or_are_refused(values):
    """Columns the docs do not give (extra fields) are typed from their values: still never NaN, a
    rounded decimal or invalid text."""
    try:
        table = to_arrow([{"extra": v} for v in values])
    except BadValue as refused:
        assert any(refused.value is v for v in values)
        return
    if "extra" not in table.column_names:
        assert all(v is None for v in values)
        return
    for loaded, sent in zip(table.column("extra").to_pylist(), values):
        if sent is None or isinstance(loaded, (str, bool)):
            assert loaded == (sent if sent is None or isinstance(loaded, bool) or isinstance(sent, str) else str(sent))
        elif isinstance(loaded, float):
            assert math.isfinite(loaded) and loaded == float(sent)
        else:
            assert Decimal(loaded) == exact_number(sent)


# -- Whop wallet rows ---------------------------------------------------------------------------------
WINDOW = Window(dt.date(2026, 3, 2), dt.date(2026, 3, 9))
QUERY = {"name": "daily", "group_by": "day"}
OURS = ["query_name", "Query Name", "account", "_dlt_id", "_tombstone", "group_by", "timezone", "account_id"]
DATES = st.one_of(
    st.dates(min_value=WINDOW.start, max_value=WINDOW.last_day).map(str),
    st.sampled_from(["2026-03-32", "2026-02-29", "0000-01-01", "", "03/04/2026", None, 20260303]),
)
WALLET_ROW = st.fixed_dictionaries(
    {"period": DATES},
    optional={
        "amount": JSON_SCALARS,
        "line_count": JSON_SCALARS,
        "currency": st.sampled_from(["usd", "eur"]),
        "extra": st.sampled_from(OURS + ["wallet_note", "fee"]),
        "extra_value": JSON_SCALARS,
    },
)


def wallet_row(generated):
    row = {k: v for k, v in generated.items() if k not in ("extra", "extra_value")}
    if "extra" in generated:
        row[generated["extra"]] = generated.get("extra_value")
    return row


def wallet_verdict(row):
    """None when the row loads, else the field an oracle says must be refused."""
    try:
        day = dt.date.fromisoformat(row["period"]) if isinstance(row["period"], str) else None
    except ValueError:
        day = None
    if day is None:
        return "period"
    for name in row:
        if name not in ("period", "amount", "line_count", "currency") and (
            name.lower().replace(" ", "_")
            in ("query_name", "account", "_tombstone", "group_by", "timezone", "account_id")
            or name.startswith("_dlt")
        ):
            return name
    for name, kind in (("amount", MONEY), ("line_count", pa.int64())):
        if row.get(name) is None or expected_cell(row[name], kind) is BadValue:
            return name
    extra = [v for k, v in row.items() if k not in ("period", "amount", "line_count", "currency")]
    if extra and extra[0] is not None:
        try:
            to_arrow([{"x": extra[0]}])
        except BadValue:
            return "extra"
    return None


@PURE
@given(st.lists(WALLET_ROW, min_size=1, max_size=4))
@example([{"period": 20260303, "amount": 1, "line_count": 1}])  # a number is no date, even one that reads as one
def test_whop_wallet_rows_load_exactly_or_fail_naming_the_field(generated):
    rows = [wallet_row(g) for g in generated]
    periods = [r["period"] for r in rows]
    assume(len(set(map(str, periods))) == len(periods) and all(r.get("currency") != "x" for r in rows))
    verdicts = [wallet_verdict(r) for r in rows]
    try:
        shaped = whop.wallet_rows(QUERY, {"data": rows}, WINDOW)
        table = to_arrow(shaped, whop.WALLET_TYPES, period="period")
    except (BadAnswer, BadValue) as refused:
        assert any(verdicts), (rows, refused)
        message = str(refused)
        assert "\n" not in message and len(message) < 400
        if isinstance(refused, BadAnswer):
            assert message.startswith("whop: query 'daily'") and "(HTTP 200)" in message
        return
    assert not any(verdicts), (rows, verdicts)
    loaded = {r["period"]: r for r in table.to_pylist()}
    for row in rows:
        stored = loaded[dt.date.fromisoformat(row["period"])]
        assert stored["amount"] == exact_number(row["amount"])
        assert stored["line_count"] == int(exact_number(row["line_count"]))
        assert stored["query_name"] == "daily" and stored["group_by"] == "day"


# -- Whop metric results ---------------------------------------------------------------------------------
METRIC_QUERY = {
    "name": "gross",
    "resource": "receipts:gross_revenue",
    "granularity": "daily",
    "breakdowns": ["country"],
}
METRIC_RECORD = st.fixed_dictionaries(
    {"period": DATES, "country": st.one_of(st.sampled_from(["US", "DE"]), TEXT), "value": JSON_SCALARS},
    optional={
        "breakdown_key": st.just("{}"),
        "granularity": st.just("weekly"),
        "_dlt_load_id": st.just("1"),
        "Query_Name": st.just("x"),
        "fee": JSON_SCALARS,
    },
)


def loadable(value):
    """A value a warehouse stores as sent: no NaN or infinity, no lone surrogate."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return unicode(value)
    return True


@PURE
@given(st.lists(METRIC_RECORD, min_size=1, max_size=4))
def test_whop_metric_rows_never_crash_and_never_store_what_cannot_load(records):
    """Metric answers have columns the docs do not fix (breakdowns, extra values): whatever they
    hold, a page either becomes a table of loadable values, one row per record in the window,
    or fails the query with exit 3 naming a field."""
    try:
        table = to_arrow(whop.metric_rows(METRIC_QUERY, records, WINDOW), whop.METRIC_TYPES, period="period")
    except (BadAnswer, BadValue) as refused:
        assert "\n" not in str(refused) and (isinstance(refused, BadValue) or refused.exit_code == 3)
        return
    assert not any(set(r) & {"breakdown_key", "granularity", "_dlt_load_id", "Query_Name"} for r in records)
    assert table.num_rows == len(records)  # every period generated lies in the window, or was refused
    for row in table.to_pylist():
        assert row["query_name"] == "gross" and row["granularity"] == "daily"
        assert all(loadable(value) for value in row.values()), row


# -- Statsig: duplicates and our own columns --------------------------------------------------------------
STATSIG_ITEM = st.fixed_dictionaries(
    {
        "metricName": st.sampled_from(["a", "b"]),
        "metricType": st.sampled_from(["sum", "ratio"]),
        "unitType": st.sampled_from(["userID", None]),
        "value": st.sampled_from([1, 2.5, 0]),
    },
    optional={"date": st.just("2026-03-02"), "unit_type": st.just("userID"), "_dlt_id": st.just("x")},
)


@PURE
@given(st.lists(STATSIG_ITEM, max_size=5))
def test_statsig_one_row_per_key_or_exit_3(items):
    day = dt.date(2026, 3, 2)
    keys = [(i["metricName"], i["metricType"], i.get("unitType") or "") for i in items]
    clashing = any(keys[a] == keys[b] and items[a] != items[b] for a in range(len(items)) for b in range(a))
    foreign = any(set(i) & {"date", "unit_type", "_dlt_id"} for i in items)
    try:
        rows = statsig.value_rows(day, items)
    except BadAnswer as refused:
        assert refused.exit_code == 3 and (clashing or foreign)
        assert str(refused).startswith("statsig: GET /metrics/values date 2026-03-02 failed (HTTP 200): field ")
        return
    assert not clashing and not foreign
    assert sorted((r["metric_name"], r["metric_type"], r["unit_type"]) for r in rows) == sorted(set(keys))
    assert all(r["date"] == day for r in rows)


# -- Stripe: values and timestamps ------------------------------------------------------------------------
STRIPE_QUERY = {"name": "mrr", "interval": "day", "timezone": "UTC", "metrics": [{"id": "m"}]}
STAMPS = st.one_of(
    st.just("2026-03-03T00:00:00Z"),
    st.sampled_from(["2026-03-32T00:00:00Z", "9999-12-31T23:00:00-14:00", "nonsense", 1e20, -1e20, True]),
)


@PURE
@given(st.lists(st.tuples(STAMPS, JSON_SCALARS), min_size=1, max_size=3))
def test_stripe_results_load_exactly_or_fail_the_query(pairs):
    body = {
        "livemode": False,
        "data": [
            {
                "timestamp": stamp,
                "dimensions": {"price": f"p{n}"},
                "results": [{"metric": "m", "name": "mrr", "currency": "usd", "value": value}],
            }
            for n, (stamp, value) in enumerate(pairs)
        ],
    }
    good_stamps = all(stamp == "2026-03-03T00:00:00Z" for stamp, _ in pairs)
    good_values = all(expected_cell(value, pa.int64()) is not BadValue for _, value in pairs)
    try:
        table = columns_to_arrow(stripe.result_columns(STRIPE_QUERY, body, WINDOW), stripe.TYPES, period="period")
    except (BadAnswer, BadValue) as refused:
        assert not (good_stamps and good_values), refused
        assert "\n" not in str(refused)
        return
    assert good_stamps and good_values
    assert table.column("value").to_pylist() == [expected_cell(value, pa.int64()) for _, value in pairs]


def test_a_200_without_the_documented_list_is_never_an_empty_answer():
    """An empty answer deletes the window's stored rows (or closes every definition): a body
    without its list is refused instead (retried as a bad body, or exit 3 for the Whop schema)."""
    maintenance = {"status": "maintenance"}
    assert not stripe.is_metric_query_body(maintenance) and stripe.is_metric_query_body({"data": []})
    assert not whop.is_wallet_body(maintenance) and not whop.is_metric_body(maintenance)
    assert not statsig.is_list_body(maintenance)
    with pytest.raises(BadAnswer):
        whop.schema_rows(maintenance, "groupings")


@pytest.mark.parametrize(
    "field, value, loaded",
    [
        pytest.param("interval", 30, 30, id="integer"),
        pytest.param("interval", "30", 30, id="integer-as-text"),
        pytest.param("interval", 2.5, BadAnswer, id="fraction"),
        pytest.param("interval", True, BadAnswer, id="boolean"),
        pytest.param("display", float("nan"), BadAnswer, id="nan"),
        pytest.param("filters", {"events": [{"name": "\ud800"}]}, BadAnswer, id="nested-lone-surrogate"),
        pytest.param("_dlt_id", "x", BadAnswer, id="dlt-column"),
        pytest.param("Account", "x", BadAnswer, id="our-account-column"),
    ],
)
def test_definitions_load_exactly_or_fail_before_their_snapshot(field, value, loaded):
    """Definitions load as rows (scd2): a snapshot closes what it lacks, so a row that cannot load
    exactly fails the run before any of it loads."""
    from metricsync.sources._common.load.answers import definition_rows
    from metricsync.sources.posthog import helpers as posthog
    from metricsync.sources.posthog import settings as posthog_settings

    rows = [{"id": "m1", "name": "Revenue", field: value}]
    types = posthog.integers(posthog_settings.METRIC_COLUMNS)
    if loaded is BadAnswer:
        with pytest.raises(BadAnswer) as refused:
            definition_rows(rows, "posthog", "group_type_metrics", types)
        assert str(refused.value).startswith("posthog: table group_type_metrics failed (HTTP 200): field ")
        return
    assert definition_rows(rows, "posthog", "group_type_metrics", types)[0][field] == loaded


def test_the_sandbox_serves_a_hostile_answer_through_its_control_endpoint(sandbox):
    """`POST /_sandbox/tamper` (a sandbox in another process, as the demo runs it) edits the next answer."""
    import httpx

    wallet = {"resource_type": "wallet", "from": FIRST.isoformat(), "to": TODAY.isoformat(), "group_by": "day"}
    headers = {"Authorization": "Bearer whop_sandbox_key"}
    tamper = {"path": WALLET, "merge": {"amount": "12abc", "query_name": "other"}, "count": 1}
    assert httpx.post(f"{sandbox.url}/_sandbox/tamper", json=tamper).json() == {"ok": True}
    first, second = (httpx.get(f"{sandbox.url}{WALLET}", params=wallet, headers=headers).json()["data"] for _ in "12")
    assert first[0]["amount"] == "12abc" and first[0]["query_name"] == "other" and "query_name" not in first[1]
    assert second[0]["amount"] != "12abc" and "query_name" not in second[0]  # `count` answers only


# -- through the pipeline: the sandbox answers a hostile 200, the run fails with exit 3 -------------------
TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
FIRST = TODAY - dt.timedelta(days=4)
SETTINGS = {
    "whop": lambda url: {
        "api_key": "whop_sandbox_key",
        "base_url": f"{url}/api/v1",
        "start_date": FIRST.isoformat(),
        "wallet_queries": [{"name": "daily", "group_by": "day"}],
        "lookback_days": 2,
    },
    "statsig": lambda url: {
        "api_key": "console-sandbox-statsig",
        "base_url": url,
        "start_date": FIRST.isoformat(),
        "lookback_days": 2,
    },
    "stripe_analytics": lambda url: {
        "api_key": "sk_test_sandbox_stripe",
        "base_url": url,
        "start_date": FIRST.isoformat(),
        "requests_per_second": 1000,
        "lookback_days": 2,
        "queries": [
            {
                "name": "mrr",
                "metrics": [{"id": "metric_61Sud3n5oAGVCWiSr5"}],
                "interval": "day",
                "currency": "usd",
                "timezone": "Asia/Tokyo",
            }
        ],
    },
    "posthog": lambda url: {"api_key": "phx_sandbox_posthog", "base_url": url, "project_id": "1"},
}
WALLET, SCHEMA = "/api/v1/stats/time_series", "/api/v1/stats/schema"
VALUES, STRIPE = "/console/v1/metrics/values", "/v2/data/analytics/metric_query"


@pytest.fixture(scope="module")
def loaded_once(sandbox_server, tmp_path_factory):
    """A DuckDB file each provider loaded cleanly once (the first run of the issue's cases)."""
    folder = tmp_path_factory.mktemp("hostile")
    path = str(folder / "clean.duckdb")
    from metricsync.runner import run_provider

    sandbox_server.reset()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
        for provider, settings_of in SETTINGS.items():
            configure(patch, provider, **settings_of(sandbox_server.url))
            result = run_provider(provider, "duckdb", None, str(folder / "pipelines"))
            assert result.ok, result.message
    return path


def warehouse_state(duck: Warehouse, provider: str) -> dict:
    """Every row of the provider's dataset (its loads included), to compare before and after a run."""
    tables = sorted(t for t in duck.tables(provider) if not t.startswith("_dlt_pipeline_state"))
    return {t: sorted(map(repr, duck.query(f"select * from {provider}.{t}"))) for t in tables}


def second_run(provider, sandbox, clean, folder, monkeypatch, **overrides):
    """The provider's second run, on a copy of the clean warehouse from a fresh machine (state
    restored from the warehouse): (result, the warehouse before, after, the warehouse)."""
    folder.mkdir()
    path = str(folder / "hostile.duckdb")
    shutil.copy(clean, path)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    configure(monkeypatch, provider, **{**SETTINGS[provider](sandbox.url), **overrides})
    duck = Warehouse("duckdb", path)
    before = warehouse_state(duck, provider)
    from metricsync.runner import run_provider

    result = run_provider(provider, "duckdb", None, str(folder / "pipelines"))
    return result, before, warehouse_state(duck, provider), duck


def assert_refused(result, before, after, provider, named):
    """Exit 3, one line starting with the provider and naming `named`, nothing stored."""
    assert result.exit_code == 3, result.message
    assert result.message.startswith(f"{provider}: ") and "\n" not in result.message and len(result.message) < 400
    for part in named:
        assert part in result.message, result.message
    assert after == before


NAN, SURROGATE = float("nan"), "\ud800"
HOSTILE = [  # (provider, path, tamper, what the one line names)
    pytest.param(
        "whop",
        SCHEMA,
        {"replace": {"status": "maintenance"}},
        ["GET /stats/schema", "field 'reporting_categories' is None", "no reporting_categories list"],
        id="whop-schema-maintenance",
    ),
    pytest.param(
        "whop",
        WALLET,
        {"merge": {"query_name": "other"}, "rows": "all"},
        ["query 'daily' period ", "field 'query_name' is 'other'", "metricsync's own column"],
        id="whop-field-query_name",
    ),
    pytest.param(
        "whop",
        WALLET,
        {"merge": {"line_count": 2.9}},
        ["query 'daily' period ", "field 'line_count' is 2.9: a fraction"],
        id="whop-fraction",
    ),
    pytest.param(
        "whop",
        WALLET,
        {"merge": {"period": "2026-12-32"}},
        ["query 'daily' failed (HTTP 200): field 'period' is '2026-12-32': not a date"],
        id="whop-no-such-date",
    ),
    pytest.param(
        "statsig",
        VALUES,
        {"merge": {"value": 99.5}, "duplicate": True},
        ["GET /metrics/values date ", "a second row for key"],
        id="statsig-one-key-two-rows",
    ),
    pytest.param(
        "statsig",
        VALUES,
        {"merge": {"value": NAN}},
        ["query 'metric_values' period ", "field 'value' is NaN"],
        id="statsig-nan",
    ),
    pytest.param(
        "stripe_analytics",
        STRIPE,
        {"merge": {"value": "12abc"}, "at": "data.results"},
        ["query 'mrr' period ", "field 'value' is '12abc'"],
        id="stripe-text",
    ),
    pytest.param(
        "posthog",
        "/api/projects/1/groups_types/",
        {"merge": {"name_plural": SURROGATE}, "at": ""},
        ["table group_types", "field 'name_plural'"],
        id="posthog-lone-surrogate",
    ),
]


@pytest.mark.parametrize("provider, path, tamper, named", HOSTILE)
def test_a_hostile_answer_fails_in_one_line_and_changes_nothing(
    loaded_once, sandbox, tmp_path, monkeypatch, provider, path, tamper, named
):
    sandbox.tamper(path, **tamper)
    result, before, after, _ = second_run(provider, sandbox, loaded_once, tmp_path / "run", monkeypatch)
    assert_refused(result, before, after, provider, named)


@pytest.mark.parametrize(
    "provider, path, endpoint",
    [
        pytest.param("whop", WALLET, "GET /stats/time_series", id="whop-wallet"),
        pytest.param("statsig", VALUES, "GET /metrics/values", id="statsig-values"),
    ],
)
def test_a_200_without_the_documented_list_in_every_attempt_is_exit_3(
    loaded_once, sandbox, tmp_path, monkeypatch, provider, path, endpoint
):
    """Issue 27: `200 {"status": "maintenance"}` where the rows belong: retried (it may pass), then
    exit 3 in one line showing the answer, nothing stored."""
    sandbox.tamper(path, replace={"status": "maintenance"})
    result, before, after, _ = second_run(provider, sandbox, loaded_once, tmp_path / "run", monkeypatch, max_attempts=2)
    assert_refused(
        result,
        before,
        after,
        provider,
        [endpoint, "(HTTP 200): a JSON body without the documented fields in all 2 attempts", "maintenance"],
    )
    assert len(sandbox.seen(path)) >= 2


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(amount=JSON_SCALARS)
@example(amount=NAN).via("issue 27")
@example(amount=None).via("issue 27")
@example(amount="12abc").via("issue 27")
@example(amount=1.2e20).via("issue 27: within decimal(38, 9), so stored exactly")
def test_whop_amount_loads_exactly_or_fails_with_the_warehouse_unchanged(
    loaded_once, sandbox, tmp_path, monkeypatch, amount
):
    sandbox.reset()
    sandbox.tamper(WALLET, merge={"amount": amount})
    folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    result, before, after, duck = second_run("whop", sandbox, loaded_once, folder, monkeypatch)
    if amount is None or expected_cell(amount, MONEY) is BadValue:
        assert_refused(result, before, after, "whop", ["query 'daily' period ", "field 'amount' is "])
        return
    assert result.ok, result.message
    sent = exact_number(amount)
    assert sent in [Decimal(a) for (a,) in duck.query("select amount from whop.wallet_time_series")]


def test_a_from_before_year_one_in_the_querys_time_zone_is_a_usage_error(sandbox, tmp_path, monkeypatch, capsys):
    """`run stripe_analytics --from 0001-01-01` with an Asia/Tokyo query: its first day starts at
    0000-12-31T15:00Z (issue 27: OverflowError, exit 1). Exit 2, one line, nothing requested."""
    from metricsync.cli import main

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "early.duckdb"))
    configure(monkeypatch, "stripe_analytics", **SETTINGS["stripe_analytics"](sandbox.url))
    code = main(["run", "stripe_analytics", "--from", "0001-01-01", "--pipelines-dir", str(tmp_path / "pipelines")])
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).splitlines() if "0001-01-01" in line]
    assert code == 2, out + err
    assert lines == [
        "stripe_analytics: query 'mrr': --from 0001-01-01 starts its first day on 0001-01-01, before year 1 "
        "in Asia/Tokyo - use a later --from"
    ], out + err
    assert sandbox.seen(STRIPE) == []
