"""`verify`: the warehouse compared with the sandbox row for row, on DuckDB and Postgres, for Whop
(wallet and metric results), Stripe and Statsig values; drift from an upstream restatement older
than the lookback and from hand edits, found (exit 9) and repaired through the normal load path.

One warehouse per destination is loaded once for the module; each test works on its own copy
(a copied DuckDB file, a Postgres database made from it as a template)."""

import datetime as dt
import json
import shutil
from collections import Counter
from decimal import Decimal

import pytest
import support.posthog as posthog_truth
import support.statsig as statsig_truth
import support.stripe as stripe
import support.whop as whop
from support import Warehouse, _warehouse, configure, postgres_database

WALLET = whop.WALLET_QUERIES[:2]  # daily_all (day), weekly_usd (week)
METRICS = whop.METRIC_QUERIES[:2]  # gross_by_country (daily, by country), users_weekly
STRIPE = [stripe.DAILY_BY_PRICE, stripe.WEEKLY]
STRIPE_DAYS, STATSIG_DAYS = 60, 36
RESTATED = 4  # days, ending AGO days back: far beyond the lookback (3 days)
AGO = 30
PROVIDERS = ("whop", "stripe_analytics", "statsig")
DATA_TABLES = {
    "whop": ("wallet_time_series", "metric_results"),
    "stripe_analytics": ("metric_results",),
    "statsig": ("metric_values",),
}


def configure_all(monkeypatch, sandbox) -> None:
    whop.setup_whop(monkeypatch, sandbox, wallet_queries=WALLET, metric_queries=METRICS)
    stripe.setup(monkeypatch, sandbox, STRIPE, days=STRIPE_DAYS)
    statsig_truth.setup(monkeypatch, sandbox, STATSIG_DAYS)
    configure(monkeypatch, "posthog", api_key="phx_sandbox_posthog", base_url=sandbox.url, project_id="1,2")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request, sandbox_server, tmp_path_factory):
    """The three providers loaded once into a warehouse (the base every test copies)."""
    from metricsync.runner import run_provider

    folder = tmp_path_factory.mktemp("verify-base")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        monkeypatch.setenv("DLT_DATA_DIR", str(folder / "dlt_data"))
        sandbox_server.reset()
        configure_all(monkeypatch, sandbox_server)
        for base in _warehouse(request.param, folder, monkeypatch):
            for provider in (*PROVIDERS, "posthog"):
                result = run_provider(provider, base.name, None, str(folder / "pipelines"))
                assert result.ok, result.message
            yield base


@pytest.fixture
def wh(loaded, sandbox, monkeypatch, isolated):
    """This test's copy of the loaded warehouse, with the providers configured."""
    configure_all(monkeypatch, sandbox)
    if loaded.name == "duckdb":
        path = str(isolated / "copy.duckdb")
        shutil.copy(loaded.credentials, path)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
        yield Warehouse("duckdb", path)
        return
    with postgres_database("ms_verify", template=loaded.credentials.rsplit("/", 1)[1]) as credentials:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", credentials)
        yield Warehouse("postgres", credentials)


def verify(capsys, wh, isolated, *args):
    from metricsync.cli import main

    capsys.readouterr()
    code = main(["verify", *args, "--destination", wh.name, "--pipelines-dir", str(isolated / "pipelines")])
    out, err = capsys.readouterr()
    return code, out, err


def counts(wh) -> dict:
    tables = {f"{p}.{t}" for p, names in DATA_TABLES.items() for t in names}
    tables |= {f"{p}._dlt_loads" for p in PROVIDERS}
    return {t: wh.query(f"select count(*) from {t}")[0][0] for t in sorted(tables)}


def assert_equals_sandbox(wh, sandbox) -> None:
    """Every row as the sandbox's own truth says, for every query."""
    emulator = sandbox.by_name["whop"]
    for query in WALLET:
        assert whop.loaded_wallet(wh, query["name"]) == whop.expected_wallet(emulator, query), query["name"]
    for query in METRICS:
        assert whop.loaded_metric(wh, query["name"]) == whop.expected_metric(emulator, query), query["name"]
    first = stripe.TODAY - dt.timedelta(days=STRIPE_DAYS)
    for query in STRIPE:
        assert stripe.loaded(wh, query["name"]) == stripe.expected(sandbox, query, first), query["name"]
    first = statsig_truth.TODAY - dt.timedelta(days=STATSIG_DAYS)
    assert statsig_truth.warehouse_values(wh) == statsig_truth.expected_values(
        sandbox.by_name["statsig"], statsig_truth.days(first)
    )


def span(first: dt.date, last: dt.date) -> str:
    return f"{first}..{last}"


def test_a_clean_warehouse_verifies_clean_and_nothing_is_written(wh, sandbox, capsys, isolated):
    before = counts(wh)
    code, out, err = verify(capsys, wh, isolated, *PROVIDERS, "--all")
    assert code == 0, out + err
    assert [line.split(":")[0] for line in out.splitlines()] == list(PROVIDERS)
    assert all(", 0 periods drifted," in line for line in out.splitlines())
    assert counts(wh) == before  # no row and no dlt load more
    # status reads the verification back, per query
    from metricsync.cli import main

    assert main(["status", "whop", "--json", "--destination", wh.name]) == 0
    entries = json.loads(capsys.readouterr().out)
    verified = {e["query"] or e["resource"]: e["last_verified"] for e in entries}
    definitions = {"wallet_reporting_categories", "wallet_groupings", "wallet_line_categories"}
    assert set(verified) == {q["name"] for q in WALLET + METRICS} | definitions
    assert all(v["clean"] and v["rows"] > 0 and not v["repaired"] for v in verified.values())


def test_an_old_restatement_is_found_and_repaired(wh, sandbox, capsys, isolated):
    restated = sandbox.restate(RESTATED, ago=AGO)
    first, last = restated[0], restated[-1]
    code, out, err = verify(capsys, wh, isolated, *PROVIDERS, "--all")
    assert code == 9, out + err
    for name in ("whop daily_all", "whop gross_by_country", "stripe_analytics mrr_by_price", "statsig metric_values"):
        assert f"{name}: {RESTATED} periods drifted ({span(first, last)})," in out, out
    assert "whop weekly_usd: " in out

    sandbox.clear_log()
    code, out, err = verify(capsys, wh, isolated, *PROVIDERS, "--all", "--repair")
    assert code == 0, out + err
    assert out.count("re-verify clean") == 3, out
    assert_equals_sandbox(wh, sandbox)
    # every stored day asked once; the drifted ones (Statsig windows are single days) again by the
    # repair's load and its re-verify
    asked = Counter(r.arg("date") for r in sandbox.seen(statsig_truth.VALUES))
    assert {day for day, n in asked.items() if n > 1} == {str(d) for d in restated}
    assert {asked[str(d)] for d in restated} == {3}
    code, out, _err = verify(capsys, wh, isolated, *PROVIDERS, "--all")
    assert code == 0, out


def test_rows_the_api_restated_away_are_found_extra_and_deleted_by_the_repair(wh, sandbox, capsys, isolated):
    """A restatement that drops dimension values (currencies, countries) upstream: the stored rows
    are extra, the dimension set changed, and the repair's delete-insert removes them."""
    if wh.name != "duckdb":
        pytest.skip("the delete-insert is tested on both destinations by the other repairs")
    for provider in ("whop", "stripe_analytics"):
        sandbox.by_name[provider].settings["revision_deletes"] = True
    restated = sandbox.restate(RESTATED, ago=AGO)
    code, out, err = verify(capsys, wh, isolated, *PROVIDERS, "--all", "--json")
    assert code == 9, out + err
    drifted = {r["query"]: r for r in json.loads(out) if not r["clean"]}
    assert "mrr_by_price" in drifted  # by price: customers dropped change the sums, not the prices
    for query in ("daily_all", "gross_by_country"):
        assert drifted[query]["extra"] > 0 and drifted[query]["dimension_set_changes"] > 0, drifted[query]
        assert set(drifted[query]["drifted_periods"]) <= {str(d) for d in restated}
    code, out, err = verify(capsys, wh, isolated, *PROVIDERS, "--all", "--repair")
    assert code == 0, out + err
    assert "dimension set changed in" in out
    assert_equals_sandbox(wh, sandbox)


def execute(wh, statements) -> None:
    if wh.name == "duckdb":
        import duckdb

        with duckdb.connect(wh.credentials) as conn:
            for sql in statements:
                conn.execute(sql)
        return
    import psycopg2

    conn = psycopg2.connect(wh.credentials)
    try:
        with conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def test_a_seeded_sample_is_repeatable_and_weighted_to_old_data(wh, sandbox, capsys, isolated):
    if wh.name != "duckdb":
        pytest.skip("the pick does not depend on the destination")

    def asked(seed):
        sandbox.clear_log()
        code, out, err = verify(capsys, wh, isolated, "statsig", "--sample", "5", "--seed", str(seed))
        assert code == 0, out + err
        assert "statsig: 5 windows checked" in out
        return sorted(r.arg("date") for r in sandbox.seen(statsig_truth.VALUES))

    picked = asked(11)
    assert len(set(picked)) == 5
    assert asked(11) == picked
    assert any(asked(seed) != picked for seed in (12, 13))
    # --max-requests caps the windows fetched
    sandbox.clear_log()
    code, out, err = verify(capsys, wh, isolated, "statsig", "--all", "--max-requests", "3")
    assert code == 0 and "statsig: 3 windows checked" in out, out + err
    assert len({r.arg("date") for r in sandbox.seen(statsig_truth.VALUES)}) == 3
    # weighted toward old data: over many seeds, the older half of the 37 days is picked more
    import random

    from metricsync.verification.choose import sample

    windows = list(range(37))
    older = sum(w < 18 for seed in range(200) for w in sample(windows, 5, random.Random(seed)))
    assert older > 0.6 * 200 * 5


def test_a_large_plan_is_announced_and_capped(wh, sandbox, capsys, isolated):
    """Over 500 windows to fetch: the count is printed first; --max-requests fetches only that many
    (the oldest first with --all): here the first two of 560 days holding a row typed in by hand
    where nothing was loaded (each row extra, the API's rows of its day missing); the days between
    them and the loaded ones are reported as not loaded."""
    if wh.name != "duckdb":
        pytest.skip("the plan does not depend on the destination")
    old = statsig_truth.TODAY - dt.timedelta(days=600)
    hand = 560
    execute(
        wh,
        [
            "insert into statsig.metric_values (date, metric_name, metric_type, unit_type, value, _dlt_load_id) "
            "select cast(d as date), 'hand_made', 'sum', '', 1.5, '1' from "
            f"range(date '{old}', date '{old + dt.timedelta(days=hand)}', interval 1 day) t(d)"
        ],
    )
    sandbox.clear_log()
    code, out, err = verify(capsys, wh, isolated, "statsig", "--all", "--max-requests", "2")
    assert code == 9, out + err
    lines = out.splitlines()
    windows = hand + STATSIG_DAYS + 1
    assert lines[0] == f"statsig: {windows} windows to verify, a request or more each; --max-requests: 2 of them", out
    assert lines[1].startswith("statsig: 2 windows checked")
    assert lines[2].startswith(f"statsig metric_values: 2 periods drifted ({old}..{old + dt.timedelta(days=1)}), ")
    assert lines[2].endswith(" rows missing, 2 rows extra, dimension set changed in 2 periods")
    gap = (old + dt.timedelta(days=hand), statsig_truth.TODAY - dt.timedelta(days=STATSIG_DAYS + 1))
    assert lines[3] == f"statsig metric_values: not loaded {gap[0]}..{gap[1]} (4 days; not verified, not drift)", out
    assert sorted({r.arg("date") for r in sandbox.seen(statsig_truth.VALUES)}) == [
        str(old),
        str(old + dt.timedelta(days=1)),
    ]


def test_a_one_cent_change_is_found_exactly(wh, sandbox, capsys, isolated):
    """A one-cent change in a large Whop amount is found (exact decimals, never floats)."""
    day = stripe.TODAY - dt.timedelta(days=40)
    execute(
        wh,
        [
            f"update whop.wallet_time_series set amount = amount + 0.01 where query_name = 'daily_all' "
            f"and period = '{day}' and currency = 'usd'"
        ],
    )
    code, out, _err = verify(
        capsys, wh, isolated, "whop", "--queries", "daily_all", "--from", str(day), "--to", str(day)
    )
    assert code == 9, out
    assert f"whop daily_all: 1 period drifted ({day}), 1 row changed, max |Δ| 0.01 usd" in out, out


def test_the_readme_weekly_verify_cron_line_works_as_written(sandbox, isolated):
    """The README's weekly `verify --sample 50 --repair` line, run by /bin/sh from a folder holding
    `.env` (made from `.env.example` with the sandbox's Whop settings) after a nightly `run`, with
    an old restatement in between: the line exits 0 and its log shows the repair."""
    import re
    import shlex
    import subprocess

    from support import ROOT, clock_env, require
    from support.processes import run_command

    script = ROOT / ".venv" / "bin" / "metricsync"
    require(
        "METRICSYNC_REQUIRE_VENV",
        None if script.exists() else f"no {script}",
        "the console script `make install` puts in .venv",
    )
    blocks = re.findall(r"```cron\n(.+?)\n```", (ROOT / "docs" / "getting-started.md").read_text(), re.S)
    line = next(block for block in blocks if " verify " in block)
    command = line.split(None, 5)[5].replace("/opt/metricsync", str(isolated / "opt"))
    workdir = isolated / "opt"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    env_file = [l for l in (ROOT / ".env.example").read_text().splitlines() if not l.startswith("SOURCES__")]
    settings = {
        **sandbox.by_name["whop"].demo_settings(sandbox.url),
        "start_date": (whop.TODAY - dt.timedelta(days=70)).isoformat(),
    }
    for key, value in settings.items():
        text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
        env_file.append(f"SOURCES__WHOP__{key.upper()}={shlex.quote(text)}")
    (workdir / ".env").write_text("\n".join(env_file) + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(isolated), "DLT_DATA_DIR": str(isolated / "dlt_data"), **clock_env()}

    def shell(text: str) -> int:
        return run_command(
            ["/bin/sh", "-c", text], timeout=600, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode

    nightly = f"cd {workdir} && set -a && . ./.env && set +a && .venv/bin/metricsync run whop --progress none"
    assert shell(nightly) == 0
    restated = sandbox.restate(3, ago=40)
    code = shell(command)
    log = (workdir / "verify.log").read_text()
    assert code == 0, log
    assert f"whop daily_all: 3 periods drifted ({restated[0]}..{restated[-1]})" in log, log
    assert log.splitlines()[-1].startswith("whop: repaired ") and log.endswith("re-verify clean\n"), log


def test_dagster_runs_verify_as_an_asset_check(sandbox, monkeypatch, isolated):
    """The Dagster deployment's `verify` check on Whop's tables, run in-process: it passes on a
    fresh load, fails on an old restatement, and the weekly verify job (repair on) reloads it."""
    from support import require_module

    dagster = require_module("dagster", "METRICSYNC_REQUIRE_DAGSTER", "the dagster extra (make test installs it)")
    import importlib.util

    from support import ROOT

    whop.setup_whop(monkeypatch, sandbox, wallet_queries=WALLET[:1], metric_queries=METRICS[:1])
    path = str(isolated / "dagster.duckdb")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", path)
    spec = importlib.util.spec_from_file_location("metricsync_dagster_verify", ROOT / "deploy/dagster/definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defs = module.build_definitions(["whop"], "duckdb")
    assets = defs.get_assets_def("dlt_whop_wallet_time_series")
    check = next(iter(defs.asset_checks))
    instance = dagster.DagsterInstance.ephemeral()
    assert dagster.materialize([assets], partition_key="default", instance=instance).success

    def evaluate(config=None):
        result = dagster.materialize(
            [assets, check],
            instance=instance,
            selection=dagster.AssetSelection.all_asset_checks(),
            run_config={"ops": {"whop_verify": {"config": config or {}}}},
            raise_on_error=False,
        )
        return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}

    evaluations = evaluate()
    assert set(evaluations) == {"dlt_whop_wallet_time_series", "dlt_whop_metric_results"}
    assert all(e.passed for e in evaluations.values())
    sandbox.restate(2, ago=40)
    evaluations = evaluate()
    assert not any(e.passed for e in evaluations.values())
    assert "2 periods drifted" in evaluations["dlt_whop_wallet_time_series"].metadata["drift"].text
    # the weekly job (the checks alone, sample 50, repair on) repairs it; the nightly job leaves verify out
    assert [n.name for n in defs.resolve_job_def("whop_nightly").graph.node_defs] == ["whop"]
    weekly = defs.resolve_job_def("whop_weekly_verify").execute_in_process(instance=instance)
    assert weekly.success and all(e.passed for e in weekly.get_asset_check_evaluations())
    assert all(e.passed for e in evaluate().values())
    assert whop.loaded_wallet(Warehouse("duckdb", path), "daily_all") == whop.expected_wallet(
        sandbox.by_name["whop"], WALLET[0]
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["verify", "whop", "--to", "2026-01-01"],
            "metricsync: --to needs --from - give the first day of the backfill",
        ),
        (["verify", "whop", "--sample", "0"], "--sample"),
        (["verify", "whop", "--queries", "weekley"], "whop: no query 'weekley'"),
    ],
)
def test_verify_usage_errors_are_one_line(capsys, monkeypatch, isolated, argv, message):
    from metricsync.cli import main

    whop.setup_whop(monkeypatch, sandbox=type("Box", (), {"url": "http://127.0.0.1:9"})(), wallet_queries=WALLET)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "none.duckdb"))
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_verify_help_has_examples(capsys):
    from metricsync.cli import main

    with pytest.raises(SystemExit) as done:
        main(["verify", "--help"])
    assert done.value.code == 0
    assert "examples:\n  metricsync verify all" in capsys.readouterr().out


def test_accounts_are_verified_and_repaired_one_by_one(sandbox, monkeypatch, isolated, capsys):
    """With accounts, each account's rows are compared with its own pipeline's answer: a hand edit
    in one account is named with the account and repaired there only."""
    from metricsync.cli import main
    from support import configure

    configure(
        monkeypatch,
        "whop",
        api_key=whop.KEY,
        base_url=f"{sandbox.url}/api/v1",
        start_date=(whop.TODAY - dt.timedelta(days=30)).isoformat(),
        wallet_queries=WALLET[:1],
        accounts=[{"name": "north", "account_id": "biz_north"}, {"name": "east", "account_id": "biz_east"}],
    )
    wh = Warehouse("duckdb", str(isolated / "accounts.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", wh.credentials)
    pipelines = str(isolated / "pipelines")
    assert main(["run", "whop", "--pipelines-dir", pipelines]) == 0
    day = whop.TODAY - dt.timedelta(days=10)
    execute(
        wh,
        [
            f"update whop.wallet_time_series set line_count = line_count + 1 where account = 'north' "
            f"and period = '{day}' and currency = 'eur'"
        ],
    )
    east = wh.query("select period, currency, amount, line_count from whop.wallet_time_series where account = 'east'")
    capsys.readouterr()
    assert main(["verify", "whop", "--all", "--pipelines-dir", pipelines]) == 9
    out = capsys.readouterr().out
    assert f"whop (account north) daily_all: 1 period drifted ({day}), 1 row changed, max |Δ| 1.00 eur" in out, out
    assert "whop (account east): 1 window checked" in out and "east) daily_all" not in out, out
    assert main(["verify", "whop", "--all", "--accounts", "north", "--repair", "--pipelines-dir", pipelines]) == 0
    assert main(["verify", "whop", "--all", "--pipelines-dir", pipelines]) == 0
    assert (
        wh.query("select period, currency, amount, line_count from whop.wallet_time_series where account = 'east'")
        == east
    )


EDIT_DAY = stripe.TODAY - dt.timedelta(days=20)
# (what, SQL, (provider, query or definition table), expected: a count, SQL counting it before the edit, or a text)
EDITS = [
    (
        "a stored row twice",
        f"insert into whop.wallet_time_series select * from whop.wallet_time_series where "
        f"query_name = 'daily_all' and period = '{EDIT_DAY}' and currency = 'usd'",
        ("whop", "daily_all"),
        {"duplicated": 1, "missing": 0, "extra": 0, "changed": 0},
    ),
    (
        "every row of a query deleted",
        "delete from whop.wallet_time_series where query_name = 'weekly_usd'",
        ("whop", "weekly_usd"),
        {
            "missing": "select count(*) from whop.wallet_time_series where query_name = 'weekly_usd'",
            "extra": 0,
            "duplicated": 0,
        },
    ),
    (
        "values changed",
        f"update whop.metric_results set value = value + 1 where query_name = 'gross_by_country' "
        f"and period = '{EDIT_DAY}'",
        ("whop", "gross_by_country"),
        {
            "changed": f"select count(*) from whop.metric_results where query_name = 'gross_by_country' and period = '{EDIT_DAY}'",
            "max_abs_delta": "1.00",
            "missing": 0,
        },
    ),
    (
        "a row deleted",
        f"delete from whop.wallet_time_series where query_name = 'daily_all' and period = '{EDIT_DAY}' "
        "and currency = 'eur'",
        ("whop", "daily_all"),
        {"missing": 1},
    ),
    (
        "values lowered",
        f"update stripe_analytics.metric_results set value = value - 7 where query_name = 'mrr_by_price' "
        f"and period = '{EDIT_DAY}'",
        ("stripe_analytics", "mrr_by_price"),
        {
            "changed": "select count(*) from stripe_analytics.metric_results where query_name = 'mrr_by_price' and "
            f"period = '{EDIT_DAY}'",
            "max_abs_delta": "7.00",
            "missing": 0,
        },
    ),
    (
        "a day deleted",
        f"delete from statsig.metric_values where date = '{EDIT_DAY - dt.timedelta(days=1)}'",
        ("statsig", "metric_values"),
        {"missing": f"select count(*) from statsig.metric_values where date = '{EDIT_DAY - dt.timedelta(days=1)}'"},
    ),
    (
        "a NaN stored",
        f"update statsig.metric_values set value = 'NaN' where date = '{EDIT_DAY}' and metric_name = "
        f"(select min(metric_name) from statsig.metric_values where date = '{EDIT_DAY}')",
        ("statsig", "metric_values"),
        {"changed": 1},
    ),
    (
        "a row the API never had",
        "insert into statsig.metric_values (date, metric_name, metric_type, unit_type, value, "
        f"_dlt_load_id) values ('{EDIT_DAY}', 'hand_made', 'sum', '', 1.5, '1')",
        ("statsig", "metric_values"),
        {"extra": 1, "missing": 0},
    ),
    (
        "a definition edited in place",
        "update whop.wallet_line_categories set description = 'edited by hand' where "
        "_dlt_valid_to is null and key = (select min(key) from whop.wallet_line_categories)",
        ("whop", "wallet_line_categories"),
        {"changed": 1, "missing": 0, "extra": 0},
    ),
    (
        "a definition twice",
        "insert into posthog.group_type_metrics select * from posthog.group_type_metrics "
        "where id = (select min(id) from posthog.group_type_metrics)",
        ("posthog", "group_type_metrics"),
        {"duplicated": 1, "missing": 0, "extra": 0},
    ),
    (
        "a current definition closed by hand",
        "update posthog.group_types set _dlt_valid_to = _dlt_valid_from where project_id = 1 and group_type_index = 1",
        ("posthog", "group_types"),
        {"missing": 1, "extra": 0},
    ),
]


def test_drift_of_every_kind_is_found_and_repaired(wh, sandbox, capsys, isolated):
    """Duplicated, missing (a whole query), changed, extra and non-finite rows, definitions edited,
    duplicated, closed, and renamed upstream: each found with its count, one `--repair` fixes all
    of them, and the re-verify and a later verify are clean."""
    expected: dict = {}
    for _what, sql, who, counts in EDITS:
        wanted = {k: wh.query(v)[0][0] if str(v).startswith("select") else v for k, v in counts.items()}
        totals = expected.setdefault(who, {})
        totals.update({k: totals.get(k, 0) + n if isinstance(n, int) else n for k, n in wanted.items()})
        execute(wh, [sql])
    emulator = sandbox.by_name["whop"]
    grouping = emulator.schema()["groupings"][0]["key"]
    emulator.settings["renamed"] = {grouping: "Renamed upstream"}
    expected["whop", "wallet_groupings"] = {"missing": 1, "extra": 1, "changed": 0}

    providers = (*PROVIDERS, "posthog")
    code, out, err = verify(capsys, wh, isolated, *providers, "--all", "--json")
    assert code == 9, out + err
    found = {(r["provider"], r["query"] or r["resource"]): r for r in json.loads(out) if not r["clean"]}
    assert set(found) == set(expected), found
    for who, counts in expected.items():
        assert {k: found[who][k] for k in counts} == counts, who

    code, out, err = verify(capsys, wh, isolated, *providers, "--all", "--repair")
    assert code == 0, out + err
    assert out.count("re-verify clean") == 4, out
    assert "whop: repaired 3 queries and 2 definition tables in " in out, out
    assert_equals_sandbox(wh, sandbox)
    assert wh.query(f"select name from whop.wallet_groupings where _dlt_valid_to is null and key = '{grouping}'") == [
        ("Renamed upstream",)
    ]
    posthog = sandbox.by_name["posthog"]
    assert posthog_truth._rows(
        wh, "group_types", posthog_truth.GROUP_TYPE_FIELDS
    ) == posthog_truth.expected_group_types(posthog)
    assert posthog_truth._rows(wh, "group_type_metrics", posthog_truth.METRIC_FIELDS) == posthog_truth.expected_metrics(
        posthog
    )
    code, out, err = verify(capsys, wh, isolated, *providers, "--all")
    assert code == 0, out + err


def test_windows_sliced_across_items_compare_exactly(wh, sandbox, capsys, isolated, monkeypatch):
    """A window larger than the rows a load hands dlt per item (lowered here from 50,000 to 40) is
    compared whole: a clean warehouse verifies clean, and one edit in it is exactly one row."""
    if wh.name != "duckdb":
        pytest.skip("the slicing does not depend on the destination")
    from metricsync.sources._common.load import batch

    monkeypatch.setattr(batch, "BATCH_ROWS", 40)
    code, out, err = verify(capsys, wh, isolated, "whop", "--queries", "daily_all", "--all")
    assert code == 0 and ", 0 periods drifted," in out, out + err
    assert wh.query("select count(*) from whop.wallet_time_series where query_name = 'daily_all'")[0][0] > 40
    execute(
        wh,
        [
            f"update whop.wallet_time_series set line_count = line_count + 1 where query_name = 'daily_all' "
            f"and period = '{EDIT_DAY}' and currency = 'usd'"
        ],
    )
    code, out, err = verify(capsys, wh, isolated, "whop", "--queries", "daily_all", "--all", "--repair")
    assert code == 0, out + err
    assert f"whop daily_all: 1 period drifted ({EDIT_DAY}), 1 row changed, max |Δ| 1.00 usd" in out, out
    assert_equals_sandbox(wh, sandbox)


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_a_provider_never_loaded_has_nothing_stored_yet(sandbox, monkeypatch, isolated, capsys, destination):
    from contextlib import nullcontext

    from metricsync.cli import main

    configure_all(monkeypatch, sandbox)
    database = postgres_database("ms_never") if destination == "postgres" else nullcontext(str(isolated / "n.duckdb"))
    with database as credentials:
        monkeypatch.setenv(f"DESTINATION__{destination.upper()}__CREDENTIALS", credentials)
        capsys.readouterr()
        assert main(["verify", "all", "--destination", destination]) == 0
        out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{p}: nothing stored yet" for p in ("whop", "stripe_analytics", "posthog", "statsig")
    ], out + err
    assert not sandbox.requests


def test_a_range_never_loaded_is_reported_not_drift_and_loaded_by_fill_gaps(sandbox, monkeypatch, isolated, capsys):
    """Two backfills with days between them never loaded: `verify` reports those days as not
    loaded and exits 0 (with drift elsewhere, `--repair` repairs it and still does not load them);
    the command it advises loads them, and the next verify checks them."""
    import shlex

    from metricsync.cli import main

    configure(monkeypatch, "statsig", api_key="console-sandbox-statsig", base_url=sandbox.url)
    wh = Warehouse("duckdb", str(isolated / "gaps.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", wh.credentials)
    first = statsig_truth.TODAY - dt.timedelta(days=30)
    gap = (first + dt.timedelta(days=3), first + dt.timedelta(days=9))
    for days in ((0, 2), (10, 12)):
        assert (
            main(
                [
                    "run",
                    "statsig",
                    *("--from", str(first + dt.timedelta(days=days[0]))),
                    *("--to", str(first + dt.timedelta(days=days[1]))),
                ]
            )
            == 0
        )
    execute(
        wh,
        [
            f"insert into statsig.metric_values select * from statsig.metric_values where date = '{first}' "
            "and metric_name = (select min(metric_name) from statsig.metric_values)"
        ],
    )
    not_loaded = f"statsig metric_values: not loaded {gap[0]}..{gap[1]} (7 days; not verified, not drift)"
    advice = "statsig: to load what was never loaded, run: metricsync verify statsig --fill-gaps"
    sandbox.clear_log()
    capsys.readouterr()
    assert main(["verify", "statsig", "--all", "--repair"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"statsig metric_values: 1 period drifted ({first}), 1 row duplicated"), out
    assert out[2:4] == [not_loaded, advice] and out[4].endswith("re-verify clean"), out
    never = {str(day) for day in statsig_truth.days(*gap)}
    assert not never & {r.arg("date") for r in sandbox.seen(statsig_truth.VALUES)}
    assert main(["verify", "statsig", "--all", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["not_loaded"] for r in found if r["query"]] == [[[str(gap[0]), str(gap[1])]]]
    assert main(shlex.split(advice.split("run: ", 1)[1])[1:]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("statsig: loaded 1 range never loaded in 1 load")
    assert statsig_truth.warehouse_values(wh) == statsig_truth.expected_values(
        sandbox.by_name["statsig"], statsig_truth.days(first, first + dt.timedelta(days=12))
    )
    assert main(["verify", "statsig", "--all"]) == 0
    assert capsys.readouterr().out.startswith("statsig: 13 windows checked, ")


UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "api, stored, equal",
    [
        (Decimal("7.000000000"), Decimal("7"), True),  # decimals of different scale
        (Decimal("0.1"), Decimal("0.10000000001"), False),  # exact: no float rounding
        (12345678901234567, 12345678901234568, False),  # integers beyond a double's precision
        (0.1, 0.1, True),  # a double column: the same double
        (Decimal("0.1"), 0.1, True),  # stored as double: compared as the double a load writes
        (0.30000000000000004, 0.3, False),
        (
            dt.datetime(2026, 1, 1, 12, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 7, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            True,
        ),
        ({"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}', True),  # JSON parsed on one side, text on the other
        ("usd", "eur", False),
        (None, None, True),
        (None, 0, False),
        (True, 1, True),  # MariaDB keeps a boolean as 0/1
        (True, 0, False),
        (float("nan"), float("nan"), True),  # non-finite values compare without an error
        (Decimal("NaN"), float("nan"), True),
        (float("inf"), Decimal("Infinity"), True),
        (float("-inf"), float("inf"), False),
        (0.5, float("nan"), False),
        (Decimal("sNaN"), Decimal("1"), False),
    ],
)
def test_values_are_compared_exactly(api, stored, equal):
    from metricsync.verification.compare import same

    assert same(api, stored) is equal


def test_a_warehouse_loaded_by_backfill_only_verifies_without_start_date(sandbox, monkeypatch, isolated, capsys):
    """No start_date (everything came from `run --from/--to`): verify still plans the stored days."""
    from metricsync.cli import main
    from support import configure

    configure(monkeypatch, "statsig", api_key="console-sandbox-statsig", base_url=sandbox.url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "backfill.duckdb"))
    first = statsig_truth.TODAY - dt.timedelta(days=20)
    pipelines = str(isolated / "pipelines")
    assert (
        main(
            [
                "run",
                "statsig",
                "--from",
                str(first),
                "--to",
                str(first + dt.timedelta(days=4)),
                "--pipelines-dir",
                pipelines,
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["verify", "statsig", "--all", "--pipelines-dir", pipelines]) == 0
    assert capsys.readouterr().out.startswith("statsig: 5 windows checked, ")


def test_batched_windows_are_split_by_their_tombstones():
    """A load hands dlt several windows in one table (rows, then one tombstone per day, window after
    window); verify splits them back: a row after tombstones, or a tombstone that is not the next
    day of the same query, starts the next window. An empty window right after another of the same
    query comes back joined to it (the same comparison: no API row in those days)."""
    from metricsync.sources._common.load.windows import Window
    from metricsync.verification.api import TableKeys, _segments

    d = lambda n: dt.date(2026, 1, n)  # noqa: E731
    row = lambda q, n: {"query_name": q, "period": d(n), "value": n}  # noqa: E731
    mark = lambda q, n: {"query_name": q, "period": d(n), "_tombstone": True}  # noqa: E731
    rows = [
        row("a", 1),
        row("a", 2),
        mark("a", 1),
        mark("a", 2),  # a: [1, 3) with two rows
        mark("a", 3),
        mark("a", 4),  # a: [3, 5) empty and adjacent: comes back joined, as [1, 5)
        row("b", 1),
        mark("b", 1),
        mark("b", 2),  # b: [1, 3)
        mark("a", 5),
        mark("a", 6),
    ]  # a: [5, 7) empty, another query before it
    keys = TableKeys(("query_name", "period"), "period", "query_name")
    found = [(q, w, [r["value"] for r in data]) for q, w, data in _segments(rows, keys, "metric_results")]
    assert found == [("a", Window(d(1), d(5)), [1, 2]), ("b", Window(d(1), d(3)), [1]), ("a", Window(d(5), d(7)), [])]
