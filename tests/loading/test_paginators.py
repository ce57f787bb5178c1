"""Unit tests for the pagination strategies, each driven through `ApiClient.pages` over an
httpx.MockTransport fake that serves scripted pages and records the requests it saw."""

import json
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl

import httpx
import pytest
from metricsync.sources._common import (
    ApiClient,
    ApiError,
    BodyCursorPaginator,
    NextUrlPaginator,
    PageNumberPaginator,
    PageTokenPaginator,
    Request,
    RetryPolicy,
    SinglePage,
    dig,
)

BASE = "https://api.example.com"


class Pages:
    """Serves `bodies` in order (the last one again if asked for more) and logs every request."""

    def __init__(self, *bodies: Any):
        self.bodies = list(bodies)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = self.bodies[min(len(self.seen), len(self.bodies) - 1)]
        self.seen.append(request)
        return httpx.Response(200, json=body)

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.seen]

    @property
    def params(self) -> list[dict]:
        return [dict(r.url.params) for r in self.seen]

    @property
    def json_bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.seen]

    @property
    def forms(self) -> list[list[tuple[str, str]]]:
        return [parse_qsl(r.content.decode()) for r in self.seen]


def drive(api: Callable, first: Request, paginator, base_url: str = BASE, **kw) -> list[Any]:
    client = ApiClient(
        "acme",
        base_url,
        secret="pg_test_key_123",
        retry=RetryPolicy(backoff_base=0.01, backoff_max=0.05),
        transport=httpx.MockTransport(api),
    )
    return list(client.pages(first, paginator, endpoint="GET /list", **kw))


def cursor_page(data: list, pagination: Optional[dict]) -> dict:
    body: dict = {"columns": ["day"], "data": data}
    if pagination is not None:
        body["pagination"] = pagination
    return body


# -- BodyCursorPaginator (Whop) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "paginator, param, last_pagination",
    [
        pytest.param(BodyCursorPaginator(), "cursor", {"next_cursor": None}, id="default-param-null-cursor"),
        pytest.param(BodyCursorPaginator(param="after"), "after", None, id="custom-param-missing-pagination"),
        pytest.param(BodyCursorPaginator(), "cursor", {"next_cursor": ""}, id="empty-cursor"),
        pytest.param(BodyCursorPaginator(), "cursor", {}, id="missing-cursor"),
    ],
)
def test_body_cursor_paginator(paginator, param, last_pagination):
    api = Pages(
        cursor_page([1], {"next_cursor": "b2Zmc2V0PTE"}),
        cursor_page([2], {"next_cursor": "b2Zmc2V0PTI"}),
        cursor_page([3], last_pagination),
    )
    bodies = drive(api, Request("GET", "/stats/metric", params={"resource": "payments"}), paginator)
    assert [b["data"] for b in bodies] == [[1], [2], [3]]
    assert api.params == [
        {"resource": "payments"},
        {"resource": "payments", param: "b2Zmc2V0PTE"},
        {"resource": "payments", param: "b2Zmc2V0PTI"},
    ]
    assert all(r.url.path == "/stats/metric" for r in api.seen)


def test_body_cursor_paginator_custom_path():
    api = Pages({"items": [1], "meta": {"next": "c2"}}, {"items": [2], "meta": {"next": None}})
    drive(api, Request("GET", "/items"), BodyCursorPaginator(param="page_after", cursor_path=("meta", "next")))
    assert api.params == [{}, {"page_after": "c2"}]


# -- NextUrlPaginator (PostHog) ------------------------------------------------------------------

METRICS = "/api/projects/1/groups_types/0/metrics/"


@pytest.mark.parametrize(
    "link_prefix",
    [pytest.param(BASE, id="absolute"), pytest.param("", id="root-relative")],
)
def test_next_url_paginator_follows_next_as_is(link_prefix):
    api = Pages(
        {"count": 5, "next": f"{link_prefix}{METRICS}?limit=2&offset=2", "previous": None, "results": [1, 2]},
        {"count": 5, "next": f"{link_prefix}{METRICS}?limit=2&offset=4", "previous": "x", "results": [3, 4]},
        {"count": 5, "next": None, "previous": "x", "results": [5]},
    )
    bodies = drive(api, Request("GET", METRICS, params={"limit": 2}), NextUrlPaginator())
    assert [r for b in bodies for r in b["results"]] == [1, 2, 3, 4, 5]
    assert api.urls == [
        f"{BASE}{METRICS}?limit=2",
        f"{BASE}{METRICS}?limit=2&offset=2",
        f"{BASE}{METRICS}?limit=2&offset=4",
    ]


def test_next_url_paginator_stops_when_next_is_missing():
    api = Pages({"results": [1]})
    assert len(drive(api, Request("GET", METRICS), NextUrlPaginator())) == 1
    assert len(api.seen) == 1


# -- PageTokenPaginator (Stripe) -----------------------------------------------------------------

QUERY = "/v2/data/analytics/metric_query"


@pytest.mark.parametrize(
    "first_next",
    [
        pytest.param({"next_page_url": f"{QUERY}?page=pg_2"}, id="relative-url"),
        pytest.param({"next_page_url": f"https://api.example.com{QUERY}?page=pg_2&x=1"}, id="absolute-url"),
        pytest.param({"next_page": "pg_2", "next_page_url": None}, id="bare-token"),
    ],
)
def test_page_token_paginator_json_body(first_next):
    api = Pages({"data": [1], **first_next}, {"data": [2], "next_page": "pg_3"}, {"data": [3], "next_page_url": None})
    first = Request("POST", QUERY, json={"metric": "mrr", "interval": "day"})
    bodies = drive(api, first, PageTokenPaginator())
    assert [b["data"] for b in bodies] == [[1], [2], [3]]
    assert [r.method for r in api.seen] == ["POST"] * 3
    assert api.urls == [f"{BASE}{QUERY}"] * 3
    assert api.json_bodies == [
        {"metric": "mrr", "interval": "day"},
        {"metric": "mrr", "interval": "day", "page": "pg_2"},
        {"metric": "mrr", "interval": "day", "page": "pg_3"},
    ]


def test_page_token_paginator_form_body_keeps_repeated_fields_and_one_page():
    api = Pages(
        {"data": [1], "next_page_url": f"{QUERY}?page=pg_2"},
        {"data": [2], "next_page": "pg_3"},
        {"data": [3], "next_page_url": None, "next_page": None},
    )
    form = [("metric", "mrr"), ("dimensions[]", "currency"), ("dimensions[]", "plan")]
    drive(api, Request("POST", QUERY, form=form), PageTokenPaginator())
    assert api.forms == [form, form + [("page", "pg_2")], form + [("page", "pg_3")]]
    assert all(r.headers["content-type"] == "application/x-www-form-urlencoded" for r in api.seen)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": [1], "next_page_url": None}, id="null-url"),
        pytest.param({"data": [1]}, id="no-fields"),
        pytest.param({"data": [1], "next_page_url": "", "next_page": ""}, id="empty-strings"),
    ],
)
def test_page_token_paginator_stops(body):
    api = Pages(body)
    assert len(drive(api, Request("POST", QUERY, json={"metric": "mrr"}), PageTokenPaginator())) == 1
    assert len(api.seen) == 1


def test_page_token_paginator_url_without_token_is_requested_with_the_same_body():
    api = Pages({"data": [1], "next_page_url": f"{QUERY}/continue?session=s1"}, {"data": [2], "next_page_url": None})
    drive(api, Request("POST", QUERY, json={"metric": "mrr"}), PageTokenPaginator())
    assert api.urls == [f"{BASE}{QUERY}", f"{BASE}{QUERY}/continue?session=s1"]
    assert api.json_bodies == [{"metric": "mrr"}, {"metric": "mrr"}]


# -- PageNumberPaginator (Statsig) ---------------------------------------------------------------

STATSIG = "https://api.example.com/console/v1"


def statsig_page(data: list, next_page: Any) -> dict:
    return {"data": data, "pagination": {"itemsPerPage": 2, "pageNumber": 1, "nextPage": next_page}}


@pytest.mark.parametrize(
    "second, third",
    [
        pytest.param(
            "/console/v1/metrics/list?page=2&limit=2", "/console/v1/metrics/list?page=3&limit=2", id="path-with-page"
        ),
        pytest.param(2, 3, id="bare-number"),
        pytest.param("2", "3", id="number-as-text"),
    ],
)
def test_page_number_paginator(second, third):
    api = Pages(statsig_page([1, 2], second), statsig_page([3, 4], third), statsig_page([5], None))
    bodies = drive(api, Request("GET", "/metrics/list", params={"limit": 2}), PageNumberPaginator(), base_url=STATSIG)
    assert [d for b in bodies for d in b["data"]] == [1, 2, 3, 4, 5]
    assert api.params == [{"limit": "2"}, {"limit": "2", "page": "2"}, {"limit": "2", "page": "3"}]
    assert all(r.url.path == "/console/v1/metrics/list" for r in api.seen)


@pytest.mark.parametrize(
    "link",
    [
        pytest.param(f"{STATSIG}/metrics/list?cursor=c2", id="absolute-without-page"),
        pytest.param("/console/v1/metrics/list?cursor=c2", id="root-relative-without-page"),
    ],
)
def test_page_number_paginator_follows_a_link_without_page_number(link):
    api = Pages(statsig_page([1], link), statsig_page([2], None))
    drive(api, Request("GET", "/metrics/list", params={"limit": 2}), PageNumberPaginator(), base_url=STATSIG)
    assert api.urls == [f"{STATSIG}/metrics/list?limit=2", f"{STATSIG}/metrics/list?cursor=c2"]


@pytest.mark.parametrize(
    "pagination",
    [
        pytest.param({"nextPage": None}, id="null"),
        pytest.param({"nextPage": ""}, id="empty"),
        pytest.param({}, id="missing"),
    ],
)
def test_page_number_paginator_stops(pagination):
    api = Pages({"data": [1], "pagination": pagination})
    assert len(drive(api, Request("GET", "/metrics/list"), PageNumberPaginator(), base_url=STATSIG)) == 1
    assert len(api.seen) == 1


# -- the client's loop ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paginator, first, stuck_body, hint",
    [
        pytest.param(
            BodyCursorPaginator(),
            Request("GET", "/stats"),
            cursor_page([1], {"next_cursor": "same"}),
            "cursor parameter 'cursor'",
            id="cursor-repeated",
        ),
        pytest.param(
            NextUrlPaginator(),
            Request("GET", "/items"),
            {"results": [1], "next": f"{BASE}/items?offset=2"},
            "ignored the page parameter",
            id="next-link-repeated",
        ),
        pytest.param(
            PageTokenPaginator(),
            Request("POST", QUERY, json={"m": 1}),
            {"data": [1], "next_page": "pg_2"},
            "ignored the page parameter",
            id="page-token-repeated",
        ),
        pytest.param(
            PageNumberPaginator(),
            Request("GET", "/list"),
            statsig_page([1], 2),
            "ignored the page parameter",
            id="page-number-repeated",
        ),
    ],
)
def test_pagination_that_does_not_advance_is_an_error(paginator, first, stuck_body, hint):
    api = Pages(stuck_body)
    client = ApiClient("acme", BASE, transport=httpx.MockTransport(api))
    pages = client.pages(first, paginator, endpoint="GET /list")
    assert next(pages) == stuck_body and next(pages) == stuck_body
    with pytest.raises(ApiError) as caught:
        next(pages)
    assert len(api.seen) == 2
    message = str(caught.value)
    assert message.startswith("acme: GET /list failed") and "pagination did not advance" in message
    assert hint in message


def test_max_pages_stops_a_runaway_pagination():
    counter = iter(range(100))

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=cursor_page([1], {"next_cursor": f"c{next(counter)}"}))

    client = ApiClient("acme", BASE, transport=httpx.MockTransport(endless))
    with pytest.raises(ApiError, match="more than 3 pages"):
        list(client.pages(Request("GET", "/stats"), BodyCursorPaginator(), endpoint="GET /stats", max_pages=3))
    assert next(counter) == 3


def test_single_page_makes_one_request():
    api = Pages([{"id": 1}, {"id": 2}])
    assert drive(api, Request("GET", "/all"), SinglePage()) == [[{"id": 1}, {"id": 2}]]
    assert len(api.seen) == 1


def test_pages_pass_check_to_every_page():
    api = Pages({"data": [1], "next": f"{BASE}/items?offset=1"}, {"oops": True}, {"data": [2], "next": None})
    bodies = drive(api, Request("GET", "/items"), NextUrlPaginator(), check=lambda body: "data" in body)
    assert [b["data"] for b in bodies] == [[1], [2]]
    assert api.urls == [f"{BASE}/items", f"{BASE}/items?offset=1", f"{BASE}/items?offset=1"]


@pytest.mark.parametrize(
    "body, path, expected",
    [
        pytest.param({"a": {"b": {"c": 1}}}, ("a", "b", "c"), 1, id="nested"),
        pytest.param({"a": {"b": None}}, ("a", "b", "c"), None, id="null-step"),
        pytest.param({"a": [1]}, ("a", "b"), None, id="list-step"),
        pytest.param({"a": 1}, (), {"a": 1}, id="empty-path"),
        pytest.param(None, ("a",), None, id="no-body"),
    ],
)
def test_dig(body, path, expected):
    assert dig(body, path) == expected
