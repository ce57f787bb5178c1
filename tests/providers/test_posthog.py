"""PostHog: group types and group type metrics as scd2 definitions, through real pipeline runs."""

import json

import pytest
from support import configure
from support.posthog import DATASET, GROUP_TYPE_FIELDS, METRIC_FIELDS, _rows, expected_group_types, expected_metrics


@pytest.fixture
def posthog(sandbox, monkeypatch):
    """The PostHog emulator, with the source pointed at it (two projects, pages of 3 metrics)."""
    configure(
        monkeypatch,
        "posthog",
        api_key="phx_sandbox_posthog",
        base_url=sandbox.url,
        project_id="1,2",
        page_size=3,
        max_concurrency=2,
        max_retry_wait=30,
    )
    return sandbox.by_name["posthog"]


def _versions(warehouse, table, where):
    return warehouse.query(
        f"select _dlt_valid_to is null from {DATASET}.{table} where {where} "
        "order by _dlt_valid_from, _dlt_valid_to nulls last"
    )


def test_two_runs_keep_definition_history(sandbox, posthog, warehouse, run):
    first = run("posthog", warehouse)
    assert first.ok, first.message
    assert _rows(warehouse, "group_types", GROUP_TYPE_FIELDS) == expected_group_types(posthog)
    assert _rows(warehouse, "group_type_metrics", METRIC_FIELDS) == expected_metrics(posthog)
    pages = sandbox.seen("/api/projects/1/groups_types/0/metrics/")
    assert [(r.arg("limit"), r.arg("offset")) for r in pages] == [("3", None), ("3", "3"), ("3", "6")]

    renamed, deleted, kept = (posthog.metric("1", 0, n)["id"] for n in (2, 4, 5))
    posthog.settings.update(renamed={renamed: "Weekly active users", "1:1": "Customer"}, deleted=[deleted, "2:0"])
    second = run("posthog", warehouse)
    assert second.ok, second.message
    assert _rows(warehouse, "group_types", GROUP_TYPE_FIELDS) == expected_group_types(posthog)
    assert _rows(warehouse, "group_type_metrics", METRIC_FIELDS) == expected_metrics(posthog)

    metric_names = warehouse.query(
        f"select name, _dlt_valid_to is null from {DATASET}.group_type_metrics "
        f"where id = '{renamed}' order by _dlt_valid_from"
    )
    assert metric_names == [("Active users", False), ("Weekly active users", True)]
    assert _versions(warehouse, "group_type_metrics", f"id = '{deleted}'") == [(False,)]
    assert _versions(warehouse, "group_type_metrics", f"id = '{kept}'") == [(True,)]
    type_names = warehouse.query(
        f"select name_singular, _dlt_valid_to is null from {DATASET}.group_types "
        "where project_id = 1 and group_type_index = 1 order by _dlt_valid_from"
    )
    assert type_names == [("Company", False), ("Customer", True)]
    assert _versions(warehouse, "group_types", "project_id = 2") == [(False,)]
    assert _versions(warehouse, "group_type_metrics", "project_id = 2") == [(False,), (False,)]
    per_id = warehouse.query(
        f"select id, count(*) from {DATASET}.group_type_metrics "
        "where _dlt_valid_to is null group by id having count(*) > 1"
    )
    assert per_id == []


def test_new_field_becomes_a_column(posthog, warehouse, run):
    assert run("posthog", warehouse).ok
    posthog.settings["extra_field"] = ["owner", {"team": "growth", "slack": "#growth"}]
    result = run("posthog", warehouse)
    assert result.ok, result.message
    owners = [
        json.loads(v) if isinstance(v, str) else v
        for (v,) in warehouse.query(f"select owner from {DATASET}.group_type_metrics where _dlt_valid_to is null")
    ]
    assert owners == [{"team": "growth", "slack": "#growth"}] * len(expected_metrics(posthog))
    assert _rows(warehouse, "group_type_metrics", METRIC_FIELDS) == [
        {k: v for k, v in row.items() if k != "owner"} for row in expected_metrics(posthog)
    ]


def test_all_metrics_deleted_closes_every_row(posthog, warehouse, run):
    assert run("posthog", warehouse).ok
    posthog.settings["projects"] = {"1": [["organization", 0], ["company", 0]], "2": [["workspace", 0]]}
    result = run("posthog", warehouse)
    assert result.ok, result.message
    assert _rows(warehouse, "group_type_metrics", METRIC_FIELDS) == []
    assert warehouse.query(f"select count(*) from {DATASET}.group_type_metrics where _dlt_valid_to is not null") == [
        (12,)
    ]
    assert _rows(warehouse, "group_types", GROUP_TYPE_FIELDS) == expected_group_types(posthog)


@pytest.mark.parametrize("header", [pytest.param(True, id="retry-after-header"), pytest.param(False, id="detail-only")])
def test_throttle_is_waited_out(sandbox, posthog, run, header):
    posthog.settings["throttle"] = {"nth": 3, "seconds": 1, "header": header}
    result = run("posthog")
    assert result.ok, result.message
    requests = sandbox.seen("/api/projects/")
    throttled = next(r for r in requests if r.status == 429)
    retry = next(
        r for r in requests if r.started > throttled.started and r.path == throttled.path and r.query == throttled.query
    )
    assert retry.status == 200
    assert retry.started - throttled.started >= 1.0


@pytest.mark.parametrize("header", [pytest.param(True, id="retry-after-header"), pytest.param(False, id="detail-only")])
def test_throttle_longer_than_max_retry_wait_fails_at_once(sandbox, posthog, monkeypatch, run, header):
    configure(monkeypatch, "posthog", max_retry_wait=5)
    posthog.settings["throttle"] = {"nth": 1, "seconds": 900, "header": header}
    result = run("posthog")
    assert result.exit_code == 5
    assert "posthog" in result.message and "900s" in result.message and "max_retry_wait" in result.message
    assert len(sandbox.seen("/api/projects/")) <= 2  # the throttled request and at most one in flight


@pytest.mark.parametrize(
    "settings, emulator, exit_code, expected",
    [
        pytest.param(
            {"api_key": "phx_wrong_key"},
            {},
            4,
            ["HTTP 401", "Authorization header is invalid", "SOURCES__POSTHOG__API_KEY"],
            id="401-bad-key",
        ),
        pytest.param(
            {"api_key": "phx_sandbox_no_usage_metric_scope"},
            {},
            4,
            ["HTTP 403", "usage_metric:read", "group:read"],
            id="403-missing-scope",
        ),
        pytest.param(
            {"project_id": "1,999"},
            {},
            2,
            ["posthog: project 999 not found (404)", "SOURCES__POSTHOG__PROJECT_ID"],
            id="404-unknown-project",
        ),
        pytest.param(
            {},
            {"next_origin": "http://localhost:{port}"},
            3,
            ["refusing to follow a link to another origin", "http://localhost"],
            id="foreign-next-link",
        ),
        pytest.param({"project_id": None}, {}, 2, ["SOURCES__POSTHOG__PROJECT_ID"], id="no-project"),
        pytest.param({"project_id": "12a"}, {}, 2, ["'12a' is not a numeric project id"], id="bad-project"),
        pytest.param(
            {"page_size": 0},
            {},
            2,
            ["posthog: page_size '0' is out of range", "SOURCES__POSTHOG__PAGE_SIZE"],
            id="bad-page-size",
        ),
    ],
)
def test_errors_are_one_line_without_the_key(
    sandbox, posthog, monkeypatch, run, settings, emulator, exit_code, expected
):
    configure(monkeypatch, "posthog", **settings)
    posthog.settings.update({k: v.format(port=sandbox.port) for k, v in emulator.items()})
    result = run("posthog")
    assert result.exit_code == exit_code, result.message
    for text in expected:
        assert text in result.message
    assert "\n" not in result.message
    assert settings.get("api_key", "phx_sandbox_posthog") not in result.message
    assert not [r for r in sandbox.seen("/") if r.header("host").startswith("localhost")]


@pytest.mark.parametrize(
    "project_id, projects",
    [
        pytest.param("2", {"2"}, id="one-id"),
        pytest.param("[1, 2]", {"1", "2"}, id="json-list"),
        pytest.param(" 2, 1,2 ", {"1", "2"}, id="comma-list-with-repeats"),
    ],
)
def test_project_id_forms(sandbox, posthog, monkeypatch, run, project_id, projects):
    configure(monkeypatch, "posthog", project_id=project_id)
    result = run("posthog")
    assert result.ok, result.message
    listings = sandbox.seen("/api/projects/", "GET")
    types_calls = [r.path.split("/")[3] for r in listings if r.path.endswith("/groups_types/")]
    assert sorted(types_calls) == sorted(projects)
    assert {r.path.split("/")[3] for r in listings} == projects


def test_requests_stay_within_max_concurrency(sandbox, posthog, run):
    sandbox.latency, sandbox.max_in_flight = 0.05, 2
    result = run("posthog")
    assert result.ok, result.message
    assert not [r for r in sandbox.seen("/api/projects/") if r.fault == "concurrency"]
    assert sandbox.peak_in_flight == 2  # the cap was reached, not just kept
    assert all(r.header("authorization") == "Bearer phx_sandbox_posthog" for r in sandbox.seen("/api/projects/"))
