"""Pagination strategies: each finds the next page's request from the current page, or None.

Like dlt's `BasePaginator`, one small class per scheme; the client drives the loop.
"""

from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, Optional, Sequence
from urllib.parse import parse_qs, urlsplit

from metricsync.sources._common.http.client import Request


def dig(body: Any, path: Sequence[str]) -> Any:
    """`body[path[0]][path[1]]...`, or None when any step is missing."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


class Paginator(ABC):
    stuck_hint = "the API ignored the page parameter"

    @abstractmethod
    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        """The request for the page after `body`, or None when `body` was the last page."""


class SinglePage(Paginator):
    """An endpoint that returns everything at once (e.g. a plain JSON array)."""

    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        return None


class BodyCursorPaginator(Paginator):
    """Cursor in the body, sent back as a query parameter (Whop `/stats/metric`).

        {"columns": [...], "data": [...], "pagination": {"next_cursor": "b2Zmc2V0PTEwMA"}}

    The docs do not name the request parameter; `param` is configurable.
    """

    def __init__(self, param: str = "cursor", cursor_path: Sequence[str] = ("pagination", "next_cursor")):
        self.param = param
        self.cursor_path = tuple(cursor_path)
        self.stuck_hint = f"the API ignored the cursor parameter {param!r}: set the cursor_param config"

    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        cursor = dig(body, self.cursor_path)
        if not cursor:
            return None
        return replace(request, params={**(request.params or {}), self.param: cursor})


class NextUrlPaginator(Paginator):
    """An absolute or relative `next` link in the body, followed as is (PostHog limit/offset).

        {"count": 250, "next": "https://us.posthog.com/api/projects/1/groups_types/0/metrics/?limit=100&offset=100",
         "previous": null, "results": [...]}

    The client refuses a link to another origin.
    """

    def __init__(self, next_path: Sequence[str] = ("next",)):
        self.next_path = tuple(next_path)

    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        link = dig(body, self.next_path)
        if not link:
            return None
        return replace(request, url=str(link), params=None)


class PageTokenPaginator(Paginator):
    """Stripe v2: `next_page_url` (or a bare `next_page` token) on a POST endpoint.

        {"object": "v2.data.analytics.metric_query", "next_page_url": "/v2/data/analytics/metric_query?page=pg_abc",
         "data": [...]}

    The token (the URL's `page` parameter) is sent back in the body with the same query; a URL
    without one is requested as is with the same body. The docs say the URL is currently null.
    """

    def __init__(self, url_field: str = "next_page_url", token_field: str = "next_page", param: str = "page"):
        self.url_field, self.token_field, self.param = url_field, token_field, param

    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        link = dig(body, (self.url_field,))
        token = dig(body, (self.token_field,))
        if link and not token:
            token = (parse_qs(urlsplit(str(link)).query).get(self.param) or [""])[0]
            if not token:
                return replace(request, url=str(link))
        if not token:
            return None
        if request.form is not None:
            form = [(k, v) for k, v in request.form if k != self.param] + [(self.param, token)]
            return replace(request, form=form)
        return replace(request, json={**(request.json or {}), self.param: token})


class PageNumberPaginator(Paginator):
    """Page numbers from 1, next given by the body (Statsig console API).

        {"data": [...], "pagination": {"itemsPerPage": 100, "pageNumber": 1, "totalItems": 250,
         "nextPage": "/console/v1/metrics/list?page=2&limit=100", "previousPage": null}}

    `nextPage` may be a link (followed, same origin only) or a bare page number.
    """

    def __init__(self, next_path: Sequence[str] = ("pagination", "nextPage"), param: str = "page"):
        self.next_path = tuple(next_path)
        self.param = param

    def next_request(self, request: Request, body: Any) -> Optional[Request]:
        following = dig(body, self.next_path)
        if following in (None, "", False):
            return None
        text = str(following)
        if text.isdigit():
            return replace(request, params={**(request.params or {}), self.param: int(text)})
        parts = urlsplit(text)
        number = (parse_qs(parts.query).get(self.param) or [""])[0]
        if parts.scheme or parts.netloc or not number.isdigit():
            return replace(request, url=text, params=None)  # the client checks the link's origin
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return replace(request, params={**(request.params or {}), **query, self.param: int(number)})
